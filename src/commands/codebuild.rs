//! `ecs-ship codebuild check|start|logs`: CodeBuild as a home for releases - a project checked for
//! what would break one, builds started and followed phase by phase with their log, a build's log.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::cli::shared::{non_empty, parse_key_value, parse_poll_interval};
use crate::error::Result;
use crate::flow::Session;
use crate::flow::codebuild::StartOptions;
use crate::flow::codebuild::{self, CheckPlan, FollowOptions};
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum CodebuildCommand {
    /// Report where a project's buildspec comes from (an INLINE one silently overrides the
    /// repository's file), privileged mode, environment, role, source, logs and the last builds;
    /// exit 4 when something would break a release.
    Check(CheckArgs),
    /// Start a build (overrides as given) and follow it phase by phase with its log until it ends;
    /// --batch starts a batch build and follows every leg.
    Start(StartArgs),
    /// Print a build's CloudWatch log.
    Logs(LogsArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The CodeBuild project (name or ARN).
    #[arg(long, value_name = "NAME", value_parser = non_empty)]
    pub project: String,
    /// The checkout's buildspec file to compare with the project's [default: ./buildspec.yml].
    #[arg(long, value_name = "PATH")]
    pub buildspec: Option<PathBuf>,
    /// How many recent builds to show.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub builds: usize,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The CodeBuild project (name or ARN).
    #[arg(long, value_name = "NAME", value_parser = non_empty)]
    pub project: String,
    /// The branch, tag, commit or pull request to build [default: the project's].
    #[arg(long, value_name = "REF", value_parser = non_empty)]
    pub source_version: Option<String>,
    /// A plain-text environment variable for this build (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_key_value)]
    pub env: Vec<(String, String)>,
    /// Run this local buildspec file instead of the project's (sent as buildspecOverride).
    #[arg(long, value_name = "PATH")]
    pub buildspec: Option<PathBuf>,
    /// Follow the build until it ends [default: on a terminal].
    #[arg(long, overrides_with = "no_follow")]
    pub follow: bool,
    /// Print the build's id and return at once.
    #[arg(long, overrides_with = "follow")]
    pub no_follow: bool,
    /// How long to follow [default: the build's queue and build timeouts, plus 10m].
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::shared::parse_timeout)]
    pub timeout: Option<Duration>,
    /// On Ctrl-C or SIGTERM, stop the build (StopBuild) instead of leaving it running.
    #[arg(long)]
    pub stop_on_interrupt: bool,
    /// Start a batch build (StartBuildBatch: the buildspec's build list, matrix or graph) and
    /// follow every leg, each line prefixed by its leg; the exit code is the batch's.
    #[arg(long)]
    pub batch: bool,
    /// How often to poll while the build changes (longer once it stays quiet).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_poll_interval)]
    pub poll_interval: Duration,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The build: PROJECT:UUID as `codebuild start` prints it, or its ARN.
    #[arg(value_name = "BUILD_ID")]
    pub build_id: String,
}

pub async fn run(session: &Session, cmd: CodebuildCommand, out: Output) -> Result<()> {
    match cmd {
        CodebuildCommand::Check(args) => {
            let plan = CheckPlan {
                project: args.project,
                buildspec: args.buildspec,
                builds: args.builds,
            };
            let (report, failure) = codebuild::check(session, &plan).await?;
            out.result(&report)?;
            failure.map_or(Ok(()), Err)
        }
        CodebuildCommand::Start(args) => {
            let options = StartOptions {
                project: args.project.clone(),
                source_version: args.source_version.clone(),
                env: args.env.clone(),
                buildspec: args
                    .buildspec
                    .as_deref()
                    .map(codebuild::read_buildspec)
                    .transpose()?,
            };
            let follow = (args.follow || (!args.no_follow && std::io::stderr().is_terminal()))
                .then_some(FollowOptions {
                    timeout: args.timeout,
                    stop_on_interrupt: args.stop_on_interrupt,
                    poll_interval: args.poll_interval,
                });
            if args.batch {
                let (report, failure) =
                    crate::flow::batch::start(session, &options, follow.as_ref()).await?;
                out.result(&report)?;
                return failure.map_or(Ok(()), Err);
            }
            let (report, failure) = codebuild::start(session, &options, follow.as_ref()).await?;
            out.result(&report)?;
            failure.map_or(Ok(()), Err)
        }
        CodebuildCommand::Logs(args) => {
            out.result(&codebuild::build_log(session, &args.build_id).await?)
        }
    }
}
