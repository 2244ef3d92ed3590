//! Table tests of the service deployment's verdict, its lines, and how ours is found.

use super::*;
use crate::core::rollout::Verdict;

const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:12";
const OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:11";

pub(crate) fn view(strategy: &str, status: &str, stage: Option<&str>) -> ServiceDeploymentView {
    ServiceDeploymentView {
        arn: "arn:aws:ecs:us-east-1:123456789012:service-deployment/bench/web/sd-2".into(),
        status: status.into(),
        stage: stage.map(str::to_owned),
        strategy: Some(strategy.into()),
        bake_minutes: Some(10),
        target_task_definition: Some(NEW.into()),
        target_running: 2,
        target_requested: 2,
        ..Default::default()
    }
}

fn pause(status: &str) -> Hook {
    Hook {
        id: "h-1".into(),
        target_type: "PAUSE".into(),
        target_arn: None,
        status: status.into(),
        expires_at: Some("2026-12-04T20:00:00Z".into()),
        timeout_action: Some("ROLLBACK".into()),
    }
}

fn kind(v: &DeploymentVerdict) -> &'static str {
    match v {
        DeploymentVerdict::Successful => "successful",
        DeploymentVerdict::Reached(..) => "reached",
        DeploymentVerdict::Paused(_) => "paused",
        DeploymentVerdict::InProgress(_) => "in_progress",
        DeploymentVerdict::Failed(_) => "failed",
    }
}

fn reason(v: &DeploymentVerdict) -> &str {
    match v {
        DeploymentVerdict::Successful => "",
        DeploymentVerdict::Reached(_, r)
        | DeploymentVerdict::Paused(r)
        | DeploymentVerdict::InProgress(r)
        | DeploymentVerdict::Failed(r) => r,
    }
}

/// name, the deployment, --wait-until, follow a rollback, --max-task-failures, the verdict's kind,
/// a part of its reason.
type Case = (
    &'static str,
    ServiceDeploymentView,
    WaitUntil,
    bool,
    Option<i32>,
    &'static str,
    &'static str,
);

