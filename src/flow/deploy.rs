//! The deploy engine, for one service or several of one cluster (one is the ordinary case, N = 1):
//! check each service and read the task definition it would get, register a revision per service,
//! update every service, one batched wait with a verdict per service, verify, the after-deploy
//! steps (schedules, prune), a rollback by scope on failure and on cancel. `deploy` and `release`
//! both run it, phase by phase (`check`, `register`, `roll_out`) or whole (`deploy`).

use std::fmt;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;
use tracing::{info, warn};

use super::Session;
pub use super::codedeploy::CodeDeployOptions;
use super::codedeploy::CodeDeployTarget;
use super::prune::{MovedSchedule, PruneReport};
use super::rollout::{WaitReport, WaitSettings, wait_services};
use super::taskdef::{self, Changes, Loaded, RegisterOptions, RegisterResult, Source};
use super::verify::{self, VerifyReport, VerifySettings};
use crate::aws::ecs::{ServiceInfo, UpdateOptions};
use crate::aws::{self, Aws};
use crate::core::rollout::{
    self, DeployVerdict, Expectation, RollbackPlan, RollbackScope, ServiceVerdict, short_arn,
};
use crate::core::taskdef::container_names;
use crate::error::{Error, Result};

/// How many services `check` reads at once.
const CHECK_CONCURRENCY: usize = 8;

/// One service of a deploy and what its task definition is made from.
#[derive(Debug, Clone)]
pub struct ServiceTarget {
    pub service: String,
    pub source: Source,
    pub changes: Changes,
}

/// What to deploy and how: every setting but the source and changes is the deploy's, not a
/// service's.
#[derive(Debug, Clone)]
pub struct DeployPlan {
    pub cluster: String,
    pub services: Vec<ServiceTarget>,
    pub register: RegisterOptions,
    /// Force a new deployment, desired count, tag propagation.
    pub update: UpdateOptions,
    /// Stop after UpdateService.
    pub no_wait: bool,
    /// `--rollback-on-failure`, with the services it sends back.
    pub rollback: Option<RollbackScope>,
    /// How long the rollback may take to settle: its own bound, after `wait.timeout`.
    pub rollback_timeout: Duration,
    /// On SIGINT/SIGTERM, send the services back to their previous revisions.
    pub rollback_on_cancel: bool,
    pub wait: WaitSettings,
    /// URLs that must answer 2xx once the services are stable.
    pub verify: VerifySettings,
    /// What follows a stable rollout.
    pub after: AfterDeploy,
    /// For CODE_DEPLOY services.
    pub codedeploy: CodeDeployOptions,
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

/// Each service checked deployable, with the task definition it would get (and, for a
/// CODE_DEPLOY service, where CodeDeploy deploys it).
pub struct Checked {
    pub services: Vec<(ServiceInfo, Loaded)>,
    pub codedeploy: Vec<Option<CodeDeployTarget>>,
}

/// A revision registered (or reused, or rendered on a dry run) for a service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceDeployment {
    pub service: String,
    pub task_definition: RegisterResult,
    /// The revision the service ran before.
    pub previous: String,
    /// An Express Mode service: its primary container gets this image through the Express API
    /// (ECS makes the revision), instead of a revision of ours through UpdateService.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub express: Option<ExpressUpdate>,
    /// A CODE_DEPLOY service: deployed by a CodeDeploy deployment of our revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codedeploy: Option<CodeDeployTarget>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExpressUpdate {
    pub service_arn: String,
    pub image: String,
}

impl ServiceDeployment {
    fn arn(&self) -> &str {
        self.task_definition.arn.as_deref().unwrap_or_default()
    }
}

/// What a deploy did, per service and as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct DeployResult {
    pub cluster: String,
    pub verdict: DeployVerdict,
    pub services: Vec<ServiceDeployment>,
    /// The services UpdateService was called for, in order (fewer than `services` when an update
    /// failed part-way).
    pub updated: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyReport>,
    /// The scope asked for with --rollback-on-failure, and the services it sent back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_scope: Option<RollbackScope>,
    pub rolled_back: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<WaitReport>,
    /// EventBridge schedules moved to the new revisions (--update-schedules).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<MovedSchedule>,
    /// What --prune-keep did, per family.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<PruneReport>,
}

impl DeployResult {
    /// The revision of the first service (the one of a one-service deploy).
    pub fn arn(&self) -> Option<&str> {
        self.services
            .first()
            .and_then(|s| s.task_definition.arn.as_deref())
    }

    pub fn previous(&self) -> Option<&str> {
        self.services.first().map(|s| s.previous.as_str())
    }

    /// Whether any service was updated (and so the deploy changed something in ECS).
    pub fn any_updated(&self) -> bool {
        !self.updated.is_empty()
    }
}

