//! Service deployments: ECS's own account of one deployment of a service (its status, lifecycle
//! stage, traffic shares, hooks, and why it failed), the verdict they give, and the lines the wait
//! prints as a deployment moves through its stages.
//!
//! Since 2025 every deployment of a service with the ECS deployment controller is a service
//! deployment (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-deployment.html),
//! whatever its strategy: ROLLING, BLUE_GREEN, LINEAR or CANARY
//! (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentConfiguration.html).
//! For the three strategies with traffic shifts, DescribeServices' `deployments` can look settled
//! (one deployment, every task running) long before the bake time ends and ECS may still roll back:
//! only the service deployment's `status` says when it is over
//! (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceDeployment.html).

use serde::Serialize;

/// One service deployment as DescribeServiceDeployments shows it, reduced to what the verdict,
/// the progress lines and `status` need.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceDeploymentView {
    pub arn: String,
    /// PENDING, IN_PROGRESS, SUCCESSFUL, STOP_REQUESTED, STOPPED, ROLLBACK_REQUESTED,
    /// ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL or ROLLBACK_FAILED.
    pub status: String,
    pub status_reason: Option<String>,
    /// RECONCILE_SERVICE, PRE_SCALE_UP, ..., BAKE_TIME, CLEAN_UP; absent for some deployments.
    pub stage: Option<String>,
    /// ROLLING, BLUE_GREEN, LINEAR or CANARY (absent: ROLLING).
    pub strategy: Option<String>,
    pub bake_minutes: Option<i32>,
    /// The service revision being deployed, and the task definition it runs (from
    /// DescribeServiceRevisions, when known).
    pub target_revision: Option<String>,
    pub target_task_definition: Option<String>,
    /// The service revisions it replaces.
    pub source_revisions: Vec<String>,
    pub source_task_definitions: Vec<String>,
    pub target_running: i32,
    pub target_requested: i32,
    /// Percent of production (and test) traffic on the target revision, where ECS reports it.
    pub production_traffic: Option<f64>,
    pub test_traffic: Option<f64>,
    pub rollback_reason: Option<String>,
    /// The circuit breaker's failed task count and the threshold it rolls back at.
    pub breaker: Option<(i32, i32)>,
    pub triggered_alarms: Vec<String>,
    pub hooks: Vec<Hook>,
    /// RFC 3339.
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub finished_at: Option<String>,
}

/// A lifecycle hook of the deployment, as ECS reports it while the deployment runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hook {
    pub id: String,
    /// PAUSE or AWS_LAMBDA.
    pub target_type: String,
    pub target_arn: Option<String>,
    /// IN_PROGRESS, AWAITING_ACTION, SUCCEEDED, FAILED or TIMED_OUT.
    pub status: String,
    /// RFC 3339: when ECS takes the timeout action.
    pub expires_at: Option<String>,
    /// CONTINUE or ROLLBACK.
    pub timeout_action: Option<String>,
}

impl Hook {
    /// A hook the deployment waits on: a PAUSE awaiting action, or a Lambda still running.
    pub fn is_waiting(&self) -> bool {
        matches!(self.status.as_str(), "AWAITING_ACTION" | "IN_PROGRESS")
    }

    /// `hook h-1 (PAUSE) AWAITING_ACTION, times out at 2026-12-04T10:00:00Z (then ROLLBACK)`
    pub fn line(&self) -> String {
        let mut line = format!("hook {} ({}) {}", self.id, self.target_type, self.status);
        if let Some(at) = &self.expires_at {
            line.push_str(&format!(", times out at {at}"));
            if let Some(action) = &self.timeout_action {
                line.push_str(&format!(" (then {action})"));
            }
        }
        line
    }
}

impl ServiceDeploymentView {
    /// The last part of the ARN: enough to tell deployments apart in a line.
    pub fn id(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or(&self.arn)
    }

    pub fn strategy(&self) -> &str {
        self.strategy.as_deref().unwrap_or("ROLLING")
    }

    /// Whether the deployment has ended, well or badly.
    pub fn is_over(&self) -> bool {
        matches!(
            self.status.as_str(),
            "SUCCESSFUL" | "STOPPED" | "ROLLBACK_SUCCESSFUL" | "ROLLBACK_FAILED"
        )
    }

