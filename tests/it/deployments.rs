//! Service deployments, scripted in tests/emulator/service_deployments.py (moto has none): the
//! verdict comes from the service deployment for every strategy - never earlier than SUCCESSFUL -
//! with the reason on failure, `--wait-until`, paused hooks, steering and rollback.

use crate::harness::*;

const V2: &str = "api=127.0.0.1:15000/api:v2";

fn deploy_on(scenario: &str, extra: &[&str]) -> Option<(Emulator, Run)> {
    let emulator = emulator(scenario)?;
    let mut cmd = emulator.deploy(&["--image", V2]);
    cmd.args(extra);
    let run = run(&mut cmd);
    Some((emulator, run))
}

fn served_successful(e: &Emulator) -> u64 {
    e.calls()["served_successful"].as_u64().unwrap_or(0)
}

#[test]
fn every_strategy_ends_on_the_successful_service_deployment_never_before() {
    for (scenario, strategy, stage) in [
        ("sd-rolling", "ROLLING", "ROLLING IN_PROGRESS"),
        ("sd-bluegreen", "BLUE_GREEN", "stage BAKE_TIME"),
        (
            "sd-linear",
            "LINEAR",
            "LINEAR IN_PROGRESS, stage PRODUCTION_TRAFFIC_SHIFT",
        ),
        (
            "sd-canary",
            "CANARY",
            "CANARY IN_PROGRESS, stage PRODUCTION_TRAFFIC_SHIFT",
        ),
    ] {
        let Some((emulator, run)) = deploy_on(scenario, &[]) else {
            return;
        };
        let run = run
            .expect_code(0)
            .stdout_has(&format!(
                "web: stable on web:1 (service deployment sd-2: {strategy} SUCCESSFUL)"
            ))
            .stderr_has(stage);
        if strategy != "ROLLING" {
            assert!(
                run.stderr.contains("production traffic ") && run.stderr.contains("% on web:1"),
                "{scenario}: no traffic share shown: {}",
                run.stderr
            );
        }
        assert!(
            served_successful(&emulator) >= 1,
            "{scenario}: stable before SUCCESSFUL was served"
        );
        if strategy != "ROLLING" {
            // Its legacy view looked settled from the scale-up on: that was not called stable.
            assert!(
                run.stderr.contains("DescribeServices alone would call this stable, but the service deployment is IN_PROGRESS"),
                "{scenario}: {}",
                run.stderr
            );
        }
        // One poll: one DescribeServices and one DescribeServiceDeployments; the deployment is
        // looked for once.
        let calls = emulator.calls();
        assert_eq!(calls["ListServiceDeployments"], 1, "{scenario}: {calls}");
        let describe = calls["DescribeServices"].as_i64().unwrap();
        let deployments = calls["DescribeServiceDeployments"].as_i64().unwrap();
        assert!((describe - deployments).abs() <= 3, "{scenario}: {calls}");
    }
}

#[test]
fn wait_until_returns_at_the_traffic_shift_or_the_end_of_the_bake_and_says_what_is_left() {
    let Some((emulator, run)) = deploy_on("sd-linear", &["--wait-until", "traffic-shifted"]) else {
        return;
    };
    run.expect_code(0)
        .stdout_has("web: traffic_shifted: production traffic is on web:1")
        .stdout_has("not waited for: the bake time (1m) and the clean-up of the old revision")
        .stdout_has("follow the rest with: ecs-ship wait --region us-east-1 --cluster c --service web --task-definition arn:aws:ecs:us-east-1:123456789012:task-definition/web:1");
    assert_eq!(
        served_successful(&emulator),
        0,
        "returned at the shift, not the end"
    );
    let Some((emulator, run)) = deploy_on(
        "sd-bluegreen",
        &["--wait-until", "bake", "--output", "json"],
    ) else {
        return;
    };
    let run = run.expect_code(0);
    let json = run.json();
    assert_eq!(json["verdict"], "baked", "{json}");
    assert_eq!(
        json["wait"]["services"][0]["service_deployment"]["stage"], "CLEAN_UP",
        "{json}"
    );
    assert_eq!(served_successful(&emulator), 0);
}

