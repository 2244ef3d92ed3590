//! `ecs-ship taskdef render|register|diff` against moto: what is registered is what was rendered,
//! field for field; the log group exists; dry runs and identical results register nothing; bad
//! input is refused before anything is written.

use serde_json::Value;

use crate::harness::*;

/// The fixture with its family renamed, written to a temporary file.
fn fixture_as(name: &str, family: &str) -> (tempfile::TempDir, String) {
    fixture_edited(name, family, |_| {})
}

fn fixture_edited(
    name: &str,
    family: &str,
    edit: impl FnOnce(&mut Value),
) -> (tempfile::TempDir, String) {
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap();
    edit(&mut doc);
    if doc.get("taskDefinition").is_some() {
        doc["taskDefinition"]["family"] = Value::String(family.to_owned());
    } else {
        doc["family"] = Value::String(family.to_owned());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("td.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    (dir, path.to_str().unwrap().to_owned())
}

async fn revisions(family: &str) -> Vec<String> {
    let ecs = aws_sdk_ecs::Client::new(&sdk_config().await);
    ecs.list_task_definitions()
        .family_prefix(family)
        .send()
        .await
        .unwrap()
        .task_definition_arns()
        .to_vec()
}

/// Every path of `expected` is in `actual` with an equal value.
fn assert_contains(expected: &Value, actual: &Value, path: &str) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                let got = a
                    .get(k)
                    .unwrap_or_else(|| panic!("{path}.{k} missing from what ECS returned"));
                assert_contains(v, got, &format!("{path}.{k}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            assert_eq!(e.len(), a.len(), "{path}: length");
            for (i, (v, g)) in e.iter().zip(a).enumerate() {
                assert_contains(v, g, &format!("{path}[{i}]"));
            }
        }
        (e, a) => assert_eq!(e, a, "{path}"),
    }
}

#[tokio::test]
async fn register_from_a_file_is_what_was_rendered_and_creates_the_log_group() {
    if !require_moto() {
        return;
    }
    let family = unique("file");
    let (_dir, path) = fixture_as("ec2-sidecars.json", &family);
    let image = "cache-warmer=127.0.0.1:15000/warmer:v2";
    let rendered =
        ecs_ship_run(&["taskdef", "render", "--file", &path, "--image", image]).expect_code(0);
    let rendered: Value = serde_json::from_str(&rendered.stdout).unwrap();

    let run = ecs_ship_run(&[
        "taskdef",
        "register",
        "--file",
        &path,
        "--image",
        image,
        "--log-retention-days",
        "7",
        "--output",
        "json",
    ])
    .expect_code(0)
    .stderr_has(&format!("created log group /ecs/{family}"));
    let result = run.json();
    let arn = result["arn"].as_str().unwrap();
    assert!(
        arn.ends_with(&format!("task-definition/{family}:1")),
        "{arn}"
    );
    assert_eq!(result["revision"], 1);
    assert_eq!(result["reused"], false);
    assert!(
        result["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["container"] == "cache-warmer" && c["field"] == "image")
    );

    // What ECS holds now, read back through ecs-ship itself and straight from the SDK.
    let registered = ecs_ship_run(&["taskdef", "render", "--task-definition", arn]).expect_code(0);
    let registered: Value = serde_json::from_str(&registered.stdout).unwrap();
    assert_contains(&rendered, &registered, "$");
    let ecs = aws_sdk_ecs::Client::new(&sdk_config().await);
    let described = ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .unwrap();
    let web = &described.task_definition().unwrap().container_definitions()[1];
    assert_eq!(web.linux_parameters().unwrap().swappiness(), Some(60));
    assert_eq!(
        described.task_definition().unwrap().container_definitions()[2].image(),
        Some("127.0.0.1:15000/warmer:v2")
    );

    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config().await);
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/ecs/{family}"))
        .send()
        .await
        .unwrap();
    let group = groups
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(&format!("/ecs/{family}")))
        .expect("log group created");
    assert_eq!(group.retention_in_days(), Some(7));
}

