//! Groups of flags that several subcommands take, and their conversion into the plain option types
//! the flows consume (`flow::*`): no flow, no lower layer ever sees a clap struct.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::core::deployment::WaitUntil;
use crate::core::overrides::{self, Overrides, Targeted};
use crate::core::release::DryRun;
use crate::core::rollout::RollbackScope;
use crate::core::taskdef::ImageSpec;
use crate::flow::deploy::{AfterDeploy, CodeDeployOptions, DeployPlan, ServiceTarget};
use crate::flow::image::{BuildRequest, Builder, PushRequest};
use crate::flow::rollout::WaitSettings;
use crate::flow::taskdef::{Changes, RegisterOptions, Source};
use crate::flow::verify::VerifySettings;
use crate::state;

/// Where the task definition comes from: exactly one of these (the command's `source` group).
#[derive(Debug, Clone, Args)]
#[group(skip)]
pub struct SourceArgs {
    /// The cluster of --service.
    #[arg(long, env = "ECS_SHIP_CLUSTER", requires = "service", value_parser = non_empty)]
    pub cluster: Option<String>,

    /// Start from the revision this service runs now (with --cluster).
    #[arg(long, env = "ECS_SHIP_SERVICE", requires = "cluster", group = "source", value_parser = non_empty)]
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

impl SourceArgs {
    /// The one source clap let through (the `source` group is required).
    pub fn source(&self) -> Source {
        match (
            &self.cluster,
            &self.service,
            &self.family,
            &self.task_definition,
            &self.file,
        ) {
            (_, _, _, _, Some(path)) => Source::File {
                path: path.clone(),
                expand_env: self.expand_env,
            },
            (_, _, Some(family), _, _) => Source::Family(family.clone()),
            (_, _, _, Some(arn), _) => Source::Arn(arn.clone()),
            (Some(cluster), Some(service), _, _, _) => Source::Service {
                cluster: cluster.clone(),
                service: service.clone(),
            },
            // clap's required `source` group with `requires = "cluster"` rules this out.
            _ => unreachable!("clap requires exactly one task definition source"),
        }
    }
}

/// A deploy's optional other starting point (the default is the service's running revision).
#[derive(Debug, Clone, Args)]
#[group(skip)]
pub struct OverrideSourceArgs {
    /// Start from a family's latest revision (or FAMILY:REV) instead of the service's.
    #[arg(long, value_name = "FAMILY[:REV]", group = "override")]
    pub family: Option<String>,

    /// Start from this task definition ARN; with no changes, deploy exactly it.
    #[arg(long, value_name = "ARN", group = "override")]
    pub task_definition: Option<String>,

    /// Start from a JSON file instead of the service's revision.
    #[arg(long = "file", value_name = "PATH", group = "override")]
    pub taskdef_file: Option<PathBuf>,

    /// Fill `${NAME}` placeholders in the file from the environment.
    #[arg(long, requires = "taskdef_file")]
    pub expand_env: bool,
}

impl OverrideSourceArgs {
    /// The source a deploy of `service` in `cluster` starts from.
    pub fn source(&self, cluster: &str, service: &str) -> Source {
        if let Some(path) = &self.taskdef_file {
            Source::File {
                path: path.clone(),
                expand_env: self.expand_env,
            }
        } else if let Some(family) = &self.family {
            Source::Family(family.clone())
        } else if let Some(arn) = &self.task_definition {
            Source::Arn(arn.clone())
        } else {
            Source::Service {
                cluster: cluster.to_owned(),
                service: service.to_owned(),
            }
        }
    }
}

/// How the task definition is checked, and what the log guarantee fills in.
#[derive(Debug, Clone, Args)]
pub struct TaskdefArgs {
    /// Refuse every field and enum value this ecs-ship's ECS model lacks, instead of carrying
    /// through (and proving kept) the ones that are not near misses of a known one.
    #[arg(long)]
    pub strict: bool,

    /// Skip the architecture guard (which refuses, before registering, an image pinned by digest
    /// whose os/architecture the task definition's runtimePlatform cannot run).
    #[arg(long)]
    pub no_arch_check: bool,

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

/// What to change: images, then the log guarantee.
#[derive(Debug, Clone, Args)]
pub struct ChangeArgs {
    /// New image for a container: NAME=IMAGE (repeatable), or IMAGE when there is one container.
    #[arg(long = "image", value_name = "[NAME=]IMAGE")]
    pub images: Vec<ImageSpec>,

