//! ecs-ship: ship a container image to Amazon ECS.
//!
//! Layout (see README.md): `cli` is the clap tree, `commands` one file per subcommand that only
//! picks flows, `flow` the flows several commands share, `core` the pure decisions (no I/O, no
//! clock, no clients), `aws` and `docker` the only modules that talk to the outside, `output`
//! where results and errors are printed.
//!
//! Only what the binary and the integration tests use is public; the rest is `pub(crate)`, so code
//! nothing calls shows up as dead.

pub(crate) mod aws;
pub mod cli;
pub mod commands;
pub mod core;
pub mod docker;
pub mod error;
pub(crate) mod flow;
pub(crate) mod fsutil;
pub mod output;
pub(crate) mod progress;
pub(crate) mod redact;
pub(crate) mod registry;
pub(crate) mod signal;
pub(crate) mod state;
pub(crate) mod wait;

pub use error::{Error, Result};
