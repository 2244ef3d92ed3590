//! Following service deployments while waiting, and steering them: the poll that attaches each
//! service's own service deployment to its DescribeServices snapshot (falling back to
//! DescribeServices alone, said once, where the endpoint or the role has none), and the flows of
//! `deployment continue|rollback|stop` and `rollback`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tracing::warn;

use crate::aws::deployments::{self as sd, Brief, IAM_HINT, ReadError};
use crate::aws::{self, Aws};
use crate::core::deployment::{self, ServiceDeploymentView};
use crate::core::rollout::{Expectation, ServiceSnapshot, short_arn};
use crate::error::{Error, Result};
use crate::wait::PollError;

/// How long our service deployment may take to show in ListServiceDeployments before the wait
/// judges by DescribeServices alone.
const GRACE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq)]
enum Track {
    Looking,
    Following(String),
    Legacy,
    /// A CODE_DEPLOY service: its CodeDeploy deployment gives the verdict.
    CodeDeploy(String),
}

/// What one wait knows of its services' service deployments, across polls.
pub struct Tracker {
    state: Mutex<State>,
}

struct State {
    tracks: HashMap<String, Track>,
    /// Service revision ARN -> the task definition it runs.
    revisions: HashMap<String, String>,
    warned: bool,
    started: tokio::time::Instant,
}

impl Tracker {
    pub fn new(expectations: &[(String, Expectation)]) -> Self {
        Tracker {
            state: Mutex::new(State {
                tracks: expectations
                    .iter()
                    .map(|(s, want)| {
                        let track = match (&want.follow, &want.codedeploy) {
                            (_, Some(id)) => Track::CodeDeploy(id.clone()),
                            (Some(f), None) => Track::Following(f.arn.clone()),
                            (None, None) => Track::Looking,
                        };
                        (s.clone(), track)
                    })
                    .collect(),
                revisions: HashMap::new(),
                warned: false,
                started: tokio::time::Instant::now(),
            }),
        }
    }

    /// (service, what `pick` takes of its track), for the services whose track it takes.
    fn tracked(&self, pick: impl Fn(&Track) -> Option<&String>) -> Vec<(String, String)> {
        let state = self.state.lock().expect("tracker lock");
        state
            .tracks
            .iter()
            .filter_map(|(s, t)| pick(t).map(|v| (s.clone(), v.clone())))
            .collect()
    }

    fn set(&self, service: &str, track: Track) {
        let mut state = self.state.lock().expect("tracker lock");
        state.tracks.insert(service.to_owned(), track);
    }

    fn track(&self, service: &str) -> Track {
        let state = self.state.lock().expect("tracker lock");
        state.tracks.get(service).cloned().unwrap_or(Track::Legacy)
    }

    /// Every service falls back to DescribeServices; the warning is said once per wait.
    fn fall_back(&self, why: &str) {
        let mut state = self.state.lock().expect("tracker lock");
        for t in state.tracks.values_mut() {
            *t = Track::Legacy;
        }
        if !state.warned {
            state.warned = true;
            warn!(
                "service deployments are unavailable ({why}): judging the rollout by DescribeServices alone, which cannot see lifecycle stages, bake time or hooks; {IAM_HINT}"
            );
        }
    }

    fn fall_back_one(&self, service: &str, why: &str) {
        self.set(service, Track::Legacy);
        let mut state = self.state.lock().expect("tracker lock");
        if !state.warned {
            state.warned = true;
            warn!(
                "{why}: judging `{service}` by DescribeServices alone, which cannot see lifecycle stages, bake time or hooks"
            );
        }
    }

    /// Once the grace is over, `service` is judged by DescribeServices alone.
    fn give_up_after_grace(&self, service: &str, why: &str) {
        let waited = self.state.lock().expect("tracker lock").started.elapsed();
        if waited >= GRACE {
            self.fall_back_one(service, why);
        }
    }

    /// The task definitions of these service revisions, from the cache or DescribeServiceRevisions.
    async fn task_definitions(
        &self,
        aws: &Aws,
        revisions: &[String],
    ) -> std::result::Result<HashMap<String, String>, ReadError> {
        let missing: Vec<String> = {
            let state = self.state.lock().expect("tracker lock");
            revisions
                .iter()
                .filter(|r| !state.revisions.contains_key(*r))
                .cloned()
                .collect()
        };
        if !missing.is_empty() {
            let found = sd::revision_task_definitions(aws, &missing).await?;
            let mut state = self.state.lock().expect("tracker lock");
            state.revisions.extend(found);
        }
        let state = self.state.lock().expect("tracker lock");
        Ok(revisions
            .iter()
            .filter_map(|r| state.revisions.get(r).map(|td| (r.clone(), td.clone())))
            .collect())
    }

