//! The stability verdict: is a service stable on OUR revision, still rolling out, or failed - and why.
//!
//! `aws ecs wait services-stable` says success once a service has one deployment with
//! runningCount == desiredCount, which is also what a service looks like after the circuit breaker
//! rolled it back to the old revision - a false green (the waiter's definition:
//! https://docs.aws.amazon.com/cli/latest/reference/ecs/wait/services-stable.html). Here success means: one
//! deployment, PRIMARY, running exactly the expected task definition ARN, rolloutState COMPLETED where
//! ECS reports one, and running == desired.

use serde::Serialize;

use super::deployment::{self, DeploymentVerdict, ServiceDeploymentView, WaitUntil};

/// One service as DescribeServices shows it, reduced to what the verdict needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceSnapshot {
    pub name: String,
    /// ACTIVE, DRAINING, INACTIVE, or MISSING when DescribeServices listed it under failures.
    pub status: String,
    pub task_definition: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub deployments: Vec<Deployment>,
    /// Newest first, as ECS returns them.
    pub events: Vec<ServiceEvent>,
    /// The service deployment ECS runs now (DescribeServices' `currentServiceDeployment`).
    pub current_service_deployment: Option<String>,
    /// `deploymentConfiguration.strategy`: ROLLING, BLUE_GREEN, LINEAR, CANARY.
    pub strategy: Option<String>,
    /// Our service deployment, once found (the wait attaches it to each poll's snapshot).
    pub service_deployment: Option<ServiceDeploymentView>,
    /// Set while our service deployment is looked for and not found yet: why the wait goes on.
    pub awaiting_service_deployment: Option<String>,
    /// A CODE_DEPLOY service's CodeDeploy deployment (the wait attaches it).
    pub codedeploy: Option<super::codedeploy::CodeDeployView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployment {
    pub id: String,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: String,
    pub task_definition: String,
    pub desired: i32,
    pub pending: i32,
    pub running: i32,
    pub failed_tasks: i32,
    /// COMPLETED, IN_PROGRESS or FAILED; absent for some deployment types.
    pub rollout_state: Option<String>,
    pub rollout_state_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceEvent {
    pub id: String,
    /// RFC 3339.
    pub created_at: String,
    pub message: String,
}

/// What the waiter expects of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub task_definition: String,
    /// The revision the service ran before our deployment, to name a rollback as such.
    pub previous: Option<String>,
    /// Fail once this many tasks of our deployment have failed (before the circuit breaker does).
    pub max_task_failures: Option<i32>,
    /// How far to wait (service deployments only: the legacy view knows only the end).
    pub until: WaitUntil,
    /// Follow a rollback in progress to its end before failing.
    pub wait_rollback: bool,
    /// When our update was made (epoch seconds): our service deployment is created after it.
    pub since: Option<i64>,
    /// The service deployment to follow, when it is known already (one we steered).
    pub follow: Option<Follow>,
    /// A CODE_DEPLOY service: the CodeDeploy deployment whose status is the verdict.
    pub codedeploy: Option<String>,
}

/// A known service deployment to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follow {
    pub arn: String,
    /// Its rollback is what is waited for: ROLLBACK_SUCCESSFUL is the good end.
    pub rollback: bool,
}

