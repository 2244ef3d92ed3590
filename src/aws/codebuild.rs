//! CodeBuild: read a project and its last builds, start a build, poll it, stop it. SDK types become
//! this module's plain structs; decisions about them are `core::codebuild`'s.

use aws_sdk_codebuild::error::ProvideErrorMetadata;
use aws_sdk_codebuild::types::{EnvironmentVariable, EnvironmentVariableType};
use serde::Serialize;

use super::{Aws, poll_error, remote};
use crate::core::codebuild::{Phase, log_location};
use crate::error::{Error, Result};
use crate::wait::PollError;

/// A project, as `codebuild check` reports it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Project {
    pub name: String,
    pub arn: Option<String>,
    pub source_type: String,
    pub source_location: Option<String>,
    /// The branch, tag or commit builds check out when StartBuild names none.
    pub source_version: Option<String>,
    /// ProjectSource's `buildspec` member as it is (empty: the source's buildspec.yml).
    #[serde(skip)]
    pub buildspec: Option<String>,
    pub privileged: bool,
    pub environment_type: String,
    pub image: String,
    pub compute_type: String,
    pub service_role: Option<String>,
    pub logs: LogsConfig,
    pub timeout_minutes: Option<i32>,
    pub queued_timeout_minutes: Option<i32>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LogsConfig {
    /// ENABLED or DISABLED; CloudWatch Logs is on unless a project turns it off.
    pub cloudwatch: String,
    pub group: Option<String>,
    pub stream: Option<String>,
    pub s3: String,
    pub s3_location: Option<String>,
}

/// A build, as the follower and `check` report it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BuildInfo {
    pub id: String,
    pub arn: Option<String>,
    pub build_number: Option<i64>,
    pub status: String,
    pub current_phase: Option<String>,
    pub source_version: Option<String>,
    pub resolved_source_version: Option<String>,
    pub started: Option<String>,
    pub duration_seconds: Option<i64>,
    pub phases: Vec<Phase>,
    /// The CloudWatch Logs group and stream of the build, when it logs there.
    pub log_group: Option<String>,
    pub log_stream: Option<String>,
    pub deep_link: Option<String>,
    pub timeout_minutes: Option<i32>,
    pub queued_timeout_minutes: Option<i32>,
    /// Variables the buildspec exported (`env: exported-variables`).
    pub exported: Vec<(String, String)>,
}

fn client(aws: &Aws) -> aws_sdk_codebuild::Client {
    aws_sdk_codebuild::Client::new(&aws.config)
}

