//! CodeBuild as a home for releases: check a project for what would break one (an inline buildspec
//! that silently overrides the repository's file, privileged mode off under a Docker build), start a
//! build and follow it phase by phase with its log, and print a finished build's log.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tracing::{info, warn};

use super::Session;
use super::deploy::within;
use super::logtail::LogTail;
use super::pace::{End, Pace, Polled};
pub use crate::aws::codebuild::StartOptions;
use crate::aws::codebuild::{self as cb, BuildInfo, Project};
use crate::aws::{Aws, logs};
use crate::core::codebuild::{
    BuildVerdict, BuildspecSource, Finding, ProjectFacts, Severity, check as findings_for,
    first_lines, new_phases, verdict,
};
use crate::error::{Error, Result};
use crate::output::{Report, group_end, group_start};

/// What `codebuild check` looks at.
#[derive(Debug, Clone)]
pub struct CheckPlan {
    pub project: String,
    /// The checkout's buildspec file, when not `buildspec.yml` in the current directory.
    pub buildspec: Option<PathBuf>,
    /// How many recent builds to show.
    pub builds: usize,
}

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub project: Project,
    pub buildspec: BuildspecReport,
    pub recent_builds: Vec<BuildInfo>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Serialize)]
pub struct BuildspecReport {
    #[serde(flatten)]
    pub source: BuildspecSource,
    /// The checkout's buildspec file that was compared with the project's.
    pub checkout_file: Option<String>,
}

/// The checkout's buildspec: `--buildspec PATH` (which must exist), else the file the project
/// reads (`buildspec.yml`, or its path) when the current directory has it.
fn checkout_file(
    given: Option<&Path>,
    source: &BuildspecSource,
) -> Result<Option<(String, String)>> {
    // Bytes that are not UTF-8 are kept (as U+FFFD) for the check to name, not an error here.
    let read = |path: &Path| {
        std::fs::read(path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .map_err(|e| {
                Error::input_with(format!("cannot read --buildspec `{}`", path.display()), e)
            })
    };
    if let Some(path) = given {
        return Ok(Some((path.display().to_string(), read(path)?)));
    }
    let default = match source {
        BuildspecSource::Path { path } if !path.starts_with("arn:") => path.as_str(),
        _ => "buildspec.yml",
    };
    let path = Path::new(default);
    if path.is_file() {
        return Ok(Some((default.to_owned(), read(path)?)));
    }
    Ok(None)
}

pub async fn check(session: &Session, plan: &CheckPlan) -> Result<(CheckReport, Option<Error>)> {
    let aws = session.aws().await?;
    let project = cb::project(aws, &plan.project).await?.ok_or_else(|| {
        Error::remote(format!(
            "CodeBuild project `{}` does not exist in {} (or the caller may not read it): check the name and --region",
            plan.project,
            aws.region()
        ))
    })?;
    let source = BuildspecSource::of(project.buildspec.as_deref());
    let checkout = checkout_file(plan.buildspec.as_deref(), &source)?;
    let path_in_checkout = match &source {
        BuildspecSource::Path { path } if Path::new(".git").exists() => {
            Some(Path::new(path).is_file())
        }
        _ => None,
    };
    let findings = findings_for(&ProjectFacts {
        source_type: &project.source_type,
        buildspec: Some(&source),
        privileged: project.privileged,
        checkout_file: checkout.as_ref().map(|(p, t)| (p.as_str(), t.as_str())),
        path_in_checkout,
    });
    let recent_builds = cb::recent_builds(aws, &project.name, plan.builds).await?;
    let problems: Vec<&str> = findings
        .iter()
        .filter(|f| f.severity == Severity::Problem)
        .map(|f| f.message.as_str())
        .collect();
    let failure = (!problems.is_empty()).then(|| {
        Error::RolloutFailed(format!(
            "CodeBuild project `{}` would break a release: {}",
            project.name,
            problems.join("; ")
        ))
    });
    Ok((
        CheckReport {
            project,
            buildspec: BuildspecReport {
                source,
                checkout_file: checkout.map(|(p, _)| p),
            },
            recent_builds,
            findings,
        },
        failure,
    ))
}

fn duration(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.project;
        writeln!(f, "project     {}", p.name)?;
        writeln!(
            f,
            "source      {} {}{}",
            p.source_type,
            p.source_location.as_deref().unwrap_or("(no location)"),
            p.source_version
                .as_deref()
                .map(|v| format!(" @ {v}"))
                .unwrap_or_default()
        )?;
        writeln!(f, "buildspec   {}", self.buildspec.source.describe())?;
        if let BuildspecSource::Inline { text } = &self.buildspec.source {
            for line in first_lines(text, 6) {
                writeln!(f, "            | {line}")?;
            }
        }
        if let Some(file) = &self.buildspec.checkout_file {
            writeln!(f, "checkout    {file}")?;
        }
        writeln!(
            f,
            "environment {} {} on {}, privileged mode {}",
            p.environment_type,
            p.image,
            p.compute_type,
            if p.privileged { "on" } else { "off" }
        )?;
        writeln!(
            f,
            "role        {}",
            p.service_role.as_deref().unwrap_or("(none)")
        )?;
        let cw = match (&p.logs.group, &p.logs.stream) {
            _ if p.logs.cloudwatch != "ENABLED" => "CloudWatch Logs off".to_owned(),
            (Some(g), Some(s)) => format!("CloudWatch Logs {g} / {s}"),
            (Some(g), None) => format!("CloudWatch Logs {g}"),
            _ => format!("CloudWatch Logs /aws/codebuild/{}", p.name),
        };
        let s3 = match (&p.logs.s3_location, p.logs.s3 == "ENABLED") {
            (Some(l), true) => format!(", S3 {l}"),
            _ => String::new(),
        };
        writeln!(f, "logs        {cw}{s3}")?;
        if self.recent_builds.is_empty() {
            writeln!(f, "builds      none yet")?;
        }
        for (i, b) in self.recent_builds.iter().enumerate() {
            writeln!(
                f,
                "{}  {:<11} {:<10} {}{}",
                if i == 0 { "builds     " } else { "           " },
                b.status,
                b.duration_seconds.map(duration).unwrap_or_default(),
                b.resolved_source_version
                    .as_deref()
                    .or(b.source_version.as_deref())
                    .unwrap_or("-"),
                b.started
                    .as_deref()
                    .map(|s| format!("  {s}"))
                    .unwrap_or_default()
            )?;
        }
        if self.findings.is_empty() {
            writeln!(f, "verdict     nothing here would break a release")?;
        }
        for finding in &self.findings {
            let label = match finding.severity {
                Severity::Problem => "PROBLEM",
                Severity::Warning => "warning",
            };
            writeln!(f, "{label:<11} {}", finding.message)?;
        }
        Ok(())
    }
}

