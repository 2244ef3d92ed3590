//! Service deployments and service revisions: list, describe, continue and stop
//! (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListServiceDeployments.html,
//! API_DescribeServiceDeployments.html, API_DescribeServiceRevisions.html,
//! API_ContinueServiceDeployment.html, API_StopServiceDeployment.html).

use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::{
    DeploymentLifecycleHookAction, ServiceDeployment, StopServiceDeploymentStopType,
};
use aws_smithy_types::date_time::Format;

use super::{Aws, poll_error, remote};
use crate::core::deployment::{Hook, ServiceDeploymentView};
use crate::error::{Error, Result};
use crate::wait::PollError;

/// One line of ListServiceDeployments.
#[derive(Debug, Clone)]
pub struct Brief {
    pub arn: String,
    pub target_revision: Option<String>,
    /// Epoch seconds.
    pub created_at: Option<i64>,
}

/// Why service deployments cannot be read, or a poll that failed.
#[derive(Debug)]
pub enum ReadError {
    /// The endpoint does not know the operation, or the credentials may not call it: the wait
    /// falls back to DescribeServices. The text says which.
    Unavailable(String),
    Poll(PollError),
}

/// Whether a failed call means "this endpoint or role has no service deployments" rather than a
/// passing failure: access denied, an unknown operation (an older endpoint, an emulator), or a
/// server error without an error code (an endpoint that did not understand the request).
fn unavailable<E>(op: &str, e: &SdkError<E>) -> Option<String>
where
    E: ProvideErrorMetadata + std::error::Error,
{
    let status = match e {
        SdkError::ServiceError(service) => service.raw().status().as_u16(),
        // An answer that is not the JSON of an AWS error (an HTML error page).
        SdkError::ResponseError(response) if response.raw().status().as_u16() >= 400 => {
            let status = response.raw().status().as_u16();
            return Some(format!(
                "{op} failed with HTTP {status} and no AWS error in the answer"
            ));
        }
        _ => return None,
    };
    let code = e.code();
    let known = matches!(
        code,
        Some(
            "AccessDeniedException"
                | "AccessDenied"
                | "UnknownOperationException"
                | "InvalidAction"
                | "UnsupportedOperation"
                | "NotImplemented"
        )
    );
    if known || status == 404 || status == 501 || (status >= 500 && code.is_none()) {
        let what = code.map_or_else(|| format!("HTTP {status}"), str::to_owned);
        let message = e.message().map(|m| format!(": {m}")).unwrap_or_default();
        return Some(format!("{op} failed with {what}{message}"));
    }
    None
}

fn read_error<E>(op: &str, what: String, e: SdkError<E>) -> ReadError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match unavailable(op, &e) {
        Some(why) => ReadError::Unavailable(why),
        None => ReadError::Poll(poll_error(what, e)),
    }
}

/// No retries: an endpoint that does not know the operation answers the same each time, and the
/// fallback should not cost the SDK's backoff.
fn once() -> aws_sdk_ecs::config::Builder {
    aws_sdk_ecs::config::Builder::default()
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
}

/// The service's newest service deployments, newest first (at most `max`).
pub async fn list(
    aws: &Aws,
    cluster: &str,
    service: &str,
    max: i32,
) -> std::result::Result<Vec<Brief>, ReadError> {
    let out = aws
        .ecs()
        .list_service_deployments()
        .cluster(cluster)
        .service(service)
        .max_results(max)
        .customize()
        .config_override(once())
        .send()
        .await
        .map_err(|e| {
            read_error(
                "ListServiceDeployments",
                format!("failed to list the service deployments of `{service}`"),
                e,
            )
        })?;
    let mut briefs: Vec<Brief> = out
        .service_deployments()
        .iter()
        .map(|b| Brief {
            arn: b.service_deployment_arn().unwrap_or_default().to_owned(),
            target_revision: b.target_service_revision_arn().map(str::to_owned),
            created_at: b.created_at().map(|t| t.secs()),
        })
        .collect();
    // Newest first, whatever order the endpoint answers in.
    briefs.sort_by_key(|b| std::cmp::Reverse(b.created_at));
    Ok(briefs)
}

/// The service deployments with these ARNs (up to 20 a call).
pub async fn describe(
    aws: &Aws,
    arns: &[String],
) -> std::result::Result<Vec<ServiceDeploymentView>, ReadError> {
    let mut views = Vec::new();
    for batch in arns.chunks(20) {
        let out = aws
            .ecs()
            .describe_service_deployments()
            .set_service_deployment_arns(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|e| {
                read_error(
                    "DescribeServiceDeployments",
                    "failed to describe service deployments".to_owned(),
                    e,
                )
            })?;
        views.extend(out.service_deployments().iter().map(view));
    }
    Ok(views)
}

/// The task definition each service revision runs (up to 20 a call).
pub async fn revision_task_definitions(
    aws: &Aws,
    arns: &[String],
) -> std::result::Result<Vec<(String, String)>, ReadError> {
    let mut out = Vec::new();
    for batch in arns.chunks(20) {
        let described = aws
            .ecs()
            .describe_service_revisions()
            .set_service_revision_arns(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|e| {
                read_error(
                    "DescribeServiceRevisions",
                    "failed to describe service revisions".to_owned(),
                    e,
                )
            })?;
        for r in described.service_revisions() {
            if let (Some(arn), Some(td)) = (r.service_revision_arn(), r.task_definition()) {
                out.push((arn.to_owned(), td.to_owned()));
            }
        }
    }
    Ok(out)
}

