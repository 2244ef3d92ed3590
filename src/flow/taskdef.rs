//! The task-definition pipeline shared by `taskdef`, `deploy`, `release` and `rehearse`: read a
//! source, clean it, check it, apply the changes (images, pinning, the log guarantee), check again;
//! then register it - or reuse an identical revision - creating the log groups it writes to.

use std::fmt;
use std::path::{Path, PathBuf};

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use super::Session;
use crate::aws::{self, Aws};
use crate::core::carry::{self, Carried, CarriedKind};
use crate::core::image_ref::ImageRef;
use crate::core::logs::{self, KeptDriver, LogGroup, LogSettings};
use crate::core::mask;
use crate::core::overrides::{self, Overrides, Targeted};
use crate::core::platform;
use crate::core::taskdef::{self, Change, CheckOptions, ImageSpec, TaskDef};
use crate::error::{Error, Result};

/// Where a task definition comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The revision a service runs now.
    Service { cluster: String, service: String },
    /// A family's latest ACTIVE revision, or `family:revision`.
    Family(String),
    /// A task definition ARN.
    Arn(String),
    /// A JSON file; `${NAME}` filled from the environment with `expand_env`.
    File { path: PathBuf, expand_env: bool },
}

impl Source {
    /// Whether reading it needs AWS.
    pub fn is_live(&self) -> bool {
        !matches!(self, Source::File { .. })
    }
}

/// What to change in the loaded document.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub images: Vec<ImageSpec>,
    /// Resolve each image's tag to its verified ECR digest.
    pub pin_digest: bool,
    pub log_group: Option<String>,
    pub log_region: Option<String>,
    /// Set awslogs-region to the region in use even where a container names another (one target
    /// of several: logs pointing at another region are a silent failure).
    pub pin_log_region: bool,
    pub log_stream_prefix: String,
    pub force_awslogs: bool,
    /// Refuse what the model lacks instead of carrying it.
    pub strict: bool,
    /// Refuse an image pinned by digest that the task definition's runtimePlatform cannot run.
    pub arch_check: bool,
    /// Per-environment overrides (environment, secrets, sizes, roles, tags).
    pub overrides: Overrides,
    /// Dotenv files whose variables are set before `overrides.env`.
    pub env_files: Vec<Targeted<PathBuf>>,
}

/// How to register.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegisterOptions {
    /// A new revision even when an identical one exists.
    pub force: bool,
    /// Render and diff only: register nothing, create nothing.
    pub dry_run: bool,
    pub log_retention_days: Option<i32>,
    pub create_log_groups: bool,
    /// Print secret-looking values in clear in the dry run's output.
    pub show_values: bool,
}

/// A source read and cleaned, before any change.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// How to name the source to a user: a path or an ARN.
    pub label: String,
    /// The ARN of the live revision it came from, if any.
    pub arn: Option<String>,
    pub document: TaskDef,
    /// The family's latest revision, read beside the source (`read_live_with_latest`) so the
    /// registration need not read it again: the family, and its latest (ARN, cleaned document).
    pub family_latest: Option<(String, Option<(String, TaskDef)>)>,
}

/// A task definition ready to register.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub source: Loaded,
    pub document: TaskDef,
    pub input: RegisterTaskDefinitionInput,
    /// What the model lacks, carried through into the request and proven kept.
    pub carried: Vec<Carried>,
    pub changes: Vec<Change>,
    pub kept_drivers: Vec<KeptDriver>,
}

impl Prepared {
    pub fn family(&self) -> &str {
        self.document
            .get("family")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

fn bad_document(label: &str, err: impl fmt::Display) -> Error {
    Error::input(format!("invalid task definition in {label}: {err}"))
}

/// No task definition file is larger than this; ECS itself takes at most 64 KiB.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads and cleans a task definition file.
pub fn read_file(path: &Path, expand_env: bool) -> Result<Loaded> {
    let label = format!("`{}`", path.display());
    let size = std::fs::metadata(path)
        .map_err(|e| Error::input_with(format!("cannot read task definition file {label}"), e))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(Error::input(format!(
            "task definition file {label} is {size} bytes: not a task definition (ECS takes at most 64 KiB)"
        )));
    }
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
        family_latest: None,
    })
}