impl Report for CheckReport {}

/// How to follow a build.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// None: the build's own timeouts (queued + build) and 10 minutes more.
    pub timeout: Option<Duration>,
    pub stop_on_interrupt: bool,
    pub poll_interval: Duration,
}

/// A build as the command ends on it.
#[derive(Debug, Serialize)]
pub struct BuildReport {
    pub project: String,
    #[serde(flatten)]
    pub build: BuildInfo,
    /// Whether ecs-ship followed it to its end.
    pub followed: bool,
    #[serde(flatten)]
    pub verdict: BuildVerdict,
    /// The last lines of its log, when it failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub last_log_lines: Vec<String>,
}

impl fmt::Display for BuildReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.build;
        writeln!(
            f,
            "build     {}{}",
            b.id,
            b.build_number
                .map(|n| format!(" (#{n})"))
                .unwrap_or_default()
        )?;
        writeln!(
            f,
            "status    {}{}",
            if b.status.is_empty() {
                "IN_PROGRESS"
            } else {
                &b.status
            },
            match (&self.verdict, b.duration_seconds) {
                (BuildVerdict::Running, _) => b
                    .current_phase
                    .as_deref()
                    .map(|p| format!(" (phase {p})"))
                    .unwrap_or_default(),
                (_, Some(s)) => format!(" in {}", duration(s)),
                _ => String::new(),
            }
        )?;
        if let Some(v) = b
            .resolved_source_version
            .as_ref()
            .or(b.source_version.as_ref())
        {
            writeln!(f, "source    {v}")?;
        }
        if let (Some(g), Some(s)) = (&b.log_group, &b.log_stream) {
            writeln!(f, "logs      {g} {s}")?;
        }
        if let Some(link) = &b.deep_link {
            writeln!(f, "console   {link}")?;
        }
        for (k, v) in &b.exported {
            writeln!(f, "exported  {k}={v}")?;
        }
        match &self.verdict {
            BuildVerdict::Failed {
                phase, contexts, ..
            } => {
                writeln!(
                    f,
                    "failed    in {}",
                    phase.as_deref().unwrap_or("no phase (stopped)")
                )?;
                for c in contexts {
                    writeln!(f, "          {c}")?;
                }
            }
            BuildVerdict::TimedOut { phase } => writeln!(
                f,
                "timed out in {} (the project's timeout)",
                phase.as_deref().unwrap_or("an unknown phase")
            )?,
            _ => {}
        }
        if !self.last_log_lines.is_empty() {
            writeln!(f, "last log lines:")?;
            for line in &self.last_log_lines {
                writeln!(f, "  | {line}")?;
            }
        }
        Ok(())
    }
}

