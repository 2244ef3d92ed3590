//! Platforms, pure: what a task definition runs (`runtimePlatform`), what an image is built for
//! (its config, or the entries of its index), and the architecture guard between the two.
//!
//! ECS runs a task definition's `runtimePlatform.cpuArchitecture` (X86_64 | ARM64) and
//! `operatingSystemFamily` (LINUX, WINDOWS_SERVER_...); Fargate without a runtimePlatform runs
//! X86_64 Linux (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#runtime-platform).
//! An image built for another architecture starts and dies at once with `exec format error`.

use std::fmt;

use serde_json::Value;

/// `os/architecture[/variant]`, as Docker and the OCI image spec name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl Platform {
    /// `linux/amd64`, `linux/arm64/v8`; the architecture's common aliases normalised.
    pub fn parse(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.trim().split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] => (*os, *arch, Some((*variant).to_owned())),
            _ => {
                return Err(format!(
                    "invalid platform `{text}`: expected os/architecture, e.g. linux/amd64 or linux/arm64"
                ));
            }
        };
        if os.is_empty() || arch.is_empty() {
            return Err(format!(
                "invalid platform `{text}`: expected os/architecture, e.g. linux/amd64"
            ));
        }
        let architecture = match arch.to_ascii_lowercase().as_str() {
            "x86_64" | "x86-64" | "amd64" => "amd64".to_owned(),
            "aarch64" | "arm64" => "arm64".to_owned(),
            other => other.to_owned(),
        };
        Ok(Platform {
            os: os.to_ascii_lowercase(),
            architecture,
            variant,
        })
    }

    /// `--platform a,b`: every platform, in order, without repeats.
    pub fn parse_list(text: &str) -> Result<Vec<Platform>, String> {
        let mut out: Vec<Platform> = Vec::new();
        for item in text.split(',').filter(|s| !s.trim().is_empty()) {
            let p = Platform::parse(item)?;
            if !out.contains(&p) {
                out.push(p);
            }
        }
        if out.is_empty() {
            return Err(format!("invalid platform `{text}`: none given"));
        }
        Ok(out)
    }

    /// Whether an image for `self` runs where `runs` is wanted (a variant only matters when both name one).
    fn runs_as(&self, runs: &Platform) -> bool {
        self.os == runs.os
            && self.architecture == runs.architecture
            && match (&self.variant, &runs.variant) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// What a task definition runs on, read from its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runs {
    pub platform: Platform,
    /// The task definition's own words, for messages: `X86_64`, `ARM64 (Fargate default X86_64)`.
    pub said: String,
}

/// The platform a task definition runs: its runtimePlatform, or Fargate's X86_64 Linux default
/// when it requires FARGATE; `None` when it cannot be told (EC2 without a runtimePlatform runs
/// whatever its instances are).
pub fn task_platform(document: &serde_json::Map<String, Value>) -> Option<Runs> {
    let rp = document.get("runtimePlatform");
    let cpu = rp
        .and_then(|r| r.get("cpuArchitecture"))
        .and_then(Value::as_str);
    let family = rp
        .and_then(|r| r.get("operatingSystemFamily"))
        .and_then(Value::as_str);
    let fargate = document
        .get("requiresCompatibilities")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|v| v.as_str() == Some("FARGATE")));
    let (architecture, said) = match cpu {
        Some("X86_64") => ("amd64", "X86_64".to_owned()),
        Some("ARM64") => ("arm64", "ARM64".to_owned()),
        None if fargate => ("amd64", "X86_64 (Fargate's default)".to_owned()),
        _ => return None,
    };
    let os = match family {
        None | Some("LINUX") => "linux",
        Some(f) if f.starts_with("WINDOWS") => "windows",
        Some(_) => return None,
    };
    Some(Runs {
        platform: Platform {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: None,
        },
        said,
    })
}

/// The `--platform` a build gets when none was given: what every task definition it is built
/// for runs. Task definitions that run different platforms cannot share one single-platform
/// image: that is an error naming both.
pub fn default_build_platform<'a>(
    tasks: impl IntoIterator<Item = (&'a str, Option<Runs>)>,
) -> Result<Option<Runs>, String> {
    let mut chosen: Option<(&str, Runs)> = None;
    for (family, runs) in tasks {
        let Some(runs) = runs else { continue };
        match &chosen {
            None => chosen = Some((family, runs)),
            Some((first, c)) if c.platform != runs.platform => {
                return Err(format!(
                    "{first} runs {} and {family} runs {}: one image cannot serve both; pass --platform {},{} for a multi-platform image, or release them apart",
                    c.said, runs.said, c.platform, runs.platform
                ));
            }
            Some(_) => {}
        }
    }
    Ok(chosen.map(|(_, r)| r))
}

