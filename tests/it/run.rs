//! `ecs-ship run`: one-off tasks followed to a verdict, against the scripted emulator (tasks that
//! exit 0 or 3, never start, hang, or find no capacity) and against moto (the real RunTask request).

use std::process::Command;

use crate::harness::{Emulator, ecs_ship, emulator, require_moto, run, signalled, timed};

fn task(emulator: &Emulator, extra: &[&str]) -> Command {
    let mut cmd = ecs_ship();
    cmd.env("AWS_ENDPOINT_URL", &emulator.endpoint)
        .args(["run", "--cluster", "bench", "--poll-interval", "1s"])
        .args(extra);
    cmd
}

#[test]
fn a_task_that_exits_0_passes_with_its_log_and_runs_as_the_service_does() {
    let Some(emulator) = emulator("task-ok") else {
        return;
    };
    let run = run(&mut task(
        &emulator,
        &[
            "--service",
            "web",
            "--command",
            "bin/migrate --steps 'all of them'",
            "--env",
            "MODE=migrate",
            "--output",
            "json",
        ],
    ))
    .expect_code(0)
    .stderr_has("migrating 1/3\nmigrating 2/3\nmigrated: 3 steps\n");
    let json = run.json();
    assert_eq!(json["verdict"], "succeeded");
    assert!(json["log_stream"].as_str().unwrap().starts_with("ecs/api/"));
    // The service's network, platform version and revision; the command and variable overridden.
    let calls = emulator.calls();
    let sent = &calls["run_requests"][0];
    assert_eq!(
        sent["taskDefinition"],
        "arn:aws:ecs:us-east-1:123456789012:task-definition/web:11"
    );
    assert_eq!(
        sent["networkConfiguration"]["awsvpcConfiguration"]["subnets"],
        serde_json::json!(["subnet-0a1b2c3d"])
    );
    assert_eq!(
        sent["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"],
        serde_json::json!(["sg-0a1b2c3d"])
    );
    assert_eq!(sent["platformVersion"], "1.4.0");
    assert_eq!(sent["launchType"], "FARGATE");
    let o = &sent["overrides"]["containerOverrides"][0];
    assert_eq!(o["name"], "api");
    assert_eq!(
        o["command"],
        serde_json::json!(["bin/migrate", "--steps", "all of them"])
    );
    assert_eq!(
        o["environment"],
        serde_json::json!([{"name": "MODE", "value": "migrate"}])
    );
    assert_eq!(calls.get("StopTask"), None);
}

#[test]
fn a_task_that_exits_3_fails_naming_the_container_and_code() {
    let Some(emulator) = emulator("task-fails") else {
        return;
    };
    run(&mut task(
        &emulator,
        &[
            "--service",
            "web",
            "--command-json",
            r#"["sh","-c","make migrate"]"#,
        ],
    ))
    .expect_code(4)
    .stderr_has("failed: container `api` exited 3: Essential container in task exited")
    .stdout_has("container api exited 3")
    .stdout_has("  | ERROR: relation \"users\" already exists");
    // -q: the log is not streamed, and the failure report still has its last lines.
    let quiet = run(&mut task(&emulator, &["-q", "--service", "web"]))
        .expect_code(4)
        .stdout_has("  | migration failed");
    assert!(!quiet.stderr.contains("migrating 1/3"), "{}", quiet.stderr);
}

#[test]
fn a_task_that_never_starts_fails_with_ecs_reason_never_null() {
    let Some(emulator) = emulator("task-unstartable") else {
        return;
    };
    let run = run(&mut task(&emulator, &["--service", "web"]))
        .expect_code(4)
        .stderr_has("the task never started: CannotPullContainerError: pull image manifest has been retried 5 time(s)")
        .stderr_has("(`api`: CannotPullContainerError: ref not found)");
    assert!(
        !run.stderr.contains("null") && !run.stdout.contains("null"),
        "{}",
        run.stderr
    );
    let Some(full) = emulator_no_capacity() else {
        return;
    };
    let run = crate::harness::run(&mut task(&full, &["--service", "web"]))
        .expect_code(4)
        .stderr_has("ECS did not start the task: No Container Instances were found in your cluster. (arn:aws:ecs:us-east-1:123456789012:cluster/bench)");
    assert!(!run.stderr.contains("null"), "{}", run.stderr);
}

