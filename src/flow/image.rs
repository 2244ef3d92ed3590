//! Images: build through the engine (tags, labels, the state file), registry credentials (ECR's
//! token or the Docker config), push with a digest verified against the registry's manifest bytes,
//! and `repo:tag` resolved to a verified digest. Shared by `build`, `push`, `digest` and `release`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use super::Session;
use crate::aws;
use crate::core::buildkit::{
    self, BuilderCaps, CacheCount, CachePlan, SecretSource, SecretSpec, TraceEvent,
};
use crate::core::image_ref::{EcrRepository, ImageRef, is_valid_tag};
use crate::core::platform::{self, ImagePlatforms, Platform};
use crate::core::registry_auth::{Credentials, docker_config_credentials};
use crate::core::tags;
use crate::docker::build::{BuildLine, BuildSpec};
use crate::docker::context::{self, ContextPlan};
use crate::docker::push::PushLine;
use crate::docker::session::{Providers, SessionError};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::registry;
use crate::state::{Built, PlatformImage, Pushed, State};

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub context: PathBuf,
    pub dockerfile: Option<PathBuf>,
    /// The repository to tag in, without tag or digest.
    pub repository: String,
    /// `K=V`, or `K` to take the value from the environment.
    pub build_args: Vec<String>,
    pub target: Option<String>,
    pub platform: Option<String>,
    /// `K=V`.
    pub labels: Vec<String>,
    pub no_cache: bool,
    pub pull: bool,
    pub tags: Vec<String>,
    /// chrono format of the UTC timestamp tag.
    pub tag_format: String,
    pub timestamp_tag: bool,
    pub git_tag: bool,
    pub builder: Builder,
    /// `--secret id=ID,src=PATH|env=VAR`.
    pub secrets: Vec<String>,
    /// `--ssh default[=SOCKET]`.
    pub ssh: Vec<String>,
    pub cache_from: Vec<String>,
    pub cache_to: Option<String>,
    /// `--cache REPO:TAG`: the best cache the builder supports, kept at REPO:TAG.
    pub cache: Option<String>,
    /// `--provenance`/`--sbom`.
    pub attestations: bool,
}

/// Which builder the engine runs the build with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Builder {
    /// The engine's BuildKit (API 1.39+), through a session of ours; the default.
    #[default]
    Buildkit,
    /// The classic builder Docker deprecated: no `RUN --mount`, no secrets, no cache import.
    Classic,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildResult {
    pub image_id: String,
    pub builder: Builder,
    /// `--platform a,b`: each platform's image (`push` pushes them and the index over them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<PlatformImage>,
    /// BuildKit: how many Dockerfile steps came from the cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheCount>,
    /// `--cache`: where the image is pushed too, for the next build's cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_ref: Option<String>,
    pub repository: String,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub revision: Option<String>,
    pub state: Option<PathBuf>,
}

impl fmt::Display for BuildResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.platforms.is_empty() {
            writeln!(f, "{}", self.image_id)?;
        }
        for p in &self.platforms {
            writeln!(f, "{} {} {}", p.platform, p.image_id, p.reference)?;
        }
        for r in &self.references {
            writeln!(f, "{r}")?;
        }
        Ok(())
    }
}

fn git(context: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(context)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn pairs(flag: &str, items: &[String], from_env: bool) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for item in items {
        let pair = match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => (k.to_owned(), v.to_owned()),
            None if from_env && !item.is_empty() => match env(item) {
                Some(v) => (item.clone(), v),
                None => {
                    warn!(
                        "--{flag} {item}: `{item}` is not set in the environment, so it is not passed (as docker build does)"
                    );
                    continue;
                }
            },
            _ => {
                return Err(Error::input(format!(
                    "invalid --{flag} `{item}`: expected K=V"
                )));
            }
        };
        out.retain(|(k, _)| *k != pair.0);
        out.push(pair);
    }
    Ok(out)
}

/// A build request checked and resolved: repository, tags, labels, arguments, context plan.
pub struct ResolvedBuild {
    pub repository: ImageRef,
    pub tags: Vec<String>,
    pub revision: Option<String>,
    pub spec: BuildSpec,
    pub plan: ContextPlan,
    pub builder: Builder,
    /// `--platform a,b`: more than one means one image per platform and an index over them.
    pub platforms: Vec<Platform>,
    pub secrets: Vec<SecretSpec>,
    /// `--ssh default`: the agent socket.
    pub ssh_agent: Option<PathBuf>,
    pub cache: CachePlan,
    created: String,
}

impl ResolvedBuild {
    /// What the build would see (context and options), to recognise an image already built from it.
    pub fn fingerprint(&self) -> Result<String> {
        let mut hasher = Sha256::new();
        hasher.update(self.plan.fingerprint()?.as_bytes());
        let mut args: Vec<_> = self.spec.build_args.iter().collect();
        args.sort();
        for (k, v) in args {
            hasher.update(format!("\0arg {k}={v}").as_bytes());
        }
        // Sorted: the spec's maps iterate in a random order per process, and a fingerprint that
        // depends on it would not recognise the same build from one run to the next.
        let mut labels: Vec<_> = self.spec.labels.iter().collect();
        labels.sort();
        for (k, v) in labels {
            if k != "org.opencontainers.image.created" {
                hasher.update(format!("\0label {k}={v}").as_bytes());
            }
        }
        let platforms: Vec<String> = self.platforms.iter().map(ToString::to_string).collect();
        hasher.update(
            format!(
                "\0target {:?}\0platform {:?}",
                self.spec.target,
                platforms.join(",")
            )
            .as_bytes(),
        );
        Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
    }
}