#[tokio::test]
async fn an_identical_result_reuses_the_revision_and_force_registers_anew() {
    if !require_moto() {
        return;
    }
    let family = unique("same");
    // moto 5.2.5 does not store enableFaultInjection, so its revision would never look identical.
    let (_dir, path) = fixture_edited("arm64-efs-appmesh.json", &family, |d| {
        d.as_object_mut().unwrap().remove("enableFaultInjection");
    });
    let first = ecs_ship_run(&["taskdef", "register", "--file", &path]).expect_code(0);
    let arn = first.stdout.trim().to_owned();
    ecs_ship_run(&["taskdef", "register", "--file", &path])
        .expect_code(0)
        .stdout_has(&arn)
        .stderr_has("reusing it");
    ecs_ship_run(&["taskdef", "register", "--family", &family])
        .expect_code(0)
        .stdout_has(&arn)
        .stderr_has("reusing it");
    assert_eq!(revisions(&family).await.len(), 1);
    ecs_ship_run(&["taskdef", "register", "--family", &family, "--force"])
        .expect_code(0)
        .stdout_has(&format!("{family}:2"));
}

#[tokio::test]
async fn dry_run_prints_the_diff_and_registers_nothing() {
    if !require_moto() {
        return;
    }
    let family = unique("dry");
    let (_dir, path) = fixture_as("fargate-api-describe.json", &family);
    let run = ecs_ship_run(&["taskdef", "register", "--file", &path, "--image", "api=127.0.0.1:15000/api:v9", "--dry-run"])
        .expect_code(0)
        .stdout_has("\"family\": \"")
        .stdout_has("-      \"image\": \"123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/vendor0919-api:202509240325\",")
        .stdout_has("+      \"image\": \"127.0.0.1:15000/api:v9\",")
        .stdout_has("+      \"logConfiguration\": {");
    assert!(
        run.stderr.contains("dry run: nothing registered"),
        "{}",
        run.stderr
    );
    assert!(
        revisions(&family).await.is_empty(),
        "a dry run registers nothing"
    );
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config().await);
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix(format!("/ecs/{family}"))
        .send()
        .await
        .unwrap();
    assert!(
        groups.log_groups().is_empty(),
        "a dry run creates no log group"
    );
}

