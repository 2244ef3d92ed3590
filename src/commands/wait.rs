//! `ecs-ship wait`: until each service is stable on its expected revision, or a fast failure
//! that says why (rollout state, new events, stopped tasks with exit codes and their last log lines).

use std::fmt;
use std::time::Duration;

use clap::Args;
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use crate::aws::{self, Aws};
use crate::cli::GlobalArgs;
use crate::core::logs;
use crate::core::rollout::{
    Deployment, Expectation, ServiceEvent, ServiceSnapshot, StoppedTask, awslogs_stream, short_arn,
};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::wait::{Interval, Outcome, Waiter};

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The cluster of the services.
    #[arg(long, env = "ECS_SHIP_CLUSTER")]
    pub cluster: String,

    /// A service to wait for (repeatable).
    #[arg(
        long = "service",
        required = true,
        env = "ECS_SHIP_SERVICE",
        value_name = "NAME"
    )]
    pub services: Vec<String>,

    /// The revision the service must end up on [default: the service's current taskDefinition].
    #[arg(long, value_name = "ARN")]
    pub task_definition: Option<String>,

    #[command(flatten)]
    pub options: WaitOptions,
}

#[derive(Debug, Clone, Args)]
pub struct WaitOptions {
    /// Give up after this long (units s, m, h: 90s, 15m, 1h).
    #[arg(long, default_value = "15m", value_parser = parse_duration, env = "ECS_SHIP_TIMEOUT")]
    pub timeout: Duration,

    /// Poll at this fixed interval [default: 2s, growing to 15s while nothing changes].
    #[arg(long, value_parser = parse_duration)]
    pub poll_interval: Option<Duration>,

    /// Fail as soon as this many tasks of the new revision have failed, before the circuit breaker does.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    pub max_task_failures: Option<i32>,
}

pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration like 90s, 15m or 1h: {e}"))
}

/// What waiting found, per service.
#[derive(Debug, Serialize)]
pub struct WaitReport {
    pub services: Vec<ServiceReport>,
}

#[derive(Debug, Serialize)]
pub struct ServiceReport {
    pub service: String,
    /// stable, failed, timed_out, interrupted or in_progress.
    pub verdict: &'static str,
    pub reason: Option<String>,
    pub task_definition: String,
    pub rollout_state_reason: Option<String>,
    pub deployments: Vec<Deployment>,
    pub events: Vec<ServiceEvent>,
    pub stopped_tasks: Vec<StoppedTask>,
}

impl fmt::Display for WaitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.services {
            let td = short_arn(&s.task_definition);
            match s.verdict {
                "stable" => writeln!(f, "{}: stable on {td}", s.service)?,
                verdict => writeln!(
                    f,
                    "{}: {verdict}: {}",
                    s.service,
                    s.reason.as_deref().unwrap_or("")
                )?,
            }
            if s.verdict == "stable" {
                continue;
            }
            if let Some(r) = &s.rollout_state_reason {
                writeln!(f, "  rollout: {r}")?;
            }
            for d in &s.deployments {
                writeln!(
                    f,
                    "  deployment: {}",
                    crate::core::rollout::deployment_line(d)
                )?;
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
            }
        }
        Ok(())
    }
}

/// How waiting ended: the report, and the error (with its exit code) unless every service is stable.
pub struct Waited {
    pub report: WaitReport,
    pub failure: Option<Error>,
}

impl Waited {
    pub fn into_result(self) -> Result<WaitReport> {
        match self.failure {
            None => Ok(self.report),
            Some(e) => Err(e),
        }
    }
}

