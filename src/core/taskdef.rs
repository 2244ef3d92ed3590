//! Task definitions as JSON: read what `describe-task-definition` prints or what
//! `register-task-definition --cli-input-json` takes, strip exactly the read-only fields, prove
//! the SDK model carries every remaining field, swap images, and render register-ready JSON.
//!
//! Why JSON and not SDK structs as the working form: allow-list copiers silently drop fields they do
//! not know (PRODUCT.md). We keep the user's document value for value and use the SDK's schema
//! codec only as a checker: deserialize into `RegisterTaskDefinitionInput`, serialize it again, and
//! any path that did not survive is an error naming it. The codec skips unknown keys silently and
//! keeps unknown enum strings, so both are checked here (shared/research/rust-notes.md §4).

use std::fmt;

use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types;
use aws_smithy_json::codec::{JsonCodec, JsonCodecSettings};
use aws_smithy_schema::codec::Codec;
use aws_smithy_schema::serde::ShapeSerializer;
use aws_smithy_types::date_time::Format;
use serde::Serialize;
use serde_json::{Map, Value};

use super::image_ref::ImageRef;

/// The fields DescribeTaskDefinition returns and RegisterTaskDefinition refuses (PRODUCT.md).
pub const READ_ONLY_FIELDS: [&str; 9] = [
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
];

/// A task definition document: a JSON object in register-task-definition form.
pub type TaskDef = Map<String, Value>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskdefError {
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("expected a task definition (a JSON object), found {0}")]
    NotAnObject(&'static str),
    #[error("the task definition is empty: it needs at least `family` and `containerDefinitions`")]
    Empty,
    #[error(
        "unknown field `{path}`: not part of the ECS RegisterTaskDefinition model (misspelt, or newer than this ecs-ship)"
    )]
    UnknownField { path: String },
    #[error("wrong type at `{path}`: {message}")]
    WrongType { path: String, message: String },
    #[error("value at `{path}` would not be sent as written: {message}")]
    Altered { path: String, message: String },
    #[error("unknown value `{value}` at `{path}`: expected one of {}", .allowed.join(", "))]
    UnknownEnum {
        path: String,
        value: String,
        allowed: Vec<String>,
    },
    #[error("missing required field `{path}`")]
    Missing { path: String },
    #[error("no container named `{name}`: the task definition has {}", quoted_list(.known))]
    UnknownContainer { name: String, known: Vec<String> },
    #[error("`--image {image}` names no container, but the task definition has {}: use --image NAME=IMAGE", quoted_list(.known))]
    AmbiguousImage { image: String, known: Vec<String> },
    #[error("container `{0}` is given an image twice")]
    DuplicateImage(String),
    #[error(transparent)]
    InvalidImage(#[from] super::image_ref::InvalidImageRef),
    #[error("environment variable `{name}` is not set (referenced as `${{{name}}}` at `{path}`)")]
    UnsetVariable { name: String, path: String },
}

fn quoted_list(names: &[String]) -> String {
    if names.is_empty() {
        return "no containers".to_owned();
    }
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    format!("containers {}", quoted.join(", "))
}

/// One change made to the document, as reported to the user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub container: String,
    pub field: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<Value>| match v {
            None => "(none)".to_owned(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        write!(
            f,
            "container `{}`: {}: {} -> {}",
            self.container,
            self.field,
            show(&self.old),
            show(&self.new)
        )
    }
}

