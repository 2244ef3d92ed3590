//! `ecs-ship deploy`: register the task definition as `taskdef register` does (by default from the
//! revision the service runs now), update the service to that exact revision ARN, and wait.

use clap::{ArgGroup, Args};

use crate::cli::shared::{
    ChangeArgs, DeployFlags, OverrideSourceArgs, RegisterFlags, RolloutArgs, TargetsArgs,
    VerifyArgs, WaitFlags,
};
use crate::error::Result;
use crate::flow::deploy::ServiceTarget;
use crate::flow::{self, Session};
use crate::output::Output;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("override").multiple(false)))]
pub struct DeployArgs {
    /// The service's cluster (with --targets, each target's unless the file names one).
    #[arg(long, env = "ECS_SHIP_CLUSTER", required_unless_present = "targets", value_parser = crate::cli::shared::non_empty)]
    pub cluster: Option<String>,

    /// The service to deploy (repeatable: several services of the cluster, each getting the
    /// --image of the containers it has, waited for together).
    #[arg(long = "service", env = "ECS_SHIP_SERVICE", required_unless_present = "targets", value_parser = crate::cli::shared::non_empty)]
    pub services: Vec<String>,

    #[command(flatten)]
    pub fleet: TargetsArgs,

    #[command(flatten)]
    pub source: OverrideSourceArgs,

    #[command(flatten)]
    pub changes: ChangeArgs,

    #[command(flatten)]
    pub register: RegisterFlags,

    #[command(flatten)]
    pub rollout: RolloutArgs,

    #[command(flatten)]
    pub verify: VerifyArgs,

    #[command(flatten)]
    pub wait: WaitFlags,
}

pub async fn run(session: &Session, args: &DeployArgs, out: Output) -> Result<()> {
    args.register.refuse_dry_build("deploy")?;
    let flags = DeployFlags {
        register: &args.register,
        rollout: &args.rollout,
        verify: &args.verify,
        wait: &args.wait,
    };
    let plan = |cluster: &str, services: &[String]| {
        let services = services
            .iter()
            .map(|service| ServiceTarget {
                service: service.clone(),
                source: args.source.source(cluster, service),
                changes: args.changes.changes(),
            })
            .collect();
        flags.plan(cluster, services)
    };
    if args.fleet.several(&session.regions) {
        let targets =
            args.fleet
                .targets(&session.regions, args.cluster.as_deref(), &args.services)?;
        let plans = flow::fleet::plans(&targets, &plan)?;
        let options = args.fleet.options("deploy", Some(args.wait.timeout));
        let deployed = flow::fleet::deploy(session, &targets, &plans, &options).await;
        out.result(&deployed.result)?;
        return deployed.failure.map_or(Ok(()), Err);
    }
    let cluster = args.cluster.as_deref().unwrap_or_default();
    let deployed = flow::deploy::deploy(session, &plan(cluster, &args.services)).await?;
    out.result(&deployed.result)?;
    deployed.failure.map_or(Ok(()), Err)
}
