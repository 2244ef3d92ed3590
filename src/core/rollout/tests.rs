//! Table tests of the stability verdict and of what is printed while waiting; the helpers here
//! (`dep`, `svc`, `expect`) also build the scripted sequences of `wait::tests`.

use super::*;

pub(crate) const OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:11";
pub(crate) const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:12";
const OTHER: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:13";

pub(crate) fn dep(
    status: &str,
    td: &str,
    desired: i32,
    running: i32,
    rollout: Option<&str>,
) -> Deployment {
    Deployment {
        id: format!("ecs-svc/{status}-{}", short_arn(td)),
        status: status.into(),
        task_definition: td.into(),
        desired,
        pending: desired - running,
        running,
        failed_tasks: 0,
        rollout_state: rollout.map(str::to_owned),
        rollout_state_reason: None,
    }
}

pub(crate) fn svc(deployments: Vec<Deployment>) -> ServiceSnapshot {
    let desired = deployments
        .iter()
        .find(|d| d.status == "PRIMARY")
        .map_or(0, |d| d.desired);
    ServiceSnapshot {
        name: "web".into(),
        status: "ACTIVE".into(),
        task_definition: deployments
            .first()
            .map(|d| d.task_definition.clone())
            .unwrap_or_default(),
        desired,
        running: deployments.iter().map(|d| d.running).sum(),
        pending: 0,
        deployments,
        events: vec![],
        ..Default::default()
    }
}

pub(crate) fn expect(td: &str) -> Expectation {
    Expectation {
        previous: Some(OLD.into()),
        ..Expectation::new(td)
    }
}

fn is_failed_with(v: &Verdict, needle: &str) -> bool {
    matches!(v, Verdict::Failed(r) if r.contains(needle))
}

#[test]
fn stable_only_on_one_completed_primary_deployment_of_our_revision() {
    let stable = svc(vec![dep("PRIMARY", NEW, 2, 2, Some("COMPLETED"))]);
    assert_eq!(verdict(&stable, &expect(NEW)), Verdict::Stable);
    let no_rollout_state = svc(vec![dep("PRIMARY", NEW, 2, 2, None)]);
    assert_eq!(verdict(&no_rollout_state, &expect(NEW)), Verdict::Stable);

    let in_progress: &[ServiceSnapshot] = &[
        svc(vec![
            dep("PRIMARY", NEW, 2, 1, Some("IN_PROGRESS")),
            dep("ACTIVE", OLD, 2, 2, Some("COMPLETED")),
        ]),
        svc(vec![
            dep("PRIMARY", NEW, 2, 2, Some("IN_PROGRESS")),
            dep("ACTIVE", OLD, 0, 1, Some("COMPLETED")),
        ]),
        svc(vec![dep("PRIMARY", NEW, 2, 2, Some("IN_PROGRESS"))]),
        svc(vec![dep("PRIMARY", NEW, 2, 1, Some("COMPLETED"))]),
        svc(vec![]),
    ];
    for s in in_progress {
        assert!(
            matches!(verdict(s, &expect(NEW)), Verdict::InProgress(_)),
            "{s:?}"
        );
    }
}

#[test]
fn a_rollback_to_the_old_revision_is_a_failure_even_when_it_looks_stable() {
    // The false green: one deployment, counts equal, COMPLETED - but on the OLD revision.
    let mut ours = dep("ACTIVE", NEW, 0, 0, Some("FAILED"));
    ours.rollout_state_reason =
        Some("ECS deployment circuit breaker: tasks failed to start.".into());
    let rolling_back = svc(vec![dep("PRIMARY", OLD, 2, 2, Some("IN_PROGRESS")), ours]);
    let v = verdict(&rolling_back, &expect(NEW));
    assert!(
        is_failed_with(
            &v,
            "the deployment of web:12 was rolled back: the PRIMARY deployment runs web:11 again"
        ),
        "{v:?}"
    );
    assert!(
        is_failed_with(&v, "circuit breaker: tasks failed to start"),
        "{v:?}"
    );

    let rolled_back = svc(vec![dep("PRIMARY", OLD, 2, 2, Some("COMPLETED"))]);
    assert!(is_failed_with(
        &verdict(&rolled_back, &expect(NEW)),
        "was rolled back"
    ));
}

