//! `ecs-ship imagedefs`: CodePipeline's imagedefinitions.json (and imageDetail.json), written
//! atomically, by default from the pushed, digest-pinned image in the state file.

use std::fmt;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use tracing::info;

use crate::core::image_ref::ImageRef;
use crate::core::imagedefs::{parse_container, render_image_detail, render_imagedefinitions};
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::output::Output;
use crate::state::{State, StateArgs};

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

#[derive(Debug, Serialize)]
pub struct ImagedefsResult {
    pub imagedefinitions: PathBuf,
    pub image_detail: Option<PathBuf>,
    pub containers: Vec<(String, String)>,
}

impl fmt::Display for ImagedefsResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.imagedefinitions.display())?;
        if let Some(p) = &self.image_detail {
            writeln!(f, "{}", p.display())?;
        }
        Ok(())
    }
}

pub async fn run(args: &ImagedefsArgs, out: Output) -> Result<()> {
    let mut containers: Vec<(String, ImageRef)> = Vec::new();
    for spec in &args.containers {
        containers.push(
            parse_container(spec).map_err(|e| Error::input(format!("invalid --container: {e}")))?,
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
            .map_err(|e| Error::input(format!("the state file's image: {e}")))?;
        containers.push((name.clone(), image));
    }
    let text = render_imagedefinitions(&containers).map_err(|e| Error::input(e.to_string()))?;
    if let Some(detail) = &args.image_detail
        && detail.file_name().and_then(|n| n.to_str()) != Some("imageDetail.json")
    {
        return Err(Error::input(format!(
            "--image-detail `{}`: CodeDeploy reads exactly `imageDetail.json`",
            detail.display()
        )));
    }
    write_atomic(&args.out, text.as_bytes())?;
    info!("wrote {}", args.out.display());
    if let Some(detail) = &args.image_detail {
        write_atomic(detail, render_image_detail(&containers[0].1).as_bytes())?;
        info!("wrote {}", detail.display());
    }
    out.result(&ImagedefsResult {
        imagedefinitions: args.out.clone(),
        image_detail: args.image_detail.clone(),
        containers: containers
            .into_iter()
            .map(|(n, i)| (n, i.to_string()))
            .collect(),
    })
}