    /// A PAUSE hook awaiting action: what `ecs-ship deployment continue` acts on.
    pub fn awaiting_hook(&self) -> Option<&Hook> {
        self.hooks
            .iter()
            .find(|h| h.status == "AWAITING_ACTION" && h.target_type == "PAUSE")
            .or_else(|| self.hooks.iter().find(|h| h.status == "AWAITING_ACTION"))
    }

    /// Whether production traffic is on the target revision: past the production traffic shift.
    pub fn traffic_shifted(&self) -> bool {
        matches!(
            self.stage.as_deref(),
            Some("POST_PRODUCTION_TRAFFIC_SHIFT" | "BAKE_TIME" | "CLEAN_UP")
        )
    }

    /// Whether the strategy shifts traffic (and so has a bake time) at all.
    pub fn shifts_traffic(&self) -> bool {
        matches!(self.strategy(), "BLUE_GREEN" | "LINEAR" | "CANARY")
    }

    /// Why it failed, from everything ECS says: the status reason, the rollback's reason, the
    /// circuit breaker's counts and the alarms that fired.
    pub fn failure_reason(&self) -> String {
        let mut parts = Vec::new();
        if let Some(r) = &self.status_reason {
            parts.push(r.clone());
        }
        if let Some(r) = &self.rollback_reason
            && Some(r) != self.status_reason.as_ref()
        {
            parts.push(format!("rollback: {r}"));
        }
        if let Some((count, threshold)) = self.breaker
            && count > 0
        {
            parts.push(format!(
                "circuit breaker: {count} failed tasks (threshold {threshold})"
            ));
        }
        if !self.triggered_alarms.is_empty() {
            parts.push(format!(
                "alarms in ALARM: {}",
                self.triggered_alarms.join(", ")
            ));
        }
        if parts.is_empty() {
            "no reason given".to_owned()
        } else {
            parts.join("; ")
        }
    }

    /// What the deployment is doing, for a line: `BLUE_GREEN IN_PROGRESS, stage BAKE_TIME`.
    pub fn state(&self) -> String {
        match &self.stage {
            Some(stage) if !self.is_over() => {
                format!("{} {}, stage {stage}", self.strategy(), self.status)
            }
            _ => format!("{} {}", self.strategy(), self.status),
        }
    }

    /// The lines describing where the deployment stands; the wait prints each line once, as it
    /// first appears, so a stage, a traffic share or a hook shows when it is entered.
    pub fn lines(&self) -> Vec<String> {
        let id = self.id();
        let mut lines = vec![format!("service deployment {id}: {}", self.state())];
        let target = self
            .target_task_definition
            .as_deref()
            .map(super::rollout::short_arn)
            .unwrap_or("the new revision");
        let mut traffic = Vec::new();
        if let Some(p) = self.production_traffic
            && self.shifts_traffic()
            && !self.is_over()
        {
            traffic.push(format!("production traffic {}% on {target}", percent(p)));
        }
        if let Some(t) = self.test_traffic
            && self.shifts_traffic()
            && t > 0.0
        {
            traffic.push(format!("test traffic {}%", percent(t)));
        }
        if !traffic.is_empty() {
            lines.push(format!("service deployment {id}: {}", traffic.join(", ")));
        }
        if self.stage.as_deref() == Some("BAKE_TIME")
            && let Some(minutes) = self.bake_minutes
        {
            let ends = self
                .updated_at
                .as_deref()
                .and_then(|at| bake_end(at, minutes))
                .map(|end| format!(", ends about {end}"))
                .unwrap_or_default();
            lines.push(format!(
                "service deployment {id}: bake time {minutes}m{ends}"
            ));
        }
        for hook in &self.hooks {
            lines.push(format!("service deployment {id}: {}", hook.line()));
        }
        lines
    }
}

fn percent(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p:.1}")
    }
}

/// When a bake that began at `started` (RFC 3339) and lasts `minutes` ends.
fn bake_end(started: &str, minutes: i32) -> Option<String> {
    let at = chrono::DateTime::parse_from_rfc3339(started).ok()?;
    let end = at + chrono::Duration::minutes(i64::from(minutes));
    Some(
        end.with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
    )
}