#[tokio::test]
async fn register_from_the_running_service_swaps_only_the_named_image() {
    if !require_moto() {
        return;
    }
    let family = unique("svc");
    let (_dir, path) = fixture_as("ec2-sidecars.json", &family);
    let first = ecs_ship_run(&["taskdef", "register", "--file", &path])
        .expect_code(0)
        .stdout
        .trim()
        .to_owned();
    // A later revision that the service does NOT run: the source must be the running one.
    ecs_ship_run(&["taskdef", "register", "--family", &family, "--force"]).expect_code(0);

    let ecs = aws_sdk_ecs::Client::new(&sdk_config().await);
    let cluster = unique("cluster");
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    ecs.create_service()
        .cluster(&cluster)
        .service_name("shop")
        .task_definition(&first)
        .desired_count(1)
        .send()
        .await
        .unwrap();

    let run = ecs_ship_run(&[
        "taskdef",
        "register",
        "--cluster",
        &cluster,
        "--service",
        "shop",
        "--image",
        "web=127.0.0.1:15000/shop/web:2.0.0",
        "--output",
        "json",
    ])
    .expect_code(0)
    .stderr_has(&format!("service `shop` runs {first}"));
    let json = run.json();
    assert_eq!(json["revision"], 3);
    let changes = json["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "only the image: {changes:?}");
    assert_eq!(
        changes[0]["old"],
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/web:1.4.2"
    );

    let new = ecs
        .describe_task_definition()
        .task_definition(json["arn"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let images: Vec<&str> = new
        .task_definition()
        .unwrap()
        .container_definitions()
        .iter()
        .filter_map(|c| c.image())
        .collect();
    assert_eq!(
        images,
        [
            "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
            "127.0.0.1:15000/shop/web:2.0.0",
            "busybox:1.36"
        ]
    );
}

#[tokio::test]
async fn pin_digest_resolves_the_tag_through_ecr() {
    if !require_moto() {
        return;
    }
    let ecr = aws_sdk_ecr::Client::new(&sdk_config().await);
    let repo = unique("pin");
    ecr.create_repository()
        .repository_name(&repo)
        .send()
        .await
        .unwrap();
    let manifest = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32,"digest":"sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"}]}"#;
    let put = ecr
        .put_image()
        .repository_name(&repo)
        .image_manifest(manifest)
        .image_tag("202511221930")
        .send()
        .await
        .unwrap();
    let digest = put
        .image()
        .unwrap()
        .image_id()
        .unwrap()
        .image_digest()
        .unwrap()
        .to_owned();

    let family = unique("pinned");
    let (_dir, path) = fixture_as("fargate-api-describe.json", &family);
    let uri = format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repo}");
    let run = ecs_ship_run(&[
        "taskdef",
        "render",
        "--file",
        &path,
        "--image",
        &format!("api={uri}:202511221930"),
        "--pin-digest",
    ])
    .expect_code(0);
    let td: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        td["containerDefinitions"][0]["image"],
        format!("{uri}@{digest}")
    );

    ecs_ship_run(&[
        "taskdef",
        "render",
        "--file",
        &path,
        "--image",
        &format!("api={uri}:missing"),
        "--pin-digest",
    ])
    .expect_code(3)
    .stderr_has(&format!(
        "image tag `missing` not found in ECR repository `{repo}`"
    ));
    ecs_ship_run(&[
        "taskdef",
        "render",
        "--file",
        &path,
        "--image",
        "api=127.0.0.1:15000/x:1",
        "--pin-digest",
    ])
    .expect_code(2)
    .stderr_has("is not an ECR image");
}

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_registered() {
    if !require_moto() {
        return;
    }
    let family = unique("bad");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let good = format!(
        r#"{{"family": "{family}", "containerDefinitions": [{{"name": "api", "image": "x:1"}}, {{"name": "side", "image": "y:1"}}]}}"#
    );
    let invalid_json = write(
        "invalid.json",
        &format!("{{\"family\": \"{family}\",\n  \"containerDefinitions\": [\n"),
    );
    let array = write("array.json", "[]");
    let empty = write("empty.json", "{}");
    let unknown = write(
        "unknown.json",
        &good.replace(
            "\"image\": \"y:1\"",
            "\"image\": \"y:1\", \"imagee\": \"typo\"",
        ),
    );
    let wrong_type = write(
        "type.json",
        &good.replace(
            "\"image\": \"y:1\"",
            "\"image\": \"y:1\", \"memory\": \"64\"",
        ),
    );
    let placeholder = write(
        "env.json",
        &good.replace("x:1", "x:${ECS_SHIP_TEST_UNSET_VARIABLE}"),
    );
    let duplicate = write(
        "duplicate.json",
        &good.replace(
            "\"image\": \"y:1\"",
            "\"image\": \"y:1\", \"image\": \"z:1\"",
        ),
    );
    let too_large = write(
        "large.json",
        &good.replace(
            "\"image\": \"y:1\"",
            &format!(
                "\"image\": \"y:1\", \"command\": [\"{}\"]",
                "x".repeat(70_000)
            ),
        ),
    );
    let huge = dir.path().join("huge.json");
    std::fs::write(&huge, " ".repeat(2 * 1024 * 1024)).unwrap();
    let huge = huge.to_str().unwrap().to_owned();
    let empty_enum = write(
        "enum.json",
        &good.replace("\"family\"", "\"pidMode\": \"\", \"family\""),
    );
    let good = write("good.json", &good);
    let missing_revision = format!("{family}:99");

    let cases: Vec<(Vec<&str>, i32, String)> = vec![
        (
            vec!["--file", &invalid_json],
            2,
            "invalid JSON at line 3 column 0".into(),
        ),
        (vec!["--file", &array], 2, "found an array".into()),
        (
            vec!["--file", &empty],
            2,
            "the task definition is empty".into(),
        ),
        (
            vec!["--file", &unknown],
            2,
            "unknown field `$.containerDefinitions[1].imagee`: did you mean `image`?".into(),
        ),
        (
            vec!["--file", &duplicate],
            2,
            "`$.containerDefinitions[1].image` is given twice".into(),
        ),
        (
            vec!["--file", &too_large, "--dry-run"],
            2,
            "ECS accepts at most 65536 (64 KiB)".into(),
        ),
        (
            vec!["--file", &huge],
            2,
            "bytes: not a task definition".into(),
        ),
        (
            vec!["--file", &empty_enum, "--strict"],
            2,
            "empty value at `$.pidMode`".into(),
        ),
        (
            vec!["--cluster", "", "--service", "web"],
            2,
            "must not be empty".into(),
        ),
        (
            vec!["--file", &wrong_type],
            2,
            "wrong type at `$.containerDefinitions[1].memory`".into(),
        ),
        (
            vec!["--file", &placeholder, "--expand-env"],
            2,
            "environment variable `ECS_SHIP_TEST_UNSET_VARIABLE` is not set".into(),
        ),
        (
            vec!["--file", &good, "--image", "nope=x:2"],
            2,
            "no container named `nope`: the task definition has containers `api`, `side`".into(),
        ),
        (
            vec!["--file", &good, "--image", "x:2"],
            2,
            "names no container".into(),
        ),
        (
            vec!["--file", "/nonexistent/td.json"],
            2,
            "cannot read task definition file `/nonexistent/td.json`".into(),
        ),
        (
            vec!["--family", "ecs-ship-no-such-family"],
            3,
            "task definition `ecs-ship-no-such-family` not found".into(),
        ),
        (
            vec!["--family", &missing_revision],
            3,
            format!("task definition `{family}:99` not found"),
        ),
        (
            vec!["--cluster", "ecs-ship-no-such-cluster", "--service", "web"],
            3,
            "ecs-ship-no-such-cluster".into(),
        ),
    ];
    for (args, code, needle) in cases {
        let mut argv = vec!["taskdef", "register"];
        argv.extend(&args);
        let run = ecs_ship_run(&argv);
        assert_eq!(run.code, code, "{argv:?}\n{}", run.stderr);
        assert!(
            run.stderr.contains(&needle),
            "{argv:?}: stderr lacks {needle:?}:\n{}",
            run.stderr
        );
    }
    // The placeholder file is taken literally without --expand-env, and then `${...}` is no valid image.
    assert!(
        revisions(&family).await.is_empty(),
        "nothing was registered"
    );
}

