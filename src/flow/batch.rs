//! A CodeBuild batch build (StartBuildBatch: a build list, matrix or graph) followed as one build is:
//! each leg's phases and log lines as they come, prefixed by the leg, then the batch's verdict with
//! the failed leg's context and last lines. One BatchGetBuildBatches and one BatchGetBuilds (every
//! leg at once) per poll.
//! https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build.html

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;
use tracing::{info, warn};

use super::Session;
use super::codebuild::{FollowOptions, StartOptions, build_failure, stop_within};
use super::deploy::within;
use super::logtail::LogTail;
use super::pace::{End, Pace, Polled};
use crate::aws::Aws;
use crate::aws::codebuild::{self as cb, BatchInfo, BuildInfo};
use crate::core::codebuild::{BatchVerdict, BuildVerdict, batch_verdict, new_phases, verdict};
use crate::error::{Error, Result};
use crate::output::{Report, group_end, group_start};

/// One leg as the command ends on it.
#[derive(Debug, Serialize)]
pub struct LegReport {
    pub identifier: String,
    pub depends_on: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildInfo>,
    /// None: the leg never started (a leg it depends on failed, or the batch was stopped first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<BuildVerdict>,
    /// The last lines of its log, when it failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub last_log_lines: Vec<String>,
}

/// A batch build as the command ends on it.
#[derive(Debug, Serialize)]
pub struct BatchReport {
    pub project: String,
    pub batch: BatchInfo,
    pub followed: bool,
    #[serde(flatten)]
    pub verdict: BatchVerdict,
    pub legs: Vec<LegReport>,
}

impl fmt::Display for BatchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.batch;
        writeln!(f, "batch     {}", b.id)?;
        let status = if b.status.is_empty() {
            "IN_PROGRESS"
        } else {
            &b.status
        };
        writeln!(f, "status    {status}")?;
        if let Some(v) = &b.source_version {
            writeln!(f, "source    {v}")?;
        }
        let width = self
            .legs
            .iter()
            .map(|l| l.identifier.len())
            .max()
            .unwrap_or(0);
        for leg in &self.legs {
            let said = match (&leg.build, &leg.verdict) {
                (None, _) if leg.depends_on.is_empty() => "not started".to_owned(),
                (None, _) => format!("not started (depends on {})", leg.depends_on.join(", ")),
                (
                    Some(build),
                    Some(BuildVerdict::Failed {
                        phase, contexts, ..
                    }),
                ) => format!(
                    "{} in {}{} ({})",
                    build.status,
                    phase.as_deref().unwrap_or("no phase"),
                    contexts
                        .first()
                        .map(|c| format!(": {c}"))
                        .unwrap_or_default(),
                    build.id
                ),
                (Some(build), _) => format!(
                    "{}{} ({})",
                    if build.status.is_empty() {
                        "IN_PROGRESS"
                    } else {
                        &build.status
                    },
                    build
                        .duration_seconds
                        .map(|s| format!(" in {s}s"))
                        .unwrap_or_default(),
                    build.id
                ),
            };
            writeln!(f, "leg       {:<width$}  {said}", leg.identifier)?;
        }
        for leg in self.legs.iter().filter(|l| !l.last_log_lines.is_empty()) {
            writeln!(f, "last log lines of {}:", leg.identifier)?;
            for line in &leg.last_log_lines {
                writeln!(f, "  | {line}")?;
            }
        }
        Ok(())
    }
}

impl Report for BatchReport {
    fn outputs(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("batch-id", self.batch.id.clone())];
        if let Some(arn) = &self.batch.arn {
            out.push(("batch-arn", arn.clone()));
        }
        if !self.batch.status.is_empty() {
            out.push(("batch-status", self.batch.status.clone()));
        }
        out
    }

    fn summary(&self) -> Option<String> {
        let cell = |t: &str| t.replace('|', "\\|").replace('`', "'");
        let mut md = format!(
            "### CodeBuild batch `{}`: {}\n\n| leg | status | build |\n|---|---|---|\n",
            cell(&self.project),
            if self.batch.status.is_empty() {
                "IN_PROGRESS"
            } else {
                &self.batch.status
            }
        );
        for leg in &self.legs {
            let (status, id) = leg
                .build
                .as_ref()
                .map_or(("not started", ""), |b| (b.status.as_str(), b.id.as_str()));
            md.push_str(&format!(
                "| {} | {} | `{}` |\n",
                cell(&leg.identifier),
                cell(status),
                cell(id)
            ));
        }
        for leg in self.legs.iter().filter(|l| !l.last_log_lines.is_empty()) {
            md.push_str(&format!("\n{}:\n\n```\n", cell(&leg.identifier)));
            md.push_str(&leg.last_log_lines.join("\n").replace("```", "'''"));
            md.push_str("\n```\n");
        }
        Some(md)
    }
}

