//! `codebuild check|start|logs`: projects in moto (which completes builds at once), phase-by-phase
//! following, failures, timeouts and interrupts against the scripted CodeBuild of tests/emulator.

use std::process::Command;

use crate::harness::{
    Emulator, codebuild_emulator, ecs_ship, python, require_moto, run, signalled, unique,
};

/// A project in moto of one of the kinds tests/emulator/codebuild_project.py knows.
fn project(kind: &str) -> String {
    let name = unique(&format!("release-{kind}"));
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/emulator/codebuild_project.py"
    );
    let out = Command::new(python())
        .args([script, &crate::harness::moto_url(), &name, kind])
        .output()
        .expect("python runs codebuild_project.py");
    assert!(
        out.status.success(),
        "codebuild_project.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    name
}

/// A checkout whose buildspec.yml runs `ecs-ship release` (it needs a Docker engine).
fn checkout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("buildspec.yml"),
        "version: 0.2\nphases:\n  build:\n    commands:\n      # a comment: ecs-ship deploy\n      - ecs-ship release --context . --repository r --cluster c --service s --container api\n",
    )
    .unwrap();
    dir
}

fn check(dir: &tempfile::TempDir, args: &[&str]) -> crate::harness::Run {
    run(ecs_ship()
        .current_dir(dir.path())
        .args(["codebuild", "check"])
        .args(args))
}

#[test]
fn check_names_an_inline_buildspec_that_overrides_the_checkouts_file() {
    if !require_moto() {
        return;
    }
    let name = project("inline");
    let dir = checkout();
    let run = check(&dir, &["--project", &name])
        .expect_code(4)
        .stdout_has("buildspec   INLINE in the project")
        // The first lines of the inline one, so nobody has to open the console.
        .stdout_has("| version: 0.2")
        .stdout_has("echo \"built from the console's copy\"");
    assert!(
        run.stderr.contains(&format!(
            "CodeBuild project `{name}` would break a release: the buildspec is INLINE in the project, so `buildspec.yml` of this checkout is never read"
        )),
        "{}",
        run.stderr
    );
    // Without a buildspec file in the checkout it is only worth a warning.
    let empty = tempfile::tempdir().unwrap();
    check(&empty, &["--project", &name])
        .expect_code(0)
        .stdout_has("warning     the buildspec is INLINE");
    // --buildspec names the checkout's file elsewhere; a missing one is bad input.
    let elsewhere = empty.path().join("ci.yml");
    std::fs::copy(dir.path().join("buildspec.yml"), &elsewhere).unwrap();
    check(&empty, &["--project", &name, "--buildspec", "ci.yml"])
        .expect_code(4)
        .stderr_has("so `ci.yml` of this checkout is never read");
    check(&empty, &["--project", &name, "--buildspec", "nope.yml"])
        .expect_code(2)
        .stderr_has("cannot read --buildspec `nope.yml`");
}

#[test]
fn check_refuses_privileged_mode_off_under_a_docker_build() {
    if !require_moto() {
        return;
    }
    let name = project("unprivileged");
    let dir = checkout();
    check(&dir, &["--project", &name])
        .expect_code(4)
        .stdout_has("privileged mode off")
        .stderr_has("privileged mode is off, but the buildspec runs `ecs-ship release --context .")
        .stderr_has("turn on privileged mode");
    // A buildspec that only deploys needs no engine.
    std::fs::write(
        dir.path().join("buildspec.yml"),
        "version: 0.2\nphases:\n  build:\n    commands:\n      - ecs-ship deploy --cluster c --service s\n",
    )
    .unwrap();
    check(&dir, &["--project", &name]).expect_code(0);
}

