//! Trust under faults, each as a user meets it: endpoints that accept and never answer (AWS, the
//! Docker engine, a registry), a burst of server errors mid-rollout, cancellation by SIGTERM and
//! SIGINT, kill -9 in the middle of a write, and two builds racing for one tag.
//!
//! The time bounds here are hang checks with wide margins, not performance measurements.

use std::time::Duration;

use crate::harness::*;

const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:12";

#[test]
fn an_aws_endpoint_that_never_answers_ends_wait_deploy_and_doctor_in_time() {
    let hole = format!("http://{}", black_hole());
    let mut wait = ecs_ship();
    wait.env("AWS_ENDPOINT_URL", &hole).args([
        "wait",
        "--cluster",
        "c",
        "--service",
        "web",
        "--timeout",
        "5s",
    ]);
    let (run, took) = timed(&mut wait);
    let run = run.expect_code(5);
    assert!(took < Duration::from_secs(20), "wait took {took:?}");
    assert!(run.stderr.contains("no answer from AWS"), "{}", run.stderr);

    let mut deploy = ecs_ship();
    deploy.env("AWS_ENDPOINT_URL", &hole).args([
        "deploy",
        "--cluster",
        "c",
        "--service",
        "web",
        "--timeout",
        "5s",
    ]);
    let (run, took) = timed(&mut deploy);
    run.expect_code(5).stderr_has("within --timeout");
    assert!(took < Duration::from_secs(20), "deploy took {took:?}");

    // A one-off task, a CodeBuild build and a deploy of several services: --timeout bounds the
    // calls before anything runs too.
    for args in [
        &[
            "run",
            "--cluster",
            "c",
            "--service",
            "web",
            "--timeout",
            "5s",
        ][..],
        &[
            "codebuild",
            "start",
            "--project",
            "p",
            "--follow",
            "--timeout",
            "5s",
        ][..],
        &[
            "deploy",
            "--cluster",
            "c",
            "--service",
            "web",
            "--service",
            "worker",
            "--timeout",
            "5s",
        ][..],
    ] {
        let mut cmd = ecs_ship();
        cmd.env("AWS_ENDPOINT_URL", &hole).args(args);
        let (run, took) = timed(&mut cmd);
        run.expect_code(5).stderr_has("within --timeout");
        assert!(took < Duration::from_secs(20), "{args:?} took {took:?}");
    }

    let mut doctor = ecs_ship();
    doctor
        .env("AWS_ENDPOINT_URL", &hole)
        .args(["doctor", "--no-docker"]);
    let (run, took) = timed(&mut doctor);
    run.expect_code(3).stdout_has("aws      FAIL");
    assert!(took < Duration::from_secs(20), "doctor took {took:?}");
}

#[test]
fn a_docker_engine_that_never_answers_is_unreachable_before_any_build() {
    let dir = tempfile::tempdir().unwrap();
    let host = black_hole_socket(dir.path());
    let context = context(&[("Dockerfile", "FROM busybox:stable\n")]);
    let mut build = ecs_ship();
    build.env("DOCKER_HOST", &host).args([
        "build",
        "--context",
        context.path().to_str().unwrap(),
        "--repository",
        "hung/x",
        "--state",
        dir.path().join("state.json").to_str().unwrap(),
    ]);
    let (run, took) = timed(&mut build);
    run.expect_code(3)
        .stderr_has("accepted the connection but did not answer within 15s");
    assert!(took < Duration::from_secs(40), "build took {took:?}");
}

#[test]
fn a_registry_that_never_answers_ends_the_push_at_the_idle_timeout() {
    if !require_docker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let repo = format!("{}/stalled", black_hole());
    let context = context(&[("Dockerfile", "FROM busybox:stable\nLABEL stalled=1\n")]);
    ecs_ship_run(&[
        "build",
        "--context",
        context.path().to_str().unwrap(),
        "--repository",
        &repo,
        "--tag",
        "t1",
        "--no-timestamp-tag",
        "--no-git-tag",
        "--state",
        state.to_str().unwrap(),
    ])
    .expect_code(0);
    let mut push = ecs_ship();
    push.args([
        "push",
        "--idle-timeout",
        "5s",
        "--state",
        state.to_str().unwrap(),
    ]);
    let (run, took) = timed(&mut push);
    run.expect_code(3).stderr_has("reported no progress for 5s");
    assert!(took < Duration::from_secs(40), "push took {took:?}");
}

