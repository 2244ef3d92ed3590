//! Several services from one deploy (same cluster, e.g. an API and its worker on one image): each
//! service's task definition registered with the images of the containers it has, all services
//! updated, then one batched wait with a verdict per service, an overall exit code (the worst), and
//! a rollback of exactly the services that failed - or of all of them (`--rollback all`).

use std::fmt;

use serde::Serialize;
use tracing::{info, warn};

use super::Session;
use super::prune::{MovedSchedule, PruneReport};
use super::rollout::{self, AfterDone, DeployPlan, Registered, WaitReport, WaitSettings};
use super::taskdef::{Loaded, RegisterResult};
use super::verify::{self, VerifyReport};
use crate::aws;
use crate::aws::ecs::ServiceInfo;
use crate::core::rollout::{Expectation, RollbackPlan, ServiceVerdict, rollback_plan, short_arn};
use crate::core::taskdef::container_names;
use crate::error::{Error, Result};

/// Which services `--rollback-on-failure` sends back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackScope {
    /// Exactly the services that failed or timed out.
    Failed,
    /// Every service of the deploy.
    All,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceDeployment {
    pub service: String,
    pub task_definition: RegisterResult,
    pub previous: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MultiDeployResult {
    pub cluster: String,
    pub services: Vec<ServiceDeployment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyReport>,
    /// EventBridge schedules moved (--update-schedules) and what --prune-keep did, per family.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<MovedSchedule>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<PruneReport>,
    /// The scope asked for with --rollback-on-failure, and the services it sent back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_scope: Option<RollbackScope>,
    pub rolled_back: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<WaitReport>,
    /// stable when every service is; else the worst verdict.
    pub verdict: String,
}

impl fmt::Display for MultiDeployResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.wait {
            Some(report) => {
                write!(f, "{report}")?;
                if let Some(verify) = &self.verify {
                    write!(f, "{verify}")?;
                }
            }
            None => {
                for s in &self.services {
                    writeln!(
                        f,
                        "{}: {}",
                        s.service,
                        s.task_definition.arn.as_deref().unwrap_or("(dry run)")
                    )?;
                }
            }
        }
        if !self.rolled_back.is_empty() {
            writeln!(
                f,
                "rolled back ({}): {}",
                match self.rollback_scope {
                    Some(RollbackScope::All) => "all services",
                    _ => "the services that failed",
                },
                self.rolled_back.join(", ")
            )?;
        }
        if let Some(rollback) = &self.rollback {
            write!(f, "after the rollback:\n{rollback}")?;
        }
        Ok(())
    }
}

impl crate::output::Report for MultiDeployResult {
    fn outputs(&self) -> Vec<(&'static str, String)> {
        vec![("verdict", self.verdict.clone())]
    }
}

/// The worst of the verdicts: failed over timed out over interrupted over in progress over stable.
fn worst(verdicts: &[ServiceVerdict]) -> ServiceVerdict {
    let rank = |v: &ServiceVerdict| match v {
        ServiceVerdict::Failed => 4,
        ServiceVerdict::TimedOut => 3,
        ServiceVerdict::Interrupted => 2,
        ServiceVerdict::InProgress => 1,
        ServiceVerdict::Stable => 0,
    };
    verdicts
        .iter()
        .copied()
        .max_by_key(rank)
        .unwrap_or(ServiceVerdict::Stable)
}

/// Each service checked deployable, and the task definition it would get.
pub async fn load_all(
    session: &Session,
    plans: &[DeployPlan],
) -> Result<Vec<(ServiceInfo, Loaded)>> {
    let mut loaded = Vec::new();
    for plan in plans {
        let service = rollout::target(session, &plan.cluster, &plan.service).await?;
        let document = rollout::load_for(session, plan, &service).await?;
        loaded.push((service, document));
    }
    Ok(loaded)
}

