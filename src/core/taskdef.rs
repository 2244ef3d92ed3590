//! Task definitions as JSON: read what `describe-task-definition` prints or what
//! `register-task-definition --cli-input-json` takes, strip exactly the read-only fields, prove
//! the SDK model carries every remaining field, swap images, and render register-ready JSON.
//!
//! Why JSON and not SDK structs as the working form: allow-list copiers silently drop fields they do
//! not know (the copy `describe-task-definition | jq 'del(...)'` makes of a newer field). We keep the user's document value for value and use the SDK's schema
//! codec only as a checker: deserialize into `RegisterTaskDefinitionInput`, serialize it again, and
//! any path that did not survive is an error naming it. The codec skips unknown keys silently and
//! keeps unknown enum strings (smithy-rs keeps them as `Unknown` variants), so both are checked here.

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

use super::carry::{self, Carried, CarriedKind, JsonPath, PathSeg};
use super::image_ref::ImageRef;

/// The fields DescribeTaskDefinition returns and RegisterTaskDefinition refuses
/// (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTaskDefinition.html).
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
    #[error("unknown field `{path}`: did you mean `{suggestion}`?")]
    Misspelt { path: String, suggestion: String },
    #[error("unknown value `{value}` at `{path}`: did you mean `{suggestion}`?")]
    MisspeltValue {
        path: String,
        value: String,
        suggestion: String,
    },
    #[error("empty value at `{path}`: ECS rejects an empty enum value (leave the field out)")]
    EmptyEnum { path: String },
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
    #[error(
        "`{path}` is given twice: JSON parsers keep one of the two silently, so remove the other"
    )]
    DuplicateKey { path: String },
    #[error(
        "the task definition is {size} bytes as ECS receives it; ECS accepts at most {max} (64 KiB)"
    )]
    TooLarge { size: usize, max: usize },
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
            Some(Value::String(s)) if s.is_empty() => "\"\"".to_owned(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        if !self.container.is_empty() {
            write!(f, "container `{}`: ", self.container)?;
        }
        write!(
            f,
            "{}: {} -> {}",
            self.field,
            show(&self.old),
            show(&self.new)
        )
    }
}

/// Parses a document as the AWS CLI prints or takes it. A describe-task-definition wrapper
/// (`{"taskDefinition": {...}, "tags": [...]}`) is unwrapped and non-empty tags moved in.
pub fn parse(text: &str) -> Result<TaskDef, TaskdefError> {
    // A UTF-8 byte order mark, as some Windows editors write, is not part of the JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: Value = serde_json::from_str(text).map_err(|e| TaskdefError::Json {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    if let Some(path) = first_duplicate_key(text) {
        return Err(TaskdefError::DuplicateKey { path });
    }
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

/// The JSON path of the first key that appears twice in one object (serde_json keeps the last).
fn first_duplicate_key(text: &str) -> Option<String> {
    use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

    struct Walk<'a> {
        path: &'a mut Vec<String>,
        found: &'a mut Option<String>,
    }

    impl<'de> DeserializeSeed<'de> for Walk<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Walk<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0;
            loop {
                self.path.push(format!("[{i}]"));
                let more = seq.next_element_seed(Walk {
                    path: &mut *self.path,
                    found: &mut *self.found,
                })?;
                self.path.pop();
                if more.is_none() {
                    return Ok(());
                }
                i += 1;
            }
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                let segment = json_path(&[Seg::Key(&key)])[1..].to_owned();
                if !seen.insert(key) && self.found.is_none() {
                    *self.found = Some(format!("${}{segment}", self.path.concat()));
                }
                self.path.push(segment);
                map.next_value_seed(Walk {
                    path: &mut *self.path,
                    found: &mut *self.found,
                })?;
                self.path.pop();
            }
            Ok(())
        }
    }

    let mut found = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let walk = Walk {
        path: &mut Vec::new(),
        found: &mut found,
    };
    walk.deserialize(&mut de).ok()?;
    found
}