#[test]
fn a_rollback_fails_with_its_reason_the_alarm_or_the_circuit_breaker_counts() {
    let Some((_e, run)) = deploy_on("sd-alarm", &[]) else {
        return;
    };
    run.expect_code(4)
        .stderr_has("the service deployment of web:1 was rolled back (ROLLBACK_SUCCESSFUL)")
        .stderr_has("alarms in ALARM: web-5xx")
        .stderr_has("service deployment sd-2: BLUE_GREEN ROLLBACK_IN_PROGRESS");
    let Some((_e, run)) = deploy_on("sd-alarm", &["--no-wait-rollback"]) else {
        return;
    };
    run.expect_code(4)
        .stderr_has("is rolling back (ROLLBACK_IN_PROGRESS): CloudWatch alarm web-5xx is in ALARM");
    let Some((_e, run)) = deploy_on("sd-breaker", &[]) else {
        return;
    };
    run.expect_code(4)
        .stderr_has("ECS deployment circuit breaker: tasks failed to start.; circuit breaker: 3 failed tasks (threshold 3)");
}

#[test]
fn a_superseded_deployment_names_who_replaced_it() {
    let Some((_e, run)) = deploy_on("sd-superseded", &[]) else {
        return;
    };
    run.expect_code(4).stderr_has(
        "the service deployment of web:1 (STOPPED) was superseded by service deployment sd-3: the service now deploys web:13",
    );
}

#[test]
fn without_service_deployments_one_warning_names_the_iam_actions_and_the_legacy_view_decides() {
    for (scenario, code) in [
        ("sd-unknown", "UnknownOperationException"),
        ("sd-denied", "AccessDeniedException"),
    ] {
        let Some((_e, run)) = deploy_on(scenario, &[]) else {
            return;
        };
        let run = run
            .expect_code(0)
            .stdout_has("web: stable on web:1")
            .stderr_has(code)
            .stderr_has("allow ecs:ListServiceDeployments, ecs:DescribeServiceDeployments");
        assert_eq!(
            run.stderr
                .matches("service deployments are unavailable")
                .count(),
            1,
            "{}",
            run.stderr
        );
    }
}

/// The `ecs-ship ...` command a message gives after `with: `, as arguments.
fn command_after(text: &str, marker: &str) -> Vec<String> {
    let line = text
        .lines()
        .find_map(|l| l.split_once(marker).map(|(_, c)| c.to_owned()))
        .unwrap_or_else(|| panic!("no {marker:?} in:\n{text}"));
    let words = shell_words::split(line.trim()).unwrap();
    assert_eq!(words[0], "ecs-ship", "{line}");
    words[1..].to_vec()
}

#[test]
fn a_paused_hook_exits_6_with_the_command_that_continues_it() {
    let Some((emulator, run)) = deploy_on("sd-paused", &["--wait-until", "paused"]) else {
        return;
    };
    let run = run
        .expect_code(6)
        .stderr_has("paused at POST_TEST_TRAFFIC_SHIFT: hook h-approve (PAUSE) AWAITING_ACTION");
    let status = run_in(&emulator, &["status", "--cluster", "c", "--service", "web"]);
    status
        .expect_code(0)
        .stdout_has("  strategy    BLUE_GREEN, bake time 1m")
        .stdout_has("  current     sd-2 BLUE_GREEN IN_PROGRESS, stage POST_TEST_TRAFFIC_SHIFT: web:11 -> web:1")
        .stdout_has("hook h-approve (PAUSE) AWAITING_ACTION")
        .stdout_has("  earlier     sd-1 BLUE_GREEN SUCCESSFUL: web:11 -> web:11");
    let mut next = command_after(&run.stderr, "continue it with: ");
    next.push("--wait".into());
    let args: Vec<&str> = next.iter().map(String::as_str).collect();
    run_in(&emulator, &args)
        .expect_code(0)
        .stdout_has("continued at hook h-approve")
        .stdout_has("web: stable on web:1 (service deployment sd-2: BLUE_GREEN SUCCESSFUL)");
    run_in(
        &emulator,
        &[
            "deployment",
            "continue",
            "--cluster",
            "c",
            "--service",
            "web",
        ],
    )
    .expect_code(2)
    .stderr_has(
        "service `web` has no service deployment in flight: the last one, sd-2, is SUCCESSFUL",
    );
}

#[test]
fn a_hook_still_paused_at_the_deadline_is_exit_6_not_a_timeout() {
    let Some((_e, run)) = deploy_on("sd-paused", &["--timeout", "5s"]) else {
        return;
    };
    let run = run.expect_code(6).stderr_has("timed out after 5s");
    assert!(!command_after(&run.stderr, "continue with: ").is_empty());
}

fn run_in(emulator: &Emulator, args: &[&str]) -> Run {
    run(&mut emulator.command(args))
}

