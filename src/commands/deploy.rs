//! `ecs-ship deploy`: register the task definition as `taskdef register` does (by default from the
//! revision the service runs now), update the service to that exact revision ARN, and wait.

use std::fmt;

use clap::{ArgGroup, Args};
use serde::Serialize;
use tracing::{info, warn};

use super::taskdef::{self, ChangeArgs, RegisterOptions, RegisterResult, SourceArgs};
use super::wait::{WaitOptions, WaitReport, wait_services};
use crate::aws::{self, Aws};
use crate::cli::GlobalArgs;
use crate::core::rollout::Expectation;
use crate::error::{Error, Result};
use crate::output::Output;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("override").multiple(false).args(["family", "task_definition", "file"])))]
pub struct DeployArgs {
    /// The service's cluster.
    #[arg(long, env = "ECS_SHIP_CLUSTER")]
    pub cluster: String,

    /// The service to deploy.
    #[arg(long, env = "ECS_SHIP_SERVICE")]
    pub service: String,

    /// Start from a family's latest revision (or FAMILY:REV) instead of the service's.
    #[arg(long, value_name = "FAMILY[:REV]")]
    pub family: Option<String>,

    /// Start from this task definition ARN; with no changes, deploy exactly it.
    #[arg(long, value_name = "ARN")]
    pub task_definition: Option<String>,

    /// Start from a JSON file instead of the service's revision.
    #[arg(long, value_name = "PATH")]
    pub file: Option<std::path::PathBuf>,

    /// Fill `${NAME}` placeholders in the file from the environment.
    #[arg(long, requires = "file")]
    pub expand_env: bool,

    #[command(flatten)]
    pub changes: ChangeArgs,

    #[command(flatten)]
    pub register: RegisterOptions,

    /// Start a new deployment even when the revision does not change.
    #[arg(long)]
    pub force_new_deployment: bool,

    /// Set the service's desired count.
    #[arg(long, value_name = "N")]
    pub desired_count: Option<i32>,

    /// Stop after UpdateService.
    #[arg(long, conflicts_with = "rollback_on_failure")]
    pub no_wait: bool,

    /// When the rollout fails and ECS did not roll back itself, update the service back to the
    /// revision it ran before and wait for that. The exit code stays 4.
    #[arg(long)]
    pub rollback_on_failure: bool,

    #[command(flatten)]
    pub wait: WaitOptions,
}

/// What `deploy` did: the revision, and how waiting for it (and any rollback) ended.
#[derive(Debug, Serialize)]
pub struct DeployResult {
    pub task_definition: RegisterResult,
    /// The revision the service ran before.
    pub previous: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<WaitReport>,
}

impl fmt::Display for DeployResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.wait {
            None => write!(f, "{}", self.task_definition)?,
            Some(report) => write!(f, "{report}")?,
        }
        if let Some(rollback) = &self.rollback {
            write!(f, "after the rollback:\n{rollback}")?;
        }
        Ok(())
    }
}

pub async fn run(global: &GlobalArgs, args: &DeployArgs, out: Output) -> Result<()> {
    let aws = Aws::load(global).await?;
    let service = aws::ecs::describe_service(&aws, &args.cluster, &args.service).await?;
    if service.deployment_controller != "ECS" {
        return Err(Error::input(format!(
            "service `{}` uses the {} deployment controller: ecs-ship deploys only services with the ECS (rolling update) controller",
            args.service, service.deployment_controller
        )));
    }
    let previous = service.task_definition.clone();
    let source = SourceArgs {
        cluster: Some(args.cluster.clone()),
        service: (args.family.is_none() && args.task_definition.is_none() && args.file.is_none())
            .then(|| args.service.clone()),
        family: args.family.clone(),
        task_definition: args.task_definition.clone(),
        file: args.file.clone(),
        expand_env: args.expand_env,
    };
    let prepared = taskdef::prepare(global, &source, &args.changes, Some(&aws)).await?;
    let registered = taskdef::register_prepared(&aws, prepared, &args.register).await?;
    let mut result = DeployResult {
        task_definition: registered,
        previous: previous.clone(),
        wait: None,
        rollback: None,
    };
    if args.register.dry_run {
        info!(
            "dry run: would update service `{}` from {previous}",
            args.service
        );
        return out.result(&result);
    }
    let arn = result.task_definition.arn.clone().unwrap_or_default();
    aws::ecs::update_service(
        &aws,
        &args.cluster,
        &args.service,
        &arn,
        args.force_new_deployment,
        args.desired_count,
    )
    .await
    .map_err(|e| match e {
        Error::Remote { message, source } => Error::Remote {
            message: format!(
                "{message} (registered {arn}: re-run, or update the service to it by hand)"
            ),
            source,
        },
        other => other,
    })?;
    info!(
        "updated service `{}` to {arn} (was {previous})",
        args.service
    );
    if args.no_wait {
        return out.result(&result);
    }
    let want = Expectation {
        task_definition: arn.clone(),
        previous: Some(previous.clone()),
        max_task_failures: args.wait.max_task_failures,
    };
    let waited = wait_services(
        &aws,
        &args.cluster,
        &[(args.service.clone(), want)],
        &args.wait,
    )
    .await?;
    result.wait = Some(waited.report);
    let reason = match waited.failure {
        None => return out.result(&result),
        Some(Error::RolloutFailed(reason)) if args.rollback_on_failure => reason,
        Some(other) => {
            out.result(&result)?;
            return Err(other);
        }
    };
    // ECS itself may have rolled back already (circuit breaker): then there is nothing to undo.
    let now = aws::ecs::describe_service(&aws, &args.cluster, &args.service).await?;
    if now.task_definition == previous {
        out.result(&result)?;
        return Err(Error::RolloutFailed(format!(
            "{reason}; ECS already rolled the service back to {previous}"
        )));
    }
    warn!("rolling back service `{}` to {previous}", args.service);
    aws::ecs::update_service(&aws, &args.cluster, &args.service, &previous, false, None).await?;
    let back = Expectation {
        task_definition: previous.clone(),
        previous: None,
        max_task_failures: None,
    };
    let rolled = wait_services(
        &aws,
        &args.cluster,
        &[(args.service.clone(), back)],
        &args.wait,
    )
    .await?;
    let outcome = match &rolled.failure {
        None => format!("rolled back to {previous}, which is stable"),
        Some(e) => format!("the rollback to {previous} did not settle either: {e}"),
    };
    result.rollback = Some(rolled.report);
    out.result(&result)?;
    Err(Error::RolloutFailed(format!("{reason}; {outcome}")))
}
