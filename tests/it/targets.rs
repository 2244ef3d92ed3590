//! Several targets in one run: two regions x two accounts in moto (reached through STS AssumeRole), a
//! target whose rollout fails (the scripted ECS emulator), a target whose identity is bad; one verdict
//! table, the worst exit code, --sequential and --rollback-on-failure=all across targets.

use crate::harness::*;

const DIGEST: &str = "sha256:4bc5ec7a0ee2e1b5a1a0fcbbd2e1f2d0a7f8f2bb1e8c4c1f0e1d2c3b4a5f6e7d";
const ROLES: [&str; 2] = [
    "arn:aws:iam::123456789012:role/deploy",
    "arn:aws:iam::210987654321:role/deploy",
];

fn world_script(args: &[&str]) -> serde_json::Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/emulator/targets_world.py"
    );
    let out = std::process::Command::new(python())
        .arg(script)
        .args(args)
        .output()
        .expect("python runs targets_world.py");
    assert!(
        out.status.success(),
        "targets_world.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The same cluster with service `web` in 123456789012 and 210987654321, in us-east-1 and eu-west-1.
fn four_targets() -> (String, serde_json::Value) {
    let cluster = unique("fleet");
    let before = world_script(&["setup", &moto_url(), &cluster]);
    (cluster, before)
}

fn image() -> String {
    format!("api=127.0.0.1:15000/fleet-api@{DIGEST}")
}

#[test]
fn a_deploy_to_two_regions_in_two_accounts_puts_each_service_on_a_revision_of_its_own() {
    if !require_moto() {
        return;
    }
    let (cluster, before) = four_targets();
    let image = image();
    let done = ecs_ship_run(&[
        "deploy",
        "--region",
        "us-east-1",
        "--region",
        "eu-west-1",
        "--role-arn",
        ROLES[0],
        "--role-arn",
        ROLES[1],
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--image",
        &image,
        "--poll-interval",
        "1s",
        "--timeout",
        "60s",
        "--output",
        "json",
    ])
    .expect_code(0);
    let report = done.json();
    assert_eq!(report["verdict"], "stable", "{report:#}");
    let rows = report["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["target"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "123456789012/us-east-1",
            "123456789012/eu-west-1",
            "210987654321/us-east-1",
            "210987654321/eu-west-1"
        ],
        "{report:#}"
    );
    assert!(rows.iter().all(|r| r["verdict"] == "stable"), "{report:#}");
    // The role session names the run, as CloudTrail would show it.
    assert!(
        done.stderr.contains("assumed-role/deploy/ecs-ship-deploy-"),
        "{}",
        done.stderr
    );

    let after = world_script(&["inspect", &moto_url(), &cluster]);
    for name in names {
        let (account, region) = name.split_once('/').unwrap();
        let t = &after[name];
        let revision = t["task_definition"].as_str().unwrap();
        assert_ne!(
            revision,
            before[name].as_str().unwrap(),
            "{name} was not deployed"
        );
        assert!(
            revision.starts_with(&format!("arn:aws:ecs:{region}:{account}:task-definition/")),
            "{name}: {revision}"
        );
        assert_eq!(
            t["image"],
            format!("127.0.0.1:15000/fleet-api@{DIGEST}"),
            "{name}"
        );
        assert_eq!(
            t["awslogs_region"], region,
            "{name}: awslogs-region is the target's own"
        );
        assert_eq!(
            t["log_group"], true,
            "{name}: the log group exists in the target"
        );
        let row = rows.iter().find(|r| r["target"] == name).unwrap();
        assert_eq!(row["revision"], revision, "{name}");
    }

    // status reads every target, each in its account and region.
    let status = ecs_ship_run(&[
        "status",
        "--region",
        "us-east-1",
        "--region",
        "eu-west-1",
        "--role-arn",
        ROLES[1],
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--output",
        "json",
    ])
    .expect_code(0)
    .json();
    let targets = status["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "{status:#}");
    for t in targets {
        assert_eq!(t["account"], "210987654321", "{status:#}");
        assert_eq!(t["status"]["services"][0]["service"], "web", "{status:#}");
    }
}

/// A targets file: two moto targets, one whose rollout fails (the emulator), one whose profile
/// does not exist.
fn targets_file(
    dir: &std::path::Path,
    cluster: &str,
    failing: &str,
    first_failing: bool,
) -> String {
    let moto = format!(
        "  - name: prod-east\n    region: us-east-1\n    role_arn: {}\n  - name: prod-eu\n    region: eu-west-1\n    role_arn: {}\n",
        ROLES[1], ROLES[1]
    );
    let bad = format!(
        "  - name: failing\n    region: us-east-1\n    endpoint_url: {failing}\n    cluster: c\n"
    );
    let (a, b) = if first_failing {
        (bad, moto)
    } else {
        (moto, bad)
    };
    let text = format!("defaults:\n  cluster: {cluster}\n  services: [web]\ntargets:\n{a}{b}");
    let path = dir.join("targets.yml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn a_failing_target_fails_only_its_row_and_a_bad_identity_is_named() {
    if !require_moto() {
        return;
    }
    let Some(failing) = emulator("failing") else {
        return;
    };
    let (cluster, before) = four_targets();
    let dir = tempfile::tempdir().unwrap();
    let file = targets_file(dir.path(), &cluster, &failing.endpoint, false);
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("  - name: nobody\n    region: eu-west-1\n    profile: nope-no-such-profile\n");
    std::fs::write(&file, text).unwrap();
    let image = image();
    let done = ecs_ship_run(&[
        "deploy",
        "--targets",
        &file,
        "--image",
        &image,
        "--max-task-failures",
        "2",
        "--poll-interval",
        "1s",
        "--timeout",
        "60s",
        "--output",
        "json",
    ])
    .expect_code(4)
    .stderr_has("2 of 4 targets failed");
    let report = done.json();
    let row = |name: &str| {
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["target"] == name)
            .unwrap_or_else(|| panic!("no row {name}: {report:#}"))
            .clone()
    };
    assert_eq!(row("prod-east")["verdict"], "stable", "{report:#}");
    assert_eq!(row("prod-eu")["verdict"], "stable", "{report:#}");
    assert_eq!(row("failing")["verdict"], "failed", "{report:#}");
    assert!(
        row("failing")["reason"]
            .as_str()
            .unwrap()
            .contains("failed"),
        "{report:#}"
    );
    assert_eq!(row("nobody")["verdict"], "failed", "{report:#}");
    assert!(
        row("nobody")["reason"]
            .as_str()
            .unwrap()
            .contains("nope-no-such-profile"),
        "{report:#}"
    );
    assert_eq!(report["verdict"], "failed");
    let after = world_script(&["inspect", &moto_url(), &cluster]);
    for name in ["210987654321/us-east-1", "210987654321/eu-west-1"] {
        assert_ne!(
            after[name]["task_definition"], before[name],
            "{name} deployed"
        );
    }
    for name in ["123456789012/us-east-1", "123456789012/eu-west-1"] {
        assert_eq!(
            after[name]["task_definition"], before[name],
            "{name} untouched"
        );
    }
}

#[test]
fn sequential_stops_at_the_first_failed_target_and_rollback_all_sends_the_others_back() {
    if !require_moto() {
        return;
    }
    let Some(failing) = emulator("failing") else {
        return;
    };
    let (cluster, before) = four_targets();
    let dir = tempfile::tempdir().unwrap();
    let image = image();
    let common = [
        "--image",
        image.as_str(),
        "--max-task-failures",
        "2",
        "--poll-interval",
        "1s",
        "--timeout",
        "60s",
        "--output",
        "json",
    ];

    // The failing target first, one after another: the production targets are never touched.
    let file = targets_file(dir.path(), &cluster, &failing.endpoint, true);
    let mut args = vec!["deploy", "--targets", file.as_str(), "--sequential"];
    args.extend(common);
    let report = ecs_ship_run(&args).expect_code(4).json();
    let verdicts: Vec<(&str, &str)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["target"].as_str().unwrap(),
                r["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("failing", "failed"),
            ("prod-east", "skipped"),
            ("prod-eu", "skipped")
        ],
        "{report:#}"
    );
    let after = world_script(&["inspect", &moto_url(), &cluster]);
    assert_eq!(
        after["210987654321/us-east-1"]["task_definition"],
        before["210987654321/us-east-1"]
    );

    // All at once, with every target sent back when one fails.
    let mut args = vec![
        "deploy",
        "--targets",
        file.as_str(),
        "--rollback-on-failure=all",
    ];
    args.extend(common);
    let done = ecs_ship_run(&args).expect_code(4);
    let report = done.json();
    let rolled: Vec<&str> = report["rolled_back"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(rolled, ["prod-east", "prod-eu"], "{report:#}");
    let after = world_script(&["inspect", &moto_url(), &cluster]);
    for name in ["210987654321/us-east-1", "210987654321/eu-west-1"] {
        assert_eq!(
            after[name]["task_definition"], before[name],
            "{name} is back on the revision it ran"
        );
    }
}

#[test]
fn bad_target_lists_are_refused_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        ("targets.yml", "targets:\n  - regoin: us-east-1\n"),
        ("targets.toml", "[[targets]]\nregion = \"us-east\"\n"),
        ("targets.txt", "targets: []\n"),
        ("targets.yml", "targets: []\n"),
    ];
    let wants = [
        "unknown field `regoin`",
        "`us-east` is not a region",
        "name the file .toml, .yml or .yaml",
        "has no target",
    ];
    for ((name, text), want) in cases.iter().zip(wants) {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let path = path.to_string_lossy().into_owned();
        ecs_ship_run(&[
            "deploy",
            "--targets",
            &path,
            "--cluster",
            "c",
            "--service",
            "web",
        ])
        .expect_code(2)
        .stderr_has(want)
        .stderr_has(&path);
    }
    ecs_ship_run(&[
        "wait",
        "--region",
        "us-east-1",
        "--region",
        "eu-west-1",
        "--cluster",
        "c",
        "--service",
        "web",
    ])
    .expect_code(2)
    .stderr_has("only deploy, release and status take several regions");
    ecs_ship_run(&[
        "deploy",
        "--role-arn",
        "arn:aws:iam::1:role/x",
        "--cluster",
        "c",
        "--service",
        "web",
    ])
    .expect_code(2)
    .stderr_has("is not an IAM role ARN");
}

