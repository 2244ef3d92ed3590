//! ECS calls: services, task definitions. Converts SDK shapes into `core` documents.

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types::{DesiredStatus, TaskDefinitionField};
use serde::Serialize;

use super::raw::{MergeCarried, RawBody};
use super::{Aws, remote};
use crate::core::carry::{self, Carried};
use crate::core::rollout::{
    Deployment, ServiceEvent, ServiceSnapshot, StoppedContainer, StoppedTask,
};
use crate::core::taskdef::{self, TaskDef};
use crate::error::{Error, Result};
use crate::wait::PollError;

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
    pub pending_count: i32,
    pub deployment_controller: String,
    pub launch_type: Option<String>,
    /// The target groups the service registers its tasks in.
    pub target_groups: Vec<String>,
    /// `deploymentConfiguration`: the strategy (ROLLING, BLUE_GREEN, LINEAR, CANARY), bake time,
    /// and each lifecycle hook as `PAUSE at POST_TEST_TRAFFIC_SHIFT`.
    pub strategy: Option<String>,
    pub bake_minutes: Option<i32>,
    pub lifecycle_hooks: Vec<String>,
    /// An ECS Express Mode service (`resourceManagementType` ECS).
    pub express: bool,
    /// The container and port its (first) load balancer sends traffic to.
    pub load_balancer: Option<(String, i32)>,
}