/// Reads and cleans a live revision (family, family:revision or ARN).
pub async fn read_live(aws: &Aws, ident: &str) -> Result<Loaded> {
    let described = aws::ecs::describe_task_definition(aws, ident).await?;
    let mut document = described.document;
    taskdef::clean(&mut document);
    Ok(Loaded {
        label: format!("`{}`", described.arn),
        arn: Some(described.arn),
        document,
        family_latest: None,
    })
}

/// `read_live`, with the family's latest revision read at the same time (one round trip instead of
/// two on a deploy's path); a failure to read the latest only leaves it to be read later.
pub async fn read_live_with_latest(aws: &Aws, ident: &str) -> Result<Loaded> {
    let family = crate::core::prune::family_of(ident).to_owned();
    let (loaded, latest) = tokio::join!(
        read_live(aws, ident),
        aws::ecs::find_task_definition(aws, &family)
    );
    let mut loaded = loaded?;
    if let Ok(latest) = latest {
        let latest = latest.map(|l| {
            let mut document = l.document;
            taskdef::clean(&mut document);
            (l.arn, document)
        });
        loaded.family_latest = Some((family, latest));
    }
    Ok(loaded)
}

/// Reads `source`, loading AWS only for a live one.
pub async fn load(session: &Session, source: &Source) -> Result<Loaded> {
    let ident = match source {
        Source::File { path, expand_env } => return read_file(path, *expand_env),
        Source::Service { cluster, service } => {
            let svc = aws::ecs::describe_service(session.aws().await?, cluster, service).await?;
            info!("service `{service}` runs {}", svc.task_definition);
            svc.task_definition
        }
        Source::Family(family) => family.clone(),
        Source::Arn(arn) => arn.clone(),
    };
    read_live(session.aws().await?, &ident).await
}

/// A diff operand: a file when it exists on disk (or ends in .json); else an ARN, a family or
/// family:revision.
pub async fn load_operand(session: &Session, operand: &str) -> Result<Loaded> {
    if Path::new(operand).is_file() || operand.ends_with(".json") {
        return read_file(Path::new(operand), false);
    }
    read_live(session.aws().await?, operand).await
}

/// Reads `source` and applies `changes`: the register-ready document, checked twice.
pub async fn prepare(session: &Session, source: &Source, changes: &Changes) -> Result<Prepared> {
    let loaded = load(session, source).await?;
    prepare_loaded(session, loaded, changes).await
}

/// The variables of each `--env-from-file`, in order, for the containers they name.
fn env_files(files: &[Targeted<PathBuf>]) -> Result<Vec<Targeted<(String, String)>>> {
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file.value).map_err(|e| {
            Error::input_with(
                format!("cannot read --env-from-file `{}`", file.value.display()),
                e,
            )
        })?;
        let pairs = overrides::parse_dotenv(&text).map_err(|e| {
            Error::input_with(
                format!("--env-from-file `{}`: {e}", file.value.display()),
                e,
            )
        })?;
        out.extend(pairs.into_iter().map(|value| Targeted {
            container: file.container.clone(),
            value,
        }));
    }
    Ok(out)
}

/// One warning per member the model lacks that is passed through.
fn warn_carried(carried: &[Carried]) {
    for c in carried {
        match c.kind {
            CarriedKind::Key => warn!(
                "`{}` is not in this ecs-ship's ECS model ({}): passed through, and checked against what ECS keeps",
                c.path,
                carry::MODEL
            ),
            CarriedKind::EnumValue => warn!(
                "value {} at `{}` is not in this ecs-ship's ECS model ({}): passed through, and checked against what ECS keeps",
                c.value,
                c.path,
                carry::MODEL
            ),
        }
    }
}

