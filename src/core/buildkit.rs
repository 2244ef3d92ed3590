//! BuildKit decisions, pure: the build's status stream turned into our step lines, and the
//! `--cache*` and `--secret` flags read into what the build asks the engine for.
//!
//! BuildKit reports a build as a graph of vertexes (moby `api/types/backend` trace messages,
//! `moby.buildkit.v1.StatusResponse`): each vertex has a name (`[stage-0 2/3] RUN pip install`),
//! started/completed times, a cached flag, an error; logs come by vertex, in chunks that need not
//! end on a line. The docker CLI's plain progress prints them as `#N ...` lines; we print each
//! step once, when it ends, with its duration or CACHED, and its output lines as they come.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

/// One vertex as a status update reports it (times in seconds since the epoch).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VertexUpdate {
    pub digest: String,
    pub name: String,
    pub cached: bool,
    pub started: Option<f64>,
    pub completed: Option<f64>,
    pub error: String,
}

/// Output of a vertex: a chunk of bytes, not necessarily whole lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogChunk {
    pub vertex: String,
    pub data: Vec<u8>,
}

/// One status message of the build.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusUpdate {
    pub vertexes: Vec<VertexUpdate>,
    pub logs: Vec<LogChunk>,
}

/// What to print.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceEvent {
    /// A step ended: `#3 [stage-0 2/3] RUN pip install  4.2s` or `... CACHED`.
    Done {
        number: usize,
        name: String,
        seconds: f64,
        cached: bool,
    },
    /// A line a step printed.
    Output { number: usize, line: String },
    /// A step failed: its error, and everything it printed.
    Failed {
        number: usize,
        name: String,
        error: String,
        output: Vec<String>,
    },
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceEvent::Done {
                number,
                name,
                cached: true,
                ..
            } => write!(f, "#{number} {name} CACHED"),
            TraceEvent::Done {
                number,
                name,
                seconds,
                ..
            } => write!(f, "#{number} {name} {seconds:.1}s"),
            // Number 0: a message of the engine's own, not of a step.
            TraceEvent::Output { number: 0, line } => write!(f, "{line}"),
            TraceEvent::Output { number, line } => write!(f, "#{number} {line}"),
            TraceEvent::Failed {
                number,
                name,
                error,
                ..
            } if is_cache_import(name) => write!(
                f,
                "#{number} {name}: {error} (nothing to import yet: built without it)"
            ),
            TraceEvent::Failed {
                number,
                name,
                error,
                ..
            } => write!(f, "#{number} {name} ERROR: {error}"),
        }
    }
}

#[derive(Debug, Default)]
struct Step {
    name: String,
    started: bool,
    ended: bool,
    cached: bool,
    output: Vec<String>,
    /// The end of the last chunk, until its line is complete.
    partial: Vec<u8>,
}

/// The build so far, fed status updates in the order the engine sent them.
#[derive(Debug, Default)]
pub struct Trace {
    steps: Vec<Step>,
    by_digest: HashMap<String, usize>,
}

/// How many Dockerfile steps (not FROM, not BuildKit's `[internal]` work) came from the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheCount {
    pub cached: usize,
    pub total: usize,
}

impl fmt::Display for CacheCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {} steps cached", self.cached, self.total)
    }
}

/// Keep at most this many lines of one step's output for the failure report.
const KEEP_LINES: usize = 2000;

impl Trace {
    fn index(&mut self, digest: &str) -> usize {
        if let Some(i) = self.by_digest.get(digest) {
            return *i;
        }
        self.steps.push(Step::default());
        let i = self.steps.len() - 1;
        self.by_digest.insert(digest.to_owned(), i);
        i
    }

