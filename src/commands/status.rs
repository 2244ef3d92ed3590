//! `ecs-ship status`: where services stand, read-only - deployments, the revision and the family's
//! latest, each container's image digest and log group, recent ECR images, target health, events.

use clap::Args;

use crate::cli::shared::ServicesArgs;
use crate::error::Result;
use crate::flow::{self, Session};
use crate::output::Output;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: ServicesArgs,
}

pub async fn run(session: &Session, args: &StatusArgs, out: Output) -> Result<()> {
    let (report, failure) =
        flow::status::status(session, &args.target.cluster, &args.target.services).await?;
    out.result(&report)?;
    failure.map_or(Ok(()), Err)
}
