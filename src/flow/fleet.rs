//! Several targets (region x account) in one run: each target reached with its own identity (a
//! role assumed through STS, a profile, a region), the deploy engine run once per target (one
//! batched wait per target), all targets concurrently - at most a few per region at a time, so
//! one account's ECS rate limits are not spent on one run - or one after another with
//! `sequential`, stopping at the first that fails (staging before production). A target whose
//! credentials, region or services fail is that target's row in the verdict table, never the
//! others' end.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::Semaphore;
use tracing::{info, warn};

use super::Session;
use super::deploy::{self, DeployPlan, DeployResult};
use super::status::StatusReport;
use crate::aws::{self, Aws, TargetIdentity};
use crate::core::overrides;
use crate::core::rollout::{RollbackScope, short_arn};
use crate::core::targets::{self, FlagTargets, Target};
use crate::error::{Error, Result};

/// The targets of a run: the `--targets` file's, else every --region for every --role-arn.
pub fn targets(flags: &FlagTargets<'_>, file: Option<&std::path::Path>) -> Result<Vec<Target>> {
    let bad = |e: targets::TargetsError, path: &std::path::Path| {
        Error::input_with(format!("--targets `{}`: {e}", path.display()), e)
    };
    let Some(path) = file else {
        return targets::from_flags(flags).map_err(|e| Error::input_with(e.to_string(), e));
    };
    let format = targets::Format::of(&path.to_string_lossy()).ok_or_else(|| {
        Error::input(format!(
            "--targets `{}`: name the file .toml, .yml or .yaml so its format is known",
            path.display()
        ))
    })?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::input_with(format!("cannot read --targets `{}`", path.display()), e))?;
    let doc = targets::parse(&text, format).map_err(|e| bad(e, path))?;
    targets::from_file(doc, flags).map_err(|e| bad(e, path))
}

/// A target reached: its own session (AWS in its region, as its identity) and its account.
pub struct Connected {
    pub session: Session,
    pub account: String,
    pub region: String,
    /// When reaching it began: --timeout counts from here.
    pub since: tokio::time::Instant,
}

/// Reaches a target: its region and profile over the run's, its role assumed, and one
/// GetCallerIdentity so bad credentials, a role that cannot be assumed or a region with no
/// endpoint are found before anything else, named with the target.
pub async fn connect(session: &Session, target: &Target, session_name: &str) -> Result<Connected> {
    let since = tokio::time::Instant::now();
    let identity = TargetIdentity {
        region: target.region.clone(),
        profile: target.profile.clone(),
        endpoint_url: target.endpoint_url.clone(),
        role_arn: target.role_arn.clone(),
        external_id: target.external_id.clone(),
        session_name: session_name.to_owned(),
    };
    let aws = Aws::for_target(session.aws_options(), &identity).await?;
    let who = aws::sts::caller_identity(&aws)
        .await
        .map_err(|e| match &target.role_arn {
            Some(role) => e.context(format!("assuming {role} (session `{session_name}`)")),
            None => e,
        })?;
    let region = aws.region().to_owned();
    // The line carries the target's name already (its span).
    info!("account {} in {region} as {}", who.account, who.arn);
    Ok(Connected {
        session: session.for_target(aws),
        account: who.account,
        region,
        since,
    })
}

/// How targets run.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// One target after another, stopping at the first that fails.
    pub sequential: bool,
    /// At most this many targets of one region at a time.
    pub per_region: usize,
    /// The role session name of every assumed role.
    pub session_name: String,
    /// The command's --timeout: reaching a target counts against it.
    pub timeout: Option<std::time::Duration>,
}

/// What one target's run gave: `None` when it was not run (`sequential`, after a failure), else
/// the connected target and what `work` returned (or why it could not be reached), and seconds.
pub type Ran<T> = Option<(std::result::Result<(Arc<Connected>, T), Error>, f64)>;

