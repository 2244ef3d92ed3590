//! The release in one command: check the target, build, push (verified digest), write
//! imagedefinitions.json, register the task definition with the image pinned by digest and logs
//! guaranteed, update the services and wait (and verify). The steps are a list (`core::release`)
//! run by one loop that times, records and prints each; each step is a small method over what the
//! earlier ones produced, calling the shared flows.
//!
//! A re-run does not redo what is done: when the state file records an image built from the same
//! context and options and pushed with a verified digest that the registry still holds, build and
//! push are skipped (unless `rebuild`), and an identical task definition is reused as `deploy` does.
//!
//! A dry run changes nothing anywhere: every step that writes says what it would do instead.

use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

use chrono::Utc;
use serde::Serialize;
use tracing::{info, warn};

use super::Session;
use super::artifacts::{self, ArtifactsResult};
use super::deploy::{self, Checked, DeployPlan, DeployResult, ServiceDeployment, Summary};
use super::image::{self, BuildRequest, BuildResult, PushRequest, PushResult, ResolvedBuild};
use super::task::{self, RunFrom, RunPlan, RunReport};
use crate::core::image_ref::ImageRef;
pub use crate::core::release::Step;
use crate::core::release::{self as decide, DryRun, Mode, Recorded, RegistryAnswer};
use crate::core::rollout::{DeployVerdict, short_arn};
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
    /// `None`: stop after the artifacts (`--no-deploy`). Each service's `changes.images` are
    /// completed with the pushed image for the `containers` it has.
    pub deploy: Option<DeployPlan>,
    /// A one-off task on the new revision (a migration) that must pass before the service is updated.
    pub before_deploy: Option<BeforeDeploy>,
    pub dry_run: DryRun,
    pub state: PathBuf,
    /// The image is for several targets, checked and deployed by `fleet_release` around this
    /// release (which then builds, pushes and writes the artifacts only).
    pub for_targets: bool,
    /// `--merge-platforms`: no build; the images separate builds pushed as
    /// `<repository>:<tag>-<os>-<arch>` are assembled into one index under `<tag>` instead.
    pub merge_platforms: Vec<crate::core::platform::Platform>,
}

/// `--before-deploy`: the command, run in the first released container of the new revision, as
/// the service runs its tasks.
#[derive(Debug, Clone)]
pub struct BeforeDeploy {
    pub command: Vec<String>,
    pub timeout: std::time::Duration,
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
    /// stable, failed, timed_out, interrupted; dry_run; not_deployed with --no-deploy; none when
    /// a step before the rollout failed.
    pub verdict: Option<DeployVerdict>,
    pub seconds: f64,
    pub failed_step: Option<Step>,
    pub build: Option<BuildResult>,
    pub push: Option<PushResult>,
    pub artifacts: Option<ArtifactsResult>,
    /// The `--before-deploy` task.
    pub before_deploy: Option<RunReport>,
    /// The deploy: a revision and a verdict per service.
    pub deploy: Option<DeployResult>,
    /// The image a dry run would push (never pushed).
    #[serde(skip)]
    pub planned_image: Option<String>,
}