fn info_of(cluster: &str, requested: &str, s: &aws_sdk_ecs::types::Service) -> ServiceInfo {
    ServiceInfo {
        cluster: cluster.to_owned(),
        service: s.service_name().unwrap_or(requested).to_owned(),
        arn: s.service_arn().unwrap_or_default().to_owned(),
        status: s.status().unwrap_or_default().to_owned(),
        task_definition: s.task_definition().unwrap_or_default().to_owned(),
        desired_count: s.desired_count(),
        running_count: s.running_count(),
        pending_count: s.pending_count(),
        deployment_controller: s
            .deployment_controller()
            .map_or("ECS", |d| d.r#type().as_str())
            .to_owned(),
        launch_type: s.launch_type().map(|l| l.as_str().to_owned()),
        target_groups: s
            .load_balancers()
            .iter()
            .filter_map(|lb| lb.target_group_arn().map(str::to_owned))
            .collect(),
        strategy: s
            .deployment_configuration()
            .and_then(|c| c.strategy())
            .map(|st| st.as_str().to_owned()),
        bake_minutes: s
            .deployment_configuration()
            .and_then(|c| c.bake_time_in_minutes()),
        lifecycle_hooks: s
            .deployment_configuration()
            .map(|c| c.lifecycle_hooks())
            .unwrap_or_default()
            .iter()
            .map(|h| {
                let kind = h.target_type().map_or("AWS_LAMBDA", |t| t.as_str());
                let target = h
                    .hook_target_arn()
                    .map(|a| format!(" {a}"))
                    .unwrap_or_default();
                let stages: Vec<&str> = h.lifecycle_stages().iter().map(|st| st.as_str()).collect();
                format!("{kind}{target} at {}", stages.join(", "))
            })
            .collect(),
        express: s.resource_management_type().map(|t| t.as_str()) == Some("ECS"),
        load_balancer: s
            .load_balancers()
            .iter()
            .find_map(|lb| Some((lb.container_name()?.to_owned(), lb.container_port()?))),
    }
}

/// Each service with what `status` shows of it: its facts and its deployments and events, in
/// batches of 10 (DescribeServices' limit). A missing service is an error naming it.
pub async fn describe_services(
    aws: &Aws,
    cluster: &str,
    services: &[String],
) -> Result<Vec<(ServiceInfo, ServiceSnapshot)>> {
    let described = describe_services_found(aws, cluster, services).await?;
    match described.missing.first() {
        Some(m) => Err(Error::remote(format!(
            "service `{}` not found in cluster `{cluster}` ({}) in {}",
            m.service,
            m.reason,
            aws.region()
        ))),
        None => Ok(described.found),
    }
}

/// A service DescribeServices listed under its failures.
#[derive(Debug, Clone, Serialize)]
pub struct MissingService {
    pub service: String,
    /// MISSING, or the reason ECS gave.
    pub reason: String,
}

/// What DescribeServices found of the services asked for, and the ones it did not.
pub struct Described {
    pub found: Vec<(ServiceInfo, ServiceSnapshot)>,
    pub missing: Vec<MissingService>,
}

/// The services, ten per call, with the ones not found listed apart: one missing service does not
/// hide the others.
pub async fn describe_services_found(
    aws: &Aws,
    cluster: &str,
    services: &[String],
) -> Result<Described> {
    let client = aws.ecs();
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for batch in services.chunks(10) {
        let described = client
            .describe_services()
            .cluster(cluster)
            .set_services(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|e| describe_error(aws, cluster, batch.join(", ").as_str(), e))?;
        for f in described.failures() {
            let name = f.arn().map_or("", |a| a.rsplit('/').next().unwrap_or(a));
            missing.push(MissingService {
                service: name.to_owned(),
                reason: f.reason().unwrap_or("MISSING").to_owned(),
            });
        }
        for s in described.services() {
            let name = s.service_name().unwrap_or_default();
            out.push((info_of(cluster, name, s), snapshot(s)));
        }
    }
    Ok(Described {
        found: out,
        missing,
    })
}

fn describe_error(
    aws: &Aws,
    cluster: &str,
    service: &str,
    e: aws_sdk_ecs::error::SdkError<
        aws_sdk_ecs::operation::describe_services::DescribeServicesError,
    >,
) -> Error {
    if e.as_service_error()
        .is_some_and(|s| s.is_cluster_not_found_exception())
    {
        Error::remote(format!("cluster `{cluster}` not found in {}", aws.region()))
    } else {
        remote(
            format!("failed to describe service `{service}` in cluster `{cluster}`"),
            e,
        )
    }
}

/// The ARNs of the tasks with that desired status - of `service`, or of the whole cluster - page by
/// page, up to `max` (a service's: the first 100, what one DescribeTasks call takes).
async fn task_arns(
    aws: &Aws,
    cluster: &str,
    service: Option<&str>,
    status: DesiredStatus,
    max: usize,
) -> Result<Vec<String>> {
    let what = status.as_str().to_lowercase();
    let mut pages = aws
        .ecs()
        .list_tasks()
        .cluster(cluster)
        .set_service_name(service.map(str::to_owned))
        .desired_status(status)
        .into_paginator()
        .send();
    let mut arns = Vec::new();
    while arns.len() < max
        && let Some(page) = pages.next().await
    {
        let page = page.map_err(|e| {
            remote(
                match service {
                    Some(service) => {
                        format!("failed to list the {what} tasks of service `{service}`")
                    }
                    None => format!("failed to list the {what} tasks of cluster `{cluster}`"),
                },
                e,
            )
        })?;
        arns.extend(page.task_arns().iter().cloned());
    }
    arns.truncate(max);
    Ok(arns)
}

/// The image digest each container of the service's running tasks reports, by container name.
pub async fn running_digests(
    aws: &Aws,
    cluster: &str,
    service: &str,
) -> Result<Vec<(String, String)>> {
    let client = aws.ecs();
    let arns = task_arns(aws, cluster, Some(service), DesiredStatus::Running, 100).await?;
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let out = client
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns.into_iter().take(100).collect()))
        .send()
        .await
        .map_err(|e| {
            remote(
                format!("failed to describe the tasks of service `{service}`"),
                e,
            )
        })?;
    let mut digests: Vec<(String, String)> = Vec::new();
    for c in out.tasks().iter().flat_map(|t| t.containers()) {
        if let (Some(name), Some(digest)) = (c.name(), c.image_digest())
            && !digests.iter().any(|(n, _)| n == name)
        {
            digests.push((name.to_owned(), digest.to_owned()));
        }
    }
    Ok(digests)
}

pub async fn describe_service(aws: &Aws, cluster: &str, service: &str) -> Result<ServiceInfo> {
    let out = aws
        .ecs()
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| describe_error(aws, cluster, service, e))?;
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
    Ok(info_of(cluster, service, s))
}

/// A task definition read from ECS: its ARN and the document as describe-task-definition
/// prints it (tags included), not yet cleaned.
pub struct DescribedTaskDef {
    pub arn: String,
    pub document: TaskDef,
}