impl Expectation {
    /// Waiting for a service to settle on `task_definition`, to the end.
    pub fn new(task_definition: impl Into<String>) -> Self {
        Expectation {
            task_definition: task_definition.into(),
            previous: None,
            max_task_failures: None,
            until: WaitUntil::Complete,
            wait_rollback: true,
            since: None,
            follow: None,
            codedeploy: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "snake_case")]
pub enum Verdict {
    Stable,
    /// `--wait-until` reached before the deployment's end: the note says what was not waited for.
    Reached(WaitUntil, String),
    /// A lifecycle hook awaits action, with `--wait-until paused`.
    Paused(String),
    InProgress(String),
    Failed(String),
}

impl Verdict {
    /// Whether waiting for this service is over, well.
    pub fn is_done(&self) -> bool {
        matches!(self, Verdict::Stable | Verdict::Reached(..))
    }
}

/// `arn:aws:ecs:...:task-definition/web:3` -> `web:3`.
pub fn short_arn(arn: &str) -> &str {
    arn.rsplit_once('/').map_or(arn, |(_, name)| name)
}

/// The verdict, and - when the service deployment and DescribeServices disagree in a way that
/// matters - the line saying so. The service deployment is trusted whenever there is one.
pub fn verdict_and_disagreement(
    s: &ServiceSnapshot,
    want: &Expectation,
) -> (Verdict, Option<String>) {
    let legacy = legacy_verdict(s, want);
    if matches!(s.status.as_str(), "MISSING" | "DRAINING" | "INACTIVE") {
        return (legacy, None);
    }
    if let Some(d) = &s.codedeploy {
        return (
            of_deployment(super::codedeploy::verdict(d, want.until)),
            None,
        );
    }
    let Some(d) = &s.service_deployment else {
        return match &s.awaiting_service_deployment {
            Some(why) => (Verdict::InProgress(why.clone()), None),
            None => (legacy, None),
        };
    };
    if let Some(current) = &s.current_service_deployment
        && *current != d.arn
        && d.status != "SUCCESSFUL"
    {
        let now = short_arn(&s.task_definition);
        let id = current.rsplit('/').next().unwrap_or(current);
        let why = format!(
            "the service deployment of {} ({}) was superseded by service deployment {id}: the service now deploys {now}",
            short_arn(&want.task_definition),
            d.status
        );
        return (Verdict::Failed(why), None);
    }
    let rollback = want.follow.as_ref().is_some_and(|f| f.rollback);
    let ours = if rollback {
        deployment::rollback_verdict(d)
    } else {
        deployment::deployment_verdict(d, want.until, want.wait_rollback, want.max_task_failures)
    };
    let disagreement = deployment::disagreement(&legacy, &ours, &d.status);
    (of_deployment(ours), disagreement)
}

fn of_deployment(v: DeploymentVerdict) -> Verdict {
    match v {
        DeploymentVerdict::Successful => Verdict::Stable,
        DeploymentVerdict::Reached(until, note) => Verdict::Reached(until, note),
        DeploymentVerdict::Paused(why) => Verdict::Paused(why),
        DeploymentVerdict::InProgress(why) => Verdict::InProgress(why),
        DeploymentVerdict::Failed(why) => Verdict::Failed(why),
    }
}

pub fn verdict(s: &ServiceSnapshot, want: &Expectation) -> Verdict {
    verdict_and_disagreement(s, want).0
}

/// The verdict from DescribeServices alone: what a wait falls back to where service deployments
/// are unavailable.
pub fn legacy_verdict(s: &ServiceSnapshot, want: &Expectation) -> Verdict {
    let ours = short_arn(&want.task_definition);
    match s.status.as_str() {
        "MISSING" => {
            return Verdict::Failed(format!(
                "service `{}` is MISSING: it does not exist (deleted?)",
                s.name
            ));
        }
        "DRAINING" | "INACTIVE" => {
            return Verdict::Failed(format!(
                "service `{}` is {}: it is being deleted or was deleted",
                s.name, s.status
            ));
        }
        _ => {}
    }
    let our_deployment = s
        .deployments
        .iter()
        .find(|d| d.task_definition == want.task_definition);
    let Some(primary) = s.deployments.iter().find(|d| d.status == "PRIMARY") else {
        return Verdict::InProgress("no PRIMARY deployment yet".into());
    };
    if primary.task_definition != want.task_definition {
        let theirs = short_arn(&primary.task_definition);
        let why = our_deployment
            .and_then(|d| d.rollout_state_reason.as_deref())
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        return if want.previous.as_deref() == Some(primary.task_definition.as_str()) {
            Verdict::Failed(format!(
                "the deployment of {ours} was rolled back: the PRIMARY deployment runs {theirs} again{why}"
            ))
        } else {
            Verdict::Failed(format!(
                "the PRIMARY deployment runs {theirs}, not {ours}: another deployment superseded ours{why}"
            ))
        };
    }
    if primary.rollout_state.as_deref() == Some("FAILED") {
        let reason = primary
            .rollout_state_reason
            .as_deref()
            .unwrap_or("no reason given");
        return Verdict::Failed(format!("the rollout of {ours} FAILED: {reason}"));
    }
    if let Some(max) = want.max_task_failures
        && primary.failed_tasks >= max
    {
        return Verdict::Failed(format!(
            "{} tasks of {ours} failed to start or stopped (--max-task-failures {max})",
            primary.failed_tasks
        ));
    }
    if s.deployments.len() > 1 {
        // Say what the new deployment lacks: tasks that never started are not "old tasks draining".
        if primary.running < primary.desired {
            let failed = if primary.failed_tasks > 0 {
                format!(", {} failed", primary.failed_tasks)
            } else {
                String::new()
            };
            return Verdict::InProgress(format!(
                "{} of {} tasks of {ours} running, {} pending{failed}",
                primary.running, primary.desired, primary.pending
            ));
        }
        return Verdict::InProgress(format!(
            "{ours} is running; {} older deployment(s) still draining",
            s.deployments.len() - 1
        ));
    }
    if primary
        .rollout_state
        .as_deref()
        .is_some_and(|r| r != "COMPLETED")
    {
        return Verdict::InProgress(format!(
            "rollout {}",
            primary.rollout_state.as_deref().unwrap_or_default()
        ));
    }
    if primary.running != primary.desired || s.running != s.desired {
        return Verdict::InProgress(format!(
            "{} of {} tasks running",
            primary.running, primary.desired
        ));
    }
    Verdict::Stable
}

/// `PRIMARY vendor0919-task:12 desired 2 pending 1 running 1 IN_PROGRESS`
pub fn deployment_line(d: &Deployment) -> String {
    let mut line = format!(
        "{} {} desired {} pending {} running {}",
        d.status,
        short_arn(&d.task_definition),
        d.desired,
        d.pending,
        d.running
    );
    if d.failed_tasks > 0 {
        line.push_str(&format!(" failed {}", d.failed_tasks));
    }
    if let Some(state) = &d.rollout_state {
        line.push(' ');
        line.push_str(state);
    }
    line
}

/// What is new after a poll.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Events not seen before, oldest first.
    pub events: Vec<String>,
    /// Deployment lines that changed since the last poll.
    pub deployments: Vec<String>,
}

