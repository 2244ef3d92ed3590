//! Rollouts: update a service to an exact revision, wait for a verdict that catches rollbacks,
//! check the service answers (`--verify-url`), explain a failure (stopped tasks, exit codes, the
//! last log lines) and roll back on request. Shared by `deploy`, `wait` and `release`.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use tracing::{info, warn};

use super::Session;
use super::taskdef::{self, Changes, Loaded, RegisterOptions, RegisterResult, Source};
use super::verify::{self, VerifyReport, VerifySettings};
use crate::aws::ecs::ServiceInfo;
use crate::aws::{self, Aws};
use crate::core::logs;
use crate::core::rollout::{
    self, Deployment, Expectation, RollbackPlan, ServiceEvent, ServiceVerdict, StoppedTask,
    WaitEnd, short_arn,
};
use crate::core::status::TargetGroupHealth;
use crate::error::{Error, Result};
use crate::wait::{Interval, Outcome, Waiter};

/// How to wait.
#[derive(Debug, Clone, Copy)]
pub struct WaitSettings {
    pub timeout: Duration,
    /// A fixed interval; `None` is the default growing one.
    pub poll_interval: Option<Duration>,
    pub max_task_failures: Option<i32>,
}

/// What waiting found, per service.
#[derive(Debug, Clone, Serialize)]
pub struct WaitReport {
    pub services: Vec<ServiceReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    pub service: String,
    pub verdict: ServiceVerdict,
    pub reason: Option<String>,
    pub task_definition: String,
    pub rollout_state_reason: Option<String>,
    pub deployments: Vec<Deployment>,
    pub events: Vec<ServiceEvent>,
    pub stopped_tasks: Vec<StoppedTask>,
    /// The load balancer's view of the service's targets (failed or timed-out rollouts only): a
    /// health check that never passes is the commonest reason a rollout never settles.
    pub target_groups: Vec<TargetGroupHealth>,
}

impl fmt::Display for WaitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.services {
            let td = short_arn(&s.task_definition);
            if s.verdict == ServiceVerdict::Stable {
                writeln!(f, "{}: stable on {td}", s.service)?;
                continue;
            }
            writeln!(
                f,
                "{}: {}: {}",
                s.service,
                s.verdict,
                s.reason.as_deref().unwrap_or("")
            )?;
            if let Some(r) = &s.rollout_state_reason {
                writeln!(f, "  rollout: {r}")?;
            }
            for d in &s.deployments {
                writeln!(f, "  deployment: {}", rollout::deployment_line(d))?;
            }
            if !s.events.is_empty() {
                writeln!(f, "  last service events:")?;
                for e in s.events.iter().rev() {
                    writeln!(f, "    {} {}", e.created_at, e.message)?;
                }
            }
            if s.stopped_tasks.is_empty() {
                writeln!(f, "  no stopped tasks of {td} found")?;
            }
            for t in &s.stopped_tasks {
                write_stopped_task(f, t, td)?;
            }
            for group in &s.target_groups {
                writeln!(f, "  {}", group.summary())?;
            }
        }
        Ok(())
    }
}

fn write_stopped_task(f: &mut fmt::Formatter<'_>, t: &StoppedTask, td: &str) -> fmt::Result {
    let code = t
        .stop_code
        .as_deref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    writeln!(
        f,
        "  stopped task {} of {td}: {}{code}",
        t.task_id, t.stopped_reason
    )?;
    for c in &t.containers {
        let exit = c
            .exit_code
            .map_or("no exit code".to_owned(), |e| format!("exit code {e}"));
        let reason = c
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        writeln!(f, "    container {}: {exit}{reason}", c.name)?;
        if let (Some(group), Some(stream)) = (&c.log_group, &c.log_stream) {
            writeln!(
                f,
                "    ---- last {} log lines of {group} {stream} ----",
                c.last_log_lines.len()
            )?;
            for line in &c.last_log_lines {
                writeln!(f, "    | {line}")?;
            }
            writeln!(f, "    ---- end of log ----")?;
        }
    }
    Ok(())
}

