//! One-off tasks a pipeline can trust (`ecs-ship run`, `release --before-deploy`): run a task as a
//! service runs its tasks (network, launch type or capacity providers, platform version) or from a
//! task definition, optionally on a revision with new images, stream its container's log, and end
//! on a verdict - every essential container exited 0, or which one did not and why.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;
use tracing::{info, warn};

use super::Session;
use super::deploy::within;
use super::logtail::LogTail;
use super::pace::{End, Pace, Polled};
use super::taskdef::{self, Changes, RegisterOptions};
use crate::aws::Aws;
use crate::aws::tasks::{self, Network, Placement, RunRequest};
use crate::core::logs::awslogs_target;
use crate::core::task::{TaskSnapshot, TaskVerdict, verdict};
use crate::core::taskdef::{ImageSpec, TaskDef, container_names};
use crate::error::{Error, Result};
use crate::output::{Report, group_end, group_start};

/// Where the task comes from.
#[derive(Debug, Clone)]
pub enum RunFrom {
    /// The revision a service runs, with its network and placement.
    Service(String),
    /// A task definition: family, family:revision or ARN.
    TaskDefinition(String),
    /// Another revision, run as the service runs its tasks (`release --before-deploy`).
    ServiceRevision {
        service: String,
        task_definition: String,
    },
}

/// Placement flags; each one given replaces what the service would give.
#[derive(Debug, Clone, Default)]
pub struct PlacementFlags {
    pub launch_type: Option<String>,
    pub capacity_providers: Vec<(String, i32, i32)>,
    pub platform_version: Option<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
}

#[derive(Debug, Clone)]
pub struct RunPlan {
    pub cluster: String,
    pub from: RunFrom,
    /// New images: a revision with them is registered (or an identical one reused) and run.
    pub images: Vec<ImageSpec>,
    pub container: Option<String>,
    pub command: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub placement: PlacementFlags,
    pub timeout: Duration,
    pub keep_on_timeout: bool,
    pub poll_interval: Duration,
    pub register: RegisterOptions,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub cluster: String,
    pub task_definition: String,
    pub task_arn: String,
    pub container: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(flatten)]
    pub verdict: TaskVerdict,
    pub task: TaskSnapshot,
    pub log_group: Option<String>,
    pub log_stream: Option<String>,
    pub duration_seconds: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub last_log_lines: Vec<String>,
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "task      {}", self.task_arn)?;
        writeln!(f, "revision  {}", self.task_definition)?;
        if let Some(command) = &self.command {
            writeln!(f, "command   {}", shell_words::join(command))?;
        }
        writeln!(f, "verdict   {}", self.verdict.describe())?;
        for c in &self.task.containers {
            writeln!(
                f,
                "container {} {}{}",
                c.name,
                c.exit_code
                    .map(|e| format!("exited {e}"))
                    .unwrap_or_else(|| c.last_status.to_lowercase()),
                c.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            )?;
        }
        if let (Some(g), Some(s)) = (&self.log_group, &self.log_stream) {
            writeln!(f, "logs      {g} {s}")?;
        }
        writeln!(f, "duration  {}s", self.duration_seconds)?;
        if !self.last_log_lines.is_empty() {
            writeln!(f, "last log lines:")?;
            for line in &self.last_log_lines {
                writeln!(f, "  | {line}")?;
            }
        }
        Ok(())
    }
}

impl Report for RunReport {
    fn outputs(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("task-arn", self.task_arn.clone()),
            ("task-definition-arn", self.task_definition.clone()),
        ];
        let verdict = match &self.verdict {
            TaskVerdict::Succeeded => "succeeded",
            TaskVerdict::Failed { .. } => "failed",
            TaskVerdict::NeverStarted { .. } => "never-started",
            TaskVerdict::Running => "running",
        };
        out.push(("verdict", verdict.into()));
        if let TaskVerdict::Failed {
            exit_code: Some(code),
            ..
        } = &self.verdict
        {
            out.push(("exit-code", code.to_string()));
        }
        out
    }
}