/// Waits for each (service, expectation) and reports; prints nothing. `Err` is a failure to wait
/// at all (an API call that failed), not a failed rollout.
pub async fn wait_services(
    aws: &Aws,
    cluster: &str,
    expectations: &[(String, Expectation)],
    options: &WaitOptions,
) -> Result<Waited> {
    let names: Vec<String> = expectations.iter().map(|(n, _)| n.clone()).collect();
    let waiter = Waiter {
        expectations,
        timeout: options.timeout,
        interval: options
            .poll_interval
            .map_or_else(Interval::default, Interval::Fixed),
    };
    let several = names.len() > 1;
    info!(
        "waiting up to {} for {} to be stable",
        humantime::format_duration(options.timeout),
        names.join(", ")
    );
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
                let _ = tokio::signal::ctrl_c().await;
            },
        )
        .await?;
    let (error, services, failing): (Option<Error>, Vec<ServiceSnapshot>, Vec<(String, String)>) =
        match outcome {
            Outcome::Stable { services } => (None, services, Vec::new()),
            Outcome::Failed {
                service,
                reason,
                services,
            } => (
                Some(Error::RolloutFailed(format!("{service}: {reason}"))),
                services,
                vec![(service, reason)],
            ),
            Outcome::TimedOut {
                waiting_for,
                services,
            } => {
                let what = waiting_for
                    .iter()
                    .map(|(s, why)| format!("{s} ({why})"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let message = format!(
                    "timed out after {} waiting for {what}",
                    humantime::format_duration(options.timeout)
                );
                (Some(Error::TimedOut(message)), services, waiting_for)
            }
            Outcome::Interrupted { services } => (Some(Error::Interrupted), services, Vec::new()),
        };
    let verdict_of = |name: &str| -> (&'static str, Option<String>) {
        match (&error, failing.iter().find(|(n, _)| n == name)) {
            (None, _) => ("stable", None),
            (Some(Error::RolloutFailed(_)), Some((_, r))) => ("failed", Some(r.clone())),
            (Some(Error::TimedOut(_)), Some((_, r))) => ("timed_out", Some(r.clone())),
            (Some(Error::Interrupted), _) => ("interrupted", None),
            _ => ("in_progress", None),
        }
    };
    let mut reports = Vec::new();
    for (name, want) in expectations {
        let snapshot = services.iter().find(|s| s.name == *name);
        let (verdict, reason) = verdict_of(name);
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
        };
        if matches!(verdict, "failed" | "timed_out") {
            report.stopped_tasks = diagnose(aws, cluster, name, &want.task_definition).await;
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
            let Some(config) = log_config(&document, &c.name) else {
                continue;
            };
            let (group, region, prefix) = config;
            let stream = awslogs_stream(&prefix, &c.name, &task.task_id);
            match aws::logs::tail(aws, &region, &group, &stream, 20).await {
                Ok(lines) => c.last_log_lines = lines,
                Err(e) => warn!("no log lines for container `{}`: {}", c.name, e.chain()),
            }
            c.log_group = Some(group);
            c.log_stream = Some(stream);
        }
    }
    tasks
}

/// (group, region, stream prefix) of a container that logs through awslogs with a prefix.
fn log_config(
    document: &crate::core::taskdef::TaskDef,
    container: &str,
) -> Option<(String, String, String)> {
    let c = document
        .get("containerDefinitions")?
        .as_array()?
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(container))?;
    let l = c.get("logConfiguration")?;
    if l.get("logDriver")?.as_str()? != "awslogs" {
        return None;
    }
    let o = l.get("options")?;
    let get = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    Some((
        get(logs::GROUP)?,
        get(logs::REGION)?,
        get(logs::STREAM_PREFIX)?,
    ))
}

pub async fn run(global: &GlobalArgs, args: &WaitArgs, out: Output) -> Result<()> {
    if args.task_definition.is_some() && args.services.len() > 1 {
        return Err(Error::input(
            "--task-definition names one revision: wait for one --service at a time with it",
        ));
    }
    let aws = Aws::load(global).await?;
    let mut expectations = Vec::new();
    for service in &args.services {
        let task_definition = match &args.task_definition {
            Some(td) => td.clone(),
            None => {
                aws::ecs::describe_service(&aws, &args.cluster, service)
                    .await?
                    .task_definition
            }
        };
        let want = Expectation {
            task_definition,
            previous: None,
            max_task_failures: args.options.max_task_failures,
        };
        expectations.push((service.clone(), want));
    }
    let waited = wait_services(&aws, &args.cluster, &expectations, &args.options).await?;
    out.result(&waited.report)?;
    waited.into_result().map(|_| ())
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
                verdict: "failed",
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
        ] {
            assert!(text.contains(needle), "lacks {needle:?}:\n{text}");
        }
    }

    #[test]
    fn durations_take_units_or_seconds() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("`soon` is not a duration")
        );
    }
}
