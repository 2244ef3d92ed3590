//! `ecs-ship build`: the image built through the Docker Engine API, tagged with the run's UTC
//! timestamp, the short git sha and any --tag, labelled (OCI), and recorded in the state file.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::process::Command;

use chrono::{SecondsFormat, Utc};
use clap::Args;
use serde::Serialize;
use tracing::{info, warn};

use crate::cli::GlobalArgs;
use crate::core::image_ref::ImageRef;
use crate::core::tags;
use crate::docker::build::{BuildLine, BuildSpec};
use crate::docker::{self, context};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::progress::Progress;
use crate::state::{Built, State, StateArgs};

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The build context directory.
    #[arg(
        long,
        env = "ECS_SHIP_CONTEXT",
        value_name = "DIR",
        default_value = "."
    )]
    pub context: PathBuf,

    /// The repository to tag the image in (no tag), e.g. 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/api.
    #[arg(long, env = "ECS_SHIP_REPOSITORY", value_name = "REPO")]
    pub repository: String,

    /// The Dockerfile (relative to the working directory) [default: <context>/Dockerfile].
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub dockerfile: Option<PathBuf>,

    /// A build argument: K=V, or K to take its value from the environment (repeatable).
    #[arg(long = "build-arg", value_name = "K[=V]")]
    pub build_args: Vec<String>,

    /// The Dockerfile stage to build.
    #[arg(long)]
    pub target: Option<String>,

    /// The platform to build for, e.g. linux/amd64 (match the task's runtimePlatform).
    #[arg(long, env = "ECS_SHIP_PLATFORM")]
    pub platform: Option<String>,

    /// An image label K=V (repeatable); overrides the automatic OCI labels.
    #[arg(long = "label", value_name = "K=V")]
    pub labels: Vec<String>,

    /// Build without the layer cache.
    #[arg(long)]
    pub no_cache: bool,

    /// Always pull a newer base image.
    #[arg(long)]
    pub pull: bool,

    /// Another tag (repeatable), e.g. latest.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,

    /// The chrono format of the UTC timestamp tag.
    #[arg(long, env = "ECS_SHIP_TAG_FORMAT", default_value = "%Y%m%d%H%M")]
    pub tag_format: String,

    /// No timestamp tag.
    #[arg(long)]
    pub no_timestamp_tag: bool,

    /// No short git sha tag.
    #[arg(long)]
    pub no_git_tag: bool,

    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Serialize)]
pub struct BuildResult {
    pub image_id: String,
    pub repository: String,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub revision: Option<String>,
    pub state: PathBuf,
}

impl fmt::Display for BuildResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.image_id)?;
        for r in &self.references {
            writeln!(f, "{r}")?;
        }
        Ok(())
    }
}

fn git(context: &std::path::Path, args: &[&str]) -> Option<String> {
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

fn pairs(flag: &str, items: &[String], from_env: bool) -> Result<HashMap<String, String>> {
    let mut map = HashMap::new();
    for item in items {
        match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                map.insert(k.to_owned(), v.to_owned());
            }
            None if from_env && !item.is_empty() => match env(item) {
                Some(v) => {
                    map.insert(item.clone(), v);
                }
                None => warn!(
                    "--{flag} {item}: `{item}` is not set in the environment, so it is not passed (as docker build does)"
                ),
            },
            _ => {
                return Err(Error::input(format!(
                    "invalid --{flag} `{item}`: expected K=V"
                )));
            }
        }
    }
    Ok(map)
}

pub async fn run(global: &GlobalArgs, args: &BuildArgs, out: Output) -> Result<()> {
    let now = Utc::now();
    let repo = ImageRef::parse(&args.repository)
        .map_err(|e| Error::input(format!("invalid --repository: {e}")))?;
    if repo.tag.is_some() || repo.digest.is_some() {
        return Err(Error::input(format!(
            "invalid --repository `{}`: give the repository without a tag or digest, and tags with --tag",
            args.repository
        )));
    }
    let revision = tags::ci_revision(&env).or_else(|| git(&args.context, &["rev-parse", "HEAD"]));
    let timestamp = if args.no_timestamp_tag {
        None
    } else {
        Some(tags::timestamp_tag(now, &args.tag_format).map_err(|e| Error::input(e.to_string()))?)
    };
    let git_tag = if args.no_git_tag {
        None
    } else {
        revision.as_deref().and_then(tags::short_sha)
    };
    if !args.no_git_tag && git_tag.is_none() {
        info!(
            "no git revision (CODEBUILD_RESOLVED_SOURCE_VERSION, GITHUB_SHA or a repository at the context): no git tag"
        );
    }
    let all_tags = tags::build_tags(timestamp, git_tag, &args.tags)
        .map_err(|e| Error::input(e.to_string()))?;
    if all_tags.is_empty() {
        return Err(Error::input(
            "no tags: keep the timestamp or git tag, or pass --tag",
        ));
    }
    let references: Vec<String> = all_tags
        .iter()
        .map(|t| format!("{}:{t}", repo.name))
        .collect();

    let mut labels = HashMap::from([(
        "org.opencontainers.image.created".to_owned(),
        now.to_rfc3339_opts(SecondsFormat::Secs, true),
    )]);
    if let Some(rev) = &revision {
        labels.insert("org.opencontainers.image.revision".into(), rev.clone());
    }
    let source = match (env("GITHUB_SERVER_URL"), env("GITHUB_REPOSITORY")) {
        (Some(server), Some(repo)) => Some(format!("{server}/{repo}")),
        _ => env("CODEBUILD_SOURCE_REPO_URL")
            .or_else(|| git(&args.context, &["remote", "get-url", "origin"])),
    };
    if let Some(source) = source.filter(|s| !s.contains('@')) {
        // A URL with credentials in it (https://user:token@host) never goes into a label.
        labels.insert("org.opencontainers.image.source".into(), source);
    }
    labels.extend(pairs("label", &args.labels, false)?);
    let spec = BuildSpec {
        references: references.clone(),
        build_args: pairs("build-arg", &args.build_args, true)?,
        labels,
        target: args.target.clone(),
        platform: args.platform.clone(),
        no_cache: args.no_cache,
        pull: args.pull,
    };

    let plan = context::plan(&args.context, args.dockerfile.as_deref())?;
    if let Some(ignore) = &plan.ignore_file {
        info!("using {}", ignore.display());
    }
    let engine = docker::connect(global.docker_host.as_deref(), docker::LONG_TIMEOUT).await?;
    info!(
        "building {} from {}",
        references.join(", "),
        plan.dir.display()
    );
    let mut progress = Progress::stderr(global.quiet);
    let built = docker::build::build(&engine, plan, &spec, |line| match line {
        BuildLine::Step(l) => progress.line(l),
        BuildLine::Output(l) => progress.detail(l),
    })
    .await;
    let image_id = built.inspect_err(|_| progress.failed())?;
    progress.failed_or_done();

    let mut state = State::load(&args.state.path).unwrap_or_default();
    state.build = Some(Built {
        image_id: image_id.clone(),
        repository: repo.name.clone(),
        tags: all_tags.clone(),
        created: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        revision: revision.clone(),
    });
    state.push = None;
    state.save(&args.state.path)?;
    out.result(&BuildResult {
        image_id,
        repository: repo.name,
        tags: all_tags,
        references,
        revision,
        state: args.state.path.clone(),
    })
}