/// Checks a request and decides tags, labels and the context before the engine is asked.
pub fn resolve(request: &BuildRequest, now: DateTime<Utc>) -> Result<ResolvedBuild> {
    let repo = ImageRef::parse(&request.repository)
        .map_err(|e| Error::input_with("invalid --repository", e))?;
    if repo.tag.is_some() || repo.digest.is_some() {
        return Err(Error::input(format!(
            "invalid --repository `{}`: give the repository without a tag or digest, and tags with --tag",
            request.repository
        )));
    }
    let revision =
        tags::ci_revision(&env).or_else(|| git(&request.context, &["rev-parse", "HEAD"]));
    let timestamp = if request.timestamp_tag {
        Some(
            tags::timestamp_tag(now, &request.tag_format)
                .map_err(|e| Error::input_with(e.to_string(), e))?,
        )
    } else {
        None
    };
    let git_tag = if request.git_tag {
        revision.as_deref().and_then(tags::short_sha)
    } else {
        None
    };
    if request.git_tag && git_tag.is_none() {
        info!(
            "no git revision (CODEBUILD_RESOLVED_SOURCE_VERSION, GITHUB_SHA or a repository at the context): no git tag"
        );
    }
    let all_tags = tags::build_tags(timestamp, git_tag, &request.tags)
        .map_err(|e| Error::input_with(e.to_string(), e))?;
    if all_tags.is_empty() {
        return Err(Error::input(
            "no tags: keep the timestamp or git tag, or pass --tag",
        ));
    }
    let references: Vec<String> = all_tags
        .iter()
        .map(|t| format!("{}:{t}", repo.name))
        .collect();
    let created = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let source =
        tags::ci_source(&env).or_else(|| git(&request.context, &["remote", "get-url", "origin"]));
    let labels = tags::build_labels(
        &created,
        revision.as_deref(),
        source.as_deref(),
        &pairs("label", &request.labels, false)?,
    );
    if request.attestations {
        // POST /build exports to the engine's image store, which holds single images: an
        // attestation needs an image index (the containerd image store, or buildx with a
        // standalone buildkitd).
        return Err(Error::input(
            "--provenance/--sbom: the engine's builder exports single images, which cannot carry attestations (they need an image index: the containerd image store or a standalone buildkitd); build without them",
        ));
    }
    let cache = buildkit::plan_cache(
        &request.cache_from,
        request.cache_to.as_deref(),
        request.cache.as_deref(),
        // The engine's built-in BuildKit: POST /build exports the image and an inline cache only.
        BuilderCaps {
            registry_cache: false,
        },
    )
    .map_err(|e| Error::input_with(e.to_string(), e))?;
    let secrets = request
        .secrets
        .iter()
        .map(|s| buildkit::parse_secret(s).map_err(Error::input))
        .collect::<Result<Vec<_>>>()?;
    let ssh_agent = ssh_agent(&request.ssh)?;
    let platforms = match &request.platform {
        Some(text) => Platform::parse_list(text).map_err(Error::input)?,
        None => Vec::new(),
    };
    if request.builder == Builder::Classic {
        refuse_on_classic(request, &secrets, ssh_agent.is_some())?;
        if platforms.len() > 1 {
            return Err(Error::input(
                "several --platform need BuildKit, and --builder classic was asked for",
            ));
        }
    }
    let spec = BuildSpec {
        cache_from: cache.imports.clone(),
        inline_cache: cache.inline,
        references,
        build_args: pairs("build-arg", &request.build_args, true)?
            .into_iter()
            .collect::<HashMap<_, _>>(),
        labels: labels.into_iter().collect(),
        target: request.target.clone(),
        platform: match platforms.as_slice() {
            [one] => Some(one.to_string()),
            _ => None,
        },
        no_cache: request.no_cache,
        pull: request.pull,
    };
    let plan = context::plan(&request.context, request.dockerfile.as_deref())?;
    Ok(ResolvedBuild {
        repository: repo,
        tags: all_tags,
        revision,
        spec,
        plan,
        builder: request.builder,
        platforms,
        secrets,
        ssh_agent,
        cache,
        created,
    })
}

/// `--ssh default` or `--ssh default=SOCKET`: the agent socket (SSH_AUTH_SOCK by default).
fn ssh_agent(values: &[String]) -> Result<Option<PathBuf>> {
    let Some(value) = values.first() else {
        return Ok(None);
    };
    if values.len() > 1 {
        return Err(Error::input("--ssh: give it once, as --ssh default"));
    }
    let socket = match value.split_once('=') {
        Some(("default", path)) if !path.is_empty() => PathBuf::from(path),
        None if value == "default" => match env("SSH_AUTH_SOCK") {
            Some(path) => PathBuf::from(path),
            None => {
                return Err(Error::input(
                    "--ssh default: SSH_AUTH_SOCK is not set; start an agent (ssh-agent) or give --ssh default=/path/to/agent.sock",
                ));
            }
        },
        _ => {
            return Err(Error::input(format!(
                "invalid --ssh `{value}`: only the default agent is forwarded (--ssh default or --ssh default=SOCKET)"
            )));
        }
    };
    Ok(Some(socket))
}

