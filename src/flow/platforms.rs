//! Multi-platform images (`--platform linux/amd64,linux/arm64`). An engine's image store holds one
//! image per tag and its built-in BuildKit cannot export several platforms at once ("exporting
//! multiple references to image store is currently unsupported"), so each platform is built as
//! an image of its own (natively, or through QEMU binfmt on the host), each is pushed and verified,
//! and the image index over them is assembled here, put to the registry under every tag, and
//! verified by its bytes: the digest recorded, pinned and deployed is the index's.

use std::fmt;

use serde::Serialize;
use tracing::info;

use super::Session;
use super::image::{self, Access, PushRequest};
use crate::core::image_ref::ImageRef;
use crate::core::platform::{self, Child, IndexEntry, Platform, SourceRef};
use crate::error::{Error, Result};
use crate::registry;
use crate::state::PlatformImage;

/// The tag a platform's own image gets beside the index's: `<tag>-linux-arm64`.
pub fn platform_tag(tag: &str, p: &Platform) -> String {
    let mut out = format!("{tag}-{}-{}", p.os, p.architecture);
    if let Some(v) = &p.variant {
        out.push('-');
        out.push_str(v);
    }
    out
}

/// Pushes each platform's image, then the index over them under every tag; returns the index's
/// digest, verified: the registry serves those exact bytes for the first tag, and each child
/// manifest is the image built for its platform.
pub async fn push_index(
    session: &Session,
    engine: &crate::docker::Engine,
    repo: &ImageRef,
    tags: &[String],
    images: &[PlatformImage],
    access: &Access,
    request: &PushRequest,
) -> Result<String> {
    let mut entries = Vec::new();
    for built in images {
        let p = Platform::parse(&built.platform).map_err(Error::input)?;
        let tag = platform_tag(&tags[0], &p);
        engine.tag(&built.image_id, &repo.name, &tag).await?;
        let digest = image::push_tags(session, engine, repo, &[tag], access, request).await?;
        let manifest = registry::fetch_manifest(repo, &digest, access.credentials.as_ref()).await?;
        let value: serde_json::Value = serde_json::from_slice(&manifest.bytes).map_err(|e| {
            Error::remote_with(
                format!("the manifest of {}@{digest} is not JSON", repo.name),
                e,
            )
        })?;
        let config = value
            .get("config")
            .and_then(|c| c.get("digest"))
            .and_then(serde_json::Value::as_str);
        if config != Some(built.image_id.as_str()) {
            return Err(Error::remote(format!(
                "the registry holds {}@{digest} for image {}, not the {} build {}: refusing to assemble the index",
                repo.name,
                config.unwrap_or("(none)"),
                built.platform,
                built.image_id
            )));
        }
        let media_type = value
            .get("mediaType")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("application/vnd.docker.distribution.manifest.v2+json")
            .to_owned();
        info!("{}: {}@{digest}", built.platform, repo.name);
        entries.push(IndexEntry {
            platform: p,
            digest,
            size: manifest.bytes.len(),
            media_type,
        });
    }
    let (bytes, media_type) = platform::render_index(&entries);
    let mut digest = None;
    for tag in tags {
        let put =
            registry::put_manifest(repo, tag, &bytes, media_type, access.credentials.as_ref())
                .await?;
        digest = Some(put);
    }
    let digest = digest.ok_or_else(|| Error::input("no tags to push: pass --tag"))?;
    verify(session, repo, tags, &digest, &entries).await?;
    info!(
        "pushed the index {}@{digest} over {}",
        repo.name,
        entries
            .iter()
            .map(|e| e.platform.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(digest)
}

/// An index assembled from per-platform images already in the registry (pushed by separate
/// builds, e.g. the native x86 and ARM legs of a CodeBuild batch).
#[derive(Debug, Clone, Serialize)]
pub struct Merged {
    /// `repository@sha256:...` of the index: what to deploy.
    pub image: String,
    pub digest: String,
    pub tags: Vec<String>,
    pub platforms: Vec<MergedPlatform>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MergedPlatform {
    pub platform: String,
    pub digest: String,
}

impl fmt::Display for Merged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.image)?;
        for p in &self.platforms {
            writeln!(f, "  {:<14} {}", p.platform, p.digest)?;
        }
        Ok(())
    }
}

