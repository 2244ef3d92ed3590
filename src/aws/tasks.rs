//! One-off tasks: how a service runs its tasks (network, launch type or capacity providers,
//! platform version), RunTask, DescribeTasks and StopTask. SDK shapes become `core::task` ones.

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride,
    KeyValuePair, LaunchType, NetworkConfiguration, TaskOverride,
};
use serde::Serialize;

use super::{Aws, poll_error, remote};
use crate::core::task::{ContainerState, TaskSnapshot, failure_text};
use crate::error::{Error, Result};
use crate::wait::PollError;

/// Where and how a task runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Placement {
    pub launch_type: Option<String>,
    /// (capacity provider, weight, base)
    pub capacity_providers: Vec<(String, i32, i32)>,
    pub platform_version: Option<String>,
    pub network: Option<Network>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Network {
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub assign_public_ip: bool,
}

/// The revision a service runs and how it places its tasks.
pub async fn service_placement(
    aws: &Aws,
    cluster: &str,
    service: &str,
) -> Result<(String, Placement)> {
    let out = aws
        .ecs()
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| {
            remote(
                format!("failed to describe service `{service}` in cluster `{cluster}`"),
                e,
            )
        })?;
    let Some(s) = out
        .services()
        .first()
        .filter(|s| s.status() != Some("INACTIVE"))
    else {
        return Err(Error::remote(format!(
            "service `{service}` not found in cluster `{cluster}` in {}",
            aws.region()
        )));
    };
    let network = s
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .map(|v| Network {
            subnets: v.subnets().to_vec(),
            security_groups: v.security_groups().to_vec(),
            assign_public_ip: v.assign_public_ip() == Some(&AssignPublicIp::Enabled),
        });
    Ok((
        s.task_definition().unwrap_or_default().to_owned(),
        Placement {
            launch_type: s.launch_type().map(|l| l.as_str().to_owned()),
            capacity_providers: s
                .capacity_provider_strategy()
                .iter()
                .map(|c| (c.capacity_provider().to_owned(), c.weight(), c.base()))
                .collect(),
            platform_version: s.platform_version().map(str::to_owned),
            network,
        },
    ))
}

/// What RunTask is asked.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub cluster: String,
    pub task_definition: String,
    pub placement: Placement,
    /// The container whose command or environment is overridden.
    pub container: Option<String>,
    pub command: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub started_by: String,
}

/// Starts one task; ECS's refusal (`failures[]`) is a rollout failure with its reason.
pub async fn run_task(aws: &Aws, request: &RunRequest) -> Result<TaskSnapshot> {
    let p = &request.placement;
    let mut call = aws
        .ecs()
        .run_task()
        .cluster(&request.cluster)
        .task_definition(&request.task_definition)
        .count(1)
        .started_by(&request.started_by)
        .set_platform_version(p.platform_version.clone());
    if p.capacity_providers.is_empty() {
        call = call.set_launch_type(p.launch_type.as_deref().map(LaunchType::from));
    }
    for (name, weight, base) in &p.capacity_providers {
        let item = CapacityProviderStrategyItem::builder()
            .capacity_provider(name)
            .weight(*weight)
            .base(*base)
            .build()
            .map_err(|e| Error::internal_with("a capacity provider item did not build", e))?;
        call = call.capacity_provider_strategy(item);
    }
    if let Some(n) = &p.network {
        let vpc = AwsVpcConfiguration::builder()
            .set_subnets(Some(n.subnets.clone()))
            .set_security_groups((!n.security_groups.is_empty()).then(|| n.security_groups.clone()))
            .assign_public_ip(if n.assign_public_ip {
                AssignPublicIp::Enabled
            } else {
                AssignPublicIp::Disabled
            })
            .build()
            .map_err(|e| Error::internal_with("the network configuration did not build", e))?;
        call = call.network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(vpc)
                .build(),
        );
    }
    if let Some(container) = &request.container
        && (request.command.is_some() || !request.env.is_empty())
    {
        let mut o = ContainerOverride::builder()
            .name(container)
            .set_command(request.command.clone());
        for (k, v) in &request.env {
            o = o.environment(KeyValuePair::builder().name(k).value(v).build());
        }
        call = call.overrides(
            TaskOverride::builder()
                .container_overrides(o.build())
                .build(),
        );
    }
    let out = call.send().await.map_err(|e| {
        remote(
            format!(
                "failed to run a task of {} in cluster `{}` (the caller needs ecs:RunTask and iam:PassRole on the task's roles)",
                request.task_definition, request.cluster
            ),
            e,
        )
    })?;
    if let Some(task) = out.tasks().first() {
        return Ok(snapshot(task));
    }
    let reasons: Vec<String> = out
        .failures()
        .iter()
        .map(|f| failure_text(f.arn(), f.reason(), f.detail()))
        .collect();
    Err(Error::RolloutFailed(format!(
        "ECS did not start the task: {}",
        if reasons.is_empty() {
            "RunTask answered with neither a task nor a failure".to_owned()
        } else {
            reasons.join("; ")
        }
    )))
}

pub fn snapshot(t: &aws_sdk_ecs::types::Task) -> TaskSnapshot {
    TaskSnapshot {
        arn: t.task_arn().unwrap_or_default().to_owned(),
        last_status: t.last_status().unwrap_or_default().to_owned(),
        stopped_reason: t.stopped_reason().map(str::to_owned),
        stop_code: t.stop_code().map(|c| c.as_str().to_owned()),
        containers: t
            .containers()
            .iter()
            .map(|c| ContainerState {
                name: c.name().unwrap_or_default().to_owned(),
                last_status: c.last_status().unwrap_or_default().to_owned(),
                exit_code: c.exit_code(),
                reason: c.reason().map(str::to_owned),
                essential: false,
            })
            .collect(),
    }
}

/// The task as it is now; a failed call is sorted as the rollout wait sorts its own.
pub async fn describe_task(
    aws: &Aws,
    cluster: &str,
    arn: &str,
) -> std::result::Result<TaskSnapshot, PollError> {
    let out = aws
        .ecs()
        .describe_tasks()
        .cluster(cluster)
        .tasks(arn)
        .send()
        .await
        .map_err(|e| {
            poll_error(
                format!("failed to describe the task in cluster `{cluster}`"),
                e,
            )
        })?;
    out.tasks().first().map(snapshot).ok_or_else(|| {
        PollError::Fatal(Error::remote(format!(
            "task {arn} is not known to ECS any more ({})",
            out.failures()
                .first()
                .map(|f| failure_text(f.arn(), f.reason(), f.detail()))
                .unwrap_or_else(|| "no failure given".into())
        )))
    })
}

pub async fn stop_task(aws: &Aws, cluster: &str, arn: &str, reason: &str) -> Result<()> {
    aws.ecs()
        .stop_task()
        .cluster(cluster)
        .task(arn)
        .reason(reason)
        .send()
        .await
        .map_err(|e| remote(format!("failed to stop task {arn}"), e))?;
    Ok(())
}
