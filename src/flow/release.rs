//! The release in one command: check the target, build, push (verified digest), write
//! imagedefinitions.json, register the task definition with the image pinned by digest and logs
//! guaranteed, update the service and wait (and verify). Each step is one of the shared flows; this
//! module only sequences them, times them, and reports what was done when one fails.
//!
//! A re-run does not redo what is done: when the state file records an image built from the same
//! context and options and pushed with a verified digest that the registry still holds, build and
//! push are skipped (unless `rebuild`), and an identical task definition is reused as `deploy` does.

use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

use chrono::Utc;
use serde::Serialize;
use tracing::{debug, info, warn};

use super::Session;
use super::artifacts::{self, ArtifactsResult};
use super::image::{self, BuildRequest, BuildResult, PushRequest, PushResult};
use super::rollout::{self, DeployPlan, DeployResult};
use super::task::{self, RunFrom, RunPlan, RunReport};
use super::taskdef::Loaded;
use crate::aws::ecs::ServiceInfo;
use crate::core::image_ref::ImageRef;
use crate::core::rollout::{ServiceVerdict, short_arn};
use crate::core::taskdef::{ImageSpec, container_names};
use crate::error::{Error, Result};
use crate::state::State;

/// Everything a release does.
#[derive(Debug, Clone)]
pub struct ReleasePlan {
    pub build: BuildRequest,
    pub push: PushRequest,
    /// Build and push even when the state file shows this context already pushed.
    pub rebuild: bool,
    /// The containers that get the new image.
    pub containers: Vec<String>,
    pub imagedefinitions: PathBuf,
    pub image_detail: Option<PathBuf>,
    /// `None`: stop after the artifacts (`--no-deploy`). Its `changes.images` are completed with
    /// the pushed image for each of `containers`.
    pub deploy: Option<DeployPlan>,
    /// Further services of the same cluster released with `deploy` (`--service` repeated): each
    /// gets the new image in the `containers` it has; registered, updated and waited for together.
    pub more: Vec<DeployPlan>,
    /// With `more`: which services `--rollback-on-failure` sends back.
    pub rollback_scope: super::services::RollbackScope,
    /// A one-off task on the new revision (a migration) that must pass before the service is updated.
    pub before_deploy: Option<BeforeDeploy>,
    pub state: PathBuf,
}

/// `--before-deploy`: the command, run in the first released container of the new revision, as
/// the service runs its tasks.
#[derive(Debug, Clone)]
pub struct BeforeDeploy {
    pub command: Vec<String>,
    pub timeout: std::time::Duration,
}

/// The steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Check,
    Build,
    Push,
    Imagedefs,
    Register,
    BeforeDeploy,
    Deploy,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Check => "check",
            Step::Build => "build",
            Step::Push => "push",
            Step::Imagedefs => "imagedefs",
            Step::Register => "register",
            Step::BeforeDeploy => "pre-deploy",
            Step::Deploy => "deploy",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Done,
    /// Already done by an earlier run (build, push) or not needed.
    Skipped,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub step: Step,
    pub status: StepStatus,
    pub seconds: f64,
    /// What it produced, or why it failed.
    pub detail: String,
}

impl fmt::Display for StepRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.status {
            StepStatus::Done => "done",
            StepStatus::Skipped => "skipped",
            StepStatus::Failed => "FAILED",
        };
        write!(
            f,
            "{:<10} {status:<8} {:>6.1}s  {}",
            self.step.name(),
            self.seconds,
            self.detail
        )
    }
}

/// What a release did.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseResult {
    pub steps: Vec<StepRecord>,
    /// `repository@sha256:...`, once pushed.
    pub image: Option<String>,
    pub digest: Option<String>,
    pub tags: Vec<String>,
    pub task_definition_arn: Option<String>,
    /// Whether an identical revision was reused instead of registering a new one.
    pub reused: Option<bool>,
    pub previous_task_definition_arn: Option<String>,
    /// stable, failed, timed_out, interrupted; not_deployed with --no-deploy; none when a step
    /// before the rollout failed.
    pub verdict: Option<String>,
    pub seconds: f64,
    pub failed_step: Option<Step>,
    pub build: Option<BuildResult>,
    pub push: Option<PushResult>,
    pub artifacts: Option<ArtifactsResult>,
    /// The `--before-deploy` task.
    pub before_deploy: Option<RunReport>,
    /// With several services: their deploy, a verdict each.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<super::services::MultiDeployResult>,
    pub deploy: Option<DeployResult>,
}