#[tokio::test]
async fn diff_compares_files_and_revisions_ignoring_read_only_fields() {
    if !require_moto() {
        return;
    }
    let family = unique("diff");
    let (_dir, path) = fixture_as("fargate-api-describe.json", &family);
    let arn = ecs_ship_run(&[
        "taskdef",
        "register",
        "--file",
        &path,
        "--no-create-log-group",
    ])
    .expect_code(0)
    .stdout
    .trim()
    .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let rendered = dir.path().join("rendered.json");
    ecs_ship_run(&[
        "taskdef",
        "render",
        "--file",
        &path,
        "--out",
        rendered.to_str().unwrap(),
    ])
    .expect_code(0);
    ecs_ship_run(&[
        "taskdef",
        "diff",
        rendered.to_str().unwrap(),
        &format!("{family}:1"),
    ])
    .expect_code(0)
    .stdout_has("-  \"enableFaultInjection\": false,");
    let same = ecs_ship_run(&[
        "taskdef",
        "diff",
        &arn,
        &format!("{family}:1"),
        "--output",
        "json",
    ])
    .expect_code(0)
    .json();
    assert_eq!(same["identical"], true);
}

#[test]
fn render_from_a_file_works_offline() {
    let mut cmd = ecs_ship();
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env_remove("AWS_REGION")
        .args([
            "taskdef",
            "render",
            "--file",
            &fixture("fargate-api-describe.json"),
            "--image",
            "api=127.0.0.1:15000/api:v2",
            "--log-region",
            "ap-northeast-1",
        ]);
    let run = run(&mut cmd).expect_code(0);
    let td: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        td["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-region"],
        "ap-northeast-1"
    );

    // Without any region, the awslogs region is the one thing it cannot make up.
    let mut cmd = ecs_ship();
    cmd.env_remove("AWS_REGION").args([
        "taskdef",
        "render",
        "--file",
        &fixture("fargate-api-describe.json"),
    ]);
    crate::harness::run(&mut cmd)
        .expect_code(2)
        .stderr_has("no region for `awslogs-region` of container `api`");
}

