//! `ecs-ship deploy`: register the task definition as `taskdef register` does (by default from the
//! revision the service runs now), update the service to that exact revision ARN, and wait.

use clap::{ArgGroup, Args};

use crate::cli::shared::{
    ChangeArgs, DeployFlags, OverrideSourceArgs, RegisterFlags, RolloutArgs, VerifyArgs, WaitFlags,
};
use crate::error::Result;
use crate::flow::{self, Session};
use crate::output::Output;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("override").multiple(false)))]
pub struct DeployArgs {
    /// The service's cluster.
    #[arg(long, env = "ECS_SHIP_CLUSTER", value_parser = crate::cli::shared::non_empty)]
    pub cluster: String,

    /// The service to deploy.
    #[arg(long, env = "ECS_SHIP_SERVICE", value_parser = crate::cli::shared::non_empty)]
    pub service: String,

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
    let flags = DeployFlags {
        register: &args.register,
        rollout: &args.rollout,
        verify: &args.verify,
        wait: &args.wait,
    };
    let plan = flags.plan(
        &args.cluster,
        &args.service,
        args.source.source(&args.cluster, &args.service),
        args.changes.changes(),
    );
    let deployed = flow::rollout::deploy(session, &plan).await?;
    out.result(&deployed.result)?;
    deployed.failure.map_or(Ok(()), Err)
}
