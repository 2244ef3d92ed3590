//! `ecs-ship doctor`: what this step will talk to, in a few lines, and what to fix.

use clap::Args;

use crate::error::Result;
use crate::flow::Session;
use crate::flow::doctor::{DoctorOptions, doctor};
use crate::output::Output;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also check this cluster's service (with --service).
    #[arg(
        long,
        env = "ECS_SHIP_CLUSTER",
        requires = "service",
        conflicts_with = "no_aws",
        value_parser = crate::cli::shared::non_empty
    )]
    pub cluster: Option<String>,

    /// The service to check (with --cluster): does it exist, which revision does it run.
    #[arg(long, env = "ECS_SHIP_SERVICE", requires = "cluster", value_parser = crate::cli::shared::non_empty)]
    pub service: Option<String>,

    /// Skip the Docker engine check (a deploy-only step).
    #[arg(long, conflicts_with = "no_aws")]
    pub no_docker: bool,

    /// Skip the AWS checks (a build-only step).
    #[arg(long)]
    pub no_aws: bool,
}

pub async fn run(session: &Session, args: &DoctorArgs, out: Output) -> Result<()> {
    let options = DoctorOptions {
        docker: !args.no_docker,
        aws: !args.no_aws,
        service: args.cluster.clone().zip(args.service.clone()),
    };
    let (report, failure) = doctor(session, &options).await;
    out.result(&report)?;
    failure.map_or(Ok(()), Err)
}