/// Runs `work` for every target as `options` say, each with the target connected; the outcomes
/// in the targets' order. `work` says whether the target went well (`sequential` stops after one
/// that did not).
pub async fn each<T, F, Fut>(
    session: &Session,
    targets: &[Target],
    options: &FleetOptions,
    work: F,
) -> Vec<Ran<T>>
where
    F: Fn(usize, Arc<Connected>) -> Fut,
    Fut: std::future::Future<Output = (T, bool)>,
{
    let reach = |i: usize| async move {
        let target = &targets[i];
        reach_within(session, target, options)
            .await
            .map(Arc::new)
            .map_err(|e| e.prefixed(&format!("target `{}`:", target.name)))
    };
    each_reached(targets, options, reach, work).await
}

/// `connect`, within --timeout (an endpoint that never answers would otherwise hold the target
/// for every retry of every attempt) and ended at once by a signal.
async fn reach_within(
    session: &Session,
    target: &Target,
    options: &FleetOptions,
) -> Result<Connected> {
    let connecting = connect(session, target, &options.session_name);
    let Some(timeout) = options.timeout else {
        return tokio::select! {
            signal = crate::signal::cancelled() => Err(signal.error()),
            done = connecting => done,
        };
    };
    tokio::select! {
        signal = crate::signal::cancelled() => Err(signal.error()),
        done = tokio::time::timeout(timeout, connecting) => done.unwrap_or_else(|_| {
            Err(Error::TimedOut(format!(
                "no answer from AWS ({}) within --timeout {} while reaching the target (STS GetCallerIdentity{})",
                target.endpoint_url.as_deref().or(session.aws_options().endpoint_url.as_deref()).unwrap_or("the default endpoints"),
                humantime::format_duration(timeout),
                target.role_arn.as_deref().map(|r| format!(", assuming {r}")).unwrap_or_default()
            )))
        }),
    }
}

/// As `each`, with each target reached by `reach` (a target connected earlier, or why not).
pub async fn each_reached<T, R, RFut, F, Fut>(
    targets: &[Target],
    options: &FleetOptions,
    reach: R,
    work: F,
) -> Vec<Ran<T>>
where
    R: Fn(usize) -> RFut,
    RFut: std::future::Future<Output = Result<Arc<Connected>>>,
    F: Fn(usize, Arc<Connected>) -> Fut,
    Fut: std::future::Future<Output = (T, bool)>,
{
    let (work, reach) = (&work, &reach);
    // Every line a target logs says which target it is: `target{name=prod-eu}: ...`.
    let one = |i: usize| {
        tracing::Instrument::instrument(
            one_target(reach, work, i),
            tracing::info_span!("target", name = %targets[i].name),
        )
    };
    let strip = |(ran, secs): OneRan<T>| Some((ran.map(|(c, t, _)| (c, t)), secs));
    if options.sequential {
        let mut out = Vec::new();
        let mut failed = false;
        for i in 0..targets.len() {
            if failed {
                out.push(None);
                continue;
            }
            let (ran, secs) = one(i).await;
            failed = !matches!(&ran, Ok((_, _, true)));
            out.push(strip((ran, secs)));
        }
        return out;
    }
    let mut limits: BTreeMap<String, Arc<Semaphore>> = BTreeMap::new();
    let runs = (0..targets.len()).map(|i| {
        let region = targets[i].region.clone().unwrap_or_default();
        let limit = limits
            .entry(region)
            .or_insert_with(|| Arc::new(Semaphore::new(options.per_region.max(1))))
            .clone();
        async move {
            let _permit = limit.acquire_owned().await.ok();
            one(i).await
        }
    });
    futures_util::future::join_all(runs)
        .await
        .into_iter()
        .map(strip)
        .collect()
}

/// Every target's deploy plan (see `plan_for`); a log region given for all is refused, as each
/// target logs to its own.
pub fn plans(
    targets: &[Target],
    make: &dyn Fn(&str, &[String]) -> DeployPlan,
) -> Result<Vec<DeployPlan>> {
    targets.iter().map(|t| plan_for(t, make)).collect()
}

/// What `one_target` gives: the connected target, what `work` returned and whether it went well.
type OneRan<T> = (std::result::Result<(Arc<Connected>, T, bool), Error>, f64);

