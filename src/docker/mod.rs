//! The only code that imports bollard: connecting to the engine, the build context, build and push.

pub mod build;
pub mod buildkit;
pub mod context;
pub mod push;
pub mod raw;
pub mod run;
pub mod session;

use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, Docker};
use serde::Serialize;

use crate::error::{Error, Result};

pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Long enough for a large context upload or a slow push to start answering; bollard's default
/// of 120 s cuts such requests off (bollard #165). Streams are bounded by an idle timeout instead.
pub const LONG_TIMEOUT: Duration = Duration::from_secs(3600);

/// How long the engine may take to answer its first call (the API version): an engine that
/// accepts the connection and never answers is declared unreachable before any build or push.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// A connected engine, with the API version agreed with it.
pub struct Engine {
    pub docker: Docker,
    pub host: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EngineInfo {
    pub host: String,
    pub version: String,
    pub api_version: String,
    pub os: String,
    pub arch: String,
}

/// Connects to `host` (or DOCKER_HOST's default) and negotiates the API version.
pub async fn connect(host: Option<&str>, timeout: Duration) -> Result<Engine> {
    let host = host
        .filter(|h| !h.is_empty())
        .unwrap_or(DEFAULT_HOST)
        .to_owned();
    let timeout_secs = timeout.as_secs();
    let docker = if let Some(path) = host.strip_prefix("unix://") {
        Docker::connect_with_unix(path, timeout_secs, API_DEFAULT_VERSION)
    } else if host.starts_with("tcp://") || host.starts_with("http://") {
        Docker::connect_with_http(&host, timeout_secs, API_DEFAULT_VERSION)
    } else {
        return Err(Error::input(format!(
            "unsupported Docker host `{host}`: use unix:///path/to/docker.sock or tcp://host:port"
        )));
    }
    .map_err(|e| unreachable(&host, e))?;
    let negotiated = tokio::time::timeout(ANSWER_TIMEOUT.min(timeout), docker.negotiate_version())
        .await
        .map_err(|_| {
            Error::remote(format!(
                "the Docker engine at {host} accepted the connection but did not answer within {}s: is it hung? (restart dockerd, or check DOCKER_HOST)",
                ANSWER_TIMEOUT.min(timeout).as_secs()
            ))
        })?;
    let docker = negotiated.map_err(|e| unreachable(&host, e))?;
    Ok(Engine { docker, host })
}

fn unreachable(host: &str, err: bollard::errors::Error) -> Error {
    Error::remote_with(
        format!(
            "no Docker engine at {host}: is dockerd running, or set DOCKER_HOST (or --docker-host)"
        ),
        err,
    )
}

impl Engine {
    pub async fn info(&self) -> Result<EngineInfo> {
        let v = self
            .docker
            .version()
            .await
            .map_err(|e| unreachable(&self.host, e))?;
        Ok(EngineInfo {
            host: self.host.clone(),
            version: v.version.unwrap_or_default(),
            api_version: v.api_version.unwrap_or_default(),
            os: v.os.unwrap_or_default(),
            arch: v.arch.unwrap_or_default(),
        })
    }

    /// Points `repository:tag` at the local image `image_id` (as `docker tag`).
    pub async fn tag(&self, image_id: &str, repository: &str, tag: &str) -> Result<()> {
        let options = bollard::query_parameters::TagImageOptions {
            repo: Some(repository.to_owned()),
            tag: Some(tag.to_owned()),
        };
        self.docker
            .tag_image(image_id, Some(options))
            .await
            .map_err(|e| {
                Error::remote_with(format!("failed to tag {image_id} as {repository}:{tag}"), e)
            })
    }
}
