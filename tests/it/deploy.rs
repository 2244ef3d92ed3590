//! `ecs-ship deploy` and `wait` end to end against moto (services report MOTO_ECS_SERVICE_RUNNING=1
//! running task; ci/moto_server.py makes UpdateService complete a deployment as ECS does).

use aws_sdk_ecs::types::{DeploymentController, DeploymentControllerType};

use crate::harness::*;

/// A cluster with service `web` running revision 1 of a fresh family; returns (cluster, family, arn).
async fn running_service(
    desired: i32,
    controller: Option<DeploymentControllerType>,
) -> (String, String, String) {
    let family = unique("deploy");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("td.json");
    std::fs::write(&path, format!(r#"{{"family": "{family}", "containerDefinitions": [{{"name": "api", "image": "127.0.0.1:15000/api:v1", "memory": 64}}]}}"#)).unwrap();
    let arn = ecs_ship_run(&["taskdef", "register", "--file", path.to_str().unwrap()])
        .expect_code(0)
        .stdout
        .trim()
        .to_owned();
    let ecs = aws_sdk_ecs::Client::new(&sdk_config().await);
    let cluster = unique("cluster");
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    let mut create = ecs
        .create_service()
        .cluster(&cluster)
        .service_name("web")
        .task_definition(&arn)
        .desired_count(desired);
    if let Some(c) = controller {
        create = create
            .deployment_controller(DeploymentController::builder().r#type(c).build().unwrap());
    }
    create.send().await.unwrap();
    (cluster, family, arn)
}

async fn service_task_definition(cluster: &str) -> String {
    let ecs = aws_sdk_ecs::Client::new(&sdk_config().await);
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services("web")
        .send()
        .await
        .unwrap();
    out.services()[0].task_definition().unwrap().to_owned()
}

#[tokio::test]
async fn deploy_updates_the_service_to_the_new_revision_and_reports_stable() {
    if !require_moto() {
        return;
    }
    let (cluster, family, _) = running_service(1, None).await;
    let run = ecs_ship_run(&[
        "deploy",
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--image",
        "api=127.0.0.1:15000/api:v2",
        "--output",
        "json",
    ])
    .expect_code(0)
    .stderr_has("updated service `web` to ")
    .stderr_has("waiting up to 15m");
    let report = run.json();
    assert_eq!(report["wait"]["services"][0]["verdict"], "stable");
    assert_eq!(
        report["services"][0]["task_definition"]["arn"],
        report["wait"]["services"][0]["task_definition"]
    );
    assert_eq!(report["services"][0]["task_definition"]["reused"], false);
    assert!(
        report["services"][0]["previous"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{family}:1"))
    );
    let new = report["wait"]["services"][0]["task_definition"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(new.ends_with(&format!("{family}:2")), "{new}");
    assert_eq!(service_task_definition(&cluster).await, new);

    // Re-running with the same inputs reuses the identical revision.
    ecs_ship_run(&[
        "deploy",
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--image",
        "api=127.0.0.1:15000/api:v2",
    ])
    .expect_code(0)
    .stderr_has("reusing it")
    .stdout_has(&format!("web: stable on {family}:2"));
}

#[tokio::test]
async fn no_wait_stops_after_the_update_and_dry_run_changes_nothing() {
    if !require_moto() {
        return;
    }
    let (cluster, family, old) = running_service(1, None).await;
    ecs_ship_run(&[
        "deploy",
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--image",
        "api=127.0.0.1:15000/api:v3",
        "--dry-run",
    ])
    .expect_code(0)
    .stdout_has("+      \"image\": \"127.0.0.1:15000/api:v3\"")
    .stderr_has("dry run: would update service `web`");
    assert_eq!(
        service_task_definition(&cluster).await,
        old,
        "a dry run leaves the service alone"
    );

    let run = ecs_ship_run(&[
        "deploy",
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--image",
        "api=127.0.0.1:15000/api:v3",
        "--no-wait",
    ])
    .expect_code(0);
    assert!(!run.stderr.contains("waiting up to"), "{}", run.stderr);
    assert!(
        run.stdout.trim().ends_with(&format!("{family}:2")),
        "{}",
        run.stdout
    );
    assert!(
        service_task_definition(&cluster)
            .await
            .ends_with(&format!("{family}:2"))
    );
}

#[tokio::test]
async fn a_service_that_never_settles_times_out_with_exit_5_and_a_report() {
    if !require_moto() {
        return;
    }
    // Desired 2, while moto reports 1 running: never stable.
    let (cluster, family, _) = running_service(2, None).await;
    ecs_ship_run(&[
        "wait",
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--timeout",
        "3s",
        "--poll-interval",
        "1s",
    ])
    .expect_code(5)
    .stderr_has("timed out after 3s waiting for web (rollout IN_PROGRESS)")
    .stdout_has("web: timed_out: rollout IN_PROGRESS")
    .stdout_has(&format!(
        "deployment: PRIMARY {family}:1 desired 2 pending 1 running 1 IN_PROGRESS"
    ))
    .stdout_has(&format!("no stopped tasks of {family}:1 found"));
}

#[tokio::test]
async fn missing_services_and_other_controllers_are_refused() {
    if !require_moto() {
        return;
    }
    let (cluster, _, _) = running_service(1, Some(DeploymentControllerType::External)).await;
    ecs_ship_run(&[
        "deploy",
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--image",
        "api=x:2",
    ])
    .expect_code(2)
    .stderr_has("uses the EXTERNAL deployment controller");
    // CodeDeploy shifts traffic between task sets behind a load balancer: without one, refused.
    let (cluster, _, _) = running_service(1, Some(DeploymentControllerType::CodeDeploy)).await;
    ecs_ship_run(&[
        "deploy",
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--image",
        "api=x:2",
    ])
    .expect_code(2)
    .stderr_has("has no load balancer for CodeDeploy to shift traffic on");
    ecs_ship_run(&[
        "deploy",
        "--cluster",
        &cluster,
        "--service",
        "nope",
        "--image",
        "api=x:2",
    ])
    .expect_code(3)
    .stderr_has("service `nope` not found");
    ecs_ship_run(&[
        "wait",
        "--cluster",
        &cluster,
        "--service",
        "nope",
        "--task-definition",
        "arn:aws:ecs:us-east-1:123456789012:task-definition/x:1",
    ])
    .expect_code(4)
    .stderr_has("nope: service `nope` is MISSING");
}

#[tokio::test]
async fn a_failed_wait_reports_the_stopped_tasks_of_our_revision_with_their_last_log_lines() {
    if !require_moto() {
        return;
    }
    let (cluster, family, _) = running_service(1, None).await;
    // Revision 2, which the service does NOT run: waiting for it fails (the PRIMARY runs revision 1).
    let rev2 = ecs_ship_run(&[
        "taskdef",
        "register",
        "--family",
        &family,
        "--image",
        "api=127.0.0.1:15000/api:broken",
    ])
    .expect_code(0)
    .stdout
    .trim()
    .to_owned();
    let config = sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let task = ecs
        .run_task()
        .cluster(&cluster)
        .task_definition(&rev2)
        .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
        .send()
        .await
        .unwrap();
    let task_arn = task.tasks()[0].task_arn().unwrap().to_owned();
    let task_id = task_arn.rsplit('/').next().unwrap().to_owned();
    ecs.stop_task()
        .cluster(&cluster)
        .task(&task_arn)
        .reason("Essential container in task exited")
        .send()
        .await
        .unwrap();

    // What the container wrote before it died, where awslogs puts it: <prefix>/<container>/<task-id>.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let group = format!("/ecs/{family}");
    let stream = format!("ecs/api/{task_id}");
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name(&stream)
        .send()
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut put = logs
        .put_log_events()
        .log_group_name(&group)
        .log_stream_name(&stream);
    for (i, line) in [
        "starting api",
        "Traceback (most recent call last):",
        "KeyError: 'OPENAI_API_KEY'",
    ]
    .iter()
    .enumerate()
    {
        put = put.log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now + i as i64)
                .message(*line)
                .build()
                .unwrap(),
        );
    }
    put.send().await.unwrap();

    let run = ecs_ship_run(&[
        "wait",
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--task-definition",
        &rev2,
    ])
    .expect_code(4)
    .stderr_has("another deployment superseded ours")
    .stdout_has(&format!(
        "stopped task {task_id} of {family}:2: Essential container in task exited"
    ))
    .stdout_has("    container api: exit code 0")
    .stdout_has(&format!("---- last 3 log lines of {group} {stream} ----"))
    .stdout_has("    | KeyError: 'OPENAI_API_KEY'");
    let json = ecs_ship_run(&[
        "wait",
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--task-definition",
        &rev2,
        "--output",
        "json",
    ])
    .expect_code(4)
    .json();
    let stopped = &json["services"][0]["stopped_tasks"][0];
    assert_eq!(stopped["task_id"], task_id.as_str(), "{}", run.stdout);
    assert_eq!(
        stopped["containers"][0]["last_log_lines"][2],
        "KeyError: 'OPENAI_API_KEY'"
    );
}

#[test]
fn rollback_on_failure_returns_the_service_to_its_previous_revision_and_still_exits_4() {
    let Some(emulator) = emulator("failing") else {
        return;
    };
    const OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:11";
    const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:12";
    let deploy = |extra: &[&str]| {
        let mut cmd = emulator.command(&[
            "deploy",
            "--cluster",
            "c",
            "--service",
            "web",
            "--task-definition",
            NEW,
            "--no-create-log-group",
            "--max-task-failures",
            "2",
            "--poll-interval",
            "1s",
            "--timeout",
            "30s",
        ]);
        run(cmd.args(extra))
    };
    deploy(&["--rollback-on-failure"])
        .expect_code(4)
        .stderr_has(&format!("updated service `web` to {NEW} (was {OLD})"))
        .stderr_has(&format!("rolling back service `web` to {OLD}"))
        .stderr_has("2 tasks of web:12 failed")
        .stderr_has(&format!("rolled back `web` to {OLD}: stable"))
        // The load balancer's view, from the emulator's DescribeTargetHealth (moto cannot fail one).
        .stdout_has("target group web-tg: 1 of 2 targets healthy: 10.0.1.23:8080 unhealthy (Target.ResponseCodeMismatch: Health checks failed with these codes: [404])");

    // Without the flag the service is left on the failing revision, and the exit code is the same.
    deploy(&[])
        .expect_code(4)
        .stderr_has("tasks of web:12 failed");
    let run = deploy(&[]);
    assert!(!run.stderr.contains("rolling back"), "{}", run.stderr);
}

#[test]
fn a_circuit_breaker_rollback_fails_the_deploy_and_is_not_rolled_back_again() {
    let Some(emulator) = emulator("breaker") else {
        return;
    };
    const OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:11";
    const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:12";
    let mut cmd = emulator.command(&[
        "deploy",
        "--cluster",
        "c",
        "--service",
        "web",
        "--task-definition",
        NEW,
        "--no-create-log-group",
        "--rollback-on-failure",
        "--timeout",
        "60s",
    ]);
    let run = run(&mut cmd)
        .expect_code(4)
        .stderr_has(
            "the deployment of web:12 was rolled back: the PRIMARY deployment runs web:11 again",
        )
        .stderr_has("circuit breaker: tasks failed to start")
        .stderr_has(&format!("ECS already rolled `web` back to {OLD}"));
    assert!(
        !run.stderr.contains("rolling back service"),
        "no second rollback: {}",
        run.stderr
    );
}

#[test]
fn status_shows_target_health_with_elb_reasons() {
    // "failing" runs the old revision until an UpdateService, which status never sends.
    let Some(emulator) = emulator("failing") else {
        return;
    };
    let mut cmd = emulator.command(&["status", "--cluster", "c", "--service", "web"]);
    run(&mut cmd)
        .expect_code(0)
        .stdout_has("web: ACTIVE, 2 desired")
        .stdout_has("revision    web:11 (the family's latest is web:12)")
        .stdout_has("target group web-tg: 1 of 2 targets healthy: 10.0.1.23:8080 unhealthy (Target.ResponseCodeMismatch: Health checks failed with these codes: [404])");
}

/// A per-environment deploy: the overrides land in the registered revision (tag included), and the
/// service is told to propagate the task definition's tags to its tasks.
#[tokio::test]
async fn deploy_with_overrides_and_tag_propagation() {
    if !require_moto() {
        return;
    }
    let (cluster, _, _) = running_service(1, None).await;
    let run = ecs_ship_run(&[
        "deploy",
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--env",
        "MODE=production",
        "--memory",
        "api:128",
        "--tag",
        "env=production",
        "--propagate-tags",
        "TASK_DEFINITION",
        "--output",
        "json",
    ])
    .expect_code(0)
    .stderr_has("change: container `api`: environment.MODE: (none) -> production")
    .stderr_has("change: container `api`: memory: 64 -> 128")
    .stderr_has("change: tags.env: (none) -> production");
    let arn = run.json()["services"][0]["task_definition"]["arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = aws_sdk_ecs::Client::new(&sdk_config().await);
    let described = client
        .describe_task_definition()
        .task_definition(&arn)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .unwrap();
    let container = &described.task_definition().unwrap().container_definitions()[0];
    assert_eq!(container.environment()[0].value(), Some("production"));
    assert_eq!(container.memory(), Some(128));
    assert_eq!(described.tags()[0].key(), Some("env"));
    let service = client
        .describe_services()
        .cluster(&cluster)
        .services("web")
        .send()
        .await
        .unwrap();
    assert_eq!(
        service.services()[0].propagate_tags().map(|p| p.as_str()),
        Some("TASK_DEFINITION")
    );
    ecs_ship_run(&[
        "deploy",
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--propagate-tags",
        "SOMETIMES",
    ])
    .expect_code(2)
    .stderr_has("invalid value 'SOMETIMES' for '--propagate-tags <FROM>'");
}

/// Several services from one deploy, against the emulator: `web` settles, `worker`'s tasks keep
/// failing. One verdict per service, the worst as exit code, and the rollback scope as stated.
#[test]
fn several_services_get_a_verdict_each_and_the_rollback_scope_asked_for() {
    let deploy = |emulator: &Emulator, extra: &[&str]| {
        let mut cmd = ecs_ship();
        cmd.env("AWS_ENDPOINT_URL", &emulator.endpoint)
            .args([
                "deploy",
                "--cluster",
                "bench",
                "--service",
                "web",
                "--service",
                "worker",
                "--image",
                "api=127.0.0.1:15000/api:v9",
                "--max-task-failures",
                "2",
                "--timeout",
                "40s",
                "--poll-interval",
                "1s",
                "--output",
                "json",
            ])
            .args(extra);
        run(&mut cmd)
    };
    let Some(emulator) = emulator("pair") else {
        return;
    };
    let json = deploy(&emulator, &["--rollback-on-failure"])
        .expect_code(4)
        .json();
    let verdicts: Vec<(&str, &str)> = json["wait"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["service"].as_str().unwrap(),
                s["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(verdicts, [("web", "stable"), ("worker", "failed")]);
    assert_eq!(json["verdict"], "failed");
    assert_eq!(json["rollback_scope"], "failed");
    assert_eq!(json["rolled_back"], serde_json::json!(["worker"]));
    assert_eq!(json["services"].as_array().unwrap().len(), 2);
    assert_eq!(
        emulator.calls()["UpdateService"],
        3,
        "web once, worker there and back"
    );

    let Some(emulator) = crate::harness::emulator("pair") else {
        return;
    };
    let run = deploy(&emulator, &["--rollback", "all"])
        .expect_code(4)
        .stderr_has("rolling back service `web` to ")
        .stderr_has("rolling back service `worker` to ");
    assert_eq!(
        run.json()["rolled_back"],
        serde_json::json!(["web", "worker"])
    );
    assert_eq!(run.json()["rollback_scope"], "all");
    // An image without a container name cannot be placed in several task definitions.
    let Some(emulator) = crate::harness::emulator("pair") else {
        return;
    };
    let mut cmd = emulator.command(&[
        "deploy",
        "--cluster",
        "bench",
        "--service",
        "web",
        "--service",
        "worker",
        "--image",
        "127.0.0.1:15000/api:v9",
    ]);
    run_cmd(&mut cmd)
        .expect_code(2)
        .stderr_has("with several --service, name the container (NAME=IMAGE)");
    let mut cmd = emulator.command(&[
        "deploy",
        "--cluster",
        "bench",
        "--service",
        "web",
        "--service",
        "web",
    ]);
    run_cmd(&mut cmd)
        .expect_code(2)
        .stderr_has("--service `web` is given twice");
    assert_eq!(emulator.calls().get("UpdateService"), None);
}

fn run_cmd(cmd: &mut std::process::Command) -> Run {
    run(cmd)
}

/// Against moto: two services of one cluster, both on their new revision, one verdict each.
#[tokio::test]
async fn several_services_deploy_together_against_moto() {
    if !require_moto() {
        return;
    }
    let (cluster, family, arn) = running_service(1, None).await;
    let ecs = aws_sdk_ecs::Client::new(&sdk_config().await);
    ecs.create_service()
        .cluster(&cluster)
        .service_name("worker")
        .task_definition(&arn)
        .desired_count(1)
        .send()
        .await
        .unwrap();
    let json = ecs_ship_run(&[
        "deploy",
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--service",
        "worker",
        "--image",
        "api=127.0.0.1:15000/api:v2",
        "--output",
        "json",
    ])
    .expect_code(0)
    .json();
    assert_eq!(json["verdict"], "stable");
    let services = ecs
        .describe_services()
        .cluster(&cluster)
        .services("web")
        .services("worker")
        .send()
        .await
        .unwrap();
    for s in services.services() {
        assert!(
            s.task_definition().unwrap().starts_with(&format!(
                "arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:"
            )),
            "{s:?}"
        );
        assert_ne!(s.task_definition(), Some(arn.as_str()));
    }
}
