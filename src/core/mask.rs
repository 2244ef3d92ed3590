//! Values that look like secrets are never printed in clear: in diffs, dry runs and change lists an
//! environment value whose name says KEY, TOKEN, SECRET, PASSWORD (and the like), or any value shaped
//! like an AWS access key or a GitHub token, is shown as `***` with its length and a short hash, so two
//! revisions can still be told apart. `--show-values` prints them as they are.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::taskdef::TaskDef;

const SECRET_WORDS: [&str; 9] = [
    "KEY",
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PWD",
    "CREDENTIAL",
    "PRIVATE",
    "AUTH",
];

/// Whether a variable or option name says its value is a secret.
pub fn secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_WORDS.iter().any(|w| upper.contains(w))
}

/// Whether a value has the shape of a credential, whatever its name: an AWS access key id, a GitHub
/// or Slack token, a private key.
pub fn secret_value(value: &str) -> bool {
    let v = value.trim();
    let aws_key = v.len() == 20
        && (v.starts_with("AKIA") || v.starts_with("ASIA"))
        && v.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    let prefixed = [
        "ghp_",
        "gho_",
        "ghs_",
        "ghu_",
        "github_pat_",
        "xoxb-",
        "xoxp-",
        "glpat-",
    ]
    .iter()
    .any(|p| v.starts_with(p) && v.len() > p.len() + 8);
    aws_key || prefixed || v.contains("-----BEGIN") && v.contains("PRIVATE KEY")
}

/// `***` with the length and the first 8 hex digits of the value's sha256.
pub fn hidden(value: &str) -> String {
    let hash = hex::encode(Sha256::digest(value.as_bytes()));
    format!(
        "*** ({} chars, sha256 {})",
        value.chars().count(),
        &hash[..8]
    )
}

fn mask_value(value: &mut Value, secret_by_name: bool) {
    match value {
        Value::String(s) if secret_by_name || secret_value(s) => *s = hidden(s),
        Value::Object(obj) => mask_object(obj),
        Value::Array(items) => items.iter_mut().for_each(|v| mask_value(v, false)),
        _ => {}
    }
}

fn mask_object(obj: &mut Map<String, Value>) {
    // A `{"name": ..., "value": ...}` pair (environment, proxy properties): the name decides.
    let pair_secret = obj
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(secret_name);
    for (k, v) in obj.iter_mut() {
        let by_name = (k == "value" && pair_secret)
            || (v.is_string() && k != "name" && secret_name(k) && !is_model_key(k));
        mask_value(v, by_name);
    }
}

/// Task definition member names that contain a secret word but hold no secret.
fn is_model_key(key: &str) -> bool {
    matches!(
        key,
        "credentialsParameter"
            | "credentialSpecs"
            | "authorizationConfig"
            | "accessPointId"
            | "keyId"
    ) || key.ends_with("Arn")
}

/// The document with secret-looking values hidden.
pub fn masked(td: &TaskDef) -> TaskDef {
    let mut td = td.clone();
    mask_object(&mut td);
    td
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_looking_values_are_hidden_and_others_kept() {
        let td = json!({"family": "f", "taskRoleArn": "arn:aws:iam::1:role/r",
            "containerDefinitions": [{"name": "api", "image": "r:1",
              "environment": [
                {"name": "DB_PASSWORD", "value": "hunter2"},
                {"name": "API_KEY", "value": "k-123"},
                {"name": "GH", "value": "ghp_0123456789abcdefghij"},
                {"name": "ACCESS", "value": "AKIAIOSFODNN7EXAMPLE"},
                {"name": "PORT", "value": "8080"}],
              "secrets": [{"name": "TOKEN", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:t"}],
              "logConfiguration": {"logDriver": "splunk", "options": {"splunk-token": "abc", "splunk-url": "https://s"}},
              "repositoryCredentials": {"credentialsParameter": "arn:aws:secretsmanager:us-east-1:1:secret:r"}}]});
        let m = Value::Object(masked(td.as_object().unwrap()));
        let env = &m["containerDefinitions"][0]["environment"];
        assert_eq!(env[0]["value"], hidden("hunter2"));
        assert_eq!(env[1]["value"], hidden("k-123"));
        assert_eq!(env[2]["value"], hidden("ghp_0123456789abcdefghij"));
        assert_eq!(env[3]["value"], hidden("AKIAIOSFODNN7EXAMPLE"));
        assert_eq!(env[4]["value"], "8080");
        assert_eq!(env[0]["name"], "DB_PASSWORD");
        let c = &m["containerDefinitions"][0];
        assert_eq!(
            c["secrets"][0]["valueFrom"],
            "arn:aws:secretsmanager:us-east-1:1:secret:t"
        );
        assert_eq!(
            c["logConfiguration"]["options"]["splunk-token"],
            hidden("abc")
        );
        assert_eq!(c["logConfiguration"]["options"]["splunk-url"], "https://s");
        assert_eq!(
            c["repositoryCredentials"]["credentialsParameter"],
            "arn:aws:secretsmanager:us-east-1:1:secret:r"
        );
        assert_eq!(m["taskRoleArn"], "arn:aws:iam::1:role/r");
        assert!(hidden("hunter2").starts_with("*** (7 chars, sha256 "));
        assert_ne!(hidden("a"), hidden("b"));
    }
}
