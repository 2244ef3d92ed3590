//! The command-line tree. Doc comments here are the `--help` text; every flag a CI job sets
//! can also come from an environment variable (`env = "..."`).
//!
//! Each subcommand's own options live beside its code in `commands/`; groups of flags several
//! subcommands share live in `shared`. Everything here is turned into the plain option types of the
//! layers below (`AwsOptions`, `output::Format`, ...) before it leaves this module.

pub mod shared;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::aws::AwsOptions;
use crate::commands;
use crate::error::EXIT_CODE_TABLE;
use crate::output::{self, Output, Verbosity};

/// `--version`: the version, the commit and its date, and what it was built with.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit ",
    env!("ECS_SHIP_GIT_COMMIT"),
    " (",
    env!("ECS_SHIP_COMMIT_DATE"),
    ")\naws-sdk-ecs ",
    env!("ECS_SHIP_SDK_ECS_VERSION"),
    ", aws-config ",
    env!("ECS_SHIP_SDK_CONFIG_VERSION"),
    ", bollard ",
    env!("ECS_SHIP_BOLLARD_VERSION"),
);

/// Ship a container image to Amazon ECS: build, push, pin by digest, register a cleaned task
/// definition, deploy and wait until the service is stable on it - or fail fast with the reason.
#[derive(Debug, Parser)]
#[command(name = "ecs-ship", version, long_version = LONG_VERSION, after_help = EXIT_CODE_TABLE, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an image through the Docker Engine API, tagged with the UTC timestamp and git sha.
    Build(Box<commands::build::BuildArgs>),
    /// Push the built image to ECR or any registry and record its verified digest.
    Push(commands::push::PushArgs),
    /// Resolve repo:tag to repo@sha256:... (verified against the manifest bytes) without pulling.
    Digest(commands::digest::DigestArgs),
    /// Write CodePipeline's imagedefinitions.json (and imageDetail.json).
    Imagedefs(commands::imagedefs::ImagedefsArgs),
    /// Check what this step will talk to: the Docker engine, AWS (region, endpoint, identity) and,
    /// with --cluster/--service, the service and the revision it runs.
    Doctor(commands::doctor::DoctorArgs),
    /// Render, register or diff a cleaned task definition.
    #[command(subcommand)]
    Taskdef(commands::taskdef::TaskdefCommand),
    /// Register the task definition, update the service to that exact revision, and wait until it is
    /// stable on it - or fail with the reason.
    Deploy(Box<commands::deploy::DeployArgs>),
    /// Wait until services are stable on their expected revision, or fail fast with the reason.
    Wait(commands::wait::WaitArgs),
    /// Steer the service deployment in flight: let a paused lifecycle hook go on, roll it back,
    /// or stop it where it stands.
    #[command(subcommand)]
    Deployment(commands::deployment::DeploymentCommand),
    /// Send a service back to the revision it ran before the current one (or --to REVISION) and
    /// wait for it with the same verdict as a deploy.
    Rollback(Box<commands::rollback::RollbackArgs>),
    /// The release in one command: build, push (verified digest), imagedefinitions.json, register
    /// (pinned by digest, logs guaranteed), update the service and wait - one line per step.
    Release(Box<commands::release::ReleaseArgs>),
    /// Where services stand: deployments, the revision and the family's latest, each container's
    /// image digest and log group, recent ECR images, load balancer target health, last events.
    Status(commands::status::StatusArgs),
    /// Rehearse a release locally, changing nothing in AWS: build, render and diff the task
    /// definition, run the container as ECS would and wait until it is healthy; then remove it.
    Rehearse(Box<commands::rehearse::RehearseArgs>),
    /// Run a one-off task (a migration) as the service runs its tasks, follow its log until it
    /// stops, and exit 0 only when every essential container exited 0.
    Run(Box<commands::run::RunArgs>),
    /// CodeBuild: check a project for what would break a release, start and follow a build, print
    /// a build's log.
    #[command(subcommand)]
    Codebuild(commands::codebuild::CodebuildCommand),
    /// Image indexes: `manifest create REPO:TAG IMAGE...` assembles per-platform images pushed by
    /// separate builds into one.
    #[command(subcommand)]
    Manifest(commands::manifest::ManifestCommand),
    /// Print a shell completion script: bash, zsh, fish, powershell or elvish.
    Completions(commands::completions::CompletionsArgs),
    /// Print the manual page (roff): `ecs-ship man > ecs-ship.1`.
    Man,
}