#[test]
fn deployment_rollback_and_stop_act_on_the_deployment_in_flight() {
    let Some((emulator, run)) = deploy_on("sd-paused", &["--wait-until", "paused"]) else {
        return;
    };
    run.expect_code(6);
    run_in(
        &emulator,
        &[
            "deployment",
            "continue",
            "--cluster",
            "c",
            "--service",
            "web",
            "--hook-id",
            "nope",
        ],
    )
    .expect_code(3)
    .stderr_has("no lifecycle hook nope");
    run_in(
        &emulator,
        &[
            "deployment",
            "rollback",
            "--cluster",
            "c",
            "--service",
            "web",
            "--wait",
        ],
    )
    .expect_code(0)
    .stdout_has("asked to roll back from web:1")
    .stdout_has("web: stable on web:11 (service deployment sd-2: BLUE_GREEN ROLLBACK_SUCCESSFUL)");
    assert_eq!(emulator.calls()["StopServiceDeployment"], 1);
    run_in(
        &emulator,
        &["deployment", "stop", "--cluster", "c", "--service", "web"],
    )
    .expect_code(2)
    .stderr_has("no service deployment in flight: the last one, sd-2, is ROLLBACK_SUCCESSFUL");
    run_in(
        &emulator,
        &[
            "deployment",
            "stop",
            "--cluster",
            "c",
            "--service",
            "web",
            "--wait",
        ],
    )
    .expect_code(2)
    .stderr_has("nothing to wait for");
}

#[test]
fn rollback_goes_back_to_the_previous_revision_and_never_onto_the_running_one() {
    let Some((emulator, run)) = deploy_on("sd-rolling", &[]) else {
        return;
    };
    run.expect_code(0);
    run_in(&emulator, &["rollback", "--cluster", "c", "--service", "web", "--poll-interval", "1s"])
        .expect_code(0)
        .stderr_has("rolling back service `web` from arn:aws:ecs:us-east-1:123456789012:task-definition/web:1 to arn:aws:ecs:us-east-1:123456789012:task-definition/web:11")
        .stdout_has("web: stable on web:11 (service deployment sd-3: ROLLING SUCCESSFUL)");
    run_in(
        &emulator,
        &[
            "rollback",
            "--cluster",
            "c",
            "--service",
            "web",
            "--to",
            "11",
        ],
    )
    .expect_code(2)
    .stderr_has("service `web` already runs web:11: nothing to roll back");
}

#[test]
fn a_cancelled_deploy_with_rollback_on_cancel_asks_ecs_to_roll_its_deployment_back() {
    let Some(emulator) = emulator("sd-bluegreen") else {
        return;
    };
    let mut cmd = emulator.deploy(&["--image", V2, "--rollback-on-cancel"]);
    signalled(&mut cmd, "service deployment sd-2: BLUE_GREEN IN_PROGRESS", "-TERM")
        .expect_code(143)
        .stderr_has("asked ECS to roll back the service deployment of `web` to arn:aws:ecs:us-east-1:123456789012:task-definition/web:11 (StopServiceDeployment ROLLBACK)");
    let calls = emulator.calls();
    assert_eq!(calls["StopServiceDeployment"], 1, "{calls}");
    assert!(
        calls.get("UpdateService").is_some_and(|n| n == 1),
        "no second update: {calls}"
    );
}

#[test]
fn an_express_service_gets_its_new_image_through_the_express_api_and_a_verdict() {
    let Some(emulator) = emulator("sd-express") else {
        return;
    };
    // A named container other than the primary one, an override: refused before anything changes.
    run(&mut emulator.deploy(&["--image", V2]))
        .expect_code(2)
        .stderr_has("is an ECS Express Mode service")
        .stderr_has("other than its primary one (Main)");
    run(&mut emulator.deploy(&["--image", "127.0.0.1:15000/api:v2", "--env", "A=1"]))
        .expect_code(2)
        .stderr_has("task definition overrides");
    let calls = emulator.calls();
    assert!(
        calls.get("UpdateExpressGatewayService").is_none()
            && calls.get("RegisterTaskDefinition").is_none(),
        "{calls}"
    );
    run(&mut emulator.deploy(&["--image", "127.0.0.1:15000/api:v2"]))
        .expect_code(0)
        .stdout_has("web: stable on web:21 (service deployment sd-2: ROLLING SUCCESSFUL)");
    let calls = emulator.calls();
    let update = &calls["express_updates"][0];
    assert_eq!(update["image"], "127.0.0.1:15000/api:v2", "{calls}");
    assert_eq!(
        update["environment"][0]["name"], "MODE",
        "the rest of the container is kept: {calls}"
    );
    assert!(
        calls.get("UpdateService").is_none() && calls.get("RegisterTaskDefinition").is_none(),
        "{calls}"
    );
    run_in(
        &emulator,
        &["rollback", "--cluster", "c", "--service", "web"],
    )
    .expect_code(2)
    .stderr_has("is an ECS Express Mode service: ECS owns its revisions");
    run_in(&emulator, &["status", "--cluster", "c", "--service", "web"])
        .expect_code(0)
        .stdout_has("  express     ECS Express Mode service (ACTIVE), image 127.0.0.1:15000/api:v2")
        .stdout_has("  url         https://web-0a1b2c.ecs.us-east-1.on.aws");
}