/// How waiting ended: the report, and the error (with its exit code) unless every service is stable.
pub struct Waited {
    pub report: WaitReport,
    pub failure: Option<Error>,
}

/// The services' current revisions, as the expectation of a plain `wait`.
async fn current_expectations(
    aws: &Aws,
    cluster: &str,
    services: &[String],
    task_definition: Option<&str>,
    settings: &WaitSettings,
) -> Result<Vec<(String, Expectation)>> {
    let mut expectations = Vec::new();
    for service in services {
        let task_definition = match task_definition {
            Some(td) => td.to_owned(),
            None => {
                aws::ecs::describe_service(aws, cluster, service)
                    .await?
                    .task_definition
            }
        };
        let want = Expectation {
            task_definition,
            previous: None,
            max_task_failures: settings.max_task_failures,
        };
        expectations.push((service.clone(), want));
    }
    Ok(expectations)
}

/// `wait` on the services' current revisions (or `task_definition`): looking them up counts against
/// the same deadline as the wait itself.
pub async fn wait_current(
    aws: &Aws,
    cluster: &str,
    services: &[String],
    task_definition: Option<&str>,
    settings: &WaitSettings,
) -> Result<Waited> {
    let deadline = tokio::time::Instant::now() + settings.timeout;
    let expectations = within(
        deadline,
        aws,
        "reading the services' revisions",
        current_expectations(aws, cluster, services, task_definition, settings),
    )
    .await?;
    let settings = WaitSettings {
        timeout: deadline.saturating_duration_since(tokio::time::Instant::now()),
        ..*settings
    };
    wait_services(aws, cluster, &expectations, &settings).await
}

/// Waits for each (service, expectation) and reports; prints only progress. `Err` is a failure to
/// wait at all (an API call that failed), not a failed rollout.
pub async fn wait_services(
    aws: &Aws,
    cluster: &str,
    expectations: &[(String, Expectation)],
    settings: &WaitSettings,
) -> Result<Waited> {
    let names: Vec<String> = expectations.iter().map(|(n, _)| n.clone()).collect();
    let waiter = Waiter {
        expectations,
        timeout: settings.timeout,
        interval: settings
            .poll_interval
            .map_or_else(Interval::default, Interval::Fixed),
        ..Waiter::default()
    };
    let several = names.len() > 1;
    info!(
        "waiting up to {} for {} to be stable",
        humantime::format_duration(whole_seconds(settings.timeout)),
        names.join(", ")
    );
    let received = std::sync::OnceLock::new();
    crate::output::group_start(&format!("waiting for {}", names.join(", ")));
    let outcome = waiter
        .run(
            || aws::ecs::poll_services(aws, cluster, &names),
            |service, line| {
                if several {
                    info!("{service}: {line}")
                } else {
                    info!("{line}")
                }
            },
            async {
                let _ = received.set(crate::signal::cancelled().await);
            },
        )
        .await;
    crate::output::group_end();
    let outcome = outcome?;
    let (end, error, services, failing) = match outcome {
        Outcome::Stable { services } => (WaitEnd::Stable, None, services, Vec::new()),
        Outcome::Failed {
            service,
            reason,
            services,
        } => (
            WaitEnd::Failed,
            Some(Error::RolloutFailed(format!("{service}: {reason}"))),
            services,
            vec![(service, reason)],
        ),
        Outcome::TimedOut {
            waiting_for,
            services,
            last_error,
        } => {
            let what = waiting_for
                .iter()
                .map(|(s, why)| format!("{s} ({why})"))
                .collect::<Vec<_>>()
                .join(", ");
            let what = match (what.is_empty(), &last_error) {
                (true, Some(e)) => format!("{}: {e}", names.join(", ")),
                (false, Some(e)) => format!("{what}; then {e}"),
                (_, None) => what,
            };
            let message = format!(
                "timed out after {} waiting for {what}",
                humantime::format_duration(whole_seconds(settings.timeout))
            );
            (
                WaitEnd::TimedOut,
                Some(Error::TimedOut(message)),
                services,
                waiting_for,
            )
        }
        Outcome::Interrupted { services } => (
            WaitEnd::Interrupted,
            Some(
                received
                    .get()
                    .copied()
                    .unwrap_or(crate::signal::Signal::Interrupt)
                    .error(),
            ),
            services,
            Vec::new(),
        ),
    };
    let retried = waiter.retried.load(std::sync::atomic::Ordering::Relaxed);
    if retried > 0 {
        warn!("{retried} polls failed or were throttled and were tried again");
    }
    let mut reports = Vec::new();
    for (name, want) in expectations {
        let snapshot = services.iter().find(|s| s.name == *name);
        let failing_reason = failing
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.as_str());
        let (mut verdict, reason) = rollout::service_verdict(end, failing_reason);
        // Another service decided the outcome: this one may well be stable already.
        if verdict == ServiceVerdict::InProgress
            && snapshot.is_some_and(|s| rollout::verdict(s, want) == rollout::Verdict::Stable)
        {
            verdict = ServiceVerdict::Stable;
        }
        let mut report = ServiceReport {
            service: name.clone(),
            verdict,
            reason,
            task_definition: want.task_definition.clone(),
            rollout_state_reason: snapshot
                .and_then(|s| {
                    s.deployments
                        .iter()
                        .find(|d| d.task_definition == want.task_definition)
                })
                .and_then(|d| d.rollout_state_reason.clone()),
            deployments: snapshot.map(|s| s.deployments.clone()).unwrap_or_default(),
            events: snapshot
                .map(|s| s.events.iter().take(5).cloned().collect())
                .unwrap_or_default(),
            stopped_tasks: Vec::new(),
            target_groups: Vec::new(),
        };
        if verdict.needs_diagnosis() {
            report.stopped_tasks = diagnose(aws, cluster, name, &want.task_definition).await;
            report.target_groups = target_health(aws, cluster, name).await;
        }
        reports.push(report);
    }
    Ok(Waited {
        report: WaitReport { services: reports },
        failure: error,
    })
}