/// Parses a document as the AWS CLI prints or takes it. A describe-task-definition wrapper
/// (`{"taskDefinition": {...}, "tags": [...]}`) is unwrapped and non-empty tags moved in.
pub fn parse(text: &str) -> Result<TaskDef, TaskdefError> {
    let value: Value = serde_json::from_str(text).map_err(|e| TaskdefError::Json {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    let mut obj = match value {
        Value::Object(obj) => obj,
        Value::Array(_) => return Err(TaskdefError::NotAnObject("an array")),
        Value::String(_) => return Err(TaskdefError::NotAnObject("a string")),
        Value::Number(_) => return Err(TaskdefError::NotAnObject("a number")),
        Value::Bool(_) => return Err(TaskdefError::NotAnObject("a boolean")),
        Value::Null => return Err(TaskdefError::NotAnObject("null")),
    };
    if obj.is_empty() {
        return Err(TaskdefError::Empty);
    }
    if obj.contains_key("taskDefinition") {
        let wrapper_tags = obj.remove("tags");
        let inner = obj.remove("taskDefinition");
        // `ResponseMetadata` appears in some SDKs' dumps of the same response; it carries no field.
        obj.remove("ResponseMetadata");
        if let Some(key) = obj.keys().next() {
            return Err(TaskdefError::UnknownField {
                path: json_path(&[Seg::Key(key)]),
            });
        }
        let Some(Value::Object(mut inner)) = inner else {
            return Err(TaskdefError::WrongType {
                path: "$.taskDefinition".into(),
                message: "expected an object".into(),
            });
        };
        match wrapper_tags {
            Some(Value::Array(tags)) if !tags.is_empty() => {
                inner.insert("tags".into(), Value::Array(tags));
            }
            Some(Value::Array(_)) | Some(Value::Null) | None => {}
            Some(_) => {
                return Err(TaskdefError::WrongType {
                    path: "$.tags".into(),
                    message: "expected an array".into(),
                });
            }
        }
        obj = inner;
    }
    Ok(obj)
}

/// serde_json appends " at line L column C"; we report those as fields.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Removes exactly the read-only fields, an empty `tags` list and null values. Returns the
/// names of the read-only fields that were present.
pub fn clean(td: &mut TaskDef) -> Vec<String> {
    let removed = READ_ONLY_FIELDS
        .iter()
        .filter(|f| td.remove(**f).is_some())
        .map(|f| (*f).to_owned())
        .collect();
    if matches!(td.get("tags"), Some(Value::Array(tags)) if tags.is_empty()) {
        td.remove("tags");
    }
    remove_nulls(td);
    removed
}

fn remove_nulls(obj: &mut Map<String, Value>) {
    obj.retain(|_, v| !v.is_null());
    for v in obj.values_mut() {
        remove_nulls_in(v);
    }
}

fn remove_nulls_in(value: &mut Value) {
    match value {
        Value::Object(obj) => remove_nulls(obj),
        Value::Array(items) => items.iter_mut().for_each(remove_nulls_in),
        _ => {}
    }
}

/// Replaces `${NAME}` in every string value with `lookup(NAME)`; `$${NAME}` stays literal
/// `${NAME}`. Values are substituted after parsing, so they cannot break the JSON.
pub fn expand_env(
    td: &mut TaskDef,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), TaskdefError> {
    fn walk(
        value: &mut Value,
        path: &mut Vec<String>,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), TaskdefError> {
        match value {
            Value::String(s) if s.contains("${") => *s = expand_str(s, path, lookup)?,
            Value::Object(obj) => {
                for (k, v) in obj.iter_mut() {
                    path.push(format!(".{k}"));
                    walk(v, path, lookup)?;
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    path.push(format!("[{i}]"));
                    walk(v, path, lookup)?;
                    path.pop();
                }
            }
            _ => {}
        }
        Ok(())
    }
    for (k, v) in td.iter_mut() {
        walk(v, &mut vec![format!(".{k}")], lookup)?;
    }
    Ok(())
}

fn expand_str(
    s: &str,
    path: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, TaskdefError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        let escaped = i > 0 && rest.as_bytes()[i - 1] == b'$';
        let Some(end) = rest[i + 2..].find('}') else {
            break;
        };
        let name = &rest[i + 2..i + 2 + end];
        let is_name = !name.is_empty()
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if escaped {
            out.push_str(&rest[..i - 1]);
            out.push_str(&rest[i..i + 3 + end]);
        } else if is_name {
            out.push_str(&rest[..i]);
            let value = lookup(name).ok_or_else(|| TaskdefError::UnsetVariable {
                name: name.to_owned(),
                path: format!("${}", path.concat()),
            })?;
            out.push_str(&value);
        } else {
            out.push_str(&rest[..i + 3 + end]);
        }
        rest = &rest[i + 3 + end..];
    }
    out.push_str(rest);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Strict check against the SDK model

fn codec() -> JsonCodec {
    JsonCodec::new(
        JsonCodecSettings::builder()
            .use_json_name(false)
            .default_timestamp_format(Format::DateTime)
            .build(),
    )
}

/// Proves the document is a valid RegisterTaskDefinition input that the SDK will send whole, and
/// returns that input. Every error names the JSON path at fault.
pub fn check(td: &TaskDef) -> Result<RegisterTaskDefinitionInput, TaskdefError> {
    let bytes = serde_json::to_vec(td).expect("a JSON map always serializes");
    let codec = codec();
    let mut de = codec.create_deserializer(&bytes);
    let input = match RegisterTaskDefinitionInput::deserialize(&mut de) {
        Ok(input) => input,
        Err(e) => {
            return Err(TaskdefError::WrongType {
                path: path_at_offset(&bytes, de.position()),
                message: e.to_string(),
            });
        }
    };
    let round_trip = to_json(&input);
    compare(&Value::Object(td.clone()), &round_trip, &mut Vec::new())?;
    check_required(td)?;
    check_enums(td)?;
    Ok(input)
}

/// The input as the SDK would send it, as JSON.
pub fn to_json(input: &RegisterTaskDefinitionInput) -> Value {
    let mut ser = codec().create_serializer();
    ser.write_struct(RegisterTaskDefinitionInput::SCHEMA, input)
        .expect("serializing into memory cannot fail");
    serde_json::from_slice(&ser.finish()).expect("the codec writes valid JSON")
}

/// A describe-task-definition response as the CLI prints it, through the same codec.
pub fn from_describe_output(out: &DescribeTaskDefinitionOutput) -> Result<TaskDef, TaskdefError> {
    let mut ser = codec().create_serializer();
    ser.write_struct(DescribeTaskDefinitionOutput::SCHEMA, out)
        .expect("serializing into memory cannot fail");
    let text = String::from_utf8(ser.finish()).expect("the codec writes UTF-8");
    parse(&text)
}

#[derive(Debug, Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn json_path(segments: &[Seg<'_>]) -> String {
    let mut out = String::from("$");
    for seg in segments {
        match seg {
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
            Seg::Key(k)
                if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                out.push('.');
                out.push_str(k);
            }
            Seg::Key(k) => out.push_str(&format!("[{}]", Value::String((*k).to_owned()))),
        }
    }
    out
}