/// What only BuildKit can do, refused up front with `--builder classic`.
fn refuse_on_classic(request: &BuildRequest, secrets: &[SecretSpec], ssh: bool) -> Result<()> {
    let mut wants = Vec::new();
    if !secrets.is_empty() {
        wants.push("--secret");
    }
    if ssh {
        wants.push("--ssh");
    }
    if !request.cache_from.is_empty() || request.cache_to.is_some() || request.cache.is_some() {
        wants.push("--cache/--cache-from/--cache-to");
    }
    if wants.is_empty() {
        return Ok(());
    }
    Err(Error::input(format!(
        "{} need BuildKit, and --builder classic was asked for: drop them or build with --builder buildkit",
        wants.join(", ")
    )))
}

/// Builds a resolved request and records the image in the state file.
pub async fn build(
    session: &Session,
    resolved: ResolvedBuild,
    fingerprint: Option<String>,
    state_path: Option<&Path>,
) -> Result<BuildResult> {
    // Found before a long build, not after it.
    if let Some(path) = state_path {
        State::check_writable(path)?;
        // A corrupt state file stops the build before it starts, not after it.
        State::load(path)?;
    }
    let mut resolved = resolved;
    if let Some(ignore) = &resolved.plan.ignore_file {
        info!("using {}", ignore.display());
    }
    let engine = session.engine().await?;
    info!(
        "building {} from {}",
        resolved.spec.references.join(", "),
        resolved.plan.dir.display()
    );
    crate::output::group_start(&format!("build {}", resolved.spec.references.join(", ")));
    let wants = Wants {
        builder: resolved.builder,
        secrets: &resolved.secrets,
        ssh_agent: resolved.ssh_agent.as_deref(),
        cache: &resolved.cache,
        repository: &resolved.repository,
    };
    let mut platforms = Vec::new();
    let built = if resolved.platforms.len() > 1 {
        build_each(
            session,
            &engine,
            resolved.plan,
            &resolved.spec,
            &resolved.platforms,
            &resolved.tags[0],
            wants,
        )
        .await
        .map(|(each, cache)| {
            let first = each[0].image_id.clone();
            platforms = each;
            (first, Builder::Buildkit, cache)
        })
    } else {
        if let [one] = resolved.platforms.as_slice() {
            with_target_args(&mut resolved.spec, one);
        }
        run_builder(session, &engine, resolved.plan, &mut resolved.spec, wants).await
    };
    crate::output::group_end();
    let (image_id, builder, cache) = built?;
    if let Some(cache) = cache {
        info!("built {image_id} with BuildKit: {cache}");
    }

    if let Some(state_path) = state_path {
        let built = Built {
            image_id: image_id.clone(),
            repository: resolved.repository.name.clone(),
            tags: resolved.tags.clone(),
            created: resolved.created.clone(),
            revision: resolved.revision.clone(),
            fingerprint,
            cache_ref: resolved.cache.push_as.clone(),
            platforms: platforms.clone(),
        };
        State::update(state_path, |state| {
            if let Some(other) = &state.build
                && other.created >= resolved.created
                && other.image_id != built.image_id
            {
                warn!(
                    "another build recorded {} in `{}` while this one ran; this build ({}) replaces it: give parallel jobs a --state each",
                    other.image_id,
                    state_path.display(),
                    built.image_id
                );
            }
            state.build = Some(built);
            state.push = None;
        })?;
    }
    Ok(BuildResult {
        image_id,
        builder,
        platforms,
        cache,
        cache_ref: resolved.cache.push_as.clone(),
        repository: resolved.repository.name,
        tags: resolved.tags,
        references: resolved.spec.references,
        revision: resolved.revision,
        state: state_path.map(Path::to_owned),
    })
}

/// A cancelled job (SIGINT/SIGTERM) ends the build, and nothing is recorded.
async fn cancelled_build() -> Error {
    let s = crate::signal::cancelled().await;
    warn!(
        "{}: the build is cancelled; nothing was recorded",
        s.error()
    );
    s.error()
}

/// Runs the build on the builder asked for; BuildKit falls back to the classic builder, saying so,
/// where the engine has none. Returns the image id, the builder that ran and BuildKit's cache count.
/// The build args BuildKit would set for `platform`, where the user did not set them.
fn with_target_args(spec: &mut BuildSpec, p: &Platform) {
    for (k, v) in platform::target_args(p) {
        spec.build_args.entry(k).or_insert(v);
    }
}

/// `--platform a,b`: one build per platform, each tagged `<repository>:<first tag>-<os>-<arch>`.
/// The cache count is the sum over the builds.
async fn build_each(
    session: &Session,
    engine: &crate::docker::Engine,
    plan: ContextPlan,
    spec: &BuildSpec,
    platforms: &[Platform],
    first_tag: &str,
    wants: Wants<'_>,
) -> Result<(Vec<PlatformImage>, Option<CacheCount>)> {
    let repository = wants.repository.name.clone();
    let mut out = Vec::new();
    let mut total = CacheCount::default();
    for p in platforms {
        info!("building for {p}");
        let mut one = spec.clone();
        one.platform = Some(p.to_string());
        let reference = format!(
            "{repository}:{}",
            super::platforms::platform_tag(first_tag, p)
        );
        one.references = vec![reference.clone()];
        with_target_args(&mut one, p);
        let (image_id, _, cache) =
            run_builder(session, engine, plan.clone(), &mut one, wants).await?;
        if let Some(c) = cache {
            total.cached += c.cached;
            total.total += c.total;
        }
        out.push(PlatformImage {
            platform: p.to_string(),
            image_id,
            reference,
        });
    }
    Ok((out, Some(total)))
}