    /// Resolve each --image tag to its digest in ECR (verified against the manifest bytes) and write `repo@sha256:...`.
    #[arg(long)]
    pub pin_digest: bool,

    #[command(flatten)]
    pub logs: TaskdefArgs,

    #[command(flatten)]
    pub overrides: OverrideArgs,

    /// A task definition tag KEY=VALUE (repeatable; same as --taskdef-tag).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub tag: Vec<(String, String)>,
}

/// `--cpu` / `--memory`: the task's size, or a container's with `CONTAINER:N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SizeFlag {
    Task(String),
    Container(String, i64),
}

fn parse_size(s: &str, unit: &str) -> std::result::Result<SizeFlag, String> {
    if let Some((container, n)) = s.split_once(':') {
        let n: i64 =
            n.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                format!("`{s}`: expected CONTAINER:N with N a positive whole number")
            })?;
        if container.is_empty() {
            return Err(format!("`{s}`: expected CONTAINER:N"));
        }
        return Ok(SizeFlag::Container(container.to_owned(), n));
    }
    overrides::parse_task_size(s, unit).map(SizeFlag::Task)
}

fn parse_cpu(s: &str) -> std::result::Result<SizeFlag, String> {
    parse_size(s, "vCPU")
}

fn parse_memory(s: &str) -> std::result::Result<SizeFlag, String> {
    parse_size(s, "GB")
}

fn parse_env_file(s: &str) -> std::result::Result<Targeted<PathBuf>, String> {
    match s.split_once(':') {
        Some((c, p)) if !c.is_empty() && !p.is_empty() && !c.contains('/') => Ok(Targeted {
            container: Some(c.to_owned()),
            value: PathBuf::from(p),
        }),
        _ if s.is_empty() => Err("expected [CONTAINER:]PATH".into()),
        _ => Ok(Targeted {
            container: None,
            value: PathBuf::from(s),
        }),
    }
}

fn parse_role_arn(s: &str) -> std::result::Result<String, String> {
    let ok = s.starts_with("arn:aws") && s.contains(":iam::") && s.contains(":role/");
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "`{s}`: expected an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
        ))
    }
}

/// Per-environment overrides on the cleaned task definition: `taskdef render|register`, `deploy`,
/// `release`. Each appears in the change list and the dry run's diff.
#[derive(Debug, Clone, Default, Args)]
pub struct OverrideArgs {
    /// Set an environment variable: [CONTAINER:]NAME=VALUE (repeatable; the container may be left
    /// out when there is one). Replaces a secret of that name.
    #[arg(long = "env", value_name = "[CONTAINER:]NAME=VALUE", value_parser = overrides::parse_targeted_pair)]
    pub env: Vec<Targeted<(String, String)>>,

    /// Set the variables of a dotenv file: [CONTAINER:]PATH (repeatable; applied before --env).
    /// (The global --env-file writes results; this one reads variables.)
    #[arg(long = "env-from-file", value_name = "[CONTAINER:]PATH", value_parser = parse_env_file)]
    pub env_files: Vec<Targeted<PathBuf>>,

    /// Set a secret from Secrets Manager or SSM: [CONTAINER:]NAME=ARN (repeatable). Replaces a
    /// plain variable of that name.
    #[arg(long = "secret", value_name = "[CONTAINER:]NAME=ARN", value_parser = overrides::parse_targeted_pair)]
    pub secrets: Vec<Targeted<(String, String)>>,

    /// Remove an environment variable or secret: [CONTAINER:]NAME (repeatable).
    #[arg(long = "unset-env", value_name = "[CONTAINER:]NAME", value_parser = overrides::parse_targeted_name)]
    pub unset_env: Vec<Targeted<String>>,

    /// Task CPU (units, or `1 vCPU`), or a container's with CONTAINER:UNITS (repeatable).
    #[arg(long = "cpu", value_name = "[CONTAINER:]N", value_parser = parse_cpu)]
    pub cpu: Vec<SizeFlag>,

    /// Task memory (MiB, or `2 GB`), or a container's hard limit with CONTAINER:MIB (repeatable).
    #[arg(long = "memory", value_name = "[CONTAINER:]N", value_parser = parse_memory)]
    pub memory: Vec<SizeFlag>,

