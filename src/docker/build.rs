//! The classic builder's `POST /build` through bollard: the context streamed in, the step output
//! streamed out. `--builder classic`, and the fallback for an engine without BuildKit.

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
    /// BuildKit: references to import a cache from.
    pub cache_from: Vec<String>,
    /// BuildKit: write the cache metadata into the image (`BUILDKIT_INLINE_CACHE`).
    pub inline_cache: bool,
}

/// A line of build output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildLine<'a> {
    /// `Step N/M : INSTRUCTION`
    Step(&'a str),
    /// What the step printed.
    Output(&'a str),
}

/// Builds with the classic builder and tags the image with every reference. `progress` receives each output line.
///
/// When `cancel` resolves first (a signal), the engine goes quiet past `idle_timeout` or the stream
/// breaks, the build is abandoned and its step's container removed here: the engine cancels a build
/// whose client went away, but only once it notices the closed connection, which a loaded engine
/// may not do before our process has exited.
pub async fn build(
    engine: &Engine,
    plan: ContextPlan,
    spec: &BuildSpec,
    idle_timeout: std::time::Duration,
    cancel: impl std::future::Future<Output = Error>,
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
    // The container of the step in progress, from its ` ---> Running in <id>` line.
    let mut running: Option<String> = None;
    tokio::pin!(cancel);
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(idle_timeout, stream.next()) => next,
            e = &mut cancel => {
                abandon(engine, stream, running.as_deref()).await;
                return Err(e);
            }
        };
        let Ok(next) = next else {
            abandon(engine, stream, running.as_deref()).await;
            return Err(quiet(engine, idle_timeout, &last_step));
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
                            running = None;
                            progress(BuildLine::Step(line));
                        } else {
                            if let Some(id) = step_container(line) {
                                running = Some(id.to_owned());
                            }
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
                abandon(engine, stream, running.as_deref()).await;
                return Err(Error::remote_with(
                    format!("the build stream from {} broke", engine.host),
                    e,
                ));
            }
        }
    }
    let image_id = finish(writer, image_id).await?;
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

/// The engine went quiet past the idle timeout, `at` the step it was on (either builder).
pub(super) fn quiet(engine: &Engine, idle: std::time::Duration, at: &str) -> Error {
    let at = if at.is_empty() {
        String::new()
    } else {
        format!(" at `{at}`")
    };
    Error::remote(format!(
        "the engine at {} sent nothing for {} during the build{at}: giving up (--idle-timeout)",
        engine.host,
        humantime::format_duration(idle)
    ))
}

/// The end of a build on either builder: the context writer's outcome, and the image it named.
pub(super) async fn finish(
    writer: tokio::task::JoinHandle<Result<super::context::ContextStats>>,
    image_id: Option<String>,
) -> Result<String> {
    let stats = writer
        .await
        .map_err(|e| Error::internal_with("the build context writer panicked", e))??;
    tracing::debug!(
        "sent {} files, {} bytes of context",
        stats.files,
        stats.bytes
    );
    image_id.ok_or_else(|| Error::remote("the engine finished the build without naming the image"))
}

/// The id in ` ---> Running in 0123abcd`: the container of the step in progress.
fn step_container(line: &str) -> Option<&str> {
    line.trim().strip_prefix("---> Running in ").map(str::trim)
}

/// Gives up a build: drops its stream (closing the connection cancels it at the engine) and removes
/// the step's container, bounded so a stuck engine cannot hold our exit.
async fn abandon<S>(engine: &Engine, stream: S, running: Option<&str>) {
    drop(stream);
    let Some(id) = running else {
        return;
    };
    let limit = std::time::Duration::from_secs(15);
    match tokio::time::timeout(limit, super::run::remove(engine, id)).await {
        Ok(Ok(())) => tracing::debug!("the build step's container {id} is removed"),
        Ok(Err(e)) => tracing::warn!("{e}: remove it with `docker rm -f {id}`"),
        Err(_) => tracing::warn!(
            "the engine did not remove the build step's container {id} in {}s: remove it with `docker rm -f {id}`",
            limit.as_secs()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::step_container;

    #[test]
    fn the_step_container_is_read_from_the_running_in_line() {
        for (line, want) in [
            (" ---> Running in 0123abcd", Some("0123abcd")),
            ("---> Running in 0123abcd  ", Some("0123abcd")),
            (" ---> 0123abcd", None),
            ("Running in 0123abcd", None),
            ("echo ---> Running in x", None),
        ] {
            assert_eq!(step_container(line), want, "{line:?}");
        }
    }
}
