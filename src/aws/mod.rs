//! The only code that names aws-config or an SDK client. It builds one `SdkConfig` per run, for the
//! commands that need AWS, and converts between SDK types and `core` types.

pub mod codebuild;
pub mod codedeploy;
pub mod deployments;
pub mod ecr;
pub mod ecs;
pub mod elb;
pub mod events;
pub mod express;
pub mod logs;
pub mod raw;
pub mod sts;
pub mod tasks;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::core::credentials::{CredentialSource, SharedFile};
use crate::error::{Error, Result};

/// How to reach AWS: what the global flags say, in this layer's own terms.
#[derive(Debug, Clone)]
pub struct AwsOptions {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub max_attempts: u32,
    /// How long a TCP (and TLS) connection may take.
    pub connect_timeout: Duration,
    /// How long one attempt of a call may take, answer included; retries get their own.
    pub attempt_timeout: Duration,
}

impl Default for AwsOptions {
    fn default() -> Self {
        AwsOptions {
            region: None,
            profile: None,
            endpoint_url: None,
            max_attempts: 5,
            connect_timeout: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

/// Where this run's credentials come from, for the messages of authentication failures.
static CREDENTIALS: std::sync::OnceLock<CredentialSource> = std::sync::OnceLock::new();

/// The credential setup checked before the first call: the profile named must exist in a shared
/// file, and no credential variable may be set but empty.
fn check_credentials(options: &AwsOptions) -> Result<CredentialSource> {
    let env = |name: &str| std::env::var(name).ok();
    let named_by = if env("AWS_PROFILE").as_deref() == options.profile.as_deref() {
        "AWS_PROFILE"
    } else {
        "--profile"
    };
    let home = env("HOME").unwrap_or_default();
    let config = env("AWS_CONFIG_FILE").unwrap_or_else(|| format!("{home}/.aws/config"));
    let credentials =
        env("AWS_SHARED_CREDENTIALS_FILE").unwrap_or_else(|| format!("{home}/.aws/credentials"));
    let texts = [
        std::fs::read_to_string(&config).ok(),
        std::fs::read_to_string(&credentials).ok(),
    ];
    let files = [
        SharedFile {
            path: &config,
            text: texts[0].as_deref(),
        },
        SharedFile {
            path: &credentials,
            text: texts[1].as_deref(),
        },
    ];
    let profile = options.profile.as_deref().map(|p| (p, named_by));
    crate::core::credentials::check(env, profile, &files)
        .map_err(|problem| Error::input_with(problem.to_string(), problem))
}

/// Who a target is and where: a region, a profile, and a role assumed with the run's (or the
/// profile's) credentials.
#[derive(Debug, Clone, Default)]
pub struct TargetIdentity {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    /// The role session name (CloudTrail shows it).
    pub session_name: String,
}

/// Everything AWS calls need, built once.
#[derive(Clone, Debug)]
pub struct Aws {
    pub config: SdkConfig,
    /// Where calls go when not to AWS itself: the flag, else AWS_ENDPOINT_URL (for reporting).
    pub endpoint: Option<String>,
    ecs: std::sync::OnceLock<aws_sdk_ecs::Client>,
}

impl Aws {
    /// Loads the region chain, profile, endpoint and retry settings.
    pub async fn load(options: &AwsOptions) -> Result<Self> {
        // Pinned, so a dependency bump cannot silently change retry or timeout defaults.
        // Without these an endpoint that accepts the connection and never answers (a stalled
        // proxy, a black-holed VPC endpoint) holds a call - and the pipeline - for minutes.
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.attempt_timeout)
            .operation_attempt_timeout(options.attempt_timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::v2026_01_12())
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(options.max_attempts.max(1))
                    .with_max_backoff(Duration::from_secs(20)),
            )
            .timeout_config(timeouts);
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let source = check_credentials(options)?;
        let _ = CREDENTIALS.set(source);
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &options.endpoint_url {
            check_endpoint(url)?;
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(Error::input(
                "no AWS region: pass --region, set AWS_REGION, or set `region` in the AWS profile",
            ));
        }
        let endpoint = config.endpoint_url().map(str::to_owned);
        Ok(Aws {
            config,
            endpoint,
            ecs: std::sync::OnceLock::new(),
        })
    }

    /// AWS for one target of several: its region and profile over the run's, and its role assumed
    /// through STS AssumeRole. The assumed credentials are cached and fetched again shortly before
    /// they expire (aws-config's lazy identity cache), so a long wait never runs on expired ones.
    pub async fn for_target(options: &AwsOptions, target: &TargetIdentity) -> Result<Self> {
        let options = AwsOptions {
            region: target.region.clone().or_else(|| options.region.clone()),
            profile: target.profile.clone().or_else(|| options.profile.clone()),
            endpoint_url: target
                .endpoint_url
                .clone()
                .or_else(|| options.endpoint_url.clone()),
            ..options.clone()
        };
        let base = Aws::load(&options).await?;
        let Some(role) = &target.role_arn else {
            return Ok(base);
        };
        let mut assume = aws_config::sts::AssumeRoleProvider::builder(role)
            .session_name(&target.session_name)
            .configure(&base.config);
        if let Some(id) = &target.external_id {
            assume = assume.external_id(id);
        }
        let provider = assume.build().await;
        let config = base
            .config
            .into_builder()
            .credentials_provider(aws_sdk_ecs::config::SharedCredentialsProvider::new(
                provider,
            ))
            .build();
        Ok(Aws {
            config,
            endpoint: base.endpoint,
            ecs: std::sync::OnceLock::new(),
        })
    }

    pub fn region(&self) -> &str {
        self.config.region().map(Region::as_ref).unwrap_or_default()
    }

    /// The ECS client, made once: its connections are reused from call to call.
    pub fn ecs(&self) -> aws_sdk_ecs::Client {
        self.ecs
            .get_or_init(|| aws_sdk_ecs::Client::new(&self.config))
            .clone()
    }

    pub fn ecr(&self) -> aws_sdk_ecr::Client {
        aws_sdk_ecr::Client::new(&self.config)
    }

    pub fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.config)
    }

    pub fn elb(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::new(&self.config)
    }

    pub fn codedeploy(&self) -> aws_sdk_codedeploy::Client {
        aws_sdk_codedeploy::Client::new(&self.config)
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config)
    }
}