/// One target reached, then its `work`; whether it went well, and how long it took.
async fn one_target<T, R, RFut, F, Fut>(reach: &R, work: &F, i: usize) -> OneRan<T>
where
    R: Fn(usize) -> RFut,
    RFut: std::future::Future<Output = Result<Arc<Connected>>>,
    F: Fn(usize, Arc<Connected>) -> Fut,
    Fut: std::future::Future<Output = (T, bool)>,
{
    let since = Instant::now();
    let ran = match reach(i).await {
        Err(e) => Err(e),
        Ok(connected) => {
            let (done, ok) = work(i, connected.clone()).await;
            Ok((connected, done, ok))
        }
    };
    (ran, since.elapsed().as_secs_f64())
}

/// Each target's deploy plan: the target's cluster and services, its env and secrets after the
/// command line's, its desired count, and awslogs pinned to its own region.
pub fn plan_for(
    target: &Target,
    make: &dyn Fn(&str, &[String]) -> DeployPlan,
) -> Result<DeployPlan> {
    let cluster = target.cluster.as_deref().ok_or_else(|| {
        Error::input(format!(
            "target `{}` has no cluster: give --cluster, or `cluster` in the targets file",
            target.name
        ))
    })?;
    if target.services.is_empty() {
        return Err(Error::input(format!(
            "target `{}` has no service: give --service, or `services` in the targets file",
            target.name
        )));
    }
    let mut plan = make(cluster, &target.services);
    let bad =
        |what: &str, e: String| Error::input(format!("target `{}`: bad {what}: {e}", target.name));
    let env = target
        .env
        .iter()
        .map(|e| overrides::parse_targeted_pair(e).map_err(|m| bad("env", m)))
        .collect::<Result<Vec<_>>>()?;
    let secrets = target
        .secrets
        .iter()
        .map(|e| overrides::parse_targeted_pair(e).map_err(|m| bad("secret", m)))
        .collect::<Result<Vec<_>>>()?;
    for service in &mut plan.services {
        service.changes.overrides.env.extend(env.iter().cloned());
        service
            .changes
            .overrides
            .secrets
            .extend(secrets.iter().cloned());
        if service.changes.log_region.is_some() && target.region.is_some() {
            return Err(Error::input(format!(
                "--log-region with several targets: each target's containers log to its own region ({} for `{}`); leave --log-region out",
                target.region.as_deref().unwrap_or_default(),
                target.name
            )));
        }
        service.changes.pin_log_region = true;
    }
    if target.desired_count.is_some() {
        plan.update.desired_count = target.desired_count;
    }
    Ok(plan)
}

/// One row of the verdict table: a service of a target.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub target: String,
    pub service: String,
    pub revision: Option<String>,
    pub verdict: String,
    pub reason: Option<String>,
    pub seconds: f64,
}

/// One target's deploy.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    pub target: String,
    pub region: Option<String>,
    pub account: Option<String>,
    pub verdict: String,
    pub exit_code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub seconds: f64,
    /// How the image got into the target's registry (a release).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeployResult>,
}

/// A deploy to several targets.
#[derive(Debug, Clone, Serialize)]
pub struct FleetResult {
    pub verdict: String,
    pub exit_code: u8,
    pub rows: Vec<Row>,
    pub targets: Vec<TargetReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rolled_back: Vec<String>,
    pub seconds: f64,
}

pub struct FleetDeployed {
    pub result: FleetResult,
    pub failure: Option<Error>,
}

/// The deploy engine in every target; one verdict table, the worst exit code, and with
/// `--rollback-on-failure all` the targets that went well sent back when another failed.
pub async fn deploy(
    session: &Session,
    targets: &[Target],
    plans: &[DeployPlan],
    options: &FleetOptions,
) -> FleetDeployed {
    let outcomes = each(session, targets, options, |i, connected| async move {
        // --timeout bounds the target as a whole: what reaching it took is spent.
        let mut plan = plans[i].clone();
        plan.wait.timeout = plan.wait.timeout.saturating_sub(connected.since.elapsed());
        match deploy::deploy(&connected.session, &plan).await {
            Ok(d) => {
                let ok = d.failure.is_none();
                (Ok((None, d)), ok)
            }
            Err(e) => (Err(e), false),
        }
    })
    .await;
    deployed(targets, plans, outcomes).await
}

