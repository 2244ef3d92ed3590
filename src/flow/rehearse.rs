//! The pre-release rehearsal on a developer's machine. It changes nothing in AWS: it builds the
//! image (or takes one), renders the task definition that would be registered and diffs it against
//! what runs now, then runs the container on the local engine as ECS would and waits until it is
//! healthy - or reports why not (exit code, health check, the last log lines). Whatever it started
//! is removed at the end, also on failure, Ctrl-C and SIGTERM.

use std::fmt;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use tracing::{info, warn};

use super::Session;
use super::image::{self, BuildRequest};
use super::taskdef::{self, Changes, Source};
use crate::core::image_ref::ImageRef;
use crate::core::rehearsal::{self, Judgement, Observed, SecretUse};
use crate::core::taskdef::{self as td, ImageSpec, TaskDef};
use crate::docker::Engine;
use crate::docker::run::{self, Network};
use crate::error::{Error, Result};
use crate::signal;

/// How to network the containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkChoice {
    /// Bridge with published ports when the engine has a bridge network, else host.
    Auto,
    Host,
    Bridge,
}

#[derive(Debug, Clone)]
pub struct RehearsePlan {
    /// Build this, unless `image` is given.
    pub build: Option<BuildRequest>,
    pub image: Option<String>,
    /// The task definition to render (a file, or the live service's revision).
    pub source: Source,
    /// What runs now, to diff against (the live service), when `source` is a file.
    pub running: Option<Source>,
    pub container: Option<String>,
    pub secrets: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
    pub health_url: Option<String>,
    pub network: NetworkChoice,
    /// How long the container may take to become healthy.
    pub timeout: Duration,
    /// Without a health check or URL: how long it must stay up.
    pub settle: Duration,
    pub changes: Changes,
}

#[derive(Debug, Serialize)]
pub struct RehearsalResult {
    pub image: String,
    pub container: String,
    /// healthy, failed, timed_out, interrupted.
    pub verdict: String,
    pub reason: Option<String>,
    pub seconds_to_healthy: Option<f64>,
    pub exit_code: Option<i64>,
    pub last_log_lines: Vec<String>,
    pub network: String,
    pub started: Vec<String>,
    /// Containers not run (their image is not on the local engine).
    pub skipped: Vec<String>,
    pub secrets: Vec<SecretUse>,
    pub not_reproduced: Vec<String>,
    /// The task definition that would be registered.
    pub task_definition: TaskDef,
    pub diff_against: String,
    pub diff: String,
    /// Whether everything it started is gone again.
    pub cleaned_up: bool,
}

impl fmt::Display for RehearsalResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.diff.is_empty() {
            writeln!(
                f,
                "# the task definition is identical to {}",
                self.diff_against
            )?;
        } else {
            write!(f, "{}", self.diff)?;
            if !self.diff.ends_with('\n') {
                writeln!(f)?;
            }
        }
        for s in &self.secrets {
            let how = if s.given {
                "given with --secret"
            } else {
                "placeholder"
            };
            writeln!(
                f,
                "secret    {} of `{}` from {} ({how})",
                s.name, s.container, s.value_from
            )?;
        }
        for n in &self.not_reproduced {
            writeln!(f, "note      not reproduced locally: {n}")?;
        }
        for s in &self.skipped {
            writeln!(f, "note      not started: {s}")?;
        }
        match (&self.verdict[..], self.seconds_to_healthy) {
            ("healthy", Some(secs)) => writeln!(
                f,
                "rehearsal `{}` ({}): healthy after {secs:.1}s on the {} network",
                self.container, self.image, self.network
            )?,
            (verdict, _) => writeln!(
                f,
                "rehearsal `{}` ({}): {verdict}: {}",
                self.container,
                self.image,
                self.reason.as_deref().unwrap_or("")
            )?,
        }
        if !self.last_log_lines.is_empty() {
            writeln!(f, "---- last {} log lines ----", self.last_log_lines.len())?;
            for line in &self.last_log_lines {
                writeln!(f, "| {line}")?;
            }
            writeln!(f, "---- end of log ----")?;
        }
        if !self.cleaned_up {
            writeln!(
                f,
                "warning: some containers could not be removed: docker rm -f {}",
                self.started.join(" ")
            )?;
        }
        Ok(())
    }
}

