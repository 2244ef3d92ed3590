//! `ecs-ship digest IMAGE`: `repo:tag` resolved to `repo@sha256:...` through ECR or the registry
//! API, verified by hashing the manifest bytes, without pulling anything.

use std::fmt;

use clap::Args;
use serde::Serialize;

use crate::core::image_ref::ImageRef;
use crate::error::{Error, Result};
use crate::flow::{self, Session};
use crate::output::Output;

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

pub async fn run(session: &Session, args: &DigestArgs, out: Output) -> Result<()> {
    let image = ImageRef::parse(&args.image).map_err(|e| Error::input_with(e.to_string(), e))?;
    let digest = flow::image::verified_digest(session, &image).await?;
    out.result(&DigestResult {
        image: args.image.clone(),
        pinned: image.pinned(&digest).to_string(),
        digest,
    })
}

impl crate::output::Report for DigestResult {}
