//! EventBridge: the scheduled rules whose ECS targets run a family, and moving them to a new
//! revision (PutTargets with the whole target, as the API replaces it).

use aws_sdk_eventbridge::types::Target;
use serde::Serialize;

use super::{Aws, remote};
use crate::core::prune::family_of;
use crate::error::{Error, Result};

/// An ECS target of a rule.
#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    pub rule: String,
    pub target_id: String,
    pub task_definition: String,
    #[serde(skip)]
    target: Target,
}

fn client(aws: &Aws) -> aws_sdk_eventbridge::Client {
    aws_sdk_eventbridge::Client::new(&aws.config)
}

/// The ECS targets on `cluster_arn` (ListRuleNamesByTarget, then ListTargetsByRule), of rules
/// named in `only` when it is not empty, whose task definition is of `family` (any family when
/// `None`).
pub async fn schedules(
    aws: &Aws,
    cluster_arn: &str,
    family: Option<&str>,
    only: &[String],
) -> Result<Vec<Schedule>> {
    let events = client(aws);
    let mut rules = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = events
            .list_rule_names_by_target()
            .target_arn(cluster_arn)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| {
                remote(
                    format!("failed to list the EventBridge rules that target `{cluster_arn}` (the caller needs events:ListRuleNamesByTarget)"),
                    e,
                )
            })?;
        rules.extend(page.rule_names().iter().cloned());
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    for name in only {
        if !rules.contains(name) {
            return Err(Error::input(format!(
                "--schedule `{name}`: no EventBridge rule of that name targets cluster `{cluster_arn}`"
            )));
        }
    }
    let mut out = Vec::new();
    for rule in rules.iter().filter(|r| only.is_empty() || only.contains(r)) {
        let mut token: Option<String> = None;
        loop {
            let page = events
                .list_targets_by_rule()
                .rule(rule)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| remote(format!("failed to list the targets of rule `{rule}`"), e))?;
            for target in page.targets() {
                let Some(td) = target
                    .ecs_parameters()
                    .map(|p| p.task_definition_arn().to_owned())
                else {
                    continue;
                };
                if target.arn() != cluster_arn || family.is_some_and(|f| family_of(&td) != f) {
                    continue;
                }
                out.push(Schedule {
                    rule: rule.clone(),
                    target_id: target.id().to_owned(),
                    task_definition: td,
                    target: target.clone(),
                });
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(out)
}

/// Points the schedule's target at `task_definition`, everything else as it was.
pub async fn move_schedule(aws: &Aws, schedule: &Schedule, task_definition: &str) -> Result<()> {
    let mut target = schedule.target.clone();
    if let Some(p) = target.ecs_parameters.as_mut() {
        p.task_definition_arn = task_definition.to_owned();
    }
    let out = client(aws)
        .put_targets()
        .rule(&schedule.rule)
        .targets(target)
        .send()
        .await
        .map_err(|e| {
            remote(
                format!(
                    "failed to update target `{}` of rule `{}` (the caller needs events:PutTargets)",
                    schedule.target_id, schedule.rule
                ),
                e,
            )
        })?;
    if let Some(f) = out.failed_entries().first() {
        return Err(Error::remote(format!(
            "EventBridge refused to update target `{}` of rule `{}`: {} {}",
            schedule.target_id,
            schedule.rule,
            f.error_code().unwrap_or_default(),
            f.error_message().unwrap_or_default()
        )));
    }
    Ok(())
}
