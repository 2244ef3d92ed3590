//! `ecs-ship manifest create REPO:TAG SOURCE...`: one image index over per-platform images that
//! separate builds pushed (an x86 and an ARM CodeBuild leg building natively), put to the registry,
//! verified, its digest printed for register and deploy.

use clap::{Args, Subcommand};

use crate::core::image_ref::ImageRef;
use crate::core::platform::parse_source;
use crate::error::{Error, Result};
use crate::flow::{self, Session};
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum ManifestCommand {
    /// Assemble images of one repository (each a platform's, or an index) into one image index
    /// under REPO:TAG; print its verified digest.
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Where the index goes: REPO:TAG.
    #[arg(value_name = "REPO:TAG")]
    pub target: String,

    /// The images: sha256:DIGEST, REPO@sha256:DIGEST or REPO:TAG, all in REPO.
    #[arg(value_name = "IMAGE", required = true)]
    pub sources: Vec<String>,

    /// Another tag for the index (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
}

pub async fn run(session: &Session, cmd: ManifestCommand, out: Output) -> Result<()> {
    match cmd {
        ManifestCommand::Create(args) => {
            let target = ImageRef::parse(&args.target)
                .map_err(|e| Error::input_with(format!("invalid REPO:TAG `{}`", args.target), e))?;
            let (Some(tag), None) = (target.tag.clone(), &target.digest) else {
                return Err(Error::input(format!(
                    "`{}`: give the index a tag, REPO:TAG (its digest is what it hashes to)",
                    args.target
                )));
            };
            let sources = args
                .sources
                .iter()
                .map(|s| parse_source(&target.name, s).map_err(Error::input))
                .collect::<Result<Vec<_>>>()?;
            let mut tags = vec![tag];
            tags.extend(args.tags.iter().cloned());
            let repo = ImageRef {
                tag: None,
                ..target
            };
            let merged = flow::platforms::merge(session, &repo, &tags, &sources).await?;
            out.result(&merged)
        }
    }
}
