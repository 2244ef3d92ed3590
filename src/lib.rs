//! ecs-ship: ship a container image to Amazon ECS.
//!
//! Layout (see README.md): `cli` is the clap tree, `commands` one file per subcommand that only
//! picks flows, `flow` the flows several commands share, `core` the pure decisions (no I/O, no
//! clock, no clients), `aws` and `docker` the only modules that talk to the outside, `output`
//! where results and errors are printed.

pub mod aws;
pub mod cli;
pub mod commands;
pub mod core;
pub mod docker;
pub mod error;
pub mod flow;
pub mod fsutil;
pub mod output;
pub mod progress;
pub mod redact;
pub mod registry;
pub mod signal;
pub mod state;
pub mod wait;

pub use error::{Error, Result};
