//! A BuildKit build through the engine's API: `POST /build?version=2&session=ID` with the context
//! streamed in, tied to our session (`session.rs`), and the engine's JSON message stream read
//! back: `moby.buildkit.trace` items carry base64 `StatusResponse` protobufs (the vertexes, their
//! logs), `moby.image.id` the image built (moby `builder-next`, docker CLI `cli/command/image/build`).

use base64::Engine as _;
use bytes::{Buf, Bytes, BytesMut};
use http_body_util::{BodyExt, StreamBody};
use hyper::Request;
use hyper::body::Frame;
use prost::Message as _;
use serde::Deserialize;

use super::Engine;
use super::build::{BuildSpec, quiet};
use super::context::ContextPlan;
use super::session::BuildSession;
use crate::core::buildkit::{
    CacheCount, LogChunk, StatusUpdate, Trace, TraceEvent, VertexUpdate, is_cache_import,
};
use crate::error::{Error, Result};
use bollard_buildkit_proto::google::protobuf::Timestamp;
use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;

/// What a BuildKit build produced.
#[derive(Debug, Clone)]
pub struct Built {
    pub image_id: String,
    /// How many Dockerfile steps came from the cache.
    pub cache: CacheCount,
}

#[derive(Debug, Deserialize)]
struct Message {
    id: Option<String>,
    aux: Option<serde_json::Value>,
    stream: Option<String>,
    error: Option<String>,
    #[serde(rename = "errorDetail")]
    error_detail: Option<ErrorDetail>,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    message: Option<String>,
}

/// The network RUN steps get: the engine's default bridge where it has one, else the host's
/// (an engine started with `--bridge=none` has no `bridge` network, and BuildKit's default then
/// fails every RUN with "network bridge not found").
pub async fn network(engine: &Engine) -> Result<Option<String>> {
    let bridge = super::run::has_network(engine, "bridge").await?;
    Ok((!bridge).then(|| "host".to_owned()))
}

fn query(
    spec: &BuildSpec,
    plan: &ContextPlan,
    session: &str,
    network: Option<&str>,
) -> Result<String> {
    let mut url = reqwest::Url::parse("http://docker/build")
        .map_err(|e| Error::internal_with("the build URL does not parse", e))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("version", "2");
        q.append_pair("session", session);
        q.append_pair("dockerfile", &plan.dockerfile_in_tar);
        for r in &spec.references {
            q.append_pair("t", r);
        }
        let mut args = spec.build_args.clone();
        if spec.inline_cache {
            args.insert("BUILDKIT_INLINE_CACHE".to_owned(), "1".to_owned());
        }
        q.append_pair("buildargs", &json(&args));
        q.append_pair("labels", &json(&spec.labels));
        if !spec.cache_from.is_empty() {
            q.append_pair("cachefrom", &json(&spec.cache_from));
        }
        if let Some(t) = &spec.target {
            q.append_pair("target", t);
        }
        if let Some(p) = &spec.platform {
            q.append_pair("platform", p);
        }
        if spec.no_cache {
            q.append_pair("nocache", "1");
        }
        if spec.pull {
            q.append_pair("pull", "1");
        }
        if let Some(n) = network {
            q.append_pair("networkmode", n);
        }
        q.append_pair("rm", "1");
        q.append_pair("forcerm", "1");
    }
    Ok(format!("/build?{}", url.query().unwrap_or_default()))
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

/// Where and how a BuildKit build runs.
pub struct Options<'a> {
    /// The session the build's secrets and credentials come from.
    pub session: &'a BuildSession,
    /// The network of RUN steps (`network()`).
    pub network: Option<&'a str>,
    pub idle_timeout: std::time::Duration,
}

