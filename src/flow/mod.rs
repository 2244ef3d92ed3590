//! The flows that several commands share, each taking plain option types (never clap structs):
//! a command is its arguments and a short `run()` that picks flows and prints their result.
//!
//! - `session`: AWS loaded on first use, the Docker host, quiet mode;
//! - `taskdef`: read a task definition from a `Source`, clean, change, check, register or reuse;
//! - `deploy`: the one deploy engine, for one service or several: check, register, update, wait,
//!   verify, after-deploy steps, rollback by scope and on cancel;
//! - `rollout`: wait for a verdict on services, diagnose a failure;
//! - `image`: build, registry credentials, push with a verified digest;
//! - `rehearse`: the local rehearsal (build, render, run as ECS would, health, clean up);
//! - `status`: a read-only report of services (deployments, images, target health);
//! - `artifacts`: imagedefinitions.json / imageDetail.json;
//! - `verify`: HTTP checks after a rollout (`--verify-url`);
//! - `release`: the steps above in order, timed, with what was done when one fails;
//! - `codebuild`: check a project, start and follow a build, print its log;
//! - `task`: one-off tasks followed to a verdict (`run`, `release --before-deploy`);
//! - `logtail`: following a CloudWatch Logs stream while something runs.

pub mod artifacts;
pub mod batch;
pub mod codebuild;
pub mod codedeploy;
pub mod deploy;
pub mod deployments;
pub mod doctor;
pub mod fleet;
pub mod fleet_release;
pub mod image;
pub mod logtail;
pub mod pace;
pub mod platforms;
pub mod prune;
pub mod rehearse;
pub mod release;
pub mod rollout;
pub mod session;
pub mod status;
pub mod task;
pub mod taskdef;
pub mod verify;

pub use session::Session;
