//! `ecs-ship taskdef render|register|diff`: a task definition from the service's running revision,
//! a family, an ARN or a file; cleaned, image swapped and pinned, logs guaranteed, nothing lost.

use std::path::{Path, PathBuf};

use clap::{ArgGroup, Args, Subcommand};
use serde::Serialize;
use tracing::info;

use crate::cli::shared::{ChangeArgs, RegisterFlags, SourceArgs};
use crate::core::logs::KeptDriver;
use crate::core::taskdef::{self, Change, TaskDef};
use crate::error::Result;
use crate::flow::{self, Session};
use crate::fsutil::write_atomic;
use crate::output::{Output, to_json_pretty};

#[derive(Debug, Subcommand)]
pub enum TaskdefCommand {
    /// Print the register-ready JSON (keys sorted, two-space indent). Offline for --file sources.
    Render(Box<RenderArgs>),
    /// Register the cleaned, changed task definition and print the new revision's ARN.
    Register(Box<RegisterArgs>),
    /// Unified diff of two task definitions (files, ARNs or family:revision), read-only fields ignored.
    Diff(DiffArgs),
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

#[derive(Serialize)]
struct Rendered<'a> {
    schema: u32,
    task_definition: &'a TaskDef,
    changes: &'a [Change],
    kept_log_drivers: &'a [KeptDriver],
    #[serde(skip_serializing_if = "Option::is_none")]
    out: Option<&'a Path>,
}

async fn render(session: &Session, args: &RenderArgs, out: Output) -> Result<()> {
    let prepared =
        flow::taskdef::prepare(session, &args.source.source(), &args.changes.changes()).await?;
    let text = taskdef::render(&prepared.document);
    if let Some(path) = &args.out {
        write_atomic(path, text.as_bytes())?;
        info!("wrote {}", path.display());
    }
    match (out.is_json(), &args.out) {
        (false, None) => {
            print!("{text}");
            Ok(())
        }
        (false, Some(_)) => Ok(()),
        (true, path) => {
            let rendered = Rendered {
                schema: crate::output::SCHEMA,
                task_definition: &prepared.document,
                changes: &prepared.changes,
                kept_log_drivers: &prepared.kept_drivers,
                out: path.as_deref(),
            };
            println!("{}", to_json_pretty(&rendered)?);
            Ok(())
        }
    }
}