impl ReleaseResult {
    /// A release that did nothing (yet).
    pub fn empty() -> Self {
        Self::new()
    }

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
            deploy: None,
            planned_image: None,
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
        if self.deploy.as_ref().is_some_and(DeployResult::any_updated) {
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
            && self.verdict != Some(DeployVerdict::Stable)
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
        let verdict = self.verdict.map_or("-", DeployVerdict::as_str);
        writeln!(f, "verdict   {verdict}")?;
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

/// How a step ended when it did not fail.
enum Done {
    Done(String),
    Skipped(String),
}

/// A release in progress: the plan, and what the steps so far produced.
struct Run<'a> {
    session: &'a Session,
    plan: &'a ReleasePlan,
    /// The deploy, dry run or not as the release is.
    deploy: Option<DeployPlan>,
    result: ReleaseResult,
    start: Instant,
    checked: Option<Checked>,
    resolved: Option<(ResolvedBuild, String)>,
    /// The image pushed (or reused); on a dry run, the reference it would get.
    image: Option<ImageRef>,
    reused: bool,
    registered: Vec<ServiceDeployment>,
    /// The platform to build for when --platform was not given: what the services run.
    platform: Option<String>,
}

/// Runs the release. `Err` is never returned for a failed step: that is `Released::failure`, with
/// the result saying which steps completed.
pub async fn release(session: &Session, plan: &ReleasePlan) -> Released {
    let mut run = Run::new(session, plan);
    let steps = decide::steps(
        plan.dry_run,
        plan.deploy.is_some(),
        plan.before_deploy.is_some(),
    );
    for (step, mode) in steps {
        let since = Instant::now();
        match run.step(step, mode).await {
            Ok(done) => run.record(step, since, done),
            Err(error) => return run.fail(step, since, error),
        }
    }
    if plan.deploy.is_none() && !plan.for_targets {
        info!("--no-deploy: nothing registered, no service updated");
        run.result.verdict = Some(DeployVerdict::NotDeployed);
    }
    run.end()
}

impl<'a> Run<'a> {
    fn new(session: &'a Session, plan: &'a ReleasePlan) -> Self {
        let deploy = plan.deploy.clone().map(|mut d| {
            d.register.dry_run = plan.dry_run != DryRun::Off;
            d
        });
        Run {
            session,
            plan,
            deploy,
            result: ReleaseResult::new(),
            start: Instant::now(),
            checked: None,
            resolved: None,
            image: None,
            reused: false,
            registered: Vec::new(),
            platform: None,
        }
    }

    async fn step(&mut self, step: Step, mode: Mode) -> Result<Done> {
        let pretend = mode == Mode::Pretend;
        match step {
            Step::Check => self.check().await,
            Step::Build if self.merging() && pretend => self.would_merge(),
            Step::Build if self.merging() => self.merge().await,
            Step::Push if self.merging() => Ok(Done::Skipped(
                "the platform images were pushed by their own builds".to_owned(),
            )),
            Step::Build if pretend => self.would_build(),
            Step::Build => self.build().await,
            Step::Push if pretend => self.would_push().await,
            Step::Push => self.push().await,
            Step::Imagedefs if pretend => self.would_write(),
            Step::Imagedefs => self.write(),
            Step::Register => self.register().await,
            Step::BeforeDeploy if pretend => Ok(self.would_run()),
            Step::BeforeDeploy => self.before_deploy().await,
            Step::Deploy => self.roll_out().await,
        }
    }

