//! The pace of following something that runs elsewhere (a CodeBuild build, a one-off task): each
//! poll under a hard deadline and Ctrl-C/SIGTERM, a short interval while things change and a
//! growing one when they do not, polling less often when throttled, and server errors ridden out
//! until the deadline - the discipline `wait` keeps for rollouts.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::time::Instant;
use tracing::warn;

use crate::error::Error;
use crate::signal::Signal;
use crate::wait::PollError;

/// How following ended, when it did not end on the followed thing's own verdict.
pub enum End {
    /// The deadline passed; the last polls' error, if they failed.
    OutOfTime {
        last_error: Option<String>,
    },
    Cancelled(Signal),
    Failed(Error),
}

/// What one poll gave.
pub enum Polled<T> {
    Value(T),
    /// A throttled or transient failure: pause and poll again.
    Retry,
    End(End),
}

/// How long nothing may change before the interval starts to grow.
const QUIET: Duration = Duration::from_secs(30);
const MAX: Duration = Duration::from_secs(15);

pub struct Pace {
    what: &'static str,
    deadline: Instant,
    min: Duration,
    interval: Duration,
    last_change: Instant,
    last_error: Option<String>,
    interrupt: Pin<Box<dyn Future<Output = Signal> + Send>>,
}

impl Pace {
    /// `what` names the thing in messages ("the build", "the task").
    pub fn new(what: &'static str, timeout: Duration, min: Duration) -> Self {
        Pace {
            what,
            deadline: Instant::now() + timeout,
            min,
            interval: min,
            last_change: Instant::now(),
            last_error: None,
            interrupt: Box::pin(crate::signal::cancelled()),
        }
    }

    /// Runs one poll, cut by the deadline and by a signal.
    pub async fn poll<T>(&mut self, call: impl Future<Output = Result<T, PollError>>) -> Polled<T> {
        let polled = tokio::select! {
            biased;
            r = call => r,
            () = tokio::time::sleep_until(self.deadline) => {
                return Polled::End(End::OutOfTime { last_error: self.last_error.take() });
            }
            signal = &mut self.interrupt => return Polled::End(End::Cancelled(signal)),
        };
        match polled {
            Ok(value) => {
                self.last_error = None;
                Polled::Value(value)
            }
            Err(PollError::Throttled(why)) => {
                warn!(
                    "throttled while polling {} ({why}): polling less often",
                    self.what
                );
                self.interval = (self.interval * 2).min(MAX * 2);
                self.last_error = Some(why);
                Polled::Retry
            }
            Err(PollError::Transient(why)) => {
                warn!(
                    "polling {} failed ({why}); it goes on, polling again",
                    self.what
                );
                self.last_error = Some(why);
                Polled::Retry
            }
            Err(PollError::Fatal(e)) => Polled::End(End::Failed(e)),
        }
    }

    /// Waits before the next poll: the short interval while things change (`changed`), longer
    /// once they have stayed quiet; ends on the deadline or a signal.
    pub async fn pause(&mut self, changed: bool) -> Result<(), End> {
        if changed {
            self.last_change = Instant::now();
            self.interval = self.min;
        } else if self.last_change.elapsed() >= QUIET {
            self.interval = self.interval.mul_f64(1.5).min(MAX.max(self.min));
        }
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(End::OutOfTime {
                last_error: self.last_error.take(),
            });
        }
        tokio::select! {
            () = tokio::time::sleep(self.interval.min(remaining)) => Ok(()),
            signal = &mut self.interrupt => Err(End::Cancelled(signal)),
        }
    }
}