/// What a target's deploy gave: a note of how the image got there (a release), and the deploy.
pub type TargetDeploy = Result<(Option<String>, deploy::Deployed)>;

/// The table of every target's deploy, the worst exit code, and with `--rollback-on-failure all`
/// the targets that went well sent back when another failed.
pub async fn deployed(
    targets: &[Target],
    plans: &[DeployPlan],
    outcomes: Vec<Ran<TargetDeploy>>,
) -> FleetDeployed {
    let start = Instant::now();
    let mut reports = Vec::new();
    let mut sessions = Vec::new();
    let mut seconds: f64 = 0.0;
    for (target, outcome) in targets.iter().zip(outcomes) {
        let (report, connected) = target_report(target, outcome);
        seconds = seconds.max(report.seconds);
        reports.push(report);
        sessions.push(connected);
    }
    let scope = plans.first().and_then(|p| p.rollback);
    let mut rolled_back = Vec::new();
    if scope == Some(RollbackScope::All) && reports.iter().any(|r| r.exit_code != 0) {
        for ((report, connected), plan) in reports.iter_mut().zip(&sessions).zip(plans) {
            let (Some(connected), Some(result)) = (connected, report.deploy.as_mut()) else {
                continue;
            };
            if report.exit_code != 0 || !result.any_updated() {
                continue;
            }
            warn!(
                "rolling back target `{}`: another target failed (--rollback-on-failure all)",
                report.target
            );
            let why = "another target failed (--rollback-on-failure all)";
            let said = deploy::roll_back_everything(&connected.session, plan, result, why).await;
            report.error = Some(said.to_string());
            report.verdict = "rolled_back".to_owned();
            rolled_back.push(report.target.clone());
        }
    }
    let rows = rows_of(&reports);
    let exit_code = targets::worst_exit(reports.iter().map(|r| r.exit_code));
    let verdict =
        targets::fleet_verdict(reports.iter().map(|r| r.verdict.as_str()), exit_code).to_owned();
    let failure = failure_of(&reports, exit_code);
    FleetDeployed {
        result: FleetResult {
            verdict,
            exit_code,
            rows,
            targets: reports,
            rolled_back,
            seconds: seconds + start.elapsed().as_secs_f64(),
        },
        failure,
    }
}

/// Every target not deployed, for the same reason (a release that failed before them).
pub fn not_deployed(targets: &[Target], why: &str, exit_code: u8) -> FleetResult {
    let reports: Vec<TargetReport> = targets
        .iter()
        .map(|t| TargetReport {
            target: t.name.clone(),
            region: t.region.clone(),
            account: t
                .role_arn
                .as_deref()
                .and_then(targets::role_account)
                .map(str::to_owned),
            verdict: "not_deployed".to_owned(),
            exit_code: 0,
            error: Some(why.to_owned()),
            seconds: 0.0,
            image: None,
            deploy: None,
        })
        .collect();
    FleetResult {
        verdict: targets::fleet_verdict(std::iter::empty(), exit_code).to_owned(),
        exit_code,
        rows: rows_of(&reports),
        targets: reports,
        rolled_back: Vec::new(),
        seconds: 0.0,
    }
}

fn target_report(
    target: &Target,
    outcome: Ran<TargetDeploy>,
) -> (TargetReport, Option<Arc<Connected>>) {
    let mut report = TargetReport {
        target: target.name.clone(),
        region: target.region.clone(),
        account: target
            .role_arn
            .as_deref()
            .and_then(targets::role_account)
            .map(str::to_owned),
        verdict: "skipped".to_owned(),
        exit_code: 0,
        error: None,
        seconds: 0.0,
        image: None,
        deploy: None,
    };
    let Some((ran, seconds)) = outcome else {
        report.error = Some("not deployed: an earlier target failed (--sequential)".to_owned());
        return (report, None);
    };
    report.seconds = seconds;
    let fail = |report: &mut TargetReport, e: &Error| {
        report.exit_code = e.exit_code();
        report.error = Some(e.chain().to_string().replace("\n  caused by: ", ": "));
    };
    match ran {
        Err(e) => {
            fail(&mut report, &e);
            report.verdict = deploy::verdict_of_failure(&e).as_str().to_owned();
            (report, None)
        }
        Ok((connected, deployed)) => {
            report.region = Some(connected.region.clone());
            report.account = Some(connected.account.clone());
            match deployed {
                Err(e) => {
                    fail(&mut report, &e);
                    report.verdict = deploy::verdict_of_failure(&e).as_str().to_owned();
                }
                Ok((image, d)) => {
                    report.image = image;
                    report.verdict = d.result.verdict.as_str().to_owned();
                    if let Some(e) = &d.failure {
                        fail(&mut report, e);
                    }
                    report.deploy = Some(d.result);
                }
            }
            (report, Some(connected))
        }
    }
}