fn rfc3339(t: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(Format::DateTime).ok())
}

fn view(d: &ServiceDeployment) -> ServiceDeploymentView {
    let config = d.deployment_configuration();
    let target = d.target_service_revision();
    ServiceDeploymentView {
        arn: d.service_deployment_arn().unwrap_or_default().to_owned(),
        status: d
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        status_reason: d.status_reason().map(str::to_owned),
        stage: d.lifecycle_stage().map(|s| s.as_str().to_owned()),
        strategy: config
            .and_then(|c| c.strategy())
            .map(|s| s.as_str().to_owned()),
        bake_minutes: config.and_then(|c| c.bake_time_in_minutes()),
        target_revision: target.and_then(|t| t.arn()).map(str::to_owned),
        target_task_definition: None,
        source_revisions: d
            .source_service_revisions()
            .iter()
            .filter_map(|r| r.arn().map(str::to_owned))
            .collect(),
        source_task_definitions: Vec::new(),
        target_running: target.map_or(0, |t| t.running_task_count()),
        target_requested: target.map_or(0, |t| t.requested_task_count()),
        production_traffic: target.and_then(|t| t.requested_production_traffic_weight()),
        test_traffic: target.and_then(|t| t.requested_test_traffic_weight()),
        rollback_reason: d.rollback().and_then(|r| r.reason()).map(str::to_owned),
        breaker: d
            .deployment_circuit_breaker()
            .map(|b| (b.failure_count(), b.threshold())),
        triggered_alarms: d
            .alarms()
            .map(|a| a.triggered_alarm_names().to_vec())
            .unwrap_or_default(),
        hooks: d
            .lifecycle_hook_details()
            .iter()
            .map(|h| Hook {
                id: h.hook_id().unwrap_or_default().to_owned(),
                target_type: h
                    .target_type()
                    .map_or("AWS_LAMBDA", |t| t.as_str())
                    .to_owned(),
                target_arn: h.target_arn().map(str::to_owned),
                status: h
                    .status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                expires_at: rfc3339(h.expires_at()),
                timeout_action: h.timeout_action().map(|a| a.as_str().to_owned()),
            })
            .collect(),
        created_at: rfc3339(d.created_at()),
        updated_at: rfc3339(d.updated_at()),
        finished_at: rfc3339(d.finished_at().or(d.stopped_at())),
    }
}

/// What ContinueServiceDeployment tells a hook: go on, or roll back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookAction {
    Continue,
    Rollback,
}

/// ContinueServiceDeployment: the hook `hook_id` (or the one awaiting action) goes on or rolls back.
pub async fn continue_deployment(
    aws: &Aws,
    arn: &str,
    hook_id: Option<&str>,
    action: HookAction,
) -> Result<()> {
    let action = match action {
        HookAction::Continue => DeploymentLifecycleHookAction::Continue,
        HookAction::Rollback => DeploymentLifecycleHookAction::Rollback,
    };
    aws.ecs()
        .continue_service_deployment()
        .service_deployment_arn(arn)
        .set_hook_id(hook_id.map(str::to_owned))
        .action(action.clone())
        .send()
        .await
        .map_err(|e| {
            remote(
                format!(
                    "ContinueServiceDeployment ({}) of {arn} failed",
                    action.as_str()
                ),
                e,
            )
        })?;
    Ok(())
}

/// How StopServiceDeployment ends a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// Back to the source revisions.
    Rollback,
    /// Leave the service where it stands.
    Abort,
}

pub async fn stop(aws: &Aws, arn: &str, kind: StopKind) -> Result<()> {
    let stop_type = match kind {
        StopKind::Rollback => StopServiceDeploymentStopType::Rollback,
        StopKind::Abort => StopServiceDeploymentStopType::Abort,
    };
    aws.ecs()
        .stop_service_deployment()
        .service_deployment_arn(arn)
        .stop_type(stop_type.clone())
        .send()
        .await
        .map_err(|e| {
            remote(
                format!(
                    "StopServiceDeployment ({}) of {arn} failed",
                    stop_type.as_str()
                ),
                e,
            )
        })?;
    Ok(())
}

impl ReadError {
    /// As an error of a one-off read (a command, not a poll).
    pub fn into_error(self, what: &str) -> Error {
        match self {
            ReadError::Unavailable(why) => Error::remote(format!(
                "cannot read the service deployments for {what}: {why}; {IAM_HINT}"
            )),
            ReadError::Poll(p) => p.into_error(what),
        }
    }
}

/// What to grant for service deployments to be read and steered.
pub const IAM_HINT: &str = "allow ecs:ListServiceDeployments, ecs:DescribeServiceDeployments and ecs:DescribeServiceRevisions (and ecs:ContinueServiceDeployment, ecs:StopServiceDeployment to steer them)";