#[test]
fn failures_are_named() {
    let superseded = svc(vec![
        dep("PRIMARY", OTHER, 2, 0, Some("IN_PROGRESS")),
        dep("ACTIVE", NEW, 2, 2, Some("COMPLETED")),
    ]);
    assert!(is_failed_with(
        &verdict(&superseded, &expect(NEW)),
        "runs web:13, not web:12: another deployment superseded ours"
    ));

    let mut failed = dep("PRIMARY", NEW, 2, 0, Some("FAILED"));
    failed.rollout_state_reason = Some("tasks failed to start".into());
    assert!(is_failed_with(
        &verdict(&svc(vec![failed]), &expect(NEW)),
        "the rollout of web:12 FAILED: tasks failed to start"
    ));

    let mut missing = svc(vec![]);
    missing.status = "MISSING".into();
    assert!(is_failed_with(
        &verdict(&missing, &expect(NEW)),
        "is MISSING"
    ));
    for status in ["DRAINING", "INACTIVE"] {
        let mut s = svc(vec![dep("PRIMARY", NEW, 1, 1, Some("COMPLETED"))]);
        s.status = status.into();
        assert!(
            is_failed_with(&verdict(&s, &expect(NEW)), status),
            "{status}"
        );
    }
}

#[test]
fn max_task_failures_fails_fast() {
    let mut d = dep("PRIMARY", NEW, 2, 0, Some("IN_PROGRESS"));
    d.failed_tasks = 3;
    let s = svc(vec![d, dep("ACTIVE", OLD, 2, 2, Some("COMPLETED"))]);
    assert!(
        matches!(verdict(&s, &expect(NEW)), Verdict::InProgress(_)),
        "without the flag, ECS decides"
    );
    let want = Expectation {
        max_task_failures: Some(3),
        ..expect(NEW)
    };
    assert!(is_failed_with(
        &verdict(&s, &want),
        "3 tasks of web:12 failed"
    ));
}

#[test]
fn progress_prints_new_events_once_and_changed_deployment_lines() {
    let mut s = svc(vec![
        dep("PRIMARY", NEW, 2, 1, Some("IN_PROGRESS")),
        dep("ACTIVE", OLD, 2, 2, Some("COMPLETED")),
    ]);
    s.events = vec![
        ServiceEvent {
            id: "e2".into(),
            created_at: "t2".into(),
            message: "(service web) has started 1 tasks".into(),
        },
        ServiceEvent {
            id: "e1".into(),
            created_at: "t1".into(),
            message: "(service web) updated".into(),
        },
    ];
    let (mut seen, mut last) = (Vec::new(), Vec::new());
    assert_eq!(
        progress(&s, &mut seen, &mut last),
        Progress {
            events: vec![
                "t1 (service web) updated".into(),
                "t2 (service web) has started 1 tasks".into()
            ],
            deployments: vec![
                "PRIMARY web:12 desired 2 pending 1 running 1 IN_PROGRESS".into(),
                "ACTIVE web:11 desired 2 pending 0 running 2 COMPLETED".into(),
            ],
        }
    );
    assert!(
        progress(&s, &mut seen, &mut last).is_empty(),
        "nothing new, nothing printed"
    );
    s.deployments[0].running = 2;
    s.deployments[0].pending = 0;
    s.events.insert(
        0,
        ServiceEvent {
            id: "e3".into(),
            created_at: "t3".into(),
            message: "steady".into(),
        },
    );
    assert_eq!(
        progress(&s, &mut seen, &mut last),
        Progress {
            events: vec!["t3 steady".into()],
            deployments: vec!["PRIMARY web:12 desired 2 pending 0 running 2 IN_PROGRESS".into()],
        }
    );
}