    /// The task's IAM role (what the application may call).
    #[arg(long, value_name = "ARN", value_parser = parse_role_arn)]
    pub task_role_arn: Option<String>,

    /// The execution role (what ECS uses to pull the image, read secrets, write logs).
    #[arg(long, value_name = "ARN", value_parser = parse_role_arn)]
    pub execution_role_arn: Option<String>,

    /// A task definition tag KEY=VALUE (repeatable); kept on every later re-register.
    #[arg(long = "taskdef-tag", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub taskdef_tags: Vec<(String, String)>,
}

impl OverrideArgs {
    /// `changes` with these overrides, and `extra_tags` (another flag's) after this struct's own.
    pub fn add_to(&self, changes: Changes, extra_tags: &[(String, String)]) -> Changes {
        let (overrides, env_files) = self.overrides(extra_tags);
        Changes {
            overrides,
            env_files,
            ..changes
        }
    }

    fn overrides(&self, extra_tags: &[(String, String)]) -> (Overrides, Vec<Targeted<PathBuf>>) {
        let split = |flags: &[SizeFlag]| {
            let mut task = None;
            let mut containers = Vec::new();
            for f in flags {
                match f {
                    SizeFlag::Task(v) => task = Some(v.clone()),
                    SizeFlag::Container(c, n) => containers.push((c.clone(), *n)),
                }
            }
            (task, containers)
        };
        let (cpu, container_cpu) = split(&self.cpu);
        let (memory, container_memory) = split(&self.memory);
        let mut tags = self.taskdef_tags.clone();
        tags.extend(extra_tags.iter().cloned());
        (
            Overrides {
                unset_env: self.unset_env.clone(),
                env: self.env.clone(),
                secrets: self.secrets.clone(),
                cpu,
                memory,
                container_cpu,
                container_memory,
                task_role_arn: self.task_role_arn.clone(),
                execution_role_arn: self.execution_role_arn.clone(),
                tags,
            },
            self.env_files.clone(),
        )
    }
}

impl TaskdefArgs {
    pub fn changes(&self, images: Vec<ImageSpec>, pin_digest: bool) -> Changes {
        Changes {
            images,
            pin_digest,
            log_group: self.log_group.clone(),
            log_region: self.log_region.clone(),
            pin_log_region: false,
            log_stream_prefix: self.log_stream_prefix.clone(),
            force_awslogs: self.force_awslogs,
            strict: self.strict,
            arch_check: !self.no_arch_check,
            overrides: Overrides::default(),
            env_files: Vec::new(),
        }
    }
}

impl ChangeArgs {
    pub fn changes(&self) -> Changes {
        self.overrides.add_to(
            self.logs.changes(self.images.clone(), self.pin_digest),
            &self.tag,
        )
    }
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

/// How to register: shared by `taskdef register`, `deploy` and `release`.
#[derive(Debug, Clone, Args)]
pub struct RegisterFlags {
    /// Register a new revision even when the result is identical to the source revision.
    #[arg(long)]
    pub force: bool,
    /// Print the rendered JSON and a diff against the source; register nothing, create nothing,
    /// update nothing, write nothing. `release --dry-run=build` also builds the image on the local
    /// engine (and pushes nothing).
    #[arg(long, value_name = "WHAT", value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "plan")]
    pub dry_run: Option<DryRunChoice>,
    /// Retention for a log group this command creates.
    #[arg(long, value_name = "DAYS", value_parser = parse_retention)]
    pub log_retention_days: Option<i32>,
    /// Do not create missing awslogs groups.
    #[arg(long)]
    pub no_create_log_group: bool,
}

/// `--dry-run[=plan|build]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DryRunChoice {
    /// Say what would be done; change nothing anywhere.
    Plan,
    /// As plan, and build the image locally (release).
    Build,
}

impl RegisterFlags {
    /// The dry run asked for.
    pub fn dry_run_mode(&self) -> DryRun {
        match self.dry_run {
            None => DryRun::Off,
            Some(DryRunChoice::Plan) => DryRun::Plan,
            Some(DryRunChoice::Build) => DryRun::Build,
        }
    }

    /// `--dry-run=build` where nothing is built: an error naming the flag.
    pub fn refuse_dry_build(&self, command: &str) -> crate::error::Result<()> {
        match self.dry_run {
            Some(DryRunChoice::Build) => Err(crate::error::Error::input(format!(
                "--dry-run=build: `{command}` builds no image; use --dry-run"
            ))),
            _ => Ok(()),
        }
    }

