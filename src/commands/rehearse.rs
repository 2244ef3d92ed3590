//! `ecs-ship rehearse`: the pre-release rehearsal on the developer's machine - build, render and
//! diff the task definition, run the container on the local engine as ECS would, wait until it is
//! healthy; never changes anything in AWS, and removes what it started.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, ValueEnum};

use crate::cli::shared::{BuildFlags, TaskdefArgs, parse_duration};
use crate::core::rehearsal::parse_pair;
use crate::error::{Error, Result};
use crate::flow::rehearse::{NetworkChoice, RehearsePlan};
use crate::flow::taskdef::Source;
use crate::flow::{self, Session};
use crate::output::Output;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetworkArg {
    /// Bridge with ports published on 127.0.0.1 when the engine has a bridge network, else host.
    Auto,
    Host,
    Bridge,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("taskdef").required(true).multiple(true).args(["file", "service"])))]
pub struct RehearseArgs {
    /// The task definition to rehearse (a file); with --cluster/--service too, the diff is against
    /// the revision the service runs.
    #[arg(long, value_name = "TASKDEF")]
    pub file: Option<PathBuf>,

    /// The service whose revision runs now (read-only): the source when there is no --file.
    #[arg(long, env = "ECS_SHIP_SERVICE", requires = "cluster", value_parser = crate::cli::shared::non_empty)]
    pub service: Option<String>,

    /// The cluster of --service.
    #[arg(long, env = "ECS_SHIP_CLUSTER", requires = "service", value_parser = crate::cli::shared::non_empty)]
    pub cluster: Option<String>,

    /// The container to rehearse [default: the only one].
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,

    /// Rehearse this image instead of building one from --context.
    #[arg(long, value_name = "IMAGE", conflicts_with_all = ["context", "dockerfile"])]
    pub image: Option<String>,

    /// The Dockerfile (relative to the working directory) [default: <context>/Dockerfile].
    #[arg(long, value_name = "PATH")]
    pub dockerfile: Option<PathBuf>,

    /// GET this URL until it answers 2xx, e.g. http://127.0.0.1:8080/health (besides the
    /// container's own healthCheck, if it has one).
    #[arg(long, value_name = "URL")]
    pub health_url: Option<String>,

    /// A secret's value, NAME=VALUE (repeatable); secrets are never fetched, others get a placeholder.
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    pub secrets: Vec<String>,

    /// Override an environment variable of the rehearsed container, K=V (repeatable).
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,

    /// The network to run on.
    #[arg(long, value_enum, default_value_t = NetworkArg::Auto)]
    pub network: NetworkArg,

    /// How long the container may take to become healthy.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Without a healthCheck or --health-url: how long the container must stay up.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub settle: Duration,

    #[command(flatten)]
    pub build: RehearseBuild,

    #[command(flatten)]
    pub logs: TaskdefArgs,
}

/// How to build the rehearsal image (unless --image).
#[derive(Debug, Args)]
pub struct RehearseBuild {
    /// The local repository name the rehearsal image is tagged in.
    #[arg(long, default_value = "ecs-ship-rehearsal", value_name = "REPO")]
    pub repository: String,

    #[command(flatten)]
    pub flags: BuildFlags,
}

fn pairs(what: &'static str, items: &[String]) -> Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|s| parse_pair(what, s).map_err(|e| Error::input_with(e.to_string(), e)))
        .collect()
}

impl RehearseArgs {
    fn plan(&self) -> Result<RehearsePlan> {
        let live = match (&self.cluster, &self.service) {
            (Some(cluster), Some(service)) => Some(Source::Service {
                cluster: cluster.clone(),
                service: service.clone(),
            }),
            _ => None,
        };
        let (source, running) = match (&self.file, live) {
            (Some(path), running) => (
                Source::File {
                    path: path.clone(),
                    expand_env: false,
                },
                running,
            ),
            (None, Some(live)) => (live, None),
            (None, None) => {
                return Err(Error::input(
                    "pass --file TASKDEF or --cluster and --service",
                ));
            }
        };
        let build = self.image.is_none().then(|| {
            self.build
                .flags
                .request(&self.build.repository, self.dockerfile.clone())
        });
        Ok(RehearsePlan {
            build,
            image: self.image.clone(),
            source,
            running,
            container: self.container.clone(),
            secrets: pairs("--secret", &self.secrets)?,
            env: pairs("--env", &self.env)?,
            health_url: self.health_url.clone(),
            network: match self.network {
                NetworkArg::Auto => NetworkChoice::Auto,
                NetworkArg::Host => NetworkChoice::Host,
                NetworkArg::Bridge => NetworkChoice::Bridge,
            },
            timeout: self.timeout,
            settle: self.settle,
            changes: self.logs.changes(Vec::new(), false),
        })
    }
}

pub async fn run(session: &Session, args: &RehearseArgs, out: Output) -> Result<()> {
    let rehearsed = flow::rehearse::rehearse(session, &args.plan()?).await?;
    out.result(&rehearsed.result)?;
    rehearsed.failure.map_or(Ok(()), Err)
}
