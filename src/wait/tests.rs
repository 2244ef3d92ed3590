//! Scripted DescribeServices sequences under paused tokio time: no real sleeps.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::*;
use crate::core::rollout::ServiceEvent;
use crate::core::rollout::tests::{NEW, OLD, dep, expect, svc};

type Script = VecDeque<Result<Vec<ServiceSnapshot>, PollError>>;

struct Run {
    outcome: Result<Outcome, Error>,
    lines: Vec<String>,
    polls: usize,
    elapsed: Duration,
}

async fn drive(
    script: Vec<Result<ServiceSnapshot, PollError>>,
    want: Expectation,
    timeout: Duration,
) -> Run {
    let script: Script = script.into_iter().map(|r| r.map(|s| vec![s])).collect();
    let script = Arc::new(Mutex::new(script));
    let last = Arc::new(Mutex::new(None::<Vec<ServiceSnapshot>>));
    let polls = Arc::new(Mutex::new(0));
    let expectations = vec![("web".to_owned(), want)];
    let waiter = Waiter {
        expectations: &expectations,
        timeout,
        interval: Interval::default(),
        ..Waiter::default()
    };
    let mut lines = Vec::new();
    let start = Instant::now();
    let outcome = waiter
        .run(
            || {
                let (script, last, polls) = (script.clone(), last.clone(), polls.clone());
                async move {
                    *polls.lock().unwrap() += 1;
                    // The last scripted state repeats, as a stuck service would.
                    match script.lock().unwrap().pop_front() {
                        Some(Ok(s)) => {
                            *last.lock().unwrap() = Some(s.clone());
                            Ok(s)
                        }
                        Some(Err(e)) => Err(e),
                        None => Ok(last
                            .lock()
                            .unwrap()
                            .clone()
                            .expect("a script starts with a snapshot")),
                    }
                }
            },
            |_, line| lines.push(line.to_owned()),
            std::future::pending(),
        )
        .await;
    let polls = *polls.lock().unwrap();
    Run {
        outcome,
        lines,
        polls,
        elapsed: start.elapsed(),
    }
}

fn event(id: &str, message: &str) -> ServiceEvent {
    ServiceEvent {
        id: id.into(),
        created_at: format!("2026-11-22T10:00:0{id}Z"),
        message: message.into(),
    }
}

fn with_events(mut s: ServiceSnapshot, events: &[ServiceEvent]) -> ServiceSnapshot {
    s.events = events.iter().rev().cloned().collect();
    s
}

const MIN15: Duration = Duration::from_secs(900);

#[tokio::test(start_paused = true)]
async fn a_normal_rollout_ends_stable_and_prints_each_event_once() {
    let old_event = event("0", "(service web) has reached a steady state.");
    let e1 = event("1", "(service web) has started 1 tasks: (task a).");
    let e2 = event(
        "2",
        "(service web) has stopped 1 running tasks: (task old).",
    );
    let e3 = event("3", "(service web) has reached a steady state.");
    let script = vec![
        Ok(with_events(
            svc(vec![
                dep("PRIMARY", NEW, 2, 0, Some("IN_PROGRESS")),
                dep("ACTIVE", OLD, 2, 2, Some("COMPLETED")),
            ]),
            std::slice::from_ref(&old_event),
        )),
        Ok(with_events(
            svc(vec![
                dep("PRIMARY", NEW, 2, 1, Some("IN_PROGRESS")),
                dep("ACTIVE", OLD, 2, 2, Some("COMPLETED")),
            ]),
            &[old_event.clone(), e1.clone()],
        )),
        Ok(with_events(
            svc(vec![
                dep("PRIMARY", NEW, 2, 1, Some("IN_PROGRESS")),
                dep("ACTIVE", OLD, 2, 2, Some("COMPLETED")),
            ]),
            &[old_event.clone(), e1.clone()],
        )),
        Ok(with_events(
            svc(vec![
                dep("PRIMARY", NEW, 2, 2, Some("IN_PROGRESS")),
                dep("ACTIVE", OLD, 0, 1, Some("COMPLETED")),
            ]),
            &[old_event.clone(), e1.clone(), e2.clone()],
        )),
        Ok(with_events(
            svc(vec![dep("PRIMARY", NEW, 2, 2, Some("COMPLETED"))]),
            &[old_event.clone(), e1.clone(), e2.clone(), e3.clone()],
        )),
    ];
    let run = drive(script, expect(NEW), MIN15).await;
    assert!(
        matches!(run.outcome, Ok(Outcome::Stable { .. })),
        "{:?}",
        run.outcome
    );
    assert_eq!(run.polls, 5);
    for e in [&e1, &e2, &e3] {
        assert_eq!(
            run.lines
                .iter()
                .filter(|l| l.ends_with(&e.message) && l.contains(&e.created_at))
                .count(),
            1,
            "{e:?} once: {:#?}",
            run.lines
        );
    }
    assert!(
        !run.lines.iter().any(|l| l.contains("2026-11-22T10:00:00Z")),
        "history before the wait is not replayed"
    );
    assert_eq!(
        run.lines
            .iter()
            .filter(|l| *l == "PRIMARY web:12 desired 2 pending 1 running 1 IN_PROGRESS")
            .count(),
        1,
        "unchanged lines are not repeated"
    );
    // Four 1 s intervals between five polls.
    assert_eq!(run.elapsed, Duration::from_secs(4));
}