pub struct Rehearsed {
    pub result: RehearsalResult,
    pub failure: Option<Error>,
}

/// The image to rehearse: given, or built now (the state file is left alone).
async fn image_for(
    session: &Session,
    plan: &RehearsePlan,
    loaded: &taskdef::Loaded,
) -> Result<String> {
    if let Some(image) = &plan.image {
        ImageRef::parse(image).map_err(|e| Error::input_with("invalid --image", e))?;
        return Ok(image.clone());
    }
    let Some(build) = &plan.build else {
        return Err(Error::input(
            "nothing to rehearse: pass --context DIR or --image IMAGE",
        ));
    };
    let mut build = build.clone();
    if build.platform.as_deref().is_some_and(|p| p.contains(',')) {
        return Err(Error::input(
            "rehearse runs the image on this engine: give one --platform (several make an index, for release or build)",
        ));
    }
    if build.platform.is_none() {
        build.platform = image::platform_for_tasks([(loaded.label.as_str(), &loaded.document)])?;
    }
    let resolved = image::resolve(&build, Utc::now())?;
    let built = image::build(session, resolved, None, None).await?;
    built
        .references
        .first()
        .cloned()
        .ok_or_else(|| Error::internal("the build named no image"))
}

/// Renders what would be registered, and the diff against what runs now (or the source).
async fn render(
    session: &Session,
    plan: &RehearsePlan,
    loaded: taskdef::Loaded,
    image: &str,
) -> Result<(TaskDef, String, String)> {
    let names = td::container_names(&loaded.document);
    let container = match (&plan.container, names.as_slice()) {
        (Some(c), _) => c.clone(),
        (None, [only]) => only.clone(),
        (None, _) => {
            return Err(Error::input(format!(
                "the task definition has several containers ({}): name the one to rehearse with --container",
                names.join(", ")
            )));
        }
    };
    let mut changes = plan.changes.clone();
    changes.images.push(ImageSpec {
        container: Some(container),
        image: ImageRef::parse(image).map_err(|e| Error::input_with("invalid image", e))?,
    });
    if changes.log_region.is_none() && session.known_region().is_none() {
        // Offline, with no region: the rendering shows where the region goes instead of failing.
        changes.log_region = Some("<region>".to_owned());
    }
    let prepared = taskdef::prepare_loaded(session, loaded, &changes).await?;
    let (label, before) = match &plan.running {
        Some(running) => {
            let now = taskdef::load(session, running).await?;
            (now.label, now.document)
        }
        None => (
            prepared.source.label.clone(),
            prepared.source.document.clone(),
        ),
    };
    let diff = taskdef::compare(
        &label,
        &before,
        "rehearsed",
        &prepared.document,
        session.show_values,
    )
    .diff;
    Ok((prepared.document, label, diff))
}

/// Everything the rehearsal started, removed; true when all of it is gone.
async fn clean_up(engine: &Engine, started: &[String], run_id: &str) -> bool {
    let mut ids: Vec<String> = started.to_vec();
    if let Ok(labelled) = run::labelled(engine, run_id).await {
        for id in labelled {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let mut ok = true;
    // Sidecars first: they share the main container's network namespace.
    for id in ids.iter().rev() {
        if let Err(e) = run::remove(engine, id).await {
            warn!("{}", e.chain());
            ok = false;
        }
    }
    ok
}

async fn url_ok(client: &reqwest::Client, url: &str) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(2), client.get(url).send()).await,
        Ok(Ok(r)) if r.status().is_success()
    )
}

/// Starts the main container, then each other container whose image the engine has, on its
/// network; the main container's id and the essential others' (name, id).
async fn start_all(
    engine: &Engine,
    rehearsal: &rehearsal::Plan,
    network: &Network,
    run_id: &str,
    started: &mut Vec<String>,
    skipped: &mut Vec<String>,
) -> Result<(String, Vec<(String, String)>)> {
    let main_name = format!("ecs-ship-rehearsal-{run_id}-{}", rehearsal.main.name);
    let main_id = run::start(engine, &rehearsal.main, &main_name, network, run_id).await?;
    started.push(main_id.clone());
    let mut essentials = Vec::new();
    for other in &rehearsal.others {
        if !run::image_exists(engine, &other.image).await? {
            skipped.push(format!(
                "container `{}`: image `{}` is not on the local engine",
                other.name, other.image
            ));
            continue;
        }
        let side_network = match network {
            Network::Host => Network::Host,
            _ => Network::Container(main_id.clone()),
        };
        let name = format!("ecs-ship-rehearsal-{run_id}-{}", other.name);
        let id = run::start(engine, other, &name, &side_network, run_id).await?;
        started.push(id.clone());
        if other.essential {
            essentials.push((other.name.clone(), id));
        }
    }
    Ok((main_id, essentials))
}

