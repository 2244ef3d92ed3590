//! BuildKit builds on the stack's engine (its built-in BuildKit, through our session): cache and
//! secret mounts, a cache that survives a pruned builder, the classic builder, and the
//! architecture guard before RegisterTaskDefinition.

use serde_json::Value;

use crate::harness::*;

fn build_in(dir: &tempfile::TempDir, args: &[&str]) -> Run {
    let mut cmd = ecs_ship();
    cmd.current_dir(dir.path())
        .env("ECS_SHIP_TEST_TOKEN", SECRET)
        .args([
            "build",
            "--no-git-tag",
            "--no-timestamp-tag",
            "--output",
            "json",
        ])
        .args(args);
    run(&mut cmd)
}

const SECRET: &str = "s3cr3t-token-that-must-never-leak";

fn docker(args: &[&str]) -> String {
    let out = std::process::Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// `RUN --mount=type=cache` keeps its cache between builds; `RUN --mount=type=secret` sees the
/// secret, and the value reaches no log, no image layer or config, no history and no state file.
/// Then a cache pushed with --cache is imported by a build whose local cache was pruned.
#[test]
fn buildkit_mounts_work_secrets_leave_no_trace_and_the_registry_cache_survives_a_prune() {
    if !require_docker() || !require_registry() {
        return;
    }
    let repo = format!("{}/{}", registry(), unique("bk"));
    // Unique to this run (the cache mount's id too), so no earlier run's cache answers for it.
    let dockerfile = format!(
        "FROM busybox:stable\nARG BUST\nRUN --mount=type=cache,id={repo},target=/cache sh -c 'echo \"seen: $(cat /cache/stamp 2>/dev/null || echo none)\"; echo $BUST > /cache/stamp'\nRUN --mount=type=secret,id=token sh -c 'echo {repo} >/dev/null; wc -c < /run/secrets/token | sed s/^/SECRET-BYTES=/'\n"
    );
    let dir = context(&[("Dockerfile", dockerfile.as_str()), ("app.txt", "v1")]);
    let secret = ["--secret", "id=token,env=ECS_SHIP_TEST_TOKEN"];
    let first = build_in(
        &dir,
        &[
            &[
                "--repository",
                &repo,
                "--tag",
                "one",
                "--build-arg",
                "BUST=one",
            ],
            &secret[..],
        ]
        .concat(),
    )
    .expect_code(0)
    .stderr_has(&format!("SECRET-BYTES={}", SECRET.len()));
    let second = build_in(
        &dir,
        &[
            &[
                "--repository",
                &repo,
                "--tag",
                "two",
                "--build-arg",
                "BUST=two",
            ],
            &secret[..],
        ]
        .concat(),
    )
    .expect_code(0)
    .stderr_has("seen: one");
    let image = second.json()["image_id"].as_str().unwrap().to_owned();
    assert_eq!(second.json()["builder"], "buildkit");
    for (what, text) in [
        (
            "the first build's log",
            first.stderr.clone() + &first.stdout,
        ),
        (
            "the second build's log",
            second.stderr.clone() + &second.stdout,
        ),
        (
            "the state file",
            std::fs::read_to_string(dir.path().join(".ecs-ship/state.json")).unwrap(),
        ),
        (
            "the image's history",
            docker(&["history", "--no-trunc", &image]),
        ),
        ("the image's config", docker(&["image", "inspect", &image])),
    ] {
        assert!(!text.contains(SECRET), "the secret is in {what}: {text}");
    }
    let saved = std::process::Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .args(["save", &image])
        .output()
        .unwrap();
    assert!(saved.status.success());
    assert!(
        !saved
            .stdout
            .windows(SECRET.len())
            .any(|w| w == SECRET.as_bytes()),
        "the secret is in the image's layers"
    );

    // A cache pushed under --cache, imported after the local build cache is gone.
    let cache_ref = format!("{repo}:buildcache");
    // Unique to this run, so no earlier run's local cache makes the first build warm.
    let deps = format!(
        "FROM busybox:stable\nRUN echo dependencies {repo} > /deps && sleep 1\nCOPY app.txt /app.txt\n"
    );
    let cold = context(&[("Dockerfile", deps.as_str()), ("app.txt", "v1")]);
    let built = build_in(
        &cold,
        &["--repository", &repo, "--tag", "c1", "--cache", &cache_ref],
    )
    .expect_code(0)
    .stderr_has("(nothing to import yet: built without it)");
    assert_eq!(built.json()["cache"]["cached"], 0, "{}", built.stderr);
    let mut push = ecs_ship();
    push.current_dir(cold.path()).args(["push"]);
    run(&mut push)
        .expect_code(0)
        .stderr_has(&format!("pushed the build cache as {cache_ref}"));
    docker(&["rmi", "-f", &format!("{repo}:c1"), &cache_ref]);
    docker(&["builder", "prune", "-af"]);
    std::fs::write(cold.path().join("app.txt"), "v2").unwrap();
    let warm = build_in(
        &cold,
        &["--repository", &repo, "--tag", "c2", "--cache", &cache_ref],
    )
    .expect_code(0)
    .stderr_has(&format!(
        "RUN echo dependencies {repo} > /deps && sleep 1 CACHED"
    ));
    let counted: &Value = &warm.json()["cache"];
    assert_eq!(
        (counted["cached"].as_u64(), counted["total"].as_u64()),
        (Some(1), Some(2)),
        "{}",
        warm.stderr
    );
}

/// The first build with a cache ref that does not exist yet is not an error.
#[test]
fn a_cache_ref_that_does_not_exist_yet_is_not_an_error() {
    if !require_docker() || !require_registry() {
        return;
    }
    let dir = context(&[("Dockerfile", "FROM busybox:stable\nRUN echo first\n")]);
    let repo = format!("{}/{}", registry(), unique("nocache"));
    build_in(
        &dir,
        &[
            "--repository",
            &repo,
            "--tag",
            "t",
            "--cache-from",
            &format!("type=registry,ref={repo}:never"),
        ],
    )
    .expect_code(0);
}

/// `--builder classic` keeps the old path (its Step lines), and refuses what needs BuildKit.
#[test]
fn the_classic_builder_is_still_there_and_refuses_buildkit_flags() {
    if !require_docker() {
        return;
    }
    let dir = context(&[("Dockerfile", "FROM busybox:stable\nRUN echo classic\n")]);
    let repo = format!("{}/{}", registry(), unique("classic"));
    let built = build_in(
        &dir,
        &[
            "--repository",
            &repo,
            "--tag",
            "t",
            "--builder",
            "classic",
            "--no-cache",
        ],
    )
    .expect_code(0)
    .stderr_has("Step 2/");
    assert_eq!(built.json()["builder"], "classic");
    build_in(
        &dir,
        &[
            "--repository",
            &repo,
            "--tag",
            "t",
            "--builder",
            "classic",
            "--secret",
            "id=x,env=HOME",
        ],
    )
    .expect_code(2)
    .stderr_has("--secret need BuildKit");
    build_in(
        &dir,
        &[
            "--repository",
            &repo,
            "--tag",
            "t",
            "--cache-to",
            "type=registry,ref=r/a:c",
        ],
    )
    .expect_code(2)
    .stderr_has("can export only an inline cache");
    build_in(
        &dir,
        &[
            "--repository",
            &repo,
            "--tag",
            "t",
            "--secret",
            "id=x,src=/nonexistent/secret",
        ],
    )
    .expect_code(2)
    .stderr_has("--secret id=x: cannot read `/nonexistent/secret`");
}

/// A failed step is named with BuildKit's step name and its output is shown whole.
#[test]
fn a_failing_buildkit_step_exits_3_naming_the_step_with_its_output() {
    if !require_docker() {
        return;
    }
    let dir = context(&[(
        "Dockerfile",
        "FROM busybox:stable\nRUN echo before\nRUN echo doomed-line-1 && echo doomed-line-2 && exit 3\n",
    )]);
    build_in(
        &dir,
        &["--repository", "127.0.0.1:15000/fails", "--tag", "t"],
    )
    .expect_code(3)
    .stderr_has("error: the build failed at `[3/3] RUN echo doomed-line-1")
    .stderr_has("exit code: 3")
    .stderr_has("  doomed-line-1\n  doomed-line-2");
    assert!(!dir.path().join(".ecs-ship/state.json").exists());
}

fn push_platform_image(platform: &str) -> String {
    let dir = context(&[
        ("Dockerfile", "FROM scratch\nCOPY app.txt /app.txt\n"),
        ("app.txt", platform),
    ]);
    let repo = format!("{}/{}", registry(), unique("arch"));
    build_in(
        &dir,
        &["--repository", &repo, "--tag", "t", "--platform", platform],
    )
    .expect_code(0);
    let mut push = ecs_ship();
    push.current_dir(dir.path())
        .args(["push", "--output", "json"]);
    run(&mut push).expect_code(0).json()["image"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The architecture guard: an arm64 image is refused for an X86_64 task definition before
/// anything is registered; an amd64 one is deployed.
#[tokio::test]
async fn the_architecture_guard_refuses_an_arm64_image_for_x86_before_registering() {
    if !require_docker() || !require_registry() || !require_moto() {
        return;
    }
    let arm = push_platform_image("linux/arm64");
    let amd = push_platform_image("linux/amd64");
    let family = unique("vendor0919-task");
    let td = tempfile::tempdir().unwrap();
    let path = td.path().join("td.json");
    std::fs::write(&path, format!(r#"{{"family": "{family}", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc", "cpu": "256", "memory": "512", "runtimePlatform": {{"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}}, "containerDefinitions": [{{"name": "api", "image": "127.0.0.1:15000/api:v1"}}]}}"#)).unwrap();
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
    ecs.create_service()
        .cluster(&cluster)
        .service_name("web")
        .task_definition(&arn)
        .desired_count(1)
        .send()
        .await
        .unwrap();
    let revisions = || async {
        ecs.list_task_definitions()
            .family_prefix(&family)
            .send()
            .await
            .unwrap()
            .task_definition_arns()
            .len()
    };
    let deploy = |image: &str| {
        ecs_ship_run(&[
            "deploy",
            "--cluster",
            &cluster,
            "--service",
            "web",
            "--image",
            &format!("api={image}"),
        ])
    };
    deploy(&arm).expect_code(2).stderr_has(&format!(
        "image {arm} is linux/arm64, and {family} runs X86_64: rebuild with --platform linux/amd64"
    ));
    assert_eq!(
        revisions().await,
        1,
        "nothing registered for the refused image"
    );
    deploy(&amd).expect_code(0);
    assert_eq!(revisions().await, 2);
}
