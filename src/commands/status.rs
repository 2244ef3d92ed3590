//! `ecs-ship status`: where services stand, read-only - deployments, the revision and the family's
//! latest, each container's image digest and log group, recent ECR images, target health, events;
//! for several targets (regions x accounts), each target's.

use clap::Args;

use crate::cli::shared::{TargetsArgs, non_empty};
use crate::error::Result;
use crate::flow::{self, Session};
use crate::output::Output;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The cluster of the services (with --targets, each target's unless the file names one).
    #[arg(long, env = "ECS_SHIP_CLUSTER", required_unless_present = "targets", value_parser = non_empty)]
    pub cluster: Option<String>,

    /// A service (repeatable).
    #[arg(long = "service", env = "ECS_SHIP_SERVICE", value_name = "NAME",
          required_unless_present = "targets", value_parser = non_empty)]
    pub services: Vec<String>,

    #[command(flatten)]
    pub fleet: TargetsArgs,
}

pub async fn run(session: &Session, args: &StatusArgs, out: Output) -> Result<()> {
    if args.fleet.several(&session.regions) {
        let targets =
            args.fleet
                .targets(&session.regions, args.cluster.as_deref(), &args.services)?;
        flow::fleet::check_readable(&targets)?;
        let options = args.fleet.options("status", None);
        let (report, failure) = flow::fleet::status(session, &targets, &options).await;
        out.result(&report)?;
        return failure.map_or(Ok(()), Err);
    }
    let cluster = args.cluster.as_deref().unwrap_or_default();
    let (report, failure) = flow::status::status(session, cluster, &args.services).await?;
    out.result(&report)?;
    failure.map_or(Ok(()), Err)
}
