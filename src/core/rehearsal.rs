//! The rehearsal's decisions: how a task definition's containers run on a local engine as ECS would
//! run them (image, entryPoint, command, environment, secrets as placeholders, workingDirectory,
//! user, port mappings, ulimits, stopTimeout, healthCheck), what cannot be reproduced locally, and
//! how a run is judged. Pure: `flow::rehearse` runs what this plans.

use serde::Serialize;
use serde_json::{Map, Value};

use super::taskdef::TaskDef;

/// ECS's healthCheck defaults (seconds) when a field is omitted
/// (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_HealthCheck.html).
const HEALTH_INTERVAL: i64 = 30;
const HEALTH_TIMEOUT: i64 = 5;
const HEALTH_RETRIES: i64 = 3;
const HEALTH_START_PERIOD: i64 = 0;

/// A container health check, in seconds, as ECS defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthCheck {
    /// `["CMD", ...]` or `["CMD-SHELL", "..."]`.
    pub test: Vec<String>,
    pub interval: i64,
    pub timeout: i64,
    pub retries: i64,
    pub start_period: i64,
}

/// A port the container listens on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Port {
    pub container_port: u16,
    /// tcp or udp.
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// One container to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSpec {
    pub name: String,
    pub image: String,
    pub essential: bool,
    pub entrypoint: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    /// environment, then secrets (their placeholders or given values), then overrides.
    #[serde(skip)]
    pub env: Vec<(String, String)>,
    pub working_directory: Option<String>,
    pub user: Option<String>,
    pub ports: Vec<Port>,
    pub ulimits: Vec<Ulimit>,
    pub stop_timeout: Option<i64>,
    pub health: Option<HealthCheck>,
}

/// A secret the task would receive from Secrets Manager or SSM: never fetched here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretUse {
    pub container: String,
    pub name: String,
    pub value_from: String,
    /// true when `--secret NAME=VALUE` gave it; false: a placeholder was used.
    pub given: bool,
}

/// What the rehearsal will run, and what it cannot reproduce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The container under rehearsal.
    pub main: RunSpec,
    /// The other containers, in task definition order.
    pub others: Vec<RunSpec>,
    pub secrets: Vec<SecretUse>,
    /// Settings that are not reproduced locally, each with its container and why.
    pub not_reproduced: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the task definition has no containers")]
    NoContainers,
    #[error(
        "the task definition has several containers ({0}): name the one to rehearse with --container"
    )]
    WhichContainer(String),
    #[error("the task definition has no container `{name}` (it has: {known})")]
    UnknownContainer { name: String, known: String },
    #[error("container `{0}` has no image: pass --image or build with --context")]
    NoImage(String),
    #[error("invalid {what} `{value}`: expected NAME=VALUE")]
    BadPair { what: &'static str, value: String },
}

/// The placeholder a secret gets when no value is given.
pub fn placeholder(name: &str) -> String {
    format!("rehearsal-placeholder-for-{name}")
}

/// Splits `NAME=VALUE` (the value may contain `=`).
pub fn parse_pair(what: &'static str, s: &str) -> Result<(String, String), PlanError> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(PlanError::BadPair {
            what,
            value: s.to_owned(),
        }),
    }
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v?.as_array().map(|items| {
        items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect()
    })
}

