//! `ecs-ship push`: push every tag of the build (from the state file) to ECR or any registry, then
//! resolve and verify the digest and record `repository@sha256:...`.

use clap::Args;

use crate::cli::shared::{PushFlags, StateArgs};
use crate::error::{Error, Result};
use crate::flow::{self, Session};
use crate::output::Output;

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push to this repository [default: the one `build` used].
    #[arg(long, env = "ECS_SHIP_REPOSITORY", value_name = "REPO")]
    pub repository: Option<String>,

    /// Push these tags [default: every tag of the build] (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,

    #[command(flatten)]
    pub options: PushFlags,

    #[command(flatten)]
    pub state: StateArgs,
}

pub async fn run(session: &Session, args: &PushArgs, out: Output) -> Result<()> {
    let request = args
        .options
        .request(args.repository.clone(), args.tags.clone());
    let result = flow::image::push(session, &request, &args.state.path).await?;
    // The image is pushed: print it for `IMAGE=$(ecs-ship push)` even when the state is not saved.
    out.result(&result)?;
    match result.state_error {
        None => Ok(()),
        Some(why) => Err(Error::input(format!(
            "pushed {}, but the state file was not saved: {why}",
            result.image
        ))),
    }
}
