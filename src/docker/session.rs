//! A BuildKit session of our own, served to the engine over `POST /session`.
//!
//! A BuildKit build asks its client, through a session, for what only the client has: registry
//! credentials (to import a cache, to pull a base image), the values of `RUN --mount=type=secret`
//! and an SSH agent for `RUN --mount=type=ssh`. The client upgrades a connection to the engine
//! (`Upgrade: h2c`) and serves gRPC on it; the engine is the gRPC client (moby
//! `api/server/router/session`, buildkit `session/grpc.go`; the docker CLI does the same).
//!
//! Why not bollard's `buildkit` feature: its `build_image` starts a session that registers only
//! the auth provider, so `RUN --mount=type=secret` finds no secret, and its gRPC "moby" driver
//! (which has secrets) reports no build progress and cannot export a cache. Serving the session
//! ourselves from `bollard-buildkit-proto`'s generated services gives all three with fewer crates.

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bollard_buildkit_proto::health::health_check_response::ServingStatus;
use bollard_buildkit_proto::health::health_server::{Health, HealthServer};
use bollard_buildkit_proto::health::{
    HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse,
};
use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::{Secrets, SecretsServer};
use bollard_buildkit_proto::moby::buildkit::secrets::v1::{GetSecretRequest, GetSecretResponse};
use bollard_buildkit_proto::moby::filesync::v1::auth_server::{Auth, AuthServer};
use bollard_buildkit_proto::moby::filesync::v1::{
    CredentialsRequest, CredentialsResponse, FetchTokenRequest, FetchTokenResponse,
    GetTokenAuthorityRequest, GetTokenAuthorityResponse, VerifyTokenAuthorityRequest,
    VerifyTokenAuthorityResponse,
};
use bollard_buildkit_proto::moby::sshforward::v1::ssh_server::{Ssh, SshServer};
use bollard_buildkit_proto::moby::sshforward::v1::{
    BytesMessage, CheckAgentRequest, CheckAgentResponse,
};
use futures_util::{Stream, StreamExt};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tonic::{Response, Status};

use super::Engine;
use crate::core::registry_auth::Credentials;
use crate::error::Error;

/// What the session gives the build.
#[derive(Default, Clone)]
pub struct Providers {
    /// Registry host (as BuildKit names it, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com`)
    /// to its credentials.
    pub registries: HashMap<String, Credentials>,
    /// Secret id to its value, read before the build starts.
    pub secrets: HashMap<String, Vec<u8>>,
    /// The agent socket for `RUN --mount=type=ssh` (id `default`).
    pub ssh_agent: Option<PathBuf>,
}

