//! `taskdef prune`, `deploy --prune-keep` and `--update-schedules` against moto: revisions used by a
//! service or a scheduled rule are never pruned; schedules follow the deploy.

use aws_sdk_eventbridge::types::{EcsParameters, Target};

use crate::harness::*;

struct Family {
    name: String,
    cluster: String,
}

/// A family of `n` revisions, a cluster whose service `web` runs revision `service_on`, and a
/// rule `nightly` on the cluster whose ECS target runs revision `scheduled`.
async fn family(n: usize, service_on: usize, scheduled: usize) -> (Family, String) {
    let config = sdk_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let name = unique("prune");
    let mut arns = Vec::new();
    for _ in 0..n {
        let out = ecs
            .register_task_definition()
            .family(&name)
            .container_definitions(
                aws_sdk_ecs::types::ContainerDefinition::builder()
                    .name("api")
                    .image("127.0.0.1:15000/api:v1")
                    .memory(64)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        arns.push(
            out.task_definition()
                .unwrap()
                .task_definition_arn()
                .unwrap()
                .to_owned(),
        );
    }
    let cluster = unique("prune-cluster");
    let cluster_arn = ecs
        .create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap()
        .cluster()
        .unwrap()
        .cluster_arn()
        .unwrap()
        .to_owned();
    ecs.create_service()
        .cluster(&cluster)
        .service_name("web")
        .task_definition(&arns[service_on - 1])
        .desired_count(1)
        .send()
        .await
        .unwrap();
    let rule = unique("nightly");
    let events = aws_sdk_eventbridge::Client::new(&config);
    events
        .put_rule()
        .name(&rule)
        .schedule_expression("cron(0 3 * * ? *)")
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&rule)
        .targets(
            Target::builder()
                .id("report")
                .arn(&cluster_arn)
                .role_arn("arn:aws:iam::123456789012:role/ecsEventsRole")
                .ecs_parameters(
                    EcsParameters::builder()
                        .task_definition_arn(&arns[scheduled - 1])
                        .task_count(1)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    (Family { name, cluster }, rule)
}

async fn active(family: &str) -> Vec<i32> {
    let ecs = aws_sdk_ecs::Client::new(&sdk_config().await);
    let out = ecs
        .list_task_definitions()
        .family_prefix(family)
        .send()
        .await
        .unwrap();
    let mut revs: Vec<i32> = out
        .task_definition_arns()
        .iter()
        .map(|a| a.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    revs.sort();
    revs
}

async fn target_revision(rule: &str) -> String {
    let events = aws_sdk_eventbridge::Client::new(&sdk_config().await);
    let out = events
        .list_targets_by_rule()
        .rule(rule)
        .send()
        .await
        .unwrap();
    out.targets()[0]
        .ecs_parameters()
        .unwrap()
        .task_definition_arn()
        .to_owned()
}

#[tokio::test]
async fn prune_keeps_the_newest_and_what_a_service_or_schedule_uses() {
    if !require_moto() {
        return;
    }
    let (f, rule) = family(30, 4, 9).await;
    let prune = |extra: &[&str]| {
        let mut args = vec![
            "taskdef",
            "prune",
            "--family",
            &f.name,
            "--keep",
            "5",
            "--cluster",
            &f.cluster,
        ];
        args.extend_from_slice(extra);
        ecs_ship_run(&args)
    };
    // A dry run says it all and changes nothing.
    let run = prune(&["--dry-run"])
        .expect_code(0)
        .stdout_has(&format!(
            "in use    {}:4 by service web in {}",
            f.name, f.cluster
        ))
        .stdout_has(&format!(
            "in use    {}:9 by rule {rule} (target report)",
            f.name
        ))
        .stdout_has("would be deregistered 23: ");
    assert!(
        run.stdout
            .contains(&format!("kept      5 newest: {0}:26, {0}:27", f.name)),
        "{}",
        run.stdout
    );
    assert_eq!(active(&f.name).await.len(), 30);
    // For real: exactly those plus the newest 5 stay ACTIVE.
    let json = prune(&["--output", "json"]).expect_code(0).json();
    assert_eq!(json["deregister"].as_array().unwrap().len(), 23);
    assert_eq!(active(&f.name).await, [4, 9, 26, 27, 28, 29, 30]);
    // Again: nothing left to do. With --delete the INACTIVE ones go for good.
    prune(&[]).expect_code(0).stdout_has("deregistered 0");
    let json = prune(&["--delete", "--output", "json"])
        .expect_code(0)
        .json();
    assert_eq!(json["delete"].as_array().unwrap().len(), 23);
    assert_eq!(active(&f.name).await, [4, 9, 26, 27, 28, 29, 30]);
    // Every cluster is checked by default; --keep 0 and an unknown cluster are refused.
    let run = ecs_ship_run(&[
        "taskdef",
        "prune",
        "--family",
        &f.name,
        "--keep",
        "1",
        "--dry-run",
    ])
    .expect_code(0)
    .stdout_has(&format!("in use    {}:4", f.name));
    assert!(run.stdout.contains(&f.cluster), "{}", run.stdout);
    ecs_ship_run(&["taskdef", "prune", "--family", &f.name, "--keep", "0"]).expect_code(2);
    ecs_ship_run(&[
        "taskdef",
        "prune",
        "--family",
        &f.name,
        "--keep",
        "2",
        "--cluster",
        "nope-cluster",
    ])
    .expect_code(3)
    .stderr_has("cluster `nope-cluster` not found");
}

#[tokio::test]
async fn a_deploy_moves_the_familys_schedules_and_prunes() {
    if !require_moto() {
        return;
    }
    let (f, rule) = family(3, 3, 1).await;
    let run = ecs_ship_run(&[
        "deploy",
        "--cluster",
        &f.cluster,
        "--service",
        "web",
        "--image",
        "api=127.0.0.1:15000/api:v2",
        "--update-schedules",
        "--prune-keep",
        "2",
        "--output",
        "json",
    ])
    .expect_code(0)
    .stderr_has(&format!(
        "schedule `{rule}` (target report) now runs {}:4 (was {}:1)",
        f.name, f.name
    ));
    let json = run.json();
    let new = json["services"][0]["task_definition"]["arn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(new.ends_with(":4"), "{new}");
    assert_eq!(target_revision(&rule).await, new);
    assert_eq!(json["schedules"][0]["rule"], rule);
    // Revisions 1 and 2 are beyond the newest 2 and nothing uses them any more.
    assert_eq!(active(&f.name).await, [3, 4]);
    assert_eq!(json["pruned"][0]["deregister"].as_array().unwrap().len(), 2);
    // A rule named with --schedule that does not target the cluster: the service is fine, and
    // the error says so.
    ecs_ship_run(&[
        "deploy",
        "--cluster",
        &f.cluster,
        "--service",
        "web",
        "--image",
        "api=127.0.0.1:15000/api:v3",
        "--schedule",
        "no-such-rule",
    ])
    .expect_code(2)
    .stderr_has("service `web` is stable on ")
    .stderr_has("--schedule `no-such-rule`: no EventBridge rule of that name targets cluster");
}
