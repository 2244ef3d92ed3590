//! `ecs-ship imagedefs`: CodePipeline's imagedefinitions.json (and imageDetail.json), written
//! atomically, by default from the pushed, digest-pinned image in the state file.

use std::path::PathBuf;

use clap::Args;

use crate::cli::shared::StateArgs;
use crate::core::image_ref::ImageRef;
use crate::core::imagedefs::parse_container;
use crate::error::{Error, Result};
use crate::flow::artifacts;
use crate::output::Output;
use crate::state::State;

#[derive(Debug, Args)]
pub struct ImagedefsArgs {
    /// A container and its image, NAME=IMAGE (repeatable).
    #[arg(long = "container", value_name = "NAME=IMAGE")]
    pub containers: Vec<String>,

    /// The container that runs the pushed image from the state file.
    #[arg(long, env = "ECS_SHIP_CONTAINER", value_name = "CONTAINER")]
    pub name: Option<String>,

    /// Where to write imagedefinitions.json.
    #[arg(long, value_name = "PATH", default_value = "imagedefinitions.json")]
    pub out: PathBuf,

    /// Also write imageDetail.json (CodeDeploy blue/green) here; the file must be named imageDetail.json.
    #[arg(long, value_name = "PATH")]
    pub image_detail: Option<PathBuf>,

    #[command(flatten)]
    pub state: StateArgs,
}

pub async fn run(args: &ImagedefsArgs, out: Output) -> Result<()> {
    let mut containers: Vec<(String, ImageRef)> = Vec::new();
    for spec in &args.containers {
        containers.push(
            parse_container(spec)
                .map_err(|e| Error::input_with(format!("invalid --container: {e}"), e))?,
        );
    }
    if let Some(name) = &args.name {
        let state = State::load(&args.state.path)?;
        let pushed = state.push.ok_or_else(|| {
            Error::input(format!(
                "no pushed image recorded in `{}`: run `ecs-ship push` first, or pass --container NAME=IMAGE",
                args.state.path.display()
            ))
        })?;
        let image = ImageRef::parse(&pushed.image)
            .map_err(|e| Error::input_with("the state file's image is invalid", e))?;
        containers.push((name.clone(), image));
    }
    let result = artifacts::write(&containers, &args.out, args.image_detail.as_deref())?;
    out.result(&result)
}
