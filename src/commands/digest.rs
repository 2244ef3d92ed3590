//! `ecs-ship digest IMAGE`: `repo:tag` resolved to `repo@sha256:...` through ECR or the registry
//! API, verified by hashing the manifest bytes, without pulling anything.

use std::fmt;

use clap::Args;
use serde::Serialize;

use super::push::credentials_for;
use crate::aws;
use crate::cli::GlobalArgs;
use crate::core::image_ref::ImageRef;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::registry;

#[derive(Debug, Args)]
pub struct DigestArgs {
    /// The image: repo:tag (or repo@sha256:... to check that it exists).
    pub image: String,
}

#[derive(Debug, Serialize)]
pub struct DigestResult {
    pub image: String,
    pub digest: String,
    pub pinned: String,
}

impl fmt::Display for DigestResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.pinned)
    }
}

pub async fn run(global: &GlobalArgs, args: &DigestArgs, out: Output) -> Result<()> {
    let image = ImageRef::parse(&args.image).map_err(|e| Error::input(e.to_string()))?;
    let reference = image
        .digest
        .clone()
        .or_else(|| image.tag.clone())
        .unwrap_or_else(|| "latest".to_owned());
    let mut aws = None;
    let digest = match image.ecr() {
        Some(repo) if image.digest.is_none() => {
            aws = Some(aws::Aws::load(global).await?);
            aws::ecr::verified_digest(aws.as_ref().expect("loaded"), &repo, &reference).await?
        }
        _ => {
            let (creds, _) = credentials_for(global, &image, &mut aws).await?;
            registry::fetch_manifest(&image, &reference, creds.as_ref())
                .await?
                .digest
        }
    };
    let pinned = image.pinned(&digest).to_string();
    out.result(&DigestResult {
        image: args.image.clone(),
        digest,
        pinned,
    })
}
