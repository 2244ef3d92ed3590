//! The awslogs guarantee: every container gets a log configuration, so that a task that dies
//! leaves a trace (the team this tool was first built for ran ten revisions with `logConfiguration: null`).

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::taskdef::{Change, TaskDef, containers_mut, name_of};

pub const GROUP: &str = "awslogs-group";
pub const REGION: &str = "awslogs-region";
pub const STREAM_PREFIX: &str = "awslogs-stream-prefix";

/// What to fill in. `group: None` means `/ecs/<family>`.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub group: Option<String>,
    /// The region for `awslogs-region`; only needed where a container lacks one.
    pub region: Option<String>,
    pub stream_prefix: String,
    pub force_awslogs: bool,
    /// Replace an `awslogs-region` naming another region than `region` (a task definition copied
    /// from another region's service).
    pub pin_region: bool,
}

/// A container that logs through another driver and was left as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeptDriver {
    pub container: String,
    pub log_driver: String,
}

/// A log group (and its region) that the task definition writes to through awslogs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LogGroup {
    pub name: String,
    pub region: String,
}

/// Gives every container an awslogs configuration, fills only the missing required options of an
/// existing awslogs one, and keeps other drivers unless `force_awslogs`.
pub fn guarantee_awslogs(
    td: &mut TaskDef,
    settings: &LogSettings,
) -> Result<(Vec<Change>, Vec<KeptDriver>), NoRegion> {
    let family = td
        .get("family")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let group = settings
        .group
        .clone()
        .unwrap_or_else(|| format!("/ecs/{family}"));
    let region = settings.region.as_deref();
    let mut changes = Vec::new();
    let mut kept = Vec::new();
    for container in containers_mut(td) {
        let name = name_of(container);
        let driver = container
            .get("logConfiguration")
            .and_then(|l| l.get("logDriver"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        match driver.as_deref() {
            Some("awslogs") => {
                let config = container
                    .get_mut("logConfiguration")
                    .and_then(Value::as_object_mut)
                    .expect("checked above");
                let options = config
                    .entry("options")
                    .or_insert_with(|| Value::Object(Map::new()));
                if !options.is_object() {
                    *options = Value::Object(Map::new());
                }
                let options = options.as_object_mut().expect("made an object above");
                for key in [GROUP, REGION, STREAM_PREFIX] {
                    let current = options.get(key).and_then(Value::as_str);
                    let elsewhere = key == REGION
                        && settings.pin_region
                        && region.is_some()
                        && current.is_some_and(|c| !c.is_empty() && Some(c) != region);
                    if elsewhere || current.is_none_or(str::is_empty) {
                        let value = match key {
                            GROUP => group.as_str(),
                            REGION => region.ok_or_else(|| NoRegion(name.clone()))?,
                            _ => settings.stream_prefix.as_str(),
                        };
                        let old = options.insert(key.to_owned(), json!(value));
                        changes.push(Change {
                            container: name.clone(),
                            field: format!("logConfiguration.options.{key}"),
                            old,
                            new: Some(json!(value)),
                        });
                    }
                }
            }
            Some(other) if !settings.force_awslogs => {
                kept.push(KeptDriver {
                    container: name,
                    log_driver: other.to_owned(),
                });
            }
            _ => {
                let region = region.ok_or_else(|| NoRegion(name.clone()))?;
                let new = json!({
                    "logDriver": "awslogs",
                    "options": { GROUP: group, REGION: region, STREAM_PREFIX: settings.stream_prefix },
                });
                let old = container.insert("logConfiguration".into(), new.clone());
                changes.push(Change {
                    container: name,
                    field: "logConfiguration".into(),
                    old,
                    new: Some(new),
                });
            }
        }
    }
    Ok((changes, kept))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no region for `awslogs-region` of container `{0}`: pass --log-region or --region (or set AWS_REGION)"
)]
pub struct NoRegion(pub String);

/// Where one container's awslogs output goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AwslogsTarget {
    pub group: String,
    pub region: String,
    pub stream_prefix: String,
}

impl AwslogsTarget {
    /// The stream a task's container writes: `<prefix>/<container>/<task-id>`
    /// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html).
    pub fn stream(&self, container: &str, task_id: &str) -> String {
        format!("{}/{container}/{task_id}", self.stream_prefix)
    }
}