    pub fn options(&self) -> RegisterOptions {
        RegisterOptions {
            force: self.force,
            dry_run: self.dry_run.is_some(),
            log_retention_days: self.log_retention_days,
            create_log_groups: !self.no_create_log_group,
            show_values: false,
        }
    }
}

/// How to wait: shared by `wait`, `deploy` and `release`.
#[derive(Debug, Clone, Args)]
pub struct WaitFlags {
    /// Give up after this long (units s, m, h: 90s, 15m, 1h).
    #[arg(long, default_value = "15m", value_parser = parse_timeout, env = "ECS_SHIP_TIMEOUT")]
    pub timeout: Duration,

    /// Poll at this fixed interval, at least 1s [default: 1s, growing to 15s after 30s without change].
    #[arg(long, value_parser = parse_poll_interval)]
    pub poll_interval: Option<Duration>,

    /// Fail as soon as this many tasks of the new revision have failed, before the circuit breaker does.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    pub max_task_failures: Option<i32>,

    /// How far to follow the service deployment: to its end (complete), until production traffic
    /// is on the new revision (traffic-shifted), until the bake time is over (bake), or until a
    /// lifecycle hook awaits action (paused, exit 6).
    #[arg(long, value_enum, default_value = "complete", value_name = "POINT")]
    pub wait_until: WaitUntilChoice,

    /// Fail as soon as ECS starts rolling back, instead of following the rollback to its end.
    #[arg(long)]
    pub no_wait_rollback: bool,
}

/// `--wait-until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WaitUntilChoice {
    /// The deployment is SUCCESSFUL: traffic shifted, bake time over, old revision cleaned up.
    Complete,
    /// Production traffic is on the new revision (rolling updates: complete).
    TrafficShifted,
    /// The bake time is over (rolling updates: complete).
    Bake,
    /// A lifecycle hook awaits action (exit 6), else complete.
    Paused,
}

impl WaitFlags {
    pub fn settings(&self) -> WaitSettings {
        WaitSettings {
            timeout: self.timeout,
            poll_interval: self.poll_interval,
            max_task_failures: self.max_task_failures,
            until: match self.wait_until {
                WaitUntilChoice::Complete => WaitUntil::Complete,
                WaitUntilChoice::TrafficShifted => WaitUntil::TrafficShifted,
                WaitUntilChoice::Bake => WaitUntil::Bake,
                WaitUntilChoice::Paused => WaitUntil::Paused,
            },
            wait_rollback: !self.no_wait_rollback,
        }
    }
}

/// The longest duration any flag takes: a week. Longer is a typo, and unbounded values overflow
/// deadline arithmetic.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// `90s`, `15m`, `1h`, or a number of seconds; at most a week.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let d = match s.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs.min(MAX_DURATION.as_secs() + 1)),
        Err(_) => humantime::parse_duration(s)
            .map_err(|e| format!("`{s}` is not a duration like 90s, 15m or 1h: {e}"))?,
    };
    if d > MAX_DURATION {
        return Err(format!("`{s}` is longer than a week (7d)"));
    }
    Ok(d)
}

/// A bound on a wait (`--timeout` and the like): a duration above zero. `0s` would end every wait
/// before its first answer and blame the endpoint.
pub fn parse_timeout(s: &str) -> std::result::Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!(
            "`{s}` leaves no time to wait for anything: give a bound such as 90s or 15m"
        ));
    }
    Ok(d)
}

/// A poll interval: at least a second (shorter is a hot loop against the API's rate limits).
pub fn parse_poll_interval(s: &str) -> std::result::Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(1) {
        return Err(format!(
            "`{s}` is below 1s: polling that often only gets throttled"
        ));
    }
    Ok(d)
}

/// A name that must not be empty (an unset variable in CI expands to nothing).
pub fn non_empty(s: &str) -> std::result::Result<String, String> {
    if s.trim().is_empty() {
        Err("must not be empty (an unset variable?)".to_owned())
    } else {
        Ok(s.to_owned())
    }
}

/// `--state PATH`, shared by build, push, imagedefs and release.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// Where build records its image and push its digest, for later steps.
    #[arg(long = "state", env = "ECS_SHIP_STATE", value_name = "PATH", default_value = state::DEFAULT_PATH)]
    pub path: PathBuf,
}