/// The table: a row per service of every target; a target that never reached its services has
/// one row for each it would have deployed.
fn rows_of(reports: &[TargetReport]) -> Vec<Row> {
    let mut rows = Vec::new();
    for r in reports {
        let Some(d) = &r.deploy else {
            rows.push(Row {
                target: r.target.clone(),
                service: "-".to_owned(),
                revision: None,
                verdict: r.verdict.clone(),
                reason: r.error.clone(),
                seconds: r.seconds,
            });
            continue;
        };
        for s in &d.services {
            let waited = d
                .wait
                .as_ref()
                .and_then(|w| w.services.iter().find(|w| w.service == s.service));
            let verdict = if r.verdict == "rolled_back" {
                "rolled_back".to_owned()
            } else {
                waited.map_or_else(
                    || d.verdict.as_str().to_owned(),
                    |w| w.verdict.as_str().to_owned(),
                )
            };
            let reason = waited.and_then(|w| w.reason.clone()).or_else(|| {
                (r.exit_code != 0 || r.verdict == "rolled_back")
                    .then(|| r.error.clone())
                    .flatten()
            });
            rows.push(Row {
                target: r.target.clone(),
                service: s.service.clone(),
                revision: s.task_definition.arn.clone(),
                verdict,
                reason,
                seconds: r.seconds,
            });
        }
    }
    rows
}

/// The error the run ends with: the worst exit code, naming every target that failed.
fn failure_of(reports: &[TargetReport], exit_code: u8) -> Option<Error> {
    if exit_code == 0 {
        return None;
    }
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| r.exit_code != 0)
        .map(|r| {
            format!(
                "`{}` ({}): {}",
                r.target,
                r.verdict,
                r.error.as_deref().unwrap_or("failed")
            )
        })
        .collect();
    let message = format!(
        "{} of {} targets failed: {}",
        failed.len(),
        reports.len(),
        failed.join("; ")
    );
    Some(Error::with_exit_code(exit_code, message))
}

/// A cell of the table: what AWS said kept on one line, cut to `max` characters.
fn cell(text: &str, max: usize) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max {
        one
    } else {
        let cut: String = one.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

impl fmt::Display for FleetResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = |get: &dyn Fn(&Row) -> usize, min: usize| {
            self.rows.iter().map(get).max().unwrap_or(0).max(min)
        };
        let tw = width(&|r| r.target.chars().count(), 6);
        let sw = width(&|r| r.service.chars().count(), 7);
        let rw = width(
            &|r| r.revision.as_deref().map_or(1, |a| short_arn(a).len()),
            8,
        );
        writeln!(
            f,
            "{:<tw$}  {:<sw$}  {:<rw$}  {:<11}  {:>7}  REASON",
            "TARGET", "SERVICE", "REVISION", "VERDICT", "SECONDS"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<tw$}  {:<sw$}  {:<rw$}  {:<11}  {:>7.1}  {}",
                r.target,
                r.service,
                r.revision.as_deref().map_or("-", short_arn),
                r.verdict,
                r.seconds,
                r.reason
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), |t| cell(t, 160)),
            )?;
        }
        if !self.rolled_back.is_empty() {
            writeln!(
                f,
                "rolled back (another target failed): {}",
                self.rolled_back.join(", ")
            )?;
        }
        writeln!(
            f,
            "verdict {} ({} targets, {:.1}s)",
            self.verdict,
            self.targets.len(),
            self.seconds
        )
    }
}