/// The most ECS takes in one RegisterTaskDefinition: 64 KiB
/// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Refuses a task definition larger than ECS accepts, measured as the request body it becomes.
pub fn check_size(checked: &Checked) -> Result<(), TaskdefError> {
    let size = request_body(checked).to_string().len();
    if size > MAX_REQUEST_BYTES {
        return Err(TaskdefError::TooLarge {
            size,
            max: MAX_REQUEST_BYTES,
        });
    }
    Ok(())
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

/// How strictly to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    /// Refuse every key and enum value the model lacks, instead of carrying the ones that are not
    /// near misses of a known one.
    pub strict: bool,
    /// Every container must have an image (false before `--image` fills templates in).
    pub require_images: bool,
}

/// A checked document: the SDK input, and what the model lacks that is carried through verbatim.
#[derive(Debug, Clone)]
pub struct Checked {
    pub input: RegisterTaskDefinitionInput,
    pub carried: Vec<Carried>,
}

/// Proves the document is a valid RegisterTaskDefinition input that the SDK will send whole
/// (strictly: nothing unknown), and returns that input. Every error names the JSON path at fault.
pub fn check(td: &TaskDef) -> Result<RegisterTaskDefinitionInput, TaskdefError> {
    check_with(
        td,
        CheckOptions {
            strict: true,
            require_images: true,
        },
    )
    .map(|c| c.input)
}

/// Checks the document against the model. A key or enum value the model lacks is an error when it
/// is a near miss of a known one (a typo) or under `strict`; otherwise it is carried.
pub fn check_with(td: &TaskDef, options: CheckOptions) -> Result<Checked, TaskdefError> {
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
    let root = Value::Object(td.clone());
    let round_trip = to_json(&input);
    let mut unknown = Vec::new();
    compare(&root, &round_trip, &mut Vec::new(), &mut unknown)?;
    let mut carried = Vec::new();
    for path in unknown {
        let name = path.last_key().unwrap_or_default().to_owned();
        let known = carry::known_members(&path.parent().pattern()).unwrap_or_else(|| {
            carry::value_at(&round_trip, &path.parent())
                .and_then(Value::as_object)
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        });
        if let Some(suggestion) = carry::near_miss(&name, &known) {
            return Err(TaskdefError::Misspelt {
                path: path.to_string(),
                suggestion: suggestion.to_owned(),
            });
        }
        if options.strict {
            return Err(TaskdefError::UnknownField {
                path: path.to_string(),
            });
        }
        let value = carry::value_at(&root, &path)
            .cloned()
            .unwrap_or(Value::Null);
        carried.push(Carried {
            path,
            value,
            kind: CarriedKind::Key,
        });
    }
    check_required(td, options.require_images)?;
    for (path, value, allowed) in unknown_enums(td) {
        let allowed_owned: Vec<String> = allowed.iter().map(|s| (*s).to_owned()).collect();
        if let Some(suggestion) = carry::near_miss(&value, &allowed_owned) {
            return Err(TaskdefError::MisspeltValue {
                path: path.to_string(),
                value,
                suggestion: suggestion.to_owned(),
            });
        }
        if options.strict {
            return Err(TaskdefError::UnknownEnum {
                path: path.to_string(),
                value,
                allowed: allowed_owned,
            });
        }
        carried.push(Carried {
            path,
            value: Value::String(value),
            kind: CarriedKind::EnumValue,
        });
    }
    Ok(Checked { input, carried })
}

/// The request body the document becomes: what the SDK serializes, plus the carried keys.
pub fn request_body(checked: &Checked) -> Value {
    let mut body = to_json(&checked.input);
    carry::merge(&mut body, &checked.carried);
    body
}