impl fmt::Display for DeployResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.wait {
            Some(report) => write!(f, "{report}")?,
            None if self.services.len() == 1 => write!(f, "{}", self.services[0].task_definition)?,
            None => {
                for s in &self.services {
                    writeln!(f, "# {}", s.service)?;
                    writeln!(f, "{}", s.task_definition)?;
                }
            }
        }
        if let Some(verify) = &self.verify {
            write!(f, "{verify}")?;
        }
        if !self.rolled_back.is_empty() && self.services.len() > 1 {
            let scope = match self.rollback_scope {
                Some(RollbackScope::All | RollbackScope::Target) => "all services",
                _ => "the services that failed",
            };
            writeln!(f, "rolled back ({scope}): {}", self.rolled_back.join(", "))?;
        }
        if let Some(rollback) = &self.rollback {
            write!(f, "after the rollback:\n{rollback}")?;
        }
        Ok(())
    }
}

/// How a deploy ended: what it did, and why it failed if it did. `Err` from `deploy` itself is a
/// failure before anything was updated.
pub struct Deployed {
    pub result: DeployResult,
    pub failure: Option<Error>,
}

/// Refuses a service named twice: it would be registered and updated twice, and waited for as two.
pub fn check_distinct<'a>(services: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let mut seen = Vec::new();
    for service in services {
        if seen.contains(&service) {
            return Err(Error::input(format!(
                "--service `{service}` is given twice"
            )));
        }
        seen.push(service);
    }
    Ok(())
}

/// The task definition a service's deploy starts from; for the service's own revision, the one
/// `target` read.
async fn load_for(
    session: &Session,
    target: &ServiceTarget,
    service: &ServiceInfo,
) -> Result<Loaded> {
    match &target.source {
        Source::Service { service: name, .. } => {
            info!("service `{name}` runs {}", service.task_definition);
            taskdef::read_live_with_latest(session.aws().await?, &service.task_definition).await
        }
        other => taskdef::load(session, other).await,
    }
}

/// Every service checked deployable (concurrently) and its task definition read: nothing is
/// registered or updated yet.
pub async fn check(session: &Session, plan: &DeployPlan) -> Result<Checked> {
    if plan.services.is_empty() {
        return Err(Error::input("no --service to deploy"));
    }
    check_distinct(plan.services.iter().map(|s| s.service.as_str()))?;
    // One DescribeServices per ten services (its limit), not one per service.
    let names: Vec<String> = plan.services.iter().map(|s| s.service.clone()).collect();
    let aws = session.aws().await?;
    let mut described = aws::ecs::describe_services(aws, &plan.cluster, &names).await?;
    let mut infos = Vec::new();
    for t in &plan.services {
        let at = described
            .iter()
            .position(|(info, _)| info.service == t.service)
            .ok_or_else(|| {
                Error::remote(format!(
                    "DescribeServices did not return service `{}` of cluster `{}`",
                    t.service, plan.cluster
                ))
            })?;
        let (info, _) = described.swap_remove(at);
        rollout::check_deployable(&t.service, &info.status, &info.deployment_controller)
            .map_err(|refusal| Error::input_with(refusal.to_string(), refusal))?;
        infos.push(info);
    }
    // A few services read at a time: a deploy of a hundred services must not open two hundred
    // connections at once, nor spend the account's Describe* rate on one burst.
    let services: Vec<_> = futures_util::stream::iter(plan.services.iter().zip(infos).map(
        |(t, service)| async move {
            if service.express {
                rollout::check_express(&t.service, &express_ask(plan, t))
                    .map_err(|refusal| Error::input_with(refusal.to_string(), refusal))?;
            }
            let codedeploy = if service.deployment_controller == "CODE_DEPLOY" {
                let aws = session.aws().await?;
                Some(super::codedeploy::target(aws, &plan.codedeploy, &service).await?)
            } else {
                None
            };
            let loaded = load_for(session, t, &service).await?;
            Ok::<_, Error>((service, loaded, codedeploy))
        },
    ))
    .buffered(CHECK_CONCURRENCY)
    .try_collect()
    .await?;
    let (services, codedeploy) = services.into_iter().map(|(s, l, c)| ((s, l), c)).unzip();
    Ok(Checked {
        services,
        codedeploy,
    })
}

/// What the deploy asks of an Express Mode service.
fn express_ask(plan: &DeployPlan, t: &ServiceTarget) -> rollout::ExpressAsk {
    rollout::ExpressAsk {
        from_service: matches!(t.source, Source::Service { .. }),
        images: t.changes.images.len(),
        container: t.changes.images.first().and_then(|i| i.container.clone()),
        overrides: !t.changes.overrides.is_empty()
            || !t.changes.env_files.is_empty()
            || t.changes.log_group.is_some(),
        force_new_deployment: plan.update.force_new_deployment,
        desired_count: plan.update.desired_count.is_some(),
        rollback_on_failure: plan.rollback.is_some(),
    }
}

