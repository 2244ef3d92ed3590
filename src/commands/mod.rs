//! One file per subcommand: its arguments and a short `run` that sequences calls.

pub mod deploy;
pub mod doctor;
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
    }
}
