//! ECS calls: services, task definitions. Converts SDK shapes into `core` documents.

use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types::TaskDefinitionField;
use serde::Serialize;

use super::{Aws, remote};
use crate::core::taskdef::{self, TaskDef};
use crate::error::{Error, Result};

/// What `doctor` and `taskdef` need to know about a service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceInfo {
    pub cluster: String,
    pub service: String,
    pub arn: String,
    pub status: String,
    pub task_definition: String,
    pub desired_count: i32,
    pub running_count: i32,
    pub deployment_controller: String,
}

pub async fn describe_service(aws: &Aws, cluster: &str, service: &str) -> Result<ServiceInfo> {
    let out = aws
        .ecs()
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| {
            if e.code() == Some("ClusterNotFoundException") {
                Error::remote(format!("cluster `{cluster}` not found in {}", aws.region()))
            } else {
                remote(
                    format!("failed to describe service `{service}` in cluster `{cluster}`"),
                    e,
                )
            }
        })?;
    let Some(s) = out.services().first() else {
        let reason = out
            .failures()
            .first()
            .and_then(|f| f.reason())
            .unwrap_or("MISSING");
        return Err(Error::remote(format!(
            "service `{service}` not found in cluster `{cluster}` ({reason}) in {}",
            aws.region()
        )));
    };
    Ok(ServiceInfo {
        cluster: cluster.to_owned(),
        service: s.service_name().unwrap_or(service).to_owned(),
        arn: s.service_arn().unwrap_or_default().to_owned(),
        status: s.status().unwrap_or_default().to_owned(),
        task_definition: s.task_definition().unwrap_or_default().to_owned(),
        desired_count: s.desired_count(),
        running_count: s.running_count(),
        deployment_controller: s
            .deployment_controller()
            .map_or("ECS", |d| d.r#type().as_str())
            .to_owned(),
    })
}

/// A task definition read from ECS: its ARN and the document as describe-task-definition
/// prints it (tags included), not yet cleaned.
pub struct DescribedTaskDef {
    pub arn: String,
    pub document: TaskDef,
}

/// Reads `ident` (family, family:revision or ARN) with its tags.
pub async fn describe_task_definition(aws: &Aws, ident: &str) -> Result<DescribedTaskDef> {
    let out = aws
        .ecs()
        .describe_task_definition()
        .task_definition(ident)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| {
            // ECS answers a missing family or revision with a ClientException.
            if e.code() == Some("ClientException") {
                let detail = e.message().unwrap_or("not found").to_owned();
                Error::remote(format!(
                    "task definition `{ident}` not found in {}: {detail}",
                    aws.region()
                ))
            } else {
                remote(format!("failed to describe task definition `{ident}`"), e)
            }
        })?;
    let arn = out
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap_or(ident)
        .to_owned();
    let document = taskdef::from_describe_output(&out).map_err(|e| {
        Error::internal_with(
            format!("failed to read task definition `{ident}` as returned by ECS"),
            e,
        )
    })?;
    Ok(DescribedTaskDef { arn, document })
}

#[derive(Debug, Clone, Serialize)]
pub struct Registered {
    pub arn: String,
    pub family: String,
    pub revision: i32,
}

/// Registers `input`, after proving that the request carries every member of it.
#[expect(
    deprecated,
    reason = "inferenceAccelerators is deprecated in the model but still a field a document may carry: dropping it would lose it silently"
)]
pub async fn register_task_definition(
    aws: &Aws,
    input: RegisterTaskDefinitionInput,
) -> Result<Registered> {
    let family = input.family.clone().unwrap_or_default();
    let expected = taskdef::to_json(&input);
    let request = aws
        .ecs()
        .register_task_definition()
        .set_family(input.family)
        .set_task_role_arn(input.task_role_arn)
        .set_execution_role_arn(input.execution_role_arn)
        .set_network_mode(input.network_mode)
        .set_container_definitions(input.container_definitions)
        .set_volumes(input.volumes)
        .set_placement_constraints(input.placement_constraints)
        .set_requires_compatibilities(input.requires_compatibilities)
        .set_cpu(input.cpu)
        .set_memory(input.memory)
        .set_tags(input.tags)
        .set_pid_mode(input.pid_mode)
        .set_ipc_mode(input.ipc_mode)
        .set_proxy_configuration(input.proxy_configuration)
        .set_inference_accelerators(input.inference_accelerators)
        .set_ephemeral_storage(input.ephemeral_storage)
        .set_runtime_platform(input.runtime_platform)
        .set_enable_fault_injection(input.enable_fault_injection);
    // A member added to the SDK model after this list was written would be dropped here: refuse.
    let built = request.as_input().clone().build().map_err(|e| {
        Error::internal_with("failed to build the RegisterTaskDefinition request", e)
    })?;
    if taskdef::to_json(&built) != expected {
        return Err(Error::Internal {
            message: format!(
                "refusing to register `{family}`: the request would lose a field this ecs-ship does not copy (a newer SDK model?)"
            ),
            source: None,
        });
    }
    let out = request.send().await.map_err(|e| {
        remote(
            format!("failed to register task definition for family `{family}`"),
            e,
        )
    })?;
    let td = out.task_definition().ok_or_else(|| {
        Error::remote(format!(
            "ECS registered family `{family}` but returned no task definition"
        ))
    })?;
    Ok(Registered {
        arn: td.task_definition_arn().unwrap_or_default().to_owned(),
        family: td.family().unwrap_or(&family).to_owned(),
        revision: td.revision(),
    })
}
