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
    let cluster = service_running(&format!(r#"{{"family": "{family}", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc", "cpu": "256", "memory": "512", "runtimePlatform": {{"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}}, "containerDefinitions": [{{"name": "api", "image": "127.0.0.1:15000/api:v1"}}]}}"#)).await;
    let ecs = aws_sdk_ecs::Client::new(&sdk_config().await);
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

/// An engine without BuildKit (its /session answers 404): the build falls back to the classic
/// builder with one line saying so; --secret is refused there.
#[test]
fn an_engine_without_buildkit_falls_back_to_the_classic_builder() {
    if !require_docker() {
        return;
    }
    let host = engine_without_buildkit();
    let dir = context(&[("Dockerfile", "FROM busybox:stable\nRUN echo fallback\n")]);
    let repo = format!("{}/{}", registry(), unique("fallback"));
    let mut cmd = ecs_ship();
    cmd.current_dir(dir.path()).env("DOCKER_HOST", &host).args([
        "build",
        "--repository",
        &repo,
        "--tag",
        "t",
        "--no-timestamp-tag",
        "--no-git-tag",
        "--no-cache",
        "--output",
        "json",
    ]);
    let built = run(&mut cmd)
        .expect_code(0)
        .stderr_has(
            "has no BuildKit (it answered 404 to /session): building with the classic builder",
        )
        .stderr_has("Step 2/");
    assert_eq!(built.json()["builder"], "classic");
    let mut secret = ecs_ship();
    secret
        .current_dir(dir.path())
        .env("DOCKER_HOST", &host)
        .args([
            "build",
            "--repository",
            &repo,
            "--tag",
            "t",
            "--secret",
            "id=x,env=HOME",
        ]);
    run(&mut secret)
        .expect_code(2)
        .stderr_has("--secret/--ssh need it");
}

/// `--platform linux/amd64,linux/arm64`: one image per platform (arm64 through QEMU), pushed, and
/// the index over them put under every tag; the digest recorded is the index's, which lists both
/// platforms and whose children are the images built. The guard accepts the index for X86_64.
#[tokio::test]
async fn several_platforms_make_one_verified_index_that_the_guard_accepts() {
    if !require_docker() || !require_registry() || !require_arm64() || !require_moto() {
        return;
    }
    let dir = context(&[(
        "Dockerfile",
        "ARG TARGETARCH\nFROM busybox:stable-${TARGETARCH}\nARG TARGETPLATFORM\nRUN echo \"built for $TARGETPLATFORM on $(uname -m)\"\n",
    )]);
    let repo = format!("{}/{}", registry(), unique("multi"));
    let built = build_in(
        &dir,
        &[
            "--repository",
            &repo,
            "--tag",
            "v1",
            "--tag",
            "latest",
            "--platform",
            "linux/amd64,linux/arm64",
            "--no-cache",
        ],
    )
    .expect_code(0)
    .stderr_has("built for linux/amd64 on x86_64")
    .stderr_has("built for linux/arm64 on aarch64");
    let platforms = built.json()["platforms"].as_array().unwrap().clone();
    assert_eq!(platforms.len(), 2, "{}", built.stdout);
    let mut push = ecs_ship();
    push.current_dir(dir.path())
        .args(["push", "--output", "json"]);
    let pushed = run(&mut push).expect_code(0).json();
    let digest = pushed["digest"].as_str().unwrap().to_owned();

    // The registry serves the index under both tags, by its bytes.
    for tag in ["v1", "latest"] {
        let (status, index) = registry_manifest(&repo, tag);
        assert_eq!(status, 200);
        let hashed = format!("sha256:{}", sha256_hex(&index));
        assert_eq!(hashed, digest, "{tag}");
        let index: Value = serde_json::from_slice(&index).unwrap();
        let listed: Vec<String> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                format!(
                    "{}/{}",
                    m["platform"]["os"].as_str().unwrap(),
                    m["platform"]["architecture"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(listed, ["linux/amd64", "linux/arm64"]);
        // Each child is the image built for its platform (its config is that image's id).
        for (m, p) in index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&platforms)
        {
            let (_, child) = registry_manifest(&repo, m["digest"].as_str().unwrap());
            let child: Value = serde_json::from_slice(&child).unwrap();
            assert_eq!(child["config"]["digest"], p["image_id"]);
        }
    }
    assert_eq!(
        ecs_ship_run(&["digest", &format!("{repo}:v1")])
            .expect_code(0)
            .stdout
            .trim(),
        format!("{repo}@{digest}")
    );

    // The guard reads the index: an X86_64 service deploys it.
    let family = unique("multi-task");
    let cluster = service_running(&format!(r#"{{"family": "{family}", "runtimePlatform": {{"cpuArchitecture": "X86_64"}}, "containerDefinitions": [{{"name": "api", "image": "127.0.0.1:15000/api:v1", "memory": 64}}]}}"#)).await;
    ecs_ship_run(&[
        "deploy",
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--image",
        &format!("api={repo}@{digest}"),
    ])
    .expect_code(0);
}

fn registry_manifest(repo: &str, reference: &str) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let (host, path) = repo.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET /v2/{path}/manifests/{reference} HTTP/1.0\r\nHost: {host}\r\nAccept: application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, raw[split + 4..].to_vec())
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `--ssh default` forwards the agent at SSH_AUTH_SOCK: the RUN step gets a socket to it. A
/// missing agent is exit 2 before the build.
#[test]
fn ssh_default_forwards_the_agent_socket_and_a_missing_agent_is_named() {
    if !require_docker() {
        return;
    }
    let agent_dir = tempfile::tempdir().unwrap();
    let agent = agent_dir.path().join("agent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&agent).unwrap();
    let repo = format!("{}/{}", registry(), unique("ssh"));
    let dockerfile = format!(
        "FROM busybox:stable\nRUN --mount=type=ssh sh -c 'test -S \"$SSH_AUTH_SOCK\" && echo agent-socket-for-{repo}'\n"
    );
    let dir = context(&[("Dockerfile", dockerfile.as_str())]);
    let mut cmd = ecs_ship();
    cmd.current_dir(dir.path())
        .env("SSH_AUTH_SOCK", &agent)
        .args([
            "build",
            "--repository",
            &repo,
            "--tag",
            "t",
            "--no-timestamp-tag",
            "--no-git-tag",
            "--ssh",
            "default",
        ]);
    run(&mut cmd)
        .expect_code(0)
        .stderr_has(&format!("agent-socket-for-{repo}"));
    let mut missing = ecs_ship();
    missing
        .current_dir(dir.path())
        .env_remove("SSH_AUTH_SOCK")
        .args([
            "build",
            "--repository",
            &repo,
            "--tag",
            "t",
            "--ssh",
            "default",
        ]);
    run(&mut missing)
        .expect_code(2)
        .stderr_has("--ssh default: SSH_AUTH_SOCK is not set");
}

/// One platform's image built and pushed as `repo:tag` (as a native CodeBuild leg does).
fn push_leg(repo: &str, tag: &str, platform: &str) -> String {
    let dir = context(&[
        ("Dockerfile", "FROM scratch\nCOPY app.txt /app.txt\n"),
        ("app.txt", &format!("{platform} {tag}")),
    ]);
    build_in(
        &dir,
        &["--repository", repo, "--tag", tag, "--platform", platform],
    )
    .expect_code(0);
    let mut push = ecs_ship();
    push.current_dir(dir.path())
        .args(["push", "--output", "json"]);
    run(&mut push).expect_code(0).json()["digest"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `manifest create`: the legs' images assembled into one index in the registry, verified by its
/// bytes, each child the leg's image; bad sources refused before anything is put.
#[test]
fn manifest_create_assembles_the_legs_images_into_one_verified_index() {
    if !require_docker() || !require_registry() {
        return;
    }
    let repo = format!("{}/{}", registry(), unique("legs"));
    let amd = push_leg(&repo, "v1-linux-amd64", "linux/amd64");
    let arm = push_leg(&repo, "v1-linux-arm64", "linux/arm64");
    let made = ecs_ship_run(&[
        "manifest",
        "create",
        &format!("{repo}:v1"),
        &format!("{repo}:v1-linux-amd64"),
        &format!("{repo}@{arm}"),
        "--tag",
        "latest",
        "--output",
        "json",
    ])
    .expect_code(0)
    .json();
    let digest = made["digest"].as_str().unwrap().to_owned();
    assert_eq!(made["image"], format!("{repo}@{digest}"));
    for tag in ["v1", "latest"] {
        let (status, index) = registry_manifest(&repo, tag);
        assert_eq!(status, 200, "{tag}");
        assert_eq!(format!("sha256:{}", sha256_hex(&index)), digest, "{tag}");
        let index: Value = serde_json::from_slice(&index).unwrap();
        let children: Vec<(String, String)> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["platform"]["architecture"].as_str().unwrap().to_owned(),
                    m["digest"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            children,
            [
                ("amd64".to_owned(), amd.clone()),
                ("arm64".to_owned(), arm.clone())
            ]
        );
    }
    // Two images for one platform, an image of another repository, a missing tag.
    let other = format!("{}/{}", registry(), unique("other"));
    let amd2 = push_leg(&repo, "v1b-linux-amd64", "linux/amd64");
    let cases = [
        (
            vec![format!("{repo}:v1-linux-amd64"), amd2],
            "two images for linux/amd64",
        ),
        (
            vec![format!("{other}@{amd}")],
            "an index lists manifests of its own repository only",
        ),
        (vec![format!("{repo}:no-such-tag")], "no-such-tag"),
    ];
    for (sources, want) in cases {
        let mut args = vec!["manifest".to_owned(), "create".into(), format!("{repo}:v2")];
        args.extend(sources);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let code = if want == "no-such-tag" { 3 } else { 2 };
        ecs_ship_run(&args).expect_code(code).stderr_has(want);
    }
    let (status, _) = registry_manifest(&repo, "v2");
    assert_eq!(status, 404, "nothing was put for a refused index");
}

/// `release --merge-platforms`: no build; the legs' images become one index that the service is
/// deployed on, pinned by the index's digest (the guard accepts it for X86_64).
#[tokio::test]
async fn a_release_merges_the_platform_legs_and_deploys_the_index() {
    if !require_docker() || !require_registry() || !require_moto() {
        return;
    }
    let repo = format!("{}/{}", registry(), unique("merge"));
    push_leg(&repo, "r7-linux-amd64", "linux/amd64");
    push_leg(&repo, "r7-linux-arm64", "linux/arm64");
    let family = unique("merge-task");
    let cluster = service_running(&format!(r#"{{"family": "{family}", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc", "cpu": "256", "memory": "512", "runtimePlatform": {{"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}}, "containerDefinitions": [{{"name": "api", "image": "127.0.0.1:15000/api:v1"}}]}}"#)).await;
    let dir = tempfile::tempdir().unwrap();
    let imagedefs = dir.path().join("imagedefinitions.json");
    let released = ecs_ship_run(&[
        "release",
        "--repository",
        &repo,
        "--merge-platforms",
        "linux/amd64,linux/arm64",
        "--tag",
        "r7",
        "--no-timestamp-tag",
        "--no-git-tag",
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--container",
        "api",
        "--imagedefs",
        imagedefs.to_str().unwrap(),
        "--state",
        dir.path().join("state.json").to_str().unwrap(),
        "--poll-interval",
        "1s",
        "--output",
        "json",
    ])
    .expect_code(0)
    .json();
    let image = released["image"].as_str().unwrap().to_owned();
    let digest = released["digest"].as_str().unwrap().to_owned();
    assert_eq!(image, format!("{repo}@{digest}"));
    assert_eq!(released["steps"][1]["step"], "build", "{released:#}");
    assert!(
        released["steps"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("over linux/amd64, linux/arm64"),
        "{released:#}"
    );
    let (status, index) = registry_manifest(&repo, "r7");
    assert_eq!(status, 200);
    assert_eq!(format!("sha256:{}", sha256_hex(&index)), digest);
    assert_eq!(released["verdict"], "stable", "{released:#}");
    let ecs = aws_sdk_ecs::Client::new(&sdk_config().await);
    let service = ecs
        .describe_services()
        .cluster(&cluster)
        .services("web")
        .send()
        .await
        .unwrap();
    let td = service.services()[0].task_definition().unwrap().to_owned();
    let described = ecs
        .describe_task_definition()
        .task_definition(&td)
        .send()
        .await
        .unwrap();
    let container = &described.task_definition().unwrap().container_definitions()[0];
    assert_eq!(container.image(), Some(image.as_str()));
    // A release merging platforms no leg pushed says which tag is missing.
    ecs_ship_run(&[
        "release",
        "--repository",
        &repo,
        "--merge-platforms",
        "linux/amd64,linux/s390x",
        "--tag",
        "r7",
        "--no-timestamp-tag",
        "--no-git-tag",
        "--no-deploy",
        "--container",
        "api",
        "--imagedefs",
        imagedefs.to_str().unwrap(),
        "--state",
        dir.path().join("state.json").to_str().unwrap(),
    ])
    .expect_code(3)
    .stderr_has("r7-linux-s390x");
}