/// Starts a batch build; with `follow`, follows every leg to the batch's end.
pub async fn start(
    session: &Session,
    options: &StartOptions,
    follow: Option<&FollowOptions>,
) -> Result<(BatchReport, Option<Error>)> {
    let aws = session.aws().await?;
    let begun = tokio::time::Instant::now();
    let call = cb::start_batch(aws, options);
    let batch = match follow.and_then(|f| f.timeout) {
        Some(t) => within(begun + t, aws, "starting the batch build", call).await?,
        None => call.await?,
    };
    info!(
        "started batch build {} of `{}`{}",
        batch.id,
        options.project,
        batch
            .source_version
            .as_deref()
            .map(|v| format!(" at {v}"))
            .unwrap_or_default()
    );
    match follow {
        Some(follow) => {
            follow_batch(aws, &options.project, batch, follow, begun, session.quiet).await
        }
        None => {
            let legs = leg_reports(&batch, &mut BTreeMap::new(), false);
            Ok((
                BatchReport {
                    project: options.project.clone(),
                    verdict: verdict_of(&batch),
                    batch,
                    followed: false,
                    legs,
                },
                None,
            ))
        }
    }
}

/// What the follower keeps of a leg between polls.
#[derive(Default)]
struct LegState {
    build: Option<BuildInfo>,
    seen: Vec<String>,
    tail: LogTail,
}

fn verdict_of(batch: &BatchInfo) -> BatchVerdict {
    let legs: Vec<(&str, Option<&str>, bool)> = batch
        .legs
        .iter()
        .map(|l| {
            (
                l.identifier.as_str(),
                l.build_status.as_deref(),
                l.ignore_failure,
            )
        })
        .collect();
    batch_verdict(&batch.status, &legs)
}

/// Each leg's report; with `failed_lines`, the last log lines of the legs that failed.
fn leg_reports(
    batch: &BatchInfo,
    states: &mut BTreeMap<String, LegState>,
    failed_lines: bool,
) -> Vec<LegReport> {
    batch
        .legs
        .iter()
        .map(|leg| {
            let state = states.remove(&leg.identifier).unwrap_or_default();
            let verdict = state.build.as_ref().map(|b| verdict(&b.status, &b.phases));
            let failed = matches!(
                verdict,
                Some(BuildVerdict::Failed { .. } | BuildVerdict::TimedOut { .. })
            );
            LegReport {
                identifier: leg.identifier.clone(),
                depends_on: leg.depends_on.clone(),
                build: state.build,
                verdict,
                last_log_lines: if failed && failed_lines {
                    state.tail.last_lines()
                } else {
                    Vec::new()
                },
            }
        })
        .collect()
}

/// One poll of the legs: every started leg's build read in one call, its new phases and log lines
/// printed with the leg's name in front. Whether anything changed.
async fn poll_legs(
    aws: &Aws,
    batch: &BatchInfo,
    states: &mut BTreeMap<String, LegState>,
    pace: &mut Pace,
    quiet: bool,
) -> std::result::Result<bool, End> {
    let ids: Vec<String> = batch
        .legs
        .iter()
        .filter_map(|l| l.build_id.clone())
        .collect();
    if ids.is_empty() {
        return Ok(false);
    }
    let builds = match pace.poll(cb::builds(aws, &ids)).await {
        Polled::End(end) => return Err(end),
        Polled::Retry => return Ok(false),
        Polled::Value(builds) => builds,
    };
    let mut changed = false;
    for leg in &batch.legs {
        let Some(build) = leg
            .build_id
            .as_ref()
            .and_then(|id| builds.iter().find(|b| &b.id == id))
        else {
            continue;
        };
        let state = states.entry(leg.identifier.clone()).or_default();
        if state.build.is_none() && !quiet {
            eprintln!("[{}] started build {}", leg.identifier, build.id);
        }
        if !state.tail.is_set()
            && let (Some(g), Some(s)) = (&build.log_group, &build.log_stream)
        {
            state.tail = LogTail::new(None, g, s);
        }
        for phase in new_phases(&build.phases, &mut state.seen) {
            if !quiet {
                eprintln!(
                    "[{}] phase {}",
                    leg.identifier,
                    crate::output::safe(&phase.line())
                );
            }
            changed = true;
        }
        let before = state.tail.seen();
        let prefix = leg.identifier.clone();
        state
            .tail
            .drain(aws, |line| {
                if !quiet {
                    eprintln!(
                        "[{prefix}] {}",
                        crate::output::safe(&crate::redact::apply(line))
                    );
                }
            })
            .await;
        changed |= state.tail.seen() != before;
        state.build = Some(build.clone());
    }
    Ok(changed)
}

