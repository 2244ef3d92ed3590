//! `ecs-ship release` and `status` end to end: the example service built on the stack's engine,
//! pushed to the local registry, registered and deployed in moto; re-runs, the hand-off variant,
//! a failing build, and `--verify-url` against local servers.

use crate::harness::*;

fn release(world: &World, repo: &str, extra: &[&str]) -> Run {
    let state = world.path("state.json");
    let imagedefs = world.path("out/imagedefinitions.json");
    let context = world.context();
    let mut args = vec![
        "release",
        "--context",
        &context,
        "--repository",
        repo,
        "--cluster",
        &world.cluster,
        "--service",
        &world.service,
        "--container",
        "api",
        "--state",
        &state,
        "--imagedefs",
        &imagedefs,
        "--timeout",
        "60s",
    ];
    args.extend_from_slice(extra);
    ecs_ship_run(&args)
}

async fn ecs() -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::new(&sdk_config().await)
}

async fn running_revision(world: &World) -> String {
    let out = ecs()
        .await
        .describe_services()
        .cluster(&world.cluster)
        .services(&world.service)
        .send()
        .await
        .unwrap();
    out.services()[0].task_definition().unwrap().to_owned()
}

async fn revisions(family: &str) -> usize {
    ecs()
        .await
        .list_task_definitions()
        .family_prefix(family)
        .send()
        .await
        .unwrap()
        .task_definition_arns()
        .len()
}

#[tokio::test]
async fn release_ships_the_example_pinned_by_digest_with_logs_and_a_rerun_redoes_nothing() {
    if !(require_moto() && require_docker() && require_registry()) {
        return;
    }
    let world = world();
    let repo = format!("{}/{}", registry(), unique("vendor0919-api"));
    let run = release(&world, &repo, &["--output", "json"])
        .expect_code(0)
        .stderr_has("step check ")
        .stderr_has("step deploy ");
    let json = run.json();
    let image = json["image"].as_str().unwrap().to_owned();
    assert!(image.starts_with(&format!("{repo}@sha256:")), "{image}");
    assert_eq!(json["verdict"], "stable");
    assert_eq!(json["reused"], false);
    let arn = json["task_definition_arn"].as_str().unwrap().to_owned();
    assert!(arn.ends_with(&format!("{}:2", world.family)), "{arn}");
    assert!(
        json["previous_task_definition_arn"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{}:1", world.family))
    );
    let steps: Vec<(&str, &str)> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("check", "done"),
            ("build", "done"),
            ("push", "done"),
            ("imagedefs", "done"),
            ("register", "done"),
            ("deploy", "done")
        ]
    );

    // The service runs the new revision: the pushed digest, awslogs configured, the group created.
    assert_eq!(running_revision(&world).await, arn);
    let td = ecs()
        .await
        .describe_task_definition()
        .task_definition(&arn)
        .send()
        .await
        .unwrap();
    let api = &td.task_definition().unwrap().container_definitions()[0];
    assert_eq!(api.image(), Some(image.as_str()));
    let logs = api.log_configuration().unwrap();
    assert_eq!(logs.log_driver().as_str(), "awslogs");
    let group = format!("/ecs/{}", world.family);
    assert_eq!(
        logs.options().unwrap().get("awslogs-group"),
        Some(&group),
        "{logs:?}"
    );
    let groups = aws_sdk_cloudwatchlogs::Client::new(&sdk_config().await)
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(groups.log_groups().len(), 1);
    let imagedefs = std::fs::read_to_string(world.path("out/imagedefinitions.json")).unwrap();
    assert!(
        imagedefs.contains(&format!("\"imageUri\": \"{image}\"")),
        "{imagedefs}"
    );

    // A re-run with nothing changed builds, pushes and registers nothing.
    let again = release(&world, &repo, &["--output", "json"]).expect_code(0);
    let json = again.json();
    assert_eq!(json["steps"][1]["status"], "skipped", "{}", again.stdout);
    assert_eq!(json["steps"][2]["status"], "skipped");
    assert_eq!(json["reused"], true);
    assert_eq!(json["task_definition_arn"], arn.as_str());
    assert_eq!(revisions(&world.family).await, 2);

    // --rebuild builds again: a new image (its `created` label differs), so a new revision.
    release(&world, &repo, &["--rebuild", "-q"])
        .expect_code(0)
        .stdout_has("build      done");
    let arn = running_revision(&world).await;
    assert!(arn.ends_with(&format!("{}:3", world.family)), "{arn}");

    // status names the revision, the digest it runs and its log group, in text and JSON.
    let status = ecs_ship_run(&[
        "status",
        "--cluster",
        &world.cluster,
        "--service",
        &world.service,
    ])
    .expect_code(0);
    let short = arn.rsplit('/').next().unwrap();
    assert!(
        status.stdout.contains(&format!("revision    {short}")),
        "{}",
        status.stdout
    );
    let status_json = ecs_ship_run(&[
        "status",
        "--cluster",
        &world.cluster,
        "--service",
        &world.service,
        "--output",
        "json",
    ])
    .expect_code(0)
    .json();
    let service = &status_json["services"][0];
    assert_eq!(service["containers"][0]["container"], "api");
    assert!(
        service["containers"][0]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert_eq!(service["containers"][0]["awslogs"]["group"], group.as_str());
}