/// The run itself: start, observe, judge. Returns the judgement, when it was reached, and the
/// container whose logs tell why.
async fn observe(
    engine: &Engine,
    plan: &RehearsePlan,
    rehearsal: &rehearsal::Plan,
    network: &Network,
    run_id: &str,
    started: &mut Vec<String>,
    skipped: &mut Vec<String>,
) -> Result<(Judgement, f64, String)> {
    let (main_id, essentials) =
        start_all(engine, rehearsal, network, run_id, started, skipped).await?;
    info!(
        "started `{}` from {} on the {} network; waiting up to {} for it to be healthy",
        rehearsal.main.name,
        rehearsal.main.image,
        match network {
            Network::Host => "host",
            _ => "bridge",
        },
        humantime::format_duration(plan.timeout)
    );
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(1))
        .build()
        .map_err(|e| Error::internal_with("failed to set up the HTTP client", e))?;
    let start = Instant::now();
    let mut last_health = None;
    loop {
        let state = run::state(engine, &main_id).await?;
        if state.health != last_health {
            if let Some(h) = &state.health {
                info!("health: {h}");
            }
            last_health = state.health.clone();
        }
        let mut essential_exited = None;
        for (name, id) in &essentials {
            let s = run::state(engine, id).await?;
            if !s.running {
                essential_exited = Some((name.clone(), s.exit_code.unwrap_or(-1)));
                break;
            }
        }
        let url = match (&plan.health_url, state.running) {
            (Some(u), true) => Some(url_ok(&client, u).await),
            (Some(_), false) => Some(false),
            (None, _) => None,
        };
        let observed = Observed {
            exited: (!state.running).then(|| state.exit_code.unwrap_or(-1)),
            health: state.health.clone(),
            essential_exited,
            url_ok: url,
            elapsed: start.elapsed().as_secs_f64(),
        };
        let judgement = rehearsal::judge(
            &observed,
            rehearsal.main.health.is_some(),
            plan.settle.as_secs_f64(),
        );
        let culprit = match &observed.essential_exited {
            Some((name, _)) => essentials
                .iter()
                .find(|(n, _)| n == name)
                .map_or(main_id.clone(), |(_, id)| id.clone()),
            None => main_id.clone(),
        };
        match judgement {
            Judgement::Waiting if start.elapsed() < plan.timeout => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Judgement::Waiting => {
                let why = match (&state.health, url) {
                    (Some(h), _) if h != "healthy" => format!("its health check is still `{h}`"),
                    (_, Some(false)) => format!(
                        "{} never answered 2xx",
                        plan.health_url.as_deref().unwrap_or_default()
                    ),
                    _ => "it did not become healthy".to_owned(),
                };
                return Ok((
                    Judgement::Failed(format!(
                        "timed out after {}: {why}",
                        humantime::format_duration(plan.timeout)
                    )),
                    start.elapsed().as_secs_f64(),
                    culprit,
                ));
            }
            other => return Ok((other, start.elapsed().as_secs_f64(), culprit)),
        }
    }
}

