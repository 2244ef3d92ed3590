//! `ecs-ship taskdef render|register|diff`: a task definition from the service's running revision,
//! a family, an ARN or a file; cleaned, image swapped and pinned, logs guaranteed, nothing lost.

use std::fmt;
use std::path::{Path, PathBuf};

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use clap::{ArgGroup, Args, Subcommand};
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use crate::aws::{self, Aws};
use crate::cli::GlobalArgs;
use crate::core::image_ref::ImageRef;
use crate::core::logs::{self, KeptDriver, LogGroup, LogSettings};
use crate::core::taskdef::{self, Change, ImageSpec, TaskDef};
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::output::{Output, to_json_pretty};

#[derive(Debug, Subcommand)]
pub enum TaskdefCommand {
    /// Print the register-ready JSON (keys sorted, two-space indent). Offline for --file sources.
    Render(RenderArgs),
    /// Register the cleaned, changed task definition and print the new revision's ARN.
    Register(RegisterArgs),
    /// Unified diff of two task definitions (files, ARNs or family:revision), read-only fields ignored.
    Diff(DiffArgs),
}

/// Where the task definition comes from: exactly one of these.
#[derive(Debug, Clone, Args)]
#[group(skip)]
pub struct SourceArgs {
    /// The cluster of --service.
    #[arg(long, env = "ECS_SHIP_CLUSTER", requires = "service")]
    pub cluster: Option<String>,

    /// Start from the revision this service runs now (with --cluster).
    #[arg(long, env = "ECS_SHIP_SERVICE", requires = "cluster", group = "source")]
    pub service: Option<String>,

    /// Start from a family's latest ACTIVE revision, or FAMILY:REVISION.
    #[arg(long, value_name = "FAMILY[:REV]", group = "source")]
    pub family: Option<String>,

    /// Start from this task definition ARN.
    #[arg(long, value_name = "ARN", group = "source")]
    pub task_definition: Option<String>,

    /// Start from a JSON file: describe-task-definition output or register-task-definition input.
    #[arg(long, value_name = "PATH", group = "source")]
    pub file: Option<PathBuf>,

    /// Fill `${NAME}` placeholders in the file's string values from the environment.
    #[arg(long, requires = "file")]
    pub expand_env: bool,
}

/// What to change.
#[derive(Debug, Clone, Args)]
pub struct ChangeArgs {
    /// New image for a container: NAME=IMAGE (repeatable), or IMAGE when there is one container.
    #[arg(long = "image", value_name = "[NAME=]IMAGE")]
    pub images: Vec<ImageSpec>,

    /// Resolve each --image tag to its digest in ECR (verified against the manifest bytes) and write `repo@sha256:...`.
    #[arg(long)]
    pub pin_digest: bool,

    /// awslogs-group for containers that lack one [default: /ecs/<family>].
    #[arg(long, value_name = "NAME")]
    pub log_group: Option<String>,

    /// awslogs-region for containers that lack one [default: the region in use].
    #[arg(long, value_name = "REGION")]
    pub log_region: Option<String>,

    /// awslogs-stream-prefix for containers that lack one.
    #[arg(long, value_name = "PREFIX", default_value = "ecs")]
    pub log_stream_prefix: String,

    /// Replace other log drivers (awsfirelens, splunk, ...) with awslogs instead of keeping them.
    #[arg(long)]
    pub force_awslogs: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).multiple(false)))]
pub struct RenderArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub changes: ChangeArgs,
    /// Write the JSON to this file (atomically) instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

/// Retention periods CloudWatch Logs accepts.
const RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

fn parse_retention(s: &str) -> std::result::Result<i32, String> {
    let days: i32 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of days"))?;
    if RETENTION_DAYS.contains(&days) {
        Ok(days)
    } else {
        Err(format!("CloudWatch Logs accepts one of {RETENTION_DAYS:?}"))
    }
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).multiple(false)))]
pub struct RegisterArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub changes: ChangeArgs,
    #[command(flatten)]
    pub options: RegisterOptions,
}

/// How to register: shared by `taskdef register` and `deploy`.
#[derive(Debug, Clone, Args)]
pub struct RegisterOptions {
    /// Register a new revision even when the result is identical to the source revision.
    #[arg(long)]
    pub force: bool,
    /// Print the rendered JSON and a diff against the source; register nothing, create nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Retention for a log group this command creates.
    #[arg(long, value_name = "DAYS", value_parser = parse_retention)]
    pub log_retention_days: Option<i32>,
    /// Do not create missing awslogs groups.
    #[arg(long)]
    pub no_create_log_group: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// A file, an ARN, a family or family:revision.
    pub a: String,
    /// A file, an ARN, a family or family:revision.
    pub b: String,
}