    /// One poll: DescribeServices and DescribeServiceDeployments together, our service deployment
    /// looked for where it is not known yet, and each snapshot given its service deployment.
    pub async fn poll(
        &self,
        aws: &Aws,
        cluster: &str,
        expectations: &[(String, Expectation)],
    ) -> std::result::Result<Vec<ServiceSnapshot>, PollError> {
        let names: Vec<String> = expectations.iter().map(|(n, _)| n.clone()).collect();
        let following = self.tracked(|t| match t {
            Track::Following(arn) => Some(arn),
            _ => None,
        });
        let arns: Vec<String> = following.into_iter().map(|(_, a)| a).collect();
        let codedeploys = self.tracked(|t| match t {
            Track::CodeDeploy(id) => Some(id),
            _ => None,
        });
        let (services, views, codedeployed) = tokio::join!(
            aws::ecs::poll_services(aws, cluster, &names),
            async {
                if arns.is_empty() {
                    Ok(Vec::new())
                } else {
                    sd::describe(aws, &arns).await
                }
            },
            futures_util::future::join_all(
                codedeploys
                    .iter()
                    .map(|(_, id)| aws::codedeploy::view(aws, id))
            )
        );
        let mut snapshots = services?;
        for ((service, _), view) in codedeploys.iter().zip(codedeployed) {
            let view = view?;
            if let Some(s) = snapshots.iter_mut().find(|s| s.name == *service) {
                s.codedeploy = Some(view);
            }
        }
        let mut views = match views {
            Ok(views) => views,
            Err(ReadError::Unavailable(why)) => {
                self.fall_back(&why);
                Vec::new()
            }
            Err(ReadError::Poll(e)) => return Err(e),
        };
        for (name, want) in expectations {
            if self.track(name) == Track::Looking
                && let Some(view) = self.discover(aws, cluster, name, want).await?
            {
                views.push(view);
            }
        }
        self.attach(aws, &mut snapshots, expectations, views)
            .await?;
        Ok(snapshots)
    }

    /// Our service deployment of `service`, when it can be told.
    async fn discover(
        &self,
        aws: &Aws,
        cluster: &str,
        service: &str,
        want: &Expectation,
    ) -> std::result::Result<Option<ServiceDeploymentView>, PollError> {
        let briefs = match sd::list(aws, cluster, service, 10).await {
            Ok(briefs) => briefs,
            Err(ReadError::Unavailable(why)) => {
                self.fall_back(&why);
                return Ok(None);
            }
            // The legacy view of this poll still counts; looking goes on within the grace.
            Err(ReadError::Poll(e)) => {
                self.give_up_after_grace(
                    service,
                    &format!("ListServiceDeployments failed: {}", e.describe()),
                );
                return Ok(None);
            }
        };
        if briefs.is_empty() {
            // A service on ECS has at least the deployment that created it: an endpoint that
            // lists none does not track service deployments.
            self.fall_back_one(
                service,
                &format!("ListServiceDeployments lists no service deployment of `{service}`"),
            );
            return Ok(None);
        }
        let Some(arn) = self.ours(aws, &briefs, want).await? else {
            self.give_up_after_grace(
                service,
                &format!(
                    "no service deployment of `{service}` deploys {} after {}s",
                    short_arn(&want.task_definition),
                    GRACE.as_secs()
                ),
            );
            return Ok(None);
        };
        self.set(service, Track::Following(arn.clone()));
        match sd::describe(aws, std::slice::from_ref(&arn)).await {
            Ok(views) => Ok(views.into_iter().next()),
            Err(ReadError::Unavailable(why)) => {
                self.fall_back(&why);
                Ok(None)
            }
            Err(ReadError::Poll(e)) => Err(e),
        }
    }

    async fn ours(
        &self,
        aws: &Aws,
        briefs: &[Brief],
        want: &Expectation,
    ) -> std::result::Result<Option<String>, PollError> {
        let revisions: Vec<String> = briefs
            .iter()
            .filter_map(|b| b.target_revision.clone())
            .collect();
        let tds = match self.task_definitions(aws, &revisions).await {
            Ok(tds) => tds,
            Err(ReadError::Unavailable(why)) => {
                self.fall_back(&why);
                return Ok(None);
            }
            Err(ReadError::Poll(e)) => return Err(e),
        };
        let candidates: Vec<(String, Option<String>, Option<i64>)> = briefs
            .iter()
            .map(|b| {
                let td = b.target_revision.as_ref().and_then(|r| tds.get(r)).cloned();
                (b.arn.clone(), td, b.created_at)
            })
            .collect();
        Ok(deployment::ours(&candidates, &want.task_definition, want.since).map(str::to_owned))
    }

