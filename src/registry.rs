//! The registry HTTP API v2, for what the engine does not tell us: the exact manifest bytes behind
//! a tag, so a digest is verified by hashing them (sha2), never taken on trust.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};

use crate::core::image_ref::ImageRef;
use crate::core::registry_auth::{Challenge, Credentials, manifest_digest, parse_challenge};
use crate::error::{Error, Result};

/// Every manifest type a push can produce; asking for all keeps the registry from converting.
pub const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

/// Where an image's registry is and what its repository is called there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub host: String,
    pub path: String,
    pub base_url: String,
}

pub fn locate(image: &ImageRef) -> Location {
    let (host, path) = match image.domain() {
        Some("docker.io") | Some("index.docker.io") | None => {
            let path = image.path();
            let path = if path.contains('/') {
                path.to_owned()
            } else {
                format!("library/{path}")
            };
            ("registry-1.docker.io".to_owned(), path)
        }
        Some(host) => (host.to_owned(), image.path().to_owned()),
    };
    // Docker itself talks plain HTTP to registries on loopback; everything else is HTTPS.
    let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
    let loopback = name == "localhost" || name.starts_with("127.") || name == "[::1]";
    let base_url = format!("{}://{host}", if loopback { "http" } else { "https" });
    Location {
        host,
        path,
        base_url,
    }
}

/// A manifest as the registry stores it.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub bytes: Vec<u8>,
    /// sha256 of `bytes`, checked against the registry's Docker-Content-Digest.
    pub digest: String,
}

/// Where Docker keeps a registry's own CA: the engine trusts `<dir>/<host>/ca.crt` for that
/// registry (https://docs.docker.com/engine/security/certificates/), and so do our registry calls,
/// so a private registry the engine pushes to is one we can verify.
const DOCKER_CERTS_DIR: &str = "/etc/docker/certs.d";

fn client(host: &str) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60));
    let ca = std::path::Path::new(DOCKER_CERTS_DIR)
        .join(host)
        .join("ca.crt");
    if let Ok(pem) = std::fs::read(&ca) {
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
            Error::input_with(
                format!("the CA `{}` for registry {host} is not PEM", ca.display()),
                e,
            )
        })?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build()
        .map_err(|e| Error::internal_with("failed to set up the registry HTTP client", e))
}

/// GETs `reference` (a tag or digest) and verifies the bytes against the registry's digest header
/// and, when given, against `expected`.
pub async fn fetch_manifest(
    image: &ImageRef,
    reference: &str,
    creds: Option<&Credentials>,
) -> Result<Manifest> {
    let loc = locate(image);
    let what = format!(
        "manifest `{}:{reference}` in registry {}",
        loc.path, loc.host
    );
    let url = format!("{}/v2/{}/manifests/{reference}", loc.base_url, loc.path);
    let response = get(&loc, &url, Some(&MANIFEST_TYPES.join(", ")), &what, creds).await?;
    let header = response
        .headers()
        .get("Docker-Content-Digest")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Error::remote_with(format!("failed to read {what}"), e))?
        .to_vec();
    let digest = manifest_digest(&bytes);
    if let Some(header) = header
        && header != digest
    {
        return Err(Error::remote(format!(
            "{what}: the registry says {header} but the manifest bytes hash to {digest}: refusing an unverified digest"
        )));
    }
    if reference.starts_with("sha256:") && reference != digest {
        return Err(Error::remote(format!(
            "{what}: the manifest bytes hash to {digest}, not the requested digest"
        )));
    }
    Ok(Manifest { bytes, digest })
}

/// GETs the blob `digest` (an image config) and verifies its bytes hash to it. A registry that
/// redirects blobs (ECR to S3) is followed; the credentials are not sent to the other host.
pub async fn fetch_blob(
    image: &ImageRef,
    digest: &str,
    creds: Option<&Credentials>,
) -> Result<Vec<u8>> {
    let loc = locate(image);
    let what = format!("blob `{}@{digest}` in registry {}", loc.path, loc.host);
    let url = format!("{}/v2/{}/blobs/{digest}", loc.base_url, loc.path);
    let response = get(&loc, &url, None, &what, creds).await?;
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Error::remote_with(format!("failed to read {what}"), e))?
        .to_vec();
    let hashed = manifest_digest(&bytes);
    if hashed != digest {
        return Err(Error::remote(format!(
            "{what}: the bytes hash to {hashed}: refusing an unverified blob"
        )));
    }
    Ok(bytes)
}

/// PUTs `bytes` (a manifest or an index of `media_type`) as `reference` (a tag), and checks the
/// registry stored exactly those bytes: its Docker-Content-Digest is their sha256.
pub async fn put_manifest(
    image: &ImageRef,
    reference: &str,
    bytes: &[u8],
    media_type: &str,
    creds: Option<&Credentials>,
) -> Result<String> {
    let loc = locate(image);
    let what = format!(
        "the index `{}:{reference}` put to registry {}",
        loc.path, loc.host
    );
    let url = format!("{}/v2/{}/manifests/{reference}", loc.base_url, loc.path);
    let response = call(
        &loc,
        reqwest::Method::PUT,
        &url,
        None,
        Some((bytes, media_type)),
        &what,
        creds,
    )
    .await?;
    let digest = manifest_digest(bytes);
    match response
        .headers()
        .get("Docker-Content-Digest")
        .and_then(|h| h.to_str().ok())
    {
        Some(header) if header != digest => Err(Error::remote(format!(
            "{what}: the registry stored {header}, but the bytes sent hash to {digest}"
        ))),
        _ => Ok(digest),
    }
}

