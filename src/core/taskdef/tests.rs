//! Table tests of parse / clean / check / swap / logs over a corpus of realistic task definitions
//! (tests/fixtures/taskdefs) that together use every member of the TaskDefinition and
//! ContainerDefinition shapes.

use serde_json::{Value, json};

use super::*;
use crate::core::logs::{LogSettings, guarantee_awslogs};

const FIXTURES: [(&str, &str); 4] = [
    (
        "fargate-api-describe.json",
        include_str!("../../../tests/fixtures/taskdefs/fargate-api-describe.json"),
    ),
    (
        "ec2-sidecars.json",
        include_str!("../../../tests/fixtures/taskdefs/ec2-sidecars.json"),
    ),
    (
        "windows-splunk-deleting.json",
        include_str!("../../../tests/fixtures/taskdefs/windows-splunk-deleting.json"),
    ),
    (
        "arm64-efs-appmesh.json",
        include_str!("../../../tests/fixtures/taskdefs/arm64-efs-appmesh.json"),
    ),
];

/// The fixture as written, unwrapped by hand: the expectation, built without the code under test.
fn raw(text: &str) -> Map<String, Value> {
    let value: Value = serde_json::from_str(text).unwrap();
    let obj = value.as_object().unwrap().clone();
    match obj.get("taskDefinition") {
        Some(Value::Object(inner)) => {
            let mut inner = inner.clone();
            if let Some(Value::Array(tags)) = obj.get("tags")
                && !tags.is_empty()
            {
                inner.insert("tags".into(), Value::Array(tags.clone()));
            }
            inner
        }
        _ => obj,
    }
}

fn minus_read_only(mut obj: Map<String, Value>) -> Map<String, Value> {
    for f in READ_ONLY_FIELDS {
        obj.remove(f);
    }
    obj
}

fn load(text: &str) -> TaskDef {
    let mut td = parse(text).unwrap();
    clean(&mut td);
    td
}

#[test]
fn every_fixture_is_kept_whole_minus_exactly_the_read_only_fields() {
    for (name, text) in FIXTURES {
        let td = load(text);
        check(&td).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(td, minus_read_only(raw(text)), "{name}");
        let rendered: Value = serde_json::from_str(&render(&td)).unwrap();
        assert_eq!(
            rendered,
            Value::Object(minus_read_only(raw(text))),
            "{name}: render"
        );
    }
}

#[test]
fn clean_removes_the_nine_fields_and_reports_them() {
    let mut td = parse(FIXTURES[2].1).unwrap();
    let mut removed = clean(&mut td);
    removed.sort();
    let mut expected: Vec<&str> = READ_ONLY_FIELDS.to_vec();
    expected.sort();
    assert_eq!(
        removed, expected,
        "the DELETE_IN_PROGRESS fixture carries all nine"
    );
    assert!(!td.contains_key("tags"), "an empty tags list is left out");
}

#[test]
fn tags_from_the_describe_wrapper_move_into_the_document() {
    let td = load(FIXTURES[0].1);
    assert_eq!(
        td["tags"],
        json!([{"key": "app", "value": "vendor0919"}, {"key": "env", "value": "prod"}])
    );
}

/// Every member of the model's TaskDefinition and ContainerDefinition appears in some fixture,
/// so the round-trip guard is exercised on all of them. A new SDK member fails this test until
/// a fixture uses it.
#[test]
fn the_corpus_uses_every_member_of_the_model() {
    let docs: Vec<Map<String, Value>> = FIXTURES.iter().map(|(_, t)| raw(t)).collect();
    for member in types::TaskDefinition::SCHEMA.members() {
        let name = member.member_name().unwrap();
        assert!(
            docs.iter().any(|d| d.contains_key(name)),
            "no fixture uses TaskDefinition.{name}"
        );
    }
    let containers: Vec<&Map<String, Value>> = docs
        .iter()
        .flat_map(|d| d["containerDefinitions"].as_array().unwrap())
        .map(|c| c.as_object().unwrap())
        .collect();
    for member in types::ContainerDefinition::SCHEMA.members() {
        let name = member.member_name().unwrap();
        assert!(
            containers.iter().any(|c| c.contains_key(name)),
            "no fixture uses ContainerDefinition.{name}"
        );
    }
}