pub async fn run(global: &GlobalArgs, cmd: TaskdefCommand, out: Output) -> Result<()> {
    match cmd {
        TaskdefCommand::Render(args) => render(global, &args, out).await,
        TaskdefCommand::Register(args) => register(global, &args, out).await.map(|_| ()),
        TaskdefCommand::Diff(args) => diff(global, &args, out).await,
    }
}

// ---------------------------------------------------------------------------------------------
// The shared pipeline: read, clean, check, change, check again.

/// A source read and cleaned, before any change.
pub struct Loaded {
    /// How to name the source to a user: a path or an ARN.
    pub label: String,
    /// The ARN of the live revision it came from, if any.
    pub arn: Option<String>,
    pub document: TaskDef,
}

/// A task definition ready to register.
pub struct Prepared {
    pub source: Loaded,
    pub document: TaskDef,
    pub input: RegisterTaskDefinitionInput,
    pub changes: Vec<Change>,
    pub kept_drivers: Vec<KeptDriver>,
}

impl SourceArgs {
    fn is_live(&self) -> bool {
        self.file.is_none()
    }
}

/// Loads AWS only when the work needs it, so `render --file` works offline.
async fn aws_if(needed: bool, global: &GlobalArgs) -> Result<Option<Aws>> {
    if needed {
        Aws::load(global).await.map(Some)
    } else {
        Ok(None)
    }
}

fn bad_document(label: &str, err: impl std::error::Error + Send + Sync + 'static) -> Error {
    let message = format!("invalid task definition in {label}: {err}");
    Error::Input {
        message,
        source: None,
    }
}

pub fn read_file(path: &Path, expand_env: bool) -> Result<Loaded> {
    let label = format!("`{}`", path.display());
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::input_with(format!("cannot read task definition file {label}"), e))?;
    let mut document = taskdef::parse(&text).map_err(|e| bad_document(&label, e))?;
    if expand_env {
        taskdef::expand_env(&mut document, &|name| std::env::var(name).ok())
            .map_err(|e| bad_document(&label, e))?;
    }
    taskdef::clean(&mut document);
    Ok(Loaded {
        label,
        arn: None,
        document,
    })
}

async fn read_live(aws: &Aws, ident: &str) -> Result<Loaded> {
    let described = aws::ecs::describe_task_definition(aws, ident).await?;
    let mut document = described.document;
    taskdef::clean(&mut document);
    Ok(Loaded {
        label: format!("`{}`", described.arn),
        arn: Some(described.arn),
        document,
    })
}

pub async fn load(source: &SourceArgs, aws: Option<&Aws>) -> Result<Loaded> {
    if let Some(path) = &source.file {
        return read_file(path, source.expand_env);
    }
    let aws = aws.ok_or_else(|| {
        Error::internal_with(
            "AWS was not loaded for a live source",
            crate::error::Cause("bug".into()),
        )
    })?;
    let ident = match (
        &source.cluster,
        &source.service,
        &source.family,
        &source.task_definition,
    ) {
        (Some(cluster), Some(service), _, _) => {
            let svc = aws::ecs::describe_service(aws, cluster, service).await?;
            info!("service `{service}` runs {}", svc.task_definition);
            svc.task_definition
        }
        (_, _, Some(family), _) => family.clone(),
        (_, _, _, Some(arn)) => arn.clone(),
        _ => {
            return Err(Error::input(
                "no task definition source: pass one of --service, --family, --task-definition, --file",
            ));
        }
    };
    read_live(aws, &ident).await
}

pub async fn prepare(
    global: &GlobalArgs,
    source: &SourceArgs,
    changes: &ChangeArgs,
    aws: Option<&Aws>,
) -> Result<Prepared> {
    let loaded = load(source, aws).await?;
    let label = loaded.label.clone();
    taskdef::check(&loaded.document).map_err(|e| bad_document(&label, e))?;
    let mut document = loaded.document.clone();

    let mut specs = changes.images.clone();
    if changes.pin_digest {
        let aws = aws.ok_or_else(|| {
            Error::internal_with(
                "AWS was not loaded for --pin-digest",
                crate::error::Cause("bug".into()),
            )
        })?;
        for spec in &mut specs {
            spec.image = pin(aws, &spec.image).await?;
        }
    }
    let mut all_changes = taskdef::swap_images(&mut document, &specs)
        .map_err(|e| Error::input(format!("cannot apply --image to {label}: {e}")))?;
    let settings = LogSettings {
        group: changes.log_group.clone(),
        region: changes
            .log_region
            .clone()
            .or_else(|| aws.map(|a| a.region().to_owned()))
            .or_else(|| global.region.clone()),
        stream_prefix: changes.log_stream_prefix.clone(),
        force_awslogs: changes.force_awslogs,
    };
    let (log_changes, kept_drivers) = logs::guarantee_awslogs(&mut document, &settings)
        .map_err(|e| Error::input(e.to_string()))?;
    all_changes.extend(log_changes);
    let input = taskdef::check(&document).map_err(|e| bad_document(&label, e))?;

    for change in &all_changes {
        info!("change: {change}");
    }
    for kept in &kept_drivers {
        warn!(
            "container `{}` logs through `{}`: kept as it is (--force-awslogs replaces it with awslogs)",
            kept.container, kept.log_driver
        );
    }
    Ok(Prepared {
        source: loaded,
        document,
        input,
        changes: all_changes,
        kept_drivers,
    })
}

