//! Results where CI systems look for them: GitHub Actions step outputs and job summary, `--output env`
//! lines a shell can `eval`, `--env-file`, and errors as JSON on stdout under `--output json`.

use crate::harness::*;

#[test]
fn deploy_writes_github_outputs_and_a_job_summary() {
    if !require_moto() {
        return;
    }
    let world = world();
    let dir = tempfile::tempdir().unwrap();
    let (outputs, summary) = (dir.path().join("output"), dir.path().join("summary"));
    let mut cmd = ecs_ship();
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args([
            "deploy",
            "--cluster",
            &world.cluster,
            "--service",
            &world.service,
            "--image",
            "api=127.0.0.1:15000/api:v2",
        ]);
    let run = run(&mut cmd).expect_code(0);
    assert!(
        run.stderr
            .contains("::group::waiting for vendor0919-service"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("::endgroup::"));
    let text = std::fs::read_to_string(&outputs).unwrap();
    let parsed: std::collections::HashMap<&str, &str> =
        text.lines().filter_map(|l| l.split_once('=')).collect();
    assert!(
        parsed["task-definition-arn"].ends_with(&format!("{}:2", world.family)),
        "{text}"
    );
    assert!(parsed["previous-task-definition-arn"].ends_with(&format!("{}:1", world.family)));
    assert_eq!(parsed["verdict"], "stable");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("ecs-ship deploy: stable"), "{md}");
    assert!(
        md.contains(&format!("`{}:1` → `{}:2`", world.family, world.family)),
        "{md}"
    );

    // Opted out: no summary.
    std::fs::remove_file(&summary).unwrap();
    let mut cmd = ecs_ship();
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("ECS_SHIP_STEP_SUMMARY", "false")
        .args([
            "deploy",
            "--cluster",
            &world.cluster,
            "--service",
            &world.service,
        ]);
    crate::harness::run(&mut cmd).expect_code(0);
    assert!(!summary.exists());
}

#[test]
fn output_env_lines_can_be_evaluated_and_env_file_keeps_them() {
    if !require_moto() {
        return;
    }
    let world = world();
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("ecs-ship.env");
    let run = ecs_ship_run(&[
        "--output",
        "env",
        "--env-file",
        env_file.to_str().unwrap(),
        "deploy",
        "--cluster",
        &world.cluster,
        "--service",
        &world.service,
        "--image",
        "api=127.0.0.1:15000/api:it's",
    ]);
    // The image is refused (a quote is no valid reference): an input error, nothing on stdout.
    run.expect_code(2);
    let run = ecs_ship_run(&[
        "--output",
        "env",
        "--env-file",
        env_file.to_str().unwrap(),
        "deploy",
        "--cluster",
        &world.cluster,
        "--service",
        &world.service,
        "--image",
        "api=127.0.0.1:15000/api:v3",
    ])
    .expect_code(0);
    let script = format!(
        "set -eu\neval \"$(cat)\"\n. '{}'\nprintf '%s|%s' \"$ECS_SHIP_VERDICT\" \"$ECS_SHIP_TASK_DEFINITION_ARN\"",
        env_file.display()
    );
    let mut sh = std::process::Command::new("bash");
    sh.args(["-c", &script]).stdin(std::process::Stdio::piped());
    let mut child = sh.stdout(std::process::Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(run.stdout.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("stable|arn:aws:ecs:") && text.ends_with(&format!("{}:2", world.family)),
        "{text}\n{}",
        run.stdout
    );
}

#[test]
fn errors_under_output_json_are_json_on_stdout() {
    let run = ecs_ship_run(&[
        "--output",
        "json",
        "taskdef",
        "render",
        "--file",
        "/nonexistent.json",
    ])
    .expect_code(2);
    let json = run.json();
    assert_eq!(json["schema"], 1);
    assert_eq!(json["error"]["exit_code"], 2);
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent.json")
    );
}