impl crate::output::Report for FleetResult {
    fn outputs(&self) -> Vec<(&'static str, String)> {
        let table = serde_json::to_string(&self.rows).unwrap_or_default();
        vec![
            ("verdict", self.verdict.clone()),
            ("targets", self.targets.len().to_string()),
            (
                "failed-targets",
                self.targets
                    .iter()
                    .filter(|t| t.exit_code != 0)
                    .map(|t| t.target.clone())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("verdicts", table),
        ]
    }

    fn summary(&self) -> Option<String> {
        Some(summary_markdown(self))
    }
}

/// The job summary: the verdict, then the table (each cell escaped for Markdown).
fn summary_markdown(r: &FleetResult) -> String {
    let mark = if r.exit_code == 0 { "✅" } else { "❌" };
    let esc = |t: &str| {
        cell(t, 300)
            .replace('|', "\\|")
            .replace('<', "&lt;")
            .replace('`', "'")
    };
    let mut md = format!(
        "### {mark} ecs-ship deploy to {} targets: {}\n\n| target | service | revision | verdict | reason | seconds |\n|---|---|---|---|---|---|\n",
        r.targets.len(),
        r.verdict
    );
    for row in &r.rows {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.1} |\n",
            esc(&row.target),
            esc(&row.service),
            row.revision
                .as_deref()
                .map_or("-".to_owned(), |a| esc(short_arn(a))),
            esc(&row.verdict),
            row.reason.as_deref().map_or("-".to_owned(), esc),
            row.seconds
        ));
    }
    md
}

/// `status` of several targets: each target's report, or why it could not be read.
#[derive(Debug, Serialize)]
pub struct FleetStatus {
    pub targets: Vec<TargetStatus>,
}

#[derive(Debug, Serialize)]
pub struct TargetStatus {
    pub target: String,
    pub region: Option<String>,
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusReport>,
}

impl fmt::Display for FleetStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in &self.targets {
            let account = t.account.as_deref().unwrap_or("?");
            let region = t.region.as_deref().unwrap_or("?");
            writeln!(f, "== target {} (account {account}, {region})", t.target)?;
            match (&t.status, &t.error) {
                (Some(status), error) => {
                    write!(f, "{status}")?;
                    if let Some(e) = error {
                        writeln!(f, "error: {e}")?;
                    }
                }
                (None, Some(e)) => writeln!(f, "error: {e}")?,
                (None, None) => {}
            }
        }
        Ok(())
    }
}

impl crate::output::Report for FleetStatus {}

/// Every target names a cluster and services to read.
pub fn check_readable(targets: &[Target]) -> Result<()> {
    for t in targets {
        if t.cluster.is_none() || t.services.is_empty() {
            return Err(Error::input(format!(
                "target `{}` has no cluster or no service: give --cluster and --service, or `cluster` and `services` in the targets file",
                t.name
            )));
        }
    }
    Ok(())
}