/// What an image manifest says about platforms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImagePlatforms {
    /// An index: the platforms of its image entries (attestations left out).
    Index(Vec<Platform>),
    /// A single image: its config blob's digest, to read os/architecture from.
    Config(String),
}

/// Reads a manifest (an image manifest or an index) for its platforms.
pub fn manifest_platforms(manifest: &Value) -> Option<ImagePlatforms> {
    if let Some(entries) = manifest.get("manifests").and_then(Value::as_array) {
        let platforms = entries
            .iter()
            .filter_map(|m| m.get("platform"))
            .filter_map(config_platform)
            // BuildKit's attestation manifests are listed as unknown/unknown.
            .filter(|p| p.os != "unknown")
            .collect();
        return Some(ImagePlatforms::Index(platforms));
    }
    manifest
        .get("config")
        .and_then(|c| c.get("digest"))
        .and_then(Value::as_str)
        .map(|d| ImagePlatforms::Config(d.to_owned()))
}

/// `{"os": .., "architecture": .., "variant": ..}` of an image config or an index entry.
pub fn config_platform(config: &Value) -> Option<Platform> {
    let os = config.get("os").and_then(Value::as_str)?;
    let arch = config.get("architecture").and_then(Value::as_str)?;
    let mut p = Platform::parse(&format!("{os}/{arch}")).ok()?;
    p.variant = config
        .get("variant")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Some(p)
}

/// The build args BuildKit sets by itself for a target platform. An engine's built-in frontend
/// (Docker 20.10) leaves them unset before the first FROM, so `ARG TARGETARCH` /
/// `FROM base-${TARGETARCH}` needs them passed (https://docs.docker.com/build/building/variables/#multi-platform-build-arguments).
pub fn target_args(p: &Platform) -> Vec<(String, String)> {
    vec![
        ("TARGETPLATFORM".to_owned(), p.to_string()),
        ("TARGETOS".to_owned(), p.os.clone()),
        ("TARGETARCH".to_owned(), p.architecture.clone()),
        (
            "TARGETVARIANT".to_owned(),
            p.variant.clone().unwrap_or_default(),
        ),
    ]
}

/// One platform's image in an index: its manifest as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub platform: Platform,
    pub digest: String,
    pub size: usize,
    pub media_type: String,
}

pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The index over per-platform images, and its media type: a Docker manifest list over Docker
/// manifests (what the engine pushes), an OCI index over OCI manifests.
pub fn render_index(entries: &[IndexEntry]) -> (Vec<u8>, &'static str) {
    let oci = entries
        .iter()
        .all(|e| e.media_type.starts_with("application/vnd.oci."));
    let media_type = if oci { OCI_INDEX } else { DOCKER_LIST };
    let manifests: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut platform = serde_json::json!({
                "architecture": e.platform.architecture,
                "os": e.platform.os,
            });
            if let Some(v) = &e.platform.variant {
                platform["variant"] = Value::from(v.clone());
            }
            serde_json::json!({
                "mediaType": e.media_type,
                "digest": e.digest,
                "size": e.size,
                "platform": platform,
            })
        })
        .collect();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": manifests,
    });
    (
        serde_json::to_vec_pretty(&index).unwrap_or_default(),
        media_type,
    )
}

/// The guard's refusal: the image cannot run where the task definition runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "image {image} is {have}, and {family} runs {runs}: rebuild with --platform {want} (ecs-ship release picks it from the task definition)"
)]
pub struct Mismatch {
    pub image: String,
    pub have: String,
    pub family: String,
    pub runs: String,
    pub want: String,
}

/// Checks an image's platforms (one for an image, several for an index) against what the task
/// definition runs.
pub fn check(
    image: &str,
    platforms: &[Platform],
    family: &str,
    runs: &Runs,
) -> Result<(), Mismatch> {
    if platforms.is_empty() || platforms.iter().any(|p| p.runs_as(&runs.platform)) {
        return Ok(());
    }
    let have: Vec<String> = platforms.iter().map(ToString::to_string).collect();
    Err(Mismatch {
        image: image.to_owned(),
        have: have.join(", "),
        family: family.to_owned(),
        runs: runs.said.clone(),
        want: runs.platform.to_string(),
    })
}

