//! One run's connections: AWS configuration loaded on first use (so offline commands never touch
//! it, and a command that needs it loads it once), and the Docker engine's address.

use tokio::sync::OnceCell;

use crate::aws::{Aws, AwsOptions};
use crate::docker::{self, Engine};
use crate::error::Result;

pub struct Session {
    aws_options: AwsOptions,
    aws: OnceCell<Aws>,
    pub docker_host: Option<String>,
    /// Only warnings and errors on stderr (progress views stay quiet too).
    pub quiet: bool,
    /// Print secret-looking values in clear (`--show-values`).
    pub show_values: bool,
    /// How long a build or push stream may stay silent.
    pub idle_timeout: std::time::Duration,
    /// Every --region given: deploy, release and status make a target of each.
    pub regions: Vec<String>,
}

impl Session {
    pub fn new(aws_options: AwsOptions, docker_host: Option<String>, quiet: bool) -> Self {
        Session {
            aws_options,
            aws: OnceCell::new(),
            docker_host,
            quiet,
            show_values: false,
            idle_timeout: std::time::Duration::from_secs(600),
            regions: Vec::new(),
        }
    }

    /// The same run for one target of several: its own AWS (region, identity), the rest shared.
    pub fn for_target(&self, aws: Aws) -> Session {
        Session {
            aws_options: self.aws_options.clone(),
            aws: OnceCell::new_with(Some(aws)),
            docker_host: self.docker_host.clone(),
            quiet: self.quiet,
            show_values: self.show_values,
            idle_timeout: self.idle_timeout,
            regions: self.regions.clone(),
        }
    }

    /// How this run reaches AWS, as the flags say.
    pub fn aws_options(&self) -> &AwsOptions {
        &self.aws_options
    }

    /// The AWS configuration, loaded the first time it is asked for.
    pub async fn aws(&self) -> Result<&Aws> {
        self.aws
            .get_or_try_init(|| Aws::load(&self.aws_options))
            .await
    }

    /// AWS for a quick check (`doctor`): one attempt of at most 5 s per call, so an endpoint that
    /// never answers is reported in seconds, not after every retry.
    pub async fn probe_aws(&self) -> Result<Aws> {
        let options = AwsOptions {
            max_attempts: 1,
            attempt_timeout: self
                .aws_options
                .attempt_timeout
                .min(std::time::Duration::from_secs(5)),
            connect_timeout: self
                .aws_options
                .connect_timeout
                .min(std::time::Duration::from_secs(3)),
            ..self.aws_options.clone()
        };
        Aws::load(&options).await
    }

    /// The region in use when AWS is loaded, else the one the flags name (offline rendering).
    pub fn known_region(&self) -> Option<String> {
        self.aws
            .get()
            .map(|a| a.region().to_owned())
            .or_else(|| self.aws_options.region.clone())
    }

    /// A connection to the Docker engine, its API version negotiated.
    pub async fn engine(&self) -> Result<Engine> {
        docker::connect(self.docker_host.as_deref(), docker::LONG_TIMEOUT).await
    }
}
