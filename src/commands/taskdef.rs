//! `ecs-ship taskdef render|register|diff|prune`: a task definition from the service's running revision,
//! a family, an ARN or a file; cleaned, image swapped and pinned, logs guaranteed, nothing lost.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};

use crate::cli::shared::{ChangeArgs, RegisterFlags, SourceArgs};
use crate::error::Result;
use crate::flow::{self, Session};
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum TaskdefCommand {
    /// Print the register-ready JSON (keys sorted, two-space indent). Offline for --file sources.
    Render(Box<RenderArgs>),
    /// Register the cleaned, changed task definition and print the new revision's ARN.
    Register(Box<RegisterArgs>),
    /// Unified diff of two task definitions (files, ARNs or family:revision), read-only fields ignored.
    Diff(DiffArgs),
    /// Deregister (and with --delete, delete) a family's revisions beyond the newest N - never one
    /// a service deployment, a running or pending task or a scheduled rule uses.
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// The task definition family.
    #[arg(long, value_parser = crate::cli::shared::non_empty)]
    pub family: String,
    /// How many of the newest ACTIVE revisions to keep (at least 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: u32,
    /// Only revisions registered longer ago than this (e.g. 30d).
    #[arg(long, value_name = "DURATION", value_parser = parse_age)]
    pub older_than: Option<std::time::Duration>,
    /// Also delete the pruned revisions and the INACTIVE ones nothing uses (DeleteTaskDefinitions;
    /// a deleted revision cannot be used again).
    #[arg(long)]
    pub delete: bool,
    /// Say what would be deregistered and deleted; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Check only these clusters for services, tasks and schedules using a revision (repeatable)
    /// [default: every cluster in the region].
    #[arg(long = "cluster", value_name = "NAME")]
    pub clusters: Vec<String>,
}

/// A duration for --older-than: units up to days (`30d`, `12h`), no upper limit below 10 years.
fn parse_age(s: &str) -> std::result::Result<std::time::Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("`{s}`: {e} (e.g. 30d, 12h)"))
        .and_then(|d| {
            if d.as_secs() > 10 * 365 * 86_400 {
                Err(format!("`{s}`: more than 10 years"))
            } else {
                Ok(d)
            }
        })
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).multiple(false)))]
pub struct RenderArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub changes: ChangeArgs,
    /// Write the JSON to this file (atomically) instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).multiple(false)))]
pub struct RegisterArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub changes: ChangeArgs,
    #[command(flatten)]
    pub options: RegisterFlags,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// A file, an ARN, a family or family:revision.
    pub a: String,
    /// A file, an ARN, a family or family:revision.
    pub b: String,
}

pub async fn run(session: &Session, cmd: TaskdefCommand, out: Output) -> Result<()> {
    match cmd {
        TaskdefCommand::Render(args) => render(session, &args, out).await,
        TaskdefCommand::Register(args) => {
            args.options.refuse_dry_build("taskdef register")?;
            // Loaded first, so the profile's region fills awslogs-region for a file source too.
            session.aws().await?;
            let prepared =
                flow::taskdef::prepare(session, &args.source.source(), &args.changes.changes())
                    .await?;
            let mut options = args.options.options();
            options.show_values = session.show_values;
            let result = flow::taskdef::register(session.aws().await?, prepared, &options).await?;
            out.result(&result)
        }
        TaskdefCommand::Prune(args) => {
            let options = flow::prune::PruneOptions {
                family: args.family.clone(),
                keep: args.keep as usize,
                older_than: args.older_than,
                delete: args.delete,
                dry_run: args.dry_run,
                clusters: args.clusters.clone(),
            };
            let (report, failure) = flow::prune::prune(session, &options).await?;
            out.result(&report)?;
            failure.map_or(Ok(()), Err)
        }
        TaskdefCommand::Diff(args) => {
            let a = flow::taskdef::load_operand(session, &args.a).await?;
            let b = flow::taskdef::load_operand(session, &args.b).await?;
            out.result(&flow::taskdef::compare(
                &args.a,
                &a.document,
                &args.b,
                &b.document,
                session.show_values,
            ))
        }
    }
}

async fn render(session: &Session, args: &RenderArgs, out: Output) -> Result<()> {
    let rendered = flow::taskdef::render_to(
        session,
        &args.source.source(),
        &args.changes.changes(),
        args.out.as_deref(),
    )
    .await?;
    out.result(&rendered)
}