impl crate::output::Report for Merged {
    fn outputs(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("image", self.image.clone()),
            ("digest", self.digest.clone()),
        ];
        if let Some(tag) = self.tags.first() {
            out.push(("image-tag", tag.clone()));
        }
        out
    }
}

/// Assembles the images `sources` name (each verified by its bytes, its platform read from its
/// config; an index among them gives its platforms) into one index, puts it under every tag of
/// `repo`, and verifies it as a built index is verified.
pub async fn merge(
    session: &Session,
    repo: &ImageRef,
    tags: &[String],
    sources: &[SourceRef],
) -> Result<Merged> {
    if tags.is_empty() {
        return Err(Error::input("no tag to put the index under: give REPO:TAG"));
    }
    let access = image::credentials_for(session, repo).await?;
    let creds = access.credentials.as_ref();
    let mut entries = Vec::new();
    for source in sources {
        let reference = match source {
            SourceRef::Digest(d) | SourceRef::Tag(d) => d.as_str(),
        };
        let manifest = registry::fetch_manifest(repo, reference, creds).await?;
        let at = format!("{}@{}", repo.name, manifest.digest);
        let value: serde_json::Value = serde_json::from_slice(&manifest.bytes)
            .map_err(|e| Error::remote_with(format!("the manifest of {at} is not JSON"), e))?;
        match platform::child_of(&value).map_err(|e| Error::input(format!("{at}: {e}")))? {
            Child::Index(list) => entries.extend(list),
            Child::Image { config, media_type } => {
                let blob = registry::fetch_blob(repo, &config, creds).await?;
                let config: serde_json::Value = serde_json::from_slice(&blob).map_err(|e| {
                    Error::remote_with(format!("the config of {at} is not JSON"), e)
                })?;
                let p = platform::config_platform(&config).ok_or_else(|| {
                    Error::input(format!(
                        "{at}: its config names no os/architecture, so it cannot stand for a platform"
                    ))
                })?;
                info!("{p}: {at}");
                entries.push(IndexEntry {
                    platform: p,
                    digest: manifest.digest.clone(),
                    size: manifest.bytes.len(),
                    media_type,
                });
            }
        }
    }
    let entries = platform::merge_entries(entries).map_err(Error::input)?;
    let (bytes, media_type) = platform::render_index(&entries);
    let mut digest = String::new();
    for tag in tags {
        digest = registry::put_manifest(repo, tag, &bytes, media_type, creds).await?;
    }
    verify(session, repo, tags, &digest, &entries).await?;
    info!(
        "assembled the index {}@{digest} over {}",
        repo.name,
        entries
            .iter()
            .map(|e| e.platform.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(Merged {
        image: format!("{}@{digest}", repo.name),
        digest,
        tags: tags.to_vec(),
        platforms: entries
            .iter()
            .map(|e| MergedPlatform {
                platform: e.platform.to_string(),
                digest: e.digest.clone(),
            })
            .collect(),
    })
}

/// The first tag resolves to the index by its bytes, and the index lists exactly the platforms
/// that were built.
async fn verify(
    session: &Session,
    repo: &ImageRef,
    tags: &[String],
    digest: &str,
    entries: &[IndexEntry],
) -> Result<()> {
    let first = repo.with_tag(&tags[0]);
    let confirmed = image::verified_digest(session, &first).await?;
    if confirmed != digest {
        return Err(Error::remote(format!(
            "the index was put as {digest} for {first}, but the registry serves {confirmed}: refusing to record either"
        )));
    }
    let listed = image::image_platforms(session, &repo.pinned(digest)).await?;
    let built: Vec<Platform> = entries.iter().map(|e| e.platform.clone()).collect();
    if listed != built {
        return Err(Error::remote(format!(
            "the index {}@{digest} lists {}, not the platforms built ({})",
            repo.name,
            listed
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            built
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_platform_gets_a_tag_of_its_own() {
        let p = |s| Platform::parse(s).unwrap();
        assert_eq!(
            platform_tag("202612060300", &p("linux/amd64")),
            "202612060300-linux-amd64"
        );
        assert_eq!(
            platform_tag("v1", &p("linux/arm64/v8")),
            "v1-linux-arm64-v8"
        );
    }
}
