//! `ecs-ship release`: build -> push (verified digest) -> imagedefinitions.json -> task definition
//! (image pinned by digest, logs guaranteed) -> update the service -> wait (-> verify), one line per
//! step and a summary; `--no-deploy` stops after the artifacts for a CodePipeline that deploys.

use std::path::PathBuf;

use clap::{ArgGroup, Args};

use crate::cli::shared::{
    BuildFlags, DeployFlags, OverrideArgs, OverrideSourceArgs, PushFlags, RegisterFlags,
    RolloutArgs, StateArgs, TargetsArgs, TaskdefArgs, VerifyArgs, WaitFlags,
};
use crate::core::task::split_command;
use crate::core::taskdef::ImageSpec;
use crate::error::Error;
use crate::error::Result;
use crate::flow::deploy::{DeployPlan, ServiceTarget};
use crate::flow::fleet_release::Delivery;
use crate::flow::release::{BeforeDeploy, ReleasePlan};
use crate::flow::{self, Session};
use crate::output::Output;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("override").multiple(false)))]
pub struct ReleaseArgs {
    /// The repository to push to (no tag), e.g. 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/api.
    #[arg(long, env = "ECS_SHIP_REPOSITORY", value_name = "REPO")]
    pub repository: String,

    /// The service's cluster (with --targets, each target's unless the file names one).
    #[arg(long, env = "ECS_SHIP_CLUSTER", required_unless_present_any = ["no_deploy", "targets"], value_parser = crate::cli::shared::non_empty)]
    pub cluster: Option<String>,

    /// The service to deploy (repeatable: several services of the cluster, each getting the new
    /// image in the --container it has, waited for together).
    #[arg(long = "service", env = "ECS_SHIP_SERVICE", required_unless_present_any = ["no_deploy", "targets"], value_parser = crate::cli::shared::non_empty)]
    pub services: Vec<String>,

    #[command(flatten)]
    pub fleet: TargetsArgs,

    /// With several targets: how long ECR's replica may take to appear in a target whose registry
    /// the --repository's replication rules copy to (instead of a second push).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = crate::cli::shared::parse_timeout)]
    pub replica_timeout: std::time::Duration,

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

    /// Build nothing: assemble the images separate builds pushed for these platforms (e.g. the
    /// native x86 and ARM legs of a CodeBuild batch) as <repository>:<tag>-<os>-<arch> into one
    /// verified index under <tag> (the first --tag), and release that.
    #[arg(long, value_name = "PLATFORMS", requires = "tags", conflicts_with_all = ["platform", "rebuild"],
          value_parser = parse_platforms)]
    pub merge_platforms: Option<String>,

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
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = crate::cli::shared::parse_timeout, requires = "before_deploy")]
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
    /// The deploy of `services` in `cluster`, each getting the released image in the containers
    /// it has (added once pushed).
    fn deploy_plan(&self, cluster: &str, services: &[String]) -> DeployPlan {
        let flags = DeployFlags {
            register: &self.register,
            rollout: &self.rollout,
            verify: &self.verify,
            wait: &self.wait,
        };
        let services = services
            .iter()
            .map(|service| ServiceTarget {
                service: service.clone(),
                source: self.source.source(cluster, service),
                changes: self
                    .overrides
                    .add_to(self.logs.changes(self.images.clone(), false), &[]),
            })
            .collect();
        flags.plan(cluster, services)
    }

    fn plan(&self) -> Result<ReleasePlan> {
        let deploy = match (&self.cluster, self.no_deploy) {
            (Some(cluster), false) => Some(self.deploy_plan(cluster, &self.services)),
            _ => None,
        };
        if deploy.as_ref().is_some_and(|d| d.services.len() > 1) && self.before_deploy.is_some() {
            return Err(Error::input(
                "--before-deploy takes one --service: with several, run the task first with `ecs-ship run --service S --image NAME=IMAGE --command ...`",
            ));
        }
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
            before_deploy: match &self.before_deploy {
                Some(line) => Some(BeforeDeploy {
                    command: split_command(line)
                        .map_err(|e| Error::input(format!("invalid --before-deploy {e}")))?,
                    timeout: self.before_deploy_timeout,
                }),
                None => None,
            },
            dry_run: self.register.dry_run_mode(),
            state: self.state.path.clone(),
            for_targets: false,
            merge_platforms: match &self.merge_platforms {
                Some(list) => {
                    crate::core::platform::Platform::parse_list(list).map_err(Error::input)?
                }
                None => Vec::new(),
            },
        })
    }
}

/// `linux/amd64,linux/arm64`, checked.
fn parse_platforms(s: &str) -> std::result::Result<String, String> {
    crate::core::platform::Platform::parse_list(s).map(|_| s.to_owned())
}

pub async fn run(session: &Session, args: &ReleaseArgs, out: Output) -> Result<()> {
    if args.fleet.several(&session.regions) {
        return run_targets(session, args, out).await;
    }
    let released = flow::release::release(session, &args.plan()?).await;
    out.result(&released.result)?;
    released.failure.map_or(Ok(()), Err)
}

/// One build, released to every target.
async fn run_targets(session: &Session, args: &ReleaseArgs, out: Output) -> Result<()> {
    if args.no_deploy {
        return Err(Error::input(
            "--no-deploy with several targets: `ecs-ship push` a built image to each repository instead, or leave --no-deploy out",
        ));
    }
    if args.before_deploy.is_some() {
        return Err(Error::input(
            "--before-deploy takes one target: run the task in each first with `ecs-ship run --region R --role-arn ARN ...`",
        ));
    }
    let targets = args
        .fleet
        .targets(&session.regions, args.cluster.as_deref(), &args.services)?;
    let plans = flow::fleet::plans(&targets, &|c, s| args.deploy_plan(c, s))?;
    let mut plan = args.plan()?;
    plan.deploy = None;
    plan.for_targets = true;
    let delivery = Delivery {
        replica_timeout: args.replica_timeout,
        replica_poll: std::time::Duration::from_secs(5),
    };
    let options = args.fleet.options("release", Some(args.wait.timeout));
    let released =
        flow::fleet_release::release(session, &plan, &targets, plans, &options, &delivery).await;
    out.result(&released.result)?;
    released.failure.map_or(Ok(()), Err)
}