#[tokio::test]
async fn no_deploy_writes_the_artifacts_and_registers_nothing() {
    if !(require_moto() && require_docker() && require_registry()) {
        return;
    }
    let world = world();
    let repo = format!("{}/{}", registry(), unique("handoff"));
    let detail = world.path("out/imageDetail.json");
    let run = release(
        &world,
        &repo,
        &["--no-deploy", "--image-detail", &detail, "--output", "json"],
    )
    .expect_code(0)
    .stderr_has("--no-deploy: nothing registered");
    let json = run.json();
    assert_eq!(json["verdict"], "not_deployed");
    assert!(json["task_definition_arn"].is_null());
    let image = json["image"].as_str().unwrap();
    let detail = std::fs::read_to_string(&detail).unwrap();
    assert!(detail.contains(image), "{detail}");
    assert_eq!(revisions(&world.family).await, 1);
    assert!(running_revision(&world).await.ends_with(":1"));
}

#[tokio::test]
async fn a_failed_build_stops_the_release_and_says_nothing_was_registered() {
    if !(require_moto() && require_docker()) {
        return;
    }
    let world = world();
    std::fs::write(
        world.dir.path().join("app/Dockerfile"),
        "FROM busybox:stable\nRUN echo compiling; exit 7\n",
    )
    .unwrap();
    release(&world, &format!("{}/broken", registry()), &[])
        .expect_code(3)
        .stdout_has("build      FAILED")
        .stdout_has("failed at build: no image was built, nothing was registered, the service was not updated")
        .stderr_has("exit 7");
    assert_eq!(revisions(&world.family).await, 1);

    // A typo in --container is found before anything is built.
    let context = world.context();
    ecs_ship_run(&[
        "release",
        "--context",
        &context,
        "--repository",
        "r/x",
        "--cluster",
        &world.cluster,
        "--service",
        &world.service,
        "--container",
        "apii",
    ])
    .expect_code(2)
    .stdout_has("check      FAILED")
    .stderr_has("--container `apii`: the task definition");
}

#[tokio::test]
async fn verify_url_passes_on_200_and_fails_and_rolls_back_on_503() {
    if !(require_moto() && require_docker() && require_registry()) {
        return;
    }
    let world = world();
    let repo = format!("{}/{}", registry(), unique("verify"));
    let ok =
        fake_http(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_vec());
    release(
        &world,
        &repo,
        &["--verify-url", &format!("http://{ok}/health")],
    )
    .expect_code(0)
    .stdout_has("verdict   stable");
    let stable = running_revision(&world).await;

    // A change in the image (so there is a new revision), then a /health that fails.
    std::fs::write(world.dir.path().join("app/www/version.txt"), "2\n").unwrap();
    let bad = fake_http(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 7\r\nConnection: close\r\n\r\ndb down"
            .to_vec(),
    );
    let url = format!("http://{bad}/health");
    let run = release(
        &world,
        &repo,
        &[
            "--verify-url",
            &url,
            "--verify-timeout",
            "3s",
            "--rollback-on-failure",
        ],
    )
    .expect_code(4)
    .stderr_has(&format!("{url} did not answer 2xx"))
    .stderr_has("HTTP 503: db down")
    .stderr_has("rolled back `vendor0919-service` to ");
    assert!(run.stdout.contains("verdict   failed"), "{}", run.stdout);
    assert_eq!(running_revision(&world).await, stable);
}

