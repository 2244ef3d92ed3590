//! `ecs-ship build`: the image built through the Docker Engine API, tagged with the run's UTC
//! timestamp, the short git sha and any --tag, labelled (OCI), and recorded in the state file.

use std::path::PathBuf;

use chrono::Utc;
use clap::Args;

use crate::cli::shared::{BuildFlags, StateArgs};
use crate::error::Result;
use crate::flow::{self, Session};
use crate::output::Output;

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The repository to tag the image in (no tag), e.g. 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/api.
    #[arg(long, env = "ECS_SHIP_REPOSITORY", value_name = "REPO")]
    pub repository: String,

    /// The Dockerfile (relative to the working directory) [default: <context>/Dockerfile].
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub dockerfile: Option<PathBuf>,

    #[command(flatten)]
    pub build: BuildFlags,

    /// A secret for `RUN --mount=type=secret,id=ID`, as --build-secret: id=ID,src=PATH or
    /// id=ID,env=VAR (repeatable).
    #[arg(long = "secret", value_name = "id=ID,src=PATH|env=VAR")]
    pub secrets: Vec<String>,

    #[command(flatten)]
    pub state: StateArgs,
}

pub async fn run(session: &Session, args: &BuildArgs, out: Output) -> Result<()> {
    let mut request = args
        .build
        .request(&args.repository, args.dockerfile.clone());
    request.secrets.extend(args.secrets.iter().cloned());
    let resolved = flow::image::resolve(&request, Utc::now())?;
    let result = flow::image::build(session, resolved, None, Some(&args.state.path)).await?;
    out.result(&result)
}