    fn record(&mut self, step: Step, since: Instant, done: Done) {
        let (status, detail) = match done {
            Done::Done(d) => (StepStatus::Done, d),
            Done::Skipped(d) => (StepStatus::Skipped, d),
        };
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
        let record = StepRecord {
            step,
            status: StepStatus::Failed,
            seconds: since.elapsed().as_secs_f64(),
            detail: error.to_string(),
        };
        info!("step {record}");
        self.result.steps.push(record);
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

    fn end(mut self) -> Released {
        self.result.seconds = self.start.elapsed().as_secs_f64();
        self.result.planned_image = self.image.as_ref().map(ToString::to_string);
        Released {
            result: self.result,
            failure: None,
        }
    }

    /// What can fail before a long build: the artifact names, the state file, the services and
    /// the containers named in the task definitions they would get.
    async fn check(&mut self) -> Result<Done> {
        if let Some(detail) = &self.plan.image_detail {
            artifacts::check_image_detail_name(detail)?;
        }
        self.check_state()?;
        let Some(deploy) = &self.deploy else {
            let detail = if self.plan.for_targets {
                "every target checked first"
            } else {
                "--no-deploy: no service to check"
            };
            return Ok(Done::Done(detail.to_owned()));
        };
        // Bounded by --timeout and ended by a signal, as every AWS call of the deploy is.
        let aws = self.session.aws().await?;
        let deadline = tokio::time::Instant::now() + deploy.wait.timeout;
        let checking = deploy::check(self.session, deploy);
        let checked = deploy::within(deadline, aws, "checking the services", checking).await?;
        check_containers(&self.plan.containers, deploy, &checked)?;
        if self.plan.build.platform.is_none() {
            self.platform = image::platform_for_tasks(
                checked
                    .services
                    .iter()
                    .map(|(_, loaded)| (loaded.label.as_str(), &loaded.document)),
            )?;
        }
        let lines: Vec<String> = match checked.services.as_slice() {
            [(s, _)] => vec![format!(
                "service `{}` in `{}` runs {}",
                s.service,
                s.cluster,
                short_arn(&s.task_definition)
            )],
            several => several
                .iter()
                .map(|(s, _)| format!("`{}` runs {}", s.service, short_arn(&s.task_definition)))
                .collect(),
        };
        if let Some((first, _)) = checked.services.first() {
            self.result.previous_task_definition_arn = Some(first.task_definition.clone());
        }
        self.checked = Some(checked);
        Ok(Done::Done(lines.join(", ")))
    }

    /// A state file that does not parse is never built over: with --rebuild it is set aside (as
    /// `<file>.corrupt`), else the release stops saying how to start clean.
    fn check_state(&self) -> Result<()> {
        let path = &self.plan.state;
        let Err(e) = State::load(path) else {
            return Ok(());
        };
        if !self.plan.rebuild || self.plan.dry_run != DryRun::Off || !path.is_file() {
            return Err(e);
        }
        let aside = PathBuf::from(format!("{}.corrupt", path.display()));
        std::fs::rename(path, &aside).map_err(|io| {
            Error::input_with(
                format!(
                    "cannot set the corrupt state file `{}` aside as `{}`",
                    path.display(),
                    aside.display()
                ),
                io,
            )
        })?;
        warn!(
            "--rebuild: the corrupt state file `{}` is kept as `{}`; starting clean",
            path.display(),
            aside.display()
        );
        Ok(())
    }

    fn resolve(&mut self) -> Result<&(ResolvedBuild, String)> {
        if self.resolved.is_none() {
            let mut request = self.plan.build.clone();
            if request.platform.is_none() {
                request.platform = self.platform.clone();
            }
            let resolved = image::resolve(&request, Utc::now())?;
            let fingerprint = resolved.fingerprint()?;
            self.resolved = Some((resolved, fingerprint));
        }
        Ok(self.resolved.as_ref().expect("resolved above"))
    }

    fn merging(&self) -> bool {
        !self.plan.merge_platforms.is_empty()
    }

    /// The index's repository, tag, and the per-platform tags it is assembled from.
    fn merge_sources(&self) -> Result<(ImageRef, String, Vec<String>)> {
        let tag = self.plan.build.tags.first().cloned().ok_or_else(|| {
            Error::input(
                "--merge-platforms needs --tag: the tag the platform builds pushed under, as TAG-<os>-<arch>",
            )
        })?;
        let repo = ImageRef::parse(&self.plan.build.repository).map_err(|e| {
            Error::input_with(
                format!("invalid --repository `{}`", self.plan.build.repository),
                e,
            )
        })?;
        let sources = self
            .plan
            .merge_platforms
            .iter()
            .map(|p| super::platforms::platform_tag(&tag, p))
            .collect();
        Ok((repo, tag, sources))
    }

    fn would_merge(&mut self) -> Result<Done> {
        let (repo, tag, sources) = self.merge_sources()?;
        self.image = Some(repo.with_tag(&tag));
        Ok(Done::Skipped(format!(
            "dry run: would assemble {}:{tag} from {}",
            repo.name,
            sources.join(", ")
        )))
    }

    /// The images the platform builds pushed, assembled into one verified index (no build).
    async fn merge(&mut self) -> Result<Done> {
        let (repo, tag, sources) = self.merge_sources()?;
        let refs: Vec<crate::core::platform::SourceRef> = sources
            .iter()
            .map(|t| crate::core::platform::SourceRef::Tag(t.clone()))
            .collect();
        let mut tags = vec![tag];
        tags.extend(self.plan.build.tags.iter().skip(1).cloned());
        let merged = super::platforms::merge(self.session, &repo, &tags, &refs).await?;
        let image = repo.pinned(&merged.digest);
        self.result.image = Some(image.to_string());
        self.result.digest = Some(merged.digest.clone());
        self.result.tags = tags;
        self.reused = true;
        self.image = Some(image);
        Ok(Done::Done(format!(
            "assembled {} over {}",
            merged.image,
            merged
                .platforms
                .iter()
                .map(|p| p.platform.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    fn would_build(&mut self) -> Result<Done> {
        let (resolved, _) = self.resolve()?;
        let refs = resolved.spec.references.join(", ");
        let context = resolved.plan.dir.display().to_string();
        let first = resolved.spec.references.first().cloned();
        self.image = first
            .as_deref()
            .map(ImageRef::parse)
            .transpose()
            .map_err(|e| {
                Error::internal_with("the image reference of the build does not parse", e)
            })?;
        Ok(Done::Skipped(format!(
            "dry run: would build {refs} from {context} (--dry-run=build builds it locally)"
        )))
    }

    async fn build(&mut self) -> Result<Done> {
        self.resolve()?;
        let dry = self.plan.dry_run != DryRun::Off;
        if !dry && let Some((image, tags)) = self.reusable().await {
            self.result.tags = tags;
            self.reused = true;
            let detail = format!(
                "the same context was built and pushed as {image} by an earlier run (--rebuild builds again)"
            );
            self.image = Some(image);
            return Ok(Done::Skipped(detail));
        }
        let (resolved, fingerprint) = self.resolved.take().expect("resolved above");
        // A dry run builds on the local engine only: the state file is not written.
        let state = (!dry).then_some(self.plan.state.as_path());
        let built = image::build(self.session, resolved, Some(fingerprint), state).await?;
        let mut detail = format!("{} as {}", built.image_id, built.references.join(", "));
        if let Some(cache) = built.cache {
            detail.push_str(&format!(" ({cache})"));
        }
        if dry {
            self.image = built
                .references
                .first()
                .map(|r| ImageRef::parse(r))
                .transpose()
                .map_err(|e| Error::internal_with("the built reference does not parse", e))?;
        }
        self.result.build = Some(built);
        Ok(Done::Done(detail))
    }

    /// The image an earlier run pushed from the same context and options, if the registry still
    /// holds it; else why not, said once.
    async fn reusable(&self) -> Option<(ImageRef, Vec<String>)> {
        let (resolved, fingerprint) = self.resolved.as_ref()?;
        let state = State::load(&self.plan.state).ok()?;
        let recorded = Recorded {
            built: state
                .build
                .as_ref()
                .map(|b| (b.repository.as_str(), b.fingerprint.as_deref())),
            pushed: state
                .push
                .as_ref()
                .map(|p| (p.repository.as_str(), p.image.as_str())),
        };
        let repository = &resolved.repository.name;
        let decided = decide::reusable(self.plan.rebuild, recorded, repository, fingerprint)
            .and_then(|image| {
                ImageRef::parse(image).map_err(|e| decide::BuildReason::NotInRegistry {
                    image: image.to_owned(),
                    why: e.to_string(),
                })
            });
        let image = match decided {
            Ok(image) => image,
            Err(reason) => {
                info!("building: {reason}");
                return None;
            }
        };
        let answer = match image::verified_digest(self.session, &image).await {
            Ok(digest) => RegistryAnswer::Digest(digest),
            Err(e) => RegistryAnswer::Missing(e.chain().to_string()),
        };
        let recorded_digest = image.digest.clone().unwrap_or_default();
        match decide::still_there(&image.to_string(), &recorded_digest, answer) {
            Ok(()) => Some((image, state.push.map(|p| p.tags).unwrap_or_default())),
            Err(reason) => {
                warn!("building again: {reason}");
                None
            }
        }
    }

    async fn would_push(&mut self) -> Result<Done> {
        let (resolved, _) = self.resolve()?;
        let refs = resolved.spec.references.join(", ");
        let repository = resolved.repository.clone();
        let mut detail = format!("dry run: would push {refs}");
        if self.plan.push.create_repository
            && let Some(ecr) = repository.ecr()
            && !image::repository_exists(self.session, &ecr).await?
        {
            detail = format!(
                "dry run: would create repository {}, then push {refs}",
                ecr.name
            );
        }
        Ok(Done::Skipped(detail))
    }

    async fn push(&mut self) -> Result<Done> {
        if self.reused {
            let image = self
                .image
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            return Ok(Done::Skipped(format!("{image} is in the registry")));
        }
        let pushed = image::push(self.session, &self.plan.push, &self.plan.state).await?;
        let image = ImageRef::parse(&pushed.image)
            .map_err(|e| Error::internal_with("the pushed reference does not parse", e))?;
        let detail = pushed.image.clone();
        self.result.tags = pushed.tags.clone();
        self.result.push = Some(pushed);
        self.result.image = Some(image.to_string());
        self.result.digest = image.digest.clone();
        self.image = Some(image);
        Ok(Done::Done(detail))
    }

    fn image(&self) -> Result<ImageRef> {
        self.image.clone().ok_or_else(|| {
            Error::internal("no image after the push step: a release step ran out of order")
        })
    }

    fn would_write(&self) -> Result<Done> {
        let image = self.image()?;
        Ok(Done::Skipped(format!(
            "dry run: would write {} ({} -> {image})",
            self.plan.imagedefinitions.display(),
            self.plan.containers.join(", ")
        )))
    }

    fn write(&mut self) -> Result<Done> {
        let image = self.image()?;
        if self.reused {
            self.result.image = Some(image.to_string());
            self.result.digest = image.digest.clone();
        }
        let containers: Vec<(String, ImageRef)> = self
            .plan
            .containers
            .iter()
            .map(|c| (c.clone(), image.clone()))
            .collect();
        let written = artifacts::write(
            &containers,
            &self.plan.imagedefinitions,
            self.plan.image_detail.as_deref(),
        )?;
        let detail = written.imagedefinitions.display().to_string();
        self.result.artifacts = Some(written);
        Ok(Done::Done(detail))
    }

    /// A revision per service with the new image in the containers it has (rendered only, on a
    /// dry run).
    async fn register(&mut self) -> Result<Done> {
        let image = self.image()?;
        let (Some(deploy), Some(checked)) = (self.deploy.as_mut(), self.checked.take()) else {
            return Err(Error::internal(
                "register without a checked deploy: a release step ran out of order",
            ));
        };
        give_image(deploy, &checked, &self.plan.containers, &image);
        let aws = self.session.aws().await?;
        let deadline = tokio::time::Instant::now() + deploy.wait.timeout;
        let registering = deploy::register(self.session, deploy, checked);
        self.registered = deploy::within(deadline, aws, "registering", registering).await?;
        let lines: Vec<String> = self
            .registered
            .iter()
            .map(|r| {
                let td = &r.task_definition;
                let arn = td
                    .arn
                    .as_deref()
                    .map_or("a new revision".to_owned(), |a| short_arn(a).to_owned());
                let how = match (td.dry_run, td.reused) {
                    (true, true) => "dry run: would reuse identical",
                    (true, false) => "dry run: would register",
                    (false, true) => "reused identical",
                    (false, false) => "registered",
                };
                format!("{}: {how} {arn}", r.service)
            })
            .collect();
        if let Some(first) = self.registered.first() {
            self.result.task_definition_arn = first.task_definition.arn.clone();
            self.result.reused = Some(first.task_definition.reused);
            self.result.previous_task_definition_arn = Some(first.previous.clone());
        }
        Ok(Done::Done(lines.join(", ")))
    }

    fn would_run(&self) -> Done {
        let command = self
            .plan
            .before_deploy
            .as_ref()
            .map(|b| shell_words::join(&b.command))
            .unwrap_or_default();
        Done::Skipped(format!(
            "dry run: would run `{command}` on the new revision before updating the service"
        ))
    }

    async fn before_deploy(&mut self) -> Result<Done> {
        let (Some(before), Some(deploy), Some(first)) = (
            &self.plan.before_deploy,
            &self.deploy,
            self.registered.first(),
        ) else {
            return Ok(Done::Skipped("nothing to run".to_owned()));
        };
        let run = RunPlan {
            cluster: deploy.cluster.clone(),
            from: RunFrom::ServiceRevision {
                service: first.service.clone(),
                task_definition: first.task_definition.arn.clone().unwrap_or_default(),
            },
            images: Vec::new(),
            container: self.plan.containers.first().cloned(),
            command: Some(before.command.clone()),
            env: Vec::new(),
            placement: Default::default(),
            timeout: before.timeout,
            keep_on_timeout: false,
            poll_interval: std::time::Duration::from_secs(2),
            register: deploy.register,
        };
        let (report, failure) = task::run(self.session, &run).await?;
        let detail = format!("task {}: {}", report.task.id(), report.verdict.describe());
        self.result.before_deploy = Some(report);
        match failure {
            Some(error) => Err(error),
            None => Ok(Done::Done(detail)),
        }
    }

    async fn roll_out(&mut self) -> Result<Done> {
        let Some(deploy) = &self.deploy else {
            return Ok(Done::Skipped("--no-deploy".to_owned()));
        };
        let registered = std::mem::take(&mut self.registered);
        let deployed = deploy::roll_out(self.session, deploy, registered).await;
        let verdict = deployed.result.verdict;
        let revisions: Vec<String> = deployed
            .result
            .services
            .iter()
            .map(|s| {
                let arn = s.task_definition.arn.as_deref().unwrap_or("a new revision");
                format!("{} {}", s.service, short_arn(arn))
            })
            .collect();
        self.result.verdict = Some(verdict);
        // What the update really replaced (another release may have landed since the check).
        if let Some(previous) = deployed.result.previous() {
            self.result.previous_task_definition_arn = Some(previous.to_owned());
        }
        self.result.deploy = Some(deployed.result);
        match deployed.failure {
            Some(error) => Err(error),
            None if verdict == DeployVerdict::DryRun => Ok(Done::Skipped(format!(
                "dry run: would update {}",
                revisions.join(", ")
            ))),
            None => Ok(Done::Done(format!("{verdict} on {}", revisions.join(", ")))),
        }
    }
}

/// Each service's changes get `image` for the released containers its task definition has.
pub(crate) fn give_image(
    deploy: &mut DeployPlan,
    checked: &Checked,
    containers: &[String],
    image: &ImageRef,
) {
    for (target, (_, loaded)) in deploy.services.iter_mut().zip(&checked.services) {
        let names = container_names(&loaded.document);
        target
            .changes
            .images
            .extend(
                containers
                    .iter()
                    .filter(|c| names.contains(c))
                    .map(|c| ImageSpec {
                        container: Some(c.clone()),
                        image: image.clone(),
                    }),
            );
    }
}

/// Each service has at least one of the --container names, and each name is in at least one
/// service's task definition.
pub(crate) fn check_containers(
    containers: &[String],
    deploy: &DeployPlan,
    checked: &Checked,
) -> Result<()> {
    if let [(_, loaded)] = checked.services.as_slice() {
        let names = container_names(&loaded.document);
        if let Some(missing) = containers.iter().find(|c| !names.contains(c)) {
            return Err(Error::input(format!(
                "--container `{missing}`: the task definition {} has no such container (it has: {})",
                loaded.label,
                names.join(", ")
            )));
        }
        return Ok(());
    }
    let mut seen: Vec<String> = Vec::new();
    for (target, (_, loaded)) in deploy.services.iter().zip(&checked.services) {
        let names = container_names(&loaded.document);
        if !containers.iter().any(|c| names.contains(c)) {
            return Err(Error::input(format!(
                "service `{}`: its task definition {} has none of the --container names (it has: {})",
                target.service,
                loaded.label,
                names.join(", ")
            )));
        }
        seen.extend(names);
    }
    match containers.iter().find(|c| !seen.contains(c)) {
        Some(missing) => Err(Error::input(format!(
            "--container `{missing}`: none of the services' task definitions has it"
        ))),
        None => Ok(()),
    }
}

impl crate::output::Report for ReleaseResult {
    fn outputs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut put = |name: &'static str, value: Option<String>| {
            if let Some(v) = value {
                out.push((name, v));
            }
        };
        put("image", self.image.clone());
        put("digest", self.digest.clone());
        put("image-tag", self.tags.first().cloned());
        put("task-definition-arn", self.task_definition_arn.clone());
        put(
            "previous-task-definition-arn",
            self.previous_task_definition_arn.clone(),
        );
        put("verdict", self.verdict.map(|v| v.as_str().to_owned()));
        out
    }

    fn summary(&self) -> Option<String> {
        let mut md = deploy::summary_markdown(&Summary {
            what: "release",
            image: self.image.as_deref(),
            revision: self.task_definition_arn.as_deref(),
            previous: self.previous_task_definition_arn.as_deref(),
            verdict: self.verdict.unwrap_or(DeployVerdict::Failed),
            reused: self.reused.unwrap_or(false),
            seconds: Some(self.seconds),
            deploy: self.deploy.as_ref(),
        });
        if let Some(step) = self.failed_step {
            md.push_str(&format!(
                "\nfailed at {}: {}\n",
                step.name(),
                self.completed()
            ));
        }
        Some(md)
    }
}
