//! Old revisions and scheduled tasks around a deploy: `taskdef prune` (deregister, and delete,
//! what is beyond the newest N and unused - checked against every service deployment, running or
//! pending task and scheduled rule target), and moving a family's EventBridge schedules to the
//! revision just deployed (`--update-schedules`, `--schedule RULE`).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;
use tracing::{info, warn};

use super::Session;
use crate::aws::{self, Aws};
use crate::core::prune::{self, PruneInput, PrunePlan, family_of, family_revision};
use crate::core::rollout::short_arn;
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct PruneOptions {
    pub family: String,
    pub keep: usize,
    pub older_than: Option<Duration>,
    pub delete: bool,
    pub dry_run: bool,
    /// Clusters whose services, tasks and schedules are checked (names or ARNs); empty: all.
    pub clusters: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub family: String,
    pub dry_run: bool,
    pub clusters_checked: Vec<String>,
    #[serde(flatten)]
    pub plan: PrunePlan,
    /// What failed to deregister or delete.
    pub failures: Vec<String>,
}

impl fmt::Display for PruneReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |arns: &[String]| {
            arns.iter()
                .map(|a| short_arn(a).to_owned())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let would = if self.dry_run { "would be " } else { "" };
        writeln!(
            f,
            "family    {} (checked clusters: {})",
            self.family,
            if self.clusters_checked.is_empty() {
                "none".to_owned()
            } else {
                self.clusters_checked
                    .iter()
                    .map(|c| c.rsplit('/').next().unwrap_or(c).to_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )?;
        writeln!(
            f,
            "kept      {} newest: {}",
            self.plan.kept.len(),
            list(&self.plan.kept)
        )?;
        for (arn, users) in &self.plan.in_use {
            writeln!(f, "in use    {} by {}", short_arn(arn), users.join(", "))?;
        }
        if !self.plan.too_new.is_empty() {
            writeln!(f, "too new   {}", list(&self.plan.too_new))?;
        }
        writeln!(
            f,
            "{would}deregistered {}{}",
            self.plan.deregister.len(),
            if self.plan.deregister.is_empty() {
                String::new()
            } else {
                format!(": {}", list(&self.plan.deregister))
            }
        )?;
        if !self.plan.delete.is_empty() {
            writeln!(
                f,
                "{would}deleted {}: {}",
                self.plan.delete.len(),
                list(&self.plan.delete)
            )?;
        }
        for failure in &self.failures {
            writeln!(f, "FAILED    {failure}")?;
        }
        Ok(())
    }
}

impl crate::output::Report for PruneReport {}

/// The clusters to check: the named ones (as ARNs), or every one in the region.
async fn clusters(aws: &Aws, named: &[String]) -> Result<Vec<String>> {
    let all = aws::ecs::list_clusters(aws).await?;
    if named.is_empty() {
        return Ok(all);
    }
    named
        .iter()
        .map(|n| {
            all.iter()
                .find(|a| *a == n || a.rsplit('/').next() == Some(n.as_str()))
                .cloned()
                .ok_or_else(|| {
                    Error::remote(format!("cluster `{n}` not found in {}", aws.region()))
                })
        })
        .collect()
}

/// Who uses which revision of `family` across `clusters`. A schedule that names the family
/// without a revision runs its latest ACTIVE one: that one is marked.
async fn in_use(
    aws: &Aws,
    family: &str,
    clusters: &[String],
    known: &[String],
    latest: Option<&String>,
) -> Result<BTreeMap<String, Vec<String>>> {
    let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for cluster in clusters {
        for (arn, who) in aws::ecs::revisions_in_use(aws, cluster).await? {
            if family_of(&arn) == family {
                let users = used.entry(arn).or_default();
                if !users.contains(&who) {
                    users.push(who);
                }
            }
        }
        for s in aws::events::schedules(aws, cluster, Some(family), &[]).await? {
            // A schedule names `family`, `family:3` or an ARN; the plan speaks in ARNs.
            let arn = match family_revision(&s.task_definition) {
                Some((_, r)) => known
                    .iter()
                    .find(|a| family_revision(a).is_some_and(|(_, k)| k == r))
                    .cloned()
                    .unwrap_or_else(|| s.task_definition.clone()),
                None => match latest {
                    Some(latest) => latest.clone(),
                    None => continue,
                },
            };
            used.entry(arn)
                .or_default()
                .push(format!("rule {} (target {})", s.rule, s.target_id));
        }
    }
    Ok(used)
}

pub async fn prune(
    session: &Session,
    options: &PruneOptions,
) -> Result<(PruneReport, Option<Error>)> {
    if options.keep == 0 {
        return Err(Error::input(
            "--keep must be at least 1: the newest revision is always kept",
        ));
    }
    let aws = session.aws().await?;
    let family = &options.family;
    let active = aws::ecs::list_revisions(aws, family, "ACTIVE").await?;
    if active.is_empty() {
        return Err(Error::remote(format!(
            "family `{family}` has no ACTIVE revision in {}",
            aws.region()
        )));
    }
    let inactive = if options.delete {
        aws::ecs::list_revisions(aws, family, "INACTIVE").await?
    } else {
        Vec::new()
    };
    let latest = active
        .iter()
        .max_by_key(|a| family_revision(a).map(|(_, r)| r))
        .cloned();
    let clusters = clusters(aws, &options.clusters).await?;
    let known: Vec<String> = active.iter().chain(&inactive).cloned().collect();
    let used = in_use(aws, family, &clusters, &known, latest.as_ref()).await?;
    // Registration times, only for what --older-than decides.
    let mut registered: BTreeMap<String, i64> = BTreeMap::new();
    if options.older_than.is_some() {
        let everything = |_: &str| true;
        let candidates = prune::plan(&PruneInput {
            active: &active,
            inactive: &inactive,
            keep: options.keep,
            in_use: &used,
            old_enough: &everything,
            delete: options.delete,
        });
        for arn in candidates.deregister.iter().chain(&candidates.delete) {
            if let Some(at) = aws::ecs::registered_at(aws, arn).await? {
                registered.insert(arn.clone(), at);
            }
        }
    }
    let cutoff = options
        .older_than
        .map(|d| chrono::Utc::now().timestamp() - i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let old_enough = |arn: &str| match cutoff {
        None => true,
        Some(cutoff) => registered.get(arn).is_some_and(|at| *at < cutoff),
    };
    let plan = prune::plan(&PruneInput {
        active: &active,
        inactive: &inactive,
        keep: options.keep,
        in_use: &used,
        old_enough: &old_enough,
        delete: options.delete,
    });
    let mut failures = Vec::new();
    if !options.dry_run {
        for arn in &plan.deregister {
            match aws::ecs::deregister_task_definition(aws, arn).await {
                Ok(()) => info!("deregistered {}", short_arn(arn)),
                Err(e) => failures.push(e.chain().to_string().replace("\n  caused by: ", ": ")),
            }
        }
        for batch in plan.delete.chunks(10) {
            match aws::ecs::delete_task_definitions(aws, batch).await {
                Ok(refused) => failures.extend(refused),
                Err(e) => failures.push(e.chain().to_string().replace("\n  caused by: ", ": ")),
            }
        }
    }
    let failure = (!failures.is_empty()).then(|| {
        Error::remote(format!(
            "pruning family `{family}`: {} revision(s) could not be deregistered or deleted: {}",
            failures.len(),
            failures.join("; ")
        ))
    });
    Ok((
        PruneReport {
            family: family.clone(),
            dry_run: options.dry_run,
            clusters_checked: clusters,
            plan,
            failures,
        },
        failure,
    ))
}

/// A schedule moved (or found already on the revision).
#[derive(Debug, Clone, Serialize)]
pub struct MovedSchedule {
    pub rule: String,
    pub target_id: String,
    pub from: String,
    pub to: String,
}

/// Moves the EventBridge targets on `cluster` that run `arn`'s family (or only the rules named)
/// to `arn`.
pub async fn update_schedules(
    aws: &Aws,
    cluster: &str,
    arn: &str,
    only: &[String],
) -> Result<Vec<MovedSchedule>> {
    let cluster_arn = clusters(aws, &[cluster.to_owned()]).await?.remove(0);
    let family = family_of(arn).to_owned();
    let schedules = aws::events::schedules(aws, &cluster_arn, Some(&family), only).await?;
    if schedules.is_empty() {
        info!("no EventBridge schedule on `{cluster}` runs family `{family}`");
    }
    let mut moved = Vec::new();
    for s in schedules {
        if s.task_definition != arn {
            aws::events::move_schedule(aws, &s, arn).await?;
            warn!(
                "schedule `{}` (target {}) now runs {} (was {})",
                s.rule,
                s.target_id,
                short_arn(arn),
                short_arn(&s.task_definition)
            );
        }
        moved.push(MovedSchedule {
            rule: s.rule,
            target_id: s.target_id,
            from: s.task_definition,
            to: arn.to_owned(),
        });
    }
    Ok(moved)
}