#[test]
fn a_codedeploy_service_deploys_through_codedeploy_to_its_verdict() {
    let Some(emulator) = emulator("cd-ok") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let hooks = dir.path().join("hooks.yml");
    std::fs::write(&hooks, "- AfterAllowTestTraffic: smoke-test\n").unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "- ApplicationStart: x\n").unwrap();
    run(&mut emulator.deploy(&["--image", V2, "--appspec-hooks", bad.to_str().unwrap()]))
        .expect_code(2)
        .stderr_has("`ApplicationStart` is not a hook of an ECS deployment");
    assert!(
        emulator.calls().get("RegisterTaskDefinition").is_none(),
        "refused before registering"
    );
    let run =
        run(&mut emulator.deploy(&["--image", V2, "--appspec-hooks", hooks.to_str().unwrap()]))
            .expect_code(0)
            .stderr_has(
                "deploys through CodeDeploy: application `web-app`, deployment group `web-dg`",
            )
            .stderr_has("lifecycle event AfterAllowTestTraffic Succeeded")
            .stdout_has("web: stable on web:1 (CodeDeploy deployment d-EMU1: Succeeded)");
    let calls = emulator.calls();
    assert!(calls.get("UpdateService").is_none(), "{calls}");
    let spec: serde_json::Value = serde_json::from_str(
        calls["appspecs"][0]["revision"]["appSpecContent"]["content"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let props = &spec["Resources"][0]["TargetService"]["Properties"];
    assert_eq!(
        props["TaskDefinition"], "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
        "{spec}"
    );
    assert_eq!(props["LoadBalancerInfo"]["ContainerName"], "api");
    assert_eq!(props["LoadBalancerInfo"]["ContainerPort"], 8080);
    assert_eq!(
        spec["Hooks"][0]["AfterAllowTestTraffic"], "smoke-test",
        "{}",
        run.stderr
    );
}

#[test]
fn a_failed_codedeploy_hook_fails_with_its_diagnostics() {
    let Some((emulator, run)) = deploy_on(
        "cd-hook-fails",
        &[
            "--codedeploy-application",
            "web-app",
            "--codedeploy-deployment-group",
            "web-dg",
        ],
    ) else {
        return;
    };
    run.expect_code(4)
        .stderr_has("CodeDeploy deployment d-EMU1 Failed: HOOK_EXECUTION_FAILURE")
        .stderr_has("lifecycle event AfterAllowTestTraffic failed: ScriptFailed: smoke test returned 500 (log tail: GET /health 500)")
        .stderr_has("rolled back by deployment d-EMU2");
    run_in(
        &emulator,
        &["rollback", "--cluster", "c", "--service", "web"],
    )
    .expect_code(2)
    .stderr_has("is deployed by CodeDeploy: roll it back there");
}

#[test]
fn a_codedeploy_deployment_past_the_deadline_or_cancelled_is_stopped_with_its_rollback() {
    let Some((emulator, run)) = deploy_on("cd-slow", &["--timeout", "4s", "--rollback-on-failure"])
    else {
        return;
    };
    run.expect_code(5)
        .stderr_has("stopped CodeDeploy deployment d-EMU1 of `web` with its rollback");
    assert_eq!(emulator.calls()["stops"][0]["autoRollbackEnabled"], true);
    let Some(emulator) = crate::harness::emulator("cd-slow") else {
        return;
    };
    let mut cmd = emulator.deploy(&["--image", V2, "--rollback-on-cancel"]);
    signalled(
        &mut cmd,
        "lifecycle event AllowTestTraffic InProgress",
        "-INT",
    )
    .expect_code(130)
    .stderr_has("asked CodeDeploy to stop deployment d-EMU1 of `web` and roll it back");
    assert_eq!(emulator.calls()["stops"][0]["autoRollbackEnabled"], true);
}
