//! Rollouts: update a service to an exact revision, wait for a verdict that catches rollbacks,
//! check the service answers (`--verify-url`), explain a failure (stopped tasks, exit codes, the
//! last log lines) and roll back on request. Shared by `deploy`, `wait` and `release`.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use tracing::{info, warn};

use crate::aws::{self, Aws};
use crate::core::deployment::{ServiceDeploymentView, WaitUntil};
use crate::core::logs;
use crate::core::rollout::{
    self, Deployment, Expectation, ServiceEvent, ServiceVerdict, StoppedTask, WaitEnd, short_arn,
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
    /// How far to follow a service deployment.
    pub until: WaitUntil,
    /// Follow a rollback in progress to its end (`--no-wait-rollback`: fail at once).
    pub wait_rollback: bool,
}

impl WaitSettings {
    /// What is expected of a service that must settle on `task_definition`.
    pub fn expect(&self, task_definition: impl Into<String>) -> Expectation {
        Expectation {
            max_task_failures: self.max_task_failures,
            until: self.until,
            wait_rollback: self.wait_rollback,
            ..Expectation::new(task_definition)
        }
    }
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
    /// The service's desired count at the end of the wait (0: stable, with nothing running).
    pub desired_count: Option<i32>,
    pub rollout_state_reason: Option<String>,
    pub deployments: Vec<Deployment>,
    pub events: Vec<ServiceEvent>,
    pub stopped_tasks: Vec<StoppedTask>,
    /// The load balancer's view of the service's targets (failed or timed-out rollouts only): a
    /// health check that never passes is the commonest reason a rollout never settles.
    pub target_groups: Vec<TargetGroupHealth>,
    /// The service deployment the verdict came from (absent where the wait judged by
    /// DescribeServices alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_deployment: Option<ServiceDeploymentView>,
    /// A CODE_DEPLOY service's CodeDeploy deployment, as last seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codedeploy: Option<crate::core::codedeploy::CodeDeployView>,
    /// How to follow what was not waited for (`--wait-until`), or to continue a paused hook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl fmt::Display for WaitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.services {
            let td = short_arn(&s.task_definition);
            let by = match (&s.service_deployment, &s.codedeploy) {
                (_, Some(c)) => {
                    format!(" (CodeDeploy deployment {}: {})", c.deployment_id, c.status)
                }
                (Some(d), None) => format!(" (service deployment {}: {})", d.id(), d.state()),
                (None, None) => String::new(),
            };
            if s.verdict == ServiceVerdict::Stable {
                match s.desired_count {
                    Some(0) => writeln!(
                        f,
                        "{}: stable on {td}{by} (desired count is 0: no task runs)",
                        s.service
                    )?,
                    _ => writeln!(f, "{}: stable on {td}{by}", s.service)?,
                }
                continue;
            }
            if s.verdict.is_success() || s.verdict == ServiceVerdict::Paused {
                writeln!(
                    f,
                    "{}: {}: {}",
                    s.service,
                    s.verdict,
                    s.reason.as_deref().unwrap_or("")
                )?;
                if let Some(next) = &s.next {
                    writeln!(f, "  {next}")?;
                }
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
            if let Some(d) = &s.service_deployment {
                writeln!(f, "  service deployment {}: {}", d.id(), d.state())?;
            }
            if let Some(c) = &s.codedeploy {
                writeln!(
                    f,
                    "  CodeDeploy deployment {}: {}",
                    c.deployment_id, c.status
                )?;
                for e in &c.events {
                    let diagnostics = e
                        .diagnostics
                        .as_deref()
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default();
                    writeln!(
                        f,
                        "    lifecycle event {} {}{diagnostics}",
                        e.name, e.status
                    )?;
                }
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
        expectations.push((service.clone(), settings.expect(task_definition)));
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
    let expectations = super::deploy::within(
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

/// How the wait loop ended, as a verdict kind, the error it ends the command with, the last
/// snapshots, and the services that decided it (with why).
type Ended = (
    WaitEnd,
    Option<Error>,
    Vec<rollout::ServiceSnapshot>,
    Vec<(String, String)>,
);

/// Where the services are, for the commands a report tells the user to run next.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub cluster: &'a str,
    pub region: &'a str,
}

impl Place<'_> {
    /// The command that lets a paused hook go on.
    pub fn continue_command(&self, service: &str, hook_id: &str) -> String {
        format!(
            "ecs-ship deployment continue --region {} --cluster {} --service {service} --hook-id {hook_id}",
            self.region, self.cluster
        )
    }

    /// The command that follows the rest of a deployment to its end.
    pub fn wait_command(&self, service: &str, task_definition: &str) -> String {
        format!(
            "ecs-ship wait --region {} --cluster {} --service {service} --task-definition {task_definition}",
            self.region, self.cluster
        )
    }
}

/// The services among `names` whose deployment is paused at a hook, each with its hook's id.
fn paused_hooks<'a>(
    services: &'a [rollout::ServiceSnapshot],
    names: &[&str],
) -> Vec<(&'a str, &'a str)> {
    services
        .iter()
        .filter(|s| names.contains(&s.name.as_str()))
        .filter_map(|s| {
            let hook = s.service_deployment.as_ref()?.awaiting_hook()?;
            Some((s.name.as_str(), hook.id.as_str()))
        })
        .collect()
}

/// `Ended` from the loop's outcome.
fn ended(
    outcome: Outcome,
    names: &[String],
    settings: &WaitSettings,
    signal: Option<crate::signal::Signal>,
    place: Place<'_>,
) -> Ended {
    match outcome {
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
        Outcome::Paused {
            service,
            reason,
            services,
        } => {
            let next = paused_hooks(&services, &[service.as_str()])
                .first()
                .map(|(s, hook)| format!("; continue it with: {}", place.continue_command(s, hook)))
                .unwrap_or_default();
            (
                WaitEnd::Paused,
                Some(Error::Paused(format!("{service}: {reason}{next}"))),
                services,
                vec![(service, reason)],
            )
        }
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
            // Out of time while a hook awaits action: that is a pause to act on, not a slow rollout.
            let waiting: Vec<&str> = waiting_for.iter().map(|(s, _)| s.as_str()).collect();
            let paused = paused_hooks(&services, &waiting);
            if !paused.is_empty() {
                let commands = paused
                    .iter()
                    .map(|(s, hook)| place.continue_command(s, hook))
                    .collect::<Vec<_>>()
                    .join("; ");
                let message = format!("{message}; continue with: {commands}");
                return (
                    WaitEnd::Paused,
                    Some(Error::Paused(message)),
                    services,
                    waiting_for,
                );
            }
            (
                WaitEnd::TimedOut,
                Some(Error::TimedOut(message)),
                services,
                waiting_for,
            )
        }
        Outcome::Interrupted { services } => (
            WaitEnd::Interrupted,
            Some(signal.unwrap_or(crate::signal::Signal::Interrupt).error()),
            services,
            Vec::new(),
        ),
    }
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
    let tracker = super::deployments::Tracker::new(expectations);
    crate::output::group_start(&format!("waiting for {}", names.join(", ")));
    let outcome = waiter
        .run(
            || tracker.poll(aws, cluster, expectations),
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
    let signal = received.get().copied();
    let place = Place {
        cluster,
        region: aws.region(),
    };
    let (end, error, services, failing) = ended(outcome?, &names, settings, signal, place);
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
        let mut report = report_of(name, want, snapshot, end, failing_reason, place);
        if report.verdict.needs_diagnosis() {
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

/// One service's report from how the wait ended and its last snapshot.
fn report_of(
    name: &str,
    want: &Expectation,
    snapshot: Option<&rollout::ServiceSnapshot>,
    end: WaitEnd,
    failing_reason: Option<&str>,
    place: Place<'_>,
) -> ServiceReport {
    let (mut verdict, mut reason) = rollout::service_verdict(end, failing_reason);
    let now = snapshot.map(|s| rollout::verdict(s, want));
    // Done (stable, or the --wait-until point): say which; another service may also have decided
    // the outcome while this one was already done.
    if matches!(verdict, ServiceVerdict::Stable | ServiceVerdict::InProgress)
        && let Some(done) = now.as_ref().and_then(ServiceVerdict::of_done)
    {
        verdict = done;
        if let Some(rollout::Verdict::Reached(_, note)) = &now {
            reason = Some(note.clone());
        }
    }
    let service_deployment = snapshot.and_then(|s| s.service_deployment.clone());
    let next = match verdict {
        ServiceVerdict::TrafficShifted | ServiceVerdict::Baked => Some(format!(
            "follow the rest with: {}",
            place.wait_command(name, &want.task_definition)
        )),
        ServiceVerdict::Paused => service_deployment
            .as_ref()
            .and_then(|d| d.awaiting_hook())
            .map(|h| format!("continue it with: {}", place.continue_command(name, &h.id))),
        _ => None,
    };
    ServiceReport {
        service: name.to_owned(),
        verdict,
        reason,
        task_definition: want.task_definition.clone(),
        desired_count: snapshot.map(|s| s.desired),
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
        service_deployment,
        codedeploy: snapshot.and_then(|s| s.codedeploy.clone()),
        next,
    }
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

/// `d` rounded to whole seconds, for messages.
fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs_f64().round() as u64)
}

impl crate::output::Report for WaitReport {
    fn outputs(&self) -> Vec<(&'static str, String)> {
        self.services
            .first()
            .map(|s| vec![("verdict", s.verdict.as_str().to_owned())])
            .unwrap_or_default()
    }
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
                desired_count: Some(2),
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
                service_deployment: None,
                codedeploy: None,
                next: None,
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