impl ReleaseResult {
    fn new() -> Self {
        ReleaseResult {
            steps: Vec::new(),
            image: None,
            digest: None,
            tags: Vec::new(),
            task_definition_arn: None,
            reused: None,
            previous_task_definition_arn: None,
            verdict: None,
            seconds: 0.0,
            failed_step: None,
            build: None,
            push: None,
            artifacts: None,
            before_deploy: None,
            services: None,
            deploy: None,
        }
    }

    /// One sentence of what was done before a failure, so nobody has to guess what state things are in.
    pub fn completed(&self) -> String {
        let mut parts = Vec::new();
        match (&self.image, &self.build) {
            (Some(image), _) => parts.push(format!("the image is pushed as {image}")),
            (None, Some(b)) => {
                parts.push(format!("the image {} was built but not pushed", b.image_id))
            }
            (None, None) => parts.push("no image was built".to_owned()),
        }
        if let Some(a) = &self.artifacts {
            parts.push(format!("{} was written", a.imagedefinitions.display()));
        }
        match (&self.task_definition_arn, self.reused) {
            (Some(arn), Some(true)) => parts.push(format!("{} was reused", short_arn(arn))),
            (Some(arn), _) => parts.push(format!("{} was registered", short_arn(arn))),
            (None, _) => parts.push("nothing was registered".to_owned()),
        }
        if self.deploy.as_ref().is_some_and(|d| d.wait.is_some()) {
            parts.push("the service was updated".to_owned());
        } else {
            parts.push("the service was not updated".to_owned());
        }
        parts.join(", ")
    }
}

impl fmt::Display for ReleaseResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            writeln!(f, "{step}")?;
        }
        if let Some(deploy) = &self.deploy
            && self.verdict.as_deref() != Some("stable")
        {
            write!(f, "{deploy}")?;
        }
        let none = "-".to_owned();
        writeln!(f, "image     {}", self.image.as_ref().unwrap_or(&none))?;
        let revision = match (&self.task_definition_arn, self.reused) {
            (Some(arn), Some(true)) => format!("{arn} (reused)"),
            (Some(arn), _) => format!("{arn} (new)"),
            (None, _) => none.clone(),
        };
        writeln!(f, "revision  {revision}")?;
        writeln!(
            f,
            "previous  {}",
            self.previous_task_definition_arn.as_ref().unwrap_or(&none)
        )?;
        writeln!(f, "verdict   {}", self.verdict.as_ref().unwrap_or(&none))?;
        writeln!(f, "total     {:.1}s", self.seconds)?;
        if let Some(step) = self.failed_step {
            writeln!(f, "failed at {}: {}", step.name(), self.completed())?;
        }
        Ok(())
    }
}

/// How a release ended: what it did, and the failing step's error (with that step's exit code).
pub struct Released {
    pub result: ReleaseResult,
    pub failure: Option<Error>,
}

/// Times steps and records them as they end, printing one line each.
struct Steps {
    result: ReleaseResult,
    start: Instant,
}

impl Steps {
    fn record(&mut self, step: Step, status: StepStatus, since: Instant, detail: String) {
        let record = StepRecord {
            step,
            status,
            seconds: since.elapsed().as_secs_f64(),
            detail,
        };
        info!("step {record}");
        self.result.steps.push(record);
    }

    fn fail(mut self, step: Step, since: Instant, error: Error) -> Released {
        let detail = error.to_string();
        self.record(step, StepStatus::Failed, since, detail);
        self.result.failed_step = Some(step);
        self.result.seconds = self.start.elapsed().as_secs_f64();
        warn!(
            "release failed at {}: {}",
            step.name(),
            self.result.completed()
        );
        Released {
            result: self.result,
            failure: Some(error),
        }
    }

    fn end(mut self, failure: Option<Error>) -> Released {
        self.result.seconds = self.start.elapsed().as_secs_f64();
        Released {
            result: self.result,
            failure,
        }
    }
}

/// Runs `$body` as `$step`: on error the release ends there, reporting what was done.
macro_rules! step {
    ($steps:ident, $step:expr, $body:expr) => {{
        let since = Instant::now();
        match $body {
            Ok(value) => (value, since),
            Err(error) => return $steps.fail($step, since, error),
        }
    }};
}

