//! ECR calls: resolving a tag to its digest.

use aws_config::Region;
use aws_sdk_ecr::error::ProvideErrorMetadata;
use aws_sdk_ecr::types::ImageIdentifier;

use super::{Aws, remote};
use crate::core::image_ref::EcrRepository;
use crate::error::{Error, Result};

/// A client for the repository's own region (an image may live in another region than the service).
fn client_for(aws: &Aws, repo: &EcrRepository) -> aws_sdk_ecr::Client {
    let config = aws_sdk_ecr::config::Builder::from(&aws.config)
        .region(Region::new(repo.region.clone()))
        .build();
    aws_sdk_ecr::Client::from_conf(config)
}

/// The digest ECR holds for `repo:tag` (DescribeImages).
pub async fn digest_of_tag(aws: &Aws, repo: &EcrRepository, tag: &str) -> Result<String> {
    let out = client_for(aws, repo)
        .describe_images()
        .registry_id(&repo.registry_id)
        .repository_name(&repo.name)
        .image_ids(ImageIdentifier::builder().image_tag(tag).build())
        .send()
        .await
        .map_err(|e| match e.code() {
            Some("ImageNotFoundException") => Error::remote(format!(
                "image tag `{tag}` not found in ECR repository `{}` ({}): push it first",
                repo.name, repo.region
            )),
            Some("RepositoryNotFoundException") => Error::remote(format!(
                "ECR repository `{}` not found in account {} ({})",
                repo.name, repo.registry_id, repo.region
            )),
            _ => remote(format!("failed to look up `{}:{tag}` in ECR", repo.name), e),
        })?;
    out.image_details()
        .first()
        .and_then(|d| d.image_digest())
        .map(str::to_owned)
        .ok_or_else(|| Error::remote(format!("ECR returned no digest for `{}:{tag}`", repo.name)))
}