/// What a build asks of the builder beyond the spec.
#[derive(Clone, Copy)]
struct Wants<'a> {
    builder: Builder,
    secrets: &'a [SecretSpec],
    ssh_agent: Option<&'a Path>,
    cache: &'a CachePlan,
    repository: &'a ImageRef,
}

async fn run_builder(
    session: &Session,
    engine: &crate::docker::Engine,
    plan: ContextPlan,
    spec: &mut BuildSpec,
    wants: Wants<'_>,
) -> Result<(String, Builder, Option<CacheCount>)> {
    if wants.builder == Builder::Classic {
        return classic(session, engine, plan, spec).await;
    }
    let providers = Providers {
        registries: registry_credentials(session, &wants.cache.imports).await,
        secrets: secret_values(wants.secrets)?,
        ssh_agent: wants.ssh_agent.map(Path::to_owned),
    };
    let build_session = match crate::docker::session::start(engine, providers).await {
        Ok(s) => s,
        Err(SessionError::Unsupported(status)) => {
            if !wants.secrets.is_empty() || wants.ssh_agent.is_some() {
                return Err(Error::input(format!(
                    "the engine at {} has no BuildKit (it answered {status} to /session), and --secret/--ssh need it: use an engine with BuildKit (Docker 18.09+ on Linux)",
                    engine.host
                )));
            }
            warn!(
                "the engine at {} has no BuildKit (it answered {status} to /session): building with the classic builder, so RUN --mount, COPY --chmod/--link, # syntax= and the cache flags are not available",
                engine.host
            );
            spec.cache_from.clear();
            return classic(session, engine, plan, spec).await;
        }
        Err(e) => return Err(crate::docker::session::failed(engine, e)),
    };
    if let Some(note) = &wants.cache.note {
        info!("{note}");
    }
    let network = crate::docker::buildkit::network(engine).await?;
    let mut progress = Progress::stderr(session.quiet);
    let built = crate::docker::buildkit::build(
        engine,
        plan,
        spec,
        crate::docker::buildkit::Options {
            session: &build_session,
            network: network.as_deref(),
            idle_timeout: session.idle_timeout,
        },
        cancelled_build(),
        |event| match event {
            TraceEvent::Output { .. } => progress.detail(&event.to_string()),
            TraceEvent::Done { .. } => progress.line(&event.to_string()),
            TraceEvent::Failed { name, .. } if buildkit::is_cache_import(name) => {
                progress.line(&event.to_string())
            }
            TraceEvent::Failed { name, output, .. } => {
                progress.line(&event.to_string());
                if !output.is_empty() {
                    progress.line(&format!("---- output of `{name}` ----"));
                    for line in output {
                        progress.line(&format!("  {line}"));
                    }
                    progress.line("----");
                }
            }
        },
    )
    .await;
    drop(build_session);
    let built = built.inspect_err(|_| progress.failed())?;
    progress.failed_or_done();
    Ok((built.image_id, Builder::Buildkit, Some(built.cache)))
}

/// The classic builder's build, its step lines as they come.
async fn classic(
    session: &Session,
    engine: &crate::docker::Engine,
    plan: ContextPlan,
    spec: &BuildSpec,
) -> Result<(String, Builder, Option<CacheCount>)> {
    let mut progress = Progress::stderr(session.quiet);
    let built = crate::docker::build::build(
        engine,
        plan,
        spec,
        session.idle_timeout,
        cancelled_build(),
        |line| match line {
            BuildLine::Step(l) => progress.line(l),
            BuildLine::Output(l) => progress.detail(l),
        },
    )
    .await;
    let image_id = built.inspect_err(|_| progress.failed())?;
    progress.failed_or_done();
    Ok((image_id, Builder::Classic, None))
}

/// Credentials for the registries the build imports a cache from, asked for only when there is
/// one (a plain build to ECR needs no token); a registry whose credentials cannot be had is read
/// anonymously, said once.
async fn registry_credentials(
    session: &Session,
    imports: &[String],
) -> HashMap<String, Credentials> {
    let mut out = HashMap::new();
    let mut images = Vec::new();
    for r in imports {
        match ImageRef::parse(r) {
            Ok(image) => images.push(image),
            Err(e) => warn!("--cache-from `{r}` is not an image reference ({e}): not imported"),
        }
    }
    for image in images {
        let host = registry::locate(&image).host;
        if out.contains_key(&host) {
            continue;
        }
        match credentials_for(session, &image).await {
            Ok(Access {
                credentials: Some(c),
                ..
            }) => {
                out.insert(host, c);
            }
            Ok(_) => {}
            Err(e) => warn!(
                "no credentials for registry {host} ({}): the build reads it anonymously",
                e.chain()
            ),
        }
    }
    out
}