/// The image a previous run pushed from the same context and options, if the registry still holds it.
async fn already_pushed(
    session: &Session,
    state: &State,
    repository: &str,
    fingerprint: &str,
) -> Option<(ImageRef, Vec<String>)> {
    let (built, pushed) = match (&state.build, &state.push) {
        (Some(built), Some(pushed)) => (built, pushed),
        (None, _) => {
            info!("building: the state file records no earlier build");
            return None;
        }
        (Some(_), None) => {
            info!("building: the state file records a build that was never pushed");
            return None;
        }
    };
    if built.repository != repository || pushed.repository != repository {
        info!(
            "building: the state file records a push to {}, not {repository}",
            pushed.repository
        );
        return None;
    }
    if built.fingerprint.as_deref() != Some(fingerprint) {
        debug!(
            "context fingerprint recorded {:?}, now {fingerprint}",
            built.fingerprint
        );
        info!(
            "building: the context or build options changed since {} was built",
            pushed.image
        );
        return None;
    }
    let image = ImageRef::parse(&pushed.image).ok()?;
    match image::verified_digest(session, &image).await {
        Ok(digest) if Some(&digest) == image.digest.as_ref() => Some((image, pushed.tags.clone())),
        Ok(digest) => {
            warn!("{} now resolves to {digest}: building again", pushed.image);
            None
        }
        Err(e) => {
            warn!(
                "{} recorded in the state file is not in the registry ({}): building again",
                pushed.image,
                e.chain()
            );
            None
        }
    }
}

/// The service is deployable and the task definition it would get has every named container.
async fn check(
    session: &Session,
    plan: &ReleasePlan,
    deploy: &DeployPlan,
) -> Result<(ServiceInfo, Loaded)> {
    let service = rollout::target(session, &deploy.cluster, &deploy.service).await?;
    let loaded = rollout::load_for(session, deploy, &service).await?;
    let names = container_names(&loaded.document);
    if let Some(missing) = plan.containers.iter().find(|c| !names.contains(c)) {
        return Err(Error::input(format!(
            "--container `{missing}`: the task definition {} has no such container (it has: {})",
            loaded.label,
            names.join(", ")
        )));
    }
    Ok((service, loaded))
}

/// Several services: each deployable, each with at least one of the containers, and each container
/// in at least one service's task definition.
async fn check_several(
    session: &Session,
    plan: &ReleasePlan,
    deploys: &[DeployPlan],
) -> Result<(String, Vec<(ServiceInfo, Loaded)>)> {
    super::services::check_distinct(deploys.iter().map(|d| d.service.as_str()))?;
    let loaded = super::services::load_all(session, deploys).await?;
    let mut seen: Vec<String> = Vec::new();
    let mut lines = Vec::new();
    for (deploy, (service, document)) in deploys.iter().zip(&loaded) {
        let names = container_names(&document.document);
        if !plan.containers.iter().any(|c| names.contains(c)) {
            return Err(Error::input(format!(
                "service `{}`: its task definition {} has none of the --container names (it has: {})",
                deploy.service,
                document.label,
                names.join(", ")
            )));
        }
        seen.extend(names);
        lines.push(format!(
            "`{}` runs {}",
            deploy.service,
            short_arn(&service.task_definition)
        ));
    }
    if let Some(missing) = plan.containers.iter().find(|c| !seen.contains(c)) {
        return Err(Error::input(format!(
            "--container `{missing}`: none of the services' task definitions has it"
        )));
    }
    Ok((lines.join(", "), loaded))
}