/// A field newer than the SDK's model: carried into the request (the emulator echoes what it
/// received, so registering proves it was sent), refused under --strict, and caught by the read-back
/// when ECS drops it (moto drops every field it does not know): that revision is deregistered.
#[tokio::test]
async fn fields_newer_than_the_model_are_carried_and_proven_kept() {
    if !require_moto() {
        return;
    }
    let family = unique("carry");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("td.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"family": "{family}", "pidMode": "", "newSandboxPolicy": {{"mode": "strict"}},
              "containerDefinitions": [{{"name": "api", "image": "r/api:1", "memory": 64, "gpuSharing": true,
                "logConfiguration": {{"logDriver": "none"}}}}]}}"#
        ),
    )
    .unwrap();
    let file = path.to_str().unwrap();

    // Rendered with the carried fields, a warning for each, the empty enum dropped and listed.
    let rendered = ecs_ship_run(&["taskdef", "render", "--file", file])
        .expect_code(0)
        .stderr_has("`$.newSandboxPolicy` is not in this ecs-ship's ECS model (aws-sdk-ecs 1.157): passed through")
        .stderr_has("`$.containerDefinitions[0].gpuSharing` is not in this ecs-ship's ECS model")
        .stderr_has("value \"none\" at `$.containerDefinitions[0].logConfiguration.logDriver`")
        .stderr_has("dropped empty `$.pidMode`");
    let rendered: Value = serde_json::from_str(&rendered.stdout).unwrap();
    assert_eq!(rendered["newSandboxPolicy"]["mode"], "strict");
    assert_eq!(rendered["containerDefinitions"][0]["gpuSharing"], true);
    assert!(rendered.get("pidMode").is_none());
    ecs_ship_run(&["taskdef", "render", "--file", file, "--strict"])
        .expect_code(2)
        .stderr_has("empty value at `$.pidMode`");

    // Sent over the wire: the emulator echoes it back, so the read-back passes.
    let Some(emulator) = emulator("failing") else {
        return;
    };
    let mut cmd = emulator.command(&[
        "taskdef",
        "register",
        "--file",
        file,
        "--no-create-log-group",
    ]);
    run(&mut cmd)
        .expect_code(0)
        .stdout_has(&format!("task-definition/{family}:1"));

    // moto keeps none of them: the read-back catches it and the revision is deregistered.
    ecs_ship_run(&["taskdef", "register", "--file", file])
        .expect_code(2)
        .stderr_has("ECS did not keep `$.containerDefinitions[0].gpuSharing`, `$.newSandboxPolicy`")
        .stderr_has("was deregistered");
    let ecs = aws_sdk_ecs::Client::new(&sdk_config().await);
    let td = ecs
        .describe_task_definition()
        .task_definition(format!("{family}:1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        td.task_definition().unwrap().status().unwrap().as_str(),
        "INACTIVE"
    );
}