/// An Express service's deploy: no revision of ours, the image for its primary container.
fn express_deployment(service: ServiceInfo, changes: &Changes, dry_run: bool) -> ServiceDeployment {
    let image = changes
        .images
        .first()
        .map(|i| i.image.to_string())
        .unwrap_or_default();
    info!(
        "service `{}` is an ECS Express Mode service: its primary container gets {image} through UpdateExpressGatewayService",
        service.service
    );
    ServiceDeployment {
        service: service.service.clone(),
        task_definition: RegisterResult {
            arn: None,
            family: crate::core::prune::family_of(&service.task_definition).to_owned(),
            revision: None,
            reused: false,
            dry_run,
            changes: Vec::new(),
            kept_log_drivers: Vec::new(),
            log_groups: Vec::new(),
            task_definition: None,
            diff: None,
        },
        previous: service.task_definition,
        express: Some(ExpressUpdate {
            service_arn: service.arn,
            image,
        }),
        codedeploy: None,
    }
}

/// With several services, each --image names its container, and every named container is in one
/// of the task definitions; each service then gets the images of the containers it has.
fn images_per_service(plan: &DeployPlan, checked: &Checked) -> Result<Vec<Changes>> {
    if let [target] = plan.services.as_slice() {
        return Ok(vec![target.changes.clone()]);
    }
    let mut out = Vec::new();
    for (target, (_, loaded)) in plan.services.iter().zip(&checked.services) {
        let names = container_names(&loaded.document);
        let mut changes = target.changes.clone();
        for image in &changes.images {
            let Some(name) = &image.container else {
                return Err(Error::input(format!(
                    "--image {}: with several --service, name the container (NAME=IMAGE)",
                    image.image
                )));
            };
            let anywhere = checked
                .services
                .iter()
                .any(|(_, l)| container_names(&l.document).contains(name));
            if !anywhere {
                return Err(Error::input(format!(
                    "--image {name}=...: none of the services' task definitions has a container `{name}`"
                )));
            }
        }
        changes
            .images
            .retain(|i| i.container.as_ref().is_some_and(|c| names.contains(c)));
        out.push(changes);
    }
    Ok(out)
}

/// Each service's revision registered (or reused; rendered only, on a dry run).
pub async fn register(
    session: &Session,
    plan: &DeployPlan,
    checked: Checked,
) -> Result<Vec<ServiceDeployment>> {
    let changes = images_per_service(plan, &checked)?;
    let options = RegisterOptions {
        show_values: session.show_values,
        ..plan.register
    };
    let aws = session.aws().await?;
    let ensured = taskdef::EnsuredGroups::default();
    let mut done = Vec::new();
    let targets = checked.codedeploy;
    // Every revision prepared (and its images checked) before the first is registered, so a
    // refusal for one service leaves nothing registered for the others.
    let mut prepared = Vec::new();
    for ((service, loaded), changes) in checked.services.into_iter().zip(changes) {
        let ready = if service.express {
            None
        } else {
            Some(taskdef::prepare_loaded(session, loaded, &changes).await?)
        };
        prepared.push((service, ready, changes));
    }
    for ((service, ready, changes), codedeploy) in prepared.into_iter().zip(targets) {
        let Some(ready) = ready else {
            done.push(express_deployment(service, &changes, options.dry_run));
            continue;
        };
        let registered = taskdef::register_with(aws, ready, &options, &ensured).await?;
        done.push(ServiceDeployment {
            service: service.service.clone(),
            task_definition: registered,
            previous: service.task_definition,
            express: None,
            codedeploy,
        });
    }
    Ok(done)
}

/// Checks, registers, updates, waits, verifies and rolls back on request. `--timeout` bounds it
/// all, calls in flight included; a rollback has its own bound.
pub async fn deploy(session: &Session, plan: &DeployPlan) -> Result<Deployed> {
    let deadline = tokio::time::Instant::now() + plan.wait.timeout;
    let aws = session.aws().await?;
    let what = if plan.services.len() == 1 {
        "registering the task definition"
    } else {
        "registering the task definitions"
    };
    let registered = within(deadline, aws, what, async {
        let checked = check(session, plan).await?;
        register(session, plan, checked).await
    })
    .await?;
    let mut rest = plan.clone();
    rest.wait.timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
    Ok(roll_out(session, &rest, registered).await)
}

/// Updates every service to its registered revision, waits, verifies, runs the after-deploy
/// steps, and rolls back on request. Nothing is updated on a dry run.
pub async fn roll_out(
    session: &Session,
    plan: &DeployPlan,
    services: Vec<ServiceDeployment>,
) -> Deployed {
    let mut result = DeployResult {
        cluster: plan.cluster.clone(),
        verdict: DeployVerdict::NotWaited,
        services,
        updated: Vec::new(),
        wait: None,
        verify: None,
        rollback_scope: plan.rollback,
        rolled_back: Vec::new(),
        rollback: None,
        schedules: Vec::new(),
        pruned: Vec::new(),
    };
    if plan.register.dry_run {
        for s in &result.services {
            if let Some(express) = &s.express {
                info!(
                    "dry run: would give the primary container of Express service `{}` the image {} (was {})",
                    s.service, express.image, s.previous
                );
                continue;
            }
            let to = s.task_definition.arn.as_deref().unwrap_or("a new revision");
            if let Some(c) = &s.codedeploy {
                info!(
                    "dry run: would create a CodeDeploy deployment of {to} for service `{}` in `{}`/`{}`",
                    s.service, c.application, c.deployment_group
                );
                continue;
            }
            info!(
                "dry run: would update service `{}` from {} to {to}",
                s.service, s.previous
            );
        }
        result.verdict = DeployVerdict::DryRun;
        return Deployed {
            result,
            failure: None,
        };
    }
    let failure = match session.aws().await {
        Ok(aws) => follow(session, aws, plan, &mut result).await.err(),
        Err(e) => Some(e),
    };
    // A failure before the wait gave its verdict (an update or a poll that failed, a deadline or a
    // signal during a call) is the deploy's verdict.
    if let Some(e) = &failure
        && result.wait.is_none()
    {
        result.verdict = verdict_of_failure(e);
    }
    Deployed { result, failure }
}