#[test]
fn a_burst_of_server_errors_during_a_wait_is_survived() {
    let Some(emulator) = emulator("flaky") else {
        return;
    };
    let mut cmd = emulator.command(&[
        "--max-attempts",
        "1",
        "wait",
        "--cluster",
        "c",
        "--service",
        "web",
        "--task-definition",
        NEW,
        "--timeout",
        "60s",
        "--poll-interval",
        "1s",
    ]);
    run(&mut cmd)
        .expect_code(0)
        .stdout_has("web: stable on web:12")
        .stderr_has("the rollout goes on, polling again")
        .stderr_has("polls failed or were throttled and were tried again");
}

#[test]
fn sigterm_while_waiting_exits_143_with_the_state_and_what_was_done() {
    let Some(emulator) = emulator("failing") else {
        return;
    };
    let deploy = |extra: &[&str]| {
        let mut cmd = ecs_ship();
        cmd.env("AWS_ENDPOINT_URL", &emulator.endpoint)
            .args([
                "deploy",
                "--cluster",
                "c",
                "--service",
                "web",
                "--task-definition",
                NEW,
                "--no-create-log-group",
                "--poll-interval",
                "1s",
                "--timeout",
                "60s",
            ])
            .args(extra);
        cmd
    };
    let run = signalled(&mut deploy(&[]), "waiting up to", "-TERM").expect_code(143);
    assert!(run.stdout.contains("web: interrupted"), "{}", run.stdout);
    assert!(
        run.stderr
            .contains("terminated: service `web` was updated to ")
            && run.stderr.contains("its deployment goes on as it is"),
        "{}",
        run.stderr
    );
    // A fresh service on the old revision again, cancelled with Ctrl-C this time.
    let Some(fresh) = crate::harness::emulator("failing") else {
        return;
    };
    let mut cmd = deploy(&["--rollback-on-cancel"]);
    cmd.env("AWS_ENDPOINT_URL", &fresh.endpoint);
    signalled(&mut cmd, "waiting up to", "-INT")
        .expect_code(130)
        .stderr_has(
            "rolled `web` back to arn:aws:ecs:us-east-1:123456789012:task-definition/web:11",
        );
}

#[test]
fn sigterm_during_a_build_leaves_no_container_behind() {
    if !require_docker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A step long enough to be cancelled in the middle; the number marks this test's containers.
    let context = context(&[(
        "Dockerfile",
        "FROM busybox:stable\nRUN echo cancel-me-4711 && sleep 47\n",
    )]);
    let mut build = ecs_ship();
    build.args([
        "build",
        "--context",
        context.path().to_str().unwrap(),
        "--repository",
        "cancelled/x",
        "--no-cache",
        "--state",
        dir.path().join("state.json").to_str().unwrap(),
    ]);
    let run = signalled(&mut build, "cancel-me-4711", "-TERM").expect_code(143);
    assert!(
        run.stderr
            .contains("the build is cancelled; nothing was recorded"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("state.json").exists());
    let stray = || {
        let out = std::process::Command::new("docker")
            .env("DOCKER_HOST", docker_host())
            .args(["ps", "-a", "--no-trunc", "--format", "{{.Command}}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("sleep 47")
    };
    let start = std::time::Instant::now();
    while stray() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        !stray(),
        "the build's intermediate container was left behind"
    );
}

#[test]
fn kill_9_during_a_write_leaves_the_old_file_or_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rendered.json");
    let td = |image: &str| {
        let path = dir.path().join(format!("{image}.json"));
        // Large enough that a write takes a moment.
        let env: Vec<String> = (0..1000)
            .map(|i| format!(r#"{{"name": "V{i}", "value": "{}"}}"#, "x".repeat(20)))
            .collect();
        std::fs::write(
            &path,
            format!(
                r#"{{"family": "f", "containerDefinitions": [{{"name": "api", "image": "r/api:{image}",
                  "environment": [{}]}}]}}"#,
                env.join(",")
            ),
        )
        .unwrap();
        path
    };
    let (a, b) = (td("a"), td("b"));
    let render = |src: &std::path::Path| {
        let mut cmd = ecs_ship();
        cmd.args([
            "taskdef",
            "render",
            "--region",
            "us-east-1",
            "--file",
            src.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        cmd
    };
    run(&mut render(&a)).expect_code(0);
    let first = std::fs::read_to_string(&out).unwrap();
    for i in 0..20 {
        let mut child = render(if i % 2 == 0 { &b } else { &a }).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(5 * (i % 7) as u64));
        let _ = child.kill();
        let _ = child.wait();
        let now = std::fs::read_to_string(&out).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&now)
            .unwrap_or_else(|e| panic!("a half-written file after kill -9 ({e})"));
        let image = parsed["containerDefinitions"][0]["image"].as_str().unwrap();
        assert!(image == "r/api:a" || image == "r/api:b", "{image}");
    }
    assert!(!first.is_empty());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".ecs-ship-"))
        .collect();
    // A killed write may leave its temporary file, never a partial target.
    assert!(leftovers.len() <= 20);
}

