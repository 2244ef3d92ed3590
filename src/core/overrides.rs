//! Per-environment overrides on the cleaned task definition: environment variables (set, from a
//! dotenv file, unset), secrets, CPU and memory (task and container), the task and execution roles,
//! and task definition tags. Each override is one `Change` in the change list; a value whose name or
//! shape says secret is masked there (`core::mask`) unless values are to be shown.
//!
//! Field reference: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html
//! and https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html

use serde_json::{Map, Value, json};

use super::mask;
use super::taskdef::{Change, TaskDef, container_names};

/// A target container (None: the task's only container) and what to do there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targeted<T> {
    pub container: Option<String>,
    pub value: T,
}

/// The overrides, in the order they are applied: unset, files, env, secrets, sizes, roles, tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub unset_env: Vec<Targeted<String>>,
    /// Variables read from dotenv files (already parsed), then `--env`: a later one wins.
    pub env: Vec<Targeted<(String, String)>>,
    /// Name -> Secrets Manager or SSM parameter ARN.
    pub secrets: Vec<Targeted<(String, String)>>,
    /// Task-level `cpu` / `memory` (strings, as ECS keeps them), container-level (integers).
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub container_cpu: Vec<(String, i64)>,
    pub container_memory: Vec<(String, i64)>,
    pub task_role_arn: Option<String>,
    pub execution_role_arn: Option<String>,
    pub tags: Vec<(String, String)>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    #[error("{flag} names container `{name}`, which the task definition lacks (it has: {known})")]
    UnknownContainer {
        flag: &'static str,
        name: String,
        known: String,
    },
    #[error(
        "{flag} `{what}`: the task definition has several containers ({known}): name one, as CONTAINER:{what}"
    )]
    Ambiguous {
        flag: &'static str,
        what: String,
        known: String,
    },
    #[error(
        "--secret {name}: `{arn}` is not a Secrets Manager secret or SSM parameter ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME or arn:aws:ssm:REGION:ACCOUNT:parameter/NAME)"
    )]
    NotAnArn { name: String, arn: String },
    #[error("{flag} `{value}`: {why}")]
    Invalid {
        flag: &'static str,
        value: String,
        why: String,
    },
}

/// `[CONTAINER:]NAME=VALUE` -> (container, name, value). The container part ends at the first `:`
/// before the `=`, so values may hold both.
pub fn parse_targeted_pair(s: &str) -> Result<Targeted<(String, String)>, String> {
    let (left, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected [CONTAINER:]NAME=VALUE"))?;
    let (container, name) = match left.split_once(':') {
        Some((c, n)) => (Some(c.to_owned()), n),
        None => (None, left),
    };
    if name.is_empty() || name.contains(char::is_whitespace) || container.as_deref() == Some("") {
        return Err(format!("`{s}`: expected [CONTAINER:]NAME=VALUE"));
    }
    Ok(Targeted {
        container,
        value: (name.to_owned(), value.to_owned()),
    })
}

/// `[CONTAINER:]NAME`.
pub fn parse_targeted_name(s: &str) -> Result<Targeted<String>, String> {
    let (container, name) = match s.split_once(':') {
        Some((c, n)) => (Some(c.to_owned()), n),
        None => (None, s),
    };
    if name.is_empty() || name.contains(['=', ' ']) || container.as_deref() == Some("") {
        return Err(format!("`{s}`: expected [CONTAINER:]NAME"));
    }
    Ok(Targeted {
        container,
        value: name.to_owned(),
    })
}

/// A problem in a dotenv file, with its line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvError {
    pub line: usize,
    pub problem: String,
}

impl std::fmt::Display for DotenvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

impl std::error::Error for DotenvError {}