/// Applies `changes` to a document already loaded.
pub async fn prepare_loaded(
    session: &Session,
    loaded: Loaded,
    changes: &Changes,
) -> Result<Prepared> {
    let label = loaded.label.clone();
    let mut document = loaded.document.clone();
    let dropped = taskdef::drop_empty_enums(&mut document);
    if changes.strict
        && let Some(path) = dropped.first()
    {
        let e = taskdef::TaskdefError::EmptyEnum {
            path: path.to_string(),
        };
        return Err(bad_document(&label, e));
    }
    let options = |require_images| CheckOptions {
        strict: changes.strict,
        require_images,
    };
    // Images may be missing until --image fills them in (the render-task-definition template form).
    taskdef::check_with(&document, options(false)).map_err(|e| bad_document(&label, e))?;

    let mut specs = changes.images.clone();
    if changes.pin_digest {
        let aws = session.aws().await?;
        for spec in &mut specs {
            spec.image = pin(aws, &spec.image).await?;
        }
    }
    if changes.arch_check
        && let Some(runs) = platform::task_platform(&document)
    {
        let family = document
            .get("family")
            .and_then(Value::as_str)
            .unwrap_or("the task definition");
        for spec in &specs {
            guard_architecture(session, &spec.image, family, &runs).await?;
        }
    }
    let mut all_changes: Vec<Change> = dropped.iter().map(taskdef::dropped_empty).collect();
    all_changes.extend(
        taskdef::swap_images(&mut document, &specs)
            .map_err(|e| Error::input(format!("cannot apply --image to {label}: {e}")))?,
    );
    if !changes.overrides.is_empty() || !changes.env_files.is_empty() {
        let mut overrides = changes.overrides.clone();
        let mut from_files = env_files(&changes.env_files)?;
        from_files.append(&mut overrides.env);
        overrides.env = from_files;
        all_changes.extend(
            overrides::apply(&mut document, &overrides, session.show_values)
                .map_err(|e| Error::input(format!("cannot apply the overrides to {label}: {e}")))?,
        );
    }
    let settings = LogSettings {
        group: changes.log_group.clone(),
        region: changes
            .log_region
            .clone()
            .or_else(|| session.known_region()),
        stream_prefix: changes.log_stream_prefix.clone(),
        force_awslogs: changes.force_awslogs,
        pin_region: changes.pin_log_region,
    };
    let (log_changes, kept_drivers) = logs::guarantee_awslogs(&mut document, &settings)
        .map_err(|e| Error::input_with(e.to_string(), e))?;
    all_changes.extend(log_changes);
    let checked =
        taskdef::check_with(&document, options(true)).map_err(|e| bad_document(&label, e))?;
    taskdef::check_size(&checked).map_err(|e| bad_document(&label, e))?;
    warn_carried(&checked.carried);

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
        input: checked.input,
        carried: checked.carried,
        changes: all_changes,
        kept_drivers,
    })
}

/// The architecture guard: an image pinned by digest whose platforms the task definition cannot
/// run is refused (exit 2) before anything is registered; ECS would start its tasks only to see
/// them die with `exec format error`. An image whose platforms cannot be read is let through,
/// saying why.
async fn guard_architecture(
    session: &Session,
    image: &ImageRef,
    family: &str,
    runs: &platform::Runs,
) -> Result<()> {
    if image.digest.is_none() {
        return Ok(());
    }
    let platforms = match super::image::image_platforms(session, image).await {
        Ok(p) => p,
        Err(e) => {
            warn!(
                "cannot read the platform of {image} ({}): not checked against {family}'s {}",
                e.chain(),
                runs.said
            );
            return Ok(());
        }
    };
    platform::check(&image.to_string(), &platforms, family, runs)
        .map_err(|e| Error::input_with(e.to_string(), e))?;
    tracing::debug!(
        "{image} runs on {} ({family} runs {})",
        runs.platform,
        runs.said
    );
    Ok(())
}

/// `image` pinned to its verified ECR digest (unchanged when it already carries one).
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

/// What `register` did, or would do with a dry run.
#[derive(Debug, Clone, Serialize)]
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

/// What happened to one awslogs group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogGroupOutcome {
    Created,
    Existed,
    /// Creation turned off (`--no-create-log-group`).
    Skipped,
    /// A dry run: created at registration if it is missing then.
    WouldCreateIfMissing,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogGroupResult {
    #[serde(flatten)]
    pub group: LogGroup,
    pub outcome: LogGroupOutcome,
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
    // The family's latest, as read beside the source when it was (same family), else now; a
    // family that does not exist yet has no identical revision.
    let latest = match &prepared.source.family_latest {
        Some((family, latest)) if family == prepared.family() => latest.clone(),
        _ => aws::ecs::find_task_definition(aws, prepared.family())
            .await?
            .map(|l| {
                let mut document = l.document;
                taskdef::clean(&mut document);
                (l.arn, document)
            }),
    };
    let Some((arn, document)) = latest else {
        return Ok(None);
    };
    Ok(taskdef::equivalent(&document, &prepared.document).then_some(arn))
}