/// Every non-null path of `input` must be in `sent` with an equal value.
fn compare<'a>(
    input: &'a Value,
    sent: &Value,
    path: &mut Vec<Seg<'a>>,
) -> Result<(), TaskdefError> {
    match (input, sent) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                if v.is_null() {
                    continue;
                }
                path.push(Seg::Key(k));
                match b.get(k) {
                    Some(sv) => compare(v, sv, path)?,
                    None => {
                        return Err(TaskdefError::UnknownField {
                            path: json_path(path),
                        });
                    }
                }
                path.pop();
            }
            Ok(())
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, sv)) in a.iter().zip(b).enumerate() {
                path.push(Seg::Index(i));
                compare(v, sv, path)?;
                path.pop();
            }
            Ok(())
        }
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => Ok(()),
        (a, b) if a == b => Ok(()),
        (a, b) => Err(TaskdefError::Altered {
            path: json_path(path),
            message: format!("written as {a}, the SDK model would send {b}"),
        }),
    }
}

fn check_required(td: &TaskDef) -> Result<(), TaskdefError> {
    let missing = |path: &str| TaskdefError::Missing {
        path: path.to_owned(),
    };
    match td.get("family") {
        Some(Value::String(s)) if !s.is_empty() => {}
        _ => return Err(missing("$.family")),
    }
    let containers = match td.get("containerDefinitions") {
        Some(Value::Array(c)) if !c.is_empty() => c,
        _ => return Err(missing("$.containerDefinitions")),
    };
    for (i, c) in containers.iter().enumerate() {
        for field in ["name", "image"] {
            match c.get(field) {
                Some(Value::String(s)) if !s.is_empty() => {}
                _ => return Err(missing(&format!("$.containerDefinitions[{i}].{field}"))),
            }
        }
    }
    Ok(())
}