impl Report for BuildReport {
    fn outputs(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("build-id", self.build.id.clone())];
        if let Some(arn) = &self.build.arn {
            out.push(("build-arn", arn.clone()));
        }
        if !self.build.status.is_empty() {
            out.push(("build-status", self.build.status.clone()));
        }
        out
    }

    fn summary(&self) -> Option<String> {
        let b = &self.build;
        let mut md = format!(
            "### CodeBuild `{}`: {}\n\n| | |\n|---|---|\n| build | `{}` |\n",
            self.project,
            if b.status.is_empty() {
                "IN_PROGRESS"
            } else {
                &b.status
            },
            b.id
        );
        if let Some(s) = b.duration_seconds {
            md.push_str(&format!("| duration | {} |\n", duration(s)));
        }
        if let BuildVerdict::Failed {
            phase: Some(phase),
            contexts,
            ..
        } = &self.verdict
        {
            md.push_str(&format!("| failed in | {phase} |\n"));
            for c in contexts {
                md.push_str(&format!("| | {} |\n", c.replace('|', "\\|")));
            }
        }
        if !self.last_log_lines.is_empty() {
            md.push_str("\n```\n");
            md.push_str(&self.last_log_lines.join("\n"));
            md.push_str("\n```\n");
        }
        Some(md)
    }
}

/// Reads a `--buildspec` file for StartBuild's buildspecOverride, refusing what is no buildspec.
pub fn read_buildspec(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::input_with(format!("cannot read --buildspec `{}`", path.display()), e)
    })?;
    let problems = crate::core::buildspec::validate(&text);
    if !problems.is_empty() {
        let said: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(Error::input(format!(
            "--buildspec `{}` is not a buildspec CodeBuild would run: {}",
            path.display(),
            said.join("; ")
        )));
    }
    Ok(text)
}

/// Starts a build; with `follow`, follows it to its end.
pub async fn start(
    session: &Session,
    options: &StartOptions,
    follow: Option<&FollowOptions>,
) -> Result<(BuildReport, Option<Error>)> {
    let aws = session.aws().await?;
    // --timeout counts from here: a StartBuild that never answers is cut by it too.
    let begun = tokio::time::Instant::now();
    let call = cb::start(aws, options);
    let build = match follow.and_then(|f| f.timeout) {
        Some(t) => within(begun + t, aws, "starting the build", call).await?,
        None => call.await?,
    };
    info!(
        "started build {} of `{}`{}",
        build.id,
        options.project,
        build
            .source_version
            .as_deref()
            .map(|v| format!(" at {v}"))
            .unwrap_or_default()
    );
    match follow {
        Some(follow) => {
            follow_build(aws, &options.project, build, follow, begun, session.quiet).await
        }
        None => {
            let verdict = verdict(&build.status, &build.phases);
            Ok((
                BuildReport {
                    project: options.project.clone(),
                    build,
                    followed: false,
                    verdict,
                    last_log_lines: Vec::new(),
                },
                None,
            ))
        }
    }
}

