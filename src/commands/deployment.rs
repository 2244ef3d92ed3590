//! `ecs-ship deployment continue|rollback|stop`: steer the service deployment in flight - let a
//! paused lifecycle hook go on, roll it back, or stop it where it stands.

use clap::{Args, Subcommand};

use crate::cli::shared::WaitFlags;
use crate::error::{Error, Result};
use crate::flow::deployments::Steer;
use crate::flow::{self, Session};
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum DeploymentCommand {
    /// Let the lifecycle hook awaiting action go on (ContinueServiceDeployment).
    Continue(SteerArgs),
    /// Roll the deployment in flight back (StopServiceDeployment ROLLBACK; with --hook-id,
    /// ContinueServiceDeployment ROLLBACK at that hook).
    Rollback(SteerArgs),
    /// Stop the deployment in flight where it stands (StopServiceDeployment ABORT).
    Stop(SteerArgs),
}

#[derive(Debug, Args)]
pub struct SteerArgs {
    /// The cluster of the service.
    #[arg(long, env = "ECS_SHIP_CLUSTER", value_parser = crate::cli::shared::non_empty)]
    pub cluster: String,

    /// The service whose deployment in flight is acted on.
    #[arg(long, env = "ECS_SHIP_SERVICE", value_parser = crate::cli::shared::non_empty)]
    pub service: String,

    /// The lifecycle hook to act on [default: the one awaiting action].
    #[arg(long, value_name = "ID")]
    pub hook_id: Option<String>,

    /// Then follow the deployment to its verdict, as `wait` does (continue: the new revision;
    /// rollback: back on the previous one).
    #[arg(long)]
    pub wait: bool,

    #[command(flatten)]
    pub options: WaitFlags,
}

pub async fn run(session: &Session, cmd: DeploymentCommand, out: Output) -> Result<()> {
    let (action, args) = match cmd {
        DeploymentCommand::Continue(args) => (Steer::Continue, args),
        DeploymentCommand::Rollback(args) => (Steer::Rollback, args),
        DeploymentCommand::Stop(args) => (Steer::Stop, args),
    };
    if args.wait && action == Steer::Stop {
        return Err(Error::input(
            "--wait: a stopped deployment leaves the service where it stands; there is nothing to wait for",
        ));
    }
    let aws = session.aws().await?;
    let settings = args.options.settings();
    let (report, failure) = flow::deployments::steer_then_wait(
        aws,
        &args.cluster,
        &args.service,
        action,
        args.hook_id.as_deref(),
        &settings,
        args.wait,
    )
    .await?;
    out.result(&report)?;
    failure.map_or(Ok(()), Err)
}
