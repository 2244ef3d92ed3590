//! Pushing an image: `POST /images/{name}/push` on the engine, credentials in, layer progress and
//! the digest out, transient failures retried with backoff.
//!
//! This one endpoint is called with our own small HTTP request instead of bollard's `push_image`:
//! bollard encodes X-Registry-Auth with standard base64 (bollard `auth.rs` `base64_url_encode`), while
//! the daemon decodes URL-safe base64 and, when that fails, silently pushes without credentials
//! (moby `postImagesPush`). A password with `>`, `?` or `~` at some offsets then ends in "no basic
//! auth credentials". bollard's model of the push stream also drops the layer `id` and the `aux`
//! digest, both of which we read here.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use http_body_util::BodyExt;
use hyper::Request;
use serde::Deserialize;

use super::Engine;
use crate::core::registry_auth::{Credentials, digest_in_push_status};
use crate::error::{Error, Result};

/// Push progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushLine<'a> {
    /// A layer changed state ("Preparing", "Pushed", "Layer already exists"), or moved bytes
    /// ("Pushing", with current and total).
    Layer {
        id: &'a str,
        state: &'a str,
        bytes: Option<(i64, i64)>,
    },
    /// Anything else: the repository line, the digest line, the summary.
    Info(&'a str),
}

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct PushOptions {
    /// Attempts when the engine's connection or the registry fails transiently.
    pub attempts: u32,
    /// How long the engine may report no progress.
    pub idle_timeout: Duration,
}