/// Where each enum-typed member sits, and its values. The SDK keeps unknown enum strings as
/// `Unknown(..)` and would send them; ECS would then refuse the whole request far from the cause.
fn enum_fields() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("networkMode", types::NetworkMode::values()),
        ("requiresCompatibilities[]", types::Compatibility::values()),
        ("pidMode", types::PidMode::values()),
        ("ipcMode", types::IpcMode::values()),
        (
            "runtimePlatform.cpuArchitecture",
            types::CpuArchitecture::values(),
        ),
        (
            "runtimePlatform.operatingSystemFamily",
            types::OsFamily::values(),
        ),
        (
            "placementConstraints[].type",
            types::TaskDefinitionPlacementConstraintType::values(),
        ),
        (
            "proxyConfiguration.type",
            types::ProxyConfigurationType::values(),
        ),
        (
            "volumes[].dockerVolumeConfiguration.scope",
            types::Scope::values(),
        ),
        (
            "volumes[].efsVolumeConfiguration.transitEncryption",
            types::EfsTransitEncryption::values(),
        ),
        (
            "volumes[].efsVolumeConfiguration.authorizationConfig.iam",
            types::EfsAuthorizationConfigIam::values(),
        ),
        (
            "containerDefinitions[].portMappings[].protocol",
            types::TransportProtocol::values(),
        ),
        (
            "containerDefinitions[].portMappings[].appProtocol",
            types::ApplicationProtocol::values(),
        ),
        (
            "containerDefinitions[].dependsOn[].condition",
            types::ContainerCondition::values(),
        ),
        (
            "containerDefinitions[].linuxParameters.devices[].permissions[]",
            types::DeviceCgroupPermission::values(),
        ),
        (
            "containerDefinitions[].ulimits[].name",
            types::UlimitName::values(),
        ),
        (
            "containerDefinitions[].logConfiguration.logDriver",
            types::LogDriver::values(),
        ),
        (
            "containerDefinitions[].firelensConfiguration.type",
            types::FirelensConfigurationType::values(),
        ),
        (
            "containerDefinitions[].resourceRequirements[].type",
            types::ResourceType::values(),
        ),
        (
            "containerDefinitions[].environmentFiles[].type",
            types::EnvironmentFileType::values(),
        ),
        (
            "containerDefinitions[].versionConsistency",
            types::VersionConsistency::values(),
        ),
    ]
}

fn check_enums(td: &TaskDef) -> Result<(), TaskdefError> {
    let root = Value::Object(td.clone());
    for (pattern, allowed) in enum_fields() {
        let steps: Vec<&str> = pattern.split('.').collect();
        check_enum_at(&root, &steps, allowed, &mut Vec::new())?;
    }
    Ok(())
}

fn check_enum_at<'a>(
    value: &'a Value,
    steps: &[&str],
    allowed: &[&str],
    path: &mut Vec<Seg<'a>>,
) -> Result<(), TaskdefError> {
    let Some((step, rest)) = steps.split_first() else {
        return match value {
            Value::String(s) if !allowed.contains(&s.as_str()) => Err(TaskdefError::UnknownEnum {
                path: json_path(path),
                value: s.clone(),
                allowed: allowed.iter().map(|s| (*s).to_owned()).collect(),
            }),
            _ => Ok(()),
        };
    };
    let (key, each) = match step.strip_suffix("[]") {
        Some(key) => (key, true),
        None => (*step, false),
    };
    let Some((key, child)) = value.as_object().and_then(|o| o.get_key_value(key)) else {
        return Ok(());
    };
    path.push(Seg::Key(key));
    if each {
        for (i, item) in child.as_array().into_iter().flatten().enumerate() {
            path.push(Seg::Index(i));
            check_enum_at(item, rest, allowed, path)?;
            path.pop();
        }
    } else {
        check_enum_at(child, rest, allowed, path)?;
    }
    path.pop();
    Ok(())
}

/// The JSON path of the value at byte `offset` of compact JSON `bytes` (where a decoder stopped).
fn path_at_offset(bytes: &[u8], offset: usize) -> String {
    enum Frame {
        Obj(Option<String>),
        Arr(usize),
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    let mut last_string = String::new();
    let end = offset.min(bytes.len());
    while i < end {
        match bytes[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                last_string =
                    serde_json::from_slice::<String>(&bytes[start - 1..=i.min(bytes.len() - 1)])
                        .unwrap_or_default();
            }
            b'{' => stack.push(Frame::Obj(None)),
            b'[' => stack.push(Frame::Arr(0)),
            b'}' | b']' => {
                stack.pop();
            }
            b':' => {
                if let Some(Frame::Obj(key)) = stack.last_mut() {
                    *key = Some(std::mem::take(&mut last_string));
                }
            }
            b',' => match stack.last_mut() {
                Some(Frame::Arr(n)) => *n += 1,
                Some(Frame::Obj(key)) => *key = None,
                None => {}
            },
            _ => {}
        }
        i += 1;
    }
    let segs: Vec<Seg<'_>> = stack
        .iter()
        .filter_map(|f| match f {
            Frame::Obj(Some(k)) => Some(Seg::Key(k)),
            Frame::Obj(None) => None,
            Frame::Arr(n) => Some(Seg::Index(*n)),
        })
        .collect();
    json_path(&segs)
}