#[test]
fn the_status_of_the_service_deployment_is_the_verdict() {
    let mut breaker = view("ROLLING", "ROLLBACK_SUCCESSFUL", None);
    breaker.status_reason = Some("ECS deployment circuit breaker: tasks failed to start.".into());
    breaker.breaker = Some((3, 3));
    let mut alarm = view("BLUE_GREEN", "ROLLBACK_SUCCESSFUL", Some("BAKE_TIME"));
    alarm.rollback_reason = Some("CloudWatch alarm triggered".into());
    alarm.triggered_alarms = vec!["web-5xx".into()];
    let mut rolling_back = view("BLUE_GREEN", "ROLLBACK_IN_PROGRESS", Some("BAKE_TIME"));
    rolling_back.triggered_alarms = vec!["web-5xx".into()];
    let mut paused = view("BLUE_GREEN", "IN_PROGRESS", Some("POST_TEST_TRAFFIC_SHIFT"));
    paused.hooks = vec![pause("AWAITING_ACTION")];
    let mut lambda = view("BLUE_GREEN", "IN_PROGRESS", Some("POST_SCALE_UP"));
    lambda.hooks = vec![Hook {
        target_type: "AWS_LAMBDA".into(),
        ..pause("IN_PROGRESS")
    }];
    let mut failing = view("ROLLING", "IN_PROGRESS", None);
    failing.breaker = Some((2, 5));
    use WaitUntil::*;
    let cases: Vec<Case> = vec![
        (
            "successful",
            view("ROLLING", "SUCCESSFUL", None),
            Complete,
            true,
            None,
            "successful",
            "",
        ),
        (
            "successful whatever the wait",
            view("CANARY", "SUCCESSFUL", None),
            Paused,
            true,
            None,
            "successful",
            "",
        ),
        (
            "pending",
            view("ROLLING", "PENDING", None),
            Complete,
            true,
            None,
            "in_progress",
            "PENDING",
        ),
        (
            "breaker rollback, with counts",
            breaker,
            Complete,
            true,
            None,
            "failed",
            "circuit breaker: 3 failed tasks (threshold 3)",
        ),
        (
            "alarm rollback names the alarm",
            alarm,
            Complete,
            true,
            None,
            "failed",
            "alarms in ALARM: web-5xx",
        ),
        (
            "a rollback in progress is followed",
            rolling_back.clone(),
            Complete,
            true,
            None,
            "in_progress",
            "rolling back (ROLLBACK_IN_PROGRESS)",
        ),
        (
            "or not, with --no-wait-rollback",
            rolling_back,
            Complete,
            false,
            None,
            "failed",
            "rolling back",
        ),
        (
            "rollback failed",
            view("LINEAR", "ROLLBACK_FAILED", None),
            Complete,
            true,
            None,
            "failed",
            "ROLLBACK_FAILED",
        ),
        (
            "stopped",
            view("ROLLING", "STOPPED", None),
            Complete,
            true,
            None,
            "failed",
            "STOPPED",
        ),
        (
            "stop requested goes on",
            view("ROLLING", "STOP_REQUESTED", None),
            Complete,
            true,
            None,
            "in_progress",
            "STOP_REQUESTED",
        ),
        (
            "bake time is not the end",
            view("BLUE_GREEN", "IN_PROGRESS", Some("BAKE_TIME")),
            Complete,
            true,
            None,
            "in_progress",
            "stage BAKE_TIME",
        ),
        (
            "traffic shifted during the bake",
            view("BLUE_GREEN", "IN_PROGRESS", Some("BAKE_TIME")),
            TrafficShifted,
            true,
            None,
            "reached",
            "not waited for: the bake time (10m)",
        ),
        (
            "traffic shifted after the shift",
            view(
                "LINEAR",
                "IN_PROGRESS",
                Some("POST_PRODUCTION_TRAFFIC_SHIFT"),
            ),
            TrafficShifted,
            true,
            None,
            "reached",
            "production traffic is on web:12",
        ),
        (
            "not while shifting",
            view("CANARY", "IN_PROGRESS", Some("PRODUCTION_TRAFFIC_SHIFT")),
            TrafficShifted,
            true,
            None,
            "in_progress",
            "PRODUCTION_TRAFFIC_SHIFT",
        ),
        (
            "the bake is not over while baking",
            view("BLUE_GREEN", "IN_PROGRESS", Some("BAKE_TIME")),
            Bake,
            true,
            None,
            "in_progress",
            "BAKE_TIME",
        ),
        (
            "the bake is over at clean-up",
            view("BLUE_GREEN", "IN_PROGRESS", Some("CLEAN_UP")),
            Bake,
            true,
            None,
            "reached",
            "clean-up",
        ),
        (
            "a paused hook stops --wait-until paused",
            paused.clone(),
            WaitUntil::Paused,
            true,
            None,
            "paused",
            "hook h-1 (PAUSE) AWAITING_ACTION",
        ),
        (
            "and is waited through otherwise",
            paused,
            Complete,
            true,
            None,
            "in_progress",
            "paused at POST_TEST_TRAFFIC_SHIFT",
        ),
        (
            "a running Lambda hook is not a pause",
            lambda,
            WaitUntil::Paused,
            true,
            None,
            "in_progress",
            "POST_SCALE_UP",
        ),
        (
            "--max-task-failures from the breaker's count",
            failing.clone(),
            Complete,
            true,
            Some(2),
            "failed",
            "2 tasks of web:12 failed",
        ),
        (
            "below it goes on",
            failing,
            Complete,
            true,
            Some(3),
            "in_progress",
            "2 of 2 tasks",
        ),
    ];
    for (name, d, until, wait_rollback, max, want_kind, needle) in cases {
        let v = deployment_verdict(&d, until, wait_rollback, max);
        assert_eq!(kind(&v), want_kind, "{name}: {v:?}");
        assert!(
            reason(&v).contains(needle),
            "{name}: {:?} lacks {needle:?}",
            reason(&v)
        );
    }
}

#[test]
fn each_stage_traffic_share_bake_and_hook_has_its_line() {
    let mut d = view("LINEAR", "IN_PROGRESS", Some("PRODUCTION_TRAFFIC_SHIFT"));
    d.production_traffic = Some(25.0);
    d.test_traffic = Some(100.0);
    let lines = d.lines();
    assert_eq!(
        lines,
        vec![
            "service deployment sd-2: LINEAR IN_PROGRESS, stage PRODUCTION_TRAFFIC_SHIFT",
            "service deployment sd-2: production traffic 25% on web:12, test traffic 100%",
        ]
    );
    let mut bake = view("BLUE_GREEN", "IN_PROGRESS", Some("BAKE_TIME"));
    bake.updated_at = Some("2026-12-04T19:30:00Z".into());
    bake.hooks = vec![pause("SUCCEEDED")];
    assert_eq!(
        bake.lines()[1..],
        [
            "service deployment sd-2: bake time 10m, ends about 2026-12-04T19:40:00Z",
            "service deployment sd-2: hook h-1 (PAUSE) SUCCEEDED, times out at 2026-12-04T20:00:00Z (then ROLLBACK)",
        ]
    );
    // A rolling deployment has no traffic share worth a line; an ended one no stage.
    let mut rolling = view("ROLLING", "SUCCESSFUL", Some("CLEAN_UP"));
    rolling.production_traffic = Some(100.0);
    assert_eq!(
        rolling.lines(),
        vec!["service deployment sd-2: ROLLING SUCCESSFUL"]
    );
}