/// How far a wait goes: to the end of the deployment, or to an earlier point of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitUntil {
    /// SUCCESSFUL: traffic shifted, bake time over, the old revision cleaned up.
    #[default]
    Complete,
    /// Production traffic is on the new revision (bake time and clean-up not waited for).
    TrafficShifted,
    /// The bake time is over (clean-up not waited for).
    Bake,
    /// Until a lifecycle hook awaits action (or the end, if none does).
    Paused,
}

impl WaitUntil {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitUntil::Complete => "complete",
            WaitUntil::TrafficShifted => "traffic-shifted",
            WaitUntil::Bake => "bake",
            WaitUntil::Paused => "paused",
        }
    }
}

/// The verdict of a service deployment that is ours (it deploys the expected task definition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentVerdict {
    /// SUCCESSFUL.
    Successful,
    /// `--wait-until` reached before the end: the note says what was not waited for.
    Reached(WaitUntil, String),
    /// A lifecycle hook awaits action (with `--wait-until paused`).
    Paused(String),
    InProgress(String),
    Failed(String),
}

/// What the service deployment says, against what is waited for. `wait_rollback`: a rollback in
/// progress is followed to its end (the verdict is a failure either way).
pub fn deployment_verdict(
    d: &ServiceDeploymentView,
    until: WaitUntil,
    wait_rollback: bool,
    max_task_failures: Option<i32>,
) -> DeploymentVerdict {
    let ours = d
        .target_task_definition
        .as_deref()
        .map(super::rollout::short_arn)
        .unwrap_or("the new revision");
    match d.status.as_str() {
        "SUCCESSFUL" => return DeploymentVerdict::Successful,
        "ROLLBACK_SUCCESSFUL" => {
            return DeploymentVerdict::Failed(format!(
                "the service deployment of {ours} was rolled back (ROLLBACK_SUCCESSFUL): {}",
                d.failure_reason()
            ));
        }
        "ROLLBACK_FAILED" => {
            return DeploymentVerdict::Failed(format!(
                "the service deployment of {ours} failed and so did its rollback (ROLLBACK_FAILED): {}",
                d.failure_reason()
            ));
        }
        "STOPPED" => {
            return DeploymentVerdict::Failed(format!(
                "the service deployment of {ours} was STOPPED: {}",
                d.failure_reason()
            ));
        }
        "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" => {
            let why = format!(
                "the service deployment of {ours} is rolling back ({}): {}",
                d.status,
                d.failure_reason()
            );
            return if wait_rollback {
                DeploymentVerdict::InProgress(why)
            } else {
                DeploymentVerdict::Failed(why)
            };
        }
        _ => {}
    }
    if let (Some(max), Some((count, _))) = (max_task_failures, d.breaker)
        && count >= max
    {
        return DeploymentVerdict::Failed(format!(
            "{count} tasks of {ours} failed (--max-task-failures {max})"
        ));
    }
    if let Some(hook) = d.awaiting_hook() {
        let stage = d.stage.as_deref().unwrap_or("its current stage");
        let why = format!(
            "the service deployment of {ours} is paused at {stage}: {}",
            hook.line()
        );
        return match until {
            WaitUntil::Paused => DeploymentVerdict::Paused(why),
            _ => DeploymentVerdict::InProgress(why),
        };
    }
    let bake = d
        .bake_minutes
        .map(|m| format!("bake time ({m}m)"))
        .unwrap_or_else(|| "bake time".to_owned());
    match until {
        WaitUntil::TrafficShifted if d.traffic_shifted() => {
            return DeploymentVerdict::Reached(
                until,
                format!(
                    "production traffic is on {ours} (stage {}); not waited for: the {bake} and the clean-up of the old revision",
                    d.stage.as_deref().unwrap_or_default()
                ),
            );
        }
        WaitUntil::Bake if d.stage.as_deref() == Some("CLEAN_UP") => {
            return DeploymentVerdict::Reached(
                until,
                format!(
                    "the {bake} of {ours} is over (stage CLEAN_UP); not waited for: the clean-up of the old revision"
                ),
            );
        }
        _ => {}
    }
    let stage = d
        .stage
        .as_deref()
        .map(|s| format!(", stage {s}"))
        .unwrap_or_default();
    DeploymentVerdict::InProgress(format!(
        "service deployment {} of {ours}{stage}, {} of {} tasks running",
        d.status, d.target_running, d.target_requested
    ))
}