/// Reads `ident` (family, family:revision or ARN) with its tags; a missing one is an error.
pub async fn describe_task_definition(aws: &Aws, ident: &str) -> Result<DescribedTaskDef> {
    find_task_definition(aws, ident).await?.ok_or_else(|| {
        Error::remote(format!(
            "task definition `{ident}` not found in {}",
            aws.region()
        ))
    })
}

/// Reads `ident` with its tags; `None` when ECS has no such family or revision.
///
/// The document is read from the raw response, so fields newer than this SDK's model are kept.
pub async fn find_task_definition(aws: &Aws, ident: &str) -> Result<Option<DescribedTaskDef>> {
    let raw = RawBody::default();
    let sent = aws
        .ecs()
        .describe_task_definition()
        .task_definition(ident)
        .include(TaskDefinitionField::Tags)
        .customize()
        .interceptor(raw.clone())
        .send()
        .await;
    let out = match sent {
        Ok(out) => out,
        // ECS answers a missing family or revision with a ClientException.
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_client_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(remote(
                format!("failed to describe task definition `{ident}`"),
                e,
            ));
        }
    };
    let arn = out
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap_or(ident)
        .to_owned();
    let document = match raw.take() {
        Some(bytes) => taskdef::parse(&String::from_utf8_lossy(&bytes)),
        None => taskdef::from_describe_output(&out),
    }
    .map_err(|e| {
        Error::internal_with(
            format!("failed to read task definition `{ident}` as returned by ECS"),
            e,
        )
    })?;
    Ok(Some(DescribedTaskDef { arn, document }))
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
    carried: &[Carried],
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
    let raw = RawBody::default();
    let out = request
        .customize()
        .interceptor(MergeCarried(carried.to_vec()))
        .interceptor(raw.clone())
        .send()
        .await
        .map_err(|e| {
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
    let registered = Registered {
        arn: td.task_definition_arn().unwrap_or_default().to_owned(),
        family: td.family().unwrap_or(&family).to_owned(),
        revision: td.revision(),
    };
    if carried.is_empty() {
        return Ok(registered);
    }
    // Proof by read-back: every carried field must come back as it was sent.
    let returned = raw
        .take()
        .and_then(|b| taskdef::parse(&String::from_utf8_lossy(&b)).ok())
        .map(serde_json::Value::Object)
        .unwrap_or_default();
    let lost = carry::not_kept(&returned, carried);
    if lost.is_empty() {
        return Ok(registered);
    }
    let paths: Vec<String> = lost.iter().map(|c| format!("`{}`", c.path)).collect();
    let undone = match deregister_task_definition(aws, &registered.arn).await {
        Ok(()) => format!(
            "the revision {} it registered without it was deregistered",
            registered.arn
        ),
        Err(e) => format!(
            "deregistering the revision {} it registered without it failed too ({}): deregister it by hand",
            registered.arn,
            e.chain()
        ),
    };
    Err(Error::input(format!(
        "ECS did not keep {}: misspelt, or not valid for this task definition; {undone}",
        paths.join(", ")
    )))
}

/// DeregisterTaskDefinition (the revision stays describable as INACTIVE).
pub async fn deregister_task_definition(aws: &Aws, arn: &str) -> Result<()> {
    aws.ecs()
        .deregister_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| remote(format!("failed to deregister {arn}"), e))?;
    Ok(())
}

/// DescribeServices for up to any number of services, 10 per call; a service listed under
/// `failures` comes back with status MISSING.
pub async fn poll_services(
    aws: &Aws,
    cluster: &str,
    services: &[String],
) -> std::result::Result<Vec<ServiceSnapshot>, PollError> {
    let client = aws.ecs();
    let mut snapshots = Vec::new();
    for batch in services.chunks(10) {
        let out = client
            .describe_services()
            .cluster(cluster)
            .set_services(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|e| {
                super::poll_error(
                    format!("failed to describe services in cluster `{cluster}`"),
                    e,
                )
            })?;
        for s in out.services() {
            snapshots.push(snapshot(s));
        }
        for f in out.failures() {
            let name = f
                .arn()
                .map_or("", |a| a.rsplit('/').next().unwrap_or(a))
                .to_owned();
            snapshots.push(ServiceSnapshot {
                name,
                status: f.reason().unwrap_or("MISSING").to_owned(),
                task_definition: String::new(),
                desired: 0,
                running: 0,
                pending: 0,
                ..Default::default()
            });
        }
    }
    Ok(snapshots)
}