fn check_endpoint(url: &str) -> Result<()> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(Error::input(format!(
            "invalid --endpoint-url `{url}`: expected http://host:port or https://host"
        )))
    }
}

/// A remote failure that names what was being done - and what an authentication failure means -
/// with the SDK error itself as its source, typed, so its whole chain prints and callers can still
/// ask it what it is.
pub(crate) fn remote(
    what: impl Into<String>,
    err: impl std::error::Error
    + aws_smithy_types::error::metadata::ProvideErrorMetadata
    + Send
    + Sync
    + 'static,
) -> Error {
    let what = what.into();
    let what = match err.code().and_then(crate::core::credentials::explain_auth) {
        Some(meaning) => format!(
            "{what}: {meaning} (credentials: {})",
            CREDENTIALS
                .get()
                .map_or_else(|| "unknown".to_owned(), ToString::to_string)
        ),
        None => what,
    };
    Error::remote_with(what, err)
}

/// Sorts a failed poll: throttled, transient (the SDK's retries used up on a server error, a reset
/// connection or a call that timed out: what is watched goes on regardless, so polling goes on), or
/// fatal (access denied, a missing resource).
pub(crate) fn poll_error<E>(
    what: String,
    e: aws_sdk_ecs::error::SdkError<E>,
) -> crate::wait::PollError
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    use crate::wait::PollError;
    use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
    match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            PollError::Transient(
                remote(what, e)
                    .chain()
                    .to_string()
                    .replace("\n  caused by: ", ": "),
            )
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            if matches!(
                e.code(),
                Some("ThrottlingException" | "RequestLimitExceeded" | "TooManyRequestsException")
            ) {
                PollError::Throttled(e.message().unwrap_or("rate exceeded").to_owned())
            } else if status >= 500 {
                PollError::Transient(format!(
                    "HTTP {status} {}",
                    e.code().unwrap_or("server error")
                ))
            } else {
                PollError::Fatal(remote(what, e))
            }
        }
        _ => PollError::Fatal(remote(what, e)),
    }
}