#[tokio::test(start_paused = true)]
async fn a_circuit_breaker_rollback_fails_even_though_it_then_looks_stable() {
    let mut ours_failed = dep("ACTIVE", NEW, 0, 0, Some("FAILED"));
    ours_failed.rollout_state_reason =
        Some("ECS deployment circuit breaker: tasks failed to start.".into());
    let script = vec![
        Ok(svc(vec![
            dep("PRIMARY", NEW, 2, 0, Some("IN_PROGRESS")),
            dep("ACTIVE", OLD, 2, 2, Some("COMPLETED")),
        ])),
        Ok(svc(vec![
            dep("PRIMARY", OLD, 2, 2, Some("IN_PROGRESS")),
            ours_failed,
        ])),
        Ok(svc(vec![dep("PRIMARY", OLD, 2, 2, Some("COMPLETED"))])),
    ];
    let run = drive(script, expect(NEW), MIN15).await;
    match run.outcome {
        Ok(Outcome::Failed { reason, .. }) => {
            assert!(reason.contains("was rolled back"), "{reason}");
            assert!(reason.contains("circuit breaker"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run.polls, 2, "fails as soon as the PRIMARY switches back");
}

#[tokio::test(start_paused = true)]
async fn rollout_failed_tasks_and_superseded_fail_with_their_reason() {
    let mut failed = dep("PRIMARY", NEW, 2, 0, Some("FAILED"));
    failed.rollout_state_reason = Some("ECS deployment circuit breaker: 3 tasks failed.".into());
    failed.failed_tasks = 3;
    let run = drive(vec![Ok(svc(vec![failed]))], expect(NEW), MIN15).await;
    assert!(
        matches!(&run.outcome, Ok(Outcome::Failed { reason, .. }) if reason.contains("FAILED: ECS deployment circuit breaker: 3 tasks failed.")),
        "{:?}",
        run.outcome
    );

    let mut crashing = dep("PRIMARY", NEW, 2, 0, Some("IN_PROGRESS"));
    let mut script = Vec::new();
    for failed_tasks in 0..5 {
        crashing.failed_tasks = failed_tasks;
        script.push(Ok(svc(vec![
            crashing.clone(),
            dep("ACTIVE", OLD, 2, 2, Some("COMPLETED")),
        ])));
    }
    let want = Expectation {
        max_task_failures: Some(2),
        ..expect(NEW)
    };
    let run = drive(script, want, MIN15).await;
    assert!(
        matches!(&run.outcome, Ok(Outcome::Failed { reason, .. }) if reason.contains("2 tasks of web:12 failed")),
        "{:?}",
        run.outcome
    );
    assert_eq!(run.polls, 3);

    let other = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:13";
    let script = vec![
        Ok(svc(vec![
            dep("PRIMARY", NEW, 2, 1, Some("IN_PROGRESS")),
            dep("ACTIVE", OLD, 2, 2, Some("COMPLETED")),
        ])),
        Ok(svc(vec![
            dep("PRIMARY", other, 2, 0, Some("IN_PROGRESS")),
            dep("ACTIVE", NEW, 2, 1, Some("IN_PROGRESS")),
        ])),
    ];
    let run = drive(script, expect(NEW), MIN15).await;
    assert!(
        matches!(&run.outcome, Ok(Outcome::Failed { reason, .. }) if reason.contains("superseded")),
        "{:?}",
        run.outcome
    );
}

#[tokio::test(start_paused = true)]
async fn missing_and_draining_services_fail_at_once() {
    for status in ["MISSING", "DRAINING"] {
        let mut s = svc(vec![]);
        s.status = status.into();
        let run = drive(vec![Ok(s)], expect(NEW), MIN15).await;
        assert!(
            matches!(&run.outcome, Ok(Outcome::Failed { reason, .. }) if reason.contains(status)),
            "{:?}",
            run.outcome
        );
        assert_eq!(run.polls, 1);
    }
}

#[tokio::test(start_paused = true)]
async fn a_stuck_rollout_times_out_with_what_it_waited_for() {
    let stuck = svc(vec![
        dep("PRIMARY", NEW, 2, 1, Some("IN_PROGRESS")),
        dep("ACTIVE", OLD, 2, 2, Some("COMPLETED")),
    ]);
    let run = drive(vec![Ok(stuck)], expect(NEW), Duration::from_secs(60)).await;
    match run.outcome {
        Ok(Outcome::TimedOut { waiting_for, .. }) => assert_eq!(
            waiting_for,
            [(
                "web".to_owned(),
                "1 of 2 tasks of web:12 running, 1 pending".to_owned()
            )]
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        run.elapsed >= Duration::from_secs(60) && run.elapsed < Duration::from_secs(61),
        "{:?}",
        run.elapsed
    );
    // 1 s for the first 30 quiet seconds, then growing toward 15 s: fewer than the 61 polls of a fixed 1 s.
    assert!(run.polls > 30 && run.polls < 45, "{} polls", run.polls);
}

#[tokio::test(start_paused = true)]
async fn throttling_mid_wait_is_retried() {
    let script = vec![
        Ok(svc(vec![
            dep("PRIMARY", NEW, 1, 0, Some("IN_PROGRESS")),
            dep("ACTIVE", OLD, 1, 1, Some("COMPLETED")),
        ])),
        Err(PollError::Throttled(
            "ThrottlingException: Rate exceeded".into(),
        )),
        Err(PollError::Throttled(
            "ThrottlingException: Rate exceeded".into(),
        )),
        Ok(svc(vec![dep("PRIMARY", NEW, 1, 1, Some("COMPLETED"))])),
    ];
    let run = drive(script, expect(NEW), MIN15).await;
    assert!(
        matches!(run.outcome, Ok(Outcome::Stable { .. })),
        "{:?}",
        run.outcome
    );
    assert_eq!(run.polls, 4);

    let run = drive(
        vec![Err(PollError::Fatal(Error::remote("access denied")))],
        expect(NEW),
        MIN15,
    )
    .await;
    assert!(matches!(run.outcome, Err(Error::Remote { .. })));
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_stops_waiting_with_the_last_state() {
    let expectations = vec![("web".to_owned(), expect(NEW))];
    let waiter = Waiter {
        expectations: &expectations,
        timeout: MIN15,
        interval: Interval::Fixed(Duration::from_secs(5)),
        ..Waiter::default()
    };
    let stuck = svc(vec![dep("PRIMARY", NEW, 2, 1, Some("IN_PROGRESS"))]);
    let outcome = waiter
        .run(
            || {
                let s = stuck.clone();
                async move { Ok(vec![s]) }
            },
            |_, _| {},
            tokio::time::sleep(Duration::from_secs(12)),
        )
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Outcome::Interrupted { services } if services.len() == 1),
        "{outcome:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_server_errors_is_survived_until_the_rollout_completes() {
    let mut script = vec![Ok(svc(vec![
        dep("PRIMARY", NEW, 1, 0, Some("IN_PROGRESS")),
        dep("ACTIVE", OLD, 1, 1, Some("COMPLETED")),
    ]))];
    for _ in 0..6 {
        script.push(Err(PollError::Transient(
            "ServerException: 503 Service Unavailable".into(),
        )));
    }
    script.push(Ok(svc(vec![dep("PRIMARY", NEW, 1, 1, Some("COMPLETED"))])));
    let run = drive(script, expect(NEW), MIN15).await;
    assert!(
        matches!(run.outcome, Ok(Outcome::Stable { .. })),
        "{:?}",
        run.outcome
    );
    assert_eq!(run.polls, 8);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_cuts_a_poll_that_never_answers() {
    let expectations = vec![("web".to_owned(), expect(NEW))];
    let waiter = Waiter {
        expectations: &expectations,
        timeout: Duration::from_secs(5),
        interval: Interval::default(),
        ..Waiter::default()
    };
    let start = Instant::now();
    let outcome = waiter
        .run(
            std::future::pending::<Result<Vec<ServiceSnapshot>, PollError>>,
            |_, _| {},
            std::future::pending(),
        )
        .await;
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    match outcome {
        Ok(Outcome::TimedOut { last_error, .. }) => {
            assert_eq!(last_error.as_deref(), Some("no answer within the timeout"))
        }
        other => panic!("{other:?}"),
    }
    // Errors until the deadline: the last one is named.
    let errors = || async {
        Err::<Vec<ServiceSnapshot>, _>(PollError::Transient("connection reset".into()))
    };
    let waiter = Waiter {
        expectations: &expectations,
        timeout: Duration::from_secs(10),
        interval: Interval::default(),
        ..Waiter::default()
    };
    match waiter.run(errors, |_, _| {}, std::future::pending()).await {
        Ok(Outcome::TimedOut { last_error, .. }) => {
            assert_eq!(last_error.as_deref(), Some("connection reset"))
        }
        other => panic!("{other:?}"),
    }
    assert!(waiter.retried.load(Ordering::Relaxed) >= 4);
}

/// A blue/green deployment whose legacy view looks settled from the first poll: the wait ends on
/// the poll that sees SUCCESSFUL, says once that the views disagree, and shows each stage.
#[tokio::test(start_paused = true)]
async fn a_settled_looking_blue_green_deployment_is_stable_only_when_its_service_deployment_is() {
    use crate::core::deployment::tests::view;
    let with = |status: &str, stage: Option<&str>| {
        let mut s = svc(vec![dep("PRIMARY", NEW, 2, 2, Some("COMPLETED"))]);
        let mut d = view("BLUE_GREEN", status, stage);
        d.target_task_definition = Some(NEW.into());
        s.service_deployment = Some(d);
        Ok(s)
    };
    let script = vec![
        with("IN_PROGRESS", Some("PRODUCTION_TRAFFIC_SHIFT")),
        with("IN_PROGRESS", Some("BAKE_TIME")),
        with("IN_PROGRESS", Some("BAKE_TIME")),
        with("IN_PROGRESS", Some("CLEAN_UP")),
        with("SUCCESSFUL", None),
    ];
    let run = drive(script, expect(NEW), MIN15).await;
    assert!(
        matches!(run.outcome, Ok(Outcome::Stable { .. })),
        "{:?}",
        run.outcome
    );
    assert_eq!(
        run.polls, 5,
        "stable on the poll that saw SUCCESSFUL, not before"
    );
    let said = |needle: &str| run.lines.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(
        said("DescribeServices alone would call this stable"),
        1,
        "{:#?}",
        run.lines
    );
    for stage in [
        "stage PRODUCTION_TRAFFIC_SHIFT",
        "stage BAKE_TIME",
        "stage CLEAN_UP",
        "BLUE_GREEN SUCCESSFUL",
    ] {
        assert_eq!(said(stage), 1, "{stage}: {:#?}", run.lines);
    }
}

#[tokio::test(start_paused = true)]
async fn wait_until_paused_ends_at_the_hook_awaiting_action() {
    use crate::core::deployment::{Hook, WaitUntil, tests::view};
    let mut s = svc(vec![dep("PRIMARY", NEW, 2, 2, Some("COMPLETED"))]);
    let mut d = view("BLUE_GREEN", "IN_PROGRESS", Some("POST_TEST_TRAFFIC_SHIFT"));
    d.hooks = vec![Hook {
        id: "h-1".into(),
        target_type: "PAUSE".into(),
        target_arn: None,
        status: "AWAITING_ACTION".into(),
        expires_at: None,
        timeout_action: None,
    }];
    s.service_deployment = Some(d);
    let want = Expectation {
        until: WaitUntil::Paused,
        ..expect(NEW)
    };
    let run = drive(vec![Ok(s)], want, MIN15).await;
    assert!(
        matches!(&run.outcome, Ok(Outcome::Paused { reason, .. }) if reason.contains("hook h-1 (PAUSE) AWAITING_ACTION")),
        "{:?}",
        run.outcome
    );
}
