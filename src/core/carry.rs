//! Fields newer than this ecs-ship's ECS model (aws-sdk-ecs 1.157): a key or enum value the model
//! does not know is either a near miss of one it does (a typo: refused with a suggestion) or carried
//! through verbatim - merged into the request body the SDK serialized, and proven kept by reading the
//! response back. The peers' "Unexpected key" errors block a deploy until a new release ships; a
//! silent drop loses the field. Neither happens here.

use std::fmt;

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types;
use aws_smithy_schema::Schema;
use serde::Serialize;
use serde_json::Value;

/// The model version unknown fields are measured against, for messages.
pub const MODEL: &str = "aws-sdk-ecs 1.157";

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

/// A path into a task definition document, shown as `$.containerDefinitions[0].image`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonPath(pub Vec<PathSeg>);

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for seg in &self.0 {
            match seg {
                PathSeg::Index(i) => write!(f, "[{i}]")?,
                PathSeg::Key(k)
                    if !k.is_empty()
                        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    write!(f, ".{k}")?
                }
                PathSeg::Key(k) => write!(f, "[{}]", Value::String(k.clone()))?,
            }
        }
        Ok(())
    }
}

impl Serialize for JsonPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl JsonPath {
    /// The path with array indices replaced by `[]`: `containerDefinitions[].portMappings[]`.
    pub fn pattern(&self) -> String {
        let mut out = String::new();
        for seg in &self.0 {
            match seg {
                PathSeg::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                PathSeg::Index(_) => out.push_str("[]"),
            }
        }
        out
    }

    pub fn parent(&self) -> JsonPath {
        JsonPath(self.0[..self.0.len().saturating_sub(1)].to_vec())
    }

    pub fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(PathSeg::Key(k)) => Some(k),
            _ => None,
        }
    }
}

/// What is carried: a key the model lacks, or an enum value it lacks (which the SDK sends as is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CarriedKind {
    Key,
    EnumValue,
}

/// A field carried through verbatim, to be merged into the request and proven kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Carried {
    pub path: JsonPath,
    pub value: Value,
    pub kind: CarriedKind,
}

/// The value at `path` in `root`, if any.
pub fn value_at<'a>(root: &'a Value, path: &JsonPath) -> Option<&'a Value> {
    let mut at = root;
    for seg in &path.0 {
        at = match seg {
            PathSeg::Key(k) => at.as_object()?.get(k)?,
            PathSeg::Index(i) => at.as_array()?.get(*i)?,
        };
    }
    Some(at)
}

/// Writes each carried key into `body` (the request the SDK serialized) at its path. A parent that
/// is missing there is created as an object.
pub fn merge(body: &mut Value, carried: &[Carried]) {
    fn insert_at(at: &mut Value, segs: &[PathSeg], value: &Value) {
        match segs {
            [] => {}
            [PathSeg::Key(k)] => {
                if let Some(obj) = at.as_object_mut() {
                    obj.insert(k.clone(), value.clone());
                }
            }
            [PathSeg::Key(k), rest @ ..] => {
                if let Some(obj) = at.as_object_mut() {
                    let next = obj
                        .entry(k.clone())
                        .or_insert_with(|| Value::Object(Default::default()));
                    insert_at(next, rest, value);
                }
            }
            [PathSeg::Index(i), rest @ ..] => {
                if let Some(next) = at.as_array_mut().and_then(|a| a.get_mut(*i)) {
                    insert_at(next, rest, value);
                }
            }
        }
    }
    for c in carried.iter().filter(|c| c.kind == CarriedKind::Key) {
        insert_at(body, &c.path.0, &c.value);
    }
}

/// The carried fields that `returned` (the task definition ECS sent back) lacks or changed.
pub fn not_kept<'a>(returned: &Value, carried: &'a [Carried]) -> Vec<&'a Carried> {
    carried
        .iter()
        .filter(|c| value_at(returned, &c.path) != Some(&c.value))
        .collect()
}

