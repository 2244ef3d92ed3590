//! One file per subcommand: its arguments and a short `run` that sequences calls.

pub mod doctor;
pub mod taskdef;

use crate::cli::{Cli, Command};
use crate::error::Result;
use crate::output::Output;

pub async fn run(cli: Cli, out: Output) -> Result<()> {
    match cli.command {
        Command::Doctor(args) => doctor::run(&cli.global, &args, out).await,
        Command::Taskdef(cmd) => taskdef::run(&cli.global, cmd, out).await,
    }
}
