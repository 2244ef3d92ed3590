//! Pure decisions: no async, no clients, no environment, no clock, no filesystem.
//! Everything here is reached by table-driven unit tests beside each function.

pub mod buildkit;
pub mod buildspec;
pub mod carry;
pub mod codebuild;
pub mod codedeploy;
pub mod credentials;
pub mod deployment;
pub mod dockerignore;
pub mod image_ref;
pub mod imagedefs;
pub mod logs;
pub mod mask;
pub mod overrides;
pub mod platform;
pub mod prune;
pub mod push_failure;
pub mod registry_auth;
pub mod rehearsal;
pub mod release;
pub mod rollout;
pub mod status;
pub mod tags;
pub mod targets;
pub mod task;
pub mod taskdef;
pub mod text;
