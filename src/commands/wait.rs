//! `ecs-ship wait`: until each service is stable on its expected revision, or a fast failure
//! that says why (rollout state, new events, stopped tasks with exit codes and their last log lines).

use clap::Args;

use crate::cli::shared::{ServicesArgs, WaitFlags};
use crate::error::{Error, Result};
use crate::flow::{self, Session};
use crate::output::Output;

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[command(flatten)]
    pub target: ServicesArgs,

    /// The revision the service must end up on [default: the service's current taskDefinition].
    #[arg(long, value_name = "ARN")]
    pub task_definition: Option<String>,

    #[command(flatten)]
    pub options: WaitFlags,
}

pub async fn run(session: &Session, args: &WaitArgs, out: Output) -> Result<()> {
    if args.task_definition.is_some() && args.target.services.len() > 1 {
        return Err(Error::input(
            "--task-definition names one revision: wait for one --service at a time with it",
        ));
    }
    let aws = session.aws().await?;
    let waited = flow::rollout::wait_current(
        aws,
        &args.target.cluster,
        &args.target.services,
        args.task_definition.as_deref(),
        &args.options.settings(),
    )
    .await?;
    out.result(&waited.report)?;
    waited.failure.map_or(Ok(()), Err)
}