#[test]
fn check_passes_a_healthy_project_and_shows_its_builds() {
    if !require_moto() {
        return;
    }
    let name = project("healthy");
    let dir = checkout();
    // moto completes a build at once: start one without following, then check.
    let started = run(ecs_ship().args([
        "--output",
        "json",
        "codebuild",
        "start",
        "--project",
        &name,
        "--no-follow",
    ]))
    .expect_code(0);
    let id = started.json()["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with(&format!("{name}:")), "{id}");
    let run = check(&dir, &["--project", &name])
        .expect_code(0)
        .stdout_has("buildspec   buildspec.yml at the root of the source")
        .stdout_has("privileged mode on")
        .stdout_has(&format!("logs        CloudWatch Logs /ci/{name}"))
        .stdout_has("role        arn:aws:iam::123456789012:role/service-role/codebuild-release")
        .stdout_has("verdict     nothing here would break a release");
    assert!(run.stdout.contains("SUCCEEDED"), "{}", run.stdout);
    let json = crate::harness::run(ecs_ship().current_dir(dir.path()).args([
        "--output",
        "json",
        "codebuild",
        "check",
        "--project",
        &name,
    ]))
    .expect_code(0)
    .json();
    assert_eq!(json["schema"], 1);
    assert_eq!(json["findings"], serde_json::json!([]));
    assert_eq!(json["buildspec"]["kind"], "repository");
    assert_eq!(json["project"]["privileged"], true);
    assert_eq!(json["recent_builds"][0]["id"], id);
}

#[test]
fn check_of_a_missing_project_exits_3() {
    if !require_moto() {
        return;
    }
    let dir = checkout();
    check(&dir, &["--project", "no-such-project"])
        .expect_code(3)
        .stderr_has("CodeBuild project `no-such-project` does not exist in us-east-1");
}

fn start(emulator: &Emulator, extra: &[&str]) -> Command {
    let mut cmd = ecs_ship();
    cmd.env("AWS_ENDPOINT_URL", &emulator.endpoint)
        .args([
            "codebuild",
            "start",
            "--project",
            "web",
            "--follow",
            "--poll-interval",
            "1s",
        ])
        .args(extra);
    cmd
}

#[test]
fn start_follows_a_build_phase_by_phase_with_its_log() {
    let Some(emulator) = codebuild_emulator("succeed") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let outputs = dir.path().join("outputs");
    let spec = dir.path().join("release.yml");
    std::fs::write(
        &spec,
        "version: 0.2\nphases:\n  build:\n    commands:\n      - ecs-ship release\n",
    )
    .unwrap();
    let run = run(start(
        &emulator,
        &[
            "--env",
            "ECS_SHIP_CLUSTER=prod",
            "--env",
            "EMPTY=",
            "--source-version",
            "v1.2.3",
            "--buildspec",
            spec.to_str().unwrap(),
        ],
    )
    .env("GITHUB_ACTIONS", "true")
    .env("GITHUB_OUTPUT", &outputs))
    .expect_code(0)
    .stdout_has("status    SUCCEEDED")
    .stdout_has(
        "exported  ECS_SHIP_IMAGE=123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:abab",
    );
    // Each phase once, in order, then the log lines as they arrive.
    let phases: Vec<&str> = run
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("phase "))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        phases,
        [
            "SUBMITTED",
            "QUEUED",
            "PROVISIONING",
            "DOWNLOAD_SOURCE",
            "INSTALL",
            "PRE_BUILD",
            "BUILD",
            "POST_BUILD",
            "UPLOAD_ARTIFACTS",
            "FINALIZING",
            "COMPLETED"
        ],
        "{}",
        run.stderr
    );
    for line in [
        "[Container] Entering phase INSTALL",
        "[Container] Running command ecs-ship doctor",
        "[Container] Entering phase POST_BUILD",
    ] {
        assert_eq!(
            run.stderr.matches(line).count(),
            1,
            "{line}:\n{}",
            run.stderr
        );
    }
    assert!(
        run.stderr.contains("::group::CodeBuild web:"),
        "{}",
        run.stderr
    );
    // The overrides reached StartBuild; the buildspec went as its text.
    let calls = emulator.calls();
    let (_, sent) = calls["overrides"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    assert_eq!(
        sent["env"],
        serde_json::json!({"ECS_SHIP_CLUSTER": "prod", "EMPTY": ""})
    );
    assert_eq!(sent["sourceVersion"], "v1.2.3");
    assert!(
        sent["buildspec"]
            .as_str()
            .unwrap()
            .contains("- ecs-ship release")
    );
    let written = std::fs::read_to_string(&outputs).unwrap();
    assert!(written.contains("build-id=web:"), "{written}");
    assert!(written.contains("build-status=SUCCEEDED"), "{written}");
}