/// How to build an image: shared by `build`, `release` and `rehearse`.
#[derive(Debug, Clone, Args)]
pub struct BuildFlags {
    /// The build context directory.
    #[arg(
        long,
        env = "ECS_SHIP_CONTEXT",
        value_name = "DIR",
        default_value = "."
    )]
    pub context: PathBuf,

    /// A build argument: K=V, or K to take its value from the environment (repeatable).
    #[arg(long = "build-arg", value_name = "K[=V]")]
    pub build_args: Vec<String>,

    /// The Dockerfile stage to build.
    #[arg(long)]
    pub target: Option<String>,

    /// The platform to build for, e.g. linux/amd64 (match the task's runtimePlatform).
    #[arg(long, env = "ECS_SHIP_PLATFORM")]
    pub platform: Option<String>,

    /// An image label K=V (repeatable); overrides the automatic OCI labels.
    #[arg(long = "label", value_name = "K=V")]
    pub labels: Vec<String>,

    /// Build without the layer cache.
    #[arg(long)]
    pub no_cache: bool,

    /// Always pull a newer base image.
    #[arg(long)]
    pub pull: bool,

    /// Another tag (repeatable), e.g. latest.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,

    /// The chrono format of the UTC timestamp tag.
    #[arg(long, env = "ECS_SHIP_TAG_FORMAT", default_value = "%Y%m%d%H%M")]
    pub tag_format: String,

    /// No timestamp tag.
    #[arg(long)]
    pub no_timestamp_tag: bool,

    /// No short git sha tag.
    #[arg(long)]
    pub no_git_tag: bool,

    /// The builder: buildkit (the engine's BuildKit; falls back to classic, saying so, where the
    /// engine has none) or classic (Docker's deprecated builder: no RUN --mount, secrets or cache).
    #[arg(long, env = "ECS_SHIP_BUILDER", value_enum, default_value_t = BuilderArg::Buildkit)]
    pub builder: BuilderArg,

    /// A secret for `RUN --mount=type=secret,id=ID`: id=ID,src=PATH or id=ID,env=VAR
    /// (repeatable; `build` takes it as --secret too). The value never reaches the image, its
    /// history, the state file or a log.
    #[arg(long = "build-secret", value_name = "id=ID,src=PATH|env=VAR")]
    pub build_secrets: Vec<String>,

    /// Forward the SSH agent for `RUN --mount=type=ssh`: default (SSH_AUTH_SOCK) or default=SOCKET.
    #[arg(long, value_name = "default[=SOCKET]")]
    pub ssh: Vec<String>,

    /// Import a build cache: REPO:TAG or type=registry,ref=REPO:TAG (repeatable). A ref that
    /// does not exist yet is not an error.
    #[arg(long = "cache-from", value_name = "REF")]
    pub cache_from: Vec<String>,

    /// Export the build cache: type=inline (in the pushed image), or type=registry,ref=REPO:TAG
    /// where the builder can export one (the engine's built-in BuildKit cannot).
    #[arg(long = "cache-to", value_name = "SPEC")]
    pub cache_to: Option<String>,

    /// A cache that survives ephemeral runners, kept at REPO:TAG: the best the builder supports
    /// (here: an inline cache, with the image pushed as REPO:TAG too), imported from there next time.
    #[arg(long, env = "ECS_SHIP_CACHE", value_name = "REPO:TAG")]
    pub cache: Option<String>,

    /// Attach a provenance attestation (off by default: it turns the digest into an index with
    /// untagged children in ECR).
    #[arg(long)]
    pub provenance: bool,

    /// Attach an SBOM attestation (off by default, as --provenance).
    #[arg(long)]
    pub sbom: bool,
}

/// `--builder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BuilderArg {
    Buildkit,
    Classic,
}