fn snapshot(s: &aws_sdk_ecs::types::Service) -> ServiceSnapshot {
    ServiceSnapshot {
        name: s.service_name().unwrap_or_default().to_owned(),
        status: s.status().unwrap_or_default().to_owned(),
        task_definition: s.task_definition().unwrap_or_default().to_owned(),
        desired: s.desired_count(),
        running: s.running_count(),
        pending: s.pending_count(),
        deployments: s
            .deployments()
            .iter()
            .map(|d| Deployment {
                id: d.id().unwrap_or_default().to_owned(),
                status: d.status().unwrap_or_default().to_owned(),
                task_definition: d.task_definition().unwrap_or_default().to_owned(),
                desired: d.desired_count(),
                pending: d.pending_count(),
                running: d.running_count(),
                failed_tasks: d.failed_tasks(),
                rollout_state: d.rollout_state().map(|r| r.as_str().to_owned()),
                rollout_state_reason: d.rollout_state_reason().map(str::to_owned),
            })
            .collect(),
        events: s
            .events()
            .iter()
            .map(|e| ServiceEvent {
                id: e.id().unwrap_or_default().to_owned(),
                created_at: e
                    .created_at()
                    .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                    .unwrap_or_default(),
                message: e.message().unwrap_or_default().to_owned(),
            })
            .collect(),
        current_service_deployment: s.current_service_deployment().map(str::to_owned),
        strategy: s
            .deployment_configuration()
            .and_then(|c| c.strategy())
            .map(|st| st.as_str().to_owned()),
        service_deployment: None,
        awaiting_service_deployment: None,
        codedeploy: None,
    }
}

/// What else UpdateService sets besides the revision.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    pub force_new_deployment: bool,
    pub desired_count: Option<i32>,
    /// TASK_DEFINITION, SERVICE or NONE: where the service's tasks take their tags from.
    pub propagate_tags: Option<String>,
}

/// UpdateService to exactly `task_definition` (an ARN, never a bare family).
pub async fn update_service(
    aws: &Aws,
    cluster: &str,
    service: &str,
    task_definition: &str,
    options: &UpdateOptions,
) -> Result<Option<String>> {
    let out = aws
        .ecs()
        .update_service()
        .cluster(cluster)
        .service(service)
        .task_definition(task_definition)
        .force_new_deployment(options.force_new_deployment)
        .set_desired_count(options.desired_count)
        .set_propagate_tags(
            options
                .propagate_tags
                .as_deref()
                .map(aws_sdk_ecs::types::PropagateTags::from),
        )
        .send()
        .await
        .map_err(|e| remote(format!("failed to update service `{service}` in cluster `{cluster}` to {task_definition}"), e))?;
    // The revision the service ran when ECS took the update: the newest deployment it replaced.
    let replaced = out
        .service()
        .map(|s| s.deployments())
        .unwrap_or_default()
        .iter()
        .filter(|d| d.status() == Some("ACTIVE"))
        .max_by_key(|d| d.created_at().map(|t| (t.secs(), t.subsec_nanos())))
        .and_then(|d| d.task_definition())
        .map(str::to_owned);
    Ok(replaced)
}

/// The most recent stopped tasks of `service` that ran `task_definition`, with each container's
/// exit code and reason (no log lines yet).
pub async fn stopped_tasks(
    aws: &Aws,
    cluster: &str,
    service: &str,
    task_definition: &str,
    limit: usize,
) -> Result<Vec<StoppedTask>> {
    let client = aws.ecs();
    let arns = task_arns(aws, cluster, Some(service), DesiredStatus::Stopped, 100).await?;
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let mut tasks = Vec::new();
    for batch in arns.chunks(100) {
        let out = client
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|e| {
                remote(
                    format!("failed to describe stopped tasks of service `{service}`"),
                    e,
                )
            })?;
        tasks.extend(
            out.tasks()
                .iter()
                .filter(|t| t.task_definition_arn() == Some(task_definition))
                .cloned(),
        );
    }
    tasks.sort_by_key(|t| std::cmp::Reverse(t.stopped_at().map(|d| d.secs())));
    Ok(tasks
        .iter()
        .take(limit)
        .map(|t| StoppedTask {
            task_id: t
                .task_arn()
                .and_then(|a| a.rsplit('/').next())
                .unwrap_or_default()
                .to_owned(),
            stopped_reason: t.stopped_reason().unwrap_or_default().to_owned(),
            stop_code: t.stop_code().map(|c| c.as_str().to_owned()),
            containers: t
                .containers()
                .iter()
                .map(|c| StoppedContainer {
                    name: c.name().unwrap_or_default().to_owned(),
                    exit_code: c.exit_code(),
                    reason: c.reason().map(str::to_owned),
                    log_stream: None,
                    log_group: None,
                    last_log_lines: Vec::new(),
                })
                .collect(),
        })
        .collect())
}