/// A manifest an index is assembled from (`manifest create`, `release --merge-platforms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Child {
    /// One image: its config blob (to read its platform from) and its media type.
    Image { config: String, media_type: String },
    /// An index already: its platform entries (attestations left out), taken over as they are.
    Index(Vec<IndexEntry>),
}

/// What a fetched manifest is, for assembling an index from it.
pub fn child_of(manifest: &Value) -> Result<Child, String> {
    if let Some(entries) = manifest.get("manifests").and_then(Value::as_array) {
        let mut out = Vec::new();
        for e in entries {
            let Some(platform) = e.get("platform").and_then(config_platform) else {
                continue;
            };
            if platform.os == "unknown" {
                continue;
            }
            let digest = e
                .get("digest")
                .and_then(Value::as_str)
                .ok_or("an index entry without a digest")?;
            let size = e
                .get("size")
                .and_then(Value::as_u64)
                .ok_or("an index entry without a size")?;
            let media_type = e
                .get("mediaType")
                .and_then(Value::as_str)
                .ok_or("an index entry without a mediaType")?;
            out.push(IndexEntry {
                platform,
                digest: digest.to_owned(),
                size: usize::try_from(size).map_err(|_| "an index entry too large")?,
                media_type: media_type.to_owned(),
            });
        }
        return Ok(Child::Index(out));
    }
    let config = manifest
        .get("config")
        .and_then(|c| c.get("digest"))
        .and_then(Value::as_str)
        .ok_or("neither an image manifest (no config) nor an index (no manifests)")?;
    let media_type = manifest
        .get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or("application/vnd.docker.distribution.manifest.v2+json");
    Ok(Child::Image {
        config: config.to_owned(),
        media_type: media_type.to_owned(),
    })
}

/// The entries of one index: each platform once (two images for one platform is a mistake, not a
/// choice to make silently), in the order given.
pub fn merge_entries(entries: Vec<IndexEntry>) -> Result<Vec<IndexEntry>, String> {
    let mut out: Vec<IndexEntry> = Vec::new();
    for e in entries {
        if let Some(same) = out.iter().find(|o| o.platform == e.platform) {
            if same.digest == e.digest {
                continue;
            }
            return Err(format!(
                "two images for {}: {} and {}; give one per platform",
                e.platform, same.digest, e.digest
            ));
        }
        out.push(e);
    }
    if out.is_empty() {
        return Err("no platform image to assemble".to_owned());
    }
    Ok(out)
}

/// Where one image of an index comes from, as given on the command line: a digest in the index's
/// repository (`sha256:...`, `REPO@sha256:...`) or a tag of it (`REPO:TAG`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRef {
    Digest(String),
    Tag(String),
}

