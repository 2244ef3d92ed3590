//! `status`: where services stand, in one read-only pass - what that team's `ttc-resolve` script
//! gathered with seven CLI calls: the service and its deployments, the revision it runs and the
//! family's latest, the image (digest) and log group of each container, the repository's recent
//! images when it is ECR, the health of the load balancer's targets with ELB's reasons, and the
//! last events. A part that cannot be read becomes a warning in the report, never a missing report.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::Session;
use crate::aws::deployments::{IAM_HINT, ReadError};
use crate::aws::ecs::MissingService;
use crate::aws::{self, Aws};
use crate::core::deployment::ServiceDeploymentView;
use crate::core::image_ref::ImageRef;
use crate::core::logs;
use crate::core::rollout::{Deployment, ServiceEvent, deployment_line, short_arn};
use crate::core::status::{ContainerImage, RepositoryImage, TargetGroupHealth, running_digest};
use crate::core::taskdef::container_names;
use crate::error::{Error, Result};

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub cluster: String,
    pub services: Vec<ServiceStatus>,
    /// The services asked for that the cluster does not have.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<MissingService>,
}

#[derive(Debug, Serialize)]
pub struct ServiceStatus {
    pub service: String,
    pub status: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub launch_type: Option<String>,
    /// The revision the service runs.
    pub task_definition: String,
    /// The family's latest ACTIVE revision.
    pub latest_revision: Option<String>,
    pub deployments: Vec<Deployment>,
    /// Newest first.
    pub events: Vec<ServiceEvent>,
    pub containers: Vec<ContainerImage>,
    pub repositories: Vec<RepositoryImages>,
    pub target_groups: Vec<TargetGroupHealth>,
    /// How the service deploys: ROLLING, BLUE_GREEN, LINEAR or CANARY (absent: ROLLING).
    pub strategy: Option<String>,
    pub bake_minutes: Option<i32>,
    pub lifecycle_hooks: Vec<String>,
    /// An ECS Express Mode service's URLs (its ingress endpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub express: Option<crate::aws::express::ExpressService>,
    /// Its newest service deployments, newest first: the current one and how the last ones ended.
    pub service_deployments: Vec<ServiceDeploymentView>,
    /// What could not be read, and why.
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct RepositoryImages {
    pub repository: String,
    pub images: Vec<RepositoryImage>,
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.services {
            write!(f, "{s}")?;
        }
        for m in &self.missing {
            writeln!(
                f,
                "{}: not found in cluster `{}` ({})",
                m.service, self.cluster, m.reason
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for ServiceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let launch = self
            .launch_type
            .as_deref()
            .map(|l| format!(", {l}"))
            .unwrap_or_default();
        writeln!(
            f,
            "{}: {}, {} desired, {} running, {} pending{launch}",
            self.service, self.status, self.desired, self.running, self.pending
        )?;
        let latest = match &self.latest_revision {
            Some(l) if *l == self.task_definition => " (the family's latest)".to_owned(),
            Some(l) => format!(" (the family's latest is {})", short_arn(l)),
            None => String::new(),
        };
        writeln!(
            f,
            "  revision    {}{latest}",
            short_arn(&self.task_definition)
        )?;
        for d in &self.deployments {
            writeln!(f, "  deployment  {}", deployment_line(d))?;
        }
        if let Some(express) = &self.express {
            writeln!(
                f,
                "  express     ECS Express Mode service ({}), image {}",
                express.status.as_deref().unwrap_or("status unknown"),
                express.image.as_deref().unwrap_or("unknown")
            )?;
            for url in &express.urls {
                writeln!(f, "  url         {url}")?;
            }
        }
        let bake = self
            .bake_minutes
            .map(|m| format!(", bake time {m}m"))
            .unwrap_or_default();
        writeln!(
            f,
            "  strategy    {}{bake}",
            self.strategy.as_deref().unwrap_or("ROLLING")
        )?;
        for h in &self.lifecycle_hooks {
            writeln!(f, "  hook        {h}")?;
        }
        for (i, d) in self.service_deployments.iter().enumerate() {
            let label = if i == 0 && !d.is_over() {
                "current"
            } else {
                "earlier"
            };
            writeln!(f, "  {label:<11} {}", service_deployment_line(d))?;
        }
        for c in &self.containers {
            let digest = match (&c.digest, c.image.contains('@')) {
                (_, true) | (None, _) => String::new(),
                (Some(d), false) => format!(" ({d})"),
            };
            writeln!(f, "  container   {} runs {}{digest}", c.container, c.image)?;
            match &c.awslogs {
                Some(l) => writeln!(
                    f,
                    "  logs        {} -> awslogs {} ({}), streams {}",
                    c.container,
                    l.group,
                    l.region,
                    l.stream(&c.container, "<task-id>")
                )?,
                None => writeln!(f, "  logs        {} -> not awslogs", c.container)?,
            }
        }
        for group in &self.target_groups {
            writeln!(f, "  {}", group.summary())?;
        }
        for repo in &self.repositories {
            writeln!(f, "  recent images of {}:", repo.repository)?;
            for i in &repo.images {
                writeln!(
                    f,
                    "    {}  {}  {}",
                    i.pushed_at.as_deref().unwrap_or("-"),
                    i.digest,
                    i.tags.join(", ")
                )?;
            }
        }
        if !self.events.is_empty() {
            writeln!(f, "  last events:")?;
            for e in self.events.iter().rev() {
                writeln!(f, "    {} {}", e.created_at, e.message)?;
            }
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        Ok(())
    }
}

/// `sd-2 BLUE_GREEN IN_PROGRESS, stage BAKE_TIME: web:11 -> web:12, created 2026-...`
fn service_deployment_line(d: &ServiceDeploymentView) -> String {
    let from = d
        .source_task_definitions
        .iter()
        .map(|t| short_arn(t))
        .collect::<Vec<_>>()
        .join(", ");
    let to = d
        .target_task_definition
        .as_deref()
        .map(short_arn)
        .unwrap_or("?");
    let mut line = format!(
        "{} {}: {} -> {to}",
        d.id(),
        d.state(),
        if from.is_empty() { "-" } else { &from }
    );
    if let Some(at) = &d.created_at {
        line.push_str(&format!(", created {at}"));
    }
    if d.status.starts_with("ROLLBACK") || d.status == "STOPPED" {
        line.push_str(&format!(" ({})", d.failure_reason()));
    }
    if let Some(hook) = d.awaiting_hook() {
        line.push_str(&format!("; {}", hook.line()));
    }
    line
}

/// The health of each target group the service registers in; a group that cannot be read is a
/// warning.
pub async fn target_groups(aws: &Aws, arns: &[String]) -> (Vec<TargetGroupHealth>, Vec<String>) {
    let mut groups = Vec::new();
    let mut warnings = Vec::new();
    for arn in arns {
        match aws::elb::target_health(aws, arn).await {
            Ok(g) => groups.push(g),
            Err(e) => warnings.push(e.chain().to_string().replace("\n  caused by: ", ": ")),
        }
    }
    (groups, warnings)
}

/// One service's status: its revision and the family's latest, each container's image and log
/// group, recent ECR images, target health; what cannot be read is a warning.
async fn service_status(
    aws: &Aws,
    cluster: &str,
    info: aws::ecs::ServiceInfo,
    snapshot: crate::core::rollout::ServiceSnapshot,
) -> ServiceStatus {
    let mut warnings = Vec::new();
    let (document, digests, (target_groups, tg_warnings), recent) = tokio::join!(
        aws::ecs::describe_task_definition(aws, &info.task_definition),
        aws::ecs::running_digests(aws, cluster, &info.service),
        target_groups(aws, &info.target_groups),
        super::deployments::recent(aws, cluster, &info.service, 5),
    );
    warnings.extend(tg_warnings);
    let express = if info.express {
        match crate::aws::express::describe(aws, &info.arn).await {
            Ok(e) => Some(e),
            Err(e) => {
                warnings.push(format!("Express service: {e}"));
                None
            }
        }
    } else {
        None
    };
    let service_deployments = recent.unwrap_or_else(|e| {
        warnings.push(match e {
            ReadError::Unavailable(why) => {
                format!("service deployments: unavailable ({why}); {IAM_HINT}")
            }
            ReadError::Poll(e) => format!("service deployments: {}", e.describe()),
        });
        Vec::new()
    });
    let digests = digests.unwrap_or_else(|e| {
        warnings.push(format!("running tasks: {e}"));
        Vec::new()
    });
    let mut containers = Vec::new();
    let mut latest_revision = None;
    let mut repositories: Vec<RepositoryImages> = Vec::new();
    match document {
        Ok(described) => {
            let doc = &described.document;
            for name in container_names(doc) {
                let image = container_image(doc, &name);
                let task_digest = digests
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, d)| d.as_str());
                containers.push(ContainerImage {
                    digest: running_digest(&image, task_digest),
                    awslogs: logs::awslogs_target(doc, &name),
                    container: name,
                    image,
                });
            }
            let family = doc
                .get("family")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match aws::ecs::find_task_definition(aws, family).await {
                Ok(latest) => latest_revision = latest.map(|l| l.arn),
                Err(e) => warnings.push(format!("latest revision of `{family}`: {e}")),
            }
            for c in &containers {
                let Some(repo) = ImageRef::parse(&c.image).ok().and_then(|r| r.ecr()) else {
                    continue;
                };
                let name = format!(
                    "{}.dkr.ecr.{}.amazonaws.com/{}",
                    repo.registry_id, repo.region, repo.name
                );
                if repositories.iter().any(|r| r.repository == name) {
                    continue;
                }
                match aws::ecr::recent_images(aws, &repo, 5).await {
                    Ok(images) => repositories.push(RepositoryImages {
                        repository: name,
                        images,
                    }),
                    Err(e) => warnings.push(e.to_string()),
                }
            }
        }
        Err(e) => warnings.push(format!("revision {}: {e}", info.task_definition)),
    }
    ServiceStatus {
        service: info.service,
        status: info.status,
        desired: info.desired_count,
        running: info.running_count,
        pending: info.pending_count,
        launch_type: info.launch_type,
        task_definition: info.task_definition,
        latest_revision,
        deployments: snapshot.deployments,
        events: snapshot.events.into_iter().take(5).collect(),
        containers,
        repositories,
        target_groups,
        strategy: info.strategy,
        bake_minutes: info.bake_minutes,
        lifecycle_hooks: info.lifecycle_hooks,
        express,
        service_deployments,
        warnings,
    }
}

/// Reads the status of each service (read-only); the error names the services not found, once
/// the report shows the others.
pub async fn status(
    session: &Session,
    cluster: &str,
    services: &[String],
) -> Result<(StatusReport, Option<Error>)> {
    let aws = session.aws().await?;
    let described = aws::ecs::describe_services_found(aws, cluster, services).await?;
    let mut out = Vec::new();
    for (info, snapshot) in described.found {
        out.push(service_status(aws, cluster, info, snapshot).await);
    }
    let failure = (!described.missing.is_empty()).then(|| {
        let names: Vec<&str> = described
            .missing
            .iter()
            .map(|m| m.service.as_str())
            .collect();
        Error::remote(format!(
            "{} of {} services not found in cluster `{cluster}` in {}: {}",
            names.len(),
            services.len(),
            aws.region(),
            names.join(", ")
        ))
    });
    let report = StatusReport {
        cluster: cluster.to_owned(),
        services: out,
        missing: described.missing,
    };
    Ok((report, failure))
}

fn container_image(doc: &crate::core::taskdef::TaskDef, name: &str) -> String {
    doc.get("containerDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|c| c.get("image"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

impl crate::output::Report for StatusReport {}