/// Runs the build; `progress` receives each step as it ends and each output line. `cancel`,
/// an engine quiet past `idle_timeout` or a broken stream abandon it (closing the connection
/// cancels a BuildKit build at the engine; its steps are not containers, so nothing is left).
pub async fn build(
    engine: &Engine,
    plan: ContextPlan,
    spec: &BuildSpec,
    options: Options<'_>,
    cancel: impl std::future::Future<Output = Error>,
    mut progress: impl FnMut(&TraceEvent),
) -> Result<Built> {
    let Options {
        session,
        network,
        idle_timeout,
    } = options;
    let path = super::raw::path(engine, &query(spec, &plan, &session.id, network)?);
    let (rx, writer) = plan.stream();
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk.map(Frame::data), rx))
    });
    let request = Request::post(path)
        .header("Host", "docker")
        .header("Content-Type", "application/x-tar")
        .body(BodyExt::boxed(StreamBody::new(body)))
        .map_err(|e| Error::internal_with("the build request does not form", e))?;
    tokio::pin!(cancel);
    let response = tokio::select! {
        r = tokio::time::timeout(idle_timeout, super::raw::send(engine, request, false)) => r,
        e = &mut cancel => return Err(e),
    };
    let response = response
        .map_err(|_| quiet(engine, idle_timeout, ""))?
        .map_err(|e| Error::remote(format!("the build request to {} failed: {e}", engine.host)))?;
    let status = response.status();
    let mut body = response.into_body();
    if !status.is_success() {
        let text = body
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or(text);
        return Err(Error::remote(format!(
            "the engine refused the build ({}): {}",
            status.as_u16(),
            message.trim()
        )));
    }
    let mut reader = Reader::default();
    loop {
        let frame = tokio::select! {
            f = tokio::time::timeout(idle_timeout, body.frame()) => f,
            e = &mut cancel => return Err(e),
        };
        let at = reader
            .trace
            .running()
            .unwrap_or(&reader.last_step)
            .to_owned();
        let frame = frame.map_err(|_| quiet(engine, idle_timeout, &at))?;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| {
            Error::remote_with(format!("the build stream from {} broke", engine.host), e)
        })?;
        if let Ok(data) = frame.into_data() {
            reader.feed(&data, &mut progress)?;
        }
    }
    let image_id = super::build::finish(writer, reader.image_id).await?;
    Ok(Built {
        image_id,
        cache: reader.trace.cache_count(),
    })
}

/// The message stream: JSON objects one after another, split anywhere by the transport.
#[derive(Default)]
struct Reader {
    buffer: BytesMut,
    trace: Trace,
    image_id: Option<String>,
    last_step: String,
    failed: Option<(String, String)>,
}

impl Reader {
    fn feed(&mut self, data: &Bytes, progress: &mut impl FnMut(&TraceEvent)) -> Result<()> {
        self.buffer.extend_from_slice(data);
        loop {
            let mut items =
                serde_json::Deserializer::from_slice(&self.buffer).into_iter::<Message>();
            let item = items.next();
            let used = items.byte_offset();
            match item {
                None => {
                    self.buffer.clear();
                    return Ok(());
                }
                Some(Err(e)) if e.is_eof() => return Ok(()),
                Some(Err(e)) => {
                    return Err(Error::remote_with(
                        "the engine sent a build message that is not JSON",
                        e,
                    ));
                }
                Some(Ok(message)) => {
                    self.buffer.advance(used);
                    self.handle(message, progress)?;
                }
            }
        }
    }

    fn handle(&mut self, m: Message, progress: &mut impl FnMut(&TraceEvent)) -> Result<()> {
        if let Some(error) = m.error_detail.and_then(|d| d.message).or(m.error) {
            let at = match &self.failed {
                Some((name, _)) => format!(" at `{name}`"),
                None if !self.last_step.is_empty() => format!(" after `{}`", self.last_step),
                None => String::new(),
            };
            return Err(Error::remote(format!(
                "the build failed{at}: {}",
                error.trim()
            )));
        }
        match (m.id.as_deref(), m.aux) {
            (Some("moby.buildkit.trace"), Some(serde_json::Value::String(b64))) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|e| Error::remote_with("a BuildKit trace is not base64", e))?;
                let status = StatusResponse::decode(bytes.as_slice())
                    .map_err(|e| Error::remote_with("a BuildKit trace does not decode", e))?;
                for event in self.trace.apply(update(status)) {
                    match &event {
                        TraceEvent::Done { name, .. } => self.last_step = name.clone(),
                        TraceEvent::Failed { name, error, .. } if !is_cache_import(name) => {
                            self.failed = Some((name.clone(), error.clone()));
                        }
                        TraceEvent::Failed { .. } | TraceEvent::Output { .. } => {}
                    }
                    progress(&event);
                }
            }
            (Some("moby.image.id"), Some(aux)) => {
                if let Some(id) = aux.get("ID").and_then(|v| v.as_str()) {
                    self.image_id = Some(id.to_owned());
                }
            }
            _ => {
                if let Some(text) = m.stream.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                    progress(&TraceEvent::Output {
                        number: 0,
                        line: text.to_owned(),
                    });
                }
            }
        }
        Ok(())
    }
}