/// The render-task-definition template form: an empty or missing image, filled by --image.
#[test]
fn image_fills_a_missing_or_empty_image() {
    let dir = tempfile::tempdir().unwrap();
    for (name, container) in [
        ("empty.json", r#"{"name": "api", "image": ""}"#),
        ("missing.json", r#"{"name": "api"}"#),
    ] {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            format!(r#"{{"family": "tpl", "containerDefinitions": [{container}]}}"#),
        )
        .unwrap();
        let file = path.to_str().unwrap();
        let run = ecs_ship_run(&[
            "taskdef",
            "render",
            "--file",
            file,
            "--image",
            "api=r/api:2",
        ])
        .expect_code(0);
        assert!(
            run.stdout.contains("\"image\": \"r/api:2\""),
            "{}",
            run.stdout
        );
        ecs_ship_run(&["taskdef", "render", "--file", file])
            .expect_code(2)
            .stderr_has("missing required field `$.containerDefinitions[0].image`");
    }
}

/// Secret-looking values never reach the output of a dry run or a diff unless --show-values.
#[test]
fn secret_values_are_masked_in_dry_runs_and_diffs() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, password: &str| {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            format!(
                r#"{{"family": "masked", "containerDefinitions": [{{"name": "api", "image": "r:1",
                  "environment": [{{"name": "DB_PASSWORD", "value": "{password}"}},
                                  {{"name": "AWS_ACCESS_KEY_ID", "value": "AKIAIOSFODNN7EXAMPLE"}},
                                  {{"name": "PORT", "value": "8080"}}]}}]}}"#
            ),
        )
        .unwrap();
        path.to_str().unwrap().to_owned()
    };
    let a = write("a.json", "hunter2-old");
    let b = write("b.json", "hunter2-new");
    let run = ecs_ship_run(&["taskdef", "diff", &a, &b]).expect_code(0);
    for secret in ["hunter2-old", "hunter2-new", "AKIAIOSFODNN7EXAMPLE"] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{secret} in:\n{}{}",
            run.stdout,
            run.stderr
        );
    }
    assert!(
        run.stdout.contains("*** (11 chars, sha256 "),
        "{}",
        run.stdout
    );
    ecs_ship_run(&["taskdef", "diff", &a, &b, "--show-values"])
        .expect_code(0)
        .stdout_has("hunter2-new");
    if !require_moto() {
        return;
    }
    let run = ecs_ship_run(&[
        "taskdef",
        "register",
        "--file",
        &b,
        "--dry-run",
        "--output",
        "json",
    ])
    .expect_code(0);
    assert!(
        !run.stdout.contains("hunter2-new") && !run.stderr.contains("hunter2-new"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\"8080\""));
}