/// Runs the release. `Err` is never returned for a failed step: that is `Released::failure`, with
/// the result saying which steps completed.
pub async fn release(session: &Session, plan: &ReleasePlan) -> Released {
    let mut steps = Steps {
        result: ReleaseResult::new(),
        start: Instant::now(),
    };

    // Fail before a long build on what can be checked first: the artifact names, the service, and
    // the containers named in the task definition it would get.
    let since = Instant::now();
    if let Some(detail) = &plan.image_detail
        && let Err(e) = artifacts::check_image_detail_name(detail)
    {
        return steps.fail(Step::Check, since, e);
    }
    // Several services: checked (and their task definitions read) once, here, before the build.
    let several = match &plan.deploy {
        Some(first) if !plan.more.is_empty() => {
            let all: Vec<DeployPlan> = std::iter::once(first).chain(&plan.more).cloned().collect();
            let ((checked, loaded), since) =
                step!(steps, Step::Check, check_several(session, plan, &all).await);
            steps.record(Step::Check, StepStatus::Done, since, checked);
            Some((all, loaded))
        }
        _ => None,
    };
    let target = match &plan.deploy {
        Some(deploy) if plan.more.is_empty() => {
            let ((service, loaded), since) =
                step!(steps, Step::Check, check(session, plan, deploy).await);
            steps.record(
                Step::Check,
                StepStatus::Done,
                since,
                format!(
                    "service `{}` in `{}` runs {}",
                    deploy.service,
                    deploy.cluster,
                    short_arn(&service.task_definition)
                ),
            );
            Some((service, loaded))
        }
        _ => None,
    };

    let (resolved, since) = step!(
        steps,
        Step::Build,
        image::resolve(&plan.build, Utc::now()).and_then(|r| {
            let fingerprint = r.fingerprint()?;
            Ok((r, fingerprint))
        })
    );
    let (resolved, fingerprint) = resolved;
    let state = State::load(&plan.state).unwrap_or_default();
    let reuse = if plan.rebuild {
        None
    } else {
        already_pushed(session, &state, &resolved.repository.name, &fingerprint).await
    };

    let image = match reuse {
        Some((image, tags)) => {
            let detail = format!(
                "the same context was built and pushed as {image} by an earlier run (--rebuild builds again)"
            );
            steps.record(Step::Build, StepStatus::Skipped, since, detail);
            steps.record(
                Step::Push,
                StepStatus::Skipped,
                Instant::now(),
                format!("{image} is in the registry"),
            );
            steps.result.tags = tags;
            image
        }
        None => {
            let (built, since) = step!(
                steps,
                Step::Build,
                image::build(session, resolved, Some(fingerprint), Some(&plan.state)).await
            );
            steps.record(
                Step::Build,
                StepStatus::Done,
                since,
                format!("{} as {}", built.image_id, built.references.join(", ")),
            );
            steps.result.build = Some(built);
            let (pushed, since) = step!(
                steps,
                Step::Push,
                image::push(session, &plan.push, &plan.state).await
            );
            steps.record(Step::Push, StepStatus::Done, since, pushed.image.clone());
            let image = match ImageRef::parse(&pushed.image) {
                Ok(image) => image,
                Err(e) => {
                    return steps.fail(
                        Step::Push,
                        Instant::now(),
                        Error::internal_with("the pushed reference does not parse", e),
                    );
                }
            };
            steps.result.tags = pushed.tags.clone();
            steps.result.push = Some(pushed);
            image
        }
    };
    steps.result.image = Some(image.to_string());
    steps.result.digest = image.digest.clone();

    let containers: Vec<(String, ImageRef)> = plan
        .containers
        .iter()
        .map(|c| (c.clone(), image.clone()))
        .collect();
    let (written, since) = step!(
        steps,
        Step::Imagedefs,
        artifacts::write(
            &containers,
            &plan.imagedefinitions,
            plan.image_detail.as_deref()
        )
    );
    steps.record(
        Step::Imagedefs,
        StepStatus::Done,
        since,
        format!("{}", written.imagedefinitions.display()),
    );
    steps.result.artifacts = Some(written);

    if let Some((mut deploys, loaded)) = several {
        let since = Instant::now();
        for deploy in &mut deploys {
            deploy
                .changes
                .images
                .extend(plan.containers.iter().map(|c| ImageSpec {
                    container: Some(c.clone()),
                    image: image.clone(),
                }));
        }
        let (result, failure) =
            match super::services::deploy(session, &deploys, Some(loaded), plan.rollback_scope)
                .await
            {
                Ok(done) => done,
                Err(error) => return steps.fail(Step::Deploy, since, error),
            };
        let revisions: Vec<String> = result
            .services
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s.service,
                    short_arn(s.task_definition.arn.as_deref().unwrap_or("(dry run)"))
                )
            })
            .collect();
        steps.record(
            Step::Register,
            StepStatus::Done,
            since,
            revisions.join(", "),
        );
        steps.result.task_definition_arn = result.services[0].task_definition.arn.clone();
        steps.result.reused = Some(result.services[0].task_definition.reused);
        steps.result.previous_task_definition_arn = Some(result.services[0].previous.clone());
        steps.result.verdict = Some(result.verdict.clone());
        let verdict = result.verdict.clone();
        steps.result.services = Some(result);
        return match failure {
            None => {
                steps.record(
                    Step::Deploy,
                    StepStatus::Done,
                    since,
                    format!("{verdict}: {}", revisions.join(", ")),
                );
                steps.end(None)
            }
            Some(error) => steps.fail(Step::Deploy, since, error),
        };
    }
    let (Some(deploy), Some((service, loaded))) = (&plan.deploy, target) else {
        info!("--no-deploy: nothing registered, no service updated");
        steps.result.verdict = Some("not_deployed".to_owned());
        return steps.end(None);
    };
    let mut deploy = deploy.clone();
    deploy
        .changes
        .images
        .extend(plan.containers.iter().map(|c| ImageSpec {
            container: Some(c.clone()),
            image: image.clone(),
        }));

    let (registered, since) = step!(
        steps,
        Step::Register,
        rollout::register_for(session, &deploy, &service, loaded).await
    );
    let arn = registered.task_definition.arn.clone().unwrap_or_default();
    let how = match (
        registered.task_definition.dry_run,
        registered.task_definition.reused,
    ) {
        (true, _) => "dry run: would register",
        (false, true) => "reused identical",
        (false, false) => "registered",
    };
    steps.record(
        Step::Register,
        StepStatus::Done,
        since,
        format!("{how} {}", short_arn(&arn)),
    );
    steps.result.task_definition_arn = registered.task_definition.arn.clone();
    steps.result.reused = Some(registered.task_definition.reused);
    steps.result.previous_task_definition_arn = Some(registered.previous.clone());

    if let Some(before) = &plan.before_deploy
        && !deploy.register.dry_run
    {
        let since = Instant::now();
        let run = RunPlan {
            cluster: deploy.cluster.clone(),
            from: RunFrom::ServiceRevision {
                service: deploy.service.clone(),
                task_definition: arn.clone(),
            },
            images: Vec::new(),
            container: plan.containers.first().cloned(),
            command: Some(before.command.clone()),
            env: Vec::new(),
            placement: Default::default(),
            timeout: before.timeout,
            keep_on_timeout: false,
            poll_interval: std::time::Duration::from_secs(2),
            register: deploy.register,
        };
        let (report, failure) = match task::run(session, &run).await {
            Ok(done) => done,
            Err(error) => return steps.fail(Step::BeforeDeploy, since, error),
        };
        let detail = format!("task {}: {}", report.task.id(), report.verdict.describe());
        steps.result.before_deploy = Some(report);
        if let Some(error) = failure {
            return steps.fail(Step::BeforeDeploy, since, error);
        }
        steps.record(Step::BeforeDeploy, StepStatus::Done, since, detail);
    }

    let since = Instant::now();
    let deployed = match rollout::roll_out(session, &deploy, registered).await {
        Ok(d) => d,
        Err(error) => return steps.fail(Step::Deploy, since, error),
    };
    let waited = deployed
        .result
        .wait
        .as_ref()
        .and_then(|w| w.services.first())
        .map(|s| s.verdict);
    let verdict = match (&deployed.failure, waited) {
        _ if deploy.register.dry_run => "dry_run",
        (None, None) => "not_waited",
        (None, Some(_)) => ServiceVerdict::Stable.as_str(),
        (Some(Error::RolloutFailed(_)), _) | (Some(_), None) => ServiceVerdict::Failed.as_str(),
        (Some(_), Some(v)) => v.as_str(),
    }
    .to_owned();
    steps.result.verdict = Some(verdict.clone());
    steps.result.deploy = Some(deployed.result);
    match deployed.failure {
        None => {
            steps.record(
                Step::Deploy,
                StepStatus::Done,
                since,
                format!("{verdict} on {}", short_arn(&arn)),
            );
            steps.end(None)
        }
        Some(error) => steps.fail(Step::Deploy, since, error),
    }
}

impl crate::output::Report for ReleaseResult {
    fn outputs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut put = |name: &'static str, value: &Option<String>| {
            if let Some(v) = value {
                out.push((name, v.clone()));
            }
        };
        put("image", &self.image);
        put("digest", &self.digest);
        put("image-tag", &self.tags.first().cloned());
        put("task-definition-arn", &self.task_definition_arn);
        put(
            "previous-task-definition-arn",
            &self.previous_task_definition_arn,
        );
        put("verdict", &self.verdict);
        out
    }

    fn summary(&self) -> Option<String> {
        let verdict = self.verdict.clone().unwrap_or_else(|| {
            self.failed_step
                .map_or("failed".to_owned(), |s| format!("failed at {}", s.name()))
        });
        let mut md = rollout::summary_markdown(
            "release",
            self.image.as_deref(),
            self.task_definition_arn.as_deref(),
            self.previous_task_definition_arn.as_deref(),
            &verdict,
            self.reused.unwrap_or(false),
            Some(self.seconds),
            self.deploy.as_ref(),
        );
        if self.failed_step.is_some() {
            md.push_str(&format!("\n{}\n", self.completed()));
        }
        Some(md)
    }
}