impl Progress {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.deployments.is_empty()
    }
}

/// What to print after a poll. Updates `seen_events` and `last_lines`.
pub fn progress(
    s: &ServiceSnapshot,
    seen_events: &mut Vec<String>,
    last_lines: &mut Vec<String>,
) -> Progress {
    let mut out = Progress::default();
    for e in s.events.iter().rev() {
        if !seen_events.contains(&e.id) {
            seen_events.push(e.id.clone());
            out.events.push(format!("{} {}", e.created_at, e.message));
        }
    }
    let mut lines: Vec<String> = s.deployments.iter().map(deployment_line).collect();
    if let Some(d) = &s.service_deployment {
        lines.extend(d.lines());
    }
    if let Some(d) = &s.codedeploy {
        lines.extend(d.lines());
    }
    if lines != *last_lines {
        out.deployments = lines
            .iter()
            .filter(|l| !last_lines.contains(l))
            .cloned()
            .collect();
        *last_lines = lines;
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;

/// A stopped task of our revision, for the failure report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoppedTask {
    pub task_id: String,
    pub stopped_reason: String,
    pub stop_code: Option<String>,
    pub containers: Vec<StoppedContainer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoppedContainer {
    pub name: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    /// The awslogs stream `<prefix>/<container>/<task-id>` in its group, when the container logs there.
    pub log_stream: Option<String>,
    pub log_group: Option<String>,
    /// The last lines of that stream, oldest first.
    pub last_log_lines: Vec<String>,
}

/// How waiting for a set of services ended, as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitEnd {
    Stable,
    /// A lifecycle hook awaits action (`--wait-until paused`, or at the deadline).
    Paused,
    Failed,
    TimedOut,
    Interrupted,
}

/// How waiting ended for one service, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceVerdict {
    Stable,
    /// `--wait-until traffic-shifted`: production traffic is on the new revision.
    TrafficShifted,
    /// `--wait-until bake`: the bake time is over.
    Baked,
    /// A lifecycle hook awaits action.
    Paused,
    Failed,
    TimedOut,
    Interrupted,
    /// Another service decided the outcome while this one was still rolling out.
    InProgress,
}