/// Each `--secret`'s value, read before the build and registered for masking; a missing file or
/// variable is named.
fn secret_values(secrets: &[SecretSpec]) -> Result<HashMap<String, Vec<u8>>> {
    let mut out = HashMap::new();
    for secret in secrets {
        let value = match &secret.source {
            SecretSource::File(path) => std::fs::read(path).map_err(|e| {
                Error::input_with(
                    format!(
                        "--secret id={}: cannot read `{}`",
                        secret.id,
                        path.display()
                    ),
                    e,
                )
            })?,
            SecretSource::Env(var) => std::env::var_os(var)
                .map(|v| v.into_encoded_bytes())
                .ok_or_else(|| {
                    Error::input(format!(
                        "--secret id={}: the variable `{var}` is not set",
                        secret.id
                    ))
                })?,
        };
        let text = String::from_utf8_lossy(&value);
        crate::redact::register(&text);
        for line in text.lines() {
            crate::redact::register(line);
        }
        out.insert(secret.id.clone(), value);
    }
    Ok(out)
}

/// Credentials from the Docker config (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`).
pub fn docker_config_for(host: &str) -> Result<Option<Credentials>> {
    let path = match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => PathBuf::from(dir).join("config.json"),
        None => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(".docker/config.json"),
            None => return Ok(None),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::input_with(
                format!("cannot read the Docker config `{}`", path.display()),
                e,
            ));
        }
    };
    let config: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Error::input_with(
            format!("the Docker config `{}` is not valid JSON", path.display()),
            e,
        )
    })?;
    let credentials = docker_config_credentials(&config, host).map_err(Error::input)?;
    if let Some(c) = &credentials {
        use base64::Engine as _;
        crate::redact::register(&c.password);
        crate::redact::register(
            &base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", c.username, c.password)),
        );
    }
    Ok(credentials)
}

/// What the engine and the registry API get to reach an image's registry.
pub struct Access {
    pub credentials: Option<Credentials>,
    /// The server address the credentials are for, as the engine wants it.
    pub server: String,
    /// For ECR: the account the token was issued for.
    pub token_account: Option<String>,
}

/// Registry credentials for `image`: ECR's token for ECR, else the Docker config, else none.
pub async fn credentials_for(session: &Session, image: &ImageRef) -> Result<Access> {
    let loc = registry::locate(image);
    if let Some(repo) = image.ecr() {
        let auth = aws::ecr::authorization(session.aws().await?, &repo).await?;
        let account = auth
            .proxy_endpoint
            .trim_start_matches("https://")
            .split('.')
            .next()
            .map(str::to_owned);
        return Ok(Access {
            credentials: Some(auth.credentials),
            server: format!("https://{}", loc.host),
            token_account: account,
        });
    }
    Ok(Access {
        credentials: docker_config_for(&loc.host)?,
        server: loc.host,
        token_account: None,
    })
}

/// A registry's refusal of ECR credentials, saying whose token it was: GetAuthorizationToken issues
/// one for the caller's account, which another account's registry accepts only when its repository
/// policy lets the caller in.
fn explain_refusal(e: Error, repo: &ImageRef, token_for: Option<&str>) -> Error {
    let refused = |source: &Option<crate::error::BoxError>| {
        source
            .as_ref()
            .is_some_and(|s| s.is::<crate::docker::push::Refused>())
    };
    match (e, repo.ecr()) {
        (Error::Remote { message, source }, Some(ecr)) if refused(&source) => Error::Remote {
            message: format!(
                "{message}; the credentials were ECR's token for account {}, as GetAuthorizationToken issues it to this identity: to push to account {}, that repository's policy must allow this identity (ecr:InitiateLayerUpload, ecr:PutImage...)",
                token_for.unwrap_or("(unknown)"),
                ecr.registry_id
            ),
            source,
        },
        (e, _) => e,
    }
}

/// `image` (repo:tag or repo@digest) resolved to its digest, verified against the manifest bytes.
pub async fn verified_digest(session: &Session, image: &ImageRef) -> Result<String> {
    let reference = image
        .digest
        .clone()
        .or_else(|| image.tag.clone())
        .unwrap_or_else(|| "latest".to_owned());
    match image.ecr() {
        Some(repo) if image.digest.is_none() => {
            aws::ecr::verified_digest(session.aws().await?, &repo, &reference).await
        }
        // ECR by digest: ask ECR (BatchGetImage), never the registry endpoint directly.
        Some(repo) => {
            let manifest =
                aws::ecr::manifest_by_digest(session.aws().await?, &repo, &reference).await?;
            let hashed = crate::core::registry_auth::manifest_digest(manifest.as_bytes());
            if hashed != reference {
                return Err(Error::remote(format!(
                    "ECR holds a manifest for {image} that hashes to {hashed}: refusing an unverified digest"
                )));
            }
            Ok(hashed)
        }
        _ => {
            let creds = credentials_for(session, image).await?.credentials;
            Ok(registry::fetch_manifest(image, &reference, creds.as_ref())
                .await?
                .digest)
        }
    }
}

