//! `ecs-ship rollback`: send a service back to the revision it ran before the current one (or to
//! `--to REVISION`) and wait for it with the same verdict as a deploy.

use clap::Args;

use crate::cli::shared::WaitFlags;
use crate::error::Result;
use crate::flow::{self, Session};
use crate::output::Output;

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The cluster of the service.
    #[arg(long, env = "ECS_SHIP_CLUSTER", value_parser = crate::cli::shared::non_empty)]
    pub cluster: String,

    /// The service to roll back.
    #[arg(long, env = "ECS_SHIP_SERVICE", value_parser = crate::cli::shared::non_empty)]
    pub service: String,

    /// The revision to go back to: a revision number of the running family, family:revision, or an
    /// ARN [default: the one the service ran before the current one, from its service deployments].
    #[arg(long, value_name = "REVISION")]
    pub to: Option<String>,

    #[command(flatten)]
    pub options: WaitFlags,
}

pub async fn run(session: &Session, args: &RollbackArgs, out: Output) -> Result<()> {
    let aws = session.aws().await?;
    let (rolled, failure) = flow::deployments::roll_back_service(
        aws,
        &args.cluster,
        &args.service,
        args.to.as_deref(),
        &args.options.settings(),
    )
    .await?;
    out.result(&rolled)?;
    failure.map_or(Ok(()), Err)
}
