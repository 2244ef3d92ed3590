//! `ecs-ship deploy`: register the task definition as `taskdef register` does (by default from the
//! revision the service runs now), update the service to that exact revision ARN, and wait.

use clap::{ArgGroup, Args};

use crate::cli::shared::{
    ChangeArgs, DeployFlags, OverrideSourceArgs, RegisterFlags, RolloutArgs, VerifyArgs, WaitFlags,
};
use crate::error::Result;
use crate::flow::services::RollbackScope;
use crate::flow::{self, Session};
use crate::output::Output;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("override").multiple(false)))]
pub struct DeployArgs {
    /// The service's cluster.
    #[arg(long, env = "ECS_SHIP_CLUSTER", value_parser = crate::cli::shared::non_empty)]
    pub cluster: String,

    /// The service to deploy (repeatable: several services of the cluster, each getting the
    /// --image of the containers it has, waited for together).
    #[arg(long = "service", env = "ECS_SHIP_SERVICE", required = true, value_parser = crate::cli::shared::non_empty)]
    pub services: Vec<String>,

    /// With several services and --rollback-on-failure: roll back only the services that failed,
    /// or all of them (`all` implies --rollback-on-failure).
    #[arg(long, value_name = "SCOPE", value_parser = ["failed", "all"], default_value = "failed")]
    pub rollback: String,

    #[command(flatten)]
    pub source: OverrideSourceArgs,

    #[command(flatten)]
    pub changes: ChangeArgs,

    #[command(flatten)]
    pub register: RegisterFlags,

    #[command(flatten)]
    pub rollout: RolloutArgs,

    #[command(flatten)]
    pub verify: VerifyArgs,

    #[command(flatten)]
    pub wait: WaitFlags,
}

pub async fn run(session: &Session, args: &DeployArgs, out: Output) -> Result<()> {
    let mut rollout = args.rollout.clone();
    rollout.rollback_on_failure |= args.rollback == "all";
    let flags = DeployFlags {
        register: &args.register,
        rollout: &rollout,
        verify: &args.verify,
        wait: &args.wait,
    };
    let plans: Vec<_> = args
        .services
        .iter()
        .map(|service| {
            flags.plan(
                &args.cluster,
                service,
                args.source.source(&args.cluster, service),
                args.changes.changes(),
            )
        })
        .collect();
    if let [plan] = plans.as_slice() {
        let deployed = flow::rollout::deploy(session, plan).await?;
        out.result(&deployed.result)?;
        return deployed.failure.map_or(Ok(()), Err);
    }
    let scope = if args.rollback == "all" {
        RollbackScope::All
    } else {
        RollbackScope::Failed
    };
    let (result, failure) = flow::services::deploy(session, &plans, None, scope).await?;
    out.result(&result)?;
    failure.map_or(Ok(()), Err)
}