/// The awslogs group, region and stream prefix of `container`, when it logs through awslogs with
/// all three (without a prefix ECS names streams by task id alone, which cannot be found again).
pub fn awslogs_target(td: &TaskDef, container: &str) -> Option<AwslogsTarget> {
    let c = td
        .get("containerDefinitions")?
        .as_array()?
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(container))?;
    let l = c.get("logConfiguration")?;
    if l.get("logDriver")?.as_str()? != "awslogs" {
        return None;
    }
    let o = l.get("options")?;
    let get = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(AwslogsTarget {
        group: get(GROUP)?,
        region: get(REGION)?,
        stream_prefix: get(STREAM_PREFIX)?,
    })
}

/// The awslogs groups the containers write to, each once, sorted.
pub fn awslogs_groups(td: &TaskDef, default_region: &str) -> Vec<LogGroup> {
    let mut groups: Vec<LogGroup> = td
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("logConfiguration"))
        .filter(|l| l.get("logDriver").and_then(Value::as_str) == Some("awslogs"))
        .filter_map(|l| {
            let options = l.get("options")?;
            let name = options.get(GROUP)?.as_str()?.to_owned();
            let region = options
                .get(REGION)
                .and_then(Value::as_str)
                .unwrap_or(default_region)
                .to_owned();
            Some(LogGroup { name, region })
        })
        .collect();
    groups.sort();
    groups.dedup();
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LogSettings {
        LogSettings {
            group: None,
            region: Some("ap-northeast-1".into()),
            stream_prefix: "ecs".into(),
            force_awslogs: false,
            pin_region: false,
        }
    }

    fn td(containers: Value) -> TaskDef {
        json!({"family": "vendor0919-task", "containerDefinitions": containers})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn a_container_without_logs_gets_awslogs_with_the_defaults() {
        let mut t = td(json!([{"name": "api", "image": "x"}]));
        let (changes, kept) = guarantee_awslogs(&mut t, &settings()).unwrap();
        assert_eq!(
            t["containerDefinitions"][0]["logConfiguration"],
            json!({"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/vendor0919-task", "awslogs-region": "ap-northeast-1", "awslogs-stream-prefix": "ecs"}})
        );
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "logConfiguration");
        assert_eq!(changes[0].old, None);
        assert!(kept.is_empty());
    }

    #[test]
    fn one_target_of_several_gets_its_own_region_for_awslogs() {
        let config = |region: &str| {
            json!([{"name": "api", "image": "x", "logConfiguration": {"logDriver": "awslogs",
                "options": {"awslogs-group": "/g", "awslogs-region": region, "awslogs-stream-prefix": "p"}}}])
        };
        let pinned = LogSettings {
            pin_region: true,
            ..settings()
        };
        // (region in the task definition, pinned?, region after, changes)
        let cases = [
            ("us-west-2", true, "ap-northeast-1", 1),
            ("ap-northeast-1", true, "ap-northeast-1", 0),
            ("us-west-2", false, "us-west-2", 0),
        ];
        for (before, pin, after, n) in cases {
            let mut t = td(config(before));
            let s = if pin { pinned.clone() } else { settings() };
            let (changes, _) = guarantee_awslogs(&mut t, &s).unwrap();
            let options = &t["containerDefinitions"][0]["logConfiguration"]["options"];
            assert_eq!(options["awslogs-region"], after, "{before} {pin}");
            assert_eq!(changes.len(), n, "{before} {pin}");
            if n == 1 {
                assert_eq!(changes[0].old, Some(json!(before)));
            }
        }
    }

    #[test]
    fn awslogs_missing_one_option_gets_only_that_option() {
        let mut t = td(
            json!([{"name": "api", "image": "x", "logConfiguration": {"logDriver": "awslogs",
            "options": {"awslogs-group": "/custom/grp", "awslogs-region": "us-west-2", "mode": "non-blocking",
                        "awslogs-datetime-format": "key=value=%Y"}}}]),
        );
        let (changes, _) = guarantee_awslogs(&mut t, &settings()).unwrap();
        let options = &t["containerDefinitions"][0]["logConfiguration"]["options"];
        assert_eq!(options["awslogs-group"], "/custom/grp");
        assert_eq!(options["awslogs-region"], "us-west-2");
        assert_eq!(options["awslogs-stream-prefix"], "ecs");
        assert_eq!(options["mode"], "non-blocking");
        assert_eq!(
            options["awslogs-datetime-format"], "key=value=%Y",
            "values with `=` survive"
        );
        assert_eq!(
            changes.iter().map(|c| c.field.as_str()).collect::<Vec<_>>(),
            ["logConfiguration.options.awslogs-stream-prefix"]
        );
    }

    #[test]
    fn awslogs_without_options_gets_all_three() {
        let mut t = td(
            json!([{"name": "api", "image": "x", "logConfiguration": {"logDriver": "awslogs"}}]),
        );
        let (changes, _) = guarantee_awslogs(
            &mut t,
            &LogSettings {
                group: Some("/g".into()),
                ..settings()
            },
        )
        .unwrap();
        assert_eq!(changes.len(), 3);
        assert_eq!(
            t["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-group"],
            "/g"
        );
    }

    #[test]
    fn other_drivers_are_kept_and_reported_unless_forced() {
        let splunk = json!({"logDriver": "splunk", "options": {"splunk-url": "https://s:8088"},
                            "secretOptions": [{"name": "splunk-token", "valueFrom": "arn:aws:ssm:x"}]});
        let original = td(
            json!([{"name": "app", "image": "x", "logConfiguration": splunk},
                                 {"name": "router", "image": "y", "logConfiguration": {"logDriver": "awsfirelens"}}]),
        );
        let mut t = original.clone();
        let (changes, kept) = guarantee_awslogs(&mut t, &settings()).unwrap();
        assert!(changes.is_empty());
        assert_eq!(t, original);
        assert_eq!(
            kept,
            [
                KeptDriver {
                    container: "app".into(),
                    log_driver: "splunk".into()
                },
                KeptDriver {
                    container: "router".into(),
                    log_driver: "awsfirelens".into()
                },
            ]
        );

        let (changes, kept) = guarantee_awslogs(
            &mut t,
            &LogSettings {
                force_awslogs: true,
                pin_region: false,
                ..settings()
            },
        )
        .unwrap();
        assert!(kept.is_empty());
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].old.as_ref().unwrap()["logDriver"], "splunk");
        assert_eq!(
            t["containerDefinitions"][1]["logConfiguration"]["logDriver"],
            "awslogs"
        );
    }

    #[test]
    fn a_region_is_needed_only_where_one_is_missing() {
        let no_region = LogSettings {
            region: None,
            ..settings()
        };
        let mut complete = td(
            json!([{"name": "api", "image": "x", "logConfiguration": {"logDriver": "awslogs",
            "options": {"awslogs-group": "/g", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "p"}}}]),
        );
        assert_eq!(guarantee_awslogs(&mut complete, &no_region).unwrap().0, []);
        let mut bare = td(json!([{"name": "api", "image": "x"}]));
        assert_eq!(
            guarantee_awslogs(&mut bare, &no_region).unwrap_err(),
            NoRegion("api".into())
        );
    }

    #[test]
    fn a_containers_awslogs_target_and_stream_are_found_only_when_complete() {
        let doc = td(json!([
            {"name": "api", "logConfiguration": {"logDriver": "awslogs", "options": {
                GROUP: "/ecs/web", REGION: "us-east-1", STREAM_PREFIX: "ecs"}}},
            {"name": "noprefix", "logConfiguration": {"logDriver": "awslogs", "options": {
                GROUP: "/ecs/web", REGION: "us-east-1"}}},
            {"name": "splunk", "logConfiguration": {"logDriver": "splunk", "options": {}}},
            {"name": "none"}
        ]));
        let api = awslogs_target(&doc, "api").unwrap();
        assert_eq!(api.group, "/ecs/web");
        assert_eq!(api.stream("api", "0123abcd"), "ecs/api/0123abcd");
        for name in ["noprefix", "splunk", "none", "missing"] {
            assert_eq!(awslogs_target(&doc, name), None, "{name}");
        }
    }

    #[test]
    fn groups_are_listed_once_with_their_region() {
        let t = td(json!([
            {"name": "a", "image": "x", "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/g"}}},
            {"name": "b", "image": "x", "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/g"}}},
            {"name": "c", "image": "x", "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/h", "awslogs-region": "eu-west-1"}}},
            {"name": "d", "image": "x", "logConfiguration": {"logDriver": "splunk"}},
        ]));
        assert_eq!(
            awslogs_groups(&t, "us-east-1"),
            [
                LogGroup {
                    name: "/g".into(),
                    region: "us-east-1".into()
                },
                LogGroup {
                    name: "/h".into(),
                    region: "eu-west-1".into()
                },
            ]
        );
    }
}