/// The awslogs groups a run has already made sure of, so the task definitions of several services
/// that share a group make one CreateLogGroup call for it, not one each.
#[derive(Debug, Default)]
pub struct EnsuredGroups(std::sync::Mutex<Vec<(LogGroup, LogGroupOutcome)>>);

impl EnsuredGroups {
    fn get(&self, group: &LogGroup) -> Option<LogGroupOutcome> {
        let seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter().find(|(g, _)| g == group).map(|(_, o)| *o)
    }

    fn put(&self, group: &LogGroup, outcome: LogGroupOutcome) {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.push((group.clone(), outcome));
    }
}

/// Creates the log groups and registers (or reuses an identical revision); prints nothing.
pub async fn register(
    aws: &Aws,
    prepared: Prepared,
    options: &RegisterOptions,
) -> Result<RegisterResult> {
    register_with(aws, prepared, options, &EnsuredGroups::default()).await
}

/// `register`, skipping the log groups `ensured` already holds (and adding the ones it makes).
pub async fn register_with(
    aws: &Aws,
    prepared: Prepared,
    options: &RegisterOptions,
    ensured: &EnsuredGroups,
) -> Result<RegisterResult> {
    let groups = logs::awslogs_groups(&prepared.document, aws.region());
    let mut result = RegisterResult {
        arn: None,
        family: prepared.family().to_owned(),
        revision: None,
        reused: false,
        dry_run: options.dry_run,
        changes: prepared.changes.clone(),
        kept_log_drivers: prepared.kept_drivers.clone(),
        log_groups: Vec::new(),
        task_definition: None,
        diff: None,
    };
    if options.dry_run {
        return rendered(aws, prepared, options, groups, result).await;
    }
    // The log groups only need to exist before a task starts, so they are made while the
    // revision is looked up and registered: one round trip less on the deploy's path.
    let (groups, registered) = tokio::join!(
        ensure_groups(aws, groups, options, ensured),
        register_or_reuse(aws, prepared, options),
    );
    let (arn, registered) = registered?;
    result.log_groups = groups?;
    match registered {
        Some(r) => {
            result.revision = Some(r.revision);
            result.family = r.family;
        }
        None => {
            result.reused = true;
            result.revision = revision_of(&arn);
        }
    }
    result.arn = Some(arn);
    Ok(result)
}

/// A dry run: the rendered document and its diff, the revision that would be reused; nothing is
/// registered or created.
async fn rendered(
    aws: &Aws,
    prepared: Prepared,
    options: &RegisterOptions,
    groups: Vec<LogGroup>,
    mut result: RegisterResult,
) -> Result<RegisterResult> {
    let reuse = if options.force {
        None
    } else {
        identical_revision(aws, &prepared).await?
    };
    result.revision = reuse.as_deref().and_then(revision_of);
    result.reused = reuse.is_some();
    result.arn = reuse.clone();
    let compared = compare(
        &prepared.source.label,
        &prepared.source.document,
        "rendered",
        &prepared.document,
        options.show_values,
    );
    result.diff = Some(compared.diff);
    result.task_definition = Some(if options.show_values {
        prepared.document
    } else {
        mask::masked(&prepared.document)
    });
    let outcome = if options.create_log_groups {
        LogGroupOutcome::WouldCreateIfMissing
    } else {
        LogGroupOutcome::Skipped
    };
    result.log_groups = groups
        .into_iter()
        .map(|group| LogGroupResult { group, outcome })
        .collect();
    match &reuse {
        Some(arn) => info!("dry run: identical to {arn}, which would be reused"),
        None => info!("dry run: nothing registered"),
    }
    Ok(result)
}

