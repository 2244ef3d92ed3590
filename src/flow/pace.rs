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

#[cfg(test)]
mod tests {
    use super::*;

    /// Under paused time: a value, a throttled poll (the interval doubles), a transient one, then
    /// the deadline ends it with the last error; a fatal error ends it at once.
    #[tokio::test(start_paused = true)]
    async fn polls_retry_and_end_on_the_deadline() {
        let mut pace = Pace::new("the thing", Duration::from_secs(10), Duration::from_secs(2));
        assert!(matches!(
            pace.poll(async { Ok::<_, PollError>(1) }).await,
            Polled::Value(1)
        ));
        let throttled = pace
            .poll(async { Err::<(), _>(PollError::Throttled("slow down".into())) })
            .await;
        assert!(matches!(throttled, Polled::Retry));
        assert_eq!(pace.interval, Duration::from_secs(4));
        let start = Instant::now();
        assert!(pace.pause(false).await.is_ok());
        assert_eq!(start.elapsed(), Duration::from_secs(4));
        let transient = pace
            .poll(async { Err::<(), _>(PollError::Transient("HTTP 503".into())) })
            .await;
        assert!(matches!(transient, Polled::Retry));
        // A poll that never answers is cut by the deadline, naming the last failure.
        match pace
            .poll(std::future::pending::<Result<(), PollError>>())
            .await
        {
            Polled::End(End::OutOfTime { last_error }) => {
                assert_eq!(last_error.as_deref(), Some("HTTP 503"))
            }
            _ => panic!("expected the deadline"),
        }
        let mut pace = Pace::new("the thing", Duration::from_secs(10), Duration::from_secs(2));
        let fatal = pace
            .poll(async { Err::<(), _>(PollError::Fatal(Error::remote("access denied"))) })
            .await;
        assert!(matches!(fatal, Polled::End(End::Failed(_))));
    }

    /// The interval stays short while things change and grows (to 15 s) once they stay quiet.
    #[tokio::test(start_paused = true)]
    async fn the_interval_grows_only_when_quiet() {
        let mut pace = Pace::new(
            "the thing",
            Duration::from_secs(600),
            Duration::from_secs(2),
        );
        for _ in 0..20 {
            pace.pause(true).await.ok();
            assert_eq!(pace.interval, Duration::from_secs(2));
        }
        let mut slept = Vec::new();
        for _ in 0..30 {
            let before = Instant::now();
            pace.pause(false).await.ok();
            slept.push(before.elapsed().as_secs());
        }
        assert_eq!(slept[0], 2, "{slept:?}");
        assert_eq!(*slept.last().unwrap(), 15, "{slept:?}");
        assert!(slept.windows(2).all(|w| w[0] <= w[1]), "{slept:?}");
    }
}