    /// Applies one update; returns what to print, in order.
    pub fn apply(&mut self, update: StatusUpdate) -> Vec<TraceEvent> {
        let mut events = Vec::new();
        for chunk in update.logs {
            let i = self.index(&chunk.vertex);
            let step = &mut self.steps[i];
            step.partial.extend_from_slice(&chunk.data);
            while let Some(end) = step.partial.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = step.partial.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line[..line.len() - 1])
                    .trim_end_matches('\r')
                    .to_owned();
                if step.output.len() == KEEP_LINES {
                    step.output.remove(0);
                }
                step.output.push(line.clone());
                events.push(TraceEvent::Output {
                    number: i + 1,
                    line,
                });
            }
        }
        for v in update.vertexes {
            let i = self.index(&v.digest);
            let step = &mut self.steps[i];
            if !v.name.is_empty() {
                step.name = v.name.clone();
            }
            step.cached |= v.cached;
            step.started |= v.started.is_some();
            if step.ended {
                continue;
            }
            if !v.error.is_empty() {
                step.ended = true;
                if !step.partial.is_empty() {
                    let rest = String::from_utf8_lossy(&step.partial).into_owned();
                    step.partial.clear();
                    step.output.push(rest);
                }
                events.push(TraceEvent::Failed {
                    number: i + 1,
                    name: step.name.clone(),
                    error: v.error.clone(),
                    output: step.output.clone(),
                });
            } else if let Some(completed) = v.completed {
                step.ended = true;
                let seconds = v.started.map_or(0.0, |s| (completed - s).max(0.0));
                events.push(TraceEvent::Done {
                    number: i + 1,
                    name: step.name.clone(),
                    seconds,
                    cached: step.cached,
                });
            }
        }
        events
    }

    /// The step running now (started, not ended), latest first: what a quiet engine is busy with.
    pub fn running(&self) -> Option<&str> {
        self.steps
            .iter()
            .rev()
            .find(|s| s.started && !s.ended && !s.name.is_empty())
            .map(|s| s.name.as_str())
    }

    /// The Dockerfile steps that ran or were cached so far.
    pub fn cache_count(&self) -> CacheCount {
        let mut count = CacheCount::default();
        for step in self.steps.iter().filter(|s| s.ended && is_counted(&s.name)) {
            count.total += 1;
            if step.cached {
                count.cached += 1;
            }
        }
        count
    }
}

/// BuildKit's import of a `--cache-from` ref: a failure (a ref not pushed yet, on the first build)
/// does not fail the build, which goes on without that cache.
pub fn is_cache_import(name: &str) -> bool {
    name.starts_with("importing cache manifest from ")
}

/// `[stage-0 2/3] RUN ...` counts; `[internal] ...`, `FROM` and exporting do not.
fn is_counted(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('[') else {
        return false;
    };
    let Some((label, instruction)) = rest.split_once("] ") else {
        return false;
    };
    label != "internal" && !instruction.starts_with("FROM ")
}

/// Where a build's cache comes from and goes to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachePlan {
    /// References to import cache from (`cachefrom`).
    pub imports: Vec<String>,
    /// Write cache metadata into the image (`BUILDKIT_INLINE_CACHE=1`).
    pub inline: bool,
    /// With an inline cache under `--cache REF`: also push the image as REF, so the next build
    /// on a fresh runner finds the cache there.
    pub push_as: Option<String>,
    /// What the build says about its cache, once.
    pub note: Option<String>,
}

/// A `--cache-to` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheTo {
    Inline,
    Registry { reference: String, max: bool },
}

/// What a builder can export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuilderCaps {
    /// A registry cache (`type=registry`): a standalone buildkitd, or an engine with the
    /// containerd image store; the engine's built-in BuildKit exports only an inline cache.
    pub registry_cache: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    #[error("invalid {flag} `{value}`: {why}")]
    Invalid {
        flag: &'static str,
        value: String,
        why: String,
    },
    #[error(
        "--cache-to `{0}`: this engine's built-in BuildKit can export only an inline cache (a registry cache needs an engine with the containerd image store or a standalone buildkitd): use --cache-to type=inline, or --cache REPO:TAG, which keeps the cache in the pushed image and pushes it as REPO:TAG too"
    )]
    RegistryExportUnsupported(String),
}

/// `k=v,k=v` into pairs; a value may hold `=`.
fn attributes(value: &str) -> Vec<(&str, &str)> {
    value
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect()
}

/// `--cache-from`: `REF` or `type=registry,ref=REF` (as docker buildx takes it).
pub fn parse_cache_from(value: &str) -> Result<String, CacheError> {
    let invalid = |why: &str| CacheError::Invalid {
        flag: "--cache-from",
        value: value.to_owned(),
        why: why.to_owned(),
    };
    if !value.contains('=') {
        return if value.is_empty() {
            Err(invalid("empty"))
        } else {
            Ok(value.to_owned())
        };
    }
    let attrs = attributes(value);
    let kind = attrs
        .iter()
        .find(|(k, _)| *k == "type")
        .map_or("registry", |(_, v)| *v);
    if kind != "registry" {
        return Err(invalid(&format!(
            "type `{kind}` is not supported here: use type=registry,ref=REPO:TAG"
        )));
    }
    attrs
        .iter()
        .find(|(k, _)| *k == "ref")
        .map(|(_, v)| (*v).to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid("no ref=REPO:TAG"))
}