    /// Each snapshot gets its service deployment (with the task definitions of its revisions), or
    /// the note that it is still looked for.
    async fn attach(
        &self,
        aws: &Aws,
        snapshots: &mut [ServiceSnapshot],
        expectations: &[(String, Expectation)],
        mut views: Vec<ServiceDeploymentView>,
    ) -> std::result::Result<(), PollError> {
        let revisions: Vec<String> = views
            .iter()
            .flat_map(|v| v.target_revision.iter().chain(&v.source_revisions))
            .cloned()
            .collect();
        let tds = match self.task_definitions(aws, &revisions).await {
            Ok(tds) => tds,
            Err(ReadError::Unavailable(why)) => {
                self.fall_back(&why);
                return Ok(());
            }
            Err(ReadError::Poll(e)) => return Err(e),
        };
        with_task_definitions(&mut views, &tds);
        for s in snapshots {
            let Some((_, want)) = expectations.iter().find(|(n, _)| *n == s.name) else {
                continue;
            };
            match self.track(&s.name) {
                Track::Following(arn) => {
                    s.service_deployment = views.iter().find(|v| v.arn == arn).cloned();
                }
                Track::Looking => {
                    s.awaiting_service_deployment = Some(format!(
                        "looking for the service deployment of {}",
                        short_arn(&want.task_definition)
                    ));
                }
                Track::Legacy | Track::CodeDeploy(_) => {}
            }
        }
        Ok(())
    }
}

/// Each view's revisions named by the task definitions they run.
fn with_task_definitions(views: &mut [ServiceDeploymentView], tds: &HashMap<String, String>) {
    for v in views {
        v.target_task_definition = v.target_revision.as_ref().and_then(|r| tds.get(r)).cloned();
        v.source_task_definitions = v
            .source_revisions
            .iter()
            .filter_map(|r| tds.get(r).cloned())
            .collect();
    }
}

/// The service's newest service deployments (newest first), described, with the task
/// definitions of their revisions.
pub async fn recent(
    aws: &Aws,
    cluster: &str,
    service: &str,
    n: i32,
) -> std::result::Result<Vec<ServiceDeploymentView>, ReadError> {
    let briefs = sd::list(aws, cluster, service, n).await?;
    if briefs.is_empty() {
        return Ok(Vec::new());
    }
    let arns: Vec<String> = briefs.iter().map(|b| b.arn.clone()).collect();
    let mut views = sd::describe(aws, &arns).await?;
    let revisions: Vec<String> = views
        .iter()
        .flat_map(|v| v.target_revision.iter().chain(&v.source_revisions))
        .cloned()
        .collect();
    let tds: HashMap<String, String> = sd::revision_task_definitions(aws, &revisions)
        .await?
        .into_iter()
        .collect();
    with_task_definitions(&mut views, &tds);
    // In the order ListServiceDeployments gave: newest first.
    views.sort_by_key(|v| arns.iter().position(|a| *a == v.arn));
    Ok(views)
}

/// The deployment of `service` that is in flight, or an error saying there is none (naming how the
/// last one ended).
pub async fn in_flight(aws: &Aws, cluster: &str, service: &str) -> Result<ServiceDeploymentView> {
    let views = recent(aws, cluster, service, 5)
        .await
        .map_err(|e| e.into_error(&format!("service `{service}`")))?;
    match views.iter().find(|v| !v.is_over()) {
        Some(v) => Ok(v.clone()),
        None => Err(Error::input(match views.first() {
            Some(last) => format!(
                "service `{service}` has no service deployment in flight: the last one, {}, is {} (ended {})",
                last.id(),
                last.status,
                last.finished_at.as_deref().unwrap_or("at an unknown time")
            ),
            None => format!("service `{service}` has no service deployment at all"),
        })),
    }
}

/// What `ecs-ship deployment` does to the deployment in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Steer {
    /// ContinueServiceDeployment: the hook awaiting action lets the deployment go on.
    Continue,
    /// StopServiceDeployment ROLLBACK (or, at a hook, ContinueServiceDeployment ROLLBACK).
    Rollback,
    /// StopServiceDeployment ABORT: the deployment stops where it stands.
    Stop,
}

/// What was steered.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Steered {
    pub service: String,
    pub action: Steer,
    /// The hook acted on, when one was.
    pub hook_id: Option<String>,
    /// The service deployment as it was before.
    pub service_deployment: ServiceDeploymentView,
}

