//! `ecs-ship release`: build -> push (verified digest) -> imagedefinitions.json -> task definition
//! (image pinned by digest, logs guaranteed) -> update the service -> wait (-> verify), one line per
//! step and a summary; `--no-deploy` stops after the artifacts for a CodePipeline that deploys.

use std::path::PathBuf;

use clap::{ArgGroup, Args};

use crate::cli::shared::{
    BuildFlags, DeployFlags, OverrideArgs, OverrideSourceArgs, PushFlags, RegisterFlags,
    RolloutArgs, StateArgs, TaskdefArgs, VerifyArgs, WaitFlags,
};
use crate::core::task::split_command;
use crate::core::taskdef::ImageSpec;
use crate::error::Error;
use crate::error::Result;
use crate::flow::release::{BeforeDeploy, ReleasePlan};
use crate::flow::services::RollbackScope;
use crate::flow::{self, Session};
use crate::output::Output;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("override").multiple(false)))]
pub struct ReleaseArgs {
    /// The repository to push to (no tag), e.g. 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/api.
    #[arg(long, env = "ECS_SHIP_REPOSITORY", value_name = "REPO")]
    pub repository: String,

    /// The service's cluster.
    #[arg(long, env = "ECS_SHIP_CLUSTER", required_unless_present = "no_deploy", value_parser = crate::cli::shared::non_empty)]
    pub cluster: Option<String>,

    /// The service to deploy (repeatable: several services of the cluster, each getting the new
    /// image in the --container it has, waited for together).
    #[arg(long = "service", env = "ECS_SHIP_SERVICE", required_unless_present = "no_deploy", value_parser = crate::cli::shared::non_empty)]
    pub services: Vec<String>,

    /// With several services and --rollback-on-failure: roll back only the services that failed,
    /// or all of them (`all` implies --rollback-on-failure).
    #[arg(long, value_name = "SCOPE", value_parser = ["failed", "all"], default_value = "failed")]
    pub rollback: String,

    /// A container that runs the new image (repeatable).
    #[arg(
        long = "container",
        required = true,
        env = "ECS_SHIP_CONTAINER",
        value_name = "NAME"
    )]
    pub containers: Vec<String>,

    /// Another container's image, NAME=IMAGE (repeatable): a sidecar that changes with the release.
    #[arg(long = "image", value_name = "NAME=IMAGE")]
    pub images: Vec<ImageSpec>,

    /// Stop after the artifacts (imagedefinitions.json, --image-detail): register nothing, update
    /// nothing. For pipelines whose CodePipeline ECS action deploys.
    #[arg(long, conflicts_with_all = ["rollback_on_failure", "verify_urls", "dry_run"])]
    pub no_deploy: bool,

    /// Build and push even when the state file shows this context already pushed.
    #[arg(long)]
    pub rebuild: bool,

    /// The Dockerfile (relative to the working directory) [default: <context>/Dockerfile].
    #[arg(long, value_name = "PATH")]
    pub dockerfile: Option<PathBuf>,

    /// Where to write imagedefinitions.json.
    #[arg(long, value_name = "PATH", default_value = "imagedefinitions.json")]
    pub imagedefs: PathBuf,

    /// Also write imageDetail.json (CodeDeploy blue/green) here; the file must be named imageDetail.json.
    #[arg(long, value_name = "PATH")]
    pub image_detail: Option<PathBuf>,

    /// A one-off task to pass before the service is updated (a migration): this command, in the
    /// first --container of the new revision, run as the service runs its tasks; split as a shell
    /// would. If it fails, nothing is deployed (exit 4).
    #[arg(long, value_name = "COMMAND", conflicts_with = "no_deploy")]
    pub before_deploy: Option<String>,

    /// How long the --before-deploy task may run before it is stopped (exit 5).
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = crate::cli::shared::parse_duration, requires = "before_deploy")]
    pub before_deploy_timeout: std::time::Duration,

    #[command(flatten)]
    pub build: BuildFlags,

    #[command(flatten)]
    pub push: PushFlags,

    #[command(flatten)]
    pub source: OverrideSourceArgs,

    #[command(flatten)]
    pub logs: TaskdefArgs,

    #[command(flatten)]
    pub overrides: OverrideArgs,

    #[command(flatten)]
    pub register: RegisterFlags,

    #[command(flatten)]
    pub rollout: RolloutArgs,

    #[command(flatten)]
    pub verify: VerifyArgs,

    #[command(flatten)]
    pub wait: WaitFlags,

    #[command(flatten)]
    pub state: StateArgs,
}

impl ReleaseArgs {
    fn plan(&self) -> Result<ReleasePlan> {
        let mut rollout = self.rollout.clone();
        rollout.rollback_on_failure |= self.rollback == "all";
        let flags = DeployFlags {
            register: &self.register,
            rollout: &rollout,
            verify: &self.verify,
            wait: &self.wait,
        };
        let mut deploys: Vec<_> = match (&self.cluster, self.no_deploy) {
            (Some(cluster), false) => self
                .services
                .iter()
                .map(|service| {
                    flags.plan(
                        cluster,
                        service,
                        self.source.source(cluster, service),
                        self.overrides
                            .add_to(self.logs.changes(self.images.clone(), false), &[]),
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        if deploys.len() > 1 && self.before_deploy.is_some() {
            return Err(Error::input(
                "--before-deploy takes one --service: with several, run the task first with `ecs-ship run --service S --image NAME=IMAGE --command ...`",
            ));
        }
        let more = if deploys.len() > 1 {
            deploys.split_off(1)
        } else {
            Vec::new()
        };
        let deploy = deploys.pop();
        Ok(ReleasePlan {
            build: self
                .build
                .request(&self.repository, self.dockerfile.clone()),
            push: self.push.request(None, Vec::new()),
            rebuild: self.rebuild,
            containers: self.containers.clone(),
            imagedefinitions: self.imagedefs.clone(),
            image_detail: self.image_detail.clone(),
            deploy,
            more,
            rollback_scope: if self.rollback == "all" {
                RollbackScope::All
            } else {
                RollbackScope::Failed
            },
            before_deploy: match &self.before_deploy {
                Some(line) => Some(BeforeDeploy {
                    command: split_command(line)
                        .map_err(|e| Error::input(format!("invalid --before-deploy {e}")))?,
                    timeout: self.before_deploy_timeout,
                }),
                None => None,
            },
            state: self.state.path.clone(),
        })
    }
}

pub async fn run(session: &Session, args: &ReleaseArgs, out: Output) -> Result<()> {
    let released = flow::release::release(session, &args.plan()?).await;
    out.result(&released.result)?;
    released.failure.map_or(Ok(()), Err)
}