/// The stopped tasks of our revision with their containers' last log lines. Diagnosis is best
/// effort: a failure to read it is reported as a warning, never instead of the verdict.
async fn diagnose(
    aws: &Aws,
    cluster: &str,
    service: &str,
    task_definition: &str,
) -> Vec<StoppedTask> {
    let mut tasks = match aws::ecs::stopped_tasks(aws, cluster, service, task_definition, 3).await {
        Ok(tasks) => tasks,
        Err(e) => {
            warn!("could not list the stopped tasks: {}", e.chain());
            return Vec::new();
        }
    };
    let document = match aws::ecs::describe_task_definition(aws, task_definition).await {
        Ok(d) => d.document,
        Err(e) => {
            warn!(
                "could not read {task_definition} for its log settings: {}",
                e.chain()
            );
            return tasks;
        }
    };
    for task in &mut tasks {
        for c in &mut task.containers {
            let Some(target) = logs::awslogs_target(&document, &c.name) else {
                continue;
            };
            let stream = target.stream(&c.name, &task.task_id);
            match aws::logs::tail(aws, &target.region, &target.group, &stream, 20).await {
                Ok(lines) => c.last_log_lines = lines,
                Err(e) => warn!("no log lines for container `{}`: {}", c.name, e.chain()),
            }
            c.log_group = Some(target.group);
            c.log_stream = Some(stream);
        }
    }
    tasks
}

/// The health of the service's load balancer targets; best effort, as `diagnose`.
async fn target_health(aws: &Aws, cluster: &str, service: &str) -> Vec<TargetGroupHealth> {
    let arns = match aws::ecs::describe_service(aws, cluster, service).await {
        Ok(info) => info.target_groups,
        Err(e) => {
            warn!(
                "could not read the load balancers of `{service}`: {}",
                e.chain()
            );
            return Vec::new();
        }
    };
    let (groups, warnings) = super::status::target_groups(aws, &arns).await;
    for w in warnings {
        warn!("{w}");
    }
    groups
}

