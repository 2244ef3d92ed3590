//! The one integration-test binary: the real `ecs-ship` binary against the local stack
//! (ci/stack: dockerd, a registry, moto). See harness.rs for how services are found.

mod harness;

mod buildkit;
mod ci_outputs;
mod cli;
mod codebuild;
mod deploy;
mod deployments;
mod doctor;
mod ecr;
mod faults;
mod hostile;
mod images;
mod prune;
mod rehearse;
mod release;
mod run;
mod targets;
mod taskdef;