/// Pushes `repository:tag` and returns the digest the engine reports.
pub async fn push(
    engine: &Engine,
    repository: &str,
    tag: &str,
    credentials: Option<&Credentials>,
    server: &str,
    options: PushOptions,
    mut progress: impl FnMut(PushLine<'_>),
) -> Result<String> {
    let PushOptions {
        attempts,
        idle_timeout,
    } = options;
    let auth = registry_auth_header(credentials, server);
    let mut attempt = 1;
    loop {
        match push_once(engine, repository, tag, &auth, idle_timeout, &mut progress).await {
            Ok(digest) => return Ok(digest),
            Err(PushError::Transient(why)) if attempt < attempts => {
                let wait = Duration::from_secs(1 << attempt.min(5));
                tracing::warn!(
                    "push of {repository}:{tag} failed ({why}); retrying in {}s (attempt {}/{attempts})",
                    wait.as_secs(),
                    attempt + 1
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(PushError::Transient(why)) => {
                return Err(Error::remote(format!(
                    "failed to push {repository}:{tag} after {attempts} attempts: {why}"
                )));
            }
            Err(PushError::Final(e)) => return Err(e),
        }
    }
}

/// The X-Registry-Auth value: URL-safe base64 of the auth JSON, as the daemon decodes it.
pub fn registry_auth_header(credentials: Option<&Credentials>, server: &str) -> String {
    let json = match credentials {
        Some(c) => {
            serde_json::json!({"username": c.username, "password": c.password, "serveraddress": server})
        }
        None => serde_json::json!({}),
    };
    let header = URL_SAFE.encode(json.to_string());
    crate::redact::register(&header);
    header
}

/// The registry refused the push (credentials, permissions, a missing repository): another try
/// gets the same answer. The source of the push's `Error::Remote`, so callers can tell it apart.
#[derive(Debug)]
pub struct Refused {
    pub repository: String,
    pub tag: String,
    /// What the registry said.
    pub message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refused {}

enum PushError {
    Transient(String),
    Final(Error),
}

/// Network trouble and server errors are worth another try (core::push_failure decides).
fn is_transient(message: &str) -> bool {
    crate::core::push_failure::classify(message)
        == crate::core::push_failure::PushFailure::Transient
}

/// One line of the push stream.
#[derive(Debug, Default, Deserialize)]
struct Message {
    status: Option<String>,
    id: Option<String>,
    error: Option<String>,
    #[serde(rename = "errorDetail")]
    error_detail: Option<ErrorDetail>,
    #[serde(rename = "progressDetail")]
    progress_detail: Option<ProgressDetail>,
    aux: Option<Aux>,
}

#[derive(Debug, Deserialize)]
struct ProgressDetail {
    current: Option<i64>,
    total: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Aux {
    #[serde(rename = "Digest")]
    digest: Option<String>,
}

/// Sends the push request over the engine's socket and returns the response status and body.
async fn send(
    engine: &Engine,
    path_and_query: &str,
    auth: &str,
) -> std::result::Result<(u16, hyper::body::Incoming), String> {
    let request = Request::post(path_and_query)
        .header("Host", "docker")
        .header("Content-Type", "application/json")
        .header("X-Registry-Auth", auth)
        .body(super::raw::empty())
        .map_err(|e| e.to_string())?;
    let response = super::raw::send(engine, request, false).await?;
    Ok((response.status().as_u16(), response.into_body()))
}

async fn push_once(
    engine: &Engine,
    repository: &str,
    tag: &str,
    auth: &str,
    idle_timeout: Duration,
    progress: &mut impl FnMut(PushLine<'_>),
) -> std::result::Result<String, PushError> {
    let idle = || {
        PushError::Final(Error::remote(format!(
            "the engine at {} reported no progress for {} while pushing {repository}:{tag} (a registry that does not answer?): giving up (--idle-timeout)",
            engine.host,
            humantime::format_duration(idle_timeout)
        )))
    };
    let path = super::raw::path(engine, &format!("/images/{repository}/push?tag={tag}"));
    let (status, mut body) = tokio::time::timeout(idle_timeout, send(engine, &path, auth))
        .await
        .map_err(|_| idle())?
        .map_err(PushError::Transient)?;
    if status == 404 {
        return Err(PushError::Final(Error::remote(format!(
            "no local image {repository}:{tag} to push: build it first"
        ))));
    }
    if status >= 400 {
        let text = collect(&mut body).await.unwrap_or_default();
        let message = format!(
            "the engine answered {status} to the push of {repository}:{tag}: {}",
            text.trim()
        );
        return Err(if status >= 500 {
            PushError::Transient(message)
        } else {
            PushError::Final(Error::remote(message))
        });
    }
    let mut digest = None;
    let mut layers: Vec<(String, String)> = Vec::new();
    let (mut pushed, mut existed) = (0, 0);
    let mut pending = Vec::new();
    // The engine retries a failing layer itself ("Retrying in N seconds"): retrying its whole push
    // again would multiply the wait, so once it has, a failure is final.
    let mut engine_retried = false;
    loop {
        let Some(frame) = tokio::time::timeout(idle_timeout, body.frame())
            .await
            .map_err(|_| idle())?
        else {
            break;
        };
        let frame = frame.map_err(|e| PushError::Transient(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let Ok(message) = serde_json::from_slice::<Message>(&line) else {
                continue;
            };
            if let Some(error) = message
                .error_detail
                .and_then(|d| d.message)
                .or(message.error)
            {
                return Err(if is_transient(&error) && !engine_retried {
                    PushError::Transient(error)
                } else if is_transient(&error) {
                    PushError::Final(Error::remote(format!(
                        "the registry failed the push of {repository}:{tag} and the engine's own retries: {}",
                        error.trim()
                    )))
                } else {
                    let refused = Refused {
                        repository: repository.to_owned(),
                        tag: tag.to_owned(),
                        message: error.trim().to_owned(),
                    };
                    PushError::Final(Error::remote_with(
                        format!(
                            "the registry refused the push of {repository}:{tag}: {} (credentials come from ECR for ECR repositories, else from the Docker config `auths`: $DOCKER_CONFIG/config.json or ~/.docker/config.json)",
                            refused.message
                        ),
                        refused,
                    ))
                });
            }
            if let Some(d) = message.aux.and_then(|a| a.digest) {
                digest = Some(d);
            }
            let Some(mut status) = message.status else {
                continue;
            };
            // A countdown ("Retrying in 5 seconds", "in 4 seconds"...) is one state, shown once.
            if status.starts_with("Retrying in") {
                engine_retried = true;
                status = "Retrying".to_owned();
            }
            if let Some(d) = digest_in_push_status(&status) {
                digest.get_or_insert(d);
                progress(PushLine::Info(&status));
                continue;
            }
            let Some(id) = message.id else {
                progress(PushLine::Info(&status));
                continue;
            };
            let bytes = message
                .progress_detail
                .and_then(|p| Some((p.current?, p.total?)));
            match status.as_str() {
                "Pushed" => pushed += 1,
                "Layer already exists" => existed += 1,
                _ => {}
            }
            let changed = match layers.iter_mut().find(|(i, _)| *i == id) {
                Some((_, s)) if *s == status => false,
                Some((_, s)) => {
                    *s = status.clone();
                    true
                }
                None => {
                    layers.push((id.clone(), status.clone()));
                    true
                }
            };
            if changed || bytes.is_some() {
                progress(PushLine::Layer {
                    id: &id,
                    state: &status,
                    bytes,
                });
            }
        }
    }
    progress(PushLine::Info(&format!(
        "{pushed} layers pushed, {existed} already in the registry"
    )));
    digest.ok_or_else(|| {
        PushError::Final(Error::remote(format!(
            "the push of {repository}:{tag} ended without a digest: refusing to guess it"
        )))
    })
}

async fn collect(body: &mut hyper::body::Incoming) -> Option<String> {
    let bytes = body.collect().await.ok()?.to_bytes();
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auth_header_is_url_safe_base64_the_daemon_can_read() {
        let creds = Credentials {
            username: "ecs-ship-test".into(),
            password: "test-pass>?~word".into(),
        };
        let header = registry_auth_header(Some(&creds), "127.0.0.1:15002");
        assert!(!header.contains('+') && !header.contains('/'), "{header}");
        let decoded: serde_json::Value =
            serde_json::from_slice(&URL_SAFE.decode(&header).unwrap()).unwrap();
        assert_eq!(decoded["password"], "test-pass>?~word");
        // What bollard would send: standard base64, which this password breaks.
        let standard = base64::engine::general_purpose::STANDARD.encode(
            serde_json::json!({"username": "ecs-ship-test", "password": "test-pass>?~word"})
                .to_string(),
        );
        assert!(
            standard.contains('/') || standard.contains('+'),
            "the regression this guards: {standard}"
        );
        assert_eq!(
            URL_SAFE.decode(registry_auth_header(None, "x")).unwrap(),
            b"{}"
        );
    }
}