/// What to deploy and how.
#[derive(Debug, Clone)]
pub struct DeployPlan {
    pub cluster: String,
    pub service: String,
    pub source: Source,
    pub changes: Changes,
    pub register: RegisterOptions,
    /// Force a new deployment, desired count, tag propagation.
    pub update: aws::ecs::UpdateOptions,
    /// Stop after UpdateService.
    pub no_wait: bool,
    pub rollback_on_failure: bool,
    /// On SIGINT/SIGTERM, send the service back to its previous revision.
    pub rollback_on_cancel: bool,
    pub wait: WaitSettings,
    /// URLs that must answer 2xx once the service is stable.
    pub verify: VerifySettings,
    /// What follows a stable rollout.
    pub after: AfterDeploy,
}

/// What follows a stable (and verified) rollout.
#[derive(Debug, Clone, Default)]
pub struct AfterDeploy {
    /// Move the EventBridge schedules on the cluster that run the family to the new revision.
    pub update_schedules: bool,
    /// Only these rules (implies update_schedules).
    pub schedules: Vec<String>,
    /// Prune the family to its newest N revisions.
    pub prune_keep: Option<usize>,
}

/// What a deploy did: the revision, and how waiting for it (and any rollback) ended.
#[derive(Debug, Clone, Serialize)]
pub struct DeployResult {
    pub task_definition: RegisterResult,
    /// The revision the service ran before.
    pub previous: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<WaitReport>,
    /// EventBridge schedules moved to the new revision (--update-schedules).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<super::prune::MovedSchedule>,
    /// What --prune-keep did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pruned: Option<super::prune::PruneReport>,
}

impl DeployResult {
    /// The revision deployed (or that would be, on a dry run).
    pub fn arn(&self) -> Option<&str> {
        self.task_definition.arn.as_deref()
    }
}

impl fmt::Display for DeployResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.wait {
            None => write!(f, "{}", self.task_definition)?,
            Some(report) => write!(f, "{report}")?,
        }
        if let Some(verify) = &self.verify {
            write!(f, "{verify}")?;
        }
        if let Some(rollback) = &self.rollback {
            write!(f, "after the rollback:\n{rollback}")?;
        }
        Ok(())
    }
}

/// How a deploy ended: what it did, and why it failed if it did. `Err` from `deploy` itself is a
/// failure before anything was registered or updated.
pub struct Deployed {
    pub result: DeployResult,
    pub failure: Option<Error>,
}

/// The service a deploy targets, checked to be deployable (an ECS deployment controller).
pub async fn target(session: &Session, cluster: &str, service: &str) -> Result<ServiceInfo> {
    let info = aws::ecs::describe_service(session.aws().await?, cluster, service).await?;
    rollout::check_controller(service, &info.deployment_controller).map_err(Error::input)?;
    Ok(info)
}

/// A revision registered (or reused) for a service, before the service is updated.
pub struct Registered {
    /// The revision the service ran before.
    pub previous: String,
    pub task_definition: RegisterResult,
}

/// The task definition a deploy starts from. For the service's own revision, the one `target`
/// already read (no second DescribeServices).
pub async fn load_for(
    session: &Session,
    plan: &DeployPlan,
    service: &ServiceInfo,
) -> Result<Loaded> {
    match &plan.source {
        Source::Service { service: name, .. } => {
            info!("service `{name}` runs {}", service.task_definition);
            taskdef::read_live(session.aws().await?, &service.task_definition).await
        }
        other => taskdef::load(session, other).await,
    }
}

/// Applies the plan's changes to `loaded` and registers (or reuses) the revision for `service`.
pub async fn register_for(
    session: &Session,
    plan: &DeployPlan,
    service: &ServiceInfo,
    loaded: Loaded,
) -> Result<Registered> {
    let prepared = taskdef::prepare_loaded(session, loaded, &plan.changes).await?;
    let options = RegisterOptions {
        show_values: session.show_values,
        ..plan.register
    };
    let registered = taskdef::register(session.aws().await?, prepared, &options).await?;
    Ok(Registered {
        previous: service.task_definition.clone(),
        task_definition: registered,
    })
}

