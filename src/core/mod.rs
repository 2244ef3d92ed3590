//! Pure decisions: no async, no clients, no environment, no clock, no filesystem.
//! Everything here is reached by table-driven unit tests beside each function.

pub mod image_ref;
pub mod logs;
pub mod rollout;
pub mod taskdef;