async fn pin(aws: &Aws, image: &ImageRef) -> Result<ImageRef> {
    if let Some(digest) = &image.digest {
        return Ok(image.pinned(digest));
    }
    let repo = image.ecr().ok_or_else(|| {
        Error::input(format!(
            "--pin-digest resolves tags through ECR, and `{image}` is not an ECR image (<account>.dkr.ecr.<region>.amazonaws.com/<repo>): give it as repo@sha256:..."
        ))
    })?;
    let tag = image.tag.as_deref().unwrap_or("latest");
    let digest = aws::ecr::verified_digest(aws, &repo, tag).await?;
    info!("{}:{tag} is {digest}", image.name);
    Ok(image.pinned(&digest))
}

fn needs_aws(source: &SourceArgs, changes: &ChangeArgs) -> bool {
    source.is_live() || changes.pin_digest
}

// ---------------------------------------------------------------------------------------------
// render

#[derive(Serialize)]
struct Rendered<'a> {
    task_definition: &'a TaskDef,
    changes: &'a [Change],
    kept_log_drivers: &'a [KeptDriver],
    #[serde(skip_serializing_if = "Option::is_none")]
    out: Option<&'a Path>,
}

async fn render(global: &GlobalArgs, args: &RenderArgs, out: Output) -> Result<()> {
    let aws = aws_if(needs_aws(&args.source, &args.changes), global).await?;
    let prepared = prepare(global, &args.source, &args.changes, aws.as_ref()).await?;
    let text = taskdef::render(&prepared.document);
    if let Some(path) = &args.out {
        write_atomic(path, text.as_bytes())?;
        info!("wrote {}", path.display());
    }
    match (out.is_json(), &args.out) {
        (false, None) => {
            print!("{text}");
            Ok(())
        }
        (false, Some(_)) => Ok(()),
        (true, path) => {
            let rendered = Rendered {
                task_definition: &prepared.document,
                changes: &prepared.changes,
                kept_log_drivers: &prepared.kept_drivers,
                out: path.as_deref(),
            };
            println!("{}", to_json_pretty(&rendered)?);
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// register

/// What `register` did, or would do with --dry-run.
#[derive(Debug, Serialize)]
pub struct RegisterResult {
    pub arn: Option<String>,
    pub family: String,
    pub revision: Option<i32>,
    /// True when an identical revision already existed and was reused.
    pub reused: bool,
    pub dry_run: bool,
    pub changes: Vec<Change>,
    pub kept_log_drivers: Vec<KeptDriver>,
    pub log_groups: Vec<LogGroupResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<TaskDef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LogGroupResult {
    #[serde(flatten)]
    pub group: LogGroup,
    /// created, existed, skipped, or would_create_if_missing (--dry-run)
    pub outcome: &'static str,
}

impl fmt::Display for RegisterResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.task_definition, &self.diff) {
            (Some(td), diff) => {
                write!(f, "{}", taskdef::render(td))?;
                match diff.as_deref() {
                    Some("") | None => write!(f, "# no changes against the source"),
                    Some(d) => write!(f, "{}", d.trim_end()),
                }
            }
            _ => write!(f, "{}", self.arn.as_deref().unwrap_or_default()),
        }
    }
}

/// The identical existing revision, if any: the source revision, else the family's latest.
async fn identical_revision(aws: &Aws, prepared: &Prepared) -> Result<Option<String>> {
    if let Some(arn) = &prepared.source.arn
        && taskdef::equivalent(&prepared.source.document, &prepared.document)
    {
        return Ok(Some(arn.clone()));
    }
    let family = prepared
        .document
        .get("family")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // A family that does not exist yet has no identical revision.
    let Some(latest) = aws::ecs::find_task_definition(aws, family).await? else {
        return Ok(None);
    };
    let mut latest_doc = latest.document;
    taskdef::clean(&mut latest_doc);
    Ok(taskdef::equivalent(&latest_doc, &prepared.document).then_some(latest.arn))
}

async fn register(global: &GlobalArgs, args: &RegisterArgs, out: Output) -> Result<RegisterResult> {
    let aws = Aws::load(global).await?;
    let prepared = prepare(global, &args.source, &args.changes, Some(&aws)).await?;
    let result = register_prepared(&aws, prepared, &args.options).await?;
    out.result(&result)?;
    Ok(result)
}

/// Creates the log groups and registers (or reuses an identical revision); prints nothing.
pub async fn register_prepared(
    aws: &Aws,
    prepared: Prepared,
    args: &RegisterOptions,
) -> Result<RegisterResult> {
    let family = prepared
        .document
        .get("family")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let groups = logs::awslogs_groups(&prepared.document, aws.region());
    let reuse = if args.force {
        None
    } else {
        identical_revision(aws, &prepared).await?
    };

    let mut result = RegisterResult {
        arn: reuse.clone(),
        family,
        revision: reuse.as_deref().and_then(revision_of),
        reused: reuse.is_some(),
        dry_run: args.dry_run,
        changes: prepared.changes.clone(),
        kept_log_drivers: prepared.kept_drivers.clone(),
        log_groups: Vec::new(),
        task_definition: None,
        diff: None,
    };

    if args.dry_run {
        let source_text = taskdef::render(&prepared.source.document);
        let new_text = taskdef::render(&prepared.document);
        result.diff = Some(taskdef::diff(
            &prepared.source.label,
            &source_text,
            "rendered",
            &new_text,
        ));
        result.task_definition = Some(prepared.document);
        let outcome = if args.no_create_log_group {
            "skipped"
        } else {
            "would_create_if_missing"
        };
        result.log_groups = groups
            .into_iter()
            .map(|group| LogGroupResult { group, outcome })
            .collect();
        match &reuse {
            Some(arn) => info!("dry run: identical to {arn}, which would be reused"),
            None => info!("dry run: nothing registered"),
        }
        return Ok(result);
    }

    for group in groups {
        let outcome = if args.no_create_log_group {
            "skipped"
        } else {
            match aws::logs::ensure_group(aws, &group, args.log_retention_days).await? {
                aws::logs::GroupOutcome::Created => {
                    info!("created log group {} in {}", group.name, group.region);
                    "created"
                }
                aws::logs::GroupOutcome::Existed => "existed",
            }
        };
        result.log_groups.push(LogGroupResult { group, outcome });
    }

    if let Some(arn) = &reuse {
        info!("identical to {arn}: reusing it (--force registers a new revision)");
    } else {
        let registered = aws::ecs::register_task_definition(aws, prepared.input).await?;
        info!("registered {}", registered.arn);
        result.arn = Some(registered.arn);
        result.revision = Some(registered.revision);
        result.family = registered.family;
    }
    Ok(result)
}

fn revision_of(arn: &str) -> Option<i32> {
    arn.rsplit_once(':').and_then(|(_, rev)| rev.parse().ok())
}

// ---------------------------------------------------------------------------------------------
// diff

#[derive(Serialize)]
struct DiffResult {
    a: String,
    b: String,
    identical: bool,
    diff: String,
}

impl fmt::Display for DiffResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.identical {
            write!(
                f,
                "# {} and {} are identical (read-only fields ignored)",
                self.a, self.b
            )
        } else {
            write!(f, "{}", self.diff.trim_end())
        }
    }
}

/// A diff operand is a file when it exists on disk; otherwise an ARN, family or family:revision.
async fn load_operand(operand: &str, aws: &mut Option<Aws>, global: &GlobalArgs) -> Result<Loaded> {
    if Path::new(operand).is_file() || operand.ends_with(".json") {
        return read_file(Path::new(operand), false);
    }
    if aws.is_none() {
        *aws = Some(Aws::load(global).await?);
    }
    read_live(aws.as_ref().expect("loaded above"), operand).await
}

async fn diff(global: &GlobalArgs, args: &DiffArgs, out: Output) -> Result<()> {
    let mut aws = None;
    let a = load_operand(&args.a, &mut aws, global).await?;
    let b = load_operand(&args.b, &mut aws, global).await?;
    let (a_text, b_text) = (taskdef::render(&a.document), taskdef::render(&b.document));
    let diff = taskdef::diff(&args.a, &a_text, &args.b, &b_text);
    out.result(&DiffResult {
        a: args.a.clone(),
        b: args.b.clone(),
        identical: diff.is_empty(),
        diff,
    })
}