/// Each service's revision registered (or reused), with the images of the containers its task
/// definition has; loaded first unless `loaded` already holds them (a release checked them
/// before building).
async fn register_all(
    session: &Session,
    plans: &[DeployPlan],
    loaded: Option<Vec<(ServiceInfo, Loaded)>>,
) -> Result<Vec<(DeployPlan, Registered)>> {
    let first = &plans[0];
    let loaded = match loaded {
        Some(loaded) => loaded,
        None => load_all(session, plans).await?,
    };
    let named: Vec<String> = first
        .changes
        .images
        .iter()
        .map(|i| {
            i.container.clone().ok_or_else(|| {
                Error::input(format!(
                    "--image {}: with several --service, name the container (NAME=IMAGE)",
                    i.image
                ))
            })
        })
        .collect::<Result<_>>()?;
    for name in &named {
        if !loaded
            .iter()
            .any(|(_, l)| container_names(&l.document).contains(name))
        {
            return Err(Error::input(format!(
                "--image {name}=...: none of the services' task definitions has a container `{name}`"
            )));
        }
    }
    let mut registered: Vec<(DeployPlan, Registered)> = Vec::new();
    for (plan, (service, document)) in plans.iter().zip(loaded) {
        let mut plan = plan.clone();
        let names = container_names(&document.document);
        plan.changes
            .images
            .retain(|i| i.container.as_ref().is_some_and(|c| names.contains(c)));
        let done = rollout::register_for(session, &plan, &service, document).await?;
        registered.push((plan, done));
    }
    Ok(registered)
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

/// Each plan names one service of the same cluster; settings (wait, rollback) are the first's.
pub async fn deploy(
    session: &Session,
    plans: &[DeployPlan],
    loaded: Option<Vec<(ServiceInfo, Loaded)>>,
    scope: RollbackScope,
) -> Result<(MultiDeployResult, Option<Error>)> {
    let first = plans.first().ok_or_else(|| Error::input("no --service"))?;
    check_distinct(plans.iter().map(|p| p.service.as_str()))?;
    let aws = session.aws().await?;
    let deadline = tokio::time::Instant::now() + first.wait.timeout;
    // Check every service and its containers before anything is registered; the whole deploy,
    // these calls included, is bounded by --timeout.
    let registered = rollout::within(
        deadline,
        aws,
        "registering the task definitions",
        register_all(session, plans, loaded),
    )
    .await?;
    let mut result = MultiDeployResult {
        cluster: first.cluster.clone(),
        services: registered
            .iter()
            .map(|(p, r)| ServiceDeployment {
                service: p.service.clone(),
                task_definition: r.task_definition.clone(),
                previous: r.previous.clone(),
            })
            .collect(),
        wait: None,
        verify: None,
        schedules: Vec::new(),
        pruned: Vec::new(),
        rollback_scope: first.rollback_on_failure.then_some(scope),
        rolled_back: Vec::new(),
        rollback: None,
        verdict: "not_waited".into(),
    };
    if first.register.dry_run {
        result.verdict = "dry_run".into();
        return Ok((result, None));
    }
    // Update all, then wait for all in one loop.
    let mut expectations = Vec::new();
    for (plan, r) in &registered {
        let arn = r.task_definition.arn.clone().unwrap_or_default();
        let update =
            aws::ecs::update_service(aws, &plan.cluster, &plan.service, &arn, &plan.update);
        match tokio::time::timeout_at(deadline, update).await {
            Ok(Ok(())) => info!(
                "updated service `{}` to {arn} (was {})",
                plan.service, r.previous
            ),
            Ok(Err(e)) => {
                let done: Vec<&str> = expectations
                    .iter()
                    .map(|(s, _): &(String, Expectation)| s.as_str())
                    .collect();
                let already = if done.is_empty() {
                    "none".to_owned()
                } else {
                    done.join(", ")
                };
                return Err(match e {
                    Error::Remote { message, source } => Error::Remote {
                        message: format!(
                            "{message} (services already updated: {already}; re-run to update the rest)"
                        ),
                        source,
                    },
                    other => other,
                });
            }
            Err(_) => {
                return Err(Error::TimedOut(format!(
                    "no answer within --timeout while updating service `{}`",
                    plan.service
                )));
            }
        }
        expectations.push((
            plan.service.clone(),
            Expectation {
                task_definition: arn,
                previous: Some(r.previous.clone()),
                max_task_failures: plan.wait.max_task_failures,
            },
        ));
    }
    if first.no_wait {
        return Ok((result, None));
    }
    let settings = WaitSettings {
        timeout: deadline.saturating_duration_since(tokio::time::Instant::now()),
        ..first.wait
    };
    let waited = rollout::wait_services(aws, &first.cluster, &expectations, &settings).await?;
    let verdicts: Vec<ServiceVerdict> = waited.report.services.iter().map(|s| s.verdict).collect();
    result.verdict = worst(&verdicts).as_str().to_owned();
    result.wait = Some(waited.report.clone());
    let mut failure = waited.failure;
    let mut verify_failed = false;
    if failure.is_none() && !first.verify.urls.is_empty() {
        let report = verify::verify(&first.verify).await;
        failure = report.failure();
        verify_failed = failure.is_some();
        if verify_failed {
            result.verdict = ServiceVerdict::Failed.as_str().to_owned();
        }
        result.verify = Some(report);
    }
    let Some(failure) = failure else {
        // Stable: schedules and pruning, per service.
        for (plan, r) in &registered {
            let arn = r.task_definition.arn.clone().unwrap_or_default();
            let mut done = AfterDone::default();
            let outcome = rollout::after_deploy(session, plan, &arn, &mut done).await;
            result.schedules.extend(done.schedules);
            result.pruned.extend(done.pruned);
            if let Err(e) = outcome {
                return Ok((result, Some(e)));
            }
        }
        return Ok((result, None));
    };
    let back_off = matches!(failure, Error::RolloutFailed(_) | Error::TimedOut(_))
        && first.rollback_on_failure;
    if !back_off {
        return Ok((result, Some(failure)));
    }
    // Roll back the scope: each to the revision it ran before, unless ECS already did.
    let mut back = Vec::new();
    for (report, (plan, r)) in waited.report.services.iter().zip(&registered) {
        // A --verify-url that fails speaks for the deploy as a whole.
        let failed = verify_failed
            || matches!(
                report.verdict,
                ServiceVerdict::Failed | ServiceVerdict::TimedOut
            );
        if scope == RollbackScope::Failed && !failed {
            continue;
        }
        let arn = r.task_definition.arn.clone().unwrap_or_default();
        let now = aws::ecs::describe_service(aws, &plan.cluster, &plan.service).await?;
        match rollback_plan(&arn, &r.previous, &now.task_definition) {
            RollbackPlan::RollBackTo(to) => {
                warn!("rolling back service `{}` to {to}", plan.service);
                aws::ecs::update_service(
                    aws,
                    &plan.cluster,
                    &plan.service,
                    &to,
                    &Default::default(),
                )
                .await?;
                back.push((
                    plan.service.clone(),
                    Expectation {
                        task_definition: to,
                        previous: None,
                        max_task_failures: None,
                    },
                ));
            }
            RollbackPlan::AlreadyRolledBack => {
                info!(
                    "ECS already rolled `{}` back to {}",
                    plan.service, r.previous
                )
            }
            RollbackPlan::NothingToRollBackTo => warn!(
                "`{}` ran {} before this deploy: nothing to roll back to",
                plan.service,
                short_arn(&r.previous)
            ),
        }
    }
    result.rolled_back = back.iter().map(|(s, _)| s.clone()).collect();
    if back.is_empty() {
        return Ok((result, Some(failure)));
    }
    let rolled = rollout::wait_services(aws, &first.cluster, &back, &first.wait).await?;
    let outcome = match &rolled.failure {
        None => format!(
            "rolled back {}, which are stable",
            result.rolled_back.join(", ")
        ),
        Some(e) => format!("the rollback did not settle either: {e}"),
    };
    result.rollback = Some(rolled.report);
    let message = format!("{failure}; {outcome}");
    let failure = match failure {
        Error::TimedOut(_) => Error::TimedOut(message),
        _ => Error::RolloutFailed(message),
    };
    Ok((result, Some(failure)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_verdict_wins() {
        use ServiceVerdict::*;
        let cases: &[(&[ServiceVerdict], ServiceVerdict)] = &[
            (&[Stable, Stable], Stable),
            (&[Stable, InProgress], InProgress),
            (&[Stable, Failed, TimedOut], Failed),
            (&[TimedOut, Interrupted], TimedOut),
            (&[], Stable),
        ];
        for (verdicts, want) in cases {
            assert_eq!(worst(verdicts), *want, "{verdicts:?}");
        }
    }
}