#[test]
fn each_wait_end_gives_each_service_its_verdict() {
    let cases = [
        (WaitEnd::Stable, None, ServiceVerdict::Stable, None),
        (WaitEnd::Stable, Some("x"), ServiceVerdict::Stable, None),
        (
            WaitEnd::Failed,
            Some("rolled back"),
            ServiceVerdict::Failed,
            Some("rolled back"),
        ),
        (WaitEnd::Failed, None, ServiceVerdict::InProgress, None),
        (
            WaitEnd::TimedOut,
            Some("1 of 2 running"),
            ServiceVerdict::TimedOut,
            Some("1 of 2 running"),
        ),
        (WaitEnd::TimedOut, None, ServiceVerdict::InProgress, None),
        (
            WaitEnd::Interrupted,
            None,
            ServiceVerdict::Interrupted,
            None,
        ),
    ];
    for (end, failing, verdict, reason) in cases {
        assert_eq!(
            service_verdict(end, failing),
            (verdict, reason.map(str::to_owned)),
            "{end:?} {failing:?}"
        );
    }
    assert!(ServiceVerdict::TimedOut.needs_diagnosis());
    assert!(!ServiceVerdict::Interrupted.needs_diagnosis());
}

#[test]
fn only_an_active_service_with_the_ecs_or_codedeploy_controller_is_deployable() {
    let active = |c: &str| Refusal::Controller {
        service: "web".into(),
        controller: c.into(),
    };
    let gone = |s: &str| Refusal::NotActive {
        service: "web".into(),
        status: s.into(),
    };
    let cases = [
        ("ACTIVE", "ECS", None),
        ("ACTIVE", "", None),
        ("", "ECS", None),
        ("ACTIVE", "CODE_DEPLOY", None),
        ("ACTIVE", "EXTERNAL", Some(active("EXTERNAL"))),
        ("INACTIVE", "ECS", Some(gone("INACTIVE"))),
        ("DRAINING", "ECS", Some(gone("DRAINING"))),
        ("INACTIVE", "CODE_DEPLOY", Some(gone("INACTIVE"))),
    ];
    for (status, controller, want) in cases {
        assert_eq!(
            check_deployable("web", status, controller).err(),
            want,
            "{status} {controller}"
        );
    }
    assert!(
        gone("INACTIVE")
            .to_string()
            .contains("service `web` is INACTIVE")
    );
    assert!(
        active("EXTERNAL")
            .to_string()
            .contains("the EXTERNAL deployment controller")
    );
}

#[test]
fn the_deploy_verdict_is_the_worst_of_its_services() {
    use ServiceVerdict::*;
    let cases: &[(&[ServiceVerdict], bool, DeployVerdict)] = &[
        (&[Stable], false, DeployVerdict::Stable),
        (&[Stable, Stable], false, DeployVerdict::Stable),
        (&[Stable, InProgress], false, DeployVerdict::InProgress),
        (&[Stable, Failed, TimedOut], false, DeployVerdict::Failed),
        (&[TimedOut, Interrupted], false, DeployVerdict::TimedOut),
        (&[Interrupted, Stable], false, DeployVerdict::Interrupted),
        (&[Stable], true, DeployVerdict::Failed),
        (&[], false, DeployVerdict::Stable),
        (&[Stable, Baked], false, DeployVerdict::Baked),
        (
            &[Baked, TrafficShifted],
            false,
            DeployVerdict::TrafficShifted,
        ),
        (&[TrafficShifted, Paused], false, DeployVerdict::Paused),
        (&[Paused, InProgress], false, DeployVerdict::Paused),
        (&[Paused, Interrupted], false, DeployVerdict::Interrupted),
    ];
    for (verdicts, verify_failed, want) in cases {
        assert_eq!(
            deploy_verdict(verdicts, *verify_failed),
            *want,
            "{verdicts:?} {verify_failed}"
        );
    }
    let strings: Vec<&str> = [
        DeployVerdict::Stable,
        DeployVerdict::Failed,
        DeployVerdict::TimedOut,
        DeployVerdict::Interrupted,
        DeployVerdict::InProgress,
        DeployVerdict::DryRun,
        DeployVerdict::NotWaited,
        DeployVerdict::NotDeployed,
    ]
    .iter()
    .map(|v| v.as_str())
    .collect();
    assert_eq!(
        strings,
        [
            "stable",
            "failed",
            "timed_out",
            "interrupted",
            "in_progress",
            "dry_run",
            "not_waited",
            "not_deployed"
        ]
    );
    assert_eq!(
        serde_json::to_value(DeployVerdict::TimedOut).unwrap(),
        "timed_out"
    );
}