#[test]
fn start_reports_a_build_that_fails_in_build_with_its_context_and_log() {
    let Some(emulator) = codebuild_emulator("fail") else {
        return;
    };
    let run = run(&mut start(&emulator, &[]))
        .expect_code(4)
        .stderr_has("phase BUILD             FAILED")
        .stderr_has("error: the rollout failed: service s rolled back to web:11")
        .stderr_has("FAILED in phase BUILD: COMMAND_EXECUTION_ERROR: Error while executing command: ecs-ship release")
        .stdout_has("failed    in BUILD")
        .stdout_has("last log lines:")
        .stdout_has("  | error: the rollout failed: service s rolled back to web:11");
    // The phases after BUILD still ran (POST_BUILD runs after a failed BUILD) and were shown.
    assert!(run.stderr.contains("phase POST_BUILD"), "{}", run.stderr);
    let json = crate::harness::run(start(&emulator, &[]).args(["--output", "json"]))
        .expect_code(4)
        .json();
    assert_eq!(json["verdict"], "failed");
    assert_eq!(json["phase"], "BUILD");
    assert_eq!(json["status"], "FAILED");
}

#[test]
fn start_times_out_as_codebuild_says_or_past_the_timeout() {
    let Some(timed_out) = codebuild_emulator("timeout") else {
        return;
    };
    run(&mut start(&timed_out, &[]))
        .expect_code(5)
        .stderr_has("TIMED_OUT in phase BUILD (the project's build timeout)")
        .stdout_has("timed out in BUILD");
    // A build that never ends: our own deadline, and the build is left running, said so.
    let Some(hung) = codebuild_emulator("hang") else {
        return;
    };
    let (run, took) = crate::harness::timed(&mut start(&hung, &["--timeout", "4s"]));
    let run = run
        .expect_code(5)
        .stderr_has("was still running (phase BUILD) after 4s")
        .stderr_has("it goes on in CodeBuild: `ecs-ship codebuild logs web:");
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    assert!(
        run.stdout.contains("status    IN_PROGRESS (phase BUILD)"),
        "{}",
        run.stdout
    );
    assert_eq!(hung.calls().get("StopBuild"), None);
}

#[test]
fn an_interrupt_stops_the_build_only_when_asked() {
    let Some(emulator) = codebuild_emulator("hang") else {
        return;
    };
    signalled(&mut start(&emulator, &[]), "Entering phase BUILD", "-INT")
        .expect_code(130)
        .stderr_has("goes on in CodeBuild (--stop-on-interrupt stops it)");
    assert_eq!(emulator.calls().get("StopBuild"), None);
    let run = signalled(
        &mut start(&emulator, &["--stop-on-interrupt"]),
        "Entering phase BUILD",
        "-TERM",
    )
    .expect_code(143)
    .stderr_has("(--stop-on-interrupt)");
    assert_eq!(emulator.calls()["StopBuild"], 1);
    assert!(run.stdout.contains("status    STOPPED"), "{}", run.stdout);
}

#[test]
fn logs_prints_a_builds_whole_log() {
    let Some(emulator) = codebuild_emulator("fail") else {
        return;
    };
    let json = run(&mut start(&emulator, &["--output", "json"]))
        .expect_code(4)
        .json();
    let id = json["id"].as_str().unwrap();
    let run = run(ecs_ship()
        .env("AWS_ENDPOINT_URL", &emulator.endpoint)
        .args(["codebuild", "logs", id]))
    .expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"[Container] Entering phase INSTALL"));
    assert!(lines.contains(&"error: the rollout failed: service s rolled back to web:11"));
    assert_eq!(lines.len(), 9, "{}", run.stdout);
    crate::harness::ecs_ship_run(&["codebuild", "logs", "not-an-id"])
        .expect_code(2)
        .stderr_has("invalid build id `not-an-id`: expected PROJECT:UUID");
}

#[test]
fn start_refuses_a_buildspec_that_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "phases: nothing\n").unwrap();
    crate::harness::ecs_ship_run(&[
        "codebuild",
        "start",
        "--project",
        "web",
        "--buildspec",
        path.to_str().unwrap(),
    ])
    .expect_code(2)
    .stderr_has("is not a buildspec CodeBuild would run: no `version`");
}