impl std::fmt::Display for Steered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = &self.service_deployment;
        let target = d
            .target_task_definition
            .as_deref()
            .map(short_arn)
            .unwrap_or("its target revision");
        let hook = self
            .hook_id
            .as_deref()
            .map(|h| format!(" at hook {h}"))
            .unwrap_or_default();
        let done = match self.action {
            Steer::Continue => format!("continued{hook}: it goes on deploying {target}"),
            Steer::Rollback => format!("asked to roll back{hook} from {target}"),
            Steer::Stop => "stopped (ABORT): the service stays where it stands".to_owned(),
        };
        writeln!(
            f,
            "{}: service deployment {} ({}) {done}",
            self.service,
            d.id(),
            d.state()
        )
    }
}

/// Acts on the deployment of `service` in flight: `hook_id` names the hook (default: the one
/// awaiting action). Refuses when nothing is in flight, or nothing awaits a continue.
pub async fn steer(
    aws: &Aws,
    cluster: &str,
    service: &str,
    action: Steer,
    hook_id: Option<&str>,
) -> Result<Steered> {
    let d = in_flight(aws, cluster, service).await?;
    let awaiting = d.awaiting_hook().map(|h| h.id.clone());
    let hook = hook_id.map(str::to_owned).or(awaiting);
    let used = match (action, &hook) {
        (Steer::Continue, None) => {
            return Err(Error::input(format!(
                "service deployment {} of `{service}` has no lifecycle hook awaiting action ({}): nothing to continue",
                d.id(),
                d.state()
            )));
        }
        (Steer::Continue, Some(h)) => {
            sd::continue_deployment(aws, &d.arn, Some(h), sd::HookAction::Continue).await?;
            Some(h.clone())
        }
        (Steer::Rollback, Some(h)) if hook_id.is_some() => {
            sd::continue_deployment(aws, &d.arn, Some(h), sd::HookAction::Rollback).await?;
            Some(h.clone())
        }
        (Steer::Rollback, _) => {
            sd::stop(aws, &d.arn, sd::StopKind::Rollback).await?;
            None
        }
        (Steer::Stop, _) => {
            sd::stop(aws, &d.arn, sd::StopKind::Abort).await?;
            None
        }
    };
    Ok(Steered {
        service: service.to_owned(),
        action,
        hook_id: used,
        service_deployment: d,
    })
}

/// What to wait for after steering: the target revision after a continue, the source after a
/// rollback (a stop is not waited for: it leaves the service where it is).
pub fn after_steer(
    steered: &Steered,
    settings: &super::rollout::WaitSettings,
) -> Option<Expectation> {
    let d = &steered.service_deployment;
    let (td, rollback) = match steered.action {
        Steer::Continue => (d.target_task_definition.clone()?, false),
        Steer::Rollback => (d.source_task_definitions.first()?.clone(), true),
        Steer::Stop => return None,
    };
    Some(Expectation {
        follow: Some(crate::core::rollout::Follow {
            arn: d.arn.clone(),
            rollback,
        }),
        ..settings.expect(td)
    })
}

/// The revision `ecs-ship rollback` goes back to: `to` (a revision number of the running family,
/// family:revision or an ARN), else the one the service ran before the current one.
pub async fn rollback_target(
    aws: &Aws,
    cluster: &str,
    service: &str,
    running: &str,
    to: Option<&str>,
) -> Result<String> {
    let target = match to {
        Some(to) => {
            let ident = if to.chars().all(|c| c.is_ascii_digit()) {
                format!("{}:{to}", crate::core::prune::family_of(running))
            } else {
                to.to_owned()
            };
            aws::ecs::describe_task_definition(aws, &ident)
                .await
                .map_err(|e| e.prefixed(&format!("--to {to}:")))?
                .arn
        }
        None => {
            let recent = recent(aws, cluster, service, 10).await.map_err(|e| {
                e.into_error(&format!("service `{service}`"))
                    .context("name the revision to go back to with --to REVISION")
            })?;
            deployment::previous_revision(running, &recent).ok_or_else(|| {
                Error::input(format!(
                    "cannot tell which revision `{service}` ran before {} from its service deployments: name it with --to REVISION",
                    short_arn(running)
                ))
            })?
        }
    };
    if target == running {
        return Err(Error::input(format!(
            "service `{service}` already runs {}: nothing to roll back (name another revision with --to)",
            short_arn(running)
        )));
    }
    Ok(target)
}

/// What `ecs-ship rollback` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RolledBack {
    pub service: String,
    /// The revision it ran, and the one it was sent back to.
    pub from: String,
    pub to: String,
    pub wait: super::rollout::WaitReport,
}

