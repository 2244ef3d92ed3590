//! Hostile inputs and endpoints: a deleted service, a hung endpoint and a signal, control sequences
//! and workflow commands in what AWS says, a dry run that must change nothing.

use std::time::Duration;

use crate::harness::{black_hole, ecs_ship, emulator, run, signalled, timed};

/// The write operations a deploy can make against ECS and CloudWatch Logs.
const WRITES: [&str; 4] = [
    "RegisterTaskDefinition",
    "UpdateService",
    "CreateLogGroup",
    "PutRetentionPolicy",
];

fn writes(calls: &serde_json::Value) -> Vec<(&'static str, u64)> {
    WRITES
        .iter()
        .filter_map(|op| calls[*op].as_u64().map(|n| (*op, n)))
        .collect()
}

#[test]
fn a_deleted_or_draining_service_is_refused_before_anything_is_registered() {
    for (scenario, status) in [("inactive", "INACTIVE"), ("draining", "DRAINING")] {
        let Some(emulator) = emulator(scenario) else {
            return;
        };
        run(&mut emulator.deploy(&["--image", "api=r/api:2", "--timeout", "30s"]))
            .expect_code(2)
            .stderr_has(&format!(
                "service `web` is {status} (deleted or being deleted)"
            ));
        assert_eq!(writes(&emulator.calls()), vec![], "{scenario}");
        let mut doctor = emulator.command(&["doctor", "--cluster", "c", "--service", "web"]);
        let doctor = run(&mut doctor);
        assert_ne!(
            doctor.code, 0,
            "doctor must not call {status} ok: {}",
            doctor.stdout
        );
        assert!(
            doctor
                .stdout
                .contains(&format!("service `web` is {status}")),
            "{}",
            doctor.stdout
        );
    }
}

#[test]
fn a_dry_run_deploy_of_one_service_or_two_calls_no_write_api() {
    for services in [&["web"][..], &["web", "worker"]] {
        let Some(emulator) = emulator("pair") else {
            return;
        };
        let mut cmd = emulator.command(&[
            "deploy",
            "--cluster",
            "c",
            "--dry-run",
            "--image",
            "api=r/api:2",
        ]);
        for s in services {
            cmd.args(["--service", s]);
        }
        run(&mut cmd)
            .expect_code(0)
            .stderr_has("dry run: would update service `web`");
        let calls = emulator.calls();
        assert_eq!(writes(&calls), vec![], "{services:?}: {calls}");
        assert!(
            calls["DescribeServices"].as_u64().unwrap_or(0) >= 1,
            "{calls}"
        );
    }
}

#[test]
fn a_signal_during_the_first_hung_call_ends_at_once() {
    let endpoint = format!("http://{}", black_hole());
    for (args, signal, code) in [
        (
            &["wait", "--cluster", "c", "--service", "web"][..],
            "-TERM",
            143,
        ),
        (
            &[
                "deploy",
                "--cluster",
                "c",
                "--service",
                "web",
                "--image",
                "api=r/api:2",
            ][..],
            "-INT",
            130,
        ),
        (
            &[
                "release",
                "--context",
                ".",
                "--repository",
                "127.0.0.1:1/api",
                "--cluster",
                "c",
                "--service",
                "web",
                "--container",
                "api",
            ][..],
            "-TERM",
            143,
        ),
    ] {
        let mut cmd = ecs_ship();
        cmd.env("AWS_ENDPOINT_URL", &endpoint).args(args);
        let start = std::time::Instant::now();
        // No --timeout: after a few seconds it says what it waits for, and a signal ends it.
        let run = signalled(&mut cmd, "still waiting for AWS", signal).expect_code(code);
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{args:?} took {:?} to end after {signal}: {}",
            start.elapsed(),
            run.stderr
        );
    }
}

#[test]
fn a_zero_timeout_is_a_bad_value_not_a_silent_endpoint() {
    let (run, _) = timed(ecs_ship().args([
        "wait",
        "--cluster",
        "c",
        "--service",
        "web",
        "--timeout",
        "0",
    ]));
    run.expect_code(2)
        .stderr_has("leaves no time to wait for anything");
}

#[test]
fn control_sequences_and_workflow_commands_from_aws_are_neutralised() {
    let Some(emulator) = emulator("hostile") else {
        return;
    };
    let mut cmd = ecs_ship();
    cmd.env("AWS_ENDPOINT_URL", &emulator.endpoint)
        .env("GITHUB_ACTIONS", "true")
        .args(["status", "--cluster", "c", "--service", "web"]);
    let run = run(&mut cmd).expect_code(0);
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(!text.contains('\u{1b}'), "raw ESC on {name}: {text:?}");
        assert!(!text.contains('\u{7}'), "raw BEL on {name}: {text:?}");
        assert!(
            !text.lines().any(|l| l.starts_with("::add-mask::")),
            "a workflow command at column 0 on {name}: {text}"
        );
    }
    assert!(run.stdout.contains("cleared"), "{}", run.stdout);
}