fn members(schema: &Schema<'_>) -> Vec<String> {
    schema
        .members()
        .iter()
        .filter_map(|m| m.member_name().map(str::to_owned))
        .collect()
}

/// The member names the model knows for the object at `pattern` (see `JsonPath::pattern`).
/// Schema member schemas do not link to their target structures, hence the table.
#[expect(
    deprecated,
    reason = "inferenceAccelerators is deprecated in the model but a document may still carry it"
)]
pub fn known_members(pattern: &str) -> Option<Vec<String>> {
    let schema: &Schema<'_> = match pattern {
        "" => RegisterTaskDefinitionInput::SCHEMA,
        "containerDefinitions[]" => types::ContainerDefinition::SCHEMA,
        "containerDefinitions[].portMappings[]" => types::PortMapping::SCHEMA,
        "containerDefinitions[].environment[]" | "proxyConfiguration.properties[]" => {
            types::KeyValuePair::SCHEMA
        }
        "containerDefinitions[].secrets[]"
        | "containerDefinitions[].logConfiguration.secretOptions[]" => types::Secret::SCHEMA,
        "containerDefinitions[].healthCheck" => types::HealthCheck::SCHEMA,
        "containerDefinitions[].logConfiguration" => types::LogConfiguration::SCHEMA,
        "containerDefinitions[].linuxParameters" => types::LinuxParameters::SCHEMA,
        "containerDefinitions[].linuxParameters.capabilities" => types::KernelCapabilities::SCHEMA,
        "containerDefinitions[].linuxParameters.devices[]" => types::Device::SCHEMA,
        "containerDefinitions[].linuxParameters.tmpfs[]" => types::Tmpfs::SCHEMA,
        "containerDefinitions[].mountPoints[]" => types::MountPoint::SCHEMA,
        "containerDefinitions[].volumesFrom[]" => types::VolumeFrom::SCHEMA,
        "containerDefinitions[].dependsOn[]" => types::ContainerDependency::SCHEMA,
        "containerDefinitions[].ulimits[]" => types::Ulimit::SCHEMA,
        "containerDefinitions[].extraHosts[]" => types::HostEntry::SCHEMA,
        "containerDefinitions[].environmentFiles[]" => types::EnvironmentFile::SCHEMA,
        "containerDefinitions[].resourceRequirements[]" => types::ResourceRequirement::SCHEMA,
        "containerDefinitions[].firelensConfiguration" => types::FirelensConfiguration::SCHEMA,
        "containerDefinitions[].repositoryCredentials" => types::RepositoryCredentials::SCHEMA,
        "containerDefinitions[].systemControls[]" => types::SystemControl::SCHEMA,
        "containerDefinitions[].restartPolicy" => types::ContainerRestartPolicy::SCHEMA,
        "volumes[]" => types::Volume::SCHEMA,
        "volumes[].host" => types::HostVolumeProperties::SCHEMA,
        "volumes[].dockerVolumeConfiguration" => types::DockerVolumeConfiguration::SCHEMA,
        "volumes[].efsVolumeConfiguration" => types::EfsVolumeConfiguration::SCHEMA,
        "volumes[].efsVolumeConfiguration.authorizationConfig" => {
            types::EfsAuthorizationConfig::SCHEMA
        }
        "volumes[].fsxWindowsFileServerVolumeConfiguration" => {
            types::FSxWindowsFileServerVolumeConfiguration::SCHEMA
        }
        "volumes[].fsxWindowsFileServerVolumeConfiguration.authorizationConfig" => {
            types::FSxWindowsFileServerAuthorizationConfig::SCHEMA
        }
        "placementConstraints[]" => types::TaskDefinitionPlacementConstraint::SCHEMA,
        "proxyConfiguration" => types::ProxyConfiguration::SCHEMA,
        "runtimePlatform" => types::RuntimePlatform::SCHEMA,
        "ephemeralStorage" => types::EphemeralStorage::SCHEMA,
        "tags[]" => types::Tag::SCHEMA,
        "inferenceAccelerators[]" => types::InferenceAccelerator::SCHEMA,
        _ => return None,
    };
    Some(members(schema))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known name `name` is most likely a typo of: equal but for case, or within a small edit