/// Removes optional enum fields whose value is an empty string (ecspresso writes `"pidMode": ""`
/// for unset ones; ECS refuses them). Returns the paths removed.
pub fn drop_empty_enums(td: &mut TaskDef) -> Vec<JsonPath> {
    fn walk(value: &mut Value, steps: &[&str], path: &mut Vec<PathSeg>, out: &mut Vec<JsonPath>) {
        let Some((step, rest)) = steps.split_first() else {
            return;
        };
        let (key, each) = match step.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (*step, false),
        };
        let Some(obj) = value.as_object_mut() else {
            return;
        };
        if rest.is_empty() && !each {
            if obj.get(key).and_then(Value::as_str) == Some("") {
                obj.remove(key);
                let mut p = path.clone();
                p.push(PathSeg::Key(key.to_owned()));
                out.push(JsonPath(p));
            }
            return;
        }
        let Some(child) = obj.get_mut(key) else {
            return;
        };
        path.push(PathSeg::Key(key.to_owned()));
        if each {
            for (i, item) in child.as_array_mut().into_iter().flatten().enumerate() {
                path.push(PathSeg::Index(i));
                walk(item, rest, path, out);
                path.pop();
            }
        } else {
            walk(child, rest, path, out);
        }
        path.pop();
    }
    let mut root = Value::Object(std::mem::take(td));
    let mut dropped = Vec::new();
    for (pattern, _) in enum_fields() {
        let steps: Vec<&str> = pattern.split('.').collect();
        walk(&mut root, &steps, &mut Vec::new(), &mut dropped);
    }
    if let Value::Object(obj) = root {
        *td = obj;
    }
    dropped
}

/// The change that dropping an empty enum value at `path` is, as reported.
pub fn dropped_empty(path: &JsonPath) -> Change {
    Change {
        container: String::new(),
        field: format!("dropped empty `{path}` (ECS rejects empty enum values)"),
        old: Some(Value::String(String::new())),
        new: None,
    }
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

fn owned(path: &[Seg<'_>]) -> JsonPath {
    JsonPath(
        path.iter()
            .map(|s| match s {
                Seg::Key(k) => PathSeg::Key((*k).to_owned()),
                Seg::Index(i) => PathSeg::Index(*i),
            })
            .collect(),
    )
}

/// Every non-null path of `input` must be in `sent` with an equal value; a key `sent` lacks (the
/// model does not know it) is collected in `unknown`, not descended into.
fn compare<'a>(
    input: &'a Value,
    sent: &Value,
    path: &mut Vec<Seg<'a>>,
    unknown: &mut Vec<JsonPath>,
) -> Result<(), TaskdefError> {
    match (input, sent) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                if v.is_null() {
                    continue;
                }
                path.push(Seg::Key(k));
                match b.get(k) {
                    Some(sv) => compare(v, sv, path, unknown)?,
                    None => unknown.push(owned(path)),
                }
                path.pop();
            }
            Ok(())
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, sv)) in a.iter().zip(b).enumerate() {
                path.push(Seg::Index(i));
                compare(v, sv, path, unknown)?;
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

fn check_required(td: &TaskDef, require_images: bool) -> Result<(), TaskdefError> {
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
        let fields: &[&str] = if require_images {
            &["name", "image"]
        } else {
            &["name"]
        };
        for field in fields {
            match c.get(*field) {
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

/// Every enum-typed value the model does not list: its path, the value, the values it lists.
fn unknown_enums(td: &TaskDef) -> Vec<(JsonPath, String, &'static [&'static str])> {
    let root = Value::Object(td.clone());
    let mut out = Vec::new();
    for (pattern, allowed) in enum_fields() {
        let steps: Vec<&str> = pattern.split('.').collect();
        enums_at(&root, &steps, allowed, &mut Vec::new(), &mut out);
    }
    out
}

fn enums_at<'a>(
    value: &'a Value,
    steps: &[&str],
    allowed: &'static [&'static str],
    path: &mut Vec<Seg<'a>>,
    out: &mut Vec<(JsonPath, String, &'static [&'static str])>,
) {
    let Some((step, rest)) = steps.split_first() else {
        if let Value::String(s) = value
            && !allowed.contains(&s.as_str())
        {
            out.push((owned(path), s.clone(), allowed));
        }
        return;
    };
    let (key, each) = match step.strip_suffix("[]") {
        Some(key) => (key, true),
        None => (*step, false),
    };
    let Some((key, child)) = value.as_object().and_then(|o| o.get_key_value(key)) else {
        return;
    };
    path.push(Seg::Key(key));
    if each {
        for (i, item) in child.as_array().into_iter().flatten().enumerate() {
            path.push(Seg::Index(i));
            enums_at(item, rest, allowed, path, out);
            path.pop();
        }
    } else {
        enums_at(child, rest, allowed, path, out);
    }
    path.pop();
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
