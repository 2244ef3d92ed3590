//! ECR calls: registry credentials, repositories, and tags resolved to verified digests.

use aws_config::Region;
use aws_sdk_ecr::types::{ImageIdentifier, ImageScanningConfiguration, ImageTagMutability};

use super::{Aws, remote};
use crate::core::image_ref::EcrRepository;
use crate::core::registry_auth::{Credentials, decode_basic_token, manifest_digest};
use crate::core::status::{RepositoryImage, newest_images};
use crate::error::{Error, Result};
use crate::registry::MANIFEST_TYPES;

/// A client for the repository's own region (an image may live in another region than the service).
fn client_for(aws: &Aws, repo: &EcrRepository) -> aws_sdk_ecr::Client {
    let config = aws_sdk_ecr::config::Builder::from(&aws.config)
        .region(Region::new(repo.region.clone()))
        .build();
    aws_sdk_ecr::Client::from_conf(config)
}

/// The digest ECR holds for `repo:tag` (DescribeImages).
pub async fn digest_of_tag(aws: &Aws, repo: &EcrRepository, tag: &str) -> Result<String> {
    find_tag(aws, repo, tag).await?.ok_or_else(|| {
        Error::remote(format!(
            "image tag `{tag}` not found in ECR repository `{}` ({}): push it first",
            repo.name, repo.region
        ))
    })
}

/// The digest ECR holds for `repo:tag`, or `None` when the tag is not there (DescribeImages).
pub async fn find_tag(aws: &Aws, repo: &EcrRepository, tag: &str) -> Result<Option<String>> {
    let out = client_for(aws, repo)
        .describe_images()
        .registry_id(&repo.registry_id)
        .repository_name(&repo.name)
        .image_ids(ImageIdentifier::builder().image_tag(tag).build())
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_image_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_repository_not_found_exception()) =>
        {
            return Err(Error::remote(format!(
                "ECR repository `{}` not found in account {} ({})",
                repo.name, repo.registry_id, repo.region
            )));
        }
        Err(e) => {
            return Err(remote(
                format!("failed to look up `{}:{tag}` in ECR", repo.name),
                e,
            ));
        }
    };
    match out.image_details().first() {
        None => Ok(None),
        Some(d) => d.image_digest().map(|d| Some(d.to_owned())).ok_or_else(|| {
            Error::remote(format!("ECR returned no digest for `{}:{tag}`", repo.name))
        }),
    }
}

/// The newest `n` images of the repository, by push time.
pub async fn recent_images(
    aws: &Aws,
    repo: &EcrRepository,
    n: usize,
) -> Result<Vec<RepositoryImage>> {
    let out = client_for(aws, repo)
        .describe_images()
        .registry_id(&repo.registry_id)
        .repository_name(&repo.name)
        .max_results(1000)
        .send()
        .await
        .map_err(|e| {
            remote(
                format!(
                    "failed to list the images of ECR repository `{}`",
                    repo.name
                ),
                e,
            )
        })?;
    let images = out
        .image_details()
        .iter()
        .map(|d| RepositoryImage {
            tags: d.image_tags().to_vec(),
            digest: d.image_digest().unwrap_or_default().to_owned(),
            pushed_at: d
                .image_pushed_at()
                .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
        })
        .collect();
    Ok(newest_images(images, n))
}

/// Registry credentials from GetAuthorizationToken, and which registry ECR issued them for.
#[derive(Debug, Clone)]
pub struct EcrAuth {
    pub credentials: Credentials,
    /// `https://<account>.dkr.ecr.<region>.amazonaws.com`: the registry the token was issued for.
    pub proxy_endpoint: String,
}

/// Registry credentials from GetAuthorizationToken (valid 12 h). The token is never logged; one
/// that has expired (a clock far off, a cached response) is refused here, saying so.
pub async fn authorization(aws: &Aws, repo: &EcrRepository) -> Result<EcrAuth> {
    let out = client_for(aws, repo)
        .get_authorization_token()
        .send()
        .await
        .map_err(|e| {
            remote(
                format!(
                    "failed to get an ECR authorization token for account {} ({})",
                    repo.registry_id, repo.region
                ),
                e,
            )
        })?;
    let data = out
        .authorization_data()
        .first()
        .ok_or_else(|| Error::remote("ECR returned no authorization data"))?;
    let token = data
        .authorization_token()
        .ok_or_else(|| Error::remote("ECR returned no authorization token"))?;
    crate::redact::register(token);
    let credentials = decode_basic_token(token).ok_or_else(|| {
        Error::remote("ECR returned an authorization token that is not AWS:<password> in base64")
    })?;
    crate::redact::register(&credentials.password);
    let proxy_endpoint = data.proxy_endpoint().unwrap_or_default().to_owned();
    let account = proxy_endpoint
        .trim_start_matches("https://")
        .split('.')
        .next()
        .unwrap_or_default()
        .to_owned();
    if let Some(expires) = data.expires_at()
        && expires.secs() <= chrono::Utc::now().timestamp()
    {
        let at = expires
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_default();
        return Err(Error::remote(format!(
            "the ECR authorization token for account {account} expired at {at}: check this machine's clock, or the endpoint that answered ({})",
            aws.endpoint.as_deref().unwrap_or("AWS")
        )));
    }
    Ok(EcrAuth {
        credentials,
        proxy_endpoint,
    })
}