/// Reads a source of `manifest create REPO:TAG SOURCE...`: an index can only list manifests of its
/// own repository, so a source in another repository is refused, saying so.
pub fn parse_source(repository: &str, source: &str) -> Result<SourceRef, String> {
    let is_digest = |d: &str| {
        d.strip_prefix("sha256:")
            .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    if is_digest(source) {
        return Ok(SourceRef::Digest(source.to_owned()));
    }
    if source.starts_with("sha256:") {
        return Err(format!(
            "`{source}` is not a digest: sha256: and 64 hex digits"
        ));
    }
    let image = super::image_ref::ImageRef::parse(source).map_err(|e| e.to_string())?;
    if image.name != repository {
        return Err(format!(
            "`{source}` is in {}, not in {repository}: an index lists manifests of its own repository only (push the image there first)",
            image.name
        ));
    }
    match (image.digest, image.tag) {
        (Some(d), _) => Ok(SourceRef::Digest(d)),
        (None, Some(t)) => Ok(SourceRef::Tag(t)),
        (None, None) => Err(format!(
            "`{source}` names no image: give REPO:TAG, REPO@sha256:... or sha256:..."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_children_of_an_index_are_images_or_indexes() {
        let image = serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"digest": "sha256:c0"}, "layers": []});
        assert_eq!(
            child_of(&image).unwrap(),
            Child::Image {
                config: "sha256:c0".into(),
                media_type: "application/vnd.oci.image.manifest.v1+json".into()
            }
        );
        let index = serde_json::json!({"manifests": [
            {"digest": "sha256:a", "size": 10, "mediaType": "application/vnd.oci.image.manifest.v1+json",
             "platform": {"os": "linux", "architecture": "arm64"}},
            {"digest": "sha256:att", "size": 5, "mediaType": "application/vnd.oci.image.manifest.v1+json",
             "platform": {"os": "unknown", "architecture": "unknown"}}]});
        let Child::Index(entries) = child_of(&index).unwrap() else {
            panic!("an index")
        };
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].platform.to_string(), "linux/arm64");
        assert!(child_of(&serde_json::json!({"layers": []})).is_err());
    }

    #[test]
    fn one_image_per_platform() {
        let e = |p: &str, d: &str| IndexEntry {
            platform: Platform::parse(p).unwrap(),
            digest: d.into(),
            size: 1,
            media_type: "m".into(),
        };
        let merged = merge_entries(vec![
            e("linux/amd64", "sha256:a"),
            e("linux/arm64", "sha256:b"),
            e("linux/amd64", "sha256:a"),
        ])
        .unwrap();
        assert_eq!(merged.len(), 2);
        let err = merge_entries(vec![
            e("linux/amd64", "sha256:a"),
            e("linux/amd64", "sha256:c"),
        ])
        .unwrap_err();
        assert!(err.contains("two images for linux/amd64"), "{err}");
        assert!(merge_entries(vec![]).is_err());
    }

    #[test]
    fn sources_of_an_index() {
        let repo = "127.0.0.1:5000/api";
        let d = format!("sha256:{}", "a".repeat(64));
        let cases: Vec<(String, Result<SourceRef, &str>)> = vec![
            (d.clone(), Ok(SourceRef::Digest(d.clone()))),
            (format!("{repo}@{d}"), Ok(SourceRef::Digest(d.clone()))),
            (
                format!("{repo}:v1-linux-arm64"),
                Ok(SourceRef::Tag("v1-linux-arm64".into())),
            ),
            (
                format!("127.0.0.1:5000/other@{d}"),
                Err("not in 127.0.0.1:5000/api"),
            ),
            ("sha256:abc".into(), Err("is not a digest")),
        ];
        for (source, want) in cases {
            match (parse_source(repo, &source), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{source}"),
                (Err(e), Err(want)) => assert!(e.contains(want), "{source}: {e}"),
                (got, want) => panic!("{source}: {got:?} vs {want:?}"),
            }
        }
    }
    use serde_json::json;

    #[test]
    fn platforms_parse_with_aliases_and_refuse_nonsense() {
        for (text, want) in [
            ("linux/amd64", Ok("linux/amd64")),
            ("linux/x86_64", Ok("linux/amd64")),
            ("Linux/aarch64", Ok("linux/arm64")),
            ("linux/arm64/v8", Ok("linux/arm64/v8")),
            ("linux", Err("expected os/architecture")),
            ("linux/", Err("expected os/architecture")),
            ("a/b/c/d", Err("expected os/architecture")),
        ] {
            let got = Platform::parse(text).map(|p| p.to_string());
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w, "{text}"),
                (Err(g), Err(w)) => assert!(g.contains(w), "{text}: {g}"),
                (g, w) => panic!("{text}: {g:?} vs {w:?}"),
            }
        }
        let list = Platform::parse_list("linux/amd64, linux/arm64,linux/amd64").unwrap();
        assert_eq!(list.len(), 2);
        assert!(Platform::parse_list(",").is_err());
    }

    #[test]
    fn the_task_definition_says_what_it_runs() {
        for (doc, want) in [
            (
                json!({"runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}}),
                Some("linux/arm64"),
            ),
            (
                json!({"runtimePlatform": {"cpuArchitecture": "X86_64"}}),
                Some("linux/amd64"),
            ),
            (
                json!({"requiresCompatibilities": ["FARGATE"]}),
                Some("linux/amd64"),
            ),
            (json!({"requiresCompatibilities": ["EC2"]}), None),
            (json!({}), None),
            (
                json!({"runtimePlatform": {"operatingSystemFamily": "LINUX"}}),
                None,
            ),
        ] {
            let got = task_platform(doc.as_object().unwrap()).map(|r| r.platform.to_string());
            assert_eq!(got.as_deref(), want, "{doc}");
        }
    }

    #[test]
    fn the_build_platform_comes_from_what_the_task_definitions_run() {
        let runs = |cpu: &str| {
            task_platform(
                json!({"runtimePlatform": {"cpuArchitecture": cpu}})
                    .as_object()
                    .unwrap(),
            )
        };
        let got = default_build_platform([("a", runs("ARM64")), ("b", None), ("c", runs("ARM64"))])
            .unwrap()
            .unwrap();
        assert_eq!(got.platform.to_string(), "linux/arm64");
        assert_eq!(default_build_platform([("a", None)]).unwrap(), None);
        let err =
            default_build_platform([("a", runs("X86_64")), ("b", runs("ARM64"))]).unwrap_err();
        assert!(err.contains("a runs X86_64 and b runs ARM64"), "{err}");
        assert!(err.contains("--platform linux/amd64,linux/arm64"), "{err}");
    }

    /// The index names each platform's manifest by digest and size; reading it back gives the
    /// platforms it was made from.
    #[test]
    fn an_index_lists_each_platform_and_reads_back() {
        let entry = |p: &str, d: &str, mt: &str| IndexEntry {
            platform: Platform::parse(p).unwrap(),
            digest: d.into(),
            size: 528,
            media_type: mt.into(),
        };
        let docker = "application/vnd.docker.distribution.manifest.v2+json";
        let (bytes, media_type) = render_index(&[
            entry("linux/amd64", "sha256:a", docker),
            entry("linux/arm64/v8", "sha256:b", docker),
        ]);
        assert_eq!(media_type, DOCKER_LIST);
        let index: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(index["mediaType"], DOCKER_LIST);
        assert_eq!(index["manifests"][1]["digest"], "sha256:b");
        assert_eq!(index["manifests"][1]["size"], 528);
        assert_eq!(index["manifests"][1]["platform"]["variant"], "v8");
        let Some(ImagePlatforms::Index(ps)) = manifest_platforms(&index) else {
            panic!()
        };
        assert_eq!(ps.len(), 2);
        let oci = "application/vnd.oci.image.manifest.v1+json";
        let (_, media_type) = render_index(&[entry("linux/amd64", "sha256:a", oci)]);
        assert_eq!(media_type, OCI_INDEX);
        let args = target_args(&Platform::parse("linux/arm64").unwrap());
        assert!(args.contains(&("TARGETARCH".into(), "arm64".into())));
        assert!(args.contains(&("TARGETPLATFORM".into(), "linux/arm64".into())));
    }

    #[test]
    fn manifests_give_their_platforms() {
        let index = json!({"manifests": [
            {"digest": "sha256:a", "platform": {"os": "linux", "architecture": "amd64"}},
            {"digest": "sha256:b", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"digest": "sha256:c", "platform": {"os": "unknown", "architecture": "unknown"}},
        ]});
        let Some(ImagePlatforms::Index(ps)) = manifest_platforms(&index) else {
            panic!()
        };
        assert_eq!(
            ps.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec!["linux/amd64", "linux/arm64/v8"]
        );
        let image = json!({"config": {"digest": "sha256:cfg"}, "layers": []});
        assert_eq!(
            manifest_platforms(&image),
            Some(ImagePlatforms::Config("sha256:cfg".into()))
        );
        assert_eq!(manifest_platforms(&json!({})), None);
    }

    /// The guard refuses an arm64 image for an X86_64 task definition, naming both and the fix;
    /// it accepts a match, an index holding the platform, and what it cannot tell.
    #[test]
    fn the_guard_refuses_only_an_image_that_cannot_run() {
        let x86 = task_platform(
            json!({"runtimePlatform": {"cpuArchitecture": "X86_64"}})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        let arm = |v: Option<&str>| Platform {
            os: "linux".into(),
            architecture: "arm64".into(),
            variant: v.map(str::to_owned),
        };
        let amd = Platform::parse("linux/amd64").unwrap();
        let err = check("r/api@sha256:1", &[arm(None)], "vendor0919-task", &x86).unwrap_err();
        assert_eq!(
            err.to_string(),
            "image r/api@sha256:1 is linux/arm64, and vendor0919-task runs X86_64: rebuild with --platform linux/amd64 (ecs-ship release picks it from the task definition)"
        );
        assert!(check("i", std::slice::from_ref(&amd), "f", &x86).is_ok());
        assert!(check("i", &[arm(Some("v8")), amd], "f", &x86).is_ok());
        assert!(check("i", &[], "f", &x86).is_ok());
        let arm_task = task_platform(
            json!({"runtimePlatform": {"cpuArchitecture": "ARM64"}})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        assert!(check("i", &[arm(Some("v8"))], "f", &arm_task).is_ok());
        let windows = Platform::parse("windows/amd64").unwrap();
        assert!(check("i", &[windows], "f", &x86).is_err());
    }
}
