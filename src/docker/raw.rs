//! Plain HTTP/1.1 to the engine's socket, for what bollard's typed calls cannot carry: the push's
//! aux digest, a BuildKit build tied to a session of our own, and the session's connection upgrade.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use super::Engine;

/// A connection to the engine: its unix socket or TCP.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A request body of any kind (empty, a streamed tar).
pub type Body = BoxBody<Bytes, std::io::Error>;

/// Opens a new connection to the engine at `engine.host`.
pub async fn connect(engine: &Engine) -> std::io::Result<Box<dyn Io>> {
    if let Some(path) = engine.host.strip_prefix("unix://") {
        Ok(Box::new(tokio::net::UnixStream::connect(path).await?))
    } else {
        let addr = engine
            .host
            .trim_start_matches("tcp://")
            .trim_start_matches("http://");
        Ok(Box::new(tokio::net::TcpStream::connect(addr).await?))
    }
}

/// `/v<negotiated>` + `rest`: the path of an API call at the version agreed with the engine.
pub fn path(engine: &Engine, rest: &str) -> String {
    let v = engine.docker.client_version();
    format!("/v{}.{}{rest}", v.major_version, v.minor_version)
}

/// Sends `request` on a connection of its own; with `upgrades` the connection may be taken over
/// (`hyper::upgrade::on`) after a 101 answer.
pub async fn send(
    engine: &Engine,
    request: Request<Body>,
    upgrades: bool,
) -> std::result::Result<Response<Incoming>, String> {
    let io = connect(engine)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", engine.host))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| e.to_string())?;
    if upgrades {
        tokio::spawn(conn.with_upgrades());
    } else {
        tokio::spawn(conn);
    }
    sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())
}

/// An empty request body.
pub fn empty() -> Body {
    use http_body_util::BodyExt;
    http_body_util::Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}