/// What DescribeRepositories says of a repository.
#[derive(Debug, Clone)]
pub struct RepositoryInfo {
    /// MUTABLE or IMMUTABLE (or an _WITH_EXCLUSION variant).
    pub tag_mutability: String,
}

/// The repository, or `None` when it does not exist (a read only: DescribeRepositories).
pub async fn find_repository(aws: &Aws, repo: &EcrRepository) -> Result<Option<RepositoryInfo>> {
    let out = client_for(aws, repo)
        .describe_repositories()
        .registry_id(&repo.registry_id)
        .repository_names(&repo.name)
        .send()
        .await;
    match out {
        Ok(out) => Ok(out.repositories().first().map(|r| RepositoryInfo {
            tag_mutability: r
                .image_tag_mutability()
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default(),
        })),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_repository_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(remote(
            format!("failed to look up ECR repository `{}`", repo.name),
            e,
        )),
    }
}

/// Creates the repository if it does not exist; returns whether it created it.
pub async fn ensure_repository(
    aws: &Aws,
    repo: &EcrRepository,
    scan_on_push: bool,
    immutable_tags: bool,
) -> Result<bool> {
    if find_repository(aws, repo).await?.is_some() {
        return Ok(false);
    }
    let client = client_for(aws, repo);
    let mutability = if immutable_tags {
        ImageTagMutability::Immutable
    } else {
        ImageTagMutability::Mutable
    };
    client
        .create_repository()
        .registry_id(&repo.registry_id)
        .repository_name(&repo.name)
        .image_tag_mutability(mutability)
        .image_scanning_configuration(
            ImageScanningConfiguration::builder()
                .scan_on_push(scan_on_push)
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            remote(
                format!(
                    "failed to create ECR repository `{}` (the caller needs ecr:CreateRepository)",
                    repo.name
                ),
                e,
            )
        })?;
    Ok(true)
}

/// The manifest ECR stores under `digest`, fetched by digest with every media type accepted so
/// ECR does not convert it (BatchGetImage).
pub async fn manifest_by_digest(aws: &Aws, repo: &EcrRepository, digest: &str) -> Result<String> {
    let out = client_for(aws, repo)
        .batch_get_image()
        .registry_id(&repo.registry_id)
        .repository_name(&repo.name)
        .image_ids(ImageIdentifier::builder().image_digest(digest).build())
        .set_accepted_media_types(Some(
            MANIFEST_TYPES.iter().map(|s| (*s).to_owned()).collect(),
        ))
        .send()
        .await
        .map_err(|e| {
            remote(
                format!(
                    "failed to get the manifest of `{}@{digest}` from ECR",
                    repo.name
                ),
                e,
            )
        })?;
    out.images()
        .first()
        .and_then(|i| i.image_manifest())
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::remote(format!(
                "ECR holds no manifest for `{}@{digest}`",
                repo.name
            ))
        })
}

/// The digest of `repo:tag` in ECR, verified by hashing the manifest bytes ECR stores under it.
pub async fn verified_digest(aws: &Aws, repo: &EcrRepository, tag: &str) -> Result<String> {
    let digest = digest_of_tag(aws, repo, tag).await?;
    let manifest = manifest_by_digest(aws, repo, &digest).await?;
    let hashed = manifest_digest(manifest.as_bytes());
    if hashed != digest {
        return Err(Error::remote(format!(
            "ECR reports {digest} for `{}:{tag}` but its manifest hashes to {hashed}: refusing an unverified digest",
            repo.name
        )));
    }
    Ok(digest)
}

/// The registry's replication rules (DescribeRegistry), as `core::targets` decides with them.
pub async fn replication_rules(aws: &Aws) -> Result<Vec<crate::core::targets::ReplicationRule>> {
    let out = aws.ecr().describe_registry().send().await.map_err(|e| {
        remote(
            "failed to read the registry's replication configuration (ECR DescribeRegistry)",
            e,
        )
    })?;
    let rules = out
        .replication_configuration()
        .map(|c| c.rules())
        .unwrap_or_default();
    Ok(rules
        .iter()
        .map(|rule| crate::core::targets::ReplicationRule {
            destinations: rule
                .destinations()
                .iter()
                .map(|d| (d.region().to_owned(), d.registry_id().to_owned()))
                .collect(),
            prefixes: rule
                .repository_filters()
                .iter()
                .map(|f| f.filter().to_owned())
                .collect(),
        })
        .collect())
}