/// The stack's ECR look-alikes for both accounts in both regions.
fn require_ecr_everywhere() -> bool {
    let up = ["123456789012", "210987654321"].iter().all(|account| {
        ["us-east-1", "eu-west-1"].iter().all(|region| {
            let host = format!("{account}.dkr.ecr.{region}.amazonaws.com");
            std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), 443))
                .ok()
                .and_then(|mut a| a.next())
                .is_some_and(|a| {
                    a.ip().is_loopback()
                        && std::net::TcpStream::connect_timeout(
                            &a,
                            std::time::Duration::from_secs(2),
                        )
                        .is_ok()
                })
        })
    });
    require_moto()
        && require_docker()
        && require_service(
            "the ECR look-alikes of two accounts in two regions",
            up,
            "ci/stack up",
        )
}

#[test]
fn a_release_to_two_regions_in_two_accounts_pins_each_target_to_its_own_repository_by_one_digest() {
    if !require_ecr_everywhere() {
        return;
    }
    let (cluster, before) = four_targets();
    let name = unique("fleet-api");
    let repo = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}");
    let ctx = context(&[("Dockerfile", "FROM busybox:stable\nLABEL app=fleet\n")]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let imagedefs = dir.path().join("imagedefinitions.json");
    let done = ecs_ship_run(&[
        "release",
        "--context",
        ctx.path().to_str().unwrap(),
        "--repository",
        &repo,
        "--create-repository",
        "--container",
        "api",
        "--region",
        "us-east-1",
        "--region",
        "eu-west-1",
        "--role-arn",
        ROLES[0],
        "--role-arn",
        ROLES[1],
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--state",
        state.to_str().unwrap(),
        "--imagedefs",
        imagedefs.to_str().unwrap(),
        "--poll-interval",
        "1s",
        "--timeout",
        "120s",
        "--output",
        "json",
    ])
    .expect_code(0);
    let report = done.json();
    let image = report["release"]["image"].as_str().unwrap().to_owned();
    let digest = image.split_once('@').unwrap().1.to_owned();
    assert!(image.starts_with(&format!("{repo}@sha256:")), "{report:#}");
    assert_eq!(report["deploy"]["verdict"], "stable", "{report:#}");
    // imagedefinitions.json names the --repository's image.
    let defs = std::fs::read_to_string(&imagedefs).unwrap();
    assert!(defs.contains(&image), "{defs}");

    let after = world_script(&["inspect", &moto_url(), &cluster]);
    for account in ["123456789012", "210987654321"] {
        for region in ["us-east-1", "eu-west-1"] {
            let key = format!("{account}/{region}");
            let t = &after[&key];
            assert_ne!(t["task_definition"], before[&key], "{key} was not deployed");
            assert_eq!(
                t["image"],
                format!("{account}.dkr.ecr.{region}.amazonaws.com/{name}@{digest}"),
                "{key}: pinned to its own repository by the one digest"
            );
            assert_eq!(t["awslogs_region"], region, "{key}");
        }
    }
    // The target's registry holds the image by that digest (ECR in the target's account and region).
    let how: Vec<&str> = report["deploy"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["image"].as_str().unwrap())
        .collect();
    assert!(how[0].ends_with("(the --repository)"), "{how:?}");
    assert!(
        how[1..].iter().all(|h| h.ends_with("(pushed, verified)")),
        "{how:?}"
    );
    // The state file still records the push to --repository: a re-run finds what it built.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(state["push"]["image"], image, "{state:#}");
}

