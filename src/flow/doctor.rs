//! `doctor`: what a step will talk to (the Docker engine, AWS and the identity it acts as, the
//! service), one check each, run concurrently, with what to fix.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::Session;
use crate::aws::{self, Aws};
use crate::core::rollout::{check_deployable, short_arn};
use crate::docker;
use crate::error::Error;

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct DoctorOptions {
    pub docker: bool,
    pub aws: bool,
    /// A cluster and its service.
    pub service: Option<(String, String)>,
}

/// One line of the report.
#[derive(Debug, Serialize)]
pub struct Check {
    pub ok: bool,
    /// What was found, or what failed and what to do about it.
    pub summary: String,
    #[serde(flatten)]
    pub facts: Value,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker: Option<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws: Option<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<Check>,
}

impl Report {
    fn checks(&self) -> impl Iterator<Item = (&'static str, &Check)> {
        [
            ("docker", &self.docker),
            ("aws", &self.aws),
            ("service", &self.service),
        ]
        .into_iter()
        .filter_map(|(name, c)| c.as_ref().map(|c| (name, c)))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, check) in self.checks() {
            let status = if check.ok { "ok" } else { "FAIL" };
            writeln!(f, "{name:<8} {status:<5} {}", check.summary)?;
        }
        Ok(())
    }
}

fn failed(err: &Error) -> Check {
    // One line: the message and its causes joined.
    let summary = err.chain().to_string().replace("\n  caused by: ", ": ");
    Check {
        ok: false,
        summary,
        facts: json!({ "error": err.to_string() }),
    }
}

async fn check_docker(session: &Session) -> Check {
    let result = async {
        let engine =
            docker::connect(session.docker_host.as_deref(), Duration::from_secs(10)).await?;
        engine.info().await
    }
    .await;
    match result {
        Ok(info) => Check {
            ok: true,
            summary: format!(
                "Docker {} (API {}, {}/{}) at {}",
                info.version, info.api_version, info.os, info.arch, info.host
            ),
            facts: json!(info),
        },
        Err(e) => failed(&e),
    }
}

async fn check_aws(session: &Session) -> (Check, Option<Aws>) {
    let aws = match session.probe_aws().await {
        Ok(aws) => aws,
        Err(e) => return (failed(&e), None),
    };
    let endpoint = aws
        .endpoint
        .clone()
        .unwrap_or_else(|| "AWS default".to_owned());
    let check = match aws::sts::caller_identity(&aws).await {
        Ok(id) => Check {
            ok: true,
            summary: format!(
                "account {} as {}, region {}, endpoint {endpoint}",
                id.account,
                id.arn,
                aws.region()
            ),
            facts: json!({ "account": id.account, "arn": id.arn, "user_id": id.user_id,
                           "region": aws.region(), "endpoint": aws.endpoint }),
        },
        Err(e) => {
            let mut check = failed(&e);
            check.summary = format!(
                "{} (region {}, endpoint {endpoint}): check the credentials and the endpoint",
                check.summary,
                aws.region()
            );
            check.facts["region"] = json!(aws.region());
            check.facts["endpoint"] = json!(aws.endpoint);
            check
        }
    };
    let reachable = check.ok;
    (check, reachable.then_some(aws))
}

async fn check_service(aws: Option<&Aws>, cluster: &str, service: &str) -> Check {
    let Some(aws) = aws else {
        return Check {
            ok: false,
            summary: format!(
                "service `{service}` in cluster `{cluster}` not checked: AWS is not reachable"
            ),
            facts: json!({ "cluster": cluster, "service": service }),
        };
    };
    match aws::ecs::describe_service(aws, cluster, service).await {
        Ok(s) => Check {
            // A deleted service, or one another controller deploys, is not one to ship to.
            ok: check_deployable(&s.service, &s.status, &s.deployment_controller).is_ok(),
            summary: format!(
                "`{}` in cluster `{}`: {}, runs {}, {}/{} running, deployment controller {}",
                s.service,
                s.cluster,
                s.status,
                short_arn(&s.task_definition),
                s.running_count,
                s.desired_count,
                s.deployment_controller
            ) + &check_deployable(&s.service, &s.status, &s.deployment_controller)
                .err()
                .map(|refusal| format!(": {refusal}"))
                .unwrap_or_default(),
            facts: json!(s),
        },
        Err(e) => failed(&e),
    }
}

/// Runs the checks; `Err` names the ones that failed, after `report` shows them all.
pub async fn doctor(session: &Session, options: &DoctorOptions) -> (Report, Option<Error>) {
    let docker = async {
        if options.docker {
            Some(check_docker(session).await)
        } else {
            None
        }
    };
    let aws = async {
        if !options.aws {
            return (None, None);
        }
        let (check, aws) = check_aws(session).await;
        let service = match &options.service {
            Some((c, s)) => Some(check_service(aws.as_ref(), c, s).await),
            None => None,
        };
        (Some(check), service)
    };
    let (docker, (aws, service)) = tokio::join!(docker, aws);
    let mut report = Report {
        ok: true,
        docker,
        aws,
        service,
    };
    let failures: Vec<&str> = report
        .checks()
        .filter(|(_, c)| !c.ok)
        .map(|(n, _)| n)
        .collect();
    report.ok = failures.is_empty();
    let failure = (!failures.is_empty()).then(|| {
        let total = report.checks().count();
        Error::remote(format!(
            "{} of {total} checks failed: {}",
            failures.len(),
            failures.join(", ")
        ))
    });
    (report, failure)
}

impl crate::output::Report for Report {}