/// The verdict of a service deployment whose rollback was asked for: the good end is
/// ROLLBACK_SUCCESSFUL, the service back on the revisions it ran before.
pub fn rollback_verdict(d: &ServiceDeploymentView) -> DeploymentVerdict {
    let source = d
        .source_task_definitions
        .first()
        .map(|td| super::rollout::short_arn(td).to_owned())
        .unwrap_or_else(|| "the previous revision".to_owned());
    match d.status.as_str() {
        "ROLLBACK_SUCCESSFUL" => DeploymentVerdict::Successful,
        "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" => DeploymentVerdict::InProgress(format!(
            "service deployment {} is rolling back to {source} ({})",
            d.id(),
            d.status
        )),
        "ROLLBACK_FAILED" => DeploymentVerdict::Failed(format!(
            "the rollback of service deployment {} to {source} failed (ROLLBACK_FAILED): {}",
            d.id(),
            d.failure_reason()
        )),
        "SUCCESSFUL" | "STOPPED" => DeploymentVerdict::Failed(format!(
            "service deployment {} ended {} without rolling back to {source}",
            d.id(),
            d.status
        )),
        other => DeploymentVerdict::InProgress(format!(
            "waiting for service deployment {} to start rolling back ({other})",
            d.id()
        )),
    }
}

/// The revision the service ran before `running`, from its service deployments (newest first):
/// what the deployment that brought `running` replaced, else the newest other revision a
/// deployment completed on. Never `running` itself.
pub fn previous_revision(running: &str, recent: &[ServiceDeploymentView]) -> Option<String> {
    let brought = recent
        .iter()
        .find(|d| d.target_task_definition.as_deref() == Some(running));
    if let Some(source) = brought
        .into_iter()
        .flat_map(|d| &d.source_task_definitions)
        .find(|td| *td != running)
    {
        return Some(source.clone());
    }
    recent
        .iter()
        .filter(|d| d.status == "SUCCESSFUL")
        .filter_map(|d| d.target_task_definition.as_deref())
        .find(|td| *td != running)
        .map(str::to_owned)
}

/// Which of the service's deployments (newest first, each with its target task definition and
/// creation time in epoch seconds) is the one our update started: the newest that deploys
/// `task_definition`, created at or after `since` (less some clock skew) when given.
pub fn ours<'a>(
    candidates: &'a [(String, Option<String>, Option<i64>)],
    task_definition: &str,
    since: Option<i64>,
) -> Option<&'a str> {
    const SKEW: i64 = 60;
    candidates
        .iter()
        .filter(|(_, td, _)| td.as_deref() == Some(task_definition))
        .filter(|(_, _, created)| match (since, created) {
            (Some(since), Some(created)) => *created >= since - SKEW,
            _ => true,
        })
        .map(|(arn, _, _)| arn.as_str())
        .next()
}

/// When the two views disagree in a way that matters - DescribeServices alone would stop waiting
/// (stable or failed) where the service deployment goes on, or the other way round - the line
/// that says so. The service deployment is trusted.
pub fn disagreement(
    legacy: &super::rollout::Verdict,
    deployment: &DeploymentVerdict,
    status: &str,
) -> Option<String> {
    use super::rollout::Verdict;
    match (legacy, deployment) {
        (Verdict::Stable, DeploymentVerdict::InProgress(_)) => Some(format!(
            "DescribeServices alone would call this stable, but the service deployment is {status}: waiting for the service deployment"
        )),
        (Verdict::Failed(_), DeploymentVerdict::InProgress(_))
            if status.starts_with("ROLLBACK") =>
        {
            None
        }
        (Verdict::Failed(l), DeploymentVerdict::InProgress(_) | DeploymentVerdict::Successful) => {
            Some(format!(
                "DescribeServices suggests a failure ({l}), but the service deployment does not: trusting the service deployment"
            ))
        }
        (Verdict::InProgress(l), DeploymentVerdict::Successful) => Some(format!(
            "the service deployment is SUCCESSFUL while DescribeServices still shows {l}: trusting the service deployment"
        )),
        (Verdict::Stable, DeploymentVerdict::Failed(why)) => Some(format!(
            "DescribeServices alone would call this stable, but {why}: trusting the service deployment"
        )),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests;
