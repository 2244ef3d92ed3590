//! Registry credentials and digests, as pure functions: ECR tokens, Docker config `auths`, the
//! `WWW-Authenticate` challenge, and the sha256 digest of manifest bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// A user name and password for a registry. Debug never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// The `Authorization: Basic` value.
    pub fn basic(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.username, self.password))
        )
    }
}

/// Decodes an ECR authorization token (base64 of `AWS:<password>`), or a Docker config `auth`.
pub fn decode_basic_token(token: &str) -> Option<Credentials> {
    let bytes = STANDARD.decode(token.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, pass) = text.split_once(':')?;
    (!user.is_empty()).then(|| Credentials {
        username: user.to_owned(),
        password: pass.to_owned(),
    })
}

/// What a Docker config (`config.json`) holds for `host`: `auths.<host>.auth`, or
/// `username`/`password`. Keys may be `host`, `https://host` or `http://host[/v1/]`.
/// `Err` names a credential helper we cannot call.
pub fn docker_config_credentials(
    config: &serde_json::Value,
    host: &str,
) -> Result<Option<Credentials>, String> {
    let normalize = |k: &str| {
        let k = k
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        k.split('/').next().unwrap_or(k).to_owned()
    };
    if let Some(auths) = config.get("auths").and_then(|a| a.as_object()) {
        for (key, entry) in auths {
            if normalize(key) != host {
                continue;
            }
            if let Some(c) = entry
                .get("auth")
                .and_then(|a| a.as_str())
                .and_then(decode_basic_token)
            {
                return Ok(Some(c));
            }
            if let (Some(u), Some(p)) = (
                entry.get("username").and_then(|v| v.as_str()),
                entry.get("password").and_then(|v| v.as_str()),
            ) {
                return Ok(Some(Credentials {
                    username: u.to_owned(),
                    password: p.to_owned(),
                }));
            }
        }
    }
    let helper = config
        .get("credHelpers")
        .and_then(|h| h.get(host))
        .or_else(|| config.get("credsStore"))
        .and_then(|h| h.as_str());
    match helper {
        Some(helper) => Err(format!(
            "the Docker config names credential helper `docker-credential-{helper}` for {host}, which ecs-ship does not run: put the credentials under `auths` (e.g. with a CI secret)"
        )),
        None => Ok(None),
    }
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => {
            let mut realm = None;
            let mut service = None;
            let mut scope = None;
            // key="value" pairs; values may contain commas (scopes do), so split on `",`.
            for part in rest.split("\",") {
                let Some((k, v)) = part.split_once('=') else {
                    continue;
                };
                let v = v.trim().trim_matches('"').to_owned();
                match k.trim() {
                    "realm" => realm = Some(v),
                    "service" => service = Some(v),
                    "scope" => scope = Some(v),
                    _ => {}
                }
            }
            Some(Challenge::Bearer {
                realm: realm?,
                service,
                scope,
            })
        }
        _ => None,
    }
}

/// `sha256:` + hex of the exact bytes (the digest a registry names a manifest by).
pub fn manifest_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The digest in a push stream's `<tag>: digest: sha256:... size: N` status line.
pub fn digest_in_push_status(status: &str) -> Option<String> {
    let i = status.find("digest: sha256:")?;
    let hexpart: String = status[i + 15..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    (hexpart.len() == 64).then(|| format!("sha256:{hexpart}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ecr_tokens_decode_to_aws_and_the_password() {
        let token = STANDARD.encode("AWS:eyJwYXlsb2FkIjoi=:x");
        let c = decode_basic_token(&token).unwrap();
        assert_eq!(c.username, "AWS");
        assert_eq!(
            c.password, "eyJwYXlsb2FkIjoi=:x",
            "only the first `:` separates"
        );
        assert_eq!(decode_basic_token("not base64!"), None);
        assert_eq!(decode_basic_token(&STANDARD.encode("nocolon")), None);
        assert!(
            !format!("{c:?}").contains("eyJ"),
            "Debug hides the password"
        );
    }

    #[test]
    fn docker_config_credentials_are_found_by_host() {
        let config = json!({"auths": {
            "https://127.0.0.1:15002": {"auth": STANDARD.encode("u:p>?~")},
            "reg.example": {"username": "a", "password": "b"},
        }});
        assert_eq!(
            docker_config_credentials(&config, "127.0.0.1:15002")
                .unwrap()
                .unwrap()
                .password,
            "p>?~"
        );
        assert_eq!(
            docker_config_credentials(&config, "reg.example")
                .unwrap()
                .unwrap()
                .username,
            "a"
        );
        assert_eq!(docker_config_credentials(&config, "other").unwrap(), None);
        let helper = json!({"credsStore": "desktop"});
        assert!(
            docker_config_credentials(&helper, "x")
                .unwrap_err()
                .contains("docker-credential-desktop")
        );
    }

    #[test]
    fn challenges_parse() {
        assert_eq!(
            parse_challenge("Basic realm=\"ecs-ship-test\""),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(
                "Bearer realm=\"https://auth.example/token\",service=\"registry.example\",scope=\"repository:a/b:pull,push\""
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into())
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn digests() {
        assert_eq!(
            manifest_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let line = "202611221930: digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef size: 527";
        assert_eq!(
            digest_in_push_status(line).unwrap(),
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        );
        assert_eq!(digest_in_push_status("Pushed"), None);
        assert_eq!(digest_in_push_status("x: digest: sha256:abc size: 1"), None);
    }
}
