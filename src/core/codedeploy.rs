//! CodeDeploy blue/green deployments of ECS services (deployment controller CODE_DEPLOY): the
//! AppSpec ecs-ship writes, the hooks file it takes, and the verdict from the deployment's status
//! and lifecycle events (https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html#appspec-hooks-ecs,
//! https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_DeploymentInfo.html).

use serde::Serialize;
use serde_json::{Value, json};

use super::deployment::WaitUntil;

/// The lifecycle events an ECS AppSpec can hook a Lambda function to.
pub const HOOK_EVENTS: [&str; 5] = [
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
];

/// A CodeDeploy deployment as GetDeployment and BatchGetDeploymentTargets show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CodeDeployView {
    pub deployment_id: String,
    /// Created, Queued, InProgress, Baking, Ready, Succeeded, Failed or Stopped.
    pub status: String,
    pub error: Option<String>,
    pub events: Vec<LifecycleEvent>,
    /// The deployment that rolled this one back, when one did.
    pub rolled_back_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LifecycleEvent {
    pub name: String,
    /// Pending, InProgress, Succeeded, Failed, Skipped or Unknown.
    pub status: String,
    /// The diagnostics of a failed event: error code, message and log tail.
    pub diagnostics: Option<String>,
}

impl CodeDeployView {
    /// Lines for the wait: the status, then each lifecycle event with its status.
    pub fn lines(&self) -> Vec<String> {
        let id = &self.deployment_id;
        let mut lines = vec![format!("CodeDeploy deployment {id}: {}", self.status)];
        // Events still Pending are not news; each shows once it starts.
        for e in self.events.iter().filter(|e| e.status != "Pending") {
            lines.push(format!(
                "CodeDeploy deployment {id}: lifecycle event {} {}",
                e.name, e.status
            ));
        }
        lines
    }