#[test]
fn two_builds_racing_for_one_tag_push_exactly_the_recorded_image() {
    if !(require_docker() && require_registry()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = format!("{}/{}", registry(), unique("race"));
    let build = |name: &str, content: &str| {
        let ctx = context(&[
            ("Dockerfile", "FROM busybox:stable\nCOPY f /f\n"),
            ("f", content),
        ]);
        let state = dir.path().join(format!("{name}.json"));
        // The same tag for both, as two builds in the same minute get.
        let run = ecs_ship_run(&[
            "build",
            "--context",
            ctx.path().to_str().unwrap(),
            "--repository",
            &repo,
            "--tag-format",
            "same",
            "--no-git-tag",
            "--state",
            state.to_str().unwrap(),
            "--output",
            "json",
        ])
        .expect_code(0);
        (state, run.json()["image_id"].as_str().unwrap().to_owned())
    };
    let (first_state, first_id) = build("first", "one");
    let (_, second_id) = build("second", "two");
    assert_ne!(first_id, second_id);
    // The tag now points at the second build; pushing the first state pushes the first image.
    let pushed = ecs_ship_run(&[
        "push",
        "--state",
        first_state.to_str().unwrap(),
        "--output",
        "json",
    ])
    .expect_code(0)
    .json();
    let image = pushed["image"].as_str().unwrap();
    let digest = image.rsplit_once('@').unwrap().1;
    let manifest: serde_json::Value = reqwest_manifest(&repo, digest);
    assert_eq!(manifest["config"]["digest"], first_id.as_str());
}

/// The manifest a registry on loopback holds under `digest`.
fn reqwest_manifest(repo: &str, digest: &str) -> serde_json::Value {
    let (host, name) = repo.split_once('/').unwrap();
    let out = std::process::Command::new("curl")
        .args([
            "-fsS",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
            &format!("http://{host}/v2/{name}/manifests/{digest}"),
        ])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_timed_out_rollout_is_rolled_back_and_says_what_the_new_tasks_did() {
    let Some(emulator) = emulator("failing") else {
        return;
    };
    let mut cmd = emulator.deploy(&[
        "--task-definition",
        NEW,
        "--no-create-log-group",
        "--rollback-on-failure",
        "--timeout",
        "4s",
    ]);
    run(&mut cmd)
        .expect_code(5)
        .stderr_has("tasks of web:12 running, 2 pending")
        .stderr_has("rolled back `web` to arn:aws:ecs:us-east-1:123456789012:task-definition/web:11: stable");
}

#[test]
fn a_rollback_after_a_timeout_has_its_own_bound_and_says_so() {
    let Some(emulator) = emulator("stuck") else {
        return;
    };
    let mut cmd = emulator.deploy(&[
        "--task-definition",
        "arn:aws:ecs:us-east-1:123456789012:task-definition/web:12",
        "--no-create-log-group",
        "--rollback-on-failure",
        "--timeout",
        "3s",
        "--rollback-timeout",
        "3s",
    ]);
    let run = run(&mut cmd)
        .expect_code(5)
        .stderr_has("timed out after 3s waiting for web")
        .stderr_has("(--rollback-timeout 3s)")
        .stderr_has("did not settle within --rollback-timeout 3s");
    assert!(
        !run.stderr.contains("no answer within the timeout"),
        "AWS answered every poll: {}",
        run.stderr
    );
}