fn string(c: &Map<String, Value>, key: &str) -> Option<String> {
    c.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn set_env(env: &mut Vec<(String, String)>, name: &str, value: String) {
    env.retain(|(k, _)| k != name);
    env.push((name.to_owned(), value));
}

fn spec(
    c: &Map<String, Value>,
    secrets_given: &[(String, String)],
    secrets: &mut Vec<SecretUse>,
    not_reproduced: &mut Vec<String>,
) -> RunSpec {
    let name = string(c, "name").unwrap_or_default();
    let mut env = Vec::new();
    for e in c
        .get("environment")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(k), Some(v)) = (
            e.get("name").and_then(Value::as_str),
            e.get("value").and_then(Value::as_str),
        ) {
            set_env(&mut env, k, v.to_owned());
        }
    }
    for s in c
        .get("secrets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(k), Some(from)) = (
            s.get("name").and_then(Value::as_str),
            s.get("valueFrom").and_then(Value::as_str),
        ) else {
            continue;
        };
        let given = secrets_given.iter().find(|(n, _)| n == k);
        set_env(
            &mut env,
            k,
            given.map_or_else(|| placeholder(k), |(_, v)| v.clone()),
        );
        secrets.push(SecretUse {
            container: name.clone(),
            name: k.to_owned(),
            value_from: from.to_owned(),
            given: given.is_some(),
        });
    }
    for (key, why) in [
        ("environmentFiles", "environment files live in S3"),
        ("mountPoints", "task volumes are not created locally"),
        ("volumesFrom", "task volumes are not created locally"),
        (
            "dependsOn",
            "containers start together, not in dependency order",
        ),
        (
            "repositoryCredentials",
            "the image must already be on the local engine",
        ),
        ("firelensConfiguration", "FireLens needs the ECS agent"),
    ] {
        if c.get(key)
            .is_some_and(|v| !v.is_null() && v != &Value::Array(vec![]))
        {
            not_reproduced.push(format!("container `{name}`: {key} ({why})"));
        }
    }
    let ports = c
        .get("portMappings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let port = u16::try_from(p.get("containerPort")?.as_i64()?).ok()?;
            Some(Port {
                container_port: port,
                protocol: p
                    .get("protocol")
                    .and_then(Value::as_str)
                    .unwrap_or("tcp")
                    .to_owned(),
            })
        })
        .collect();
    let ulimits = c
        .get("ulimits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|u| {
            Some(Ulimit {
                name: u.get("name")?.as_str()?.to_owned(),
                soft: u.get("softLimit")?.as_i64()?,
                hard: u.get("hardLimit")?.as_i64()?,
            })
        })
        .collect();
    let health = c.get("healthCheck").and_then(|h| {
        let test = strings(h.get("command"))?;
        let get = |k: &str, default: i64| h.get(k).and_then(Value::as_i64).unwrap_or(default);
        Some(HealthCheck {
            test,
            interval: get("interval", HEALTH_INTERVAL),
            timeout: get("timeout", HEALTH_TIMEOUT),
            retries: get("retries", HEALTH_RETRIES),
            start_period: get("startPeriod", HEALTH_START_PERIOD),
        })
    });
    RunSpec {
        image: string(c, "image").unwrap_or_default(),
        // ECS treats a container without `essential` as essential.
        essential: c.get("essential").and_then(Value::as_bool).unwrap_or(true),
        entrypoint: strings(c.get("entryPoint")).filter(|v| !v.is_empty()),
        command: strings(c.get("command")).filter(|v| !v.is_empty()),
        env,
        working_directory: string(c, "workingDirectory"),
        user: string(c, "user"),
        ports,
        ulimits,
        stop_timeout: c.get("stopTimeout").and_then(Value::as_i64),
        health,
        name,
    }
}

/// Plans the rehearsal of `container` (optional for a one-container task definition) with the
/// given secret values and environment overrides (for the container under rehearsal).
pub fn plan(
    td: &TaskDef,
    container: Option<&str>,
    secrets_given: &[(String, String)],
    env_overrides: &[(String, String)],
) -> Result<Plan, PlanError> {
    let containers: Vec<&Map<String, Value>> = td
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .collect();
    let names: Vec<String> = containers
        .iter()
        .map(|c| string(c, "name").unwrap_or_default())
        .collect();
    let main_name = match (container, names.as_slice()) {
        (_, []) => return Err(PlanError::NoContainers),
        (Some(name), _) if names.iter().any(|n| n == name) => name.to_owned(),
        (Some(name), _) => {
            return Err(PlanError::UnknownContainer {
                name: name.to_owned(),
                known: names.join(", "),
            });
        }
        (None, [only]) => only.clone(),
        (None, _) => return Err(PlanError::WhichContainer(names.join(", "))),
    };
    let mut secrets = Vec::new();
    let mut not_reproduced = Vec::new();
    let mut main = None;
    let mut others = Vec::new();
    for c in containers {
        let mut s = spec(c, secrets_given, &mut secrets, &mut not_reproduced);
        if s.name == main_name {
            for (k, v) in env_overrides {
                set_env(&mut s.env, k, v.clone());
            }
            main = Some(s);
        } else {
            others.push(s);
        }
    }
    let main = main.ok_or(PlanError::NoContainers)?;
    if main.image.is_empty() {
        return Err(PlanError::NoImage(main.name));
    }
    Ok(Plan {
        main,
        others,
        secrets,
        not_reproduced,
    })
}