#[test]
fn ours_is_the_newest_deploying_our_revision_since_the_update() {
    let list = vec![
        ("sd-3".to_owned(), Some(OLD.to_owned()), Some(1_000)),
        ("sd-2".to_owned(), Some(NEW.to_owned()), Some(990)),
        ("sd-1".to_owned(), Some(NEW.to_owned()), Some(100)),
    ];
    let cases = [
        ("the newest of ours", Some(980), Some("sd-2")),
        ("any of ours without a start", None, Some("sd-2")),
        ("skew is allowed", Some(1_040), Some("sd-2")),
        ("an older one of ours is not ours", Some(2_000), None),
    ];
    for (name, since, want) in cases {
        assert_eq!(ours(&list, NEW, since), want, "{name}");
    }
    assert_eq!(ours(&list, "web:99", None), None);
}

#[test]
fn the_views_disagreeing_is_said_once_it_matters() {
    let baking = DeploymentVerdict::InProgress("stage BAKE_TIME".into());
    let cases = [
        (
            "stable too early",
            Verdict::Stable,
            baking.clone(),
            Some("would call this stable"),
        ),
        (
            "a legacy failure",
            Verdict::Failed("rolled back".into()),
            baking.clone(),
            Some("suggests a failure"),
        ),
        (
            "a legacy lag",
            Verdict::InProgress("draining".into()),
            DeploymentVerdict::Successful,
            Some("trusting the service deployment"),
        ),
        (
            "both in progress",
            Verdict::InProgress("x".into()),
            baking,
            None,
        ),
        (
            "both done",
            Verdict::Stable,
            DeploymentVerdict::Successful,
            None,
        ),
        (
            "both failed",
            Verdict::Failed("a".into()),
            DeploymentVerdict::Failed("b".into()),
            None,
        ),
    ];
    for (name, legacy, sd, want) in cases {
        let got = disagreement(&legacy, &sd, "IN_PROGRESS");
        match want {
            Some(needle) => assert!(
                got.as_deref().is_some_and(|g| g.contains(needle)),
                "{name}: {got:?}"
            ),
            None => assert_eq!(got, None, "{name}"),
        }
    }
}

#[test]
fn the_previous_revision_is_what_the_current_one_replaced() {
    let deployed = |target: &str, sources: &[&str], status: &str| ServiceDeploymentView {
        target_task_definition: Some(target.into()),
        source_task_definitions: sources.iter().map(|s| s.to_string()).collect(),
        status: status.into(),
        ..Default::default()
    };
    let web = |n: u32| format!("arn:aws:ecs:us-east-1:123456789012:task-definition/web:{n}");
    let cases: Vec<(&str, String, Vec<ServiceDeploymentView>, Option<String>)> = vec![
        (
            "what the current deployment replaced",
            web(12),
            vec![
                deployed(&web(12), &[&web(11)], "SUCCESSFUL"),
                deployed(&web(11), &[&web(10)], "SUCCESSFUL"),
            ],
            Some(web(11)),
        ),
        (
            "a redeploy of the same revision looks further",
            web(12),
            vec![
                deployed(&web(12), &[&web(12)], "SUCCESSFUL"),
                deployed(&web(10), &[&web(9)], "SUCCESSFUL"),
            ],
            Some(web(10)),
        ),
        (
            "a failed one is not gone back to",
            web(12),
            vec![
                deployed(&web(12), &[&web(12)], "SUCCESSFUL"),
                deployed(&web(13), &[&web(12)], "ROLLBACK_SUCCESSFUL"),
            ],
            None,
        ),
        ("nothing known", web(12), vec![], None),
        (
            "never the running one",
            web(11),
            vec![deployed(&web(11), &[&web(11)], "SUCCESSFUL")],
            None,
        ),
    ];
    for (name, running, recent, want) in cases {
        assert_eq!(previous_revision(&running, &recent), want, "{name}");
    }
}

#[test]
fn a_rollback_asked_for_ends_well_when_rolled_back() {
    let mut d = view("BLUE_GREEN", "ROLLBACK_SUCCESSFUL", None);
    d.source_task_definitions = vec![OLD.into()];
    let cases = [
        ("ROLLBACK_SUCCESSFUL", "successful", ""),
        (
            "ROLLBACK_IN_PROGRESS",
            "in_progress",
            "rolling back to web:11",
        ),
        ("ROLLBACK_FAILED", "failed", "ROLLBACK_FAILED"),
        ("SUCCESSFUL", "failed", "without rolling back to web:11"),
        ("IN_PROGRESS", "in_progress", "to start rolling back"),
    ];
    for (status, want, needle) in cases {
        d.status = status.into();
        let v = rollback_verdict(&d);
        assert_eq!(kind(&v), want, "{status}");
        assert!(reason(&v).contains(needle), "{status}: {v:?}");
    }
}