fn essential(td: &TaskDef) -> Vec<String> {
    td.get("containerDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("essential").and_then(Value::as_bool).unwrap_or(true))
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

fn mark(mut task: TaskSnapshot, essential: &[String]) -> TaskSnapshot {
    for c in &mut task.containers {
        c.essential = essential.contains(&c.name);
    }
    task
}

/// Placement: the service's (or none), with each flag given replacing its part.
fn placement(base: Placement, flags: &PlacementFlags) -> Placement {
    let mut p = base;
    if flags.launch_type.is_some() {
        p.launch_type = flags.launch_type.clone();
        p.capacity_providers.clear();
    }
    if !flags.capacity_providers.is_empty() {
        p.capacity_providers = flags.capacity_providers.clone();
        p.launch_type = None;
    }
    if flags.platform_version.is_some() {
        p.platform_version = flags.platform_version.clone();
    }
    if !flags.subnets.is_empty() {
        p.network = Some(Network {
            subnets: flags.subnets.clone(),
            security_groups: flags.security_groups.clone(),
            assign_public_ip: flags.assign_public_ip,
        });
    }
    p
}

/// A task started, with what following it needs.
struct Started {
    task: TaskSnapshot,
    document: TaskDef,
    task_definition: String,
    container: Option<String>,
    essential: Vec<String>,
}

/// Resolves the revision and placement (registering one with new images), checks the network and
/// the container, and calls RunTask.
async fn start_task(session: &Session, aws: &Aws, plan: &RunPlan) -> Result<Started> {
    let (ident, base) = match &plan.from {
        RunFrom::Service(service) => {
            let (td, placement) = tasks::service_placement(aws, &plan.cluster, service).await?;
            info!("service `{service}` runs {td}");
            (td, placement)
        }
        RunFrom::TaskDefinition(td) => (td.clone(), Placement::default()),
        RunFrom::ServiceRevision {
            service,
            task_definition,
        } => {
            let (_, placement) = tasks::service_placement(aws, &plan.cluster, service).await?;
            (task_definition.clone(), placement)
        }
    };
    let placement = placement(base, &plan.placement);
    let loaded = taskdef::read_live(aws, &ident).await?;
    let mut document = loaded.document.clone();
    let mut task_definition = loaded.arn.clone().unwrap_or(ident);
    if !plan.images.is_empty() {
        let changes = Changes {
            images: plan.images.clone(),
            log_stream_prefix: "ecs".into(),
            ..Default::default()
        };
        let prepared = taskdef::prepare_loaded(session, loaded, &changes).await?;
        document = prepared.document.clone();
        let registered = taskdef::register(aws, prepared, &plan.register).await?;
        task_definition = registered
            .arn
            .ok_or_else(|| Error::remote("RegisterTaskDefinition answered without an ARN"))?;
        info!(
            "{} {task_definition} for the task",
            if registered.reused {
                "reusing"
            } else {
                "registered"
            }
        );
    }
    if document.get("networkMode").and_then(Value::as_str) == Some("awsvpc")
        && placement.network.is_none()
    {
        return Err(Error::input(match &plan.from {
            RunFrom::TaskDefinition(_) => format!(
                "{task_definition} uses awsvpc networking: give --subnets (and --security-groups), or --service to run it as that service runs its tasks"
            ),
            RunFrom::Service(service) | RunFrom::ServiceRevision { service, .. } => format!(
                "{task_definition} uses awsvpc networking, and service `{service}` has no awsvpc network configuration to run it with: give --subnets (and --security-groups)"
            ),
        }));
    }
    let names = container_names(&document);
    let container = match &plan.container {
        Some(c) if names.contains(c) => Some(c.clone()),
        Some(c) => {
            return Err(Error::input(format!(
                "--container `{c}`: {task_definition} has no such container (it has: {})",
                names.join(", ")
            )));
        }
        None if names.len() == 1 => Some(names[0].clone()),
        None if plan.command.is_some() || !plan.env.is_empty() => {
            return Err(Error::input(format!(
                "--command and --env need --container: {task_definition} has several containers ({})",
                names.join(", ")
            )));
        }
        None => None,
    };
    let essential = essential(&document);
    let task = tasks::run_task(
        aws,
        &RunRequest {
            cluster: plan.cluster.clone(),
            task_definition: task_definition.clone(),
            placement,
            container: container.clone(),
            command: plan.command.clone(),
            env: plan.env.clone(),
            started_by: "ecs-ship".into(),
        },
    )
    .await?;
    Ok(Started {
        task,
        document,
        task_definition,
        container,
        essential,
    })
}

/// Polls the task until it stops (or the pace ends it: deadline, signal, a failed poll),
/// streaming its container's log lines as progress.
async fn follow(
    session: &Session,
    aws: &Aws,
    plan: &RunPlan,
    mut task: TaskSnapshot,
    essential: &[String],
    tail: &mut LogTail,
    deadline: Instant,
) -> (TaskSnapshot, std::result::Result<(), End>) {
    let arn = task.arn.clone();
    let mut pace = Pace::new(
        "the task",
        deadline.saturating_duration_since(Instant::now()),
        plan.poll_interval,
    );
    // The task's log is progress: -q keeps it for the failure report only.
    let quiet = session.quiet;
    let emit = |line: &str| {
        if !quiet {
            eprintln!("{}", crate::output::safe(&crate::redact::apply(line)));
        }
    };
    group_start(&format!("task {}", task.id()));
    let end = loop {
        let mut changed = false;
        match pace
            .poll(tasks::describe_task(aws, &plan.cluster, &arn))
            .await
        {
            Polled::End(end) => break Err(end),
            Polled::Retry => {}
            Polled::Value(now) => {
                if now.last_status != task.last_status {
                    info!("task {}: {}", now.id(), now.last_status);
                    changed = true;
                }
                task = mark(now, essential);
                let before = tail.seen();
                tail.drain(aws, emit).await;
                changed |= tail.seen() != before;
                if verdict(&task) != TaskVerdict::Running {
                    // The container's last lines may reach CloudWatch a moment after it stops.
                    if tail.is_set() {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        tail.drain(aws, emit).await;
                    }
                    break Ok(());
                }
            }
        }
        if let Err(end) = pace.pause(changed).await {
            break Err(end);
        }
    };
    group_end();
    (task, end)
}

/// The error the task's end gives the command: its verdict, or a timeout (the task stopped unless
/// --keep-on-timeout), or the signal (the task stopped).
async fn failure_of(
    aws: &Aws,
    plan: &RunPlan,
    task: &TaskSnapshot,
    v: &TaskVerdict,
    end: &std::result::Result<(), End>,
) -> Option<Error> {
    match end {
        Ok(()) => match v {
            TaskVerdict::Succeeded | TaskVerdict::Running => None,
            other => Some(Error::RolloutFailed(format!(
                "task {} failed: {}",
                task.id(),
                other.describe()
            ))),
        },
        Err(End::OutOfTime { last_error }) => {
            let what = if plan.keep_on_timeout {
                "it is left running (--keep-on-timeout)"
            } else if stop(aws, &plan.cluster, &task.arn, "ecs-ship run: timed out").await {
                "it was stopped"
            } else {
                "stopping it failed: stop it with `aws ecs stop-task`"
            };
            Some(Error::TimedOut(format!(
                "task {} did not stop within {}{}; {what}",
                task.id(),
                humantime::format_duration(plan.timeout),
                last_error
                    .as_ref()
                    .map(|e| format!(" (the last polls failed: {e})"))
                    .unwrap_or_default()
            )))
        }
        Err(End::Cancelled(signal)) => {
            if stop(aws, &plan.cluster, &task.arn, "ecs-ship run: cancelled").await {
                warn!("stopped task {}", task.id());
            }
            Some(signal.error())
        }
        Err(End::Failed(_)) => None,
    }
}

/// StopTask, within 15 s; whether it worked (a failure is a warning).
async fn stop(aws: &Aws, cluster: &str, arn: &str, why: &'static str) -> bool {
    match tokio::time::timeout(
        Duration::from_secs(15),
        tasks::stop_task(aws, cluster, arn, why),
    )
    .await
    {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            warn!("could not stop task {arn}: {}", e.chain());
            false
        }
        Err(_) => {
            warn!("could not stop task {arn}: StopTask did not answer in 15s");
            false
        }
    }
}

/// Runs the task and follows it to its end. `Ok` carries the report and, when the task did not
/// pass, the error that sets the exit code.
pub async fn run(session: &Session, plan: &RunPlan) -> Result<(RunReport, Option<Error>)> {
    let aws = session.aws().await?;
    let start = Instant::now();
    let deadline = start + plan.timeout;
    let Started {
        task: started,
        document,
        task_definition,
        container,
        essential,
    } = within(
        deadline,
        aws,
        "starting the task",
        start_task(session, aws, plan),
    )
    .await?;
    let arn = started.arn.clone();
    info!(
        "started task {} of {task_definition}; waiting up to {} for it to stop",
        started.id(),
        humantime::format_duration(plan.timeout)
    );
    // The log of the container that runs the command (or the first essential one).
    let logged = container
        .clone()
        .or_else(|| essential.first().cloned())
        .unwrap_or_default();
    let target = awslogs_target(&document, &logged);
    let mut tail = match &target {
        Some(t) => LogTail::new(Some(&t.region), &t.group, &t.stream(&logged, started.id())),
        None => {
            warn!(
                "container `{logged}` does not log through awslogs with a stream prefix: its log cannot be shown"
            );
            LogTail::default()
        }
    };
    let (task, end) = follow(
        session,
        aws,
        plan,
        mark(started, &essential),
        &essential,
        &mut tail,
        deadline,
    )
    .await;
    let v = verdict(&task);
    let failure = failure_of(aws, plan, &task, &v, &end).await;
    if let Err(End::Failed(e)) = end {
        return Err(e);
    }
    let last_log_lines = if failure.is_some() {
        tail.last_lines()
    } else {
        Vec::new()
    };
    Ok((
        RunReport {
            cluster: plan.cluster.clone(),
            task_definition,
            task_arn: arn,
            container,
            command: plan.command.clone(),
            verdict: v,
            log_group: target.as_ref().map(|t| t.group.clone()),
            log_stream: target.as_ref().map(|t| t.stream(&logged, task.id())),
            task,
            duration_seconds: start.elapsed().as_secs(),
            last_log_lines,
        },
        failure,
    ))
}