/// The verdict of a deploy that ended in `e` before a wait said one (an update or a poll that
/// failed, a deadline or a signal during a call).
pub(crate) fn verdict_of_failure(e: &Error) -> DeployVerdict {
    match e {
        Error::TimedOut(_) => DeployVerdict::TimedOut,
        Error::Interrupted | Error::Terminated => DeployVerdict::Interrupted,
        Error::Paused(_) => DeployVerdict::Paused,
        _ => DeployVerdict::Failed,
    }
}

/// The rollout after the revisions exist: `Err` is how it failed, `result` what it did.
async fn follow(
    session: &Session,
    aws: &Aws,
    plan: &DeployPlan,
    result: &mut DeployResult,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + plan.wait.timeout;
    let expectations = update_all(
        aws,
        plan,
        &mut result.services,
        &mut result.updated,
        deadline,
    )
    .await?;
    if plan.no_wait {
        result.verdict = DeployVerdict::NotWaited;
        return Ok(());
    }
    let settings = WaitSettings {
        timeout: deadline.saturating_duration_since(tokio::time::Instant::now()),
        ..plan.wait
    };
    let waited = wait_services(aws, &plan.cluster, &expectations, &settings).await?;
    let verdicts: Vec<ServiceVerdict> = waited.report.services.iter().map(|s| s.verdict).collect();
    result.wait = Some(waited.report);
    let mut failure = waited.failure;
    let mut verify_failed = false;
    if failure.is_none() && !plan.verify.urls.is_empty() {
        let report = verify::verify(&plan.verify).await;
        failure = report.failure();
        verify_failed = failure.is_some();
        result.verify = Some(report);
    }
    result.verdict = rollout::deploy_verdict(&verdicts, verify_failed);
    let Some(failure) = failure else {
        return after_deploy(session, plan, result).await;
    };
    match (&failure, plan.rollback) {
        (Error::Interrupted | Error::Terminated, _) => {
            let deployments = result
                .wait
                .as_ref()
                .map(service_deployments)
                .unwrap_or_default();
            warn!(
                "{}",
                cancelled(aws, plan, &result.services, &deployments, &failure).await
            );
            Err(failure)
        }
        (Error::RolloutFailed(_) | Error::TimedOut(_), Some(scope)) => {
            Err(roll_back(aws, plan, result, &verdicts, verify_failed, scope, failure).await)
        }
        _ => Err(failure),
    }
}

/// Updates each service, in order (UpdateService; an Express service through the Express API; a
/// CODE_DEPLOY one by a CodeDeploy deployment); the expectations to wait for.
async fn update_all(
    aws: &Aws,
    plan: &DeployPlan,
    services: &mut [ServiceDeployment],
    updated: &mut Vec<String>,
    deadline: tokio::time::Instant,
) -> Result<Vec<(String, Expectation)>> {
    let mut expectations: Vec<(String, Expectation)> = Vec::new();
    for s in services {
        let since = chrono::Utc::now().timestamp();
        let (arn, codedeploy) = match update_one(aws, plan, s, deadline).await {
            Ok(done) => done,
            Err(e) => {
                let already = if updated.is_empty() {
                    "none".to_owned()
                } else {
                    updated.join(", ")
                };
                // Nothing of ours was registered for an Express service: ECS makes its revision.
                let registered = match &s.express {
                    Some(_) => format!("the Express update of `{}` failed", s.service),
                    None => format!("registered {} for `{}`", s.arn(), s.service),
                };
                return Err(e.context(format!(
                    "{registered}; services already updated: {already}; re-run, or update the service by hand"
                )));
            }
        };
        updated.push(s.service.clone());
        let want = Expectation {
            previous: Some(s.previous.clone()),
            since: Some(since),
            codedeploy,
            ..plan.wait.expect(arn)
        };
        expectations.push((s.service.clone(), want));
    }
    Ok(expectations)
}