/// Flags every subcommand takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// AWS region (else the profile's region). deploy, release and status take it again for each
    /// more region to deploy to (one target per region, and per --role-arn).
    #[arg(long, global = true, env = "AWS_REGION", value_name = "REGION", action = clap::ArgAction::Append)]
    pub region: Vec<String>,

    /// AWS shared-config profile.
    #[arg(long, global = true, env = "AWS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// Send every AWS call to this endpoint (an emulator, a VPC endpoint). Without it the SDK's own
    /// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> variables apply.
    #[arg(long, global = true, env = "ECS_SHIP_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Attempts per AWS call, retries with backoff included (standard retry mode).
    #[arg(long, global = true, env = "AWS_MAX_ATTEMPTS", value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_attempts: u32,

    /// How long connecting to an AWS endpoint may take.
    #[arg(long, global = true, env = "ECS_SHIP_CONNECT_TIMEOUT", value_name = "DURATION",
          default_value = "3s", value_parser = shared::parse_duration)]
    pub connect_timeout: std::time::Duration,

    /// How long one attempt of an AWS call may take, answer included (retries get their own).
    #[arg(long, global = true, env = "ECS_SHIP_CALL_TIMEOUT", value_name = "DURATION",
          default_value = "30s", value_parser = shared::parse_duration)]
    pub call_timeout: std::time::Duration,

    /// How long the Docker engine may send nothing during a build or push before it is given up.
    #[arg(long, global = true, env = "ECS_SHIP_IDLE_TIMEOUT", value_name = "DURATION",
          default_value = "10m", value_parser = shared::parse_duration)]
    pub idle_timeout: std::time::Duration,

    /// Docker engine to use: unix:///path/to/docker.sock or tcp://host:port.
    #[arg(long, global = true, env = "DOCKER_HOST", value_name = "URL")]
    pub docker_host: Option<String>,

    /// Format of the results on stdout: text, json, or env (`ECS_SHIP_IMAGE='...'` lines to `eval`).
    /// Progress and logs always go to stderr.
    #[arg(long, global = true, env = "ECS_SHIP_OUTPUT", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Also write the results as `ECS_SHIP_IMAGE='...'` lines to this file (for CodeBuild's
    /// `exported-variables`, or `source` in a later step).
    #[arg(long, global = true, env = "ECS_SHIP_ENV_FILE", value_name = "PATH")]
    pub env_file: Option<std::path::PathBuf>,

    /// More detail on stderr (-v debug, -vv trace of ecs-ship itself).
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Less on stderr: only warnings and errors.
    #[arg(short, long, global = true, action = ArgAction::SetTrue)]
    pub quiet: bool,

    /// Print secret-looking values (environment values named *KEY*, *TOKEN*, *SECRET*, *PASSWORD*...,
    /// values shaped like access keys or tokens) in clear in diffs and dry runs, instead of `***`.
    #[arg(long, global = true)]
    pub show_values: bool,

    /// Colour on stderr.
    #[arg(long, global = true, env = "ECS_SHIP_COLOR", value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

impl GlobalArgs {
    pub fn aws_options(&self) -> AwsOptions {
        AwsOptions {
            region: self.region.first().cloned().filter(|r| !r.is_empty()),
            profile: self.profile.clone().filter(|p| !p.is_empty()),
            endpoint_url: self.endpoint_url.clone().filter(|u| !u.is_empty()),
            max_attempts: self.max_attempts,
            connect_timeout: self
                .connect_timeout
                .max(std::time::Duration::from_millis(100)),
            attempt_timeout: self.call_timeout.max(std::time::Duration::from_secs(1)),
        }
    }

    /// Every --region given (none empty).
    pub fn regions(&self) -> Vec<String> {
        self.region
            .iter()
            .filter(|r| !r.is_empty())
            .cloned()
            .collect()
    }

    pub fn verbosity(&self) -> Verbosity {
        Verbosity {
            quiet: self.quiet,
            verbose: self.verbose,
        }
    }