/// Each awslogs group created unless it exists (or `ensured` has it, or creation is off).
async fn ensure_groups(
    aws: &Aws,
    groups: Vec<LogGroup>,
    options: &RegisterOptions,
    ensured: &EnsuredGroups,
) -> Result<Vec<LogGroupResult>> {
    let mut done = Vec::new();
    for group in groups {
        let outcome = match ensured.get(&group) {
            Some(outcome) => outcome,
            None if !options.create_log_groups => LogGroupOutcome::Skipped,
            None => {
                let outcome =
                    match aws::logs::ensure_group(aws, &group, options.log_retention_days).await? {
                        aws::logs::GroupOutcome::Created => {
                            info!("created log group {} in {}", group.name, group.region);
                            LogGroupOutcome::Created
                        }
                        aws::logs::GroupOutcome::Existed => LogGroupOutcome::Existed,
                    };
                ensured.put(&group, outcome);
                outcome
            }
        };
        done.push(LogGroupResult { group, outcome });
    }
    Ok(done)
}

/// The identical revision (unless `force`), else a new one: its ARN, and the registration if one
/// was made.
async fn register_or_reuse(
    aws: &Aws,
    prepared: Prepared,
    options: &RegisterOptions,
) -> Result<(String, Option<aws::ecs::Registered>)> {
    let reuse = if options.force {
        None
    } else {
        identical_revision(aws, &prepared).await?
    };
    if let Some(arn) = reuse {
        info!("identical to {arn}: reusing it (--force registers a new revision)");
        return Ok((arn, None));
    }
    let registered =
        aws::ecs::register_task_definition(aws, prepared.input, &prepared.carried).await?;
    info!("registered {}", registered.arn);
    Ok((registered.arn.clone(), Some(registered)))
}

fn revision_of(arn: &str) -> Option<i32> {
    arn.rsplit_once(':').and_then(|(_, rev)| rev.parse().ok())
}

/// `taskdef render`: the document with the changes applied, written to `out` when given.
#[derive(Debug, Serialize)]
pub struct Rendered {
    pub task_definition: TaskDef,
    pub changes: Vec<Change>,
    pub kept_log_drivers: Vec<KeptDriver>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out: Option<PathBuf>,
    /// The rendered text, as registered and as `--out` holds it.
    #[serde(skip)]
    pub text: String,
}

/// As text the rendered document itself - unless it went to `--out`.
impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.out {
            Some(_) => Ok(()),
            None => f.write_str(&self.text),
        }
    }
}

impl crate::output::Report for Rendered {}

/// Prepares `source` with `changes` and renders it, written atomically to `out` when given.
pub async fn render_to(
    session: &Session,
    source: &Source,
    changes: &Changes,
    out: Option<&Path>,
) -> Result<Rendered> {
    let prepared = prepare(session, source, changes).await?;
    let text = taskdef::render(&prepared.document);
    if let Some(path) = out {
        crate::fsutil::write_atomic(path, text.as_bytes())?;
        info!("wrote {}", path.display());
    }
    Ok(Rendered {
        task_definition: prepared.document,
        changes: prepared.changes,
        kept_log_drivers: prepared.kept_drivers,
        out: out.map(Path::to_path_buf),
        text,
    })
}

/// The result of comparing two task definitions.
#[derive(Debug, Serialize)]
pub struct DiffResult {
    pub a: String,
    pub b: String,
    pub identical: bool,
    pub diff: String,
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

/// A unified diff of two documents, read-only fields already cleaned away; secret-looking values
/// hidden unless `show_values`.
pub fn compare(
    a_label: &str,
    a: &TaskDef,
    b_label: &str,
    b: &TaskDef,
    show_values: bool,
) -> DiffResult {
    let shown = |td: &TaskDef| {
        if show_values {
            taskdef::render(td)
        } else {
            taskdef::render(&mask::masked(td))
        }
    };
    let diff = taskdef::diff(a_label, &shown(a), b_label, &shown(b));
    DiffResult {
        a: a_label.to_owned(),
        b: b_label.to_owned(),
        identical: diff.is_empty(),
        diff,
    }
}

impl crate::output::Report for RegisterResult {
    fn outputs(&self) -> Vec<(&'static str, String)> {
        self.arn
            .iter()
            .map(|arn| ("task-definition-arn", arn.clone()))
            .collect()
    }
}

impl crate::output::Report for DiffResult {}