fn emulator_no_capacity() -> Option<Emulator> {
    emulator("no-capacity")
}

#[test]
fn a_task_past_its_timeout_is_stopped_unless_kept() {
    let Some(emulator) = emulator("task-hangs") else {
        return;
    };
    let (run, took) = timed(&mut task(
        &emulator,
        &["--service", "web", "--timeout", "3s"],
    ));
    run.expect_code(5)
        .stderr_has("did not stop within 3s; it was stopped");
    assert!(took < std::time::Duration::from_secs(20), "{took:?}");
    assert_eq!(emulator.calls()["StopTask"], 1);
    crate::harness::run(&mut task(
        &emulator,
        &["--service", "web", "--timeout", "2s", "--keep-on-timeout"],
    ))
    .expect_code(5)
    .stderr_has("it is left running (--keep-on-timeout)");
    assert_eq!(emulator.calls()["StopTask"], 1);
    // Ctrl-C stops the task too.
    signalled(
        &mut task(&emulator, &["--service", "web"]),
        "waiting for a lock",
        "-INT",
    )
    .expect_code(130);
    assert_eq!(emulator.calls()["StopTask"], 2);
}

#[test]
fn a_task_definition_on_awsvpc_needs_a_network() {
    let Some(emulator) = emulator("task-ok") else {
        return;
    };
    let web11 = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:11";
    run(&mut task(&emulator, &["--task-definition", web11]))
        .expect_code(2)
        .stderr_has("uses awsvpc networking: give --subnets (and --security-groups), or --service");
    run(&mut task(
        &emulator,
        &[
            "--task-definition",
            "web:11",
            "--subnets",
            "subnet-1,subnet-2",
            "--security-groups",
            "sg-1",
            "--launch-type",
            "FARGATE",
        ],
    ))
    .expect_code(0);
    let sent = &emulator.calls()["run_requests"][0];
    assert_eq!(
        sent["networkConfiguration"]["awsvpcConfiguration"]["subnets"],
        serde_json::json!(["subnet-1", "subnet-2"])
    );
    for (args, message) in [
        (&["run", "--cluster", "c"][..], "--service <SERVICE>"),
        (
            &[
                "run",
                "--cluster",
                "c",
                "--service",
                "s",
                "--command",
                "echo 'open",
            ][..],
            "invalid --command",
        ),
        (
            &[
                "run",
                "--cluster",
                "c",
                "--service",
                "s",
                "--command-json",
                "echo",
            ][..],
            "invalid --command-json",
        ),
        (
            &[
                "run",
                "--cluster",
                "c",
                "--service",
                "s",
                "--capacity-provider-strategy",
                "FARGATE_SPOT:x",
            ][..],
            "WEIGHT and BASE are whole numbers",
        ),
    ] {
        crate::harness::ecs_ship_run(args)
            .expect_code(2)
            .stderr_has(message);
    }
}

/// Against moto: the RunTask request the SDK builds is accepted, and a task that does not stop in
/// time is stopped there. (moto 5.2.5 fails RunTask for awsvpc tasks on its own side, so the network
/// path is the emulator's test above.)
#[tokio::test]
async fn run_against_moto_times_out_and_stops_the_task() {
    if !require_moto() {
        return;
    }
    let family = crate::harness::unique("oneoff");
    let cluster = crate::harness::unique("oneoff-cluster");
    let config = crate::harness::sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("td.json");
    std::fs::write(&path, format!(r#"{{"family": "{family}", "containerDefinitions": [{{"name": "job", "image": "127.0.0.1:15000/api:v1", "memory": 64}}]}}"#)).unwrap();
    crate::harness::ecs_ship_run(&["taskdef", "register", "--file", path.to_str().unwrap()])
        .expect_code(0);
    let run = crate::harness::ecs_ship_run(&[
        "run",
        "--cluster",
        &cluster,
        "--task-definition",
        &family,
        "--command",
        "echo hi",
        "--launch-type",
        "FARGATE",
        "--timeout",
        "3s",
        "--output",
        "json",
    ]);
    let run = run.expect_code(5).stderr_has("it was stopped");
    let arn = run.json()["task_arn"].as_str().unwrap().to_owned();
    let described = ecs
        .describe_tasks()
        .cluster(&cluster)
        .tasks(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(described.tasks()[0].desired_status(), Some("STOPPED"));
}
