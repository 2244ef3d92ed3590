//! The one error type the command line sees, and the exit code each kind maps to.
//!
//! Library code returns precise errors; at the boundary of each module they become one of these kinds,
//! each carrying a message that names the resource at fault and the whole chain of causes. The exit codes
//! are a contract with scripts (README.md, `--help`): change them only with both.

use std::fmt;

/// A boxed cause, kept so the whole chain can be printed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Exit codes, as documented in README.md and `ecs-ship --help`.
pub mod exit {
    pub const SUCCESS: u8 = 0;
    pub const INTERNAL: u8 = 1;
    pub const INPUT: u8 = 2;
    pub const REMOTE: u8 = 3;
    pub const ROLLOUT_FAILED: u8 = 4;
    pub const TIMED_OUT: u8 = 5;
    pub const PAUSED: u8 = 6;
    pub const INTERRUPTED: u8 = 130;
    pub const TERMINATED: u8 = 143;
}

/// The exit-code table, shown under `ecs-ship --help` and kept equal to README.md by a test.
pub const EXIT_CODE_TABLE: &str = "\
Exit codes:
  0    success
  1    unexpected internal error
  2    bad usage or bad input (a file, a flag, an image reference)
  3    an AWS, Docker or registry call failed (auth, not found, network)
  4    the rollout or a CodeBuild build failed, or a check found what would break a release
  5    timed out waiting (for a rollout or a CodeBuild build)
  6    a deployment waits at a lifecycle hook; the message gives the command that continues it
  130  interrupted (Ctrl-C) while waiting; the deployment or build is left as is
  143  terminated (SIGTERM, a cancelled CI job) while waiting; the deployment or build is left as is";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad usage or bad input: a file, a flag, an image reference, a JSON document.
    #[error("{message}")]
    Input {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// A call to AWS, the Docker engine or a registry failed.
    #[error("{message}")]
    Remote {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The rollout failed: the message carries the reason.
    #[error("{0}")]
    RolloutFailed(String),
    /// Waiting ran out of time: the message carries what was still in progress.
    #[error("{0}")]
    TimedOut(String),
    /// A service deployment waits at a lifecycle hook: the message carries the continue command.
    #[error("{0}")]
    Paused(String),
    /// Ctrl-C while waiting.
    #[error("interrupted")]
    Interrupted,
    /// SIGTERM while waiting (a CI job cancelled).
    #[error("terminated")]
    Terminated,
    /// A bug or an environment we did not foresee.
    #[error("{message}")]
    Internal {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    pub fn input(message: impl Into<String>) -> Self {
        Error::Input {
            message: message.into(),
            source: None,
        }
    }

    pub fn input_with(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Input {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    pub fn remote(message: impl Into<String>) -> Self {
        Error::Remote {
            message: message.into(),
            source: None,
        }
    }

    pub fn remote_with(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Remote {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The error of the kind that exits with `code`, saying `message` (several outcomes summed up
    /// in one: the worst exit code of several targets; a target's failure said again).
    pub fn with_exit_code(code: u8, message: impl Into<String>) -> Self {
        let message = message.into();
        match code {
            exit::INPUT => Error::input(message),
            exit::REMOTE => Error::remote(message),
            exit::ROLLOUT_FAILED => Error::RolloutFailed(message),
            exit::TIMED_OUT => Error::TimedOut(message),
            exit::PAUSED => Error::Paused(message),
            exit::INTERRUPTED => Error::Interrupted,
            exit::TERMINATED => Error::Terminated,
            _ => Error::internal(message),
        }
    }

    /// A bug: a state the code should never reach.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal {
            message: message.into(),
            source: None,
        }
    }

    pub fn internal_with(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Internal {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input { .. } => exit::INPUT,
            Error::Remote { .. } => exit::REMOTE,
            Error::RolloutFailed(_) => exit::ROLLOUT_FAILED,
            Error::TimedOut(_) => exit::TIMED_OUT,
            Error::Paused(_) => exit::PAUSED,
            Error::Interrupted => exit::INTERRUPTED,
            Error::Terminated => exit::TERMINATED,
            Error::Internal { .. } => exit::INTERNAL,
        }
    }

    /// The same error (kind, exit code, source) with `more` said after its message: `message; more`.
    /// A signal stays a signal.
    pub fn context(self, more: impl fmt::Display) -> Self {
        self.map_message(|m| format!("{m}; {more}"))
    }

    /// The same error with `before` put in front of its message: `before message`.
    pub fn prefixed(self, before: &str) -> Self {
        self.map_message(|m| format!("{before} {m}"))
    }

    fn map_message(self, change: impl FnOnce(String) -> String) -> Self {
        match self {
            Error::Input { message, source } => Error::Input {
                message: change(message),
                source,
            },
            Error::Remote { message, source } => Error::Remote {
                message: change(message),
                source,
            },
            Error::Internal { message, source } => Error::Internal {
                message: change(message),
                source,
            },
            Error::RolloutFailed(m) => Error::RolloutFailed(change(m)),
            Error::TimedOut(m) => Error::TimedOut(change(m)),
            Error::Paused(m) => Error::Paused(change(m)),
            signal @ (Error::Interrupted | Error::Terminated) => signal,
        }
    }

    /// The message followed by every cause, each on its own line.
    pub fn chain(&self) -> ErrorChain<'_> {
        ErrorChain(self)
    }
}

/// Displays an error with its whole cause chain: `msg\n  caused by: cause\n  caused by: ...`.
pub struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut seen = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(c) = cause {
            let text = c.to_string();
            // SDK errors often repeat their inner message; print each distinct cause once.
            if !seen.contains(&text) {
                write!(f, "\n  caused by: {text}")?;
                seen = text;
            }
            cause = c.source();
        }
        Ok(())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_made_from_an_exit_code_exits_with_it() {
        for code in [1, 2, 3, 4, 5, 6, 130, 143] {
            let e = Error::with_exit_code(code, "two of three targets failed");
            assert_eq!(e.exit_code(), code);
            if !matches!(e, Error::Interrupted | Error::Terminated) {
                assert_eq!(e.to_string(), "two of three targets failed");
            }
        }
    }

    #[test]
    fn each_kind_maps_to_its_documented_code() {
        let cases = [
            (Error::input("x"), 2),
            (Error::remote("x"), 3),
            (Error::RolloutFailed("x".into()), 4),
            (Error::TimedOut("x".into()), 5),
            (Error::Paused("x".into()), 6),
            (Error::Interrupted, 130),
            (Error::Terminated, 143),
            (Error::internal("x"), 1),
        ];
        for (err, code) in cases {
            assert_eq!(err.exit_code(), code, "{err:?}");
        }
    }

    #[test]
    fn chain_prints_every_distinct_cause() {
        let err = Error::remote_with(
            "failed to describe service `web`",
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused"),
        );
        assert_eq!(
            err.chain().to_string(),
            "failed to describe service `web`\n  caused by: connection refused"
        );
    }
}