impl std::fmt::Display for RolledBack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.wait)
    }
}

impl crate::output::Report for RolledBack {
    fn outputs(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("task-definition-arn", self.to.clone())];
        out.extend(self.wait.outputs());
        out
    }
}

/// Sends `service` back to `to` (or the revision it ran before) and waits for it with the same
/// verdict as a deploy. The deadline covers the reads and the update too.
pub async fn roll_back_service(
    aws: &Aws,
    cluster: &str,
    service: &str,
    to: Option<&str>,
    settings: &super::rollout::WaitSettings,
) -> Result<(RolledBack, Option<Error>)> {
    let deadline = tokio::time::Instant::now() + settings.timeout;
    use super::deploy::within;
    let read = aws::ecs::describe_service(aws, cluster, service);
    let info = within(deadline, aws, "reading the service", read).await?;
    crate::core::rollout::check_deployable(service, &info.status, &info.deployment_controller)
        .map_err(|refusal| Error::input_with(refusal.to_string(), refusal))?;
    if info.deployment_controller == "CODE_DEPLOY" {
        return Err(Error::input(format!(
            "service `{service}` is deployed by CodeDeploy: roll it back there (`aws deploy stop-deployment --auto-rollback-enabled` for one in flight), or `ecs-ship deploy --task-definition` the revision to go back to"
        )));
    }
    if info.express {
        return Err(Error::input(format!(
            "service `{service}` is an ECS Express Mode service: ECS owns its revisions; go back with `ecs-ship deploy --image` the image it ran before"
        )));
    }
    let running = info.task_definition;
    let target = within(
        deadline,
        aws,
        "finding the revision to roll back to",
        rollback_target(aws, cluster, service, &running, to),
    )
    .await?;
    tracing::info!("rolling back service `{service}` from {running} to {target}");
    let since = chrono::Utc::now().timestamp();
    let plain = aws::ecs::UpdateOptions::default();
    let update = aws::ecs::update_service(aws, cluster, service, &target, &plain);
    within(deadline, aws, "updating the service", update).await?;
    let want = Expectation {
        previous: Some(running.clone()),
        since: Some(since),
        ..settings.expect(target.clone())
    };
    let settings = super::rollout::WaitSettings {
        timeout: deadline.saturating_duration_since(tokio::time::Instant::now()),
        ..*settings
    };
    let waited =
        super::rollout::wait_services(aws, cluster, &[(service.to_owned(), want)], &settings)
            .await?;
    let rolled = RolledBack {
        service: service.to_owned(),
        from: running,
        to: target,
        wait: waited.report,
    };
    Ok((rolled, waited.failure))
}

/// What `ecs-ship deployment` did, and the wait after it when asked for.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SteerReport {
    pub steered: Steered,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<super::rollout::WaitReport>,
}

impl std::fmt::Display for SteerReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.steered)?;
        if let Some(wait) = &self.wait {
            write!(f, "{wait}")?;
        }
        Ok(())
    }
}

impl crate::output::Report for SteerReport {
    fn outputs(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![(
            "service-deployment-arn",
            self.steered.service_deployment.arn.clone(),
        )];
        if let Some(wait) = &self.wait {
            out.extend(wait.outputs());
        }
        out
    }
}

/// Steers the deployment of `service` in flight and, with `wait`, follows it to its verdict.
pub async fn steer_then_wait(
    aws: &Aws,
    cluster: &str,
    service: &str,
    action: Steer,
    hook_id: Option<&str>,
    settings: &super::rollout::WaitSettings,
    wait: bool,
) -> Result<(SteerReport, Option<Error>)> {
    // --timeout bounds the whole command, the calls that steer included.
    let deadline = tokio::time::Instant::now() + settings.timeout;
    let what = format!("steering the deployment of `{service}`");
    let steering = steer(aws, cluster, service, action, hook_id);
    let steered = super::deploy::within(deadline, aws, &what, steering).await?;
    let want = after_steer(&steered, settings).filter(|_| wait);
    let Some(want) = want else {
        let report = SteerReport {
            steered,
            wait: None,
        };
        return Ok((report, None));
    };
    tracing::info!("{}", steered.to_string().trim_end());
    let settings = super::rollout::WaitSettings {
        timeout: deadline.saturating_duration_since(tokio::time::Instant::now()),
        ..*settings
    };
    let waited =
        super::rollout::wait_services(aws, cluster, &[(service.to_owned(), want)], &settings)
            .await?;
    let report = SteerReport {
        steered,
        wait: Some(waited.report),
    };
    Ok((report, waited.failure))
}