/// A session the engine holds open for a build; dropping it closes the connection.
pub struct BuildSession {
    pub id: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for BuildSession {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The engine has no `/session` endpoint (no BuildKit): the caller falls back to the classic builder.
    #[error("the engine has no BuildKit session endpoint (answered {0})")]
    Unsupported(u16),
    #[error("{0}")]
    Failed(String),
}

/// Opens a session at the engine and serves `providers` on it until dropped.
pub async fn start(
    engine: &Engine,
    providers: Providers,
) -> std::result::Result<BuildSession, SessionError> {
    let id = random_id();
    let mut methods = vec![
        "/grpc.health.v1.Health/Check".to_owned(),
        "/moby.filesync.v1.Auth/Credentials".to_owned(),
        "/moby.filesync.v1.Auth/FetchToken".to_owned(),
        "/moby.filesync.v1.Auth/GetTokenAuthority".to_owned(),
        "/moby.filesync.v1.Auth/VerifyTokenAuthority".to_owned(),
        "/moby.buildkit.secrets.v1.Secrets/GetSecret".to_owned(),
    ];
    if providers.ssh_agent.is_some() {
        methods.push("/moby.sshforward.v1.SSH/CheckAgent".to_owned());
        methods.push("/moby.sshforward.v1.SSH/ForwardAgent".to_owned());
    }
    let mut request = Request::post(super::raw::path(engine, "/session"))
        .header("Host", "docker")
        .header("Connection", "Upgrade")
        .header("Upgrade", "h2c")
        .header("X-Docker-Expose-Session-Uuid", &id)
        .header("X-Docker-Expose-Session-Name", "ecs-ship")
        .header("X-Docker-Expose-Session-Sharedkey", &id);
    for m in &methods {
        request = request.header("X-Docker-Expose-Session-Grpc-Method", m);
    }
    let request = request
        .body(super::raw::empty())
        .map_err(|e| SessionError::Failed(e.to_string()))?;
    let response = super::raw::send(engine, request, true)
        .await
        .map_err(SessionError::Failed)?;
    let status = response.status().as_u16();
    if status == 404 || status == 400 {
        return Err(SessionError::Unsupported(status));
    }
    if status != 101 {
        return Err(SessionError::Failed(format!(
            "the engine answered {status} to the session upgrade"
        )));
    }
    let upgraded = hyper::upgrade::on(response)
        .await
        .map_err(|e| SessionError::Failed(format!("the session upgrade failed: {e}")))?;
    let io = Hijacked(TokioIo::new(upgraded));
    let providers = Arc::new(providers);
    let ssh = providers.ssh_agent.clone();
    let server = tokio::spawn(async move {
        let router = tonic::transport::Server::builder()
            .add_service(HealthServer::new(Healthy))
            .add_service(AuthServer::new(Registries(providers.clone())))
            .add_service(SecretsServer::new(SecretValues(providers.clone())))
            .add_optional_service(ssh.map(|path| SshServer::new(Agent(path))));
        let incoming = futures_util::stream::iter([Ok::<_, std::io::Error>(io)]);
        if let Err(e) = router.serve_with_incoming(incoming).await {
            tracing::debug!("the BuildKit session ended: {e}");
        }
    });
    Ok(BuildSession { id, server })
}

/// A session id as the docker CLI makes them: random, 25 characters of [a-z0-9].
fn random_id() -> String {
    use sha2::{Digest, Sha256};
    let seed = format!(
        "{:?}{}{:?}",
        std::time::SystemTime::now(),
        std::process::id(),
        std::thread::current().id()
    );
    let hash = Sha256::digest(seed.as_bytes());
    hash.iter()
        .take(25)
        .map(|b| {
            let c = b % 36;
            char::from(if c < 10 { b'0' + c } else { b'a' + c - 10 })
        })
        .collect()
}

/// The upgraded connection, as tonic's server takes it.
struct Hijacked(TokioIo<hyper::upgrade::Upgraded>);

impl tonic::transport::server::Connected for Hijacked {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Hijacked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Hijacked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The engine checks that the session is alive; without an answer it closes it.
struct Healthy;

#[tonic::async_trait]
impl Health for Healthy {
    async fn check(
        &self,
        _: tonic::Request<HealthCheckRequest>,
    ) -> std::result::Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        }))
    }

    async fn list(
        &self,
        _: tonic::Request<HealthListRequest>,
    ) -> std::result::Result<Response<HealthListResponse>, Status> {
        Err(Status::unimplemented("list"))
    }

    type WatchStream =
        Pin<Box<dyn Stream<Item = std::result::Result<HealthCheckResponse, Status>> + Send>>;

    async fn watch(
        &self,
        _: tonic::Request<HealthCheckRequest>,
    ) -> std::result::Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("watch"))
    }
}

/// Registry credentials by host. An unknown host gets empty credentials: anonymous, as the docker
/// CLI answers for a host its config does not hold.
struct Registries(Arc<Providers>);

#[tonic::async_trait]
impl Auth for Registries {
    async fn credentials(
        &self,
        request: tonic::Request<CredentialsRequest>,
    ) -> std::result::Result<Response<CredentialsResponse>, Status> {
        let host = &request.get_ref().host;
        let found = self.0.registries.get(host).or_else(|| {
            // Docker Hub is asked for under several names.
            matches!(host.as_str(), "registry-1.docker.io" | "docker.io")
                .then(|| self.0.registries.get("index.docker.io"))
                .flatten()
        });
        Ok(Response::new(match found {
            Some(c) => CredentialsResponse {
                username: c.username.clone(),
                secret: c.password.clone(),
            },
            None => CredentialsResponse::default(),
        }))
    }