/// Reads every target's services; a target that cannot be read is its own error, the worst
/// exit code of all is the run's.
pub async fn status(
    session: &Session,
    targets: &[Target],
    options: &FleetOptions,
) -> (FleetStatus, Option<Error>) {
    let outcomes = each(session, targets, options, |i, connected| async move {
        let target = &targets[i];
        let cluster = target.cluster.clone().unwrap_or_default();
        let read = super::status::status(&connected.session, &cluster, &target.services).await;
        let ok = matches!(&read, Ok((_, None)));
        (read, ok)
    })
    .await;
    let mut out = Vec::new();
    let mut codes = Vec::new();
    for (target, outcome) in targets.iter().zip(outcomes) {
        let mut t = TargetStatus {
            target: target.name.clone(),
            region: target.region.clone(),
            account: None,
            error: None,
            status: None,
        };
        let one_line = |e: &Error| e.chain().to_string().replace("\n  caused by: ", ": ");
        match outcome {
            None => t.error = Some("not read: an earlier target failed".to_owned()),
            Some((Err(e), _)) => {
                codes.push(e.exit_code());
                t.error = Some(one_line(&e));
            }
            Some((Ok((connected, read)), _)) => {
                t.region = Some(connected.region.clone());
                t.account = Some(connected.account.clone());
                match read {
                    Err(e) => {
                        codes.push(e.exit_code());
                        t.error = Some(one_line(&e));
                    }
                    Ok((report, failure)) => {
                        if let Some(e) = failure {
                            codes.push(e.exit_code());
                            t.error = Some(one_line(&e));
                        }
                        t.status = Some(report);
                    }
                }
            }
        }
        out.push(t);
    }
    let exit_code = targets::worst_exit(codes);
    let failed: Vec<String> = out
        .iter()
        .filter_map(|t| t.error.as_ref().map(|e| format!("`{}`: {e}", t.target)))
        .collect();
    let failure = (exit_code != 0).then(|| {
        let message = format!(
            "{} of {} targets could not be read: {}",
            failed.len(),
            out.len(),
            failed.join("; ")
        );
        Error::with_exit_code(exit_code, message)
    });
    (FleetStatus { targets: out }, failure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Report;

    fn report(name: &str, verdict: &str, exit_code: u8, error: Option<&str>) -> TargetReport {
        TargetReport {
            target: name.into(),
            region: Some("us-east-1".into()),
            account: Some("123456789012".into()),
            verdict: verdict.into(),
            exit_code,
            error: error.map(str::to_owned),
            seconds: 1.5,
            image: None,
            deploy: None,
        }
    }

    #[test]
    fn the_run_fails_with_the_worst_exit_code_naming_every_failed_target() {
        let reports = [
            report("staging", "stable", 0, None),
            report("prod-eu", "failed", 4, Some("service web rolled back")),
            report(
                "prod-us",
                "failed",
                3,
                Some("AccessDenied assuming the role"),
            ),
        ];
        let e = failure_of(&reports, 4).unwrap();
        assert_eq!(e.exit_code(), 4);
        let said = e.to_string();
        assert!(said.starts_with("2 of 3 targets failed"), "{said}");
        assert!(
            said.contains("`prod-eu` (failed): service web rolled back"),
            "{said}"
        );
        assert!(said.contains("`prod-us` (failed): AccessDenied"), "{said}");
        assert!(failure_of(&reports[..1], 0).is_none());
        assert_eq!(failure_of(&reports, 130).unwrap().exit_code(), 130);
    }

    #[test]
    fn a_target_that_never_reached_its_services_is_one_row() {
        let rows = rows_of(&[report(
            "nobody",
            "failed",
            2,
            Some("profile `nope` not found"),
        )]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].service, "-");
        assert_eq!(rows[0].reason.as_deref(), Some("profile `nope` not found"));
    }

    #[test]
    fn the_step_summary_table_cannot_be_broken_by_what_aws_said() {
        let result = FleetResult {
            verdict: "failed".into(),
            exit_code: 4,
            rows: vec![Row {
                target: "prod|eu".into(),
                service: "web".into(),
                revision: Some("arn:aws:ecs:eu-west-1:1:task-definition/web:3".into()),
                verdict: "failed".into(),
                reason: Some("tasks failed: <img src=x> | `x`\nnext line".into()),
                seconds: 2.0,
            }],
            targets: vec![report("prod|eu", "failed", 4, None)],
            rolled_back: vec![],
            seconds: 2.0,
        };
        let md = result.summary().unwrap();
        let row = md.lines().last().unwrap();
        assert_eq!(row.matches(" | ").count(), 5, "{row}");
        assert!(row.contains("prod\\|eu"), "{row}");
        assert!(row.contains("&lt;img"), "{row}");
        assert!(!row.contains('`'), "{row}");
        let outputs = result.outputs();
        assert!(outputs.contains(&("failed-targets", "prod|eu".to_owned())));
        let verdicts = &outputs.iter().find(|(k, _)| *k == "verdicts").unwrap().1;
        let parsed: serde_json::Value = serde_json::from_str(verdicts).unwrap();
        assert_eq!(parsed[0]["verdict"], "failed");
        let text = result.to_string();
        assert!(
            text.contains("tasks failed: <img src=x> | `x` next line"),
            "{text}"
        );
    }
}
