//! ECR end to end, as users run it, on the stack's ECR look-alike (`<account>.dkr.ecr.<region>.amazonaws.com`
//! on loopback over TLS, basic auth that takes only moto's GetAuthorizationToken credentials, moto's ECR
//! reading what was pushed): build -> push --create-repository -> digest -> taskdef register
//! --pin-digest -> deploy, each a separate process; a refused and an expired token; no token in any output.

use crate::harness::*;

fn ecr() -> String {
    std::env::var("ECS_SHIP_TEST_ECR")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"))
}

fn require_ecr() -> bool {
    // The hosts entry ci/stack writes resolves the ECR name to loopback.
    let up = std::net::ToSocketAddrs::to_socket_addrs(&(ecr().as_str(), 443))
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| {
            a.ip().is_loopback()
                && std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(2))
                    .is_ok()
        });
    require_moto() && require_docker() && require_service("the ECR look-alike", up, &ecr())
}

#[tokio::test]
async fn an_image_goes_to_ecr_and_the_service_runs_it_pinned_by_digest() {
    if !require_ecr() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state = state.to_str().unwrap();
    let repo = format!("{}/{}", ecr(), unique("vendor0919-api"));
    let ctx = context(&[("Dockerfile", "FROM busybox:stable\nLABEL app=ecr-e2e\n")]);

    let built = ecs_ship_run(&[
        "build",
        "--context",
        ctx.path().to_str().unwrap(),
        "--repository",
        &repo,
        "--state",
        state,
        "--output",
        "json",
    ])
    .expect_code(0)
    .json();
    let tag = built["tags"][0].as_str().unwrap().to_owned();

    // Pushed through the engine with ECR's token; the digest verified through ECR itself.
    let mut push = ecs_ship();
    push.env("ECS_SHIP_LOG", "trace").args([
        "push",
        "--create-repository",
        "--state",
        state,
        "--output",
        "json",
    ]);
    let pushed = run(&mut push).expect_code(0);
    let image = pushed.json()["image"].as_str().unwrap().to_owned();
    assert!(image.starts_with(&format!("{repo}@sha256:")), "{image}");
    let token_password = format!("{ACCOUNT}-auth-token");
    assert!(
        !pushed.stderr.contains(&token_password) && !pushed.stdout.contains(&token_password),
        "the ECR password reached the output"
    );

    // The repository exists in ECR (moto), holding the pushed manifest under its true digest.
    let ecr_client = aws_sdk_ecr::Client::new(&sdk_config().await);
    let name = repo.split_once('/').unwrap().1;
    let images = ecr_client
        .describe_images()
        .repository_name(name)
        .send()
        .await
        .unwrap();
    let digest = image.rsplit_once('@').unwrap().1;
    assert!(
        images
            .image_details()
            .iter()
            .any(|d| d.image_digest() == Some(digest)),
        "{images:?}"
    );

    // digest, as a separate process, through ECR.
    ecs_ship_run(&["digest", &format!("{repo}:{tag}")])
        .expect_code(0)
        .stdout_has(&image);

    // A task definition registered with --pin-digest, then deployed to a service: it runs repo@sha256.
    let family = unique("ecr-e2e");
    let td = dir.path().join("td.json");
    std::fs::write(
        &td,
        format!(r#"{{"family": "{family}", "containerDefinitions": [{{"name": "api", "image": "", "memory": 64}}]}}"#),
    )
    .unwrap();
    let arn = ecs_ship_run(&[
        "taskdef",
        "register",
        "--file",
        td.to_str().unwrap(),
        "--image",
        &format!("api={repo}:{tag}"),
        "--pin-digest",
    ])
    .expect_code(0)
    .stdout
    .trim()
    .to_owned();
    let ecs = aws_sdk_ecs::Client::new(&sdk_config().await);
    let cluster = unique("ecr-cluster");
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    ecs.create_service()
        .cluster(&cluster)
        .service_name("api")
        .task_definition(&arn)
        .desired_count(1)
        .send()
        .await
        .unwrap();
    let described = ecs
        .describe_task_definition()
        .task_definition(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.task_definition().unwrap().container_definitions()[0].image(),
        Some(image.as_str())
    );
    ecs_ship_run(&[
        "deploy",
        "--cluster",
        &cluster,
        "--service",
        "api",
        "--image",
        &format!("api={repo}:{tag}"),
        "--pin-digest",
    ])
    .expect_code(0)
    .stdout_has("api: stable on ");
}

#[test]
fn a_token_the_registry_refuses_and_an_expired_one_end_in_exit_3_saying_which() {
    if !require_ecr() {
        return;
    }
    let other = std::env::var("ECS_SHIP_TEST_OTHER_ECR")
        .unwrap_or_else(|_| format!("210987654321.dkr.ecr.{REGION}.amazonaws.com"));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state = state.to_str().unwrap();
    let repo = format!("{other}/{}", unique("cross-account"));
    let ctx = context(&[("Dockerfile", "FROM busybox:stable\nLABEL app=cross\n")]);
    ecs_ship_run(&[
        "build",
        "--context",
        ctx.path().to_str().unwrap(),
        "--repository",
        &repo,
        "--state",
        state,
    ])
    .expect_code(0);
    // ECR issues the caller a token for its own account; the other account's registry refuses it.
    ecs_ship_run(&["push", "--state", state])
        .expect_code(3)
        .stderr_has("refused the push")
        .stderr_has(&format!("ECR's token for account {ACCOUNT}"));

    // A token that expired: the scripted emulator answers GetAuthorizationToken with one from 2015.
    let Some(emulator) = emulator("failing") else {
        return;
    };
    let mut cmd = emulator.command(&[
        "push",
        "--state",
        state,
        "--repository",
        &format!("{}/x", ecr()),
        "--tag",
        "t",
    ]);
    run(&mut cmd)
        .expect_code(3)
        .stderr_has("the ECR authorization token for account")
        .stderr_has("expired at 2015-01-01");
}

/// A re-run of a release to ECR finds the pushed image through ECR itself (by digest) and skips
/// build and push: the registry endpoint is never asked directly.
#[test]
fn a_release_to_ecr_re_run_skips_what_was_pushed() {
    if !require_ecr() {
        return;
    }
    let world = world();
    let repo = format!("{}/{}", ecr(), unique("release"));
    let state = world.path("state.json");
    let context = world.context();
    let release = || {
        ecs_ship_run(&[
            "release",
            "--context",
            &context,
            "--repository",
            &repo,
            "--cluster",
            &world.cluster,
            "--service",
            &world.service,
            "--container",
            "api",
            "--create-repository",
            "--state",
            &state,
            "--imagedefs",
            &world.path("imagedefinitions.json"),
            "--output",
            "json",
        ])
        .expect_code(0)
        .json()
    };
    let first = release();
    assert!(
        first["image"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{repo}@sha256:"))
    );
    let again = release();
    assert_eq!(again["steps"][1]["status"], "skipped", "{again}");
    assert_eq!(again["steps"][2]["status"], "skipped");
    assert_eq!(again["image"], first["image"]);
}

#[test]
fn a_tag_of_an_immutable_repository_is_not_moved_to_another_image() {
    if !require_ecr() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state = state.to_str().unwrap();
    let repo = format!("{}/{}", ecr(), unique("immutable-api"));
    let build = |label: &str| {
        let ctx = context(&[(
            "Dockerfile",
            &format!("FROM busybox:stable\nLABEL app={label}\n"),
        )]);
        ecs_ship_run(&[
            "build",
            "--context",
            ctx.path().to_str().unwrap(),
            "--repository",
            &repo,
            "--no-timestamp-tag",
            "--no-git-tag",
            "--tag",
            "v1",
            "--state",
            state,
        ])
        .expect_code(0);
    };
    build("first");
    ecs_ship_run(&[
        "push",
        "--create-repository",
        "--immutable-tags",
        "--state",
        state,
    ])
    .expect_code(0);
    // The same image again is fine; another image under v1 is refused before any upload.
    ecs_ship_run(&["push", "--state", state]).expect_code(0);
    build("second");
    let run = ecs_ship_run(&["push", "--state", state])
        .expect_code(2)
        .stderr_has(":v1 already names sha256:")
        .stderr_has("the repository's tags are immutable (imageTagMutability IMMUTABLE)")
        .stderr_has("push under a new tag");
    assert!(!run.stderr.contains("pushing "), "{}", run.stderr);
}
