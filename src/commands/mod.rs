//! One file per subcommand: its arguments and a short `run` that picks flows (`crate::flow`) and
//! prints their result.

pub mod build;
pub mod codebuild;
pub mod completions;
pub mod deploy;
pub mod deployment;
pub mod digest;
pub mod doctor;
pub mod imagedefs;
pub mod manifest;
pub mod push;
pub mod rehearse;
pub mod release;
pub mod rollback;
pub mod run;
pub mod status;
pub mod taskdef;
pub mod wait;

use crate::cli::{Cli, Command};
use crate::error::Result;
use crate::flow::Session;
use crate::output::Output;

pub async fn run(cli: Cli, out: Output) -> Result<()> {
    crate::signal::install(matches!(
        cli.command,
        Command::Build(_)
            | Command::Push(_)
            | Command::Deploy(_)
            | Command::Wait(_)
            | Command::Release(_)
            | Command::Rehearse(_)
            | Command::Run(_)
            | Command::Rollback(_)
            | Command::Deployment(_)
            | Command::Codebuild(codebuild::CodebuildCommand::Start(_))
    ));
    let regions = cli.global.regions();
    let several = matches!(
        cli.command,
        Command::Deploy(_) | Command::Release(_) | Command::Status(_)
    );
    if regions.len() > 1 && !several {
        return Err(crate::error::Error::input(format!(
            "--region is given {} times: only deploy, release and status take several regions (one target each)",
            regions.len()
        )));
    }
    let mut session = Session::new(
        cli.global.aws_options(),
        cli.global.docker_host.clone(),
        cli.global.quiet,
    );
    session.show_values = cli.global.show_values;
    session.regions = regions;
    session.idle_timeout = cli
        .global
        .idle_timeout
        .max(std::time::Duration::from_secs(1));
    let session = &session;
    match cli.command {
        Command::Doctor(args) => doctor::run(session, &args, out).await,
        Command::Taskdef(cmd) => taskdef::run(session, cmd, out).await,
        Command::Deploy(args) => deploy::run(session, &args, out).await,
        Command::Wait(args) => wait::run(session, &args, out).await,
        Command::Deployment(cmd) => deployment::run(session, cmd, out).await,
        Command::Rollback(args) => rollback::run(session, &args, out).await,
        Command::Build(args) => build::run(session, &args, out).await,
        Command::Push(args) => push::run(session, &args, out).await,
        Command::Digest(args) => digest::run(session, &args, out).await,
        Command::Imagedefs(args) => imagedefs::run(&args, out).await,
        Command::Release(args) => release::run(session, &args, out).await,
        Command::Status(args) => status::run(session, &args, out).await,
        Command::Run(args) => run::run(session, &args, out).await,
        Command::Codebuild(cmd) => codebuild::run(session, cmd, out).await,
        Command::Manifest(cmd) => manifest::run(session, cmd, out).await,
        Command::Rehearse(args) => rehearse::run(session, &args, out).await,
        Command::Completions(args) => completions::run(&args),
        Command::Man => completions::man(),
    }
}