impl BuildFlags {
    /// The request for `repository`; `dockerfile` comes from the command (`build -f`, `release --dockerfile`).
    pub fn request(&self, repository: &str, dockerfile: Option<PathBuf>) -> BuildRequest {
        BuildRequest {
            context: self.context.clone(),
            dockerfile,
            repository: repository.to_owned(),
            build_args: self.build_args.clone(),
            target: self.target.clone(),
            platform: self.platform.clone(),
            labels: self.labels.clone(),
            no_cache: self.no_cache,
            pull: self.pull,
            tags: self.tags.clone(),
            tag_format: self.tag_format.clone(),
            timestamp_tag: !self.no_timestamp_tag,
            git_tag: !self.no_git_tag,
            builder: match self.builder {
                BuilderArg::Buildkit => Builder::Buildkit,
                BuilderArg::Classic => Builder::Classic,
            },
            secrets: self.build_secrets.clone(),
            ssh: self.ssh.clone(),
            cache_from: self.cache_from.clone(),
            cache_to: self.cache_to.clone(),
            cache: self.cache.clone(),
            attestations: self.provenance || self.sbom,
        }
    }
}

/// How to push: shared by `push` and `release`.
#[derive(Debug, Clone, Args)]
pub struct PushFlags {
    /// Create the ECR repository if it does not exist.
    #[arg(long)]
    pub create_repository: bool,

    /// With --create-repository: scan images on push.
    #[arg(long, requires = "create_repository")]
    pub scan_on_push: bool,

    /// With --create-repository: make tags immutable.
    #[arg(long, requires = "create_repository")]
    pub immutable_tags: bool,

    /// Attempts per tag when the registry fails transiently (connection reset, 5xx).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub attempts: u32,
}

impl PushFlags {
    pub fn request(&self, repository: Option<String>, tags: Vec<String>) -> PushRequest {
        PushRequest {
            repository,
            tags,
            create_repository: self.create_repository,
            scan_on_push: self.scan_on_push,
            immutable_tags: self.immutable_tags,
            attempts: self.attempts,
        }
    }
}

/// How to roll out: shared by `deploy` and `release`.
#[derive(Debug, Clone, Args)]
pub struct RolloutArgs {
    /// Start a new deployment even when the revision does not change.
    #[arg(long)]
    pub force_new_deployment: bool,

    /// Set the service's desired count.
    #[arg(long, value_name = "N")]
    pub desired_count: Option<i32>,

    /// Where the service's tasks take their tags from: TASK_DEFINITION (the --taskdef-tag/--tag
    /// tags), SERVICE or NONE.
    #[arg(long, value_name = "FROM", value_parser = ["TASK_DEFINITION", "SERVICE", "NONE"])]
    pub propagate_tags: Option<String>,

    /// Stop after UpdateService.
    #[arg(long, conflicts_with_all = ["rollback_on_failure", "verify_urls"])]
    pub no_wait: bool,

    /// When the rollout fails (or --verify-url does) and ECS did not roll back itself, update the
    /// services back to the revisions they ran before and wait for that. The exit code stays 4.
    /// The scope: `failed` (the default: the services that failed), `target` (every service of a
    /// target where one failed), `all` (every service of every target).
    #[arg(long, value_name = "SCOPE", value_enum, num_args = 0..=1,
          default_missing_value = "failed")]
    pub rollback_on_failure: Option<RollbackChoice>,

    /// The scope of --rollback-on-failure, given apart (`all` or `target` implies
    /// --rollback-on-failure).
    #[arg(long, value_name = "SCOPE", value_enum, default_value_t = RollbackChoice::Failed)]
    pub rollback: RollbackChoice,

    /// How long a rollback (--rollback-on-failure) may take to settle: its own bound, after
    /// --timeout ran out or the rollout failed.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_timeout)]
    pub rollback_timeout: Duration,

    /// When the job is cancelled (SIGINT/SIGTERM) while waiting, update the services back to the
    /// revisions they ran before (without waiting) instead of leaving the deployment going on.
    #[arg(long, conflicts_with = "no_wait")]
    pub rollback_on_cancel: bool,

    /// Once the rollout is stable, move the EventBridge schedules on the cluster that run this
    /// family (ListRuleNamesByTarget, ListTargetsByRule) to the new revision.
    #[arg(long, conflicts_with = "no_wait")]
    pub update_schedules: bool,

    /// Like --update-schedules, for this rule only (repeatable); an unknown rule is an error.
    #[arg(long = "schedule", value_name = "RULE", conflicts_with = "no_wait")]
    pub schedules: Vec<String>,

    /// Once the rollout is stable, deregister the family's revisions beyond the newest N that
    /// nothing uses (as `taskdef prune --keep N`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "no_wait")]
    pub prune_keep: Option<u32>,

    /// A CODE_DEPLOY service: the CodeDeploy application that deploys it [default: found from the
    /// deployment group whose ECS services include it].
    #[arg(long, value_name = "NAME", requires = "codedeploy_deployment_group")]
    pub codedeploy_application: Option<String>,

    /// A CODE_DEPLOY service: its CodeDeploy deployment group.
    #[arg(long, value_name = "NAME", requires = "codedeploy_application")]
    pub codedeploy_deployment_group: Option<String>,

    /// A CODE_DEPLOY service: the AppSpec's Hooks, from a YAML or JSON file (`- BeforeInstall: FUNCTION`).
    #[arg(long, value_name = "FILE")]
    pub appspec_hooks: Option<PathBuf>,
}