/// Updates one service; the revision it now deploys and, for a CODE_DEPLOY service, the CodeDeploy
/// deployment that deploys it.
async fn update_one(
    aws: &Aws,
    plan: &DeployPlan,
    s: &mut ServiceDeployment,
    deadline: tokio::time::Instant,
) -> Result<(String, Option<String>)> {
    let what = format!("updating service `{}`", s.service);
    if let Some(express) = &s.express {
        let update = aws::express::update_image(aws, &express.service_arn, &express.image);
        let arn = within(deadline, aws, &what, update).await?;
        info!(
            "updated Express service `{}` to {} ({arn}; was {})",
            s.service, express.image, s.previous
        );
        s.task_definition.arn = Some(arn.clone());
        return Ok((arn, None));
    }
    let arn = s.arn().to_owned();
    if let Some(target) = &mut s.codedeploy {
        let start = super::codedeploy::start(aws, target, &arn);
        let id = within(deadline, aws, &what, start).await?;
        target.deployment_id = Some(id.clone());
        return Ok((arn, Some(id)));
    }
    let update = aws::ecs::update_service(aws, &plan.cluster, &s.service, &arn, &plan.update);
    let replaced = within(deadline, aws, &what, update).await?;
    // Another deploy may have landed since the check: what the update replaced is the
    // revision to name as previous, and to roll back to.
    if let Some(replaced) = replaced
        && replaced != s.previous
        && replaced != arn
    {
        warn!(
            "service `{}` changed since it was checked: it ran {replaced} when updated, not {}",
            s.service, s.previous
        );
        s.previous = replaced;
    }
    info!(
        "updated service `{}` to {arn} (was {})",
        s.service, s.previous
    );
    Ok((arn, None))
}

/// Once every service is stable: schedules moved to the new revisions, then the families pruned.
/// An error says the services themselves are stable.
async fn after_deploy(
    session: &Session,
    plan: &DeployPlan,
    result: &mut DeployResult,
) -> Result<()> {
    let aws = session.aws().await?;
    for s in &result.services {
        let arn = s.arn().to_owned();
        let stable = format!("service `{}` is stable on {arn}, but", s.service);
        if plan.after.update_schedules || !plan.after.schedules.is_empty() {
            let moved =
                super::prune::update_schedules(aws, &plan.cluster, &arn, &plan.after.schedules)
                    .await
                    .map_err(|e| e.prefixed(&stable))?;
            result.schedules.extend(moved);
        }
        if let Some(keep) = plan.after.prune_keep {
            let options = super::prune::PruneOptions {
                family: crate::core::prune::family_of(&arn).to_owned(),
                keep,
                older_than: None,
                delete: false,
                dry_run: false,
                clusters: Vec::new(),
            };
            let (report, failure) = super::prune::prune(session, &options)
                .await
                .map_err(|e| e.prefixed(&stable))?;
            info!(
                "pruned family `{}`: {} deregistered, {} kept in use",
                report.family,
                report.plan.deregister.len(),
                report.plan.in_use.len()
            );
            result.pruned.push(report);
            if let Some(e) = failure {
                return Err(e.prefixed(&stable));
            }
        }
    }
    Ok(())
}

/// Sends every service of a deploy that went well back to the revision it ran before and waits
/// for that within --rollback-timeout: another target of the same run failed and
/// `--rollback-on-failure all` asked for every target back. The error says how it went.
pub async fn roll_back_everything(
    session: &Session,
    plan: &DeployPlan,
    result: &mut DeployResult,
    why: &str,
) -> Error {
    let reason = Error::RolloutFailed(why.to_owned());
    let aws = match session.aws().await {
        Ok(aws) => aws,
        Err(e) => return reason.context(format!("the rollback failed: {}", e.chain())),
    };
    let verdicts: Vec<ServiceVerdict> = result
        .services
        .iter()
        .map(|_| ServiceVerdict::Stable)
        .collect();
    result.rollback_scope = Some(RollbackScope::All);
    roll_back(
        aws,
        plan,
        result,
        &verdicts,
        false,
        RollbackScope::All,
        reason,
    )
    .await
}