/// distance (1 for short names, 2 from 8 characters on).
pub fn near_miss<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    let limit = if name.chars().count() >= 8 { 2 } else { 1 };
    known
        .iter()
        .filter(|k| k.as_str() != name)
        .map(|k| {
            let d = if k.eq_ignore_ascii_case(name) {
                0
            } else {
                edit_distance(&k.to_ascii_lowercase(), &name.to_ascii_lowercase())
            };
            (d, k)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(segs: &[&str]) -> JsonPath {
        JsonPath(
            segs.iter()
                .map(|s| match s.parse() {
                    Ok(i) => PathSeg::Index(i),
                    Err(_) => PathSeg::Key((*s).to_owned()),
                })
                .collect(),
        )
    }

    #[test]
    fn paths_print_and_pattern_as_documented() {
        let p = path(&[
            "containerDefinitions",
            "0",
            "portMappings",
            "1",
            "appProtocol",
        ]);
        assert_eq!(
            p.to_string(),
            "$.containerDefinitions[0].portMappings[1].appProtocol"
        );
        assert_eq!(
            p.pattern(),
            "containerDefinitions[].portMappings[].appProtocol"
        );
        assert_eq!(path(&["a b"]).to_string(), "$[\"a b\"]");
    }

    #[test]
    fn typos_are_near_misses_and_new_names_are_not() {
        let root = known_members("").unwrap();
        let container = known_members("containerDefinitions[]").unwrap();
        let cases: &[(&str, &[String], Option<&str>)] = &[
            ("imagee", &container, Some("image")),
            ("Image", &container, Some("image")),
            ("enviroment", &container, Some("environment")),
            ("essentail", &container, Some("essential")),
            ("famly", &root, Some("family")),
            ("networkmode", &root, Some("networkMode")),
            ("image", &container, None),
            ("newSandboxPolicy", &root, None),
            ("taskSchedulingHint", &root, None),
            ("gpuSharing", &container, None),
        ];
        for (name, known, want) in cases {
            assert_eq!(near_miss(name, known), *want, "{name}");
        }
        assert!(
            known_members("containerDefinitions[].healthCheck")
                .unwrap()
                .contains(&"startPeriod".to_owned())
        );
        assert_eq!(known_members("nowhere"), None);
    }

    #[test]
    fn carried_keys_merge_at_their_paths_and_a_dropped_one_is_found() {
        let carried = vec![
            Carried {
                path: path(&["newTopLevel"]),
                value: json!({"a": 1}),
                kind: CarriedKind::Key,
            },
            Carried {
                path: path(&["containerDefinitions", "1", "gpuSharing"]),
                value: json!(true),
                kind: CarriedKind::Key,
            },
            Carried {
                path: path(&["pidMode"]),
                value: json!("future"),
                kind: CarriedKind::EnumValue,
            },
        ];
        let mut body = json!({"family": "f", "pidMode": "future",
                              "containerDefinitions": [{"name": "a"}, {"name": "b"}]});
        merge(&mut body, &carried);
        assert_eq!(body["newTopLevel"], json!({"a": 1}));
        assert_eq!(body["containerDefinitions"][1]["gpuSharing"], json!(true));
        assert_eq!(body["containerDefinitions"][0].get("gpuSharing"), None);
        assert!(not_kept(&body, &carried).is_empty());
        body["containerDefinitions"][1]
            .as_object_mut()
            .unwrap()
            .remove("gpuSharing");
        body["pidMode"] = json!("host");
        let lost: Vec<String> = not_kept(&body, &carried)
            .iter()
            .map(|c| c.path.to_string())
            .collect();
        assert_eq!(lost, ["$.containerDefinitions[1].gpuSharing", "$.pidMode"]);
    }
}