/// The config digest (the image id) of a single-image manifest; `None` for an index.
async fn manifest_config(
    session: &Session,
    image: &ImageRef,
    creds: Option<&Credentials>,
) -> Result<Option<String>> {
    let digest = image.digest.clone().unwrap_or_default();
    let bytes = match image.ecr() {
        Some(repo) => aws::ecr::manifest_by_digest(session.aws().await?, &repo, &digest)
            .await?
            .into_bytes(),
        None => registry::fetch_manifest(image, &digest, creds).await?.bytes,
    };
    let manifest: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::remote_with(format!("the manifest of {image} is not JSON"), e))?;
    Ok(manifest
        .get("config")
        .and_then(|c| c.get("digest"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned))
}

/// The platform to build for when --platform is not given: what the task definitions (label,
/// document) run, said once; `None` where they do not say (EC2 without a runtimePlatform), an
/// input error where they run different platforms.
pub fn platform_for_tasks<'a>(
    tasks: impl IntoIterator<Item = (&'a str, &'a crate::core::taskdef::TaskDef)>,
) -> Result<Option<String>> {
    let runs = platform::default_build_platform(
        tasks
            .into_iter()
            .map(|(label, document)| (label, platform::task_platform(document))),
    )
    .map_err(Error::input)?;
    Ok(runs.map(|r| {
        info!(
            "building for {} (the task definition runs {}; --platform overrides)",
            r.platform, r.said
        );
        r.platform.to_string()
    }))
}

/// The platforms an image is for, read through its registry: an image's config (os/architecture),
/// or the entries of an index.
pub async fn image_platforms(session: &Session, image: &ImageRef) -> Result<Vec<Platform>> {
    let reference = image
        .digest
        .clone()
        .or_else(|| image.tag.clone())
        .unwrap_or_else(|| "latest".to_owned());
    let creds = credentials_for(session, image).await?.credentials;
    let bytes = match (image.ecr(), &image.digest) {
        (Some(repo), Some(digest)) => {
            aws::ecr::manifest_by_digest(session.aws().await?, &repo, digest)
                .await?
                .into_bytes()
        }
        _ => {
            registry::fetch_manifest(image, &reference, creds.as_ref())
                .await?
                .bytes
        }
    };
    let manifest: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::remote_with(format!("the manifest of {image} is not JSON"), e))?;
    match platform::manifest_platforms(&manifest) {
        Some(ImagePlatforms::Index(platforms)) => Ok(platforms),
        Some(ImagePlatforms::Config(digest)) => {
            let config = registry::fetch_blob(image, &digest, creds.as_ref()).await?;
            let config: serde_json::Value = serde_json::from_slice(&config)
                .map_err(|e| Error::remote_with(format!("the config of {image} is not JSON"), e))?;
            Ok(platform::config_platform(&config).into_iter().collect())
        }
        None => Ok(Vec::new()),
    }
}

/// Whether the ECR repository exists (a read only, for a dry run's "would create").
pub async fn repository_exists(session: &Session, repo: &EcrRepository) -> Result<bool> {
    Ok(aws::ecr::find_repository(session.aws().await?, repo)
        .await?
        .is_some())
}

/// What to push.
#[derive(Debug, Clone, Default)]
pub struct PushRequest {
    /// The repository [default: the build's].
    pub repository: Option<String>,
    /// The tags [default: every tag of the build].
    pub tags: Vec<String>,
    pub create_repository: bool,
    pub scan_on_push: bool,
    pub immutable_tags: bool,
    /// Attempts per tag on transient registry failures.
    pub attempts: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct PushResult {
    pub repository: String,
    pub tags: Vec<String>,
    pub digest: String,
    /// `repository@digest`: what to deploy.
    pub image: String,
    pub state: PathBuf,
    /// Why the state file was not written, when the push itself worked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_error: Option<String>,
}

impl fmt::Display for PushResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.image)
    }
}

/// Pushes the recorded build's image under every requested tag, verifies the digest against the
/// registry and records `repository@digest` in the state file.
pub async fn push(
    session: &Session,
    request: &PushRequest,
    state_path: &Path,
) -> Result<PushResult> {
    push_recorded(session, request, state_path, true).await
}

/// The image the state file records, pushed to another repository (one target's of several) as
/// `push` does, verified, without recording that push: the state keeps the build's own push, so a
/// re-run still finds what it built.
pub async fn push_copy(
    session: &Session,
    request: &PushRequest,
    state_path: &Path,
) -> Result<PushResult> {
    push_recorded(session, request, state_path, false).await
}

