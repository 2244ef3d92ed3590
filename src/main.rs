//! The `ecs-ship` binary: parse, set up logging and the runtime, run, map to an exit code.

use std::process::ExitCode;

use clap::Parser;
use ecs_ship::cli::Cli;
use ecs_ship::output::init_logging;
use ecs_ship::{Error, commands};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = cli.global.output();
    init_logging(cli.global.verbosity(), out.color);
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::internal_with("failed to start the async runtime", e))
        .and_then(|rt| rt.block_on(commands::run(cli, out.clone())));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            out.error(&err);
            ExitCode::from(err.exit_code())
        }
    }
}