/// The ARNs of `family`'s revisions with `status` (ACTIVE or INACTIVE), exactly that family
/// (ListTaskDefinitions' familyPrefix also matches longer names), paginated.
pub async fn list_revisions(aws: &Aws, family: &str, status: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut pages = aws
        .ecs()
        .list_task_definitions()
        .family_prefix(family)
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::from(status))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            remote(
                format!("failed to list the {status} revisions of family `{family}`"),
                e,
            )
        })?;
        out.extend(
            page.task_definition_arns()
                .iter()
                .filter(|a| crate::core::prune::family_of(a) == family)
                .cloned(),
        );
    }
    Ok(out)
}

/// Every cluster ARN in the region.
pub async fn list_clusters(aws: &Aws) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut pages = aws.ecs().list_clusters().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| remote("failed to list clusters", e))?;
        out.extend(page.cluster_arns().iter().cloned());
    }
    Ok(out)
}

/// The revisions a cluster uses, each with who uses it: every deployment of every service (a
/// rollout in progress uses two), and every running or pending task.
pub async fn revisions_in_use(aws: &Aws, cluster: &str) -> Result<Vec<(String, String)>> {
    let client = aws.ecs();
    let mut services = Vec::new();
    let mut pages = client
        .list_services()
        .cluster(cluster)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            remote(
                format!("failed to list the services of cluster `{cluster}`"),
                e,
            )
        })?;
        services.extend(page.service_arns().iter().cloned());
    }
    let name = cluster.rsplit('/').next().unwrap_or(cluster);
    let mut used = Vec::new();
    for (info, snapshot) in describe_services(aws, cluster, &services).await? {
        let service = &info.service;
        for d in &snapshot.deployments {
            used.push((
                d.task_definition.clone(),
                format!("service {service} in {name} ({} deployment)", d.status),
            ));
        }
        used.push((
            info.task_definition.clone(),
            format!("service {service} in {name}"),
        ));
    }
    // ListTasks' RUNNING includes the tasks still PENDING.
    let tasks = task_arns(aws, cluster, None, DesiredStatus::Running, usize::MAX).await?;
    for batch in tasks.chunks(100) {
        let out = client
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|e| {
                remote(
                    format!("failed to describe the tasks of cluster `{cluster}`"),
                    e,
                )
            })?;
        for t in out.tasks() {
            if let Some(td) = t.task_definition_arn() {
                let id = t
                    .task_arn()
                    .and_then(|a| a.rsplit('/').next())
                    .unwrap_or("?");
                used.push((
                    td.to_owned(),
                    format!("task {id} in {name} ({})", t.last_status().unwrap_or("?")),
                ));
            }
        }
    }
    Ok(used)
}

/// When a revision was registered.
pub async fn registered_at(aws: &Aws, arn: &str) -> Result<Option<i64>> {
    let out = aws
        .ecs()
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(|e| remote(format!("failed to describe {arn}"), e))?;
    Ok(out
        .task_definition()
        .and_then(|t| t.registered_at())
        .map(|d| d.secs()))
}

/// DeleteTaskDefinitions for up to 10 INACTIVE revisions; returns the failures as text.
pub async fn delete_task_definitions(aws: &Aws, arns: &[String]) -> Result<Vec<String>> {
    let out = aws
        .ecs()
        .delete_task_definitions()
        .set_task_definitions(Some(arns.to_vec()))
        .send()
        .await
        .map_err(|e| remote("failed to delete task definitions", e))?;
    Ok(out
        .failures()
        .iter()
        .map(|f| {
            format!(
                "{}: {}",
                f.arn().unwrap_or("?"),
                f.reason().or(f.detail()).unwrap_or("no reason given")
            )
        })
        .collect())
}
