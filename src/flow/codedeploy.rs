//! Deploying a CODE_DEPLOY service: its CodeDeploy application and deployment group, the AppSpec
//! of the registered revision, CreateDeployment. The wait then follows the deployment's status and
//! lifecycle events (`deployments::Tracker`), and a cancel or a timed-out rollback stops it with
//! CodeDeploy's own rollback.

use serde::Serialize;
use tracing::info;

use crate::aws::ecs::ServiceInfo;
use crate::aws::{self, Aws};
use crate::error::{Error, Result};

/// How to find a CODE_DEPLOY service's deployment group, and the AppSpec's hooks.
#[derive(Debug, Clone, Default)]
pub struct CodeDeployOptions {
    pub application: Option<String>,
    pub deployment_group: Option<String>,
    pub appspec_hooks: Option<std::path::PathBuf>,
}

/// Where and how a CODE_DEPLOY service is deployed.
#[derive(Debug, Clone, Serialize)]
pub struct CodeDeployTarget {
    pub application: String,
    pub deployment_group: String,
    pub container: String,
    pub port: i32,
    #[serde(skip)]
    pub hooks: Option<serde_json::Value>,
    /// Once created.
    pub deployment_id: Option<String>,
}

/// The deployment group of the CODE_DEPLOY service `info`, its load balancer's container and port,
/// and the hooks file read: all checked before anything is registered.
pub async fn target(
    aws: &Aws,
    options: &CodeDeployOptions,
    info: &ServiceInfo,
) -> Result<CodeDeployTarget> {
    let Some((container, port)) = info.load_balancer.clone() else {
        return Err(Error::input(format!(
            "service `{}` uses the CODE_DEPLOY deployment controller but has no load balancer for CodeDeploy to shift traffic on (a container name and port): give the service one",
            info.service
        )));
    };
    let hooks = match &options.appspec_hooks {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::input_with(
                    format!("cannot read --appspec-hooks `{}`", path.display()),
                    e,
                )
            })?;
            Some(crate::core::codedeploy::parse_hooks(&text).map_err(|why| {
                Error::input(format!("--appspec-hooks `{}`: {why}", path.display()))
            })?)
        }
        None => None,
    };
    let (application, deployment_group) = match (&options.application, &options.deployment_group) {
        (Some(a), Some(g)) => (a.clone(), g.clone()),
        _ => aws::codedeploy::find_group(aws, &info.cluster, &info.service).await?,
    };
    info!(
        "service `{}` deploys through CodeDeploy: application `{application}`, deployment group `{deployment_group}`",
        info.service
    );
    Ok(CodeDeployTarget {
        application,
        deployment_group,
        container,
        port,
        hooks,
        deployment_id: None,
    })
}

/// CreateDeployment of `task_definition` with its AppSpec; the deployment's id.
pub async fn start(aws: &Aws, target: &CodeDeployTarget, task_definition: &str) -> Result<String> {
    let appspec = crate::core::codedeploy::appspec(
        task_definition,
        &target.container,
        target.port,
        target.hooks.as_ref(),
    );
    let id = aws::codedeploy::create(aws, &target.application, &target.deployment_group, &appspec)
        .await?;
    info!(
        "created CodeDeploy deployment {id} of {task_definition} (`{}`/`{}`, container {} port {})",
        target.application, target.deployment_group, target.container, target.port
    );
    Ok(id)
}