    pub fn output(&self) -> Output {
        let format = match self.output {
            OutputFormat::Text => output::Format::Text,
            OutputFormat::Json => output::Format::Json,
            OutputFormat::Env => output::Format::Env,
        };
        let color = match self.color {
            ColorChoice::Auto => output::Color::Auto,
            ColorChoice::Always => output::Color::Always,
            ColorChoice::Never => output::Color::Never,
        };
        let mut out = Output::new(format, color, self.quiet);
        out.env_file = self.env_file.clone();
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    Env,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every ecs-ship command line in buildspec.yml (commented ones too) parses.
    #[test]
    fn the_buildspec_command_lines_parse() {
        let buildspec = include_str!("../../buildspec.yml");
        let mut seen = 0;
        for line in buildspec.lines() {
            let Some(start) = line.find("ecs-ship ") else {
                continue;
            };
            if line.trim_start().starts_with("# ") && !line.contains("#   ecs-ship") {
                continue;
            }
            let command = line[start..].split([')', '|']).next().unwrap();
            let image = "registry.example/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
            let argv: Vec<String> = command
                .split_whitespace()
                .map(|w| match w.find('$') {
                    Some(i) if &w[i..] == "$IMAGE" => format!("{}{image}", &w[..i]),
                    Some(i) => format!("{}placeholder", &w[..i]),
                    None => w.to_owned(),
                })
                .collect();
            if let Err(e) = Cli::try_parse_from(&argv) {
                panic!("buildspec.yml: `{command}` does not parse:\n{e}");
            }
            seen += 1;
        }
        assert!(seen >= 6, "found {seen} ecs-ship command lines");
    }

    /// A table of command lines and what clap makes of them: parsed, or the kind of usage error.
    #[test]
    fn command_lines_parse_or_fail_as_documented() {
        use clap::error::ErrorKind::*;
        // Each case is one command line as a shell would split it, and what clap makes of it.
        let cases: &[(&str, Result<(), clap::error::ErrorKind>)] = &[
            ("doctor", Ok(())),
            ("doctor --output json", Ok(())),
            ("--output json doctor", Ok(())),
            ("doctor --cluster c --service s", Ok(())),
            ("doctor -vv", Ok(())),
            ("doctor --no-docker", Ok(())),
            ("doctor --bogus", Err(UnknownArgument)),
            ("doctor --output yaml", Err(InvalidValue)),
            ("doctor --service s", Err(MissingRequiredArgument)),
            ("doctor --region", Err(InvalidValue)),
            ("doctor -v -q", Err(ArgumentConflict)),
            ("doctor --no-docker --no-aws", Err(ArgumentConflict)),
            ("doctor --max-attempts 0", Err(ValueValidation)),
            ("nonsense", Err(InvalidSubcommand)),
            ("taskdef render --file td.json", Ok(())),
            ("codebuild check --project p", Ok(())),
            ("codebuild check", Err(MissingRequiredArgument)),
            ("codebuild check --project ''", Err(ValueValidation)),
            (
                "codebuild start --project p --env A=b=c --env E= --follow --timeout 30m --stop-on-interrupt",
                Ok(()),
            ),
            (
                "codebuild start --project p --env NOEQUALS",
                Err(ValueValidation),
            ),
            ("codebuild start --project p --env =v", Err(ValueValidation)),
            (
                "codebuild start --project p --poll-interval 100ms",
                Err(ValueValidation),
            ),
            ("codebuild start --project p --follow --no-follow", Ok(())),
            ("codebuild logs p:1", Ok(())),
            ("codebuild logs", Err(MissingRequiredArgument)),
            ("taskdef render --family web:3 --image api=repo:tag", Ok(())),
            ("taskdef render", Err(MissingRequiredArgument)),
            (
                "taskdef render --file a.json --family web",
                Err(ArgumentConflict),
            ),
            ("taskdef render --cluster c", Err(MissingRequiredArgument)),
            ("taskdef register --cluster c --service s --dry-run", Ok(())),
            (
                "taskdef register --file a.json --log-retention-days 7",
                Ok(()),
            ),
            (
                "taskdef register --file a.json --log-retention-days 8",
                Err(ValueValidation),
            ),
            ("taskdef diff a.json web:3", Ok(())),
            ("taskdef diff a.json", Err(MissingRequiredArgument)),
            ("deploy --cluster c --service s --image api=r:1", Ok(())),
            (
                "deploy --cluster c --service s --file a.json --family f",
                Err(ArgumentConflict),
            ),
            (
                "deploy --cluster c --service s --no-wait --rollback-on-failure",
                Err(ArgumentConflict),
            ),
            (
                "deploy --cluster c --service s --timeout '10 parsecs'",
                Err(ValueValidation),
            ),
            ("deploy --cluster c", Err(MissingRequiredArgument)),
            (
                "deploy --cluster c --service s --rollback-on-failure all",
                Ok(()),
            ),
            (
                "deploy --cluster c --service s --rollback-on-failure=target",
                Ok(()),
            ),
            (
                "deploy --rollback-on-failure --cluster c --service s",
                Ok(()),
            ),
            (
                "deploy --cluster c --service s --rollback-on-failure everything",
                Err(InvalidValue),
            ),
            ("deploy --targets t.yml --image api=r:1", Ok(())),
            ("status --targets t.toml", Ok(())),
            (
                "status --region us-east-1 --region eu-west-1 --cluster c --service s",
                Ok(()),
            ),
            (
                "release --repository r --container api --merge-platforms linux/amd64 --no-deploy",
                Err(MissingRequiredArgument),
            ),
            (
                "release --repository r --container api --merge-platforms linux --tag t --no-deploy",
                Err(ValueValidation),
            ),
            ("manifest create r:t", Err(MissingRequiredArgument)),
            ("manifest create r:t r:t-linux-amd64 sha256:00", Ok(())),
            (
                "wait --cluster c --service a --service b --timeout 90s",
                Ok(()),
            ),
            (
                "wait --cluster c --service a --max-task-failures 0",
                Err(ValueValidation),
            ),
            ("wait --cluster c", Err(MissingRequiredArgument)),
            ("build --repository r", Ok(())),
            ("build", Err(MissingRequiredArgument)),
            (
                "build --repository r --build-arg A=1 --label k=v --tag latest --platform linux/amd64",
                Ok(()),
            ),
            ("push", Ok(())),
            ("push --scan-on-push", Err(MissingRequiredArgument)),
            ("push --attempts 0", Err(ValueValidation)),
            ("digest repo:tag", Ok(())),
            ("digest", Err(MissingRequiredArgument)),
            ("imagedefs --container api=r:1", Ok(())),
            (
                "release --repository r --cluster c --service s --container api",
                Ok(()),
            ),
            ("release --repository r --container api --no-deploy", Ok(())),
            (
                "release --repository r --container api",
                Err(MissingRequiredArgument),
            ),
            (
                "release --repository r --cluster c --service s",
                Err(MissingRequiredArgument),
            ),
            (
                "release --repository r --container api --no-deploy --verify-url http://x/health",
                Err(ArgumentConflict),
            ),
            (
                "release --repository r --cluster c --service s --container api --verify-url ftp://x",
                Err(ValueValidation),
            ),
            (
                "release --repository r --cluster c --service s --container api --no-wait --verify-url http://x/",
                Err(ArgumentConflict),
            ),
            (
                "release --repository r --cluster c --service s --container api --file td.json --family f",
                Err(ArgumentConflict),
            ),
            (
                "deploy --cluster c --service s --verify-url https://alb/health --verify-timeout 30s",
                Ok(()),
            ),
            ("rehearse --file td.json", Ok(())),
            (
                "rehearse --context app --file td.json --container api --health-url http://127.0.0.1:8080/health",
                Ok(()),
            ),
            ("rehearse --cluster c --service s --image r:1", Ok(())),
            ("rehearse --context app", Err(MissingRequiredArgument)),
            (
                "rehearse --file td.json --image r:1 --context app",
                Err(ArgumentConflict),
            ),
            (
                "rehearse --file td.json --network overlay",
                Err(InvalidValue),
            ),
            ("status --cluster c --service a --service b", Ok(())),
            ("status --cluster c", Err(MissingRequiredArgument)),
            (
                "wait --cluster c --service s --poll-interval 0s",
                Err(ValueValidation),
            ),
            ("wait --cluster c --service s --poll-interval 1s", Ok(())),
            (
                "wait --cluster c --service s --timeout 18446744073709551615",
                Err(ValueValidation),
            ),
            (
                "wait --cluster c --service s --timeout 8d",
                Err(ValueValidation),
            ),
            ("wait --cluster '' --service s", Err(ValueValidation)),
            ("deploy --cluster c --service ' '", Err(ValueValidation)),
            (
                "deploy --cluster c --service s --rollback-on-cancel",
                Ok(()),
            ),
            (
                "deploy --cluster c --service s --rollback-on-cancel --no-wait",
                Err(ArgumentConflict),
            ),
            (
                "--call-timeout 5s --connect-timeout 1s --idle-timeout 2m doctor",
                Ok(()),
            ),
            ("--show-values taskdef diff a.json b.json", Ok(())),
            ("taskdef render --file a.json --strict", Ok(())),
        ];
        for (line, want) in cases {
            let words = shell_words::split(line).expect("a case splits as a shell would");
            let argv = std::iter::once("ecs-ship".to_owned()).chain(words);
            let got = Cli::try_parse_from(argv).map(drop).map_err(|e| e.kind());
            assert_eq!(got, *want, "ecs-ship {line}");
            // The exit code follows from the kind: 2 for every usage error.
            if let Err(kind) = want {
                let code = clap::Error::new(*kind).exit_code();
                assert_eq!(code, 2, "ecs-ship {line}");
            }
        }
        // No subcommand: clap shows the help, or (when a global flag came from the
        // environment, as AWS_REGION does in CI) says the subcommand is missing. Both exit 2.
        let got = Cli::try_parse_from(["ecs-ship"])
            .map(drop)
            .map_err(|e| e.kind());
        assert!(
            matches!(
                got,
                Err(DisplayHelpOnMissingArgumentOrSubcommand | MissingSubcommand)
            ),
            "ecs-ship with no subcommand: {got:?}"
        );
    }
}
