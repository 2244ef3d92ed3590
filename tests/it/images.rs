//! `build`, `push`, `digest` and `imagedefs` against the real engine and registries of the stack.

use serde_json::Value;

use crate::harness::*;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn state_of(dir: &tempfile::TempDir) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.path().join(".ecs-ship/state.json")).unwrap())
        .unwrap()
}

/// Runs ecs-ship in `dir` (where the state file lives).
fn in_dir(dir: &tempfile::TempDir, args: &[&str]) -> Run {
    let mut cmd = ecs_ship();
    cmd.current_dir(dir.path())
        .env("GITHUB_SHA", SHA)
        .args(args);
    run(&mut cmd)
}

#[test]
fn build_sends_what_dockerignore_keeps_runs_steps_and_tags_by_time_and_sha() {
    if !require_docker() {
        return;
    }
    let dir = context(&[
        (
            "Dockerfile",
            "FROM busybox:stable\nCOPY . /ctx/\nRUN find /ctx -type f | sort | sed 's/^/FOUND /'\n",
        ),
        (
            ".dockerignore",
            "*.log\n**/*.tmp\nnode_modules\ndocs\n!docs/keep.md\n",
        ),
        ("app.py", "print('hi')"),
        ("debug.log", "x"),
        ("sub/debug.log", "kept: *.log is anchored at the root"),
        ("sub/scratch.tmp", "x"),
        ("node_modules/m/index.js", "x"),
        ("docs/keep.md", "x"),
        ("docs/drop.md", "x"),
    ]);
    let repo = format!("{}/{}", registry(), unique("build"));
    // --no-cache: a cached RUN step would print nothing.
    let run = in_dir(
        &dir,
        &[
            "build",
            "--repository",
            &repo,
            "--tag",
            "latest",
            "--label",
            "team=shop",
            "--no-cache",
            "--output",
            "json",
        ],
    )
    .expect_code(0);
    let found: Vec<&str> = run
        .stderr
        .lines()
        // BuildKit's output lines: `#N FOUND ...`.
        .filter_map(|l| l.split_once(" FOUND ").map(|(_, f)| f))
        .collect();
    assert_eq!(
        found,
        [
            "/ctx/.dockerignore",
            "/ctx/Dockerfile",
            "/ctx/app.py",
            "/ctx/docs/keep.md",
            "/ctx/sub/debug.log"
        ],
        "{}",
        run.stderr
    );

    let result = run.json();
    let tags: Vec<&str> = result["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tags.len(), 3, "{tags:?}");
    assert!(
        tags[0].len() == 12
            && tags[0].chars().all(|c| c.is_ascii_digit())
            && tags[0].starts_with("20"),
        "UTC %Y%m%d%H%M: {}",
        tags[0]
    );
    assert_eq!(&tags[1..], ["0123456", "latest"]);
    let state = state_of(&dir);
    assert_eq!(state["build"]["image_id"], result["image_id"]);
    assert_eq!(state["build"]["revision"], SHA);

    // The labels and tags on the image itself.
    let out = std::process::Command::new("docker")
        .env("DOCKER_HOST", docker_host())
        .args([
            "image",
            "inspect",
            "--format",
            "{{json .Config.Labels}} {{json .RepoTags}}",
            result["image_id"].as_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("\"org.opencontainers.image.revision\":\"{SHA}\"")),
        "{text}"
    );
    assert!(
        text.contains("\"org.opencontainers.image.created\":\"20")
            && text.contains("\"team\":\"shop\""),
        "{text}"
    );
    for t in &tags {
        assert!(text.contains(&format!("{repo}:{t}")), "{t} missing: {text}");
    }
}

#[test]
fn a_failing_step_exits_3_naming_the_step() {
    if !require_docker() {
        return;
    }
    let dir = context(&[(
        "Dockerfile",
        "FROM busybox:stable\nRUN echo before\nRUN echo doomed && exit 3\n",
    )]);
    in_dir(
        &dir,
        &[
            "build",
            "--repository",
            "127.0.0.1:15000/fails",
            "--builder",
            "classic",
        ],
    )
    .expect_code(3)
    .stderr_has("error: the build failed at `Step 3/5 : RUN echo doomed && exit 3`")
    .stderr_has("returned a non-zero code: 3");
    assert!(
        !dir.path().join(".ecs-ship/state.json").exists(),
        "nothing recorded for a failed build"
    );
}

#[test]
fn bad_build_input_is_refused_before_the_engine_is_asked() {
    // An engine that is not there: every case must fail on its input first (exit 2).
    let dir = context(&[("Dockerfile", "FROM scratch\n")]);
    let bad = |args: &[&str], needle: &str| {
        let mut cmd = ecs_ship();
        cmd.current_dir(dir.path())
            .env("DOCKER_HOST", "tcp://127.0.0.1:9")
            .args(args);
        run(&mut cmd).expect_code(2).stderr_has(needle);
    };
    bad(
        &[
            "build",
            "--repository",
            "r",
            "--context",
            "/nonexistent/ctx",
        ],
        "build context `/nonexistent/ctx` cannot be read",
    );
    bad(
        &["build", "--repository", "r", "-f", "nope.Dockerfile"],
        "Dockerfile `nope.Dockerfile` not found",
    );
    bad(
        &["build", "--repository", "r", "--tag", "bad tag"],
        "invalid tag `bad tag`",
    );
    bad(
        &["build", "--repository", "r", "--tag-format", "%Y/%m"],
        "invalid tag `2",
    );
    bad(
        &["build", "--repository", "Not/Valid"],
        "invalid --repository",
    );
    bad(
        &["build", "--repository", "repo:tag"],
        "give the repository without a tag",
    );
    bad(
        &["build", "--repository", "r", "--label", "novalue"],
        "invalid --label `novalue`",
    );
    let mut cmd = ecs_ship();
    cmd.current_dir(dir.path())
        .env("DOCKER_HOST", "tcp://127.0.0.1:9")
        .args(["build", "--repository", "r"]);
    run(&mut cmd)
        .expect_code(3)
        .stderr_has("no Docker engine at tcp://127.0.0.1:9");
}

#[tokio::test]
async fn build_then_push_in_separate_processes_pins_the_verified_digest() {
    if !(require_docker() && require_registry()) {
        return;
    }
    let dir = context(&[
        (
            "Dockerfile",
            "FROM busybox:stable\nRUN echo one > /1\nCOPY app.txt /\n",
        ),
        ("app.txt", &unique("content")),
    ]);
    let name = unique("pushed");
    let repo = format!("{}/{name}", registry());
    in_dir(&dir, &["build", "--repository", &repo, "--tag", "latest"]).expect_code(0);
    let pushed = in_dir(&dir, &["push", "--output", "json"])
        .expect_code(0)
        .json();
    let digest = pushed["digest"].as_str().unwrap().to_owned();
    assert_eq!(pushed["image"], format!("{repo}@{digest}"));
    assert_eq!(state_of(&dir)["push"]["image"], pushed["image"]);

    // The registry's own view: Docker-Content-Digest and the sha256 of the manifest bytes.
    for tag in pushed["tags"].as_array().unwrap() {
        let url = format!(
            "http://{}/v2/{name}/manifests/{}",
            registry(),
            tag.as_str().unwrap()
        );
        let response = reqwest::Client::new()
            .get(&url)
            .header("Accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
            .unwrap();
        let header = response.headers()["Docker-Content-Digest"]
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = response.bytes().await.unwrap();
        assert_eq!(header, digest);
        assert_eq!(
            ecs_ship::core::registry_auth::manifest_digest(&bytes),
            digest
        );
    }

    ecs_ship_run(&["digest", &format!("{repo}:latest")])
        .expect_code(0)
        .stdout_has(&format!("{repo}@{digest}"));
    ecs_ship_run(&["digest", &format!("{repo}@{digest}")]).expect_code(0);
    ecs_ship_run(&["digest", &format!("{repo}:no-such-tag")])
        .expect_code(3)
        .stderr_has("not found");

    // imagedefinitions.json and imageDetail.json from the state file.
    in_dir(
        &dir,
        &[
            "imagedefs",
            "--name",
            "api",
            "--container",
            "log_router=public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
            "--image-detail",
            "imageDetail.json",
        ],
    )
    .expect_code(0);
    let defs: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("imagedefinitions.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        defs,
        serde_json::json!([
            {"name": "log_router", "imageUri": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"},
            {"name": "api", "imageUri": format!("{repo}@{digest}")},
        ])
    );
    let detail: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("imageDetail.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        detail,
        serde_json::json!({"ImageURI": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"})
    );
}

#[test]
fn push_and_imagedefs_need_a_usable_state_file() {
    let dir = context(&[]);
    in_dir(&dir, &["push"])
        .expect_code(2)
        .stderr_has("nothing to push: no build recorded in `.ecs-ship/state.json`");
    in_dir(&dir, &["imagedefs", "--name", "api"])
        .expect_code(2)
        .stderr_has("run `ecs-ship push` first");
    std::fs::create_dir_all(dir.path().join(".ecs-ship")).unwrap();
    std::fs::write(dir.path().join(".ecs-ship/state.json"), "{\"build\": ").unwrap();
    in_dir(&dir, &["push"])
        .expect_code(2)
        .stderr_has("state file `.ecs-ship/state.json` is corrupt");
    in_dir(
        &dir,
        &[
            "imagedefs",
            "--container",
            "api=x:1",
            "--image-detail",
            "detail.json",
        ],
    )
    .expect_code(2)
    .stderr_has("CodeDeploy reads exactly `imageDetail.json`");
    assert!(
        !dir.path().join("imagedefinitions.json").exists(),
        "nothing half written"
    );
}

#[test]
fn a_registry_that_refuses_auth_fails_and_docker_config_credentials_work() {
    if !(require_docker() && require_registry()) {
        return;
    }
    let dir = context(&[("Dockerfile", "FROM busybox:stable\nRUN echo auth > /a\n")]);
    let repo = format!("{}/{}", auth_registry(), unique("auth"));
    in_dir(
        &dir,
        &["build", "--repository", &repo, "--no-timestamp-tag"],
    )
    .expect_code(0);
    in_dir(&dir, &["push"])
        .expect_code(3)
        .stderr_has("no basic auth credentials")
        .stderr_has("Docker config `auths`");

    // The stack's password contains `>?~`, which bollard's own header encoding loses.
    let config = tempfile::tempdir().unwrap();
    let auth = base64_encode("ecs-ship-test:test-pass>?~word");
    std::fs::write(
        config.path().join("config.json"),
        format!(
            r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#,
            auth_registry()
        ),
    )
    .unwrap();
    let mut cmd = ecs_ship();
    cmd.current_dir(dir.path())
        .env("DOCKER_CONFIG", config.path())
        .args(["-vv", "push"]);
    let run = run(&mut cmd).expect_code(0);
    let auth_header = ecs_ship::docker::push::registry_auth_header(
        Some(&ecs_ship::core::registry_auth::Credentials {
            username: "ecs-ship-test".into(),
            password: "test-pass>?~word".into(),
        }),
        &auth_registry(),
    );
    for secret in ["test-pass", auth.as_str(), auth_header.as_str()] {
        assert!(
            !run.stderr.contains(secret) && !run.stdout.contains(secret),
            "a secret reached the output even with -vv: {secret}"
        );
    }
    let mut cmd = ecs_ship();
    cmd.env("DOCKER_CONFIG", config.path())
        .args(["digest", &format!("{repo}:0123456")]);
    crate::harness::run(&mut cmd)
        .expect_code(0)
        .stdout_has(&format!("{repo}@sha256:"));
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn a_registry_that_goes_away_mid_push_is_retried_then_exit_3() {
    if !(require_docker() && require_registry()) {
        return;
    }
    let proxy = manifest_cutting_proxy(registry());
    let dir = context(&[("Dockerfile", "FROM busybox:stable\nRUN echo cut > /c\n")]);
    let repo = format!("{proxy}/{}", unique("cut"));
    in_dir(
        &dir,
        &["build", "--repository", &repo, "--no-timestamp-tag"],
    )
    .expect_code(0);
    in_dir(&dir, &["push", "--attempts", "2"])
        .expect_code(3)
        .stderr_has("retrying in 2s (attempt 2/2)")
        .stderr_has(&format!("failed to push {repo}:0123456 after 2 attempts"));
    assert!(state_of(&dir).get("push").is_none(), "nothing recorded");
}

#[test]
fn a_digest_that_does_not_match_its_manifest_is_refused() {
    let body = r#"{"schemaVersion":2}"#;
    let wrong = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let addr = fake_http(
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.distribution.manifest.v2+json\r\nDocker-Content-Digest: {wrong}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            .into_bytes(),
    );
    ecs_ship_run(&["digest", &format!("{addr}/app:v1")])
        .expect_code(3)
        .stderr_has(&format!(
            "the registry says {wrong} but the manifest bytes hash to sha256:"
        ))
        .stderr_has("refusing an unverified digest");
}

#[tokio::test]
async fn ecr_repositories_are_created_and_ecr_digests_verified_against_moto() {
    if !require_moto() {
        return;
    }
    let name = unique("ecr");
    let uri = format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}");
    let dir = context(&[]);
    // The engine is unreachable on purpose: no image is sent anywhere but the repository exists.
    let mut cmd = ecs_ship();
    cmd.current_dir(dir.path())
        .env("DOCKER_HOST", "tcp://127.0.0.1:9")
        .args([
            "push",
            "--repository",
            &uri,
            "--tag",
            "v1",
            "--create-repository",
            "--scan-on-push",
            "--immutable-tags",
        ]);
    run(&mut cmd)
        .expect_code(3)
        .stderr_has(&format!("created ECR repository {name}"))
        .stderr_has("no Docker engine");
    let ecr = aws_sdk_ecr::Client::new(&sdk_config().await);
    let described = ecr
        .describe_repositories()
        .repository_names(&name)
        .send()
        .await
        .unwrap();
    let created = &described.repositories()[0];
    assert_eq!(
        created.image_tag_mutability().map(|m| m.as_str()),
        Some("IMMUTABLE")
    );
    assert_eq!(
        created
            .image_scanning_configuration()
            .map(|c| c.scan_on_push()),
        Some(true)
    );

    let manifest = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}"#;
    ecr.put_image()
        .repository_name(&name)
        .image_manifest(manifest)
        .image_tag("v1")
        .send()
        .await
        .unwrap();
    let digest = ecs_ship::core::registry_auth::manifest_digest(manifest.as_bytes());
    ecs_ship_run(&["digest", &format!("{uri}:v1")])
        .expect_code(0)
        .stdout_has(&format!("{uri}@{digest}"));
    ecs_ship_run(&["digest", &format!("{uri}:v2")])
        .expect_code(3)
        .stderr_has("image tag `v2` not found");
}

/// At trace level the SDK logs GetAuthorizationToken's whole response before ecs-ship sees the token:
/// no level may print it. (The engine here is absent, so nothing is pushed anywhere.)
#[test]
fn the_ecr_token_never_reaches_the_output_even_at_trace() {
    if !require_moto() {
        return;
    }
    use base64::Engine as _;
    // moto's token for the stack's account: base64 of AWS:<password>.
    let password = format!("{ACCOUNT}-auth-token");
    let token = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"));
    let repo = format!(
        "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{}",
        unique("redact")
    );
    let mut cmd = ecs_ship();
    cmd.env("ECS_SHIP_LOG", "trace")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args([
            "push",
            "--repository",
            &repo,
            "--tag",
            "t1",
            "--create-repository",
        ]);
    let run = run(&mut cmd).expect_code(3).stderr_has("no Docker engine");
    assert!(
        run.stderr.contains("GetAuthorizationToken"),
        "the trace shows the call: {}",
        run.stderr.len()
    );
    for secret in [token.as_str(), password.as_str()] {
        assert!(
            !run.stderr.contains(secret) && !run.stdout.contains(secret),
            "the ECR token reached the output at trace level"
        );
    }
}

/// A file name that is not UTF-8 is refused with its path, not renamed silently; excluded, it is fine.
#[test]
fn a_non_utf8_file_name_in_the_context_is_refused_unless_excluded() {
    use std::os::unix::ffi::OsStrExt;
    let dir = context(&[("Dockerfile", "FROM busybox:stable\n")]);
    let name = std::ffi::OsStr::from_bytes(b"bad-\xff-name.txt");
    std::fs::write(dir.path().join(name), "x").unwrap();
    let state = dir.path().join("state.json");
    let args = [
        "build",
        "--context",
        dir.path().to_str().unwrap(),
        "--repository",
        "r/x",
        "--state",
        state.to_str().unwrap(),
    ];
    let mut cmd = ecs_ship();
    cmd.env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(args);
    run(&mut cmd)
        .expect_code(2)
        .stderr_has("is not UTF-8: rename it, or exclude it in .dockerignore");
    std::fs::write(dir.path().join(".dockerignore"), "bad-*\n").unwrap();
    let mut cmd = ecs_ship();
    cmd.env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(args);
    // Past the context: the missing engine is what stops it now.
    run(&mut cmd).expect_code(3).stderr_has("no Docker engine");
}

/// A state path that cannot be written is found before anything is built or pushed.
#[test]
fn an_unwritable_state_path_is_refused_before_the_build() {
    let dir = context(&[("Dockerfile", "FROM busybox:stable\n")]);
    let state_dir = dir.path().join("state-is-a-dir");
    std::fs::create_dir(&state_dir).unwrap();
    for command in ["build", "push"] {
        let mut cmd = ecs_ship();
        cmd.env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .args([
                command,
                "--state",
                state_dir.to_str().unwrap(),
                "--repository",
                "r/x",
            ]);
        if command == "build" {
            cmd.args(["--context", dir.path().to_str().unwrap()]);
        }
        run(&mut cmd)
            .expect_code(2)
            .stderr_has("is a directory: pass --state with a file path");
    }
}