/// A dotenv file as python-dotenv and docker compose read it: `NAME=VALUE` lines, `export NAME=VALUE`
/// too; `#` comments and blank lines skipped; a value in single quotes is taken as it is, in double
/// quotes with `\n`, `\"` and `\\` escapes; a quoted value may span lines; an unquoted value loses
/// a trailing ` # comment`. `${NAME}` and `${NAME:-default}` in unquoted and double-quoted values
/// expand to a variable defined earlier in the file (a task definition never takes the CI job's own
/// environment); any other reference is an error naming the line.
pub fn parse_dotenv(text: &str) -> Result<Vec<(String, String)>, DotenvError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i];
        let at = i + 1;
        let fail = |problem: String| DotenvError { line: at, problem };
        i += 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((name, value)) = line.split_once('=') else {
            return Err(fail(format!("expected NAME=VALUE, found `{raw}`")));
        };
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            return Err(fail(format!("`{name}` is not a variable name")));
        }
        let mut value = value.trim().to_owned();
        // A quoted value that does not close on its line goes on until a line that closes it.
        if let Some(quote) = value.chars().next().filter(|c| *c == '\'' || *c == '"') {
            while !closes(&value, quote) && i < lines.len() {
                value.push('\n');
                value.push_str(lines[i].trim_end());
                i += 1;
            }
        }
        let value = if let Some(rest) = value.strip_prefix('\'') {
            rest.strip_suffix('\'')
                .ok_or_else(|| fail("unterminated single quote".into()))?
                .to_owned()
        } else if let Some(rest) = value.strip_prefix('"') {
            let inner = rest
                .strip_suffix('"')
                .filter(|_| closes(&value, '"'))
                .ok_or_else(|| fail("unterminated double quote".into()))?;
            expand(&unescape(inner), &out).map_err(fail)?
        } else {
            let bare = match value.find(" #") {
                Some(i) => value[..i].trim_end(),
                None => value.as_str(),
            };
            expand(bare, &out).map_err(fail)?
        };
        out.push((name.to_owned(), value));
    }
    Ok(out)
}

/// Whether the quoted `value` (starting with `quote`) ends with its closing quote.
fn closes(value: &str, quote: char) -> bool {
    let Some(body) = value.strip_prefix(quote) else {
        return false;
    };
    if !body.ends_with(quote) {
        return false;
    }
    if quote == '\'' {
        return true;
    }
    // A double quote closes unless an odd number of backslashes escapes it.
    let before = &body[..body.len() - 1];
    before.chars().rev().take_while(|c| *c == '\\').count() % 2 == 0
}

fn unescape(inner: &str) -> String {
    let mut s = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => s.push('\n'),
                Some(other) => s.push(other),
                None => s.push('\\'),
            }
        } else {
            s.push(c);
        }
    }
    s
}