#[test]
fn changes_add_only_what_was_asked() {
    let settings = LogSettings {
        group: None,
        region: Some("eu-west-1".into()),
        stream_prefix: "ecs".into(),
        force_awslogs: false,
        pin_region: false,
    };
    for (name, text) in FIXTURES {
        let mut td = load(text);
        let first = container_names(&td)[0].clone();
        let spec: ImageSpec = format!("{first}=127.0.0.1:15000/new/image:v2")
            .parse()
            .unwrap();
        let mut changes = swap_images(&mut td, &[spec]).unwrap();
        changes.extend(guarantee_awslogs(&mut td, &settings).unwrap().0);
        check(&td).unwrap_or_else(|e| panic!("{name}: {e}"));

        // Build the expectation by hand from the raw fixture.
        let mut expected = minus_read_only(raw(text));
        let family = expected["family"].as_str().unwrap().to_owned();
        for c in expected["containerDefinitions"].as_array_mut().unwrap() {
            let c = c.as_object_mut().unwrap();
            if c["name"] == first.as_str() {
                c.insert("image".into(), json!("127.0.0.1:15000/new/image:v2"));
            }
            match c.get_mut("logConfiguration") {
                None => {
                    c.insert("logConfiguration".into(), json!({"logDriver": "awslogs", "options": {
                        "awslogs-group": format!("/ecs/{family}"), "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "ecs"}}));
                }
                Some(l) if l["logDriver"] == "awslogs" => {
                    let o = l["options"].as_object_mut().unwrap();
                    o.entry("awslogs-region").or_insert(json!("eu-west-1"));
                    o.entry("awslogs-stream-prefix").or_insert(json!("ecs"));
                }
                Some(_) => {}
            }
        }
        assert_eq!(td, expected, "{name}");
        assert!(
            changes
                .iter()
                .any(|c| c.field == "image" && c.container == first),
            "{name}: image change listed"
        );
    }
}

#[test]
fn swap_images_names_containers_and_refuses_ambiguity() {
    let mut td = load(FIXTURES[1].1);
    let untouched = td.clone();
    let err = swap_images(&mut td, &["nope=busybox:2".parse().unwrap()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no container named `nope`: the task definition has containers `log_router`, `web`, `cache-warmer`"
    );
    let err = swap_images(&mut td, &["busybox:2".parse().unwrap()]).unwrap_err();
    assert!(matches!(err, TaskdefError::AmbiguousImage { .. }), "{err}");
    assert!(err.to_string().contains("use --image NAME=IMAGE"), "{err}");
    let err = swap_images(
        &mut td,
        &["web=a:1".parse().unwrap(), "web=b:2".parse().unwrap()],
    )
    .unwrap_err();
    assert_eq!(err, TaskdefError::DuplicateImage("web".into()));
    assert_eq!(td, untouched, "nothing changed on error");

    let mut single = load(FIXTURES[0].1);
    let changes = swap_images(&mut single, &["repo/api:v9".parse().unwrap()]).unwrap();
    assert_eq!(single["containerDefinitions"][0]["image"], "repo/api:v9");
    assert_eq!(
        changes[0].old,
        Some(json!(
            "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/vendor0919-api:202509240325"
        ))
    );
    assert!(
        swap_images(&mut single, &["repo/api:v9".parse().unwrap()])
            .unwrap()
            .is_empty(),
        "same image: no change"
    );
}

#[test]
fn image_specs_are_checked_as_references() {
    assert!("api=Bad:Ref".parse::<ImageSpec>().is_err());
    assert!("api=repo:-x".parse::<ImageSpec>().is_err());
    let spec: ImageSpec =
        "api=reg.io/a/b:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            .parse()
            .unwrap();
    assert_eq!(spec.container.as_deref(), Some("api"));
    assert_eq!(spec.image.tag.as_deref(), Some("1"));
}

fn check_text(text: &str) -> Result<RegisterTaskDefinitionInput, TaskdefError> {
    let mut td = parse(text)?;
    clean(&mut td);
    check(&td)
}

const MINIMAL: &str = r#"{"family": "f", "containerDefinitions": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}"#;

fn with(path: &[&str], value: Value) -> String {
    let mut doc: Value = serde_json::from_str(MINIMAL).unwrap();
    let mut cur = &mut doc;
    for (i, seg) in path.iter().enumerate() {
        let last = i == path.len() - 1;
        cur = match seg.parse::<usize>() {
            Ok(idx) => &mut cur[idx],
            Err(_) if last => {
                cur.as_object_mut()
                    .unwrap()
                    .insert((*seg).to_owned(), value.clone());
                break;
            }
            Err(_) => cur
                .as_object_mut()
                .unwrap()
                .entry(*seg)
                .or_insert(json!({})),
        };
    }
    doc.to_string()
}

#[test]
fn bad_documents_are_refused_with_the_path_at_fault() {
    let cases: Vec<(String, &str)> = vec![
        (
            "{\"family\": \"f\",\n  \"containerDefinitions\": [\n}".into(),
            "invalid JSON at line 3 column 1",
        ),
        ("[]".into(), "found an array"),
        ("{}".into(), "the task definition is empty"),
        ("\"x\"".into(), "found a string"),
        (
            with(&["containerDefinitions", "1", "imagee"], json!("typo")),
            "unknown field `$.containerDefinitions[1].imagee`",
        ),
        (
            with(&["bogusTopLevel"], json!(1)),
            "unknown field `$.bogusTopLevel`",
        ),
        (
            with(
                &[
                    "containerDefinitions",
                    "0",
                    "linuxParameters",
                    "capabilitiez",
                ],
                json!({}),
            ),
            "unknown field `$.containerDefinitions[0].linuxParameters.capabilitiez`",
        ),
        (
            with(&["containerDefinitions", "1", "cpu"], json!("256")),
            "wrong type at `$.containerDefinitions[1].cpu`",
        ),
        (with(&["memory"], json!(512)), "wrong type at `$.memory`"),
        (
            with(&["containerDefinitions", "0", "essential"], json!("yes")),
            "wrong type at `$.containerDefinitions[0].essential`",
        ),
        (
            with(&["networkMode"], json!("bogus")),
            "unknown value `bogus` at `$.networkMode`: expected one of awsvpc, bridge, host, none",
        ),
        (
            with(
                &["containerDefinitions", "1", "portMappings"],
                json!([{"containerPort": 80, "protocol": "sctp"}]),
            ),
            "unknown value `sctp` at `$.containerDefinitions[1].portMappings[0].protocol`",
        ),
        (
            with(&["requiresCompatibilities"], json!(["FARGATE", "LAMBDA"])),
            "unknown value `LAMBDA` at `$.requiresCompatibilities[1]`",
        ),
        (
            with(&["family"], json!("")),
            "missing required field `$.family`",
        ),
        (
            r#"{"containerDefinitions": [{"name": "a", "image": "x"}]}"#.into(),
            "missing required field `$.family`",
        ),
        (
            r#"{"family": "f", "containerDefinitions": []}"#.into(),
            "missing required field `$.containerDefinitions`",
        ),
        (
            r#"{"family": "f"}"#.into(),
            "missing required field `$.containerDefinitions`",
        ),
        (
            r#"{"family": "f", "containerDefinitions": [{"name": "a"}]}"#.into(),
            "missing required field `$.containerDefinitions[0].image`",
        ),
        (
            r#"{"family": "f", "containerDefinitions": [{"image": "a"}]}"#.into(),
            "missing required field `$.containerDefinitions[0].name`",
        ),
        (
            r#"{"taskDefinition": {"family": "f"}, "extra": 1}"#.into(),
            "unknown field `$.extra`",
        ),
        (
            r#"{"taskDefinition": [1]}"#.into(),
            "wrong type at `$.taskDefinition`",
        ),
        (
            with(
                &["containerDefinitions", "0", "dockerLabels"],
                json!({"k": 1}),
            ),
            "wrong type at `$.containerDefinitions[0].dockerLabels.k`",
        ),
    ];
    for (text, needle) in cases {
        let err = check_text(&text).expect_err(&text);
        assert!(
            err.to_string().contains(needle),
            "for {text}\n  got: {err}\n want: {needle}"
        );
    }
}

#[test]
fn nulls_are_absent_values() {
    let td = check_text(&with(
        &["containerDefinitions", "0", "command"],
        Value::Null,
    ))
    .unwrap();
    assert_eq!(td.container_definitions.unwrap()[0].command, None);
}

#[test]
fn env_placeholders_expand_only_when_set() {
    let mut td = parse(r#"{"family": "${APP}-task", "containerDefinitions": [{"name": "api", "image": "${REPO}:${TAG}",
        "environment": [{"name": "LITERAL", "value": "$${NOT_EXPANDED} and ${not a name} and $HOME"}]}]}"#).unwrap();
    let env = |name: &str| match name {
        "APP" => Some("vendor0919".to_owned()),
        "REPO" => Some("reg.io/api".to_owned()),
        "TAG" => Some("202511221930".to_owned()),
        _ => None,
    };
    expand_env(&mut td, &env).unwrap();
    assert_eq!(td["family"], "vendor0919-task");
    assert_eq!(
        td["containerDefinitions"][0]["image"],
        "reg.io/api:202511221930"
    );
    assert_eq!(
        td["containerDefinitions"][0]["environment"][0]["value"],
        "${NOT_EXPANDED} and ${not a name} and $HOME"
    );

    let mut td = parse(
        r#"{"family": "f", "containerDefinitions": [{"name": "api", "image": "x:${MISSING}"}]}"#,
    )
    .unwrap();
    let err = expand_env(&mut td, &env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "environment variable `MISSING` is not set (referenced as `${MISSING}` at `$.containerDefinitions[0].image`)"
    );
}

#[test]
fn diff_is_empty_for_equal_documents_and_unified_otherwise() {
    let a = render(&load(MINIMAL));
    assert_eq!(diff("a", &a, "b", &a), "");
    let mut changed = load(MINIMAL);
    swap_images(&mut changed, &["a=x:2".parse().unwrap()]).unwrap();
    let d = diff("a", &a, "b", &render(&changed));
    assert!(d.starts_with("--- a\n+++ b\n"), "{d}");
    assert!(
        d.contains("-      \"image\": \"x\",\n+      \"image\": \"x:2\",\n"),
        "{d}"
    );
}

#[test]
fn render_sorts_keys_with_two_space_indent() {
    let text = render(&load(
        r#"{"family": "f", "containerDefinitions": [{"name": "a", "image": "x", "essential": true}]}"#,
    ));
    assert_eq!(
        text,
        "{\n  \"containerDefinitions\": [\n    {\n      \"essential\": true,\n      \"image\": \"x\",\n      \"name\": \"a\"\n    }\n  ],\n  \"family\": \"f\"\n}\n"
    );
}

#[test]
fn the_describe_codec_output_reads_back_as_the_same_document() {
    // What `from_describe_output` does with a live revision, checked on a fixture.
    let codec = codec();
    let text = FIXTURES[0].1;
    let out =
        DescribeTaskDefinitionOutput::deserialize(&mut codec.create_deserializer(text.as_bytes()))
            .unwrap();
    let mut td = from_describe_output(&out).unwrap();
    clean(&mut td);
    // The codec adds model defaults the document left out; every field of the fixture survives.
    let mut unknown = Vec::new();
    compare(
        &Value::Object(load(text)),
        &Value::Object(td),
        &mut Vec::new(),
        &mut unknown,
    )
    .unwrap();
    assert_eq!(unknown, []);
}

#[test]
fn equivalence_sets_aside_what_ecs_fills_in() {
    let file = load(r#"{"family": "f", "containerDefinitions": [{"name": "a", "image": "x"}]}"#);
    let described = load(
        r#"{"family": "f", "volumes": [], "placementConstraints": [],
        "containerDefinitions": [{"name": "a", "image": "x", "cpu": 0, "mountPoints": [], "environment": []}]}"#,
    );
    assert!(equivalent(&file, &described));
    let other_image =
        load(r#"{"family": "f", "containerDefinitions": [{"name": "a", "image": "y"}]}"#);
    assert!(!equivalent(&file, &other_image));
    let with_cpu = load(
        r#"{"family": "f", "containerDefinitions": [{"name": "a", "image": "x", "cpu": 256}]}"#,
    );
    assert!(!equivalent(&file, &with_cpu));
}

fn lenient(text: &str) -> Result<Checked, TaskdefError> {
    check_with(
        &parse(text).unwrap(),
        CheckOptions {
            strict: false,
            require_images: true,
        },
    )
}

#[test]
fn unknown_keys_and_values_are_carried_unless_they_are_near_misses() {
    // Carried: names no known member is close to; values no known value is close to.
    let text = r#"{"family": "f", "newSandboxPolicy": {"mode": "x"}, "pidMode": "sandbox",
        "containerDefinitions": [{"name": "a", "image": "r:1", "gpuSharing": true,
          "logConfiguration": {"logDriver": "none"}}]}"#;
    let checked = lenient(text).unwrap();
    let carried: Vec<(String, CarriedKind)> = checked
        .carried
        .iter()
        .map(|c| (c.path.to_string(), c.kind))
        .collect();
    assert_eq!(
        carried,
        [
            (
                "$.containerDefinitions[0].gpuSharing".to_owned(),
                CarriedKind::Key
            ),
            ("$.newSandboxPolicy".to_owned(), CarriedKind::Key),
            ("$.pidMode".to_owned(), CarriedKind::EnumValue),
            (
                "$.containerDefinitions[0].logConfiguration.logDriver".to_owned(),
                CarriedKind::EnumValue
            ),
        ]
    );
    // The request body carries them at their paths.
    let body = request_body(&checked);
    assert_eq!(body["newSandboxPolicy"], json!({"mode": "x"}));
    assert_eq!(body["containerDefinitions"][0]["gpuSharing"], json!(true));
    assert_eq!(body["pidMode"], json!("sandbox"));

    // Strict refuses each of them, as before.
    assert!(matches!(
        check_text(text),
        Err(TaskdefError::UnknownField { .. })
    ));

    // Near misses are typos, refused with a suggestion even when not strict.
    let cases = [
        (
            with(&["containerDefinitions", "0", "imagee"], json!("x")),
            "unknown field `$.containerDefinitions[0].imagee`: did you mean `image`?",
        ),
        (
            with(&["famly"], json!("x")),
            "unknown field `$.famly`: did you mean `family`?",
        ),
        (
            with(&["networkMode"], json!("awsvpcc")),
            "unknown value `awsvpcc` at `$.networkMode`: did you mean `awsvpc`?",
        ),
        (
            with(
                &["containerDefinitions", "0", "logConfiguration"],
                json!({"logDriver": "awslog"}),
            ),
            "did you mean `awslogs`?",
        ),
    ];
    for (text, want) in cases {
        let err = lenient(&text).unwrap_err().to_string();
        assert!(err.contains(want), "{err}\nwant {want}");
    }
}

#[test]
fn empty_enum_values_are_dropped_and_images_may_wait_for_image() {
    let mut td = parse(
        r#"{"family": "f", "pidMode": "", "ipcMode": "", "networkMode": "awsvpc",
            "containerDefinitions": [{"name": "a", "image": "",
              "portMappings": [{"containerPort": 80, "appProtocol": ""}]}]}"#,
    )
    .unwrap();
    let dropped: Vec<String> = drop_empty_enums(&mut td)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        dropped,
        [
            "$.pidMode",
            "$.ipcMode",
            "$.containerDefinitions[0].portMappings[0].appProtocol"
        ]
    );
    assert_eq!(td.get("networkMode"), Some(&json!("awsvpc")));
    // An empty image is fine until images are required (after --image).
    let loose = CheckOptions {
        strict: true,
        require_images: false,
    };
    assert!(check_with(&td, loose).is_ok());
    let err = check(&td).unwrap_err().to_string();
    assert!(
        err.contains("missing required field `$.containerDefinitions[0].image`"),
        "{err}"
    );
}

#[test]
fn duplicate_keys_a_bom_and_size_are_handled() {
    let dup =
        r#"{"family": "f", "containerDefinitions": [{"name": "a", "image": "x", "image": "y"}]}"#;
    assert_eq!(
        parse(dup).unwrap_err().to_string(),
        "`$.containerDefinitions[0].image` is given twice: JSON parsers keep one of the two silently, so remove the other"
    );
    assert!(
        parse(r#"{"family": "f", "family": "g"}"#)
            .unwrap_err()
            .to_string()
            .contains("`$.family`")
    );
    let bom = "\u{feff}{\"family\": \"f\", \"containerDefinitions\": [{\"name\": \"a\", \"image\": \"x\"}]}";
    assert_eq!(parse(bom).unwrap()["family"], "f");
    let big = format!(
        r#"{{"family": "f", "containerDefinitions": [{{"name": "a", "image": "x", "command": ["{}"]}}]}}"#,
        "x".repeat(70 * 1024)
    );
    let checked = lenient(&big).unwrap();
    assert!(matches!(
        check_size(&checked),
        Err(TaskdefError::TooLarge { .. })
    ));
    assert!(check_size(&lenient(bom).unwrap()).is_ok());
}