async fn follow_batch(
    aws: &Aws,
    project: &str,
    started: BatchInfo,
    options: &FollowOptions,
    begun: tokio::time::Instant,
    quiet: bool,
) -> Result<(BatchReport, Option<Error>)> {
    // A batch's own timeout defaults to 8 hours (CodeBuild's build-timeout-in-mins for batches).
    let timeout = options
        .timeout
        .unwrap_or_else(|| Duration::from_secs(60 * (480 + 10)));
    let id = started.id.clone();
    let left = (begun + timeout).saturating_duration_since(tokio::time::Instant::now());
    let mut pace = Pace::new("the batch build", left, options.poll_interval);
    info!(
        "following batch build {id} for up to {}",
        humantime::format_duration(timeout)
    );
    let ids = [id.clone()];
    let mut batch = started;
    let mut states: BTreeMap<String, LegState> = BTreeMap::new();
    group_start(&format!("CodeBuild batch {id}"));
    let end = loop {
        let mut changed = false;
        match pace.poll(cb::batches(aws, &ids)).await {
            Polled::End(end) => break Err(end),
            Polled::Retry => {}
            Polled::Value(batches) => {
                let Some(now) = batches.into_iter().find(|b| b.id == id) else {
                    break Err(End::Failed(Error::remote(format!(
                        "batch build `{id}` is not known to CodeBuild any more"
                    ))));
                };
                batch = now;
                match poll_legs(aws, &batch, &mut states, &mut pace, quiet).await {
                    Ok(c) => changed = c,
                    Err(end) => break Err(end),
                }
                if verdict_of(&batch) != BatchVerdict::Running {
                    // CloudWatch may take a moment to have the legs' last lines.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if let Err(end) = poll_legs(aws, &batch, &mut states, &mut pace, quiet).await {
                        break Err(end);
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
    let report = |batch: BatchInfo, states: &mut BTreeMap<String, LegState>, lines: bool| {
        let legs = leg_reports(&batch, states, lines);
        BatchReport {
            project: project.to_owned(),
            verdict: verdict_of(&batch),
            batch,
            followed: true,
            legs,
        }
    };
    match end {
        Ok(()) => {
            let report = report(batch, &mut states, true);
            let failure = failure_of(&report);
            Ok((report, failure))
        }
        Err(End::OutOfTime { last_error }) => {
            let why = last_error
                .map(|e| format!(" (the last polls failed: {e})"))
                .unwrap_or_default();
            let error = Error::TimedOut(format!(
                "batch build {id} was still running after {}{why}; it goes on in CodeBuild: `aws codebuild stop-build-batch --id {id}` stops it",
                humantime::format_duration(timeout)
            ));
            Ok((report(batch, &mut states, true), Some(error)))
        }
        Err(End::Cancelled(signal)) => {
            let batch = cancelled(aws, options, batch).await;
            Ok((report(batch, &mut states, true), Some(signal.error())))
        }
        Err(End::Failed(e)) => Err(e),
    }
}

/// The error a finished batch ends the command with: the failed leg named, with its context.
fn failure_of(report: &BatchReport) -> Option<Error> {
    let id = &report.batch.id;
    let leg_said = |legs: &[String]| {
        legs.iter()
            .map(|name| {
                let leg = report.legs.iter().find(|l| &l.identifier == name);
                let said = leg
                    .and_then(|l| Some((l.build.as_ref()?, l.verdict.as_ref()?)))
                    .and_then(|(b, v)| build_failure(&b.id, v))
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "did not succeed".to_owned());
                format!("leg `{name}`: {said}")
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    match &report.verdict {
        BatchVerdict::Running | BatchVerdict::Succeeded => None,
        BatchVerdict::Failed {
            status,
            failed_legs,
        } => Some(Error::RolloutFailed(format!(
            "batch build {id} {status}: {}",
            if failed_legs.is_empty() {
                "no leg failed by itself (stopped?)".to_owned()
            } else {
                leg_said(failed_legs)
            }
        ))),
        BatchVerdict::TimedOut { failed_legs } => Some(Error::TimedOut(format!(
            "batch build {id} TIMED_OUT (the project's batch timeout): {}",
            leg_said(failed_legs)
        ))),
    }
}

/// A cancelled follow: the batch stopped with --stop-on-interrupt (within 15 s), else left going
/// on, said either way.
async fn cancelled(aws: &Aws, options: &FollowOptions, batch: BatchInfo) -> BatchInfo {
    let id = batch.id.clone();
    if !options.stop_on_interrupt {
        warn!("batch build {id} goes on in CodeBuild (--stop-on-interrupt stops it)");
        return batch;
    }
    let what = format!("batch build {id}");
    stop_within(&what, "StopBuildBatch", cb::stop_batch(aws, &id))
        .await
        .unwrap_or(batch)
}