/// Sends the scope back to the revisions they ran (unless ECS already did), waits for that within
/// its own bound, and returns the failure saying how the rollback went.
async fn roll_back(
    aws: &Aws,
    plan: &DeployPlan,
    result: &mut DeployResult,
    verdicts: &[ServiceVerdict],
    verify_failed: bool,
    scope: RollbackScope,
    failure: Error,
) -> Error {
    let deadline = tokio::time::Instant::now() + plan.rollback_timeout;
    let mut back = Vec::new();
    let mut notes = Vec::new();
    for (s, verdict) in result.services.iter().zip(verdicts) {
        if !rollout::in_rollback_scope(scope, *verdict, verify_failed) {
            continue;
        }
        if let Some(id) = s
            .codedeploy
            .as_ref()
            .and_then(|c| c.deployment_id.as_deref())
        {
            notes.push(codedeploy_rollback(aws, deadline, &s.service, id, *verdict).await);
            continue;
        }
        let what = format!("reading service `{}` for the rollback", s.service);
        let read = aws::ecs::describe_service(aws, &plan.cluster, &s.service);
        let now = match within(deadline, aws, &what, read).await {
            Ok(now) => now,
            Err(e) => return failure.context(format!("the rollback failed: {}", e.chain())),
        };
        match rollout::rollback_plan(s.arn(), &s.previous, &now.task_definition) {
            RollbackPlan::RollBackTo(to) => {
                warn!(
                    "rolling back service `{}` to {to} (--rollback-timeout {})",
                    s.service,
                    humantime::format_duration(plan.rollback_timeout)
                );
                let what = format!("rolling back service `{}`", s.service);
                let since = chrono::Utc::now().timestamp();
                let plain = UpdateOptions::default();
                let update = aws::ecs::update_service(aws, &plan.cluster, &s.service, &to, &plain);
                if let Err(e) = within(deadline, aws, &what, update).await {
                    return failure.context(format!(
                        "the rollback of `{}` to {to} failed: {}",
                        s.service,
                        e.chain()
                    ));
                }
                let want = Expectation {
                    since: Some(since),
                    ..Expectation::new(to)
                };
                back.push((s.service.clone(), want));
            }
            RollbackPlan::AlreadyRolledBack => notes.push(format!(
                "ECS already rolled `{}` back to {}",
                s.service, s.previous
            )),
            RollbackPlan::NothingToRollBackTo => notes.push(format!(
                "`{}` was not rolled back: it already ran {} before this deploy",
                s.service,
                short_arn(&s.previous)
            )),
        }
    }
    result.rolled_back = back.iter().map(|(s, _)| s.clone()).collect();
    let mut outcome = notes;
    if !back.is_empty() {
        let settings = WaitSettings {
            timeout: deadline.saturating_duration_since(tokio::time::Instant::now()),
            ..plan.wait
        };
        let names = back
            .iter()
            .map(|(s, want)| format!("`{s}` to {}", want.task_definition))
            .collect::<Vec<_>>()
            .join(", ");
        match wait_services(aws, &plan.cluster, &back, &settings).await {
            Ok(rolled) => {
                outcome.push(match &rolled.failure {
                    None => format!("rolled back {names}: stable"),
                    Some(Error::TimedOut(_)) => format!(
                        "the rollback of {names} did not settle within --rollback-timeout {}",
                        humantime::format_duration(plan.rollback_timeout)
                    ),
                    Some(e) => format!("the rollback of {names} did not settle either: {e}"),
                });
                result.rollback = Some(rolled.report);
            }
            Err(e) => outcome.push(format!("waiting for the rollback failed: {}", e.chain())),
        }
    }
    failure.context(outcome.join("; "))
}

/// The rollback of a CODE_DEPLOY service: a deployment still running is stopped with CodeDeploy's
/// rollback; a failed one was rolled back by CodeDeploy as its deployment group says.
async fn codedeploy_rollback(
    aws: &Aws,
    deadline: tokio::time::Instant,
    service: &str,
    id: &str,
    verdict: ServiceVerdict,
) -> String {
    if verdict != ServiceVerdict::TimedOut {
        return format!(
            "`{service}`: CodeDeploy deployment {id} ended; CodeDeploy rolls a failed deployment back as its deployment group's automatic rollback says"
        );
    }
    let what = format!("stopping CodeDeploy deployment {id} of `{service}`");
    match within(deadline, aws, &what, aws::codedeploy::stop(aws, id, true)).await {
        Ok(()) => format!("stopped CodeDeploy deployment {id} of `{service}` with its rollback"),
        Err(e) => format!(
            "stopping CodeDeploy deployment {id} of `{service}` failed: {}",
            e.chain()
        ),
    }
}

/// What a cancelled deploy leaves, said plainly; with --rollback-on-cancel the services are sent
/// back to their previous revisions first (quick calls, not waited for: a cancelled job is killed
/// soon after).
/// Each service's service deployment still in flight, as the wait last saw it.
fn service_deployments(report: &WaitReport) -> Vec<(String, String)> {
    report
        .services
        .iter()
        .filter_map(|s| {
            let d = s.service_deployment.as_ref().filter(|d| !d.is_over())?;
            Some((s.service.clone(), d.arn.clone()))
        })
        .collect()
}

