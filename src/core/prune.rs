//! Which revisions of a family `taskdef prune` may deregister (and delete), pure: everything
//! beyond the newest N, and older than a cutoff when one is given - never a revision that a
//! service (any of its deployments), a running or pending task, or a scheduled rule's target uses.
//!
//! DeregisterTaskDefinition: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeregisterTaskDefinition.html
//! DeleteTaskDefinitions (INACTIVE revisions only, 10 a call): https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteTaskDefinitions.html

use std::collections::BTreeMap;

use serde::Serialize;

/// `family:revision` of a task definition ARN (or of `family:revision` itself).
pub fn family_revision(arn: &str) -> Option<(String, i32)> {
    let tail = arn.rsplit('/').next()?;
    let (family, revision) = tail.rsplit_once(':')?;
    Some((family.to_owned(), revision.parse().ok()?))
}

/// The family a reference names, with or without a revision (`family`, `family:3`, an ARN).
pub fn family_of(reference: &str) -> &str {
    let tail = reference.rsplit('/').next().unwrap_or(reference);
    match tail.rsplit_once(':') {
        Some((family, rev)) if rev.chars().all(|c| c.is_ascii_digit()) => family,
        _ => tail,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PrunePlan {
    /// The newest N ACTIVE revisions.
    pub kept: Vec<String>,
    /// Revisions beyond N kept because something uses them, with what.
    pub in_use: Vec<(String, Vec<String>)>,
    /// Revisions beyond N kept because they are newer than the cutoff.
    pub too_new: Vec<String>,
    /// ACTIVE revisions to deregister, oldest first.
    pub deregister: Vec<String>,
    /// INACTIVE revisions to delete (with --delete), oldest first: those deregistered now and the
    /// ones already INACTIVE that nothing uses.
    pub delete: Vec<String>,
}

pub struct PruneInput<'a> {
    pub active: &'a [String],
    pub inactive: &'a [String],
    pub keep: usize,
    /// ARN -> who uses it ("service web (PRIMARY)", "task 0123...", "rule nightly").
    pub in_use: &'a BTreeMap<String, Vec<String>>,
    /// Whether a revision is older than the cutoff (always true without --older-than).
    pub old_enough: &'a dyn Fn(&str) -> bool,
    pub delete: bool,
}

pub fn plan(input: &PruneInput) -> PrunePlan {
    let by_revision = |arns: &[String]| {
        let mut v: Vec<(i32, String)> = arns
            .iter()
            .filter_map(|a| family_revision(a).map(|(_, r)| (r, a.clone())))
            .collect();
        v.sort();
        v
    };
    let active = by_revision(input.active);
    let mut out = PrunePlan::default();
    let split = active.len().saturating_sub(input.keep);
    for (_, arn) in &active[split..] {
        out.kept.push(arn.clone());
    }
    for (_, arn) in &active[..split] {
        if let Some(users) = input.in_use.get(arn) {
            out.in_use.push((arn.clone(), users.clone()));
        } else if !(input.old_enough)(arn) {
            out.too_new.push(arn.clone());
        } else {
            out.deregister.push(arn.clone());
        }
    }
    if input.delete {
        let mut delete: Vec<(i32, String)> = by_revision(input.inactive)
            .into_iter()
            .filter(|(_, a)| !input.in_use.contains_key(a) && (input.old_enough)(a))
            .collect();
        delete.extend(by_revision(&out.deregister));
        delete.sort();
        out.delete = delete.into_iter().map(|(_, a)| a).collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arn(r: i32) -> String {
        format!("arn:aws:ecs:us-east-1:123456789012:task-definition/web:{r}")
    }

    #[test]
    fn references() {
        assert_eq!(family_revision(&arn(12)), Some(("web".into(), 12)));
        assert_eq!(family_revision("web:3"), Some(("web".into(), 3)));
        assert_eq!(family_revision("web"), None);
        assert_eq!(family_of(&arn(12)), "web");
        assert_eq!(family_of("web"), "web");
        assert_eq!(
            family_of("arn:aws:ecs:us-east-1:1:task-definition/web"),
            "web"
        );
    }

    /// 30 revisions, one used by a service and one by a schedule: exactly those plus the newest N
    /// stay.
    #[test]
    fn keeps_the_newest_and_what_is_used() {
        let active: Vec<String> = (1..=30).map(arn).collect();
        let inactive: Vec<String> = vec![];
        let in_use = BTreeMap::from([
            (arn(4), vec!["service web (ACTIVE deployment)".to_owned()]),
            (arn(9), vec!["rule nightly-report".to_owned()]),
        ]);
        let all = |_: &str| true;
        let p = plan(&PruneInput {
            active: &active,
            inactive: &inactive,
            keep: 5,
            in_use: &in_use,
            old_enough: &all,
            delete: false,
        });
        assert_eq!(p.kept, (26..=30).map(arn).collect::<Vec<_>>());
        assert_eq!(
            p.in_use.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>(),
            [arn(4), arn(9)]
        );
        assert_eq!(p.deregister.len(), 23);
        assert!(!p.deregister.contains(&arn(4)) && !p.deregister.contains(&arn(9)));
        assert_eq!(p.deregister[0], arn(1));
        assert!(p.delete.is_empty());
    }

    #[test]
    fn a_cutoff_and_delete() {
        let active: Vec<String> = (5..=10).map(arn).collect();
        let inactive: Vec<String> = vec![arn(1), arn(2), arn(3)];
        let in_use = BTreeMap::from([(arn(2), vec!["task 0123".to_owned()])]);
        // Revisions 7 and up are newer than the cutoff.
        let old = |a: &str| family_revision(a).is_some_and(|(_, r)| r < 7);
        let p = plan(&PruneInput {
            active: &active,
            inactive: &inactive,
            keep: 2,
            in_use: &in_use,
            old_enough: &old,
            delete: true,
        });
        assert_eq!(p.kept, [arn(9), arn(10)]);
        assert_eq!(p.too_new, [arn(7), arn(8)]);
        assert_eq!(p.deregister, [arn(5), arn(6)]);
        assert_eq!(p.delete, [arn(1), arn(3), arn(5), arn(6)]);
        // Fewer revisions than N: nothing to do.
        let p = plan(&PruneInput {
            active: &active,
            inactive: &[],
            keep: 10,
            in_use: &in_use,
            old_enough: &old,
            delete: true,
        });
        assert_eq!(p.kept.len(), 6);
        assert!(p.deregister.is_empty() && p.delete.is_empty());
    }
}