/// `${NAME}` and `${NAME:-default}` replaced by the value `NAME` got earlier in the file.
fn expand(value: &str, defined: &[(String, String)]) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("`{}` has no closing `}}`", &rest[start..]));
        };
        let reference = &after[..end];
        let (name, default) = match reference.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (reference, None),
        };
        let found = defined.iter().rev().find(|(n, _)| n == name);
        match (found, default) {
            (Some((_, v)), _) => out.push_str(v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => {
                return Err(format!(
                    "`${{{reference}}}`: `{name}` is not defined above it in this file (the task definition never takes the job's environment): define it earlier, give a default (`${{{name}:-value}}`), or single-quote the value to keep it literally"
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether `arn` is a Secrets Manager secret or an SSM parameter ARN, the two `valueFrom` forms
/// that work in every region and account setup.
pub fn secret_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || !parts[1].starts_with("aws") {
        return false;
    }
    let (service, region, account, resource) = (parts[2], parts[3], parts[4], parts[5]);
    let account_ok = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
    let region_ok = !region.is_empty();
    let resource_ok = match service {
        "secretsmanager" => resource.len() > "secret:".len() && resource.starts_with("secret:"),
        "ssm" => resource.len() > "parameter/".len() && resource.starts_with("parameter/"),
        _ => false,
    };
    account_ok && region_ok && resource_ok
}

fn resolve(
    flag: &'static str,
    container: &Option<String>,
    what: &str,
    names: &[String],
) -> Result<String, OverrideError> {
    match container {
        Some(name) if names.contains(name) => Ok(name.clone()),
        Some(name) => Err(OverrideError::UnknownContainer {
            flag,
            name: name.clone(),
            known: names.join(", "),
        }),
        None if names.len() == 1 => Ok(names[0].clone()),
        None => Err(OverrideError::Ambiguous {
            flag,
            what: what.to_owned(),
            known: names.join(", "),
        }),
    }
}

fn container_mut<'a>(td: &'a mut TaskDef, name: &str) -> &'a mut Map<String, Value> {
    td.get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
        .and_then(|cs| {
            cs.iter_mut()
                .filter_map(Value::as_object_mut)
                .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
        })
        .expect("resolve() checked the container exists")
}

/// The `{name, value}` list under `key` ("environment") or `{name, valueFrom}` ("secrets").
fn named_list<'a>(container: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let entry = container
        .entry(key.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !entry.is_array() {
        *entry = Value::Array(Vec::new());
    }
    entry.as_array_mut().expect("just made an array")
}

fn remove_named(container: &mut Map<String, Value>, key: &str, name: &str) -> Option<Value> {
    let list = container.get_mut(key)?.as_array_mut()?;
    let at = list
        .iter()
        .position(|e| e.get("name").and_then(Value::as_str) == Some(name))?;
    let removed = list.remove(at);
    if list.is_empty() {
        container.remove(key);
    }
    Some(removed)
}

fn shown(name: &str, value: &str, show_values: bool) -> Value {
    if !show_values && (mask::secret_name(name) || mask::secret_value(value)) {
        Value::String(mask::hidden(value))
    } else {
        Value::String(value.to_owned())
    }
}

/// Applies the overrides; returns one change for each thing that changed.
pub fn apply(
    td: &mut TaskDef,
    o: &Overrides,
    show_values: bool,
) -> Result<Vec<Change>, OverrideError> {
    let names = container_names(td);
    let mut changes = Vec::new();

    for unset in &o.unset_env {
        let c = resolve("--unset-env", &unset.container, &unset.value, &names)?;
        let container = container_mut(td, &c);
        if let Some(old) = remove_named(container, "environment", &unset.value) {
            let old = old.get("value").and_then(Value::as_str).unwrap_or_default();
            changes.push(Change {
                container: c.clone(),
                field: format!("environment.{}", unset.value),
                old: Some(shown(&unset.value, old, show_values)),
                new: None,
            });
        }
        if let Some(old) = remove_named(container, "secrets", &unset.value) {
            changes.push(Change {
                container: c,
                field: format!("secrets.{}", unset.value),
                old: old.get("valueFrom").cloned(),
                new: None,
            });
        }
    }

    for set in &o.env {
        let (name, value) = &set.value;
        let c = resolve("--env", &set.container, &format!("{name}=..."), &names)?;
        let container = container_mut(td, &c);
        if let Some(old) = remove_named(container, "secrets", name) {
            changes.push(Change {
                container: c.clone(),
                field: format!("secrets.{name}"),
                old: old.get("valueFrom").cloned(),
                new: None,
            });
        }
        let list = named_list(container, "environment");
        let old = list
            .iter()
            .position(|e| e.get("name").and_then(Value::as_str) == Some(name.as_str()));
        let old_value = old.and_then(|i| {
            list[i]
                .get("value")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        if old_value.as_deref() == Some(value.as_str()) {
            continue;
        }
        let entry = json!({"name": name, "value": value});
        match old {
            Some(i) => list[i] = entry,
            None => list.push(entry),
        }
        changes.push(Change {
            container: c,
            field: format!("environment.{name}"),
            old: old_value.map(|v| shown(name, &v, show_values)),
            new: Some(shown(name, value, show_values)),
        });
    }

    for set in &o.secrets {
        let (name, arn) = &set.value;
        if !secret_arn(arn) {
            return Err(OverrideError::NotAnArn {
                name: name.clone(),
                arn: arn.clone(),
            });
        }
        let c = resolve("--secret", &set.container, &format!("{name}=ARN"), &names)?;
        let container = container_mut(td, &c);
        if let Some(old) = remove_named(container, "environment", name) {
            let old = old.get("value").and_then(Value::as_str).unwrap_or_default();
            changes.push(Change {
                container: c.clone(),
                field: format!("environment.{name}"),
                old: Some(shown(name, old, show_values)),
                new: None,
            });
        }
        let list = named_list(container, "secrets");
        let old = list
            .iter()
            .position(|e| e.get("name").and_then(Value::as_str) == Some(name.as_str()));
        let old_arn = old.and_then(|i| list[i].get("valueFrom").cloned());
        if old_arn.as_ref().and_then(Value::as_str) == Some(arn.as_str()) {
            continue;
        }
        let entry = json!({"name": name, "valueFrom": arn});
        match old {
            Some(i) => list[i] = entry,
            None => list.push(entry),
        }
        changes.push(Change {
            container: c,
            field: format!("secrets.{name}"),
            old: old_arn,
            new: Some(Value::String(arn.clone())),
        });
    }

    let mut set_task = |field: &str, value: Value, changes: &mut Vec<Change>| {
        let old = td.insert(field.to_owned(), value.clone());
        if old.as_ref() != Some(&value) {
            changes.push(Change {
                container: String::new(),
                field: field.to_owned(),
                old,
                new: Some(value),
            });
        }
    };
    if let Some(cpu) = &o.cpu {
        set_task("cpu", Value::String(cpu.clone()), &mut changes);
    }
    if let Some(memory) = &o.memory {
        set_task("memory", Value::String(memory.clone()), &mut changes);
    }
    if let Some(arn) = &o.task_role_arn {
        set_task("taskRoleArn", Value::String(arn.clone()), &mut changes);
    }
    if let Some(arn) = &o.execution_role_arn {
        set_task("executionRoleArn", Value::String(arn.clone()), &mut changes);
    }

    for (field, sizes, flag) in [
        ("cpu", &o.container_cpu, "--cpu"),
        ("memory", &o.container_memory, "--memory"),
    ] {
        for (name, size) in sizes {
            let c = resolve(flag, &Some(name.clone()), name, &names)?;
            let container = container_mut(td, &c);
            let value = Value::from(*size);
            let old = container.insert(field.to_owned(), value.clone());
            if old.as_ref() != Some(&value) {
                changes.push(Change {
                    container: c,
                    field: field.to_owned(),
                    old,
                    new: Some(value),
                });
            }
        }
    }

    for (key, value) in &o.tags {
        let tags = td
            .entry("tags".to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if !tags.is_array() {
            *tags = Value::Array(Vec::new());
        }
        let list = tags.as_array_mut().expect("just made an array");
        let at = list
            .iter()
            .position(|t| t.get("key").and_then(Value::as_str) == Some(key.as_str()));
        let old = at.and_then(|i| list[i].get("value").cloned());
        if old.as_ref().and_then(Value::as_str) == Some(value.as_str()) {
            continue;
        }
        let entry = json!({"key": key, "value": value});
        match at {
            Some(i) => list[i] = entry,
            None => list.push(entry),
        }
        changes.push(Change {
            container: String::new(),
            field: format!("tags.{key}"),
            old,
            new: Some(Value::String(value.clone())),
        });
    }
    Ok(changes)
}

/// A task-level size: CPU units or memory MiB as a number, or ECS's `1 vCPU` / `2 GB` forms.
pub fn parse_task_size(s: &str, unit: &str) -> Result<String, String> {
    let t = s.trim();
    let number = t.parse::<u32>().is_ok_and(|n| n > 0);
    let with_unit = t
        .strip_suffix(unit)
        .map(str::trim)
        .is_some_and(|n| n.parse::<f64>().is_ok_and(|n| n > 0.0));
    if number || with_unit {
        Ok(t.to_owned())
    } else {
        Err(format!(
            "`{s}`: expected a positive number, `CONTAINER:N`, or a number with `{unit}`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn td(containers: &[&str]) -> TaskDef {
        let defs: Vec<Value> = containers
            .iter()
            .map(|n| {
                json!({"name": n, "image": "x", "environment": [{"name": "MODE", "value": "dev"}],
                        "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbC"}]})
            })
            .collect();
        json!({"family": "f", "containerDefinitions": defs, "cpu": "256", "memory": "512"})
            .as_object()
            .unwrap()
            .clone()
    }

    fn t<T>(container: Option<&str>, value: T) -> Targeted<T> {
        Targeted {
            container: container.map(str::to_owned),
            value,
        }
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.to_owned(), b.to_owned())
    }

    /// Each override changes exactly what it says: the result is the source plus that change.
    #[test]
    fn each_override_changes_exactly_its_field() {
        let ssm = "arn:aws:ssm:us-east-1:123456789012:parameter/prod/api-key";
        let cases: Vec<(Overrides, Value, &str)> = vec![
            (
                Overrides {
                    env: vec![t(None, pair("MODE", "prod"))],
                    ..Default::default()
                },
                json!({"containerDefinitions": [{"environment": [{"name": "MODE", "value": "prod"}]}]}),
                "container `api`: environment.MODE: dev -> prod",
            ),
            (
                Overrides {
                    env: vec![t(Some("api"), pair("NEW", "1"))],
                    ..Default::default()
                },
                json!({"containerDefinitions": [{"environment": [{"name": "MODE", "value": "dev"}, {"name": "NEW", "value": "1"}]}]}),
                "container `api`: environment.NEW: (none) -> 1",
            ),
            (
                Overrides {
                    unset_env: vec![t(None, "MODE".to_owned())],
                    ..Default::default()
                },
                json!({"containerDefinitions": [{"environment": null}]}),
                "container `api`: environment.MODE: dev -> (none)",
            ),
            (
                Overrides {
                    secrets: vec![t(None, pair("API_KEY", ssm))],
                    ..Default::default()
                },
                json!({"containerDefinitions": [{"secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbC"}, {"name": "API_KEY", "valueFrom": ssm}]}]}),
                "container `api`: secrets.API_KEY: (none) -> arn:aws:ssm",
            ),
            (
                Overrides {
                    cpu: Some("1024".into()),
                    ..Default::default()
                },
                json!({"cpu": "1024"}),
                "cpu: 256 -> 1024",
            ),
            (
                Overrides {
                    memory: Some("2 GB".into()),
                    ..Default::default()
                },
                json!({"memory": "2 GB"}),
                "memory: 512 -> 2 GB",
            ),
            (
                Overrides {
                    container_memory: vec![("api".into(), 384)],
                    ..Default::default()
                },
                json!({"containerDefinitions": [{"memory": 384}]}),
                "container `api`: memory: (none) -> 384",
            ),
            (
                Overrides {
                    container_cpu: vec![("api".into(), 128)],
                    ..Default::default()
                },
                json!({"containerDefinitions": [{"cpu": 128}]}),
                "container `api`: cpu: (none) -> 128",
            ),
            (
                Overrides {
                    task_role_arn: Some("arn:aws:iam::123456789012:role/api".into()),
                    ..Default::default()
                },
                json!({"taskRoleArn": "arn:aws:iam::123456789012:role/api"}),
                "taskRoleArn: (none) -> arn:aws:iam::123456789012:role/api",
            ),
            (
                Overrides {
                    execution_role_arn: Some("arn:aws:iam::123456789012:role/exec".into()),
                    ..Default::default()
                },
                json!({"executionRoleArn": "arn:aws:iam::123456789012:role/exec"}),
                "executionRoleArn: (none) -> arn:aws:iam::123456789012:role/exec",
            ),
            (
                Overrides {
                    tags: vec![pair("team", "payments")],
                    ..Default::default()
                },
                json!({"tags": [{"key": "team", "value": "payments"}]}),
                "tags.team: (none) -> payments",
            ),
        ];
        for (overrides, patch, line) in cases {
            let source = td(&["api"]);
            let mut changed = source.clone();
            let changes = apply(&mut changed, &overrides, false).unwrap();
            assert_eq!(changes.len(), 1, "{overrides:?}: {changes:?}");
            assert!(changes[0].to_string().starts_with(line), "{}", changes[0]);
            // rendered == source + the change, and nothing else.
            let mut expected = Value::Object(source);
            merge(&mut expected, &patch);
            assert_eq!(Value::Object(changed), expected, "{overrides:?}");
        }
    }

    /// A JSON merge patch where arrays of objects merge element by element (null removes a key).
    fn merge(target: &mut Value, patch: &Value) {
        match (target, patch) {
            (Value::Object(t), Value::Object(p)) => {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
            (Value::Array(t), Value::Array(p))
                if p.iter().all(Value::is_object)
                    && t.len() <= p.len()
                    && t.iter().all(Value::is_object)
                    && p.len() == 1
                    && t.len() == 1 =>
            {
                merge(&mut t[0], &p[0]);
            }
            (t, p) => *t = p.clone(),
        }
    }

    #[test]
    fn secret_looking_values_are_masked_in_changes_unless_shown() {
        let mut doc = td(&["api"]);
        let o = Overrides {
            env: vec![
                t(None, pair("STRIPE_API_KEY", "sk_live_abcdefgh")),
                t(None, pair("ID", "AKIAABCDEFGHIJKLMNOP")),
            ],
            ..Default::default()
        };
        let changes = apply(&mut doc, &o, false).unwrap();
        let text: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .all(|l| !l.contains("sk_live") && !l.contains("AKIA")),
            "{text:?}"
        );
        assert!(text[0].contains("*** (16 chars, sha256 "), "{text:?}");
        let mut doc = td(&["api"]);
        let changes = apply(&mut doc, &o, true).unwrap();
        assert!(changes[0].to_string().contains("sk_live_abcdefgh"));
        // The document itself always holds the real value.
        assert!(Value::Object(doc).to_string().contains("sk_live_abcdefgh"));
    }

    #[test]
    fn env_and_secrets_replace_each_other_and_repeat_as_no_change() {
        let mut doc = td(&["api"]);
        let o = Overrides {
            env: vec![t(None, pair("DB_PASSWORD", "plain"))],
            ..Default::default()
        };
        let changes = apply(&mut doc, &o, false).unwrap();
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(
            changes[0]
                .to_string()
                .contains("secrets.DB_PASSWORD: arn:aws:secretsmanager")
        );
        assert!(doc["containerDefinitions"][0].get("secrets").is_none());
        // Applying the same again changes nothing.
        assert!(apply(&mut doc, &o, false).unwrap().is_empty());
    }

    #[test]
    fn targets_are_checked() {
        let mut two = td(&["api", "worker"]);
        let cases: Vec<(Overrides, &str)> = vec![
            (
                Overrides {
                    env: vec![t(None, pair("A", "1"))],
                    ..Default::default()
                },
                "--env `A=...`: the task definition has several containers (api, worker): name one, as CONTAINER:A=...",
            ),
            (
                Overrides {
                    env: vec![t(Some("web"), pair("A", "1"))],
                    ..Default::default()
                },
                "--env names container `web`, which the task definition lacks (it has: api, worker)",
            ),
            (
                Overrides {
                    secrets: vec![t(Some("api"), pair("K", "not-an-arn"))],
                    ..Default::default()
                },
                "--secret K: `not-an-arn` is not a Secrets Manager secret or SSM parameter ARN",
            ),
            (
                Overrides {
                    container_cpu: vec![("nope".into(), 1)],
                    ..Default::default()
                },
                "--cpu names container `nope`",
            ),
        ];
        for (o, message) in cases {
            let err = apply(&mut two, &o, false).unwrap_err();
            assert!(err.to_string().starts_with(message), "{err}");
        }
    }

    #[test]
    fn parses() {
        assert_eq!(
            parse_targeted_pair("api:URL=http://x:1/?a=b").unwrap(),
            t(Some("api"), pair("URL", "http://x:1/?a=b"))
        );
        assert_eq!(parse_targeted_pair("A=").unwrap(), t(None, pair("A", "")));
        for bad in ["A", "=v", ":A=v", "api:=v", "A B=v"] {
            assert!(parse_targeted_pair(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_targeted_name("api:A").unwrap(),
            t(Some("api"), "A".to_owned())
        );
        assert!(parse_targeted_name("A=1").is_err());
        let ok = [
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
            "arn:aws:ssm:eu-west-1:123456789012:parameter/prod/db",
            "arn:aws-cn:ssm:cn-north-1:123456789012:parameter/x",
        ];
        let bad = [
            "db-password",
            "arn:aws:s3:::bucket/key",
            "arn:aws:ssm:us-east-1:123:parameter/x",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:",
            "arn:aws:ssm::123456789012:parameter/x",
        ];
        assert!(ok.iter().all(|a| secret_arn(a)));
        assert!(bad.iter().all(|a| !secret_arn(a)), "{bad:?}");
        assert_eq!(parse_task_size("512", "vCPU").unwrap(), "512");
        assert_eq!(parse_task_size("0.5 vCPU", "vCPU").unwrap(), "0.5 vCPU");
        assert!(parse_task_size("0", "vCPU").is_err());
        assert!(parse_task_size("lots", "GB").is_err());
    }

    #[test]
    fn dotenv() {
        let text = "# comment\n\nexport A=1\nB = two words # note\nC='it''s'\nD=\"x\\ny \\\"q\\\"\"\nE=\nF=a=b\n";
        let got = parse_dotenv(text).unwrap();
        assert_eq!(
            got,
            vec![
                pair("A", "1"),
                pair("B", "two words"),
                pair("C", "it''s"),
                pair("D", "x\ny \"q\""),
                pair("E", ""),
                pair("F", "a=b"),
            ]
        );
        let problem = |text: &str| parse_dotenv(text).unwrap_err().to_string();
        assert_eq!(
            problem("A=1\nnonsense\n"),
            "line 2: expected NAME=VALUE, found `nonsense`"
        );
        assert_eq!(problem("A='x\n"), "line 1: unterminated single quote");
        assert_eq!(problem("A B=1\n"), "line 1: `A B` is not a variable name");
    }

    #[test]
    fn dotenv_expands_earlier_variables_and_reads_multi_line_values() {
        let text = "HOST=db\nURL=postgres://${HOST}:5432\nQ=\"${HOST}/x\"\nLIT='${HOST}'\nD=${PORT:-5432}\nKEY=\"-----BEGIN-----\nabc\n-----END-----\"\nONE='a\n  b'\nAFTER=1\n";
        assert_eq!(
            parse_dotenv(text).unwrap(),
            vec![
                pair("HOST", "db"),
                pair("URL", "postgres://db:5432"),
                pair("Q", "db/x"),
                pair("LIT", "${HOST}"),
                pair("D", "5432"),
                pair("KEY", "-----BEGIN-----\nabc\n-----END-----"),
                pair("ONE", "a\n  b"),
                pair("AFTER", "1"),
            ]
        );
        let cases = [
            ("A=${NOPE}\n", 1, "`NOPE` is not defined above it"),
            ("A=1\nB=x${A\n", 2, "has no closing `}`"),
            (
                "A=1\nB=\"never closed\nC=2\n",
                2,
                "unterminated double quote",
            ),
            ("A=\"x\\\"\n", 1, "unterminated double quote"),
        ];
        for (text, line, want) in cases {
            let e = parse_dotenv(text).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.problem.contains(want), "{text:?}: {e}");
        }
    }
}