/// `--rollback`: which services a failed rollout sends back (ordered narrow to wide).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum RollbackChoice {
    /// Exactly the services that failed or timed out.
    Failed,
    /// Every service of a target where one failed.
    Target,
    /// Every service of the deploy, in every target.
    All,
}

impl RolloutArgs {
    /// The rollback asked for: none, or --rollback-on-failure with its scope (`--rollback all`
    /// or `target` asks for it by itself); the wider of the two scopes given.
    pub fn rollback_scope(&self) -> Option<RollbackScope> {
        let scope = |c: RollbackChoice| match c {
            RollbackChoice::Failed => RollbackScope::Failed,
            RollbackChoice::Target => RollbackScope::Target,
            RollbackChoice::All => RollbackScope::All,
        };
        match (self.rollback_on_failure, self.rollback) {
            (None, RollbackChoice::Failed) => None,
            (None, other) => Some(scope(other)),
            (Some(a), b) => Some(scope(a.max(b))),
        }
    }
}

/// HTTP checks once the service is stable: shared by `deploy` and `release`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Once the service is stable, GET this URL (e.g. the load balancer's /health) until it answers
    /// 2xx; if it never does, the rollout failed (exit 4). Repeatable.
    #[arg(long = "verify-url", value_name = "URL", value_parser = parse_http_url)]
    pub verify_urls: Vec<String>,

    /// How long each --verify-url may take to answer 2xx.
    #[arg(long, default_value = "60s", value_parser = parse_timeout, requires = "verify_urls")]
    pub verify_timeout: Duration,
}

impl VerifyArgs {
    pub fn settings(&self) -> VerifySettings {
        VerifySettings {
            urls: self.verify_urls.clone(),
            timeout: self.verify_timeout,
        }
    }
}

fn parse_http_url(s: &str) -> std::result::Result<String, String> {
    if (s.starts_with("http://") || s.starts_with("https://")) && s.len() > "https://".len() {
        Ok(s.to_owned())
    } else {
        Err(format!("`{s}` is not an http:// or https:// URL"))
    }
}

/// Several targets (region x account): shared by `deploy`, `release` and `status`. The global
/// --region, given more than once, adds one target per region.
#[derive(Debug, Clone, Args)]
pub struct TargetsArgs {
    /// Reach the target through this IAM role, assumed with STS AssumeRole (repeatable: one
    /// target per role and --region). The assumed credentials are refreshed before they expire.
    #[arg(
        long = "role-arn",
        value_name = "ARN",
        env = "ECS_SHIP_ROLE_ARN",
        value_delimiter = ','
    )]
    pub role_arns: Vec<String>,

    /// The external ID the roles' trust policies require (sts:ExternalId).
    #[arg(long, value_name = "ID", env = "ECS_SHIP_EXTERNAL_ID")]
    pub external_id: Option<String>,

    /// A TOML (.toml) or YAML (.yml, .yaml) file of targets: under `targets`, each with name,
    /// region, role_arn, external_id, profile, endpoint_url, cluster, services, env, secrets, desired_count;
    /// `defaults` for what they share. The command line's --cluster and --service are beneath.
    #[arg(long, value_name = "FILE", env = "ECS_SHIP_TARGETS")]
    pub targets: Option<PathBuf>,

    /// One target after another, in order, stopping at the first that fails (staging before
    /// production); the others are reported as skipped. Default: all targets at once.
    #[arg(long)]
    pub sequential: bool,

    /// At most N targets of one region at a time (ECS rate limits are per account and region).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub region_concurrency: u32,

    /// The role session name of the assumed roles, as CloudTrail shows it [default: ecs-ship-<command>-<time>].
    #[arg(long, value_name = "NAME")]
    pub session_name: Option<String>,
}