/// A GET answered with success, through the registry's auth challenge (basic, or a bearer token).
async fn get(
    loc: &Location,
    url: &str,
    accept: Option<&str>,
    what: &str,
    creds: Option<&Credentials>,
) -> Result<reqwest::Response> {
    call(loc, reqwest::Method::GET, url, accept, None, what, creds).await
}

/// A request answered with success, through the registry's auth challenge; `body` is the bytes
/// and their content type.
async fn call(
    loc: &Location,
    method: reqwest::Method,
    url: &str,
    accept: Option<&str>,
    body: Option<(&[u8], &str)>,
    what: &str,
    creds: Option<&Credentials>,
) -> Result<reqwest::Response> {
    let http = client(&loc.host)?;
    let send = |auth: Option<String>| {
        let mut req = http.request(method.clone(), url);
        if let Some(accept) = accept {
            req = req.header(ACCEPT, accept);
        }
        if let Some((bytes, content_type)) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes.to_vec());
        }
        if let Some(auth) = auth {
            req = req.header(AUTHORIZATION, auth);
        }
        req.send()
    };
    let unreachable = |e: reqwest::Error| {
        Error::remote_with(format!("cannot reach registry {} for {what}", loc.host), e)
    };
    let mut response = send(None).await.map_err(unreachable)?;
    if response.status() == StatusCode::UNAUTHORIZED {
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .and_then(parse_challenge);
        let auth = authorization(&http, loc, challenge, what, creds).await?;
        response = send(Some(auth)).await.map_err(unreachable)?;
    }
    match response.status() {
        s if s.is_success() => Ok(response),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(Error::remote(format!(
            "registry {} refused the credentials for {what} ({})",
            loc.host,
            response.status()
        ))),
        StatusCode::NOT_FOUND => Err(Error::remote(format!("{what} not found"))),
        s => Err(Error::remote(format!(
            "registry {} answered {s} for {what}",
            loc.host
        ))),
    }
}

/// The Authorization header that answers `challenge`.
async fn authorization(
    http: &reqwest::Client,
    loc: &Location,
    challenge: Option<Challenge>,
    what: &str,
    creds: Option<&Credentials>,
) -> Result<String> {
    match challenge {
        Some(Challenge::Basic) => {
            let creds = creds.ok_or_else(|| {
                Error::remote(format!(
                    "registry {} requires credentials for {what}: add them to the Docker config `auths` (DOCKER_CONFIG)",
                    loc.host
                ))
            })?;
            Ok(creds.basic())
        }
        Some(Challenge::Bearer {
            realm,
            service,
            scope,
        }) => {
            let scope = scope.unwrap_or_else(|| format!("repository:{}:pull", loc.path));
            let mut params = vec![("scope", scope.as_str())];
            if let Some(service) = &service {
                params.push(("service", service.as_str()));
            }
            let token_url = reqwest::Url::parse_with_params(&realm, &params).map_err(|e| {
                Error::remote_with(
                    format!(
                        "registry {} sent an invalid token realm `{realm}`",
                        loc.host
                    ),
                    e,
                )
            })?;
            let mut req = http.get(token_url);
            if let Some(c) = creds {
                req = req.header(AUTHORIZATION, c.basic());
            }
            let body = req
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| {
                    Error::remote_with(
                        format!("registry {} refused a token for {what}", loc.host),
                        e,
                    )
                })?
                .bytes()
                .await
                .map_err(|e| {
                    Error::remote_with(format!("registry {} sent no token", loc.host), e)
                })?;
            let token: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
                Error::remote_with(format!("registry {} sent an unreadable token", loc.host), e)
            })?;
            let token = token
                .get("token")
                .or_else(|| token.get("access_token"))
                .and_then(|t| t.as_str())
                .unwrap_or_default();
            Ok(format!("Bearer {token}"))
        }
        None => Err(Error::remote(format!(
            "registry {} refused {what} (401) without a usable challenge",
            loc.host
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_are_located_like_docker_does() {
        let loc = |s: &str| locate(&ImageRef::parse(s).unwrap());
        assert_eq!(
            loc("127.0.0.1:15000/team/app:v1").base_url,
            "http://127.0.0.1:15000"
        );
        assert_eq!(loc("localhost:5000/app").path, "app");
        assert_eq!(loc("busybox").path, "library/busybox");
        assert_eq!(loc("busybox").host, "registry-1.docker.io");
        assert_eq!(
            loc("123456789012.dkr.ecr.us-east-1.amazonaws.com/api").base_url,
            "https://123456789012.dkr.ecr.us-east-1.amazonaws.com"
        );
    }
}
