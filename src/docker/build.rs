//! `POST /build` through bollard: the context streamed in, the step output streamed out.

use std::collections::HashMap;

use bollard::models::ImageId;
use bollard::query_parameters::{BuildImageOptions, TagImageOptions};
use futures_util::StreamExt;

use super::Engine;
use super::context::ContextPlan;
use crate::error::{Error, Result};

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct BuildSpec {
    /// `repository:tag` for every tag.
    pub references: Vec<String>,
    pub build_args: HashMap<String, String>,
    pub labels: HashMap<String, String>,
    pub target: Option<String>,
    pub platform: Option<String>,
    pub no_cache: bool,
    pub pull: bool,
}

/// A line of build output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildLine<'a> {
    /// `Step N/M : INSTRUCTION`
    Step(&'a str),
    /// What the step printed.
    Output(&'a str),
}

/// Builds with the classic builder (BuildKit through bollard is not reliable: bollard #520, #280)
/// and tags the image with every reference. `progress` receives each output line.
pub async fn build(
    engine: &Engine,
    plan: ContextPlan,
    spec: &BuildSpec,
    idle_timeout: std::time::Duration,
    mut progress: impl FnMut(BuildLine<'_>),
) -> Result<String> {
    let options = BuildImageOptions {
        dockerfile: plan.dockerfile_in_tar.clone(),
        t: spec.references.first().cloned(),
        rm: true,
        forcerm: true,
        nocache: spec.no_cache,
        pull: spec.pull.then(|| "1".to_owned()),
        buildargs: Some(spec.build_args.clone()),
        labels: Some(spec.labels.clone()),
        target: spec.target.clone().unwrap_or_default(),
        platform: spec.platform.clone().unwrap_or_default(),
        ..Default::default()
    };
    let (rx, writer) = plan.stream();
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let mut stream = engine
        .docker
        .build_image(options, None, Some(bollard::body_try_stream(body)));
    let mut image_id = None;
    let mut last_step = String::new();
    loop {
        // Dropping the stream closes the connection, and the engine cancels the build.
        let Ok(next) = tokio::time::timeout(idle_timeout, stream.next()).await else {
            let at = if last_step.is_empty() {
                String::new()
            } else {
                format!(" at `{last_step}`")
            };
            return Err(Error::remote(format!(
                "the engine at {} sent nothing for {} during the build{at}: giving up (--idle-timeout)",
                engine.host,
                humantime::format_duration(idle_timeout)
            )));
        };
        let Some(item) = next else {
            break;
        };
        match item {
            Ok(info) => {
                if let Some(text) = &info.stream {
                    for line in text.lines().filter(|l| !l.trim().is_empty()) {
                        if line.starts_with("Step ") {
                            last_step = line.to_owned();
                            progress(BuildLine::Step(line));
                        } else {
                            progress(BuildLine::Output(line));
                        }
                    }
                }
                if let Some(status) = &info.status {
                    progress(BuildLine::Output(status));
                }
                if let Some(ImageId { id: Some(id) }) = info.aux {
                    image_id = Some(id);
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                let at = if last_step.is_empty() {
                    String::new()
                } else {
                    format!(" at `{last_step}`")
                };
                return Err(Error::remote(format!(
                    "the build failed{at}: {}",
                    error.trim()
                )));
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code,
                message,
            }) => {
                // Refused before any step ran: a bad Dockerfile name, a bad parameter, a bad context.
                return Err(Error::remote(format!(
                    "the engine refused the build ({status_code}): {}",
                    message.trim()
                )));
            }
            Err(e) => {
                return Err(Error::remote_with(
                    format!("the build stream from {} broke", engine.host),
                    e,
                ));
            }
        }
    }
    let stats = writer
        .await
        .map_err(|e| Error::internal_with("the build context writer panicked", e))??;
    tracing::debug!(
        "sent {} files, {} bytes of context",
        stats.files,
        stats.bytes
    );
    let image_id = image_id
        .ok_or_else(|| Error::remote("the engine finished the build without naming the image"))?;
    for reference in spec.references.iter().skip(1) {
        let (repo, tag) = reference
            .rsplit_once(':')
            .expect("references are repository:tag");
        engine
            .docker
            .tag_image(
                &image_id,
                Some(TagImageOptions {
                    repo: Some(repo.to_owned()),
                    tag: Some(tag.to_owned()),
                }),
            )
            .await
            .map_err(|e| {
                Error::remote_with(format!("failed to tag {image_id} as {reference}"), e)
            })?;
    }
    Ok(image_id)
}
