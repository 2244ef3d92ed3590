//! `ecs-ship doctor` against the running stack, and against services that are not there.

use crate::harness::*;

#[test]
fn reports_the_engine_and_the_emulators_account() {
    if !(require_docker() && require_moto()) {
        return;
    }
    let run = ecs_ship_run(&["doctor"]).expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert!(
        lines[0].starts_with("docker   ok    Docker "),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains(&docker_host()), "{}", lines[0]);
    assert!(
        lines[1].starts_with("aws      ok    account 123456789012"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains(&moto_url()), "{}", lines[1]);
}

#[test]
fn json_output_holds_the_same_facts() {
    if !(require_docker() && require_moto()) {
        return;
    }
    let text = ecs_ship_run(&["doctor"]).expect_code(0).stdout;
    let json = ecs_ship_run(&["doctor", "--output", "json"])
        .expect_code(0)
        .json();
    assert_eq!(json["ok"], true);
    let version = json["docker"]["version"].as_str().unwrap();
    let api = json["docker"]["api_version"].as_str().unwrap();
    assert!(!version.is_empty() && !api.is_empty());
    assert!(
        text.contains(&format!("Docker {version} (API {api}")),
        "{text}"
    );
    assert_eq!(json["aws"]["account"], ACCOUNT);
    assert_eq!(json["aws"]["region"], REGION);
    assert_eq!(json["aws"]["endpoint"], moto_url());
}

#[test]
fn unreachable_engine_and_endpoint_exit_3_with_a_line_each() {
    let mut cmd = ecs_ship();
    // Port 9 (discard) on loopback: nothing listens there, so both connections are refused.
    cmd.env("DOCKER_HOST", "tcp://127.0.0.1:9")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .args(["doctor", "--max-attempts", "1"]);
    let run = run(&mut cmd).expect_code(3);
    let docker = run
        .stdout
        .lines()
        .find(|l| l.starts_with("docker"))
        .expect("a docker line");
    assert!(
        docker.contains("FAIL") && docker.contains("no Docker engine at tcp://127.0.0.1:9"),
        "{docker}"
    );
    assert!(
        docker.contains("is dockerd running, or set DOCKER_HOST"),
        "{docker}"
    );
    let aws = run
        .stdout
        .lines()
        .find(|l| l.starts_with("aws"))
        .expect("an aws line");
    assert!(
        aws.contains("FAIL") && aws.contains("endpoint http://127.0.0.1:9"),
        "{aws}"
    );
    assert!(
        run.stderr.contains("2 of 2 checks failed: docker, aws"),
        "{}",
        run.stderr
    );

    let mut cmd = ecs_ship();
    cmd.env("DOCKER_HOST", "tcp://127.0.0.1:9")
        .args(["doctor", "--no-aws", "--output", "json"]);
    let json = crate::harness::run(&mut cmd).expect_code(3).json();
    assert_eq!(json["ok"], false);
    assert_eq!(json["docker"]["ok"], false);
    assert!(
        json["docker"]["error"]
            .as_str()
            .unwrap()
            .contains("tcp://127.0.0.1:9")
    );
    assert!(json.get("aws").is_none(), "--no-aws skips the AWS check");
}

#[tokio::test]
async fn names_the_revision_a_service_runs_and_fails_on_a_missing_one() {
    if !require_moto() {
        return;
    }
    let ecs = aws_sdk_ecs::Client::new(&sdk_config().await);
    let cluster = unique("doctor");
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    let family = unique("doctor-td");
    let td = ecs
        .register_task_definition()
        .family(&family)
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("api")
                .image("busybox")
                .memory(64)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let arn = td
        .task_definition()
        .unwrap()
        .task_definition_arn()
        .unwrap()
        .to_owned();
    ecs.create_service()
        .cluster(&cluster)
        .service_name("web")
        .task_definition(&arn)
        .desired_count(1)
        .send()
        .await
        .unwrap();

    ecs_ship_run(&[
        "doctor",
        "--no-docker",
        "--cluster",
        &cluster,
        "--service",
        "web",
    ])
    .expect_code(0)
    .stdout_has(&format!(
        "service  ok    `web` in cluster `{cluster}`: ACTIVE, runs {family}:1"
    ));
    ecs_ship_run(&[
        "doctor",
        "--no-docker",
        "--cluster",
        &cluster,
        "--service",
        "nope",
    ])
    .expect_code(3)
    .stdout_has(&format!(
        "service  FAIL  service `nope` not found in cluster `{cluster}`"
    ));
}

#[test]
fn every_way_of_naming_the_endpoint_works() {
    if !require_moto() {
        return;
    }
    // The flag, and the SDK's per-service variable, each without the global AWS_ENDPOINT_URL.
    type Variant<'a> = (&'a [&'a str], Option<(&'a str, String)>);
    let url = moto_url();
    let variants: [Variant; 2] = [
        (&["--endpoint-url", &url], None),
        (&[], Some(("AWS_ENDPOINT_URL_STS", moto_url()))),
    ];
    for (flags, env) in variants {
        let mut cmd = ecs_ship();
        cmd.env_remove("AWS_ENDPOINT_URL").args(flags).args([
            "doctor",
            "--no-docker",
            "--max-attempts",
            "1",
        ]);
        if let Some((k, v)) = &env {
            cmd.env(k, v);
        }
        run(&mut cmd)
            .expect_code(0)
            .stdout_has("aws      ok    account 123456789012");
    }
    let mut cmd = ecs_ship();
    cmd.args(["--endpoint-url", "127.0.0.1:15001", "doctor", "--no-docker"]);
    run(&mut cmd)
        .expect_code(3)
        .stdout_has("invalid --endpoint-url `127.0.0.1:15001`: expected http://host:port");
}