/// Registers (or reuses) the revision, updates the service to it, waits, verifies, and rolls back
/// on request.
///
/// `--timeout` bounds the whole deploy, calls in flight included.
pub async fn deploy(session: &Session, plan: &DeployPlan) -> Result<Deployed> {
    let deadline = tokio::time::Instant::now() + plan.wait.timeout;
    let aws = session.aws().await?;
    let registered = within(deadline, aws, "registering the task definition", async {
        let service = target(session, &plan.cluster, &plan.service).await?;
        let loaded = load_for(session, plan, &service).await?;
        register_for(session, plan, &service, loaded).await
    })
    .await?;
    let mut rest = plan.clone();
    rest.wait.timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
    roll_out(session, &rest, registered).await
}

/// What followed a stable rollout.
#[derive(Debug, Default)]
pub struct AfterDone {
    pub schedules: Vec<super::prune::MovedSchedule>,
    pub pruned: Option<super::prune::PruneReport>,
}

/// Once the rollout is stable: schedules moved to the new revision, then the family pruned. An
/// error says the service itself is stable; what was done before it is in `done`.
pub async fn after_deploy(
    session: &Session,
    plan: &DeployPlan,
    arn: &str,
    done: &mut AfterDone,
) -> Result<()> {
    let aws = session.aws().await?;
    let fine = |e: Error| match e {
        Error::Remote { message, source } => Error::Remote {
            message: format!(
                "service `{}` is stable on {arn}, but {message}",
                plan.service
            ),
            source,
        },
        Error::Input { message, source } => Error::Input {
            message: format!(
                "service `{}` is stable on {arn}, but {message}",
                plan.service
            ),
            source,
        },
        other => other,
    };
    if plan.after.update_schedules || !plan.after.schedules.is_empty() {
        done.schedules =
            super::prune::update_schedules(aws, &plan.cluster, arn, &plan.after.schedules)
                .await
                .map_err(fine)?;
    }
    if let Some(keep) = plan.after.prune_keep {
        let options = super::prune::PruneOptions {
            family: crate::core::prune::family_of(arn).to_owned(),
            keep,
            older_than: None,
            delete: false,
            dry_run: false,
            clusters: Vec::new(),
        };
        let (report, failure) = super::prune::prune(session, &options).await.map_err(fine)?;
        info!(
            "pruned family `{}`: {} deregistered, {} kept in use",
            report.family,
            report.plan.deregister.len(),
            report.plan.in_use.len()
        );
        done.pruned = Some(report);
        if let Some(e) = failure {
            return Err(fine(e));
        }
    }
    Ok(())
}