// ---------------------------------------------------------------------------------------------
// Changes

/// The names of the containers, in order.
pub fn container_names(td: &TaskDef) -> Vec<String> {
    containers(td)
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

fn containers(td: &TaskDef) -> &[Value] {
    td.get("containerDefinitions")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A container's `name` (empty when missing; `check` refuses such documents).
pub(crate) fn name_of(container: &Map<String, Value>) -> String {
    container
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

pub(crate) fn containers_mut(td: &mut TaskDef) -> impl Iterator<Item = &mut Map<String, Value>> {
    td.get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// One `--image` flag: `NAME=IMAGE`, or a bare `IMAGE` for a single-container task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    pub container: Option<String>,
    pub image: ImageRef,
}

impl std::str::FromStr for ImageSpec {
    type Err = TaskdefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // An image reference never contains `=`, so the first one separates the container name.
        match s.split_once('=') {
            Some((name, image)) => Ok(ImageSpec {
                container: Some(name.to_owned()),
                image: ImageRef::parse(image)?,
            }),
            None => Ok(ImageSpec {
                container: None,
                image: ImageRef::parse(s)?,
            }),
        }
    }
}

/// Sets each named container's image. Containers not named keep theirs.
pub fn swap_images(td: &mut TaskDef, specs: &[ImageSpec]) -> Result<Vec<Change>, TaskdefError> {
    let names = container_names(td);
    let mut targets: Vec<(String, &ImageRef)> = Vec::new();
    for spec in specs {
        let name = match &spec.container {
            Some(name) if names.contains(name) => name.clone(),
            Some(name) => {
                return Err(TaskdefError::UnknownContainer {
                    name: name.clone(),
                    known: names,
                });
            }
            None if names.len() == 1 => names[0].clone(),
            None => {
                return Err(TaskdefError::AmbiguousImage {
                    image: spec.image.to_string(),
                    known: names,
                });
            }
        };
        if targets.iter().any(|(n, _)| *n == name) {
            return Err(TaskdefError::DuplicateImage(name));
        }
        targets.push((name, &spec.image));
    }
    let mut changes = Vec::new();
    for container in containers_mut(td) {
        let name = name_of(container);
        let Some((_, image)) = targets.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let new = Value::String(image.to_string());
        let old = container.insert("image".into(), new.clone());
        if old.as_ref() != Some(&new) {
            changes.push(Change {
                container: name,
                field: "image".into(),
                old,
                new: Some(new),
            });
        }
    }
    Ok(changes)
}

/// Whether two documents would register the same revision: equal once the values ECS fills in by
/// itself are set aside (empty lists and objects, a container `cpu` of 0), since a file rarely
/// spells those out while a described revision always does.
pub fn equivalent(a: &TaskDef, b: &TaskDef) -> bool {
    fn normalize(value: &Value) -> Option<Value> {
        match value {
            Value::Null => None,
            Value::Array(items) if items.is_empty() => None,
            Value::Object(obj) => {
                let obj: Map<String, Value> = obj
                    .iter()
                    .filter_map(|(k, v)| normalize(v).map(|v| (k.clone(), v)))
                    .collect();
                (!obj.is_empty()).then_some(Value::Object(obj))
            }
            Value::Array(items) => Some(Value::Array(
                items
                    .iter()
                    .map(|v| normalize(v).unwrap_or(Value::Null))
                    .collect(),
            )),
            other => Some(other.clone()),
        }
    }
    fn strip_zero_cpu(td: &TaskDef) -> TaskDef {
        let mut td = td.clone();
        for c in containers_mut(&mut td) {
            if c.get("cpu").and_then(Value::as_i64) == Some(0) {
                c.remove("cpu");
            }
        }
        td
    }
    normalize(&Value::Object(strip_zero_cpu(a))) == normalize(&Value::Object(strip_zero_cpu(b)))
}

/// Register-ready JSON: keys sorted, two-space indent, a final newline.
pub fn render(td: &TaskDef) -> String {
    let mut s = serde_json::to_string_pretty(td).expect("a JSON map always serializes");
    s.push('\n');
    s
}

/// A unified diff of two rendered documents, or an empty string when they are equal.
pub fn diff(old_label: &str, old: &str, new_label: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_label, new_label)
        .to_string()
}

#[cfg(test)]
mod tests;