/// The per-environment overrides change exactly what they say, on a rendered file and on a
/// registered revision (tags kept on the next re-register), and a secret given with --env or in a
/// dotenv file is never printed by a dry run.
#[test]
fn overrides_change_what_they_say_and_never_print_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let family = crate::harness::unique("overrides");
    let path = dir.path().join("td.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"family": "{family}", "cpu": "256", "memory": "512", "containerDefinitions": [
                 {{"name": "api", "image": "r:1", "environment": [{{"name": "MODE", "value": "dev"}}, {{"name": "OLD", "value": "x"}}]}},
                 {{"name": "worker", "image": "r:1"}}]}}"#
        ),
    )
    .unwrap();
    let env_file = dir.path().join("prod.env");
    std::fs::write(
        &env_file,
        "# production\nexport LEVEL=info\nSESSION_SECRET='s3cr3t-from-file'\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let from_file = format!("worker:{}", env_file.display());
    let render = |extra: &[&str]| {
        let mut args = vec!["taskdef", "render", "--file", file, "--region", "us-east-1"];
        args.extend_from_slice(extra);
        let run = ecs_ship_run(&args).expect_code(0);
        (run.json(), run)
    };
    let (base, _) = render(&[]);
    let (changed, run) = render(&[
        "--env",
        "api:MODE=prod",
        "--unset-env",
        "api:OLD",
        "--env-from-file",
        &from_file,
        "--secret",
        "api:DB_PASSWORD=arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
        "--cpu",
        "1024",
        "--memory",
        "api:384",
        "--task-role-arn",
        "arn:aws:iam::123456789012:role/api",
        "--tag",
        "team=payments",
    ]);
    // Everything else is as it was.
    let mut expected = base.clone();
    let api = &mut expected["containerDefinitions"][0];
    api["environment"] = serde_json::json!([{"name": "MODE", "value": "prod"}]);
    api["secrets"] = serde_json::json!([{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"}]);
    api["memory"] = serde_json::json!(384);
    expected["containerDefinitions"][1]["environment"] = serde_json::json!([
        {"name": "LEVEL", "value": "info"}, {"name": "SESSION_SECRET", "value": "s3cr3t-from-file"}]);
    expected["cpu"] = serde_json::json!("1024");
    expected["taskRoleArn"] = serde_json::json!("arn:aws:iam::123456789012:role/api");
    expected["tags"] = serde_json::json!([{"key": "team", "value": "payments"}]);
    assert_eq!(changed, expected);
    assert!(!run.stderr.contains("s3cr3t-from-file"), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "change: container `worker`: environment.SESSION_SECRET: (none) -> *** (16 chars"
        ),
        "{}",
        run.stderr
    );
    // Bad overrides name what is at fault.
    ecs_ship_run(&["taskdef", "render", "--file", file, "--env", "MODE=prod"])
        .expect_code(2)
        .stderr_has("--env `MODE=...`: the task definition has several containers (api, worker): name one, as CONTAINER:MODE=...");
    ecs_ship_run(&["taskdef", "render", "--file", file, "--cpu", "api:0"])
        .expect_code(2)
        .stderr_has("expected CONTAINER:N with N a positive whole number");
    ecs_ship_run(&[
        "taskdef",
        "render",
        "--file",
        file,
        "--task-role-arn",
        "api",
    ])
    .expect_code(2)
    .stderr_has("expected an IAM role ARN");
    if !require_moto() {
        return;
    }
    // Registered with a tag and a secret env value; the dry run of the next change prints neither
    // the value in clear, and a re-register from the live revision keeps the tag.
    let run = ecs_ship_run(&[
        "taskdef",
        "register",
        "--file",
        file,
        "--taskdef-tag",
        "team=payments",
        "--env",
        "api:STRIPE_API_KEY=sk_live_should_not_print",
        "--output",
        "json",
    ])
    .expect_code(0);
    assert!(
        !run.stderr.contains("sk_live_should_not_print"),
        "{}",
        run.stderr
    );
    let run = ecs_ship_run(&[
        "taskdef",
        "register",
        "--family",
        &family,
        "--env",
        "api:STRIPE_API_KEY=sk_live_next_value",
        "--env-from-file",
        &from_file,
        "--dry-run",
    ])
    .expect_code(0);
    for secret in [
        "sk_live_should_not_print",
        "sk_live_next_value",
        "s3cr3t-from-file",
    ] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{secret} in:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
    let run = ecs_ship_run(&[
        "taskdef",
        "register",
        "--family",
        &family,
        "--env",
        "api:MODE=stage",
        "--output",
        "json",
    ])
    .expect_code(0);
    let arn = run.json()["arn"].as_str().unwrap().to_owned();
    let described = ecs_ship_run(&["taskdef", "render", "--task-definition", &arn])
        .expect_code(0)
        .json();
    assert_eq!(
        described["tags"],
        serde_json::json!([{"key": "team", "value": "payments"}]),
        "{arn}"
    );
}

#[test]
fn env_files_expand_earlier_variables_read_multi_line_values_and_name_a_bad_reference() {
    let dir = tempfile::tempdir().unwrap();
    let td = dir.path().join("taskdef.json");
    std::fs::write(
        &td,
        r#"{"family": "dotenv", "containerDefinitions": [{"name": "api", "image": "busybox:stable", "essential": true}]}"#,
    )
    .unwrap();
    let good = dir.path().join("good.env");
    std::fs::write(
        &good,
        "HOST=db\nURL=postgres://${HOST}:${PORT:-5432}/app\nCERT=\"-----BEGIN-----\nabc\n-----END-----\"\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.env");
    std::fs::write(&bad, "A=1\nB=${NOPE}/x\n").unwrap();
    let render = |env: &std::path::Path| {
        ecs_ship_run(&[
            "taskdef",
            "render",
            "--file",
            td.to_str().unwrap(),
            "--region",
            "us-east-1",
            "--env-from-file",
            env.to_str().unwrap(),
        ])
    };
    let json = render(&good).expect_code(0).json();
    assert_eq!(
        json["containerDefinitions"][0]["environment"],
        serde_json::json!([
            {"name": "HOST", "value": "db"},
            {"name": "URL", "value": "postgres://db:5432/app"},
            {"name": "CERT", "value": "-----BEGIN-----\nabc\n-----END-----"},
        ])
    );
    render(&bad)
        .expect_code(2)
        .stderr_has("bad.env`: line 2: `${NOPE}`: `NOPE` is not defined above it");
}