/// Updates the service to the registered revision, waits, verifies, and rolls back on request.
/// Nothing is updated on a dry run.
pub async fn roll_out(
    session: &Session,
    plan: &DeployPlan,
    registered: Registered,
) -> Result<Deployed> {
    let aws = session.aws().await?;
    let previous = registered.previous;
    let mut result = DeployResult {
        task_definition: registered.task_definition,
        previous: previous.clone(),
        wait: None,
        verify: None,
        rollback: None,
        schedules: Vec::new(),
        pruned: None,
    };
    if plan.register.dry_run {
        info!(
            "dry run: would update service `{}` from {previous}",
            plan.service
        );
        return Ok(Deployed {
            result,
            failure: None,
        });
    }
    let arn = result.arn().unwrap_or_default().to_owned();
    let deadline = tokio::time::Instant::now() + plan.wait.timeout;
    let update = aws::ecs::update_service(aws, &plan.cluster, &plan.service, &arn, &plan.update);
    within(
        deadline,
        aws,
        &format!("updating service `{}`", plan.service),
        update,
    )
    .await
    .map_err(|e| match e {
        Error::Remote { message, source } => Error::Remote {
            message: format!(
                "{message} (registered {arn}: re-run, or update the service to it by hand)"
            ),
            source,
        },
        other => other,
    })?;
    info!(
        "updated service `{}` to {arn} (was {previous})",
        plan.service
    );
    if plan.no_wait {
        return Ok(Deployed {
            result,
            failure: None,
        });
    }
    let want = Expectation {
        task_definition: arn.clone(),
        previous: Some(previous.clone()),
        max_task_failures: plan.wait.max_task_failures,
    };
    let settings = WaitSettings {
        timeout: deadline.saturating_duration_since(tokio::time::Instant::now()),
        ..plan.wait
    };
    let waited = wait_services(
        aws,
        &plan.cluster,
        &[(plan.service.clone(), want)],
        &settings,
    )
    .await?;
    result.wait = Some(waited.report);
    let mut failure = waited.failure;
    if failure.is_none() && !plan.verify.urls.is_empty() {
        let report = verify::verify(&plan.verify).await;
        failure = report.failure();
        result.verify = Some(report);
    }
    let Some(failure) = failure else {
        let mut done = AfterDone::default();
        let failure = after_deploy(session, plan, &arn, &mut done).await.err();
        result.schedules = done.schedules;
        result.pruned = done.pruned;
        return Ok(Deployed { result, failure });
    };
    match &failure {
        Error::RolloutFailed(_) | Error::TimedOut(_) if plan.rollback_on_failure => {}
        Error::Interrupted | Error::Terminated => {
            let undone = cancelled(aws, plan, &arn, &previous, &failure).await;
            warn!("{undone}");
            return Ok(Deployed {
                result,
                failure: Some(failure),
            });
        }
        _ => {
            return Ok(Deployed {
                result,
                failure: Some(failure),
            });
        }
    }
    let reason = failure.to_string();
    let now = aws::ecs::describe_service(aws, &plan.cluster, &plan.service).await?;
    let to = match rollout::rollback_plan(&arn, &previous, &now.task_definition) {
        RollbackPlan::AlreadyRolledBack => {
            return Ok(Deployed {
                result,
                failure: Some(same_kind(
                    &failure,
                    format!("{reason}; ECS already rolled the service back to {previous}"),
                )),
            });
        }
        RollbackPlan::NothingToRollBackTo => {
            return Ok(Deployed {
                result,
                failure: Some(same_kind(
                    &failure,
                    format!(
                        "{reason}; not rolled back: the service already ran {previous} before this deploy"
                    ),
                )),
            });
        }
        RollbackPlan::RollBackTo(to) => to,
    };
    warn!("rolling back service `{}` to {to}", plan.service);
    aws::ecs::update_service(aws, &plan.cluster, &plan.service, &to, &Default::default()).await?;
    let back = Expectation {
        task_definition: to.clone(),
        previous: None,
        max_task_failures: None,
    };
    let rolled = wait_services(
        aws,
        &plan.cluster,
        &[(plan.service.clone(), back)],
        &plan.wait,
    )
    .await?;
    let outcome = match &rolled.failure {
        None => format!("rolled back to {to}, which is stable"),
        Some(e) => format!("the rollback to {to} did not settle either: {e}"),
    };
    result.rollback = Some(rolled.report);
    Ok(Deployed {
        result,
        failure: Some(same_kind(&failure, format!("{reason}; {outcome}"))),
    })
}

/// `d` rounded to whole seconds, for messages.
fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs_f64().round() as u64)
}

/// A failure of the same kind (and exit code) as `failure`, saying more.
fn same_kind(failure: &Error, message: String) -> Error {
    match failure {
        Error::TimedOut(_) => Error::TimedOut(message),
        _ => Error::RolloutFailed(message),
    }
}