/// The project named `name` (or its ARN); `None` when CodeBuild has no such project.
pub async fn project(aws: &Aws, name: &str) -> Result<Option<Project>> {
    let out = client(aws)
        .batch_get_projects()
        .names(name)
        .send()
        .await
        .map_err(|e| {
            remote(
                format!(
                    "failed to read CodeBuild project `{name}` (the caller needs codebuild:BatchGetProjects)"
                ),
                e,
            )
        })?;
    let Some(p) = out.projects().first() else {
        return Ok(None);
    };
    let source = p.source();
    let env = p.environment();
    let logs = p.logs_config();
    let cw = logs.and_then(|l| l.cloud_watch_logs());
    let s3 = logs.and_then(|l| l.s3_logs());
    Ok(Some(Project {
        name: p.name().unwrap_or(name).to_owned(),
        arn: p.arn().map(str::to_owned),
        source_type: source
            .map(|s| s.r#type().as_str().to_owned())
            .unwrap_or_default(),
        source_location: source.and_then(|s| s.location()).map(str::to_owned),
        source_version: p.source_version().map(str::to_owned),
        buildspec: source.and_then(|s| s.buildspec()).map(str::to_owned),
        privileged: env.and_then(|e| e.privileged_mode()).unwrap_or(false),
        environment_type: env
            .map(|e| e.r#type().as_str().to_owned())
            .unwrap_or_default(),
        image: env.map(|e| e.image().to_owned()).unwrap_or_default(),
        compute_type: env
            .map(|e| e.compute_type().as_str().to_owned())
            .unwrap_or_default(),
        service_role: p.service_role().map(str::to_owned),
        logs: LogsConfig {
            cloudwatch: cw
                .map(|c| c.status().as_str().to_owned())
                .unwrap_or_else(|| "ENABLED".into()),
            group: cw.and_then(|c| c.group_name()).map(str::to_owned),
            stream: cw.and_then(|c| c.stream_name()).map(str::to_owned),
            s3: s3
                .map(|c| c.status().as_str().to_owned())
                .unwrap_or_else(|| "DISABLED".into()),
            s3_location: s3.and_then(|c| c.location()).map(str::to_owned),
        },
        timeout_minutes: p.timeout_in_minutes(),
        queued_timeout_minutes: p.queued_timeout_in_minutes(),
    }))
}

/// The last `n` builds of a project, newest first.
pub async fn recent_builds(aws: &Aws, project: &str, n: usize) -> Result<Vec<BuildInfo>> {
    let out = client(aws)
        .list_builds_for_project()
        .project_name(project)
        .sort_order(aws_sdk_codebuild::types::SortOrderType::Descending)
        .send()
        .await
        .map_err(|e| {
            remote(
                format!("failed to list the builds of CodeBuild project `{project}`"),
                e,
            )
        })?;
    let ids: Vec<String> = out.ids().iter().take(n).cloned().collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    builds(aws, &ids)
        .await
        .map_err(|e| e.into_error(&format!("the builds of `{project}`")))
}

/// What StartBuild overrides.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    pub project: String,
    pub source_version: Option<String>,
    pub env: Vec<(String, String)>,
    /// A buildspec's text, run instead of the project's.
    pub buildspec: Option<String>,
}

/// The environment overrides as StartBuild and StartBuildBatch take them.
fn env_overrides(options: &StartOptions) -> Result<Vec<EnvironmentVariable>> {
    options
        .env
        .iter()
        .map(|(name, value)| {
            EnvironmentVariable::builder()
                .name(name)
                .value(value)
                .r#type(EnvironmentVariableType::Plaintext)
                .build()
                .map_err(|e| Error::internal_with("an environment override did not build", e))
        })
        .collect()
}

/// A start refused, saying what it means: no such project, or the permission it needs.
fn start_error(
    options: &StartOptions,
    permission: &str,
    e: impl std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
) -> Error {
    let missing = e.code() == Some("ResourceNotFoundException");
    remote(
        if missing {
            format!(
                "CodeBuild project `{}` does not exist (in this account and region)",
                options.project
            )
        } else {
            format!(
                "failed to start a build of CodeBuild project `{}` (the caller needs codebuild:{permission})",
                options.project
            )
        },
        e,
    )
}

pub async fn start(aws: &Aws, options: &StartOptions) -> Result<BuildInfo> {
    let out = client(aws)
        .start_build()
        .project_name(&options.project)
        .set_source_version(options.source_version.clone())
        .set_buildspec_override(options.buildspec.clone())
        .set_environment_variables_override(Some(env_overrides(options)?).filter(|v| !v.is_empty()))
        .send()
        .await
        .map_err(|e| start_error(options, "StartBuild", e))?;
    out.build_value()
        .map(convert)
        .ok_or_else(|| Error::remote("StartBuild answered without a build"))
}

/// The builds with these ids; a poll's failure is sorted as the rollout wait sorts its own.
pub async fn builds(aws: &Aws, ids: &[String]) -> std::result::Result<Vec<BuildInfo>, PollError> {
    let out = client(aws)
        .batch_get_builds()
        .set_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|e| poll_error("failed to read the build".into(), e))?;
    Ok(out.builds().iter().map(convert).collect())
}

pub async fn stop(aws: &Aws, id: &str) -> Result<BuildInfo> {
    let out = client(aws)
        .stop_build()
        .id(id)
        .send()
        .await
        .map_err(|e| remote(format!("failed to stop build `{id}`"), e))?;
    out.build_value()
        .map(convert)
        .ok_or_else(|| Error::remote("StopBuild answered without a build"))
}

/// A batch build (StartBuildBatch): its status and its legs (build groups).
#[derive(Debug, Clone, Default, Serialize)]
pub struct BatchInfo {
    pub id: String,
    pub arn: Option<String>,
    pub status: String,
    pub current_phase: Option<String>,
    pub source_version: Option<String>,
    pub legs: Vec<Leg>,
}

/// One leg of a batch: a build group of the build list, matrix or graph.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Leg {
    pub identifier: String,
    pub depends_on: Vec<String>,
    /// The leg's build, once started: its id (`project:uuid`) and status.
    pub build_id: Option<String>,
    pub build_status: Option<String>,
    /// A failure of this leg does not fail the batch.
    pub ignore_failure: bool,
}