async fn push_recorded(
    session: &Session,
    request: &PushRequest,
    state_path: &Path,
    record: bool,
) -> Result<PushResult> {
    if record {
        State::check_writable(state_path)?;
    }
    let built = State::load(state_path)?.build;
    let (repo, tags) = push_target(request, built.as_ref(), state_path)?;
    if request.create_repository {
        create_repository(session, &repo, request).await?;
    }
    let several = built.as_ref().filter(|b| b.platforms.len() > 1);
    if let Some(b) = &built
        && several.is_none()
    {
        refuse_immutable_overwrite(session, &repo, &tags, b).await?;
    }
    let access = credentials_for(session, &repo).await?;
    let engine = session.engine().await?;
    let digest = if let Some(b) = several {
        super::platforms::push_index(
            session,
            &engine,
            &repo,
            &tags,
            &b.platforms,
            &access,
            request,
        )
        .await?
    } else {
        // The recorded image, under every requested repository:tag - tagged from its id every
        // time, so a tag another build moved since is pointed back at the image this state recorded.
        if let Some(b) = &built {
            for tag in &tags {
                engine.tag(&b.image_id, &repo.name, tag).await?;
            }
        }
        let digest = push_tags(session, &engine, &repo, &tags, &access, request).await?;
        confirm(session, &repo, &tags, &digest, built.as_ref(), &access).await?;
        digest
    };
    if let Some(b) = &built
        && let Some(cache_ref) = &b.cache_ref
    {
        push_cache_ref(session, &engine, &b.image_id, cache_ref, request).await;
    }
    let image = format!("{}@{digest}", repo.name);
    let pushed = Pushed {
        repository: repo.name.clone(),
        tags: tags.clone(),
        digest: digest.clone(),
        image: image.clone(),
    };
    let saved = if !record {
        Ok(())
    } else {
        State::update(state_path, |state| {
            if state.build.as_ref().map(|b| &b.image_id) != built.as_ref().map(|b| &b.image_id) {
                warn!(
                    "another build recorded itself in `{}` during this push; the push of {image} is recorded beside it",
                    state_path.display()
                );
            }
            state.push = Some(pushed);
        })
    };
    info!("pushed {image}");
    Ok(PushResult {
        repository: repo.name,
        tags,
        digest,
        image,
        state: state_path.to_owned(),
        state_error: saved.err().map(|e| e.chain().to_string()),
    })
}

/// `--cache REPO:TAG` with an inline cache: the image pushed there too, for the next build on a
/// fresh runner to import its cache from. A failure costs the next build its cache, not this
/// release: said, not fatal.
async fn push_cache_ref(
    session: &Session,
    engine: &crate::docker::Engine,
    image_id: &str,
    cache_ref: &str,
    request: &PushRequest,
) {
    let pushed = async {
        let image = ImageRef::parse(cache_ref)
            .map_err(|e| Error::input_with(format!("invalid --cache `{cache_ref}`"), e))?;
        let tag = image.tag.clone().unwrap_or_else(|| "latest".to_owned());
        let access = credentials_for(session, &image).await?;
        engine.tag(image_id, &image.name, &tag).await?;
        push_tags(session, engine, &image, &[tag], &access, request).await
    };
    match pushed.await {
        Ok(digest) => info!("pushed the build cache as {cache_ref} ({digest})"),
        Err(e) => warn!(
            "the build cache was not pushed as {cache_ref}: {}; the next build starts without it",
            e.chain()
        ),
    }
}

/// The repository (no tag, no digest) and the valid tags to push: the request's, else the build's.
fn push_target(
    request: &PushRequest,
    built: Option<&Built>,
    state_path: &Path,
) -> Result<(ImageRef, Vec<String>)> {
    let repository = request
        .repository
        .clone()
        .or_else(|| built.map(|b| b.repository.clone()))
        .ok_or_else(|| {
            Error::input(format!(
                "nothing to push: no build recorded in `{}`; run `ecs-ship build` first, or pass --repository and --tag",
                state_path.display()
            ))
        })?;
    let repo =
        ImageRef::parse(&repository).map_err(|e| Error::input_with("invalid --repository", e))?;
    if repo.tag.is_some() || repo.digest.is_some() {
        return Err(Error::input(format!(
            "invalid --repository `{repository}`: no tag or digest here; use --tag"
        )));
    }
    let tags = if request.tags.is_empty() {
        built.map(|b| b.tags.clone()).unwrap_or_default()
    } else {
        request.tags.clone()
    };
    if tags.is_empty() {
        return Err(Error::input("no tags to push: pass --tag"));
    }
    if let Some(t) = tags.iter().find(|t| !is_valid_tag(t)) {
        return Err(Error::input(format!("invalid tag `{t}`")));
    }
    Ok((repo, tags))
}

/// `--create-repository`: the ECR repository, created unless it exists.
async fn create_repository(
    session: &Session,
    repo: &ImageRef,
    request: &PushRequest,
) -> Result<()> {
    let Some(ecr) = repo.ecr() else {
        return Err(Error::input(format!(
            "--create-repository creates ECR repositories, and `{}` is not one",
            repo.name
        )));
    };
    let aws = session.aws().await?;
    if aws::ecr::ensure_repository(aws, &ecr, request.scan_on_push, request.immutable_tags).await? {
        info!("created ECR repository {}", ecr.name);
    }
    Ok(())
}

/// An ECR repository with immutable tags refuses to move a tag that names another image: said
/// before anything is uploaded, naming the setting (DescribeRepositories' imageTagMutability,
/// https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-tag-mutability.html).
async fn refuse_immutable_overwrite(
    session: &Session,
    repo: &ImageRef,
    tags: &[String],
    built: &Built,
) -> Result<()> {
    let Some(ecr) = repo.ecr() else {
        return Ok(());
    };
    let aws = session.aws().await?;
    let Some(info) = aws::ecr::find_repository(aws, &ecr).await? else {
        return Ok(());
    };
    if !info.tag_mutability.starts_with("IMMUTABLE") {
        return Ok(());
    }
    for tag in tags {
        let Some(digest) = aws::ecr::find_tag(aws, &ecr, tag).await? else {
            continue;
        };
        let config = manifest_config(session, &repo.pinned(&digest), None).await?;
        if config.as_deref() != Some(built.image_id.as_str()) {
            return Err(Error::input(format!(
                "{}:{tag} already names {digest}, another image, and the repository's tags are immutable (imageTagMutability {}): push under a new tag (the timestamp tag is new every run; --tag names others) or make the repository's tags mutable",
                repo.name, info.tag_mutability
            )));
        }
    }
    Ok(())
}