impl TargetsArgs {
    /// Whether the run deploys to several targets (or through a role): any --targets, --role-arn
    /// or a second --region.
    pub fn several(&self, regions: &[String]) -> bool {
        self.targets.is_some() || !self.role_arns.is_empty() || regions.len() > 1
    }

    /// What the command line says of the targets.
    fn flags<'a>(
        &'a self,
        regions: &'a [String],
        cluster: Option<&'a str>,
        services: &'a [String],
    ) -> crate::core::targets::FlagTargets<'a> {
        crate::core::targets::FlagTargets {
            regions,
            role_arns: &self.role_arns,
            external_id: self.external_id.as_deref(),
            profile: None,
            cluster,
            services,
        }
    }

    /// The run's targets: the `--targets` file's, else every --region for every --role-arn, with
    /// `cluster` and `services` beneath.
    pub fn targets(
        &self,
        regions: &[String],
        cluster: Option<&str>,
        services: &[String],
    ) -> crate::error::Result<Vec<crate::core::targets::Target>> {
        let flags = self.flags(regions, cluster, services);
        crate::flow::fleet::targets(&flags, self.targets.as_deref())
    }

    /// How the targets run; `what` names the run in the role session name; `timeout` (the
    /// command's --timeout) bounds reaching each target too.
    pub fn options(
        &self,
        what: &str,
        timeout: Option<Duration>,
    ) -> crate::flow::fleet::FleetOptions {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
        crate::flow::fleet::FleetOptions {
            sequential: self.sequential,
            per_region: self.region_concurrency as usize,
            timeout,
            session_name: crate::core::targets::session_name(
                self.session_name
                    .as_deref()
                    .unwrap_or(&format!("{what}-{stamp}")),
            ),
        }
    }
}

/// A cluster and one or more of its services: shared by `wait` and `status`.
#[derive(Debug, Clone, Args)]
pub struct ServicesArgs {
    /// The cluster of the services.
    #[arg(long, env = "ECS_SHIP_CLUSTER", value_parser = non_empty)]
    pub cluster: String,

    /// A service (repeatable).
    #[arg(
        long = "service",
        required = true,
        env = "ECS_SHIP_SERVICE",
        value_name = "NAME",
        value_parser = non_empty
    )]
    pub services: Vec<String>,
}

/// Everything a deploy is told by its flags: shared by `deploy` and `release`.
pub struct DeployFlags<'a> {
    pub register: &'a RegisterFlags,
    pub rollout: &'a RolloutArgs,
    pub verify: &'a VerifyArgs,
    pub wait: &'a WaitFlags,
}

impl DeployFlags<'_> {
    /// The deploy of `services` (each with its source and changes) in `cluster`.
    pub fn plan(&self, cluster: &str, services: Vec<ServiceTarget>) -> DeployPlan {
        DeployPlan {
            cluster: cluster.to_owned(),
            services,
            register: self.register.options(),
            update: crate::aws::ecs::UpdateOptions {
                force_new_deployment: self.rollout.force_new_deployment,
                desired_count: self.rollout.desired_count,
                propagate_tags: self.rollout.propagate_tags.clone(),
            },
            no_wait: self.rollout.no_wait,
            rollback: self.rollout.rollback_scope(),
            rollback_timeout: self.rollout.rollback_timeout,
            rollback_on_cancel: self.rollout.rollback_on_cancel,
            wait: self.wait.settings(),
            verify: self.verify.settings(),
            after: AfterDeploy {
                update_schedules: self.rollout.update_schedules,
                schedules: self.rollout.schedules.clone(),
                prune_keep: self.rollout.prune_keep.map(|n| n as usize),
            },
            codedeploy: CodeDeployOptions {
                application: self.rollout.codedeploy_application.clone(),
                deployment_group: self.rollout.codedeploy_deployment_group.clone(),
                appspec_hooks: self.rollout.appspec_hooks.clone(),
            },
        }
    }
}

/// `NAME=VALUE` (the value may be empty or hold `=`); the name must not be empty nor hold spaces.
pub fn parse_key_value(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !k.contains(char::is_whitespace) => {
            Ok((k.to_owned(), v.to_owned()))
        }
        _ => Err(format!("`{s}`: expected NAME=VALUE")),
    }
}