    // The token methods are optional: BuildKit falls back to Credentials when they are unimplemented.
    async fn fetch_token(
        &self,
        _: tonic::Request<FetchTokenRequest>,
    ) -> std::result::Result<Response<FetchTokenResponse>, Status> {
        Err(Status::unimplemented("fetch_token"))
    }

    async fn get_token_authority(
        &self,
        _: tonic::Request<GetTokenAuthorityRequest>,
    ) -> std::result::Result<Response<GetTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("get_token_authority"))
    }

    async fn verify_token_authority(
        &self,
        _: tonic::Request<VerifyTokenAuthorityRequest>,
    ) -> std::result::Result<Response<VerifyTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("verify_token_authority"))
    }
}

/// `RUN --mount=type=secret,id=X`: the value read before the build, never logged.
struct SecretValues(Arc<Providers>);

#[tonic::async_trait]
impl Secrets for SecretValues {
    async fn get_secret(
        &self,
        request: tonic::Request<GetSecretRequest>,
    ) -> std::result::Result<Response<GetSecretResponse>, Status> {
        let id = &request.get_ref().id;
        match self.0.secrets.get(id) {
            Some(data) => Ok(Response::new(GetSecretResponse { data: data.clone() })),
            // NotFound is what BuildKit expects for a secret the client does not have: a
            // `required=false` mount then continues without it.
            None => Err(Status::not_found(format!(
                "secret `{id}` was not given: pass --secret id={id},src=PATH (or env=VAR)"
            ))),
        }
    }
}

/// `RUN --mount=type=ssh`: the bytes of each forwarded connection piped to the local agent socket.
struct Agent(PathBuf);

#[tonic::async_trait]
impl Ssh for Agent {
    async fn check_agent(
        &self,
        request: tonic::Request<CheckAgentRequest>,
    ) -> std::result::Result<Response<CheckAgentResponse>, Status> {
        let id = &request.get_ref().id;
        if !id.is_empty() && id != "default" {
            return Err(Status::not_found(format!(
                "ssh `{id}` was not given: only --ssh default is supported"
            )));
        }
        Ok(Response::new(CheckAgentResponse {}))
    }

    type ForwardAgentStream =
        Pin<Box<dyn Stream<Item = std::result::Result<BytesMessage, Status>> + Send>>;

    async fn forward_agent(
        &self,
        request: tonic::Request<tonic::Streaming<BytesMessage>>,
    ) -> std::result::Result<Response<Self::ForwardAgentStream>, Status> {
        let socket = tokio::net::UnixStream::connect(&self.0)
            .await
            .map_err(|e| {
                Status::unavailable(format!(
                    "cannot reach the SSH agent at {}: {e}",
                    self.0.display()
                ))
            })?;
        let (read, mut write) = socket.into_split();
        let mut incoming = request.into_inner();
        tokio::spawn(async move {
            while let Some(Ok(message)) = incoming.next().await {
                if write.write_all(&message.data).await.is_err() {
                    break;
                }
            }
            let _ = write.shutdown().await;
        });
        Ok(Response::new(agent_answers(read)))
    }
}

/// The agent's answers as a stream of messages until it closes.
fn agent_answers(
    read: tokio::net::unix::OwnedReadHalf,
) -> Pin<Box<dyn Stream<Item = std::result::Result<BytesMessage, Status>> + Send>> {
    Box::pin(futures_util::stream::unfold(
        (read, vec![0; 16 * 1024]),
        |(mut read, mut buf)| async move {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => None,
                Ok(n) => Some((
                    Ok(BytesMessage {
                        data: buf[..n].to_vec(),
                    }),
                    (read, buf),
                )),
            }
        },
    ))
}

/// Turns a session failure into our error, for the build to report.
pub fn failed(engine: &Engine, e: SessionError) -> Error {
    Error::remote_with(
        format!("cannot open a BuildKit session at {}", engine.host),
        e,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn session_ids_are_25_lowercase_alphanumerics() {
        let id = super::random_id();
        assert_eq!(id.len(), 25);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
    }
}