#[test]
fn the_rollback_scope_picks_the_services_to_send_back() {
    use ServiceVerdict::*;
    let cases = [
        (RollbackScope::Failed, Failed, false, true),
        (RollbackScope::Failed, TimedOut, false, true),
        (RollbackScope::Failed, Stable, false, false),
        (RollbackScope::Failed, InProgress, false, false),
        (RollbackScope::Failed, Stable, true, true),
        (RollbackScope::All, Stable, false, true),
        (RollbackScope::Target, Stable, false, true),
        (RollbackScope::All, InProgress, false, true),
    ];
    for (scope, verdict, verify_failed, want) in cases {
        assert_eq!(
            in_rollback_scope(scope, verdict, verify_failed),
            want,
            "{scope:?} {verdict:?} {verify_failed}"
        );
    }
}

#[test]
fn the_rollback_plan_never_redeploys_what_already_ran() {
    let cases = [
        (NEW, OLD, NEW, RollbackPlan::RollBackTo(OLD.into())),
        (NEW, OLD, OLD, RollbackPlan::AlreadyRolledBack),
        (NEW, NEW, NEW, RollbackPlan::NothingToRollBackTo),
        (NEW, OLD, OTHER, RollbackPlan::RollBackTo(OLD.into())),
    ];
    for (deployed, previous, current, plan) in cases {
        assert_eq!(
            rollback_plan(deployed, previous, current),
            plan,
            "{deployed} {previous} {current}"
        );
    }
}

#[test]
fn an_unfinished_rollout_says_what_the_new_deployment_lacks() {
    let mut never_started = dep("PRIMARY", NEW, 2, 0, Some("IN_PROGRESS"));
    never_started.failed_tasks = 3;
    let cases = [
        (
            vec![never_started, dep("ACTIVE", OLD, 2, 2, Some("COMPLETED"))],
            "0 of 2 tasks of web:12 running, 2 pending, 3 failed",
        ),
        (
            vec![
                dep("PRIMARY", NEW, 2, 2, Some("IN_PROGRESS")),
                dep("ACTIVE", OLD, 2, 2, Some("COMPLETED")),
            ],
            "web:12 is running; 1 older deployment(s) still draining",
        ),
    ];
    for (deployments, want) in cases {
        assert_eq!(
            verdict(&svc(deployments), &expect(NEW)),
            Verdict::InProgress(want.into())
        );
    }
}

#[test]
fn an_express_service_takes_one_image_for_its_primary_container_and_nothing_else() {
    let fine = ExpressAsk {
        from_service: true,
        images: 1,
        ..Default::default()
    };
    let cases = [
        ("one image", fine.clone(), None),
        (
            "named Main",
            ExpressAsk {
                container: Some("Main".into()),
                ..fine.clone()
            },
            None,
        ),
        (
            "another container",
            ExpressAsk {
                container: Some("worker".into()),
                ..fine.clone()
            },
            Some("other than its primary one"),
        ),
        (
            "no image",
            ExpressAsk {
                images: 0,
                ..fine.clone()
            },
            Some("exactly one --image"),
        ),
        (
            "a family",
            ExpressAsk {
                from_service: false,
                ..fine.clone()
            },
            Some("--family"),
        ),
        (
            "overrides",
            ExpressAsk {
                overrides: true,
                ..fine.clone()
            },
            Some("--env"),
        ),
        (
            "a count",
            ExpressAsk {
                desired_count: true,
                ..fine.clone()
            },
            Some("--desired-count"),
        ),
        (
            "a rollback",
            ExpressAsk {
                rollback_on_failure: true,
                ..fine.clone()
            },
            Some("--rollback-on-failure"),
        ),
        (
            "forced",
            ExpressAsk {
                force_new_deployment: true,
                ..fine
            },
            Some("--force-new-deployment"),
        ),
    ];
    for (name, ask, want) in cases {
        match (check_express("web", &ask), want) {
            (Ok(()), None) => {}
            (Err(r), Some(needle)) => {
                let text = r.to_string();
                assert!(
                    text.contains("is an ECS Express Mode service") && text.contains(needle),
                    "{name}: {text}"
                );
            }
            (got, want) => panic!("{name}: {got:?}, wanted {want:?}"),
        }
    }
}