impl ServiceVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceVerdict::Stable => "stable",
            ServiceVerdict::TrafficShifted => "traffic_shifted",
            ServiceVerdict::Baked => "baked",
            ServiceVerdict::Paused => "paused",
            ServiceVerdict::Failed => "failed",
            ServiceVerdict::TimedOut => "timed_out",
            ServiceVerdict::Interrupted => "interrupted",
            ServiceVerdict::InProgress => "in_progress",
        }
    }

    /// Whether the failure report (stopped tasks, log lines) is worth reading for it.
    pub fn needs_diagnosis(self) -> bool {
        matches!(self, ServiceVerdict::Failed | ServiceVerdict::TimedOut)
    }

    /// Whether the wait ended well for it (exit 0).
    pub fn is_success(self) -> bool {
        matches!(
            self,
            ServiceVerdict::Stable | ServiceVerdict::TrafficShifted | ServiceVerdict::Baked
        )
    }

    /// The verdict of a service the wait found done: stable, or the `--wait-until` point.
    pub fn of_done(v: &Verdict) -> Option<ServiceVerdict> {
        match v {
            Verdict::Stable => Some(ServiceVerdict::Stable),
            Verdict::Reached(WaitUntil::Bake, _) => Some(ServiceVerdict::Baked),
            Verdict::Reached(_, _) => Some(ServiceVerdict::TrafficShifted),
            _ => None,
        }
    }
}

impl std::fmt::Display for ServiceVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One service's verdict and reason, from how the wait ended and the reason the loop gave for this
/// service (`failing`: the service that failed, or one still in progress at the timeout).
pub fn service_verdict(end: WaitEnd, failing: Option<&str>) -> (ServiceVerdict, Option<String>) {
    match (end, failing) {
        (WaitEnd::Stable, _) => (ServiceVerdict::Stable, None),
        (WaitEnd::Paused, Some(reason)) => (ServiceVerdict::Paused, Some(reason.to_owned())),
        (WaitEnd::Paused, None) => (ServiceVerdict::InProgress, None),
        (WaitEnd::Failed, Some(reason)) => (ServiceVerdict::Failed, Some(reason.to_owned())),
        (WaitEnd::TimedOut, Some(reason)) => (ServiceVerdict::TimedOut, Some(reason.to_owned())),
        (WaitEnd::Interrupted, _) => (ServiceVerdict::Interrupted, None),
        (WaitEnd::Failed | WaitEnd::TimedOut, None) => (ServiceVerdict::InProgress, None),
    }
}

/// Why a service cannot be deployed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Deleted (INACTIVE) or being deleted (DRAINING): UpdateService would fail after a revision
    /// was registered (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Service.html).
    NotActive { service: String, status: String },
    /// CODE_DEPLOY and EXTERNAL controllers refuse a new revision through UpdateService
    /// (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentController.html).
    Controller { service: String, controller: String },
    /// An Express Mode service takes a new image for its primary container, nothing else
    /// ecs-ship could change (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/express-service-overview.html).
    Express {
        service: String,
        what: Vec<&'static str>,
    },
}

