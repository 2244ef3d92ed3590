//! The wait loop: poll, print what changed, decide, sleep - until every service is stable on its
//! expected revision, one fails, time runs out, or the user interrupts.
//!
//! It takes a "poll once" function, so tests drive it with scripted snapshot sequences under paused
//! tokio time, and `commands` drive it with DescribeServices. Decisions are `core::rollout`'s.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::core::rollout::{
    Expectation, ServiceSnapshot, Verdict, progress, verdict_and_disagreement,
};
use crate::error::Error;

/// How often to poll: a fixed interval, or one that stays short while things change and grows
/// once nothing has changed for `QUIET` (a stuck rollout), so a verdict comes within one short
/// interval of the change that decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Fixed(Duration),
    Growing { min: Duration, max: Duration },
}

/// How long nothing may change before the growing interval starts to grow.
const QUIET: Duration = Duration::from_secs(30);

impl Default for Interval {
    fn default() -> Self {
        // Every second while the rollout changes: a finished rollout is seen within a second.
        Interval::Growing {
            min: Duration::from_secs(1),
            max: Duration::from_secs(15),
        }
    }
}

/// Why one poll failed.
#[derive(Debug)]
pub enum PollError {
    /// Throttled even after the SDK's own retries: wait longer and try again.
    Throttled(String),
    /// A server error, a reset connection, a call that timed out - even after the SDK's own
    /// retries: the rollout goes on regardless, so keep polling until the deadline.
    Transient(String),
    Fatal(Error),
}

impl PollError {
    /// What went wrong, for a message.
    pub fn describe(&self) -> String {
        match self {
            PollError::Throttled(why) => format!("throttled: {why}"),
            PollError::Transient(why) => why.clone(),
            PollError::Fatal(e) => e.chain().to_string(),
        }
    }

    /// The error of a one-off read (not a poll to try again): `what` names what was read.
    pub fn into_error(self, what: &str) -> Error {
        match self {
            PollError::Fatal(e) => e,
            PollError::Throttled(why) | PollError::Transient(why) => {
                Error::remote(format!("failed to read {what}: {why}"))
            }
        }
    }
}

/// How waiting ended. Each carries the last snapshots seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Stable {
        services: Vec<ServiceSnapshot>,
    },
    Failed {
        service: String,
        reason: String,
        services: Vec<ServiceSnapshot>,
    },
    /// A lifecycle hook awaits action and `--wait-until paused` asked to stop there.
    Paused {
        service: String,
        reason: String,
        services: Vec<ServiceSnapshot>,
    },
    TimedOut {
        waiting_for: Vec<(String, String)>,
        services: Vec<ServiceSnapshot>,
        /// When the last polls failed: why (the endpoint stopped answering, say).
        last_error: Option<String>,
    },
    Interrupted {
        services: Vec<ServiceSnapshot>,
    },
}

#[derive(Default)]
pub struct Waiter<'a> {
    /// Service name -> what is expected of it.
    pub expectations: &'a [(String, Expectation)],
    /// A hard deadline: it also cuts a poll in flight.
    pub timeout: Duration,
    pub interval: Interval,
    /// Polls that failed transiently (or were throttled) and were tried again.
    pub retried: AtomicU32,
}

