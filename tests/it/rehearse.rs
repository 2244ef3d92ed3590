//! `ecs-ship rehearse` on the stack's engine (host networking: it has no bridge): the example passes,
//! a variant whose process exits and one whose health check fails end in exit 4 with the container's
//! last log lines, and nothing is left behind - also after SIGINT and SIGTERM.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The example with its own port (host networking: tests run side by side) and `edit` applied.
fn variant(edit: impl FnOnce(&mut serde_json::Value)) -> (tempfile::TempDir, u16) {
    let port = free_port();
    let (dir, _) = example(|doc| {
        let api = &mut doc["containerDefinitions"][0];
        api["environment"][1]["value"] = port.to_string().into();
        api["portMappings"][0]["containerPort"] = port.into();
        edit(doc);
    });
    (dir, port)
}

fn rehearse(dir: &tempfile::TempDir, extra: &[&str]) -> std::process::Command {
    let app = dir.path().join("app");
    let mut cmd = ecs_ship();
    cmd.args([
        "rehearse",
        "--context",
        app.to_str().unwrap(),
        "--file",
        app.join("taskdef.json").to_str().unwrap(),
        "--container",
        "api",
        "--timeout",
        "60s",
    ])
    .args(extra);
    cmd
}

/// Containers a rehearsal by process `pid` left on the engine.
fn left_behind(pid: u32) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .args([
            "ps",
            "-a",
            "--format",
            "{{.Names}} {{.Label \"dev.ecs-ship.rehearsal\"}}",
        ])
        .output()
        .expect("the docker CLI runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(1)
                .is_some_and(|id| id.starts_with(&format!("{pid}-")))
        })
        .map(str::to_owned)
        .collect()
}

fn run_child(cmd: &mut std::process::Command) -> (u32, Run) {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    (
        pid,
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
    )
}

#[test]
fn the_example_rehearses_healthy_and_leaves_nothing_behind() {
    if !require_docker() {
        return;
    }
    let (dir, port) = variant(|_| {});
    let url = format!("http://127.0.0.1:{port}/health");
    let (pid, run) = run_child(&mut rehearse(
        &dir,
        &[
            "--health-url",
            &url,
            "--secret",
            "DB_PASSWORD=s3cret-value",
            "--output",
            "json",
        ],
    ));
    let run = run.expect_code(0);
    let json = run.json();
    assert_eq!(json["verdict"], "healthy", "{}", run.stderr);
    assert!(json["seconds_to_healthy"].as_f64().unwrap() > 0.0);
    assert_eq!(json["network"], "host");
    assert_eq!(json["secrets"][0]["name"], "DB_PASSWORD");
    assert_eq!(json["secrets"][0]["given"], true);
    assert!(json["cleaned_up"].as_bool().unwrap());
    // The rendered task definition and its diff: the rehearsal image and the awslogs guarantee.
    assert!(
        json["diff"]
            .as_str()
            .unwrap()
            .contains("+      \"logConfiguration\": {")
    );
    assert!(!run.stdout.contains("s3cret-value") && !run.stderr.contains("s3cret-value"));
    assert_eq!(left_behind(pid), Vec::<String>::new());
}

#[test]
fn a_process_that_exits_fails_the_rehearsal_with_its_exit_code_and_log() {
    if !require_docker() {
        return;
    }
    // That team's kind of failure: a secret missing from the task definition.
    let (dir, _) = variant(|doc| {
        doc["containerDefinitions"][0]
            .as_object_mut()
            .unwrap()
            .remove("secrets");
    });
    let (pid, run) = run_child(&mut rehearse(&dir, &[]));
    run.expect_code(4)
        .stdout_has("failed: the container exited with code 3")
        .stdout_has("| DB_PASSWORD is not set: refusing to start");
    assert_eq!(left_behind(pid), Vec::<String>::new());
}

#[test]
fn a_failing_health_check_fails_the_rehearsal_with_the_log() {
    if !require_docker() {
        return;
    }
    let (dir, _) = variant(|doc| {
        doc["containerDefinitions"][0]["healthCheck"] = serde_json::json!({
            "command": ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:$PORT/healthz || exit 1"],
            "interval": 1, "timeout": 1, "retries": 2
        });
    });
    let (pid, run) = run_child(&mut rehearse(&dir, &[]));
    run.expect_code(4)
        .stdout_has("its health check failed (unhealthy)")
        .stdout_has("response:404");
    assert_eq!(left_behind(pid), Vec::<String>::new());
}

/// Starts a rehearsal whose container never becomes healthy, waits until its container runs,
/// sends `signal`, and returns the exit code and what was left behind.
fn interrupted(signal: &str) -> (i32, Vec<String>, String) {
    let (dir, _) = variant(|doc| {
        doc["containerDefinitions"][0]["healthCheck"]["command"] =
            serde_json::json!(["CMD-SHELL", "exit 1"]);
        doc["containerDefinitions"][0]["healthCheck"]["retries"] = 10.into();
    });
    let child = rehearse(&dir, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let start = Instant::now();
    while left_behind(pid).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the container never started"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        left_behind(pid),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn sigint_and_sigterm_remove_the_rehearsals_containers() {
    if !require_docker() {
        return;
    }
    let (code, left, stderr) = interrupted("-INT");
    assert_eq!(code, 130, "{stderr}");
    assert_eq!(left, Vec::<String>::new());
    assert!(
        stderr.contains("removing the rehearsal's containers"),
        "{stderr}"
    );
    let (code, left, stderr) = interrupted("-TERM");
    assert_eq!(code, 143, "{stderr}");
    assert_eq!(left, Vec::<String>::new());
}