/// What a deploy asks of an Express Mode service, beyond a new image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpressAsk {
    /// The deploy starts from the service's own revision (not --family, --task-definition, --file).
    pub from_service: bool,
    /// How many --image, and the container the first names.
    pub images: usize,
    pub container: Option<String>,
    /// --env, --secret, --cpu, --memory, roles, tags, dotenv files, log flags.
    pub overrides: bool,
    pub force_new_deployment: bool,
    pub desired_count: bool,
    pub rollback_on_failure: bool,
}

/// The flags an Express Mode service cannot take; none means the image alone changes.
pub fn check_express(service: &str, ask: &ExpressAsk) -> Result<(), Refusal> {
    let mut what = Vec::new();
    if !ask.from_service {
        what.push("a task definition of its own (--family, --task-definition, --file)");
    }
    if ask.images != 1 {
        what.push("anything but exactly one --image (its primary container's)");
    }
    if ask
        .container
        .as_deref()
        .is_some_and(|c| !c.eq_ignore_ascii_case("main"))
    {
        what.push("an image for a container other than its primary one (Main)");
    }
    if ask.overrides {
        what.push("task definition overrides (--env, --secret, --cpu, --memory, roles, tags, dotenv, log flags)");
    }
    if ask.force_new_deployment {
        what.push("--force-new-deployment");
    }
    if ask.desired_count {
        what.push("--desired-count (ECS scales an Express service itself)");
    }
    if ask.rollback_on_failure {
        what.push("--rollback-on-failure (ECS rolls an Express service back itself)");
    }
    if what.is_empty() {
        Ok(())
    } else {
        Err(Refusal::Express {
            service: service.to_owned(),
            what,
        })
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotActive { service, status } => write!(
                f,
                "service `{service}` is {status} (deleted or being deleted): nothing can be deployed to it; create the service again or name another"
            ),
            Refusal::Controller {
                service,
                controller,
            } => write!(
                f,
                "service `{service}` uses the {controller} deployment controller: ecs-ship deploys services with the ECS controller (UpdateService) or CODE_DEPLOY (CodeDeploy); an EXTERNAL one is deployed by its own tool"
            ),
            Refusal::Express { service, what } => write!(
                f,
                "service `{service}` is an ECS Express Mode service: ecs-ship gives it a new image for its primary container (one --image) and nothing else; it cannot take {}. Change the rest with UpdateExpressGatewayService",
                what.join("; ")
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// Whether ecs-ship can deploy a service with this status and deployment controller: ACTIVE (an
/// empty status is an emulator's ACTIVE) and the ECS controller (or none named) or CODE_DEPLOY
/// (through CodeDeploy).
pub fn check_deployable(service: &str, status: &str, controller: &str) -> Result<(), Refusal> {
    if !(status.is_empty() || status == "ACTIVE") {
        return Err(Refusal::NotActive {
            service: service.to_owned(),
            status: status.to_owned(),
        });
    }
    if !(controller.is_empty() || controller == "ECS" || controller == "CODE_DEPLOY") {
        return Err(Refusal::Controller {
            service: service.to_owned(),
            controller: controller.to_owned(),
        });
    }
    Ok(())
}

/// How a deploy (of one service or several) ended, as `--output json`, the GitHub output
/// `verdict` and the job summary name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployVerdict {
    Stable,
    /// `--wait-until traffic-shifted` reached.
    TrafficShifted,
    /// `--wait-until bake` reached.
    Baked,
    /// A lifecycle hook awaits action.
    Paused,
    Failed,
    TimedOut,
    Interrupted,
    /// A service still rolling out when another decided the outcome.
    InProgress,
    /// `--dry-run`: nothing was updated.
    DryRun,
    /// `--no-wait`: updated, not waited for.
    NotWaited,
    /// `release --no-deploy`: artifacts only.
    NotDeployed,
}

impl DeployVerdict {
    /// The documented strings (README "Verdicts"); only the output edge calls this.
    pub fn as_str(self) -> &'static str {
        match self {
            DeployVerdict::Stable => "stable",
            DeployVerdict::TrafficShifted => "traffic_shifted",
            DeployVerdict::Baked => "baked",
            DeployVerdict::Paused => "paused",
            DeployVerdict::Failed => "failed",
            DeployVerdict::TimedOut => "timed_out",
            DeployVerdict::Interrupted => "interrupted",
            DeployVerdict::InProgress => "in_progress",
            DeployVerdict::DryRun => "dry_run",
            DeployVerdict::NotWaited => "not_waited",
            DeployVerdict::NotDeployed => "not_deployed",
        }
    }

    /// Whether the job summary marks it as a success.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            DeployVerdict::Stable
                | DeployVerdict::TrafficShifted
                | DeployVerdict::Baked
                | DeployVerdict::DryRun
                | DeployVerdict::NotWaited
                | DeployVerdict::NotDeployed
        )
    }
}