/// What a cancelled deploy leaves, said plainly; with --rollback-on-cancel the service is sent back
/// to its previous revision first (one quick call: a cancelled job is killed soon after).
async fn cancelled(
    aws: &Aws,
    plan: &DeployPlan,
    arn: &str,
    previous: &str,
    signal: &Error,
) -> String {
    let done = format!(
        "{signal}: service `{}` was updated to {arn} (was {previous})",
        plan.service
    );
    if !plan.rollback_on_cancel || arn == previous {
        return format!(
            "{done}; its deployment goes on as it is (`ecs-ship wait` follows it; --rollback-on-cancel rolls back instead)"
        );
    }
    let plain = aws::ecs::UpdateOptions::default();
    let back = aws::ecs::update_service(aws, &plan.cluster, &plan.service, previous, &plain);
    match tokio::time::timeout(std::time::Duration::from_secs(10), back).await {
        Ok(Ok(())) => {
            format!("{done}; rolled back to {previous} (--rollback-on-cancel; not waited for)")
        }
        Ok(Err(e)) => format!("{done}; the rollback to {previous} failed: {}", e.chain()),
        Err(_) => format!("{done}; the rollback to {previous} got no answer within 10s"),
    }
}

/// `future`, unless `deadline` passes first: then a timeout naming what was being done.
pub(crate) async fn within<T>(
    deadline: tokio::time::Instant,
    aws: &Aws,
    what: &str,
    future: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout_at(deadline, future).await {
        Ok(r) => r,
        Err(_) => Err(Error::TimedOut(format!(
            "no answer from AWS ({}) within --timeout while {what}",
            aws.endpoint.as_deref().unwrap_or("the default endpoints")
        ))),
    }
}

impl DeployResult {
    /// stable, failed, timed_out, interrupted; not_waited (--no-wait) or dry_run.
    pub fn verdict(&self) -> String {
        match (&self.wait, self.task_definition.dry_run) {
            (_, true) => "dry_run".to_owned(),
            (None, false) => "not_waited".to_owned(),
            (Some(w), false) => {
                let verdict = w
                    .services
                    .first()
                    .map_or(ServiceVerdict::InProgress, |s| s.verdict);
                match (&self.verify, verdict) {
                    (Some(v), ServiceVerdict::Stable) if v.failure().is_some() => {
                        ServiceVerdict::Failed.as_str().to_owned()
                    }
                    (_, v) => v.as_str().to_owned(),
                }
            }
        }
    }
}

impl crate::output::Report for DeployResult {
    fn outputs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(arn) = self.arn() {
            out.push(("task-definition-arn", arn.to_owned()));
        }
        out.push(("previous-task-definition-arn", self.previous.clone()));
        out.push(("verdict", self.verdict()));
        out
    }

    fn summary(&self) -> Option<String> {
        Some(summary_markdown(
            "deploy",
            None,
            self.arn(),
            Some(&self.previous),
            &self.verdict(),
            self.task_definition.reused,
            None,
            Some(self),
        ))
    }
}

impl crate::output::Report for WaitReport {
    fn outputs(&self) -> Vec<(&'static str, String)> {
        self.services
            .first()
            .map(|s| vec![("verdict", s.verdict.as_str().to_owned())])
            .unwrap_or_default()
    }
}