#[test]
fn check_reads_the_buildspec_as_codebuild_would() {
    if !require_moto() {
        return;
    }
    let name = project("healthy");
    let cases: &[(&[u8], &str)] = &[
        (b"", "buildspec.yml: the file is empty"),
        (
            b"\x7fELF\x02\x01\x00\xff\xfe",
            "buildspec.yml: this is not text (a binary file?)",
        ),
        (
            b"version: 0.2\nphases: [unclosed\n",
            "buildspec.yml: line 3: not valid YAML",
        ),
        (
            b"version: 0.1\nphases:\n  build:\n    commands:\n      - make\n",
            "buildspec.yml: line 1: `version: 0.1`",
        ),
        (b"version: 0.2\n", "buildspec.yml: no `phases`"),
        (
            b"version: 0.2\nphases:\n  build:\n    commands: make\n",
            "buildspec.yml: line 3: `build.commands` must be a list",
        ),
    ];
    for (text, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("buildspec.yml"), text).unwrap();
        check(&dir, &["--project", &name])
            .expect_code(4)
            .stdout_has(want)
            .stderr_has("would break a release");
    }
}

#[test]
fn start_batch_follows_every_leg_and_ends_with_the_batchs_verdict() {
    let Some(emulator) = codebuild_emulator("batch-succeed") else {
        return;
    };
    let done = run(&mut start(&emulator, &["--batch"])).expect_code(0);
    // Every leg's phases and log lines, prefixed by its leg; the merge leg after both builds.
    for leg in ["build_amd64", "build_arm64", "merge_release"] {
        assert!(
            done.stderr.contains(&format!("[{leg}] phase BUILD")),
            "{leg}: {}",
            done.stderr
        );
        assert!(
            done.stderr
                .contains(&format!("[{leg}] [Container] Entering phase BUILD")),
            "{leg}: {}",
            done.stderr
        );
    }
    let first_merge = done.stderr.find("[merge_release] started build").unwrap();
    let last_arm = done.stderr.find("[build_arm64] phase COMPLETED").unwrap();
    assert!(last_arm < first_merge, "{}", done.stderr);
    assert!(
        done.stdout.contains("status    SUCCEEDED"),
        "{}",
        done.stdout
    );
    let calls = emulator.calls();
    assert_eq!(calls["StartBuildBatch"], 1, "{calls}");
    // One BatchGetBuilds per poll for every leg at once: never more than the batch's polls (+1 last).
    let batch_polls = calls["BatchGetBuildBatches"].as_u64().unwrap();
    let build_polls = calls["BatchGetBuilds"].as_u64().unwrap();
    assert!(build_polls <= batch_polls + 1, "{calls}");
}

#[test]
fn a_batch_with_a_failed_leg_names_it_with_its_context_and_last_lines_and_exits_4() {
    let Some(emulator) = codebuild_emulator("batch-fail") else {
        return;
    };
    let done = run(&mut start(&emulator, &["--batch", "--output", "json"]))
        .expect_code(4)
        .stderr_has("leg `build_arm64`")
        .stderr_has("COMMAND_EXECUTION_ERROR");
    let report = done.json();
    assert_eq!(report["batch"]["status"], "FAILED", "{report:#}");
    assert_eq!(
        report["failed_legs"],
        serde_json::json!(["build_arm64"]),
        "{report:#}"
    );
    let legs = report["legs"].as_array().unwrap();
    assert_eq!(legs.len(), 3, "{report:#}");
    assert!(
        legs[2].get("build").is_none(),
        "merge_release never started: {report:#}"
    );
    assert!(
        legs[1]["last_log_lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("error: the rollout failed")),
        "{report:#}"
    );
    let text = run(&mut start(&emulator, &["--batch"])).expect_code(4);
    assert!(
        text.stdout
            .contains("merge_release  not started (depends on build_amd64, build_arm64)"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("last log lines of build_arm64:"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("error: the rollout failed"),
        "the failed leg's last lines: {}",
        text.stdout
    );
}

#[test]
fn an_interrupted_batch_is_stopped_only_when_asked() {
    let Some(emulator) = codebuild_emulator("batch-succeed") else {
        return;
    };
    signalled(
        &mut start(&emulator, &["--batch"]),
        "[build_arm64] [Container] Entering phase INSTALL",
        "-INT",
    )
    .expect_code(130)
    .stderr_has("goes on in CodeBuild (--stop-on-interrupt stops it)");
    assert_eq!(emulator.calls().get("StopBuildBatch"), None);
    let run = signalled(
        &mut start(&emulator, &["--batch", "--stop-on-interrupt"]),
        "[build_arm64] [Container] Entering phase INSTALL",
        "-TERM",
    )
    .expect_code(143)
    .stderr_has("stopped batch build");
    assert_eq!(emulator.calls()["StopBuildBatch"], 1);
    assert!(run.stdout.contains("status    STOPPED"), "{}", run.stdout);
}