/// `--before-deploy` runs the command on the new revision as the service runs its tasks, and the
/// service is updated only if it passes. moto 5.2.5 cannot run the example's awsvpc task (its
/// RunTask fails on its own side for awsvpc, and the world's service has no network), so here the
/// task cannot start - and nothing is deployed; the task's verdicts are `run`'s tests.
#[tokio::test]
async fn a_before_deploy_task_that_does_not_pass_stops_the_release_before_the_service() {
    if !(require_moto() && require_docker() && require_registry()) {
        return;
    }
    let world = world();
    let repo = format!("{}/{}", registry(), unique("vendor0919-api"));
    let before = running_revision(&world).await;
    let run = release(
        &world,
        &repo,
        &[
            "--before-deploy", "bin/migrate --to 'latest'", "--before-deploy-timeout", "3s",
            "--output", "json",
        ],
    )
    .expect_code(2)
    .stderr_has("step pre-deploy FAILED")
    .stderr_has("uses awsvpc networking, and service `vendor0919-service` has no awsvpc network configuration")
    .stderr_has("release failed at pre-deploy: the image is pushed as ");
    let json = run.json();
    assert_eq!(json["failed_step"], "before_deploy");
    assert_ne!(json["task_definition_arn"].as_str().unwrap(), before);
    assert!(json["deploy"].is_null());
    // The service still runs the old revision.
    assert_eq!(running_revision(&world).await, before);
    ecs_ship_run(&[
        "release",
        "--context",
        ".",
        "--repository",
        "r",
        "--before-deploy",
        "x",
        "--no-deploy",
    ])
    .expect_code(2)
    .stderr_has("cannot be used with");
    ecs_ship_run(&[
        "release",
        "--context",
        ".",
        "--repository",
        "r",
        "--cluster",
        "c",
        "--service",
        "s",
        "--container",
        "api",
        "--before-deploy",
        "echo 'open",
    ])
    .expect_code(2)
    .stderr_has("invalid --before-deploy");
}

/// Two services of one cluster released together: both get the pushed digest in `api`.
#[tokio::test]
async fn a_release_of_two_services() {
    if !(require_moto() && require_docker() && require_registry()) {
        return;
    }
    let world = world();
    let repo = format!("{}/{}", registry(), unique("vendor0919-api"));
    let before = running_revision(&world).await;
    ecs()
        .await
        .create_service()
        .cluster(&world.cluster)
        .service_name("vendor0919-worker")
        .task_definition(&before)
        .desired_count(1)
        .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
        .send()
        .await
        .unwrap();
    let json = release(
        &world,
        &repo,
        &["--service", "vendor0919-worker", "--output", "json"],
    )
    .expect_code(0)
    .stderr_has("step check      done")
    .stderr_has("`vendor0919-service` runs ")
    .stderr_has("`vendor0919-worker` runs ")
    .json();
    assert_eq!(json["verdict"], "stable");
    let image = json["image"].as_str().unwrap().to_owned();
    let services = &json["deploy"]["services"];
    assert_eq!(services.as_array().unwrap().len(), 2);
    let client = ecs().await;
    let out = client
        .describe_services()
        .cluster(&world.cluster)
        .services(&world.service)
        .services("vendor0919-worker")
        .send()
        .await
        .unwrap();
    for s in out.services() {
        let td = client
            .describe_task_definition()
            .task_definition(s.task_definition().unwrap())
            .send()
            .await
            .unwrap();
        let api = &td.task_definition().unwrap().container_definitions()[0];
        assert_eq!(api.image(), Some(image.as_str()), "{:?}", s.service_name());
    }
    release(
        &world,
        &repo,
        &["--service", "vendor0919-worker", "--before-deploy", "x"],
    )
    .expect_code(2)
    .stderr_has("--before-deploy takes one --service");
    // A service named twice is refused at the check, before anything is built.
    let run = release(&world, &repo, &["--service", "vendor0919-service"])
        .expect_code(2)
        .stderr_has("--service `vendor0919-service` is given twice");
    assert!(!run.stderr.contains("step build"), "{}", run.stderr);
}

