//! Elastic Load Balancing v2: the health of a target group's targets, with ELB's reason codes
//! (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html).

use super::{Aws, remote};
use crate::core::status::{TargetGroupHealth, TargetHealth};
use crate::error::Result;

pub async fn target_health(aws: &Aws, target_group_arn: &str) -> Result<TargetGroupHealth> {
    let out = aws
        .elb()
        .describe_target_health()
        .target_group_arn(target_group_arn)
        .send()
        .await
        .map_err(|e| {
            remote(
                format!("failed to describe the health of target group `{target_group_arn}`"),
                e,
            )
        })?;
    let targets = out
        .target_health_descriptions()
        .iter()
        .map(|d| {
            let target = d.target();
            let health = d.target_health();
            TargetHealth {
                id: target.and_then(|t| t.id()).unwrap_or_default().to_owned(),
                port: target.and_then(|t| t.port()),
                state: health
                    .and_then(|h| h.state())
                    .map_or("unknown", |s| s.as_str())
                    .to_owned(),
                reason: health
                    .and_then(|h| h.reason())
                    .map(|r| r.as_str().to_owned()),
                description: health.and_then(|h| h.description()).map(str::to_owned),
            }
        })
        .collect();
    Ok(TargetGroupHealth {
        target_group_arn: target_group_arn.to_owned(),
        targets,
    })
}