/// What one look at the running containers found.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The main container exited, with its code.
    pub exited: Option<i64>,
    /// Docker's health status of the main container: starting, healthy, unhealthy.
    pub health: Option<String>,
    /// An essential other container that exited: its name and code.
    pub essential_exited: Option<(String, i64)>,
    /// Whether `--health-url` answered 2xx (None: no URL given).
    pub url_ok: Option<bool>,
    /// Seconds since the start.
    pub elapsed: f64,
}

/// The rehearsal's verdict after one observation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "snake_case")]
pub enum Judgement {
    Healthy,
    Waiting,
    Failed(String),
}

/// Judges one observation: the container must stay up, its health check (if any) must pass, and
/// the health URL (if any) must answer 2xx. Without either, it must stay up for `settle` seconds.
pub fn judge(o: &Observed, has_health_check: bool, settle: f64) -> Judgement {
    if let Some(code) = o.exited {
        return Judgement::Failed(format!("the container exited with code {code}"));
    }
    if let Some((name, code)) = &o.essential_exited {
        return Judgement::Failed(format!(
            "essential container `{name}` exited with code {code}"
        ));
    }
    if o.health.as_deref() == Some("unhealthy") {
        return Judgement::Failed("its health check failed (unhealthy)".to_owned());
    }
    let check_ok = !has_health_check || o.health.as_deref() == Some("healthy");
    let url_ok = o.url_ok.unwrap_or(true);
    if !has_health_check && o.url_ok.is_none() {
        return if o.elapsed >= settle {
            Judgement::Healthy
        } else {
            Judgement::Waiting
        };
    }
    if check_ok && url_ok {
        Judgement::Healthy
    } else {
        Judgement::Waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn td(containers: Value) -> TaskDef {
        json!({"family": "web", "containerDefinitions": containers})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn a_container_runs_as_ecs_would_run_it() {
        let doc = td(json!([{
            "name": "api", "image": "r/api:1", "entryPoint": ["/bin/sh", "-c"], "command": ["serve"],
            "environment": [{"name": "A", "value": "1"}, {"name": "PORT", "value": "8080"}],
            "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:db"},
                        {"name": "TOKEN", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/t"}],
            "workingDirectory": "/app", "user": "1000",
            "portMappings": [{"containerPort": 8080}, {"containerPort": 53, "protocol": "udp"}],
            "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
            "stopTimeout": 20,
            "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5}
        }]));
        let given = [("TOKEN".to_owned(), "t0ken".to_owned())];
        let overrides = [("PORT".to_owned(), "9090".to_owned())];
        let plan = plan(&doc, None, &given, &overrides).unwrap();
        let m = &plan.main;
        assert_eq!(m.name, "api");
        assert_eq!(
            m.entrypoint.as_deref(),
            Some(&["/bin/sh".to_owned(), "-c".to_owned()][..])
        );
        assert_eq!(m.command.as_deref(), Some(&["serve".to_owned()][..]));
        assert_eq!(
            m.env,
            [
                ("A".to_owned(), "1".to_owned()),
                ("DB_PASSWORD".to_owned(), placeholder("DB_PASSWORD")),
                ("TOKEN".to_owned(), "t0ken".to_owned()),
                ("PORT".to_owned(), "9090".to_owned()),
            ]
        );
        assert_eq!(m.working_directory.as_deref(), Some("/app"));
        assert_eq!(m.user.as_deref(), Some("1000"));
        assert_eq!(
            m.ports[1],
            Port {
                container_port: 53,
                protocol: "udp".into()
            }
        );
        assert_eq!(
            m.ulimits[0],
            Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 4096
            }
        );
        assert_eq!(m.stop_timeout, Some(20));
        assert_eq!(
            m.health,
            Some(HealthCheck {
                test: vec!["CMD-SHELL".into(), "true".into()],
                interval: 5,
                timeout: 5,
                retries: 3,
                start_period: 0
            })
        );
        assert!(m.essential);
        assert_eq!(plan.secrets.len(), 2);
        assert!(!plan.secrets[0].given && plan.secrets[1].given);
    }

    #[test]
    fn which_container_is_rehearsed() {
        let two = td(
            json!([{"name": "api", "image": "a"}, {"name": "log", "image": "b", "essential": false,
                              "dependsOn": [{"containerName": "api", "condition": "START"}]}]),
        );
        let p = plan(&two, Some("api"), &[], &[]).unwrap();
        assert_eq!(p.others.len(), 1);
        assert!(!p.others[0].essential);
        assert_eq!(p.not_reproduced.len(), 1, "{:?}", p.not_reproduced);
        let cases = [
            (td(json!([])), None, PlanError::NoContainers),
            (
                two.clone(),
                None,
                PlanError::WhichContainer("api, log".into()),
            ),
            (
                two.clone(),
                Some("apii"),
                PlanError::UnknownContainer {
                    name: "apii".into(),
                    known: "api, log".into(),
                },
            ),
            (
                td(json!([{"name": "api"}])),
                None,
                PlanError::NoImage("api".into()),
            ),
        ];
        for (doc, container, want) in cases {
            assert_eq!(plan(&doc, container, &[], &[]).unwrap_err(), want);
        }
    }

    #[test]
    fn pairs_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_pair("--secret", "A=b=c").unwrap(),
            ("A".into(), "b=c".into())
        );
        assert!(parse_pair("--secret", "=x").is_err());
        assert!(parse_pair("--env", "novalue").is_err());
    }

    #[test]
    fn a_run_is_judged_by_exit_health_check_url_and_time() {
        let o = |exited, health: Option<&str>, url_ok, elapsed| Observed {
            exited,
            health: health.map(str::to_owned),
            essential_exited: None,
            url_ok,
            elapsed,
        };
        use Judgement::*;
        let cases = [
            (
                o(Some(3), None, None, 1.0),
                false,
                Failed("the container exited with code 3".into()),
            ),
            (
                o(None, Some("unhealthy"), None, 1.0),
                true,
                Failed("its health check failed (unhealthy)".into()),
            ),
            (o(None, Some("starting"), None, 1.0), true, Waiting),
            (o(None, Some("healthy"), None, 1.0), true, Healthy),
            (o(None, Some("healthy"), Some(false), 1.0), true, Waiting),
            (o(None, Some("healthy"), Some(true), 1.0), true, Healthy),
            (o(None, None, Some(true), 1.0), false, Healthy),
            (o(None, None, Some(false), 1.0), false, Waiting),
            (o(None, None, None, 1.0), false, Waiting),
            (o(None, None, None, 5.0), false, Healthy),
        ];
        for (observed, has_check, want) in cases {
            assert_eq!(judge(&observed, has_check, 5.0), want, "{observed:?}");
        }
        let mut sidecar = o(None, Some("healthy"), None, 1.0);
        sidecar.essential_exited = Some(("log".into(), 1));
        assert_eq!(
            judge(&sidecar, true, 5.0),
            Failed("essential container `log` exited with code 1".into())
        );
    }
}