impl Waiter<'_> {
    fn expectation(&self, name: &str) -> Option<&Expectation> {
        self.expectations
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e)
    }

    /// Runs the loop. `report` receives each progress line; `interrupt` resolves on Ctrl-C.
    pub async fn run<P, F>(
        &self,
        mut poll: P,
        mut report: impl FnMut(&str, &str),
        interrupt: impl Future<Output = ()>,
    ) -> Result<Outcome, Error>
    where
        P: FnMut() -> F,
        F: Future<Output = Result<Vec<ServiceSnapshot>, PollError>>,
    {
        tokio::pin!(interrupt);
        let deadline = Instant::now() + self.timeout;
        let (min, max) = match self.interval {
            Interval::Fixed(d) => (d, d),
            Interval::Growing { min, max } => (min, max),
        };
        let mut interval = min;
        let mut seen: Seen = vec![Default::default(); self.expectations.len()];
        let mut first = true;
        let mut last_change = Instant::now();
        let mut last: Vec<ServiceSnapshot> = Vec::new();
        let mut waiting: Vec<(String, String)> = Vec::new();
        let mut last_error: Option<String> = None;
        loop {
            // Biased: an answer that is ready wins over a deadline that is due at the same instant.
            let polled = tokio::select! {
                biased;
                r = poll() => r,
                () = tokio::time::sleep_until(deadline) => {
                    // The deadline cut a poll in flight: that is "no answer" only if AWS never
                    // answered, or its last answer was an error; else the rollout is what ran late.
                    let cut = match (&last_error, last.is_empty()) {
                        (Some(e), _) => Some(format!("no answer within the timeout (last error: {e})")),
                        (None, true) => Some("no answer within the timeout".to_owned()),
                        (None, false) => None,
                    };
                    return Ok(Outcome::TimedOut { waiting_for: waiting, services: last, last_error: cut });
                }
                () = &mut interrupt => return Ok(Outcome::Interrupted { services: last }),
            };
            match polled {
                Ok(snapshots) => {
                    last_error = None;
                    let (changed, verdicts) = self.judge(&snapshots, &mut seen, first, &mut report);
                    first = false;
                    last = snapshots;
                    if let Some((service, Verdict::Failed(reason))) = verdicts
                        .iter()
                        .find(|(_, v)| matches!(v, Verdict::Failed(_)))
                    {
                        return Ok(Outcome::Failed {
                            service: service.clone(),
                            reason: reason.clone(),
                            services: last,
                        });
                    }
                    if let Some((service, Verdict::Paused(reason))) = verdicts
                        .iter()
                        .find(|(_, v)| matches!(v, Verdict::Paused(_)))
                    {
                        return Ok(Outcome::Paused {
                            service: service.clone(),
                            reason: reason.clone(),
                            services: last,
                        });
                    }
                    let all_reported = self
                        .expectations
                        .iter()
                        .all(|(n, _)| verdicts.iter().any(|(m, _)| m == n));
                    if all_reported && verdicts.iter().all(|(_, v)| v.is_done()) {
                        return Ok(Outcome::Stable { services: last });
                    }
                    if changed {
                        last_change = Instant::now();
                    }
                    interval = if last_change.elapsed() < QUIET {
                        min
                    } else {
                        grow(interval, max)
                    };
                    waiting = verdicts
                        .into_iter()
                        .filter_map(|(n, v)| match v {
                            Verdict::InProgress(why) => Some((n, why)),
                            _ => None,
                        })
                        .collect();
                    if Instant::now() >= deadline {
                        return Ok(Outcome::TimedOut {
                            waiting_for: waiting,
                            services: last,
                            last_error: None,
                        });
                    }
                }
                Err(PollError::Throttled(why)) => {
                    self.retried.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("throttled while polling ({why}): polling less often");
                    interval = grow(grow(interval, max), max);
                    last_error = Some(format!("throttled: {why}"));
                }
                Err(PollError::Transient(why)) => {
                    let n = self.retried.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::warn!(
                        "polling failed ({why}); the rollout goes on, polling again (failure {n})"
                    );
                    last_error = Some(why);
                }
                Err(PollError::Fatal(e)) => return Err(e),
            }
            if Instant::now() >= deadline {
                return Ok(Outcome::TimedOut {
                    waiting_for: waiting,
                    services: last,
                    last_error,
                });
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            tokio::select! {
                () = tokio::time::sleep(interval.min(remaining)) => {}
                () = &mut interrupt => return Ok(Outcome::Interrupted { services: last }),
            }
        }
    }
}

/// What was seen of each service across polls: event ids, the last progress lines, and the
/// disagreements already said.
type Seen = Vec<(Vec<String>, Vec<String>, Vec<String>)>;

impl Waiter<'_> {
    /// Reports what is new in one poll's snapshots and gives each service's verdict; `changed`
    /// when anything was new.
    fn judge(
        &self,
        snapshots: &[ServiceSnapshot],
        seen: &mut Seen,
        first: bool,
        report: &mut impl FnMut(&str, &str),
    ) -> (bool, Vec<(String, Verdict)>) {
        let mut changed = false;
        let mut verdicts = Vec::new();
        for s in snapshots {
            let index = self.expectations.iter().position(|(n, _)| *n == s.name);
            let (Some(index), Some(want)) = (index, self.expectation(&s.name)) else {
                continue;
            };
            let (events, lines, disagreements) = &mut seen[index];
            let new = progress(s, events, lines);
            // The first poll shows where things stand, not the service's whole history.
            if !first {
                new.events.iter().for_each(|line| report(&s.name, line));
            }
            new.deployments
                .iter()
                .for_each(|line| report(&s.name, line));
            changed |= !new.is_empty();
            let (v, disagreement) = verdict_and_disagreement(s, want);
            // The views disagreeing is said once per kind, never silently.
            if let Some(line) = disagreement
                && !disagreements.contains(&line)
            {
                report(&s.name, &line);
                disagreements.push(line);
            }
            verdicts.push((s.name.clone(), v));
        }
        (changed, verdicts)
    }
}

fn grow(interval: Duration, max: Duration) -> Duration {
    interval.mul_f64(1.5).min(max)
}

#[cfg(test)]
mod tests;
