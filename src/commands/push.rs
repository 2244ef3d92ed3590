//! `ecs-ship push`: push every tag of the build (from the state file) to ECR or any registry, then
//! resolve and verify the digest and record `repository@sha256:...`.

use std::fmt;
use std::path::PathBuf;

use bollard::query_parameters::TagImageOptions;
use clap::Args;
use serde::Serialize;
use tracing::info;

use crate::aws::{self, Aws};
use crate::cli::GlobalArgs;
use crate::core::image_ref::ImageRef;
use crate::core::registry_auth::{Credentials, docker_config_credentials};
use crate::docker;
use crate::docker::push::PushLine;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::progress::Progress;
use crate::registry;
use crate::state::{Pushed, State, StateArgs};

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push to this repository [default: the one `build` used].
    #[arg(long, env = "ECS_SHIP_REPOSITORY", value_name = "REPO")]
    pub repository: Option<String>,

    /// Push these tags [default: every tag of the build] (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,

    /// Create the ECR repository if it does not exist.
    #[arg(long)]
    pub create_repository: bool,

    /// With --create-repository: scan images on push.
    #[arg(long, requires = "create_repository")]
    pub scan_on_push: bool,

    /// With --create-repository: make tags immutable.
    #[arg(long, requires = "create_repository")]
    pub immutable_tags: bool,

    /// Attempts per tag when the registry fails transiently (connection reset, 5xx).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub attempts: u32,

    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Serialize)]
pub struct PushResult {
    pub repository: String,
    pub tags: Vec<String>,
    pub digest: String,
    /// `repository@digest`: what to deploy.
    pub image: String,
    pub state: PathBuf,
}

impl fmt::Display for PushResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.image)
    }
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
    docker_config_credentials(&config, host).map_err(Error::input)
}

/// Registry credentials for `image`: ECR's token for ECR, else the Docker config, else none.
pub async fn credentials_for(
    global: &GlobalArgs,
    image: &ImageRef,
    aws: &mut Option<Aws>,
) -> Result<(Option<Credentials>, String)> {
    let loc = registry::locate(image);
    if let Some(repo) = image.ecr() {
        if aws.is_none() {
            *aws = Some(Aws::load(global).await?);
        }
        let creds = aws::ecr::authorization(aws.as_ref().expect("loaded above"), &repo).await?;
        return Ok((Some(creds), format!("https://{}", loc.host)));
    }
    Ok((docker_config_for(&loc.host)?, loc.host))
}

pub async fn run(global: &GlobalArgs, args: &PushArgs, out: Output) -> Result<()> {
    let state_path = &args.state.path;
    let mut state = State::load(state_path)?;
    let built = state.build.clone();
    let repository = args
        .repository
        .clone()
        .or_else(|| built.as_ref().map(|b| b.repository.clone()))
        .ok_or_else(|| {
            Error::input(format!(
                "nothing to push: no build recorded in `{}`; run `ecs-ship build` first, or pass --repository and --tag",
                state_path.display()
            ))
        })?;
    let repo = ImageRef::parse(&repository)
        .map_err(|e| Error::input(format!("invalid --repository: {e}")))?;
    if repo.tag.is_some() || repo.digest.is_some() {
        return Err(Error::input(format!(
            "invalid --repository `{repository}`: no tag or digest here; use --tag"
        )));
    }
    let tags = if args.tags.is_empty() {
        built.as_ref().map(|b| b.tags.clone()).unwrap_or_default()
    } else {
        args.tags.clone()
    };
    if tags.is_empty() {
        return Err(Error::input("no tags to push: pass --tag"));
    }
    for t in &tags {
        if !crate::core::image_ref::is_valid_tag(t) {
            return Err(Error::input(format!("invalid tag `{t}`")));
        }
    }

    let mut aws = None;
    if args.create_repository {
        let Some(ecr) = repo.ecr() else {
            return Err(Error::input(format!(
                "--create-repository creates ECR repositories, and `{}` is not one",
                repo.name
            )));
        };
        aws = Some(Aws::load(global).await?);
        if aws::ecr::ensure_repository(
            aws.as_ref().expect("loaded"),
            &ecr,
            args.scan_on_push,
            args.immutable_tags,
        )
        .await?
        {
            info!("created ECR repository {}", ecr.name);
        }
    }
    let (creds, server) = credentials_for(global, &repo, &mut aws).await?;
    let engine = docker::connect(global.docker_host.as_deref(), docker::LONG_TIMEOUT).await?;

    // The built image, under every requested repository:tag.
    if let Some(b) = &built {
        for tag in &tags {
            if b.repository != repo.name || !b.tags.contains(tag) {
                engine
                    .docker
                    .tag_image(
                        &b.image_id,
                        Some(TagImageOptions {
                            repo: Some(repo.name.clone()),
                            tag: Some(tag.clone()),
                        }),
                    )
                    .await
                    .map_err(|e| {
                        Error::remote_with(
                            format!("failed to tag {} as {}:{tag}", b.image_id, repo.name),
                            e,
                        )
                    })?;
            }
        }
    }

    let mut progress = Progress::stderr(global.quiet);
    let mut digest: Option<String> = None;
    for tag in &tags {
        info!("pushing {}:{tag}", repo.name);
        let pushed = docker::push::push(
            &engine,
            &repo.name,
            tag,
            creds.as_ref(),
            &server,
            args.attempts,
            |line| match line {
                PushLine::Layer { id, state, bytes } => progress.layer(id, state, bytes),
                PushLine::Info(text) => progress.line(text),
            },
        )
        .await;
        progress.end_layers();
        let pushed = pushed?;
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
    let digest = digest.expect("at least one tag was pushed");

    // Confirm against the registry itself, by the bytes of the manifest.
    let first = &tags[0];
    let confirmed = match repo.ecr() {
        Some(ecr) => {
            aws::ecr::verified_digest(
                aws.as_ref().expect("loaded for ECR credentials"),
                &ecr,
                first,
            )
            .await?
        }
        None => {
            registry::fetch_manifest(&repo, first, creds.as_ref())
                .await?
                .digest
        }
    };
    if confirmed != digest {
        return Err(Error::remote(format!(
            "the push reported {digest} for {}:{first}, but the registry holds {confirmed}: refusing to record either",
            repo.name
        )));
    }
    let image = format!("{}@{digest}", repo.name);
    state.push = Some(Pushed {
        repository: repo.name.clone(),
        tags: tags.clone(),
        digest: digest.clone(),
        image: image.clone(),
    });
    state.save(state_path)?;
    info!("pushed {image}");
    out.result(&PushResult {
        repository: repo.name,
        tags,
        digest,
        image,
        state: state_path.clone(),
    })
}