/// What a dry run must leave as it was: the family's revisions, the service's revision, the
/// working directory's artifacts, and the ECR repository it would create.
async fn unchanged(world: &World, name: &str, before: usize, running: &str) {
    assert_eq!(
        revisions(&world.family).await,
        before,
        "a revision was registered"
    );
    assert_eq!(
        running_revision(world).await,
        running,
        "the service was updated"
    );
    for file in ["state.json", "out/imagedefinitions.json"] {
        assert!(
            !std::path::Path::new(&world.path(file)).exists(),
            "{file} was written"
        );
    }
    let ecr = aws_sdk_ecr::Client::new(&sdk_config().await);
    let found = ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await;
    assert!(found.is_err(), "the repository {name} was created");
}

#[tokio::test]
async fn a_dry_run_release_creates_pushes_registers_updates_and_writes_nothing() {
    if !(require_moto() && require_docker()) {
        return;
    }
    let world = world();
    let name = unique("dry-run-repo");
    let repo = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}");
    let before = revisions(&world.family).await;
    let running = running_revision(&world).await;
    let run = release(&world, &repo, &["--create-repository", "--dry-run"])
        .expect_code(0)
        .stderr_has("dry run: would build ")
        .stderr_has(&format!(
            "dry run: would create repository {name}, then push "
        ))
        .stderr_has("dry run: would write ")
        .stderr_has("dry run: would register")
        .stderr_has(&format!(
            "dry run: would update service `{}`",
            world.service
        ));
    assert!(run.stdout.contains("verdict   dry_run"), "{}", run.stdout);
    unchanged(&world, &name, before, &running).await;

    // --dry-run=build builds on the local engine, and still pushes, records and writes nothing.
    release(&world, &repo, &["--create-repository", "--dry-run=build"])
        .expect_code(0)
        .stderr_has("step build      done")
        .stderr_has("dry run: would create repository");
    unchanged(&world, &name, before, &running).await;

    ecs_ship_run(&[
        "deploy",
        "--cluster",
        &world.cluster,
        "--service",
        &world.service,
        "--dry-run=build",
    ])
    .expect_code(2)
    .stderr_has("--dry-run=build: `deploy` builds no image");
}

#[tokio::test]
async fn a_corrupt_state_file_stops_build_and_release_before_building() {
    if !(require_moto() && require_docker() && require_registry()) {
        return;
    }
    let world = world();
    let repo = format!("{}/{}", registry(), unique("vendor0919-api"));
    let state = world.path("state.json");
    std::fs::write(&state, "{\"build\": ").unwrap();
    let run = release(&world, &repo, &[])
        .expect_code(2)
        .stderr_has(&format!("state file `{state}` is corrupt"))
        .stderr_has("start clean with `ecs-ship release --rebuild`");
    assert!(!run.stderr.contains("step build"), "{}", run.stderr);
    let context = world.context();
    let run = ecs_ship_run(&[
        "build",
        "--context",
        &context,
        "--repository",
        &repo,
        "--state",
        &state,
    ])
    .expect_code(2)
    .stderr_has("is corrupt");
    assert!(!run.stderr.contains("building "), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&state).unwrap(), "{\"build\": ");

    // --rebuild starts clean and keeps the corrupt file beside it.
    release(&world, &repo, &["--rebuild"])
        .expect_code(0)
        .stderr_has(&format!("kept as `{state}.corrupt`"));
    assert_eq!(
        std::fs::read_to_string(format!("{state}.corrupt")).unwrap(),
        "{\"build\": "
    );
}

/// `release` builds for the platform the task definition runs (the example is Fargate: X86_64),
/// with `--cache` says in the build step how many steps came from the cache, and pushes the cache
/// ref for the next cold runner.
#[tokio::test]
async fn a_release_builds_for_the_task_definitions_platform_and_keeps_its_cache() {
    if !(require_moto() && require_docker() && require_registry()) {
        return;
    }
    let world = world();
    let repo = format!("{}/{}", registry(), unique("cached"));
    let cache = format!("{repo}:buildcache");
    let run = release(&world, &repo, &["--cache", &cache, "--output", "json"])
        .expect_code(0)
        .stderr_has("building for linux/amd64 (the task definition runs X86_64 (Fargate's default); --platform overrides)")
        .stderr_has(&format!("pushed the build cache as {cache}"));
    let json = run.json();
    let build = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "build")
        .unwrap();
    assert!(
        build["detail"].as_str().unwrap().contains("steps cached)"),
        "{build}"
    );
    assert_eq!(json["build"]["cache_ref"], cache.as_str());
    assert_eq!(json["verdict"], "stable");
}