fn seconds(t: Option<&Timestamp>) -> Option<f64> {
    t.map(|t| t.seconds as f64 + f64::from(t.nanos) / 1e9)
}

/// The protobuf status into core's types.
fn update(status: StatusResponse) -> StatusUpdate {
    StatusUpdate {
        vertexes: status
            .vertexes
            .into_iter()
            .map(|v| VertexUpdate {
                started: seconds(v.started.as_ref()),
                completed: seconds(v.completed.as_ref()),
                digest: v.digest,
                name: v.name,
                cached: v.cached,
                error: v.error,
            })
            .collect(),
        logs: status
            .logs
            .into_iter()
            .map(|l| LogChunk {
                vertex: l.vertex,
                data: l.msg,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace_message(status: &StatusResponse) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(status.encode_to_vec());
        format!("{{\"id\":\"moby.buildkit.trace\",\"aux\":\"{b64}\"}}\r\n")
    }

    /// Messages split anywhere by the transport are read whole; the trace's steps come out as
    /// events and the image id is taken from `moby.image.id`.
    #[test]
    fn the_message_stream_is_read_across_any_split() {
        let status = StatusResponse {
            vertexes: vec![bollard_buildkit_proto::moby::buildkit::v1::Vertex {
                digest: "sha256:v".into(),
                name: "[stage-0 2/2] RUN echo hi".into(),
                started: Some(Timestamp {
                    seconds: 10,
                    nanos: 0,
                }),
                completed: Some(Timestamp {
                    seconds: 11,
                    nanos: 500_000_000,
                }),
                ..Default::default()
            }],
            logs: vec![bollard_buildkit_proto::moby::buildkit::v1::VertexLog {
                vertex: "sha256:v".into(),
                msg: b"hi\n".to_vec(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let all = format!(
            "{}{{\"id\":\"moby.image.id\",\"aux\":{{\"ID\":\"sha256:img\"}}}}\r\n",
            trace_message(&status)
        );
        for split in [1, 7, all.len() / 2, all.len() - 1] {
            let mut reader = Reader::default();
            let mut lines = Vec::new();
            let (a, b) = all.as_bytes().split_at(split);
            for part in [a, b] {
                reader
                    .feed(&Bytes::copy_from_slice(part), &mut |e| {
                        lines.push(e.to_string())
                    })
                    .unwrap();
            }
            assert_eq!(
                reader.image_id.as_deref(),
                Some("sha256:img"),
                "split {split}"
            );
            assert_eq!(
                lines,
                vec!["#1 hi", "#1 [stage-0 2/2] RUN echo hi 1.5s"],
                "split {split}"
            );
        }
    }

    /// The engine's error message names the step that failed.
    #[test]
    fn an_error_names_the_failed_step() {
        let status = StatusResponse {
            vertexes: vec![bollard_buildkit_proto::moby::buildkit::v1::Vertex {
                digest: "sha256:v".into(),
                name: "[stage-0 2/2] RUN exit 3".into(),
                error: "exit code: 3".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut reader = Reader::default();
        let stream = format!(
            "{}{{\"errorDetail\":{{\"message\":\"process did not complete successfully: exit code: 3\"}},\"error\":\"x\"}}",
            trace_message(&status)
        );
        let err = reader
            .feed(&Bytes::from(stream), &mut |_| {})
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "the build failed at `[stage-0 2/2] RUN exit 3`: process did not complete successfully: exit code: 3"
        );
    }
}