/// Polls the build until it ends (or the pace ends the follow), printing each phase as it ends
/// and the build's log lines.
async fn poll_build(
    aws: &Aws,
    mut build: BuildInfo,
    pace: &mut Pace,
    tail: &mut LogTail,
    quiet: bool,
) -> (BuildInfo, std::result::Result<(), End>) {
    let id = build.id.clone();
    let ids = [id.clone()];
    let mut seen = Vec::new();
    // The build's phases and log are progress: -q keeps them for the failure report only.
    let emit = |line: &str| {
        if !quiet {
            eprintln!("{}", crate::output::safe(&crate::redact::apply(line)));
        }
    };
    group_start(&format!("CodeBuild {id}"));
    let end = loop {
        let mut changed = false;
        match pace.poll(cb::builds(aws, &ids)).await {
            Polled::End(end) => break Err(end),
            Polled::Retry => {}
            Polled::Value(builds) => {
                let Some(now) = builds.into_iter().find(|b| b.id == id) else {
                    break Err(End::Failed(Error::remote(format!(
                        "build `{id}` is not known to CodeBuild any more"
                    ))));
                };
                build = now;
                if !tail.is_set()
                    && let (Some(g), Some(s)) = (&build.log_group, &build.log_stream)
                {
                    *tail = LogTail::new(None, g, s);
                }
                for phase in new_phases(&build.phases, &mut seen) {
                    if !quiet {
                        eprintln!("phase {}", crate::output::safe(&phase.line()));
                    }
                    changed = true;
                }
                let before = tail.seen();
                tail.drain(aws, emit).await;
                changed |= tail.seen() != before;
                if verdict(&build.status, &build.phases) != BuildVerdict::Running {
                    // CloudWatch may take a moment to have the build's last lines.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    tail.drain(aws, emit).await;
                    break Ok(());
                }
            }
        }
        if let Err(end) = pace.pause(changed).await {
            break Err(end);
        }
    };
    group_end();
    (build, end)
}

/// The error a build's verdict ends the command with, if any.
pub(crate) fn build_failure(id: &str, v: &BuildVerdict) -> Option<Error> {
    let in_phase = |phase: &Option<String>| {
        phase
            .as_deref()
            .map(|p| format!(" in phase {p}"))
            .unwrap_or_default()
    };
    match v {
        BuildVerdict::Succeeded | BuildVerdict::Running => None,
        BuildVerdict::Failed {
            status,
            phase,
            contexts,
        } => Some(Error::RolloutFailed(format!(
            "build {id} {status}{}{}",
            in_phase(phase),
            contexts
                .first()
                .map(|c| format!(": {c}"))
                .unwrap_or_default()
        ))),
        BuildVerdict::TimedOut { phase } => Some(Error::TimedOut(format!(
            "build {id} TIMED_OUT{} (the project's build timeout)",
            in_phase(phase)
        ))),
    }
}

/// A cancelled follow: the build stopped with --stop-on-interrupt (within 15 s: a hung endpoint
/// must not hold a cancelled job), else left going on, said either way.
async fn cancelled(aws: &Aws, options: &FollowOptions, build: BuildInfo) -> BuildInfo {
    let id = build.id.clone();
    if !options.stop_on_interrupt {
        warn!(
            "build {id} goes on in CodeBuild (--stop-on-interrupt stops it): `ecs-ship codebuild logs {id}` prints its log"
        );
        return build;
    }
    let what = format!("build {id}");
    stop_within(&what, "StopBuild", cb::stop(aws, &id))
        .await
        .unwrap_or(build)
}

/// A build (or batch) stopped on --stop-on-interrupt within 15 s (a hung endpoint must not hold a
/// cancelled job), said either way; `None` when it could not be.
pub(crate) async fn stop_within<T>(
    what: &str,
    call: &str,
    stop: impl std::future::Future<Output = Result<T>>,
) -> Option<T> {
    match tokio::time::timeout(Duration::from_secs(15), stop).await {
        Ok(Ok(stopped)) => {
            warn!("stopped {what} (--stop-on-interrupt)");
            Some(stopped)
        }
        Ok(Err(e)) => {
            warn!("could not stop {what}: {}", e.chain());
            None
        }
        Err(_) => {
            warn!("could not stop {what}: {call} did not answer in 15s");
            None
        }
    }
}