#[test]
fn a_service_with_no_tasks_wanted_is_stable_and_says_nothing_runs() {
    let Some(emulator) = emulator("idle") else {
        return;
    };
    let mut cmd = emulator.command(&["wait", "--cluster", "c", "--service", "web"]);
    run(&mut cmd)
        .expect_code(0)
        .stdout_has("web: stable on web:11")
        .stdout_has("(desired count is 0: no task runs)");
}

#[test]
fn a_failed_update_is_a_failed_deploy_that_updated_nothing() {
    let Some(emulator) = emulator("update-fails") else {
        return;
    };
    let run = run(&mut emulator.deploy(&[
        "--image",
        "api=r/api:2",
        "--no-create-log-group",
        "--output",
        "json",
    ]))
    .expect_code(3)
    .stderr_has("the service cannot be updated")
    .stderr_has("services already updated: none");
    let json = run.json();
    assert_eq!(json["verdict"], "failed", "{json}");
    assert_eq!(json["updated"], serde_json::json!([]), "{json}");
}

#[test]
fn status_of_several_services_with_one_missing_reports_the_others() {
    let Some(emulator) = emulator("pair") else {
        return;
    };
    let mut cmd = emulator.command(&["status", "--cluster", "c"]);
    for s in ["web", "ghost", "worker"] {
        cmd.args(["--service", s]);
    }
    run(&mut cmd)
        .expect_code(3)
        .stdout_has("web: ACTIVE")
        .stdout_has("worker: ACTIVE")
        .stdout_has("ghost: not found in cluster `c` (MISSING)")
        .stderr_has("1 of 3 services not found in cluster `c`");
}

#[test]
fn services_sharing_a_log_group_create_it_once() {
    let Some(emulator) = emulator("pair") else {
        return;
    };
    let mut cmd = emulator.command(&["deploy", "--cluster", "c", "--no-wait"]);
    cmd.args([
        "--service",
        "web",
        "--service",
        "worker",
        "--image",
        "api=r/api:2",
    ]);
    run(&mut cmd).expect_code(0);
    let calls = emulator.calls();
    assert_eq!(calls["RegisterTaskDefinition"], 2, "{calls}");
    assert_eq!(calls["CreateLogGroup"], 1, "one group, /ecs/web: {calls}");
}

#[test]
fn a_deploy_that_raced_another_names_what_it_really_replaced() {
    let Some(emulator) = emulator("raced") else {
        return;
    };
    let run = run(&mut emulator.deploy(&[
        "--image",
        "api=r/api:2",
        "--no-create-log-group",
        "--output",
        "json",
    ]))
    .expect_code(0)
    .stderr_has("changed since it was checked: it ran arn:aws:ecs:us-east-1:123456789012:task-definition/web:13 when updated");
    let json = run.json();
    assert_eq!(
        json["services"][0]["previous"],
        "arn:aws:ecs:us-east-1:123456789012:task-definition/web:13",
        "{json}"
    );
}

#[test]
fn a_missing_profile_or_an_empty_credential_variable_is_named_before_any_call() {
    let Some(emulator) = emulator("instant") else {
        return;
    };
    let mut cmd = emulator.command(&["status", "--cluster", "c", "--service", "web"]);
    cmd.env("AWS_PROFILE", "no-such-profile");
    run(&mut cmd)
        .expect_code(2)
        .stderr_has("AWS profile `no-such-profile` (AWS_PROFILE) is in none of ")
        .stderr_has("/.aws/config");
    let mut cmd = emulator.command(&["status", "--cluster", "c", "--service", "web"]);
    cmd.env("AWS_SESSION_TOKEN", "");
    run(&mut cmd)
        .expect_code(2)
        .stderr_has("AWS_SESSION_TOKEN set but empty");
    assert_eq!(
        emulator.calls()["DescribeServices"],
        serde_json::Value::Null
    );
}

#[test]
fn authentication_failures_say_what_they_mean() {
    for (code, meaning) in [
        ("InvalidSignatureException", "check this machine's clock"),
        (
            "ExpiredTokenException",
            "the session credentials have expired",
        ),
        (
            "UnrecognizedClientException",
            "AWS does not know this access key",
        ),
    ] {
        let Some(emulator) = emulator(&format!("auth-{code}")) else {
            return;
        };
        for args in [
            &["status", "--cluster", "c", "--service", "web"][..],
            &[
                "deploy",
                "--cluster",
                "c",
                "--service",
                "web",
                "--image",
                "api=r/api:2",
            ],
        ] {
            run(&mut emulator.command(args))
                .expect_code(3)
                .stderr_has(meaning)
                .stderr_has(
                    "(credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY from the environment)",
                );
        }
    }
}