    fn failure(&self) -> String {
        let mut parts = Vec::new();
        if let Some(e) = &self.error {
            parts.push(e.clone());
        }
        for e in self.events.iter().filter(|e| e.status == "Failed") {
            let diagnostics = e
                .diagnostics
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            parts.push(format!("lifecycle event {} failed{diagnostics}", e.name));
        }
        if let Some(by) = &self.rolled_back_by {
            parts.push(format!("rolled back by deployment {by}"));
        }
        if parts.is_empty() {
            "no reason given".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

/// The verdict of a CodeDeploy deployment, in the terms of a service deployment's.
pub fn verdict(d: &CodeDeployView, until: WaitUntil) -> super::deployment::DeploymentVerdict {
    use super::deployment::DeploymentVerdict as V;
    let id = &d.deployment_id;
    match d.status.as_str() {
        "Succeeded" => V::Successful,
        "Failed" => V::Failed(format!(
            "CodeDeploy deployment {id} Failed: {}",
            d.failure()
        )),
        "Stopped" => V::Failed(format!(
            "CodeDeploy deployment {id} was Stopped: {}",
            d.failure()
        )),
        // Production traffic is on the replacement task set; the original waits out its time.
        "Baking" if until == WaitUntil::TrafficShifted || until == WaitUntil::Bake => V::Reached(
            until,
            format!(
                "production traffic is on the replacement task set (CodeDeploy deployment {id} Baking); not waited for: the termination of the original task set"
            ),
        ),
        "Ready" => {
            let why = format!(
                "CodeDeploy deployment {id} is Ready and waits for the traffic to be rerouted: `aws deploy continue-deployment --deployment-id {id}` lets it go on"
            );
            if until == WaitUntil::Paused {
                V::Paused(why)
            } else {
                V::InProgress(why)
            }
        }
        status => {
            let running = d
                .events
                .iter()
                .find(|e| e.status == "InProgress")
                .map(|e| format!(", lifecycle event {}", e.name))
                .unwrap_or_default();
            V::InProgress(format!("CodeDeploy deployment {id} {status}{running}"))
        }
    }
}

/// The AppSpec of an ECS deployment: the task definition, the container and port the load
/// balancer sends traffic to, and the hooks.
pub fn appspec(task_definition: &str, container: &str, port: i32, hooks: Option<&Value>) -> String {
    let mut spec = json!({
        "version": 0.0,
        "Resources": [{
            "TargetService": {
                "Type": "AWS::ECS::Service",
                "Properties": {
                    "TaskDefinition": task_definition,
                    "LoadBalancerInfo": {"ContainerName": container, "ContainerPort": port}
                }
            }
        }]
    });
    if let Some(hooks) = hooks {
        spec["Hooks"] = hooks.clone();
    }
    spec.to_string()
}

/// The `--appspec-hooks FILE` (YAML or JSON): a list of `{EVENT: lambda-name-or-arn}`, or one
/// mapping of events, each a hook event an ECS deployment has.
pub fn parse_hooks(text: &str) -> Result<Value, String> {
    let docs = yaml_rust2::YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    let doc = docs.into_iter().next().ok_or("the file is empty")?;
    let pairs: Vec<(String, String)> = match &doc {
        yaml_rust2::Yaml::Array(items) => items
            .iter()
            .map(one_pair)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect(),
        hash @ yaml_rust2::Yaml::Hash(_) => one_pair(hash)?,
        _ => return Err("expected a list of {EVENT: FUNCTION} (or one mapping of them)".into()),
    };
    if pairs.is_empty() {
        return Err("no hook in it".into());
    }
    for (event, _) in &pairs {
        if !HOOK_EVENTS.contains(&event.as_str()) {
            return Err(format!(
                "`{event}` is not a hook of an ECS deployment (one of: {})",
                HOOK_EVENTS.join(", ")
            ));
        }
    }
    Ok(Value::Array(
        pairs.into_iter().map(|(e, f)| json!({ e: f })).collect(),
    ))
}

fn one_pair(item: &yaml_rust2::Yaml) -> Result<Vec<(String, String)>, String> {
    let yaml_rust2::Yaml::Hash(map) = item else {
        return Err("each hook is a mapping {EVENT: FUNCTION}".into());
    };
    map.iter()
        .map(|(k, v)| match (k.as_str(), v.as_str()) {
            (Some(k), Some(v)) if !v.trim().is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => Err("each hook is EVENT: FUNCTION, the function's name or ARN".to_owned()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::deployment::DeploymentVerdict as V;

    fn view(status: &str, events: &[(&str, &str, Option<&str>)]) -> CodeDeployView {
        CodeDeployView {
            deployment_id: "d-ABC".into(),
            status: status.into(),
            events: events
                .iter()
                .map(|(n, s, d)| LifecycleEvent {
                    name: (*n).into(),
                    status: (*s).into(),
                    diagnostics: d.map(str::to_owned),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_deployment_status_is_the_verdict_with_the_failed_events_diagnostics() {
        let failed = CodeDeployView {
            error: Some("HEALTH_CONSTRAINTS: the replacement tasks failed".into()),
            ..view(
                "Failed",
                &[
                    ("BeforeInstall", "Succeeded", None),
                    (
                        "AfterAllowTestTraffic",
                        "Failed",
                        Some("ScriptFailed: smoke test returned 500"),
                    ),
                ],
            )
        };
        let cases = [
            (
                "succeeded",
                view("Succeeded", &[]),
                WaitUntil::Complete,
                "successful",
                "",
            ),
            (
                "in progress names the event",
                view("InProgress", &[("Install", "InProgress", None)]),
                WaitUntil::Complete,
                "in_progress",
                "lifecycle event Install",
            ),
            (
                "failed",
                failed,
                WaitUntil::Complete,
                "failed",
                "lifecycle event AfterAllowTestTraffic failed: ScriptFailed: smoke test returned 500",
            ),
            (
                "stopped",
                view("Stopped", &[]),
                WaitUntil::Complete,
                "failed",
                "was Stopped",
            ),
            (
                "baking is the end for traffic-shifted",
                view("Baking", &[]),
                WaitUntil::TrafficShifted,
                "reached",
                "replacement task set",
            ),
            (
                "but not for complete",
                view("Baking", &[]),
                WaitUntil::Complete,
                "in_progress",
                "Baking",
            ),
            (
                "ready pauses",
                view("Ready", &[]),
                WaitUntil::Paused,
                "paused",
                "aws deploy continue-deployment --deployment-id d-ABC",
            ),
            (
                "ready waits otherwise",
                view("Ready", &[]),
                WaitUntil::Complete,
                "in_progress",
                "Ready",
            ),
        ];
        for (name, d, until, want, needle) in cases {
            let v = verdict(&d, until);
            let (kind, reason) = match &v {
                V::Successful => ("successful", String::new()),
                V::Reached(_, r) => ("reached", r.clone()),
                V::Paused(r) => ("paused", r.clone()),
                V::InProgress(r) => ("in_progress", r.clone()),
                V::Failed(r) => ("failed", r.clone()),
            };
            assert_eq!(kind, want, "{name}: {v:?}");
            assert!(reason.contains(needle), "{name}: {reason}");
        }
    }

    #[test]
    fn the_appspec_names_revision_container_port_and_hooks() {
        let hooks = parse_hooks("- BeforeInstall: validate\n- AfterAllowTestTraffic: arn:aws:lambda:us-east-1:1:function:smoke\n").unwrap();
        let spec: Value =
            serde_json::from_str(&appspec("arn:td/web:12", "api", 8080, Some(&hooks))).unwrap();
        let props = &spec["Resources"][0]["TargetService"]["Properties"];
        assert_eq!(props["TaskDefinition"], "arn:td/web:12");
        assert_eq!(
            props["LoadBalancerInfo"],
            json!({"ContainerName": "api", "ContainerPort": 8080})
        );
        assert_eq!(
            spec["Hooks"][1]["AfterAllowTestTraffic"],
            "arn:aws:lambda:us-east-1:1:function:smoke"
        );
        assert!(appspec("a", "b", 1, None).contains("\"version\":0.0"));
    }

    #[test]
    fn a_hooks_file_names_only_hooks_an_ecs_deployment_has() {
        assert_eq!(
            parse_hooks("BeforeInstall: f\nAfterInstall: g\n")
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            2
        );
        for (text, needle) in [
            ("- ApplicationStart: f\n", "not a hook of an ECS deployment"),
            ("- BeforeInstall: \"\"\n", "EVENT: FUNCTION"),
            ("just text\n", "expected a list"),
            ("", "empty"),
            ("- [a, b]\n", "mapping"),
        ] {
            let e = parse_hooks(text).unwrap_err();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }
}