async fn follow_build(
    aws: &Aws,
    project: &str,
    started: BuildInfo,
    options: &FollowOptions,
    begun: tokio::time::Instant,
    quiet: bool,
) -> Result<(BuildReport, Option<Error>)> {
    let timeout = options.timeout.unwrap_or_else(|| {
        let minutes =
            started.timeout_minutes.unwrap_or(60) + started.queued_timeout_minutes.unwrap_or(480);
        Duration::from_secs(60 * (u64::try_from(minutes).unwrap_or(540) + 10))
    });
    let id = started.id.clone();
    let mut tail = LogTail::default();
    let build = started;
    let left = (begun + timeout).saturating_duration_since(tokio::time::Instant::now());
    let mut pace = Pace::new("the build", left, options.poll_interval);
    info!(
        "following build {id} for up to {}",
        humantime::format_duration(timeout)
    );
    let (build, end) = poll_build(aws, build, &mut pace, &mut tail, quiet).await;
    let last_lines = tail.last_lines();
    let report = |build: BuildInfo, verdict: BuildVerdict, lines: Vec<String>| BuildReport {
        project: project.to_owned(),
        build,
        followed: true,
        verdict,
        last_log_lines: lines,
    };
    match end {
        Ok(()) => {
            let v = verdict(&build.status, &build.phases);
            let failure = build_failure(&id, &v);
            let lines = if failure.is_some() {
                last_lines
            } else {
                Vec::new()
            };
            Ok((report(build, v, lines), failure))
        }
        Err(End::OutOfTime { last_error }) => {
            let phase = build.current_phase.clone().unwrap_or_default();
            let why = last_error
                .map(|e| format!(" (the last polls failed: {e})"))
                .unwrap_or_default();
            let error = Error::TimedOut(format!(
                "build {id} was still running (phase {phase}) after {}{why}; it goes on in CodeBuild: `ecs-ship codebuild logs {id}` prints its log, `aws codebuild stop-build --id {id}` stops it",
                humantime::format_duration(timeout)
            ));
            Ok((
                report(build, BuildVerdict::Running, last_lines),
                Some(error),
            ))
        }
        Err(End::Cancelled(signal)) => {
            let build = cancelled(aws, options, build).await;
            Ok((
                report(build, BuildVerdict::Running, last_lines),
                Some(signal.error()),
            ))
        }
        Err(End::Failed(e)) => Err(e),
    }
}

/// A finished (or running) build's whole log.
#[derive(Debug, Serialize)]
pub struct LogReport {
    pub build: String,
    pub log_group: String,
    pub log_stream: String,
    pub lines: Vec<String>,
}

impl fmt::Display for LogReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

impl Report for LogReport {}

pub async fn build_log(session: &Session, id: &str) -> Result<LogReport> {
    if !id.contains(':') {
        return Err(Error::input(format!(
            "invalid build id `{id}`: expected PROJECT:UUID (or a build ARN), as `ecs-ship codebuild start` prints it"
        )));
    }
    let aws = session.aws().await?;
    let builds = cb::builds(aws, &[id.to_owned()])
        .await
        .map_err(|e| e.into_error(&format!("build `{id}`")))?;
    let build = builds.into_iter().next().ok_or_else(|| {
        Error::remote(format!(
            "CodeBuild has no build `{id}` (in {})",
            aws.region()
        ))
    })?;
    let (Some(group), Some(stream)) = (build.log_group.clone(), build.log_stream.clone()) else {
        return Err(Error::remote(format!(
            "build `{id}` has no CloudWatch Logs stream (CloudWatch logs may be off for its project; see its S3 logs or {})",
            build
                .deep_link
                .as_deref()
                .unwrap_or("the CodeBuild console")
        )));
    };
    let mut lines = Vec::new();
    let mut token: Option<String> = None;
    // Whole pages until CloudWatch answers the same token (no bound here: the log is the result).
    loop {
        let (page, next) = logs::page(aws, None, &group, &stream, token.as_deref()).await?;
        let empty = page.is_empty();
        lines.extend(
            page.into_iter()
                .map(|l| crate::redact::apply(&l).into_owned()),
        );
        if empty || next.is_none() || next == token {
            break;
        }
        token = next;
    }
    Ok(LogReport {
        build: id.to_owned(),
        log_group: group,
        log_stream: stream,
        lines,
    })
}