/// A target the registry's replication rules copy to: the release waits for ECR's replica by
/// digest (here the test plays ECR, copying the image there a moment after the push) instead of
/// pushing a second time.
#[tokio::test]
async fn a_target_the_registry_replicates_to_waits_for_the_replica_instead_of_pushing() {
    if !require_ecr_everywhere() {
        return;
    }
    let cluster = unique("replica");
    let before = world_script(&["setup", &moto_url(), &cluster]);
    let name = unique("replicated-api");
    let repo = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}");
    let ecr = aws_sdk_ecr::Client::new(&sdk_config().await);
    use aws_sdk_ecr::types::{
        ReplicationConfiguration, ReplicationDestination, ReplicationRule, RepositoryFilter,
        RepositoryFilterType,
    };
    ecr.put_replication_configuration()
        .replication_configuration(
            ReplicationConfiguration::builder()
                .rules(
                    ReplicationRule::builder()
                        .destinations(
                            ReplicationDestination::builder()
                                .region("eu-west-1")
                                .registry_id("123456789012")
                                .build()
                                .unwrap(),
                        )
                        .repository_filters(
                            RepositoryFilter::builder()
                                .filter("replicated-")
                                .filter_type(RepositoryFilterType::PrefixMatch)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let ctx = context(&[("Dockerfile", "FROM busybox:stable\nLABEL app=replica\n")]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    // ECR's part: once the release pushed to us-east-1, the image appears in eu-west-1.
    let replicator = {
        let state = state.clone();
        let replica = format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/{name}");
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_secs(120) {
                let pushed = std::fs::read_to_string(&state)
                    .ok()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                    .is_some_and(|s| s["push"]["image"].is_string());
                if pushed {
                    std::thread::sleep(std::time::Duration::from_secs(2));
                    let mut push = ecs_ship();
                    push.env("AWS_REGION", "eu-west-1").args([
                        "push",
                        "--repository",
                        &replica,
                        "--create-repository",
                        "--state",
                        state.to_str().unwrap(),
                    ]);
                    return run(&mut push);
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            panic!("the release never pushed");
        })
    };
    let done = ecs_ship_run(&[
        "release",
        "--context",
        ctx.path().to_str().unwrap(),
        "--repository",
        &repo,
        "--create-repository",
        "--container",
        "api",
        "--region",
        "us-east-1",
        "--region",
        "eu-west-1",
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--state",
        state.to_str().unwrap(),
        "--imagedefs",
        dir.path().join("imagedefinitions.json").to_str().unwrap(),
        "--poll-interval",
        "1s",
        "--timeout",
        "120s",
        "--replica-timeout",
        "60s",
        "--output",
        "json",
    ]);
    replicator.join().unwrap().expect_code(0);
    let done = done
        .expect_code(0)
        .stderr_has("waiting up to 1m for ECR's replica");
    let report = done.json();
    let how: Vec<&str> = report["deploy"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["image"].as_str().unwrap())
        .collect();
    assert!(how[0].ends_with("(the --repository)"), "{how:?}");
    assert!(how[1].ends_with("(ECR's replica, verified)"), "{how:?}");
    let digest = report["release"]["digest"].as_str().unwrap();
    let after = world_script(&["inspect", &moto_url(), &cluster]);
    let eu = &after["123456789012/eu-west-1"];
    assert_ne!(eu["task_definition"], before["123456789012/eu-west-1"]);
    assert_eq!(
        eu["image"],
        format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/{name}@{digest}")
    );
}

/// A dry run to several targets changes nothing in any of them: each says what it would push and
/// update, and every service stays on its revision.
#[test]
fn a_dry_run_release_to_several_targets_changes_nothing() {
    if !require_ecr_everywhere() {
        return;
    }
    let (cluster, before) = four_targets();
    let name = unique("dry-api");
    let repo = format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}");
    let ctx = context(&[("Dockerfile", "FROM busybox:stable\n")]);
    let dir = tempfile::tempdir().unwrap();
    let imagedefs = dir.path().join("imagedefinitions.json");
    let state = dir.path().join("state.json");
    let done = ecs_ship_run(&[
        "release",
        "--dry-run",
        "--context",
        ctx.path().to_str().unwrap(),
        "--repository",
        &repo,
        "--create-repository",
        "--container",
        "api",
        "--region",
        "us-east-1",
        "--region",
        "eu-west-1",
        "--role-arn",
        ROLES[1],
        "--cluster",
        &cluster,
        "--service",
        "web",
        "--state",
        state.to_str().unwrap(),
        "--imagedefs",
        imagedefs.to_str().unwrap(),
        "--output",
        "json",
    ])
    .expect_code(0)
    .stderr_has(&format!(
        "dry run: would push to 210987654321.dkr.ecr.eu-west-1.amazonaws.com/{name}"
    ));
    let report = done.json();
    assert_eq!(report["deploy"]["verdict"], "dry_run", "{report:#}");
    assert!(!imagedefs.exists() && !state.exists());
    let after = world_script(&["inspect", &moto_url(), &cluster]);
    for (key, revision) in before.as_object().unwrap() {
        assert_eq!(
            &after[key]["task_definition"], revision,
            "{key} was deployed"
        );
        assert_eq!(
            after[key]["awslogs_region"], "ap-south-1",
            "{key} was changed"
        );
    }
}

/// A target whose endpoint never answers is that target's timeout within --timeout, not a hang;
/// the others are deployed.
#[test]
fn a_target_that_never_answers_times_out_within_the_timeout() {
    if !require_moto() {
        return;
    }
    let (cluster, _) = four_targets();
    let hole = black_hole();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.toml");
    std::fs::write(
        &file,
        format!(
            "[defaults]\ncluster = \"{cluster}\"\nservices = [\"web\"]\n\n[[targets]]\nname = \"east\"\nregion = \"us-east-1\"\nrole_arn = \"{}\"\n\n[[targets]]\nname = \"hung\"\nregion = \"eu-west-1\"\nendpoint_url = \"http://{hole}\"\n",
            ROLES[0]
        ),
    )
    .unwrap();
    let image = image();
    let (done, took) = timed(ecs_ship().args([
        "deploy",
        "--targets",
        file.to_str().unwrap(),
        "--image",
        &image,
        "--poll-interval",
        "1s",
        "--timeout",
        "8s",
        "--output",
        "json",
    ]));
    let report = done
        .expect_code(5)
        .stderr_has("within --timeout 8s while reaching the target")
        .json();
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
    let verdicts: Vec<(&str, &str)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["target"].as_str().unwrap(),
                r["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [("east", "stable"), ("hung", "timed_out")],
        "{report:#}"
    );
}

/// SIGTERM while the second target (of two, one after another) still rolls out: 143, the table
/// says which target was interrupted and which was already stable.
#[test]
fn a_terminated_run_reports_every_target_as_it_stood() {
    if !require_moto() {
        return;
    }
    let Some(stuck) = emulator("stuck") else {
        return;
    };
    let (cluster, _) = four_targets();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.yml");
    std::fs::write(
        &file,
        format!(
            "defaults:\n  services: [web]\ntargets:\n  - name: east\n    region: us-east-1\n    cluster: {cluster}\n  - name: stuck\n    region: us-east-1\n    endpoint_url: {}\n    cluster: c\n",
            stuck.endpoint
        ),
    )
    .unwrap();
    let image = image();
    let run = signalled(
        ecs_ship().args([
            "deploy",
            "--targets",
            file.to_str().unwrap(),
            "--image",
            &image,
            "--poll-interval",
            "1s",
            "--timeout",
            "60s",
            "--sequential",
        ]),
        "target{name=stuck}: waiting up to",
        "-TERM",
    )
    .expect_code(143);
    let line = |name: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row {name}:\n{}", run.stdout))
            .to_owned()
    };
    assert!(
        line("east ").contains("stable"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(line("stuck ").contains("interrupted"), "{}", run.stdout);
}