/// Sends one service back on cancel: StopServiceDeployment ROLLBACK when its service deployment is
/// known (ECS's own rollback, traffic shifted back too), else UpdateService to the previous
/// revision. Bounded: a cancelled job is killed soon after.
async fn cancel_one(
    aws: &Aws,
    cluster: &str,
    s: &ServiceDeployment,
    deployment: Option<&str>,
) -> String {
    const BOUND: Duration = Duration::from_secs(10);
    if let Some(id) = s
        .codedeploy
        .as_ref()
        .and_then(|c| c.deployment_id.as_deref())
    {
        let stop = aws::codedeploy::stop(aws, id, true);
        return match tokio::time::timeout(BOUND, stop).await {
            Ok(Ok(())) => format!(
                "asked CodeDeploy to stop deployment {id} of `{}` and roll it back",
                s.service
            ),
            Ok(Err(e)) => format!(
                "stopping CodeDeploy deployment {id} of `{}` failed: {}",
                s.service,
                e.chain()
            ),
            Err(_) => format!(
                "stopping CodeDeploy deployment {id} of `{}` got no answer within 10s",
                s.service
            ),
        };
    }
    if let Some(arn) = deployment {
        let stop = aws::deployments::stop(aws, arn, aws::deployments::StopKind::Rollback);
        match tokio::time::timeout(BOUND, stop).await {
            Ok(Ok(())) => {
                return format!(
                    "asked ECS to roll back the service deployment of `{}` to {} (StopServiceDeployment ROLLBACK)",
                    s.service, s.previous
                );
            }
            Ok(Err(e)) => warn!(
                "StopServiceDeployment failed for `{}` ({}); updating it back instead",
                s.service,
                e.chain()
            ),
            Err(_) => warn!(
                "StopServiceDeployment got no answer within 10s for `{}`; updating it back instead",
                s.service
            ),
        }
    }
    let plain = UpdateOptions::default();
    let back = aws::ecs::update_service(aws, cluster, &s.service, &s.previous, &plain);
    match tokio::time::timeout(BOUND, back).await {
        Ok(Ok(_)) => format!("rolled `{}` back to {}", s.service, s.previous),
        Ok(Err(e)) => format!(
            "the rollback of `{}` to {} failed: {}",
            s.service,
            s.previous,
            e.chain()
        ),
        Err(_) => format!(
            "the rollback of `{}` to {} got no answer within 10s",
            s.service, s.previous
        ),
    }
}

async fn cancelled(
    aws: &Aws,
    plan: &DeployPlan,
    services: &[ServiceDeployment],
    deployments: &[(String, String)],
    signal: &Error,
) -> String {
    let updated: Vec<String> = services
        .iter()
        .map(|s| {
            format!(
                "service `{}` was updated to {} (was {})",
                s.service,
                s.arn(),
                s.previous
            )
        })
        .collect();
    let done = format!("{signal}: {}", updated.join(", "));
    if !plan.rollback_on_cancel {
        let goes_on = if services.len() == 1 {
            "its deployment goes on as it is"
        } else {
            "their deployments go on as they are"
        };
        return format!(
            "{done}; {goes_on} (`ecs-ship wait` follows it; --rollback-on-cancel rolls back instead)"
        );
    }
    let backs = services.iter().filter(|s| s.arn() != s.previous).map(|s| {
        let deployment = deployments
            .iter()
            .find(|(name, _)| *name == s.service)
            .map(|(_, arn)| arn.as_str());
        cancel_one(aws, &plan.cluster, s, deployment)
    });
    let outcomes = futures_util::future::join_all(backs).await;
    format!(
        "{done}; {} (--rollback-on-cancel; not waited for)",
        outcomes.join("; ")
    )
}

