//! `ecs-ship deploy`: register the task definition as `taskdef register` does (by default from the
//! revision the service runs now), update the service to that exact revision ARN, and wait.

use clap::{ArgGroup, Args};
use tracing::{info, warn};

use super::taskdef::{self, ChangeArgs, RegisterOptions, SourceArgs};
use super::wait::{WaitOptions, wait_services};
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
    if args.register.dry_run {
        info!(
            "dry run: would update service `{}` from {previous}",
            args.service
        );
        return out.result(&registered);
    }
    let arn = registered.arn.clone().unwrap_or_default();
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
        return out.result(&registered);
    }
    let want = Expectation {
        task_definition: arn.clone(),
        previous: Some(previous.clone()),
        max_task_failures: args.wait.max_task_failures,
    };
    let result = wait_services(
        &aws,
        &args.cluster,
        &[(args.service.clone(), want)],
        &args.wait,
        out,
    )
    .await;
    let Err(Error::RolloutFailed(reason)) = result else {
        return result.map(|_| ());
    };
    if !args.rollback_on_failure {
        return Err(Error::RolloutFailed(reason));
    }
    // ECS itself may have rolled back already (circuit breaker): then there is nothing to undo.
    let now = aws::ecs::describe_service(&aws, &args.cluster, &args.service).await?;
    if now.task_definition == previous {
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
        out,
    )
    .await;
    let outcome = match rolled {
        Ok(_) => format!("rolled back to {previous}, which is stable"),
        Err(e) => format!("the rollback to {previous} did not settle either: {e}"),
    };
    Err(Error::RolloutFailed(format!("{reason}; {outcome}")))
}
