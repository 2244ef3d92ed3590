//! CodeDeploy for ECS services with the CODE_DEPLOY deployment controller: find the deployment
//! group of a service, create a deployment from an AppSpec, read its status and lifecycle events,
//! stop it (https://docs.aws.amazon.com/codedeploy/latest/APIReference/Welcome.html).

use aws_sdk_codedeploy::types::{AppSpecContent, RevisionLocation, RevisionLocationType};

use super::{Aws, poll_error, remote};
use crate::core::codedeploy::{CodeDeployView, LifecycleEvent};
use crate::error::{Error, Result};
use crate::wait::PollError;

/// The application and deployment group that deploy `service` of `cluster`.
pub async fn find_group(aws: &Aws, cluster: &str, service: &str) -> Result<(String, String)> {
    let client = aws.codedeploy();
    let mut pages = client.list_applications().into_paginator().send();
    let mut applications = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| remote("failed to list the CodeDeploy applications", e))?;
        applications.extend(page.applications().iter().cloned());
    }
    for app in applications {
        let groups = client
            .list_deployment_groups()
            .application_name(&app)
            .send()
            .await
            .map_err(|e| {
                remote(
                    format!(
                        "failed to list the deployment groups of CodeDeploy application `{app}`"
                    ),
                    e,
                )
            })?;
        for batch in groups.deployment_groups().chunks(25) {
            let infos = client
                .batch_get_deployment_groups()
                .application_name(&app)
                .set_deployment_group_names(Some(batch.to_vec()))
                .send()
                .await
                .map_err(|e| {
                    remote(
                        format!(
                            "failed to read the deployment groups of CodeDeploy application `{app}`"
                        ),
                        e,
                    )
                })?;
            for info in infos.deployment_groups_info() {
                let deploys = info.ecs_services().iter().any(|s| {
                    s.service_name() == Some(service)
                        && s.cluster_name()
                            .is_some_and(|c| c == cluster || c.ends_with(&format!("/{cluster}")))
                });
                if let (true, Some(group)) = (deploys, info.deployment_group_name()) {
                    return Ok((app.clone(), group.to_owned()));
                }
            }
        }
    }
    Err(Error::input(format!(
        "no CodeDeploy deployment group deploys service `{service}` of cluster `{cluster}` in {}: name it with --codedeploy-application and --codedeploy-deployment-group",
        aws.region()
    )))
}

/// CreateDeployment with the AppSpec as its revision; the deployment's id.
pub async fn create(aws: &Aws, application: &str, group: &str, appspec: &str) -> Result<String> {
    let revision = RevisionLocation::builder()
        .revision_type(RevisionLocationType::AppSpecContent)
        .app_spec_content(AppSpecContent::builder().content(appspec).build())
        .build();
    let out = aws
        .codedeploy()
        .create_deployment()
        .application_name(application)
        .deployment_group_name(group)
        .revision(revision)
        .description("ecs-ship")
        .send()
        .await
        .map_err(|e| {
            remote(
                format!("failed to create a CodeDeploy deployment in `{application}`/`{group}`"),
                e,
            )
        })?;
    out.deployment_id().map(str::to_owned).ok_or_else(|| {
        Error::remote("CodeDeploy CreateDeployment answered without a deployment id")
    })
}

/// The deployment's status and its ECS target's lifecycle events.
pub async fn view(aws: &Aws, id: &str) -> std::result::Result<CodeDeployView, PollError> {
    let client = aws.codedeploy();
    let what = || format!("failed to read CodeDeploy deployment {id}");
    let got = client
        .get_deployment()
        .deployment_id(id)
        .send()
        .await
        .map_err(|e| poll_error(what(), e))?;
    let info = got.deployment_info();
    let mut view = CodeDeployView {
        deployment_id: id.to_owned(),
        status: info
            .and_then(|i| i.status())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        error: info.and_then(|i| i.error_information()).map(|e| {
            let code = e.code().map(|c| c.as_str()).unwrap_or("error");
            format!("{code}: {}", e.message().unwrap_or("no message"))
        }),
        events: Vec::new(),
        rolled_back_by: info
            .and_then(|i| i.rollback_info())
            .and_then(|r| r.rollback_deployment_id())
            .map(str::to_owned),
    };
    let targets = client
        .list_deployment_targets()
        .deployment_id(id)
        .send()
        .await
        .map_err(|e| poll_error(what(), e))?;
    let ids: Vec<String> = targets.target_ids().iter().take(25).cloned().collect();
    if ids.is_empty() {
        return Ok(view);
    }
    let described = client
        .batch_get_deployment_targets()
        .deployment_id(id)
        .set_target_ids(Some(ids))
        .send()
        .await
        .map_err(|e| poll_error(what(), e))?;
    for target in described.deployment_targets() {
        let Some(ecs) = target.ecs_target() else {
            continue;
        };
        for e in ecs.lifecycle_events() {
            let diagnostics = e.diagnostics().map(|d| {
                let code = d.error_code().map(|c| c.as_str()).unwrap_or("error");
                let mut text = format!("{code}: {}", d.message().unwrap_or("no message"));
                if let Some(tail) = d.log_tail().filter(|t| !t.trim().is_empty()) {
                    text.push_str(&format!(" (log tail: {})", tail.trim()));
                }
                text
            });
            view.events.push(LifecycleEvent {
                name: e.lifecycle_event_name().unwrap_or_default().to_owned(),
                status: e
                    .status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                diagnostics,
            });
        }
    }
    Ok(view)
}

/// StopDeployment; with `rollback`, CodeDeploy rolls back to the original task set.
pub async fn stop(aws: &Aws, id: &str, rollback: bool) -> Result<()> {
    aws.codedeploy()
        .stop_deployment()
        .deployment_id(id)
        .auto_rollback_enabled(rollback)
        .send()
        .await
        .map_err(|e| remote(format!("failed to stop CodeDeploy deployment {id}"), e))?;
    Ok(())
}
