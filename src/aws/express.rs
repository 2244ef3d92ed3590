//! ECS Express Mode services: read one, and give its primary container a new image
//! (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateExpressGatewayService.html).
//! An Express service is an ECS service whose `resourceManagementType` is ECS: ECS owns its task
//! definition, load balancer and scaling, so its image changes through the Express API, not
//! UpdateService.

use aws_sdk_ecs::operation::describe_express_gateway_service::DescribeExpressGatewayServiceOutput;
use serde::Serialize;

use super::{Aws, remote};
use crate::error::{Error, Result};

/// What `status` and a deploy need of an Express service.
#[derive(Debug, Clone, Serialize)]
pub struct ExpressService {
    pub service_arn: String,
    pub status: Option<String>,
    /// The image its primary container runs.
    pub image: Option<String>,
    pub task_definition: Option<String>,
    /// Where it answers (its ingress endpoints).
    pub urls: Vec<String>,
}

async fn described(aws: &Aws, service_arn: &str) -> Result<DescribeExpressGatewayServiceOutput> {
    aws.ecs()
        .describe_express_gateway_service()
        .service_arn(service_arn)
        .send()
        .await
        .map_err(|e| {
            remote(
                format!("failed to describe the Express service {service_arn}"),
                e,
            )
        })
}

pub async fn describe(aws: &Aws, service_arn: &str) -> Result<ExpressService> {
    let out = described(aws, service_arn).await?;
    let service = out.service().ok_or_else(|| {
        Error::remote(format!(
            "DescribeExpressGatewayService returned no service for {service_arn}"
        ))
    })?;
    let active = service.active_configurations().first();
    Ok(ExpressService {
        service_arn: service_arn.to_owned(),
        status: service
            .status()
            .and_then(|s| s.status_code())
            .map(|c| c.as_str().to_owned()),
        image: active
            .and_then(|c| c.primary_container())
            .map(|c| c.image.clone()),
        task_definition: active
            .and_then(|c| c.task_definition_arn())
            .map(str::to_owned),
        urls: active
            .map(|c| c.ingress_paths())
            .unwrap_or_default()
            .iter()
            .map(|p| {
                let endpoint = p.endpoint.as_str();
                if endpoint.starts_with("http") {
                    endpoint.to_owned()
                } else {
                    format!("https://{endpoint}")
                }
            })
            .collect(),
    })
}

/// UpdateExpressGatewayService with the primary container as it is but for `image`; the task
/// definition ECS made for it (what the deployment that follows deploys).
pub async fn update_image(aws: &Aws, service_arn: &str, image: &str) -> Result<String> {
    let mut container = described(aws, service_arn)
        .await?
        .service()
        .and_then(|s| s.active_configurations().first())
        .and_then(|c| c.primary_container())
        .cloned()
        .ok_or_else(|| {
            Error::remote(format!(
                "the Express service {service_arn} has no active configuration with a primary container"
            ))
        })?;
    container.image = image.to_owned();
    let out = aws
        .ecs()
        .update_express_gateway_service()
        .service_arn(service_arn)
        .primary_container(container)
        .send()
        .await
        .map_err(|e| {
            remote(
                format!("failed to update the Express service {service_arn} to {image}"),
                e,
            )
        })?;
    out.service()
        .and_then(|s| s.target_configuration())
        .and_then(|c| c.task_definition_arn())
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::remote(format!(
                "UpdateExpressGatewayService did not say which task definition {service_arn} now deploys"
            ))
        })
}
