//! CloudWatch Logs: make sure the awslogs groups exist before the first task writes.

use aws_config::Region;

use super::{Aws, remote};
use crate::core::logs::LogGroup;
use crate::error::Result;

/// What happened to one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupOutcome {
    Created,
    Existed,
}

/// Creates `group` if it is missing (idempotent) and, when it creates it, sets its retention.
pub async fn ensure_group(
    aws: &Aws,
    group: &LogGroup,
    retention_days: Option<i32>,
) -> Result<GroupOutcome> {
    let config = aws_sdk_cloudwatchlogs::config::Builder::from(&aws.config)
        .region(Region::new(group.region.clone()))
        .build();
    let client = aws_sdk_cloudwatchlogs::Client::from_conf(config);
    let created = match client
        .create_log_group()
        .log_group_name(&group.name)
        .send()
        .await
    {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_already_exists_exception()) =>
        {
            false
        }
        Err(e) => {
            return Err(remote(
                format!(
                    "failed to create log group `{}` in {} (the caller needs logs:CreateLogGroup)",
                    group.name, group.region
                ),
                e,
            ));
        }
    };
    if created {
        if let Some(days) = retention_days {
            client
                .put_retention_policy()
                .log_group_name(&group.name)
                .retention_in_days(days)
                .send()
                .await
                .map_err(|e| {
                    remote(
                        format!("failed to set retention of log group `{}`", group.name),
                        e,
                    )
                })?;
        }
        Ok(GroupOutcome::Created)
    } else {
        Ok(GroupOutcome::Existed)
    }
}

/// The last `n` lines of a log stream, oldest first.
pub async fn tail(
    aws: &Aws,
    region: &str,
    group: &str,
    stream: &str,
    n: i32,
) -> Result<Vec<String>> {
    let config = aws_sdk_cloudwatchlogs::config::Builder::from(&aws.config)
        .region(Region::new(region.to_owned()))
        .build();
    let out = aws_sdk_cloudwatchlogs::Client::from_conf(config)
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .start_from_head(false)
        .limit(n)
        .send()
        .await
        .map_err(|e| {
            remote(
                format!("failed to read log stream `{stream}` of group `{group}`"),
                e,
            )
        })?;
    Ok(out
        .events()
        .iter()
        .filter_map(|e| e.message().map(str::to_owned))
        .collect())
}

/// One page of a log stream from `token` on (from the head when `None`), oldest first, and the
/// token to read on from. CloudWatch answers the same token again when there is nothing new.
pub async fn page(
    aws: &Aws,
    region: Option<&str>,
    group: &str,
    stream: &str,
    token: Option<&str>,
) -> Result<(Vec<String>, Option<String>)> {
    let client = match region {
        Some(region) => aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::config::Builder::from(&aws.config)
                .region(Region::new(region.to_owned()))
                .build(),
        ),
        None => aws.logs(),
    };
    let out = client
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .start_from_head(true)
        .set_next_token(token.map(str::to_owned))
        .send()
        .await
        .map_err(|e| {
            remote(
                format!("failed to read log stream `{stream}` of group `{group}`"),
                e,
            )
        })?;
    Ok((
        out.events()
            .iter()
            .filter_map(|e| e.message().map(|m| m.trim_end_matches('\n').to_owned()))
            .collect(),
        out.next_forward_token().map(str::to_owned),
    ))
}