/// The verdict, reason, seconds to healthy, the container to blame and the error, from how
/// observing ended.
fn ending(
    outcome: std::result::Result<Result<(Judgement, f64, String)>, signal::Signal>,
    main: &str,
    started: &[String],
) -> Ending {
    match outcome {
        Ok(Ok((Judgement::Healthy, secs, _))) => ("healthy", None, Some(secs), None, None),
        Ok(Ok((Judgement::Failed(why), _, culprit))) => {
            let timed_out = why.starts_with("timed out");
            let error = if timed_out {
                Error::TimedOut(format!("rehearsal of `{}`: {why}", main))
            } else {
                Error::RolloutFailed(format!("rehearsal of `{}` failed: {why}", main))
            };
            let verdict = if timed_out { "timed_out" } else { "failed" };
            (verdict, Some(why), None, Some(culprit), Some(error))
        }
        Ok(Ok((Judgement::Waiting, ..))) => unreachable!("observe ends only on a verdict"),
        Ok(Err(e)) => (
            "failed",
            Some(e.to_string()),
            None,
            started.first().cloned(),
            Some(e),
        ),
        Err(sig) => {
            warn!("{}: removing the rehearsal's containers", sig.error());
            (
                "interrupted",
                Some(sig.error().to_string()),
                None,
                None,
                Some(sig.error()),
            )
        }
    }
}

/// The blamed container's exit code and last log lines.
async fn culprit_state(engine: &Engine, id: &str) -> (Option<i64>, Vec<String>) {
    let exit_code = run::state(engine, id).await.ok().and_then(|s| s.exit_code);
    let lines = match run::tail(engine, id, 20).await {
        Ok(lines) => lines,
        Err(e) => {
            warn!("no log lines: {}", e.chain());
            Vec::new()
        }
    };
    (exit_code, lines)
}

/// How a rehearsal ended: verdict, reason, seconds to healthy, the container to blame, the error.
type Ending = (
    &'static str,
    Option<String>,
    Option<f64>,
    Option<String>,
    Option<Error>,
);

/// Runs the rehearsal. `Err` is a failure before anything was started (a bad input, a build that
/// failed, an engine that cannot be reached).
pub async fn rehearse(session: &Session, plan: &RehearsePlan) -> Result<Rehearsed> {
    let loaded = taskdef::load(session, &plan.source).await?;
    let image = image_for(session, plan, &loaded).await?;
    let (document, diff_against, diff) = render(session, plan, loaded, &image).await?;
    let rehearsal = rehearsal::plan(
        &document,
        plan.container.as_deref(),
        &plan.secrets,
        &plan.env,
    )
    .map_err(|e| Error::input_with(e.to_string(), e))?;
    for s in &rehearsal.secrets {
        if !s.given {
            info!(
                "secret {} of `{}` ({}) is not fetched: it gets a placeholder (--secret {}=VALUE to give one)",
                s.name, s.container, s.value_from, s.name
            );
        }
    }
    let engine = session.engine().await?;
    let network = match plan.network {
        NetworkChoice::Host => Network::Host,
        NetworkChoice::Bridge => Network::Bridge,
        NetworkChoice::Auto if run::has_network(&engine, "bridge").await? => Network::Bridge,
        NetworkChoice::Auto => {
            info!("the engine has no bridge network: using the host's network");
            Network::Host
        }
    };
    let run_id = format!("{}-{}", std::process::id(), Utc::now().timestamp_millis());
    let mut started = Vec::new();
    let mut skipped = Vec::new();
    let outcome = tokio::select! {
        r = observe(&engine, plan, &rehearsal, &network, &run_id, &mut started, &mut skipped) => Ok(r),
        s = signal::cancelled() => Err(s),
    };
    let (verdict, reason, seconds, culprit, failure) =
        ending(outcome, &rehearsal.main.name, &started);
    let (exit_code, last_log_lines) = match &culprit {
        Some(id) => culprit_state(&engine, id).await,
        None => (None, Vec::new()),
    };
    let cleaned_up = clean_up(&engine, &started, &run_id).await;
    Ok(Rehearsed {
        result: RehearsalResult {
            image,
            container: rehearsal.main.name.clone(),
            verdict: verdict.to_owned(),
            reason,
            seconds_to_healthy: seconds,
            exit_code,
            last_log_lines,
            network: match network {
                Network::Host => "host".to_owned(),
                _ => "bridge".to_owned(),
            },
            started,
            skipped,
            secrets: rehearsal.secrets,
            not_reproduced: rehearsal.not_reproduced,
            task_definition: if session.show_values {
                document
            } else {
                crate::core::mask::masked(&document)
            },
            diff_against,
            diff,
            cleaned_up,
        },
        failure,
    })
}

impl crate::output::Report for RehearsalResult {}