/// `--cache-to`: `type=inline` or `type=registry,ref=REF[,mode=max|min][,image-manifest=..]`.
pub fn parse_cache_to(value: &str) -> Result<CacheTo, CacheError> {
    let invalid = |why: &str| CacheError::Invalid {
        flag: "--cache-to",
        value: value.to_owned(),
        why: why.to_owned(),
    };
    let attrs = attributes(value);
    let get = |key: &str| attrs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    match get("type") {
        Some("inline") => Ok(CacheTo::Inline),
        Some("registry") => {
            let reference = get("ref")
                .filter(|r| !r.is_empty())
                .ok_or_else(|| invalid("no ref=REPO:TAG"))?;
            let max = match get("mode") {
                None | Some("min") => false,
                Some("max") => true,
                Some(other) => return Err(invalid(&format!("mode `{other}`: use min or max"))),
            };
            Ok(CacheTo::Registry {
                reference: reference.to_owned(),
                max,
            })
        }
        Some(other) => Err(invalid(&format!(
            "type `{other}` is not supported here: use type=inline or type=registry"
        ))),
        None => Err(invalid("no type=inline|registry")),
    }
}

/// The flags read into one plan for `caps`. `--cache REF` picks the best the builder has: a
/// registry cache at REF where it can export one, else an inline cache pushed as REF too.
pub fn plan_cache(
    from: &[String],
    to: Option<&str>,
    shorthand: Option<&str>,
    caps: BuilderCaps,
) -> Result<CachePlan, CacheError> {
    let mut plan = CachePlan::default();
    for value in from {
        plan.imports.push(parse_cache_from(value)?);
    }
    if let Some(value) = to {
        match parse_cache_to(value)? {
            CacheTo::Inline => plan.inline = true,
            CacheTo::Registry { .. } if !caps.registry_cache => {
                return Err(CacheError::RegistryExportUnsupported(value.to_owned()));
            }
            CacheTo::Registry { reference, .. } => {
                // Only reached with a builder that can export one; none of ours can yet.
                return Err(CacheError::RegistryExportUnsupported(reference));
            }
        }
    }
    if let Some(reference) = shorthand {
        if reference.is_empty() || reference.contains('@') || !reference.contains(':') {
            return Err(CacheError::Invalid {
                flag: "--cache",
                value: reference.to_owned(),
                why: "give it as REPO:TAG, e.g. <repository>:buildcache".to_owned(),
            });
        }
        if !plan.imports.iter().any(|r| r == reference) {
            plan.imports.push(reference.to_owned());
        }
        plan.inline = true;
        plan.push_as = Some(reference.to_owned());
        plan.note = Some(format!(
            "cache: inline in the image, pushed as {reference} too (this engine's built-in BuildKit cannot export a registry cache)"
        ));
    }
    Ok(plan)
}

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    File(PathBuf),
    Env(String),
}

/// A `--secret`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSpec {
    pub id: String,
    pub source: SecretSource,
}

/// `--secret id=ID,src=PATH`, `id=ID,env=VAR`, or `id=ID` (the variable ID), as docker buildx.
pub fn parse_secret(value: &str) -> Result<SecretSpec, String> {
    let mut id = None;
    let mut source = None;
    let mut kind = None;
    for (k, v) in attributes(value) {
        match k {
            "id" => id = Some(v.to_owned()),
            "src" | "source" => source = Some(SecretSource::File(PathBuf::from(v))),
            "env" => source = Some(SecretSource::Env(v.to_owned())),
            "type" if v == "file" || v == "env" => kind = Some(v.to_owned()),
            _ => {
                return Err(format!(
                    "invalid --secret `{value}`: unknown `{k}` (use id=ID,src=PATH or id=ID,env=VAR)"
                ));
            }
        }
    }
    let id = id.filter(|i| !i.is_empty()).ok_or_else(|| {
        format!("invalid --secret `{value}`: no id=ID (use id=ID,src=PATH or id=ID,env=VAR)")
    })?;
    let source = match (source, kind.as_deref()) {
        (Some(SecretSource::File(p)), Some("env")) => {
            SecretSource::Env(p.to_string_lossy().into_owned())
        }
        (Some(s), _) => s,
        (None, Some("file")) => SecretSource::File(PathBuf::from(&id)),
        (None, _) => SecretSource::Env(id.clone()),
    };
    Ok(SecretSpec { id, source })
}

#[cfg(test)]
mod tests;
