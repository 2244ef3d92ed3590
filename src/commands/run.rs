//! `ecs-ship run`: a one-off task (a migration, a batch job) that a pipeline can trust - run as
//! the service runs its tasks, followed with its log until it stops, and judged by every essential
//! container's exit code.

use std::time::Duration;

use clap::{ArgGroup, Args};

use crate::cli::shared::{non_empty, parse_key_value, parse_poll_interval};
use crate::core::task::{command_json, split_command};
use crate::core::taskdef::ImageSpec;
use crate::error::Result;
use crate::flow::task::{PlacementFlags, RunFrom, RunPlan};
use crate::flow::taskdef::RegisterOptions;
use crate::flow::{self, Session};
use crate::output::Output;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("from").required(true).multiple(false)))]
#[command(group(ArgGroup::new("cmd").multiple(false)))]
pub struct RunArgs {
    /// The cluster to run in.
    #[arg(long, env = "ECS_SHIP_CLUSTER", value_parser = non_empty)]
    pub cluster: String,

    /// Run the revision this service runs, with its network, launch type or capacity providers and
    /// platform version.
    #[arg(long, group = "from", value_parser = non_empty)]
    pub service: Option<String>,

    /// Run this task definition (family, family:revision or ARN).
    #[arg(long, group = "from", value_name = "TD", value_parser = non_empty)]
    pub task_definition: Option<String>,

    /// New image for a container, NAME=IMAGE or IMAGE (repeatable): a revision with it is
    /// registered (or an identical one reused) and run.
    #[arg(long = "image", value_name = "[NAME=]IMAGE")]
    pub images: Vec<ImageSpec>,

    /// The container whose command or environment is overridden (and whose log is shown)
    /// [default: the only one].
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,

    /// The container's command, split as a shell would: --command 'bin/rails db:migrate'.
    #[arg(long, group = "cmd", value_name = "LINE")]
    pub command: Option<String>,

    /// The container's command as a JSON array: --command-json '["sh","-c","make migrate"]'.
    #[arg(long, group = "cmd", value_name = "JSON")]
    pub command_json: Option<String>,

    /// An environment variable for the container, NAME=VALUE (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_key_value)]
    pub env: Vec<(String, String)>,

    /// Launch type instead of the service's: FARGATE, EC2 or EXTERNAL.
    #[arg(long, value_parser = ["FARGATE", "EC2", "EXTERNAL"])]
    pub launch_type: Option<String>,

    /// Capacity provider strategy instead of the service's: NAME[:WEIGHT[:BASE]] (repeatable).
    #[arg(long = "capacity-provider-strategy", value_name = "NAME[:WEIGHT[:BASE]]", value_parser = parse_capacity_provider)]
    pub capacity_providers: Vec<(String, i32, i32)>,

    /// Platform version (Fargate).
    #[arg(long, value_name = "VERSION")]
    pub platform_version: Option<String>,

    /// Subnets for awsvpc networking (repeatable; replaces the service's network).
    #[arg(long = "subnets", value_name = "ID", value_delimiter = ',')]
    pub subnets: Vec<String>,

    /// Security groups with --subnets (repeatable).
    #[arg(
        long = "security-groups",
        value_name = "ID",
        value_delimiter = ',',
        requires = "subnets"
    )]
    pub security_groups: Vec<String>,

    /// Give the task a public IP (with --subnets).
    #[arg(long, requires = "subnets")]
    pub assign_public_ip: bool,

    /// How long the whole run may take, starting the task included; past it the task is stopped
    /// (exit 5).
    #[arg(long, default_value = "30m", value_parser = crate::cli::shared::parse_timeout)]
    pub timeout: Duration,

    /// Leave the task running when --timeout passes.
    #[arg(long)]
    pub keep_on_timeout: bool,

    /// How often to look at the task.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_poll_interval)]
    pub poll_interval: Duration,
}

fn parse_capacity_provider(s: &str) -> std::result::Result<(String, i32, i32), String> {
    let mut parts = s.split(':');
    let name = parts
        .next()
        .filter(|n| !n.is_empty())
        .ok_or("expected NAME[:WEIGHT[:BASE]]")?;
    let number = |p: Option<&str>, default: i32| -> std::result::Result<i32, String> {
        p.map_or(Ok(default), |v| {
            v.parse::<i32>()
                .ok()
                .filter(|n| (0..=100_000).contains(n))
                .ok_or_else(|| format!("`{s}`: WEIGHT and BASE are whole numbers from 0"))
        })
    };
    let weight = number(parts.next(), 1)?;
    let base = number(parts.next(), 0)?;
    if parts.next().is_some() {
        return Err(format!("`{s}`: expected NAME[:WEIGHT[:BASE]]"));
    }
    Ok((name.to_owned(), weight, base))
}

impl RunArgs {
    fn plan(&self) -> Result<RunPlan> {
        let bad = |flag: &str, e: String| crate::error::Error::input(format!("invalid {flag} {e}"));
        let command = match (&self.command, &self.command_json) {
            (Some(line), _) => Some(split_command(line).map_err(|e| bad("--command", e))?),
            (_, Some(json)) => Some(command_json(json).map_err(|e| bad("--command-json", e))?),
            _ => None,
        };
        Ok(RunPlan {
            cluster: self.cluster.clone(),
            from: match (&self.service, &self.task_definition) {
                (Some(s), _) => RunFrom::Service(s.clone()),
                (_, Some(td)) => RunFrom::TaskDefinition(td.clone()),
                _ => unreachable!("clap requires one of --service, --task-definition"),
            },
            images: self.images.clone(),
            container: self.container.clone(),
            command,
            env: self.env.clone(),
            placement: PlacementFlags {
                launch_type: self.launch_type.clone(),
                capacity_providers: self.capacity_providers.clone(),
                platform_version: self.platform_version.clone(),
                subnets: self.subnets.clone(),
                security_groups: self.security_groups.clone(),
                assign_public_ip: self.assign_public_ip,
            },
            timeout: self.timeout,
            keep_on_timeout: self.keep_on_timeout,
            poll_interval: self.poll_interval,
            register: RegisterOptions {
                create_log_groups: true,
                ..Default::default()
            },
        })
    }
}

pub async fn run(session: &Session, args: &RunArgs, out: Output) -> Result<()> {
    let (report, failure) = flow::task::run(session, &args.plan()?).await?;
    out.result(&report)?;
    failure.map_or(Ok(()), Err)
}
