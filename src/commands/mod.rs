//! One file per subcommand: its arguments and a short `run` that sequences calls.

pub mod build;
pub mod deploy;
pub mod digest;
pub mod doctor;
pub mod imagedefs;
pub mod push;
pub mod taskdef;
pub mod wait;

use crate::cli::{Cli, Command};
use crate::error::Result;
use crate::output::Output;

pub async fn run(cli: Cli, out: Output) -> Result<()> {
    match cli.command {
        Command::Doctor(args) => doctor::run(&cli.global, &args, out).await,
        Command::Taskdef(cmd) => taskdef::run(&cli.global, cmd, out).await,
        Command::Deploy(args) => deploy::run(&cli.global, &args, out).await,
        Command::Wait(args) => wait::run(&cli.global, &args, out).await,
        Command::Build(args) => build::run(&cli.global, &args, out).await,
        Command::Push(args) => push::run(&cli.global, &args, out).await,
        Command::Digest(args) => digest::run(&cli.global, &args, out).await,
        Command::Imagedefs(args) => imagedefs::run(&args, out).await,
    }
}