pub async fn start_batch(aws: &Aws, options: &StartOptions) -> Result<BatchInfo> {
    let out = client(aws)
        .start_build_batch()
        .project_name(&options.project)
        .set_source_version(options.source_version.clone())
        .set_buildspec_override(options.buildspec.clone())
        .set_environment_variables_override(Some(env_overrides(options)?).filter(|v| !v.is_empty()))
        .send()
        .await
        .map_err(|e| start_error(options, "StartBuildBatch", e))?;
    out.build_batch()
        .map(convert_batch)
        .ok_or_else(|| Error::remote("StartBuildBatch answered without a batch"))
}

/// The batch builds with these ids; a poll's failure is sorted as for one build.
pub async fn batches(aws: &Aws, ids: &[String]) -> std::result::Result<Vec<BatchInfo>, PollError> {
    let out = client(aws)
        .batch_get_build_batches()
        .set_ids(Some(ids.to_vec()))
        .send()
        .await
        .map_err(|e| poll_error("failed to read the batch build".into(), e))?;
    Ok(out.build_batches().iter().map(convert_batch).collect())
}

pub async fn stop_batch(aws: &Aws, id: &str) -> Result<BatchInfo> {
    let out = client(aws)
        .stop_build_batch()
        .id(id)
        .send()
        .await
        .map_err(|e| remote(format!("failed to stop batch build `{id}`"), e))?;
    out.build_batch()
        .map(convert_batch)
        .ok_or_else(|| Error::remote("StopBuildBatch answered without a batch"))
}

fn convert_batch(b: &aws_sdk_codebuild::types::BuildBatch) -> BatchInfo {
    BatchInfo {
        id: b.id().unwrap_or_default().to_owned(),
        arn: b.arn().map(str::to_owned),
        status: b
            .build_batch_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        current_phase: b.current_phase().map(str::to_owned),
        source_version: b.source_version().map(str::to_owned),
        legs: b
            .build_groups()
            .iter()
            .map(|g| {
                let summary = g.current_build_summary();
                Leg {
                    identifier: g.identifier().unwrap_or_default().to_owned(),
                    depends_on: g.depends_on().to_vec(),
                    // arn:aws:codebuild:REGION:ACCOUNT:build/PROJECT:UUID
                    build_id: summary
                        .and_then(|s| s.arn())
                        .map(|a| a.rsplit_once(":build/").map_or(a, |(_, id)| id).to_owned()),
                    build_status: summary
                        .and_then(|s| s.build_status())
                        .map(|s| s.as_str().to_owned()),
                    ignore_failure: g.ignore_failure(),
                }
            })
            .collect(),
    }
}

fn convert(b: &aws_sdk_codebuild::types::Build) -> BuildInfo {
    let time = |t: Option<&aws_sdk_codebuild::primitives::DateTime>| {
        t.and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
    };
    let start = time(b.start_time());
    let end = time(b.end_time());
    let logs = b.logs();
    let location =
        logs.and_then(|l| log_location(l.group_name(), l.stream_name(), l.cloud_watch_logs_arn()));
    BuildInfo {
        id: b.id().unwrap_or_default().to_owned(),
        arn: b.arn().map(str::to_owned),
        build_number: b.build_number(),
        status: b
            .build_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        current_phase: b.current_phase().map(str::to_owned),
        source_version: b.source_version().map(str::to_owned),
        resolved_source_version: b.resolved_source_version().map(str::to_owned),
        started: start.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        duration_seconds: match (start, end) {
            (Some(s), Some(e)) => Some((e - s).num_seconds()),
            _ => None,
        },
        phases: b
            .phases()
            .iter()
            .map(|p| Phase {
                phase: p
                    .phase_type()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
                status: p.phase_status().map(|s| s.as_str().to_owned()),
                duration_seconds: p.duration_in_seconds(),
                contexts: p
                    .contexts()
                    .iter()
                    .filter(|c| c.message().is_some_and(|m| !m.is_empty()))
                    .map(|c| {
                        format!(
                            "{}: {}",
                            c.status_code().unwrap_or("context"),
                            c.message().unwrap_or_default()
                        )
                    })
                    .collect(),
            })
            .collect(),
        log_group: location.as_ref().map(|(g, _)| g.clone()),
        log_stream: location.map(|(_, s)| s),
        deep_link: logs.and_then(|l| l.deep_link()).map(str::to_owned),
        timeout_minutes: b.timeout_in_minutes(),
        queued_timeout_minutes: b.queued_timeout_in_minutes(),
        exported: b
            .exported_environment_variables()
            .iter()
            .map(|v| {
                (
                    v.name().unwrap_or_default().to_owned(),
                    v.value().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
    }
}