/// `future`, unless `deadline` passes first (a timeout naming what was being done) or a signal
/// arrives (130/143 at once). After a few seconds without an answer it says what it waits for.
pub(crate) async fn within<T>(
    deadline: tokio::time::Instant,
    aws: &Aws,
    what: &str,
    future: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let endpoint = aws.endpoint.as_deref().unwrap_or("the default endpoints");
    let bounded = tokio::time::timeout_at(deadline, future);
    tokio::pin!(bounded);
    let slow = tokio::time::sleep(Duration::from_secs(5));
    tokio::pin!(slow);
    let mut said = false;
    loop {
        tokio::select! {
            biased;
            signal = crate::signal::cancelled() => return Err(signal.error()),
            done = &mut bounded => {
                return done.unwrap_or_else(|_| {
                    Err(Error::TimedOut(format!(
                        "no answer from AWS ({endpoint}) within --timeout while {what}"
                    )))
                });
            }
            () = &mut slow, if !said => {
                said = true;
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                info!(
                    "still waiting for AWS ({endpoint}) to answer while {what} (giving up in {})",
                    humantime::format_duration(Duration::from_secs(left.as_secs()))
                );
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
        if let Some(previous) = self.previous() {
            out.push(("previous-task-definition-arn", previous.to_owned()));
        }
        out.push(("verdict", self.verdict.as_str().to_owned()));
        out
    }

    fn summary(&self) -> Option<String> {
        Some(summary_markdown(&Summary {
            what: "deploy",
            image: None,
            revision: self.arn(),
            previous: self.previous(),
            verdict: self.verdict,
            reused: self
                .services
                .first()
                .is_some_and(|s| s.task_definition.reused),
            seconds: None,
            deploy: Some(self),
        }))
    }
}

/// The lines of a job summary.
pub struct Summary<'a> {
    /// deploy or release.
    pub what: &'a str,
    pub image: Option<&'a str>,
    pub revision: Option<&'a str>,
    pub previous: Option<&'a str>,
    pub verdict: DeployVerdict,
    pub reused: bool,
    pub seconds: Option<f64>,
    pub deploy: Option<&'a DeployResult>,
}

/// The Markdown job summary of a deploy or a release: image, revision old -> new, verdict,
/// duration, and on failure the reason, stopped tasks and log lines - in a code fence longer than
/// any run of backticks in them, so nothing AWS said renders as Markdown or HTML
/// (https://spec.commonmark.org/0.31.2/#fenced-code-blocks).
pub fn summary_markdown(s: &Summary<'_>) -> String {
    let verdict = s.verdict.as_str();
    let mark = if s.verdict.is_success() { "✅" } else { "❌" };
    let mut md = format!(
        "### {mark} ecs-ship {}: {verdict}\n\n| | |\n|---|---|\n",
        s.what
    );
    if let Some(image) = s.image {
        md.push_str(&format!("| image | {} |\n", inline_code(image)));
    }
    if let Some(rev) = s.revision {
        let how = if s.reused { " (reused)" } else { "" };
        let from = s
            .previous
            .map(|p| format!("{} → ", inline_code(short_arn(p))))
            .unwrap_or_default();
        md.push_str(&format!(
            "| revision | {from}{}{how} |\n",
            inline_code(short_arn(rev))
        ));
    }
    md.push_str(&format!("| verdict | {verdict} |\n"));
    if let Some(seconds) = s.seconds {
        md.push_str(&format!("| duration | {seconds:.1} s |\n"));
    }
    if let Some(d) = s.deploy
        && !s.verdict.is_success()
    {
        let report = d.to_string();
        if !report.trim().is_empty() {
            let fence = fence_for(&report);
            md.push_str(&format!(
                "\n<details open><summary>why</summary>\n\n{fence}text\n{}\n{fence}\n</details>\n",
                report.trim_end()
            ));
        }
    }
    md
}

/// The longest run of backticks in `text`.
fn longest_backticks(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// A code fence of backticks longer than the longest run of them in `text` (at least three).
fn fence_for(text: &str) -> String {
    "`".repeat((longest_backticks(text) + 1).max(3))
}

/// `text` as inline code in a table cell: backticks and pipes cannot end it early.
fn inline_code(text: &str) -> String {
    let text = text.replace('|', "\\|");
    let fence = "`".repeat(longest_backticks(&text) + 1);
    format!("{fence}{text}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary<'a>(verdict: DeployVerdict, deploy: Option<&'a DeployResult>) -> Summary<'a> {
        Summary {
            what: "release",
            image: Some("r/api@sha256:00"),
            revision: Some("arn:aws:ecs:us-east-1:1:task-definition/web:12"),
            previous: Some("arn:aws:ecs:us-east-1:1:task-definition/web:11"),
            verdict,
            reused: false,
            seconds: Some(12.34),
            deploy,
        }
    }

    #[test]
    fn the_job_summary_names_image_revisions_verdict_and_duration() {
        let md = summary_markdown(&summary(DeployVerdict::Stable, None));
        assert!(md.starts_with("### ✅ ecs-ship release: stable"), "{md}");
        assert!(md.contains("| image | `r/api@sha256:00` |"));
        assert!(md.contains("| revision | `web:11` → `web:12` |"));
        assert!(md.contains("| duration | 12.3 s |"));
    }

    #[test]
    fn an_event_message_cannot_close_the_fence_of_the_failure_report() {
        let result = DeployResult {
            cluster: "c".into(),
            verdict: DeployVerdict::Failed,
            services: Vec::new(),
            updated: vec!["web".into()],
            wait: Some(WaitReport {
                services: vec![super::super::rollout::ServiceReport {
                    service: "web".into(),
                    verdict: ServiceVerdict::Failed,
                    reason: Some("```\n<img src=x onerror=alert(1)>\n# pwned\n````".into()),
                    task_definition: "arn:aws:ecs:us-east-1:1:task-definition/web:12".into(),
                    desired_count: Some(2),
                    rollout_state_reason: None,
                    deployments: vec![],
                    events: vec![],
                    stopped_tasks: vec![],
                    target_groups: vec![],
                    service_deployment: None,
                    codedeploy: None,
                    next: None,
                }],
            }),
            verify: None,
            rollback_scope: None,
            rolled_back: vec![],
            rollback: None,
            schedules: vec![],
            pruned: vec![],
        };
        let md = summary_markdown(&summary(DeployVerdict::Failed, Some(&result)));
        assert!(md.contains("\n`````text\n"), "{md}");
        let fences: Vec<&str> = md.lines().filter(|l| l.starts_with("`````")).collect();
        assert_eq!(fences, ["`````text", "`````"], "{md}");
        // Every line of the report sits between the two fences.
        let inside = md.split("`````text\n").nth(1).unwrap();
        assert!(inside.contains("# pwned\n"), "{md}");
        assert!(md.starts_with("### ❌ ecs-ship release: failed"), "{md}");
    }

    #[test]
    fn inline_code_survives_backticks_and_pipes() {
        assert_eq!(inline_code("web:1"), "`web:1`");
        assert_eq!(inline_code("a`b"), "``a`b``");
        assert_eq!(inline_code("a|b"), "`a\\|b`");
    }
}