/// Each tag pushed through the engine; the one digest they all got.
pub(super) async fn push_tags(
    session: &Session,
    engine: &crate::docker::Engine,
    repo: &ImageRef,
    tags: &[String],
    access: &Access,
    request: &PushRequest,
) -> Result<String> {
    let mut progress = Progress::stderr(session.quiet);
    let mut digest: Option<String> = None;
    for tag in tags {
        info!("pushing {}:{tag}", repo.name);
        let pushed = tokio::select! {
            r = crate::docker::push::push(
                engine,
                &repo.name,
                tag,
                access.credentials.as_ref(),
                &access.server,
                crate::docker::push::PushOptions {
                    attempts: request.attempts.max(1),
                    idle_timeout: session.idle_timeout,
                },
                |line| match line {
                    PushLine::Layer { id, state, bytes } => progress.layer(id, state, bytes),
                    PushLine::Info(text) => progress.line(text),
                },
            ) => r,
            s = crate::signal::cancelled() => {
                warn!("{}: the push of {}:{tag} is aborted; the state file is unchanged", s.error(), repo.name);
                Err(s.error())
            }
        };
        progress.end_layers();
        let pushed =
            pushed.map_err(|e| explain_refusal(e, repo, access.token_account.as_deref()))?;
        match &digest {
            Some(d) if *d != pushed => {
                return Err(Error::remote(format!(
                    "{}:{tag} was pushed as {pushed}, but the other tags as {d}",
                    repo.name
                )));
            }
            _ => digest = Some(pushed),
        }
    }
    digest.ok_or_else(|| Error::input("no tags to push: pass --tag"))
}

/// The registry holds `digest` under the first tag, by the bytes of the manifest, and it is the
/// recorded build's image (its config is the image id).
async fn confirm(
    session: &Session,
    repo: &ImageRef,
    tags: &[String],
    digest: &str,
    built: Option<&Built>,
    access: &Access,
) -> Result<()> {
    let first = repo.with_tag(&tags[0]);
    let confirmed = verified_digest(session, &first).await?;
    if confirmed != digest {
        return Err(Error::remote(format!(
            "the push reported {digest} for {first}, but the registry holds {confirmed}: refusing to record either"
        )));
    }
    if let Some(b) = built
        && let Some(config) =
            manifest_config(session, &repo.pinned(digest), access.credentials.as_ref()).await?
        && config != b.image_id
    {
        return Err(Error::remote(format!(
            "the registry holds {}@{digest} for image {config}, not the recorded build {}: refusing to record it (another build moved the tag? build again)",
            repo.name, b.image_id
        )));
    }
    Ok(())
}

impl crate::output::Report for BuildResult {
    fn outputs(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("image-id", self.image_id.clone())];
        if let Some(tag) = self.tags.first() {
            out.push(("image-tag", tag.clone()));
        }
        if let Some(reference) = self.references.first() {
            out.push(("image", reference.clone()));
        }
        out
    }
}

impl crate::output::Report for PushResult {
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn request(context: &Path, labels: Vec<String>) -> BuildRequest {
        BuildRequest {
            context: context.to_owned(),
            dockerfile: None,
            repository: "127.0.0.1:15000/api".into(),
            build_args: vec!["B=2".into(), "A=1".into(), "C=3".into()],
            target: None,
            platform: None,
            labels,
            no_cache: false,
            pull: false,
            tags: vec!["t".into()],
            tag_format: "%Y%m%d%H%M".into(),
            timestamp_tag: true,
            git_tag: false,
            builder: Builder::Buildkit,
            secrets: vec![],
            ssh: vec![],
            cache_from: vec![],
            cache_to: None,
            cache: None,
            attestations: false,
        }
    }

    /// The same context and options give the same fingerprint in every run, whatever order the
    /// labels and build args come in and whenever it runs; a changed label or file changes it.
    #[test]
    fn fingerprints_are_stable_across_runs_and_orders() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM busybox:stable\n").unwrap();
        let labels: Vec<String> = (0..16).map(|i| format!("l{i}=v{i}")).collect();
        let mut reversed = labels.clone();
        reversed.reverse();
        let at = |minute| Utc.with_ymd_and_hms(2026, 11, 23, 16, minute, 0).unwrap();
        let fingerprint = |labels: &[String], minute| {
            resolve(&request(dir.path(), labels.to_vec()), at(minute))
                .unwrap()
                .fingerprint()
                .unwrap()
        };
        let first = fingerprint(&labels, 23);
        for _ in 0..8 {
            assert_eq!(fingerprint(&labels, 24), first);
            assert_eq!(fingerprint(&reversed, 25), first);
        }
        let mut changed = labels.clone();
        changed[3] = "l3=other".into();
        assert_ne!(fingerprint(&changed, 23), first);
        std::fs::write(dir.path().join("app.txt"), "x").unwrap();
        assert_ne!(fingerprint(&labels, 23), first);
    }
}