impl From<ServiceVerdict> for DeployVerdict {
    fn from(v: ServiceVerdict) -> Self {
        match v {
            ServiceVerdict::Stable => DeployVerdict::Stable,
            ServiceVerdict::TrafficShifted => DeployVerdict::TrafficShifted,
            ServiceVerdict::Baked => DeployVerdict::Baked,
            ServiceVerdict::Paused => DeployVerdict::Paused,
            ServiceVerdict::Failed => DeployVerdict::Failed,
            ServiceVerdict::TimedOut => DeployVerdict::TimedOut,
            ServiceVerdict::Interrupted => DeployVerdict::Interrupted,
            ServiceVerdict::InProgress => DeployVerdict::InProgress,
        }
    }
}

impl std::fmt::Display for DeployVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DeployVerdict {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The verdict of a deploy from its services' verdicts (the worst: failed over timed out over
/// interrupted over paused over in progress over baked over traffic shifted over stable) and
/// whether `--verify-url` failed (failed).
pub fn deploy_verdict(services: &[ServiceVerdict], verify_failed: bool) -> DeployVerdict {
    if verify_failed {
        return DeployVerdict::Failed;
    }
    let rank = |v: &ServiceVerdict| match v {
        ServiceVerdict::Failed => 7,
        ServiceVerdict::TimedOut => 6,
        ServiceVerdict::Interrupted => 5,
        ServiceVerdict::Paused => 4,
        ServiceVerdict::InProgress => 3,
        ServiceVerdict::TrafficShifted => 2,
        ServiceVerdict::Baked => 1,
        ServiceVerdict::Stable => 0,
    };
    services
        .iter()
        .copied()
        .max_by_key(rank)
        .unwrap_or(ServiceVerdict::Stable)
        .into()
}

/// Which services `--rollback-on-failure` sends back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackScope {
    /// Exactly the services that failed or timed out.
    Failed,
    /// Every service of a target (region x account) where one failed; the other targets stay.
    Target,
    /// Every service of the deploy, in every target.
    All,
}

/// Whether a service with this verdict is rolled back under `scope`; a failed `--verify-url`
/// speaks for the deploy as a whole.
pub fn in_rollback_scope(
    scope: RollbackScope,
    verdict: ServiceVerdict,
    verify_failed: bool,
) -> bool {
    match scope {
        RollbackScope::All | RollbackScope::Target => true,
        RollbackScope::Failed => verify_failed || verdict.needs_diagnosis(),
    }
}

/// What to do after a failed rollout with `--rollback-on-failure`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackPlan {
    /// ECS (the circuit breaker) already put the service back on the previous revision.
    AlreadyRolledBack,
    /// The service ran the deployed revision before: there is nothing older to go back to.
    NothingToRollBackTo,
    /// Update the service back to this revision and wait for it.
    RollBackTo(String),
}

/// The rollback for a service that was deployed `deployed`, ran `previous` before, and now has
/// `current` as its task definition.
pub fn rollback_plan(deployed: &str, previous: &str, current: &str) -> RollbackPlan {
    if previous == deployed {
        RollbackPlan::NothingToRollBackTo
    } else if current == previous {
        RollbackPlan::AlreadyRolledBack
    } else {
        RollbackPlan::RollBackTo(previous.to_owned())
    }
}