/// The Markdown job summary of a deploy or a release: image, revision old -> new, verdict,
/// duration, and on failure the reason, stopped tasks and log lines.
#[expect(
    clippy::too_many_arguments,
    reason = "each is one line of the report; a struct would only rename them"
)]
pub fn summary_markdown(
    what: &str,
    image: Option<&str>,
    revision: Option<&str>,
    previous: Option<&str>,
    verdict: &str,
    reused: bool,
    seconds: Option<f64>,
    deploy: Option<&DeployResult>,
) -> String {
    let mark = if verdict == "stable" || verdict == "not_deployed" {
        "✅"
    } else {
        "❌"
    };
    let mut md = format!("### {mark} ecs-ship {what}: {verdict}\n\n| | |\n|---|---|\n");
    if let Some(image) = image {
        md.push_str(&format!("| image | `{image}` |\n"));
    }
    if let Some(rev) = revision {
        let how = if reused { " (reused)" } else { "" };
        let from = previous
            .map(|p| format!("`{}` → ", short_arn(p)))
            .unwrap_or_default();
        md.push_str(&format!("| revision | {from}`{}`{how} |\n", short_arn(rev)));
    }
    md.push_str(&format!("| verdict | {verdict} |\n"));
    if let Some(s) = seconds {
        md.push_str(&format!("| duration | {s:.1} s |\n"));
    }
    if let Some(d) = deploy
        && verdict != "stable"
    {
        let report = d.to_string();
        if !report.trim().is_empty() {
            md.push_str(&format!(
                "\n<details open><summary>why</summary>\n\n```\n{}\n```\n</details>\n",
                report.trim_end()
            ));
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::rollout::StoppedContainer;

    #[test]
    fn a_failure_report_shows_reasons_exit_codes_and_log_lines() {
        let report = WaitReport {
            services: vec![ServiceReport {
                service: "web".into(),
                verdict: ServiceVerdict::Failed,
                reason: Some("the rollout of web:12 FAILED: ECS deployment circuit breaker: tasks failed to start.".into()),
                task_definition: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:12".into(),
                rollout_state_reason: Some("ECS deployment circuit breaker: tasks failed to start.".into()),
                deployments: vec![],
                events: vec![ServiceEvent { id: "e".into(), created_at: "2026-11-22T10:00:00Z".into(), message: "(service web) has started 1 tasks.".into() }],
                stopped_tasks: vec![StoppedTask {
                    task_id: "0123abcd".into(),
                    stopped_reason: "Essential container in task exited".into(),
                    stop_code: Some("EssentialContainerExited".into()),
                    containers: vec![StoppedContainer {
                        name: "api".into(),
                        exit_code: Some(1),
                        reason: None,
                        log_stream: Some("ecs/api/0123abcd".into()),
                        log_group: Some("/ecs/web".into()),
                        last_log_lines: vec!["KeyError: 'OPENAI_API_KEY'".into()],
                    }],
                }],
                target_groups: vec![TargetGroupHealth {
                    target_group_arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/0123".into(),
                    targets: vec![crate::core::status::TargetHealth {
                        id: "10.0.1.23".into(),
                        port: Some(8080),
                        state: "unhealthy".into(),
                        reason: Some("Target.ResponseCodeMismatch".into()),
                        description: Some("Health checks failed with these codes: [404]".into()),
                    }],
                }],
            }],
        };
        let text = report.to_string();
        for needle in [
            "web: failed: the rollout of web:12 FAILED",
            "  rollout: ECS deployment circuit breaker: tasks failed to start.",
            "    2026-11-22T10:00:00Z (service web) has started 1 tasks.",
            "  stopped task 0123abcd of web:12: Essential container in task exited (EssentialContainerExited)",
            "    container api: exit code 1",
            "    ---- last 1 log lines of /ecs/web ecs/api/0123abcd ----",
            "    | KeyError: 'OPENAI_API_KEY'",
            "  target group api-tg: 0 of 1 targets healthy: 10.0.1.23:8080 unhealthy (Target.ResponseCodeMismatch: Health checks failed with these codes: [404])",
        ] {
            assert!(text.contains(needle), "lacks {needle:?}:\n{text}");
        }
    }
}

#[cfg(test)]
mod summary_tests {
    use super::*;

    #[test]
    fn the_job_summary_names_image_revisions_verdict_and_duration() {
        let md = summary_markdown(
            "release",
            Some("r/api@sha256:00"),
            Some("arn:aws:ecs:us-east-1:1:task-definition/web:12"),
            Some("arn:aws:ecs:us-east-1:1:task-definition/web:11"),
            "stable",
            false,
            Some(12.34),
            None,
        );
        assert!(md.starts_with("### ✅ ecs-ship release: stable"), "{md}");
        assert!(md.contains("| image | `r/api@sha256:00` |"));
        assert!(md.contains("| revision | `web:11` → `web:12` |"));
        assert!(md.contains("| duration | 12.3 s |"));
    }
}
