//! What `status` and the failure report say about a service beyond its deployments: the images its
//! containers run, the repository's recent images, and the health of its load balancer targets.
//! Pure: the AWS layer fills these in, the decisions about them live here.

use std::fmt;

use serde::Serialize;

use super::image_ref::ImageRef;

/// One target of a target group, as DescribeTargetHealth reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetHealth {
    /// An IP address (awsvpc tasks) or an instance id.
    pub id: String,
    pub port: Option<i32>,
    /// healthy, unhealthy, initial, draining, unused, unavailable.
    pub state: String,
    /// e.g. Target.ResponseCodeMismatch, Target.Timeout, Elb.InitialHealthChecking.
    pub reason: Option<String>,
    pub description: Option<String>,
}

impl TargetHealth {
    pub fn is_healthy(&self) -> bool {
        self.state == "healthy"
    }
}

impl fmt::Display for TargetHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.id)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, " {}", self.state)?;
        match (&self.reason, &self.description) {
            (Some(r), Some(d)) => write!(f, " ({r}: {d})"),
            (Some(r), None) => write!(f, " ({r})"),
            (None, Some(d)) => write!(f, " ({d})"),
            (None, None) => Ok(()),
        }
    }
}

/// The targets of one target group a service registers its tasks in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetGroupHealth {
    pub target_group_arn: String,
    pub targets: Vec<TargetHealth>,
}

impl TargetGroupHealth {
    /// `targetgroup/api-tg/0123` -> `api-tg`.
    pub fn name(&self) -> &str {
        self.target_group_arn
            .split('/')
            .nth(1)
            .unwrap_or(&self.target_group_arn)
    }

    /// One line: how many targets are healthy, then each other target with its reason.
    pub fn summary(&self) -> String {
        let healthy = self.targets.iter().filter(|t| t.is_healthy()).count();
        let others: Vec<String> = self
            .targets
            .iter()
            .filter(|t| !t.is_healthy())
            .map(ToString::to_string)
            .collect();
        let mut line = format!(
            "target group {}: {healthy} of {} targets healthy",
            self.name(),
            self.targets.len()
        );
        if !others.is_empty() {
            line.push_str(": ");
            line.push_str(&others.join("; "));
        }
        line
    }
}

/// The image a container runs: what the task definition names, and the digest it resolves to
/// (from the reference itself when pinned, else from a running task).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerImage {
    pub container: String,
    pub image: String,
    pub digest: Option<String>,
    /// Where its output goes, when it logs through awslogs.
    pub awslogs: Option<super::logs::AwslogsTarget>,
}

/// The digest a container runs: the pinned one in its image reference, else the one a running task
/// reports (`imageDigest`), else unknown.
pub fn running_digest(image: &str, task_digest: Option<&str>) -> Option<String> {
    ImageRef::parse(image)
        .ok()
        .and_then(|r| r.digest)
        .or_else(|| task_digest.map(str::to_owned))
}

/// An image in a repository, newest first in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositoryImage {
    pub tags: Vec<String>,
    pub digest: String,
    /// RFC 3339.
    pub pushed_at: Option<String>,
}

/// The newest `n` images, by push time (images without one last).
pub fn newest_images(mut images: Vec<RepositoryImage>, n: usize) -> Vec<RepositoryImage> {
    images.sort_by(|a, b| b.pushed_at.cmp(&a.pushed_at));
    images.truncate(n);
    images
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(
        id: &str,
        state: &str,
        reason: Option<&str>,
        description: Option<&str>,
    ) -> TargetHealth {
        TargetHealth {
            id: id.into(),
            port: Some(8080),
            state: state.into(),
            reason: reason.map(str::to_owned),
            description: description.map(str::to_owned),
        }
    }

    #[test]
    fn a_target_group_summary_counts_healthy_and_names_the_others_with_reasons() {
        let cases = [
            (vec![], "target group api-tg: 0 of 0 targets healthy"),
            (
                vec![target("10.0.1.5", "healthy", None, None)],
                "target group api-tg: 1 of 1 targets healthy",
            ),
            (
                vec![
                    target("10.0.1.5", "healthy", None, None),
                    target(
                        "10.0.1.6",
                        "unhealthy",
                        Some("Target.ResponseCodeMismatch"),
                        Some("Health checks failed with these codes: [404]"),
                    ),
                    target(
                        "10.0.1.7",
                        "initial",
                        Some("Elb.InitialHealthChecking"),
                        None,
                    ),
                ],
                "target group api-tg: 1 of 3 targets healthy: 10.0.1.6:8080 unhealthy (Target.ResponseCodeMismatch: Health checks failed with these codes: [404]); 10.0.1.7:8080 initial (Elb.InitialHealthChecking)",
            ),
        ];
        for (targets, want) in cases {
            let group = TargetGroupHealth {
                target_group_arn:
                    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/0123"
                        .into(),
                targets,
            };
            assert_eq!(group.summary(), want);
        }
    }

    #[test]
    fn the_running_digest_is_the_pinned_one_else_the_tasks() {
        let pinned =
            "r/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let cases = [
            (
                pinned,
                None,
                Some("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            ),
            (
                pinned,
                Some("sha256:other"),
                Some("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            ),
            ("r/api:v1", Some("sha256:abc"), Some("sha256:abc")),
            ("r/api:v1", None, None),
            ("not an image", Some("sha256:abc"), Some("sha256:abc")),
        ];
        for (image, task, want) in cases {
            assert_eq!(running_digest(image, task).as_deref(), want, "{image}");
        }
    }

    #[test]
    fn newest_images_come_first() {
        let image = |d: &str, at: Option<&str>| RepositoryImage {
            tags: vec![],
            digest: d.into(),
            pushed_at: at.map(str::to_owned),
        };
        let got = newest_images(
            vec![
                image("a", Some("2026-11-01T00:00:00Z")),
                image("b", None),
                image("c", Some("2026-11-20T00:00:00Z")),
                image("d", Some("2026-11-10T00:00:00Z")),
            ],
            3,
        );
        let digests: Vec<&str> = got.iter().map(|i| i.digest.as_str()).collect();
        assert_eq!(digests, ["c", "d", "a"]);
    }
}
