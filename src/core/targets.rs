//! Several targets (region x account) for one deploy, release or status: what the flags and the
//! `--targets` file say, merged into one list, each named; the worst exit code of several; the
//! session name an assumed role gets.
//!
//! A target is a region and an identity (a role to assume, a profile, or the caller's own
//! credentials), with the cluster and services to deploy there and its own overrides. AWS's
//! multi-account guidance keeps staging and production in separate accounts
//! (https://docs.aws.amazon.com/whitepapers/latest/organizing-your-aws-environment/), so one
//! release reaches them through `sts:AssumeRole`.

use serde::{Deserialize, Serialize};

/// One place to deploy to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// Unique among the targets: the file's `name`, else `<account>/<region>`.
    pub name: String,
    /// None: the region the run would use anyway (--region, AWS_REGION, the profile's).
    pub region: Option<String>,
    pub role_arn: Option<String>,
    #[serde(skip)]
    pub external_id: Option<String>,
    pub profile: Option<String>,
    /// Where this target's AWS calls go (a VPC endpoint of its region), over the run's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    pub cluster: Option<String>,
    pub services: Vec<String>,
    /// `[CONTAINER:]NAME=VALUE`, as --env takes them, after the command line's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// `[CONTAINER:]NAME=ARN`, as --secret takes them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_count: Option<i32>,
}

/// What the command line says about targets.
#[derive(Debug, Clone, Default)]
pub struct FlagTargets<'a> {
    pub regions: &'a [String],
    pub role_arns: &'a [String],
    pub external_id: Option<&'a str>,
    pub profile: Option<&'a str>,
    pub cluster: Option<&'a str>,
    pub services: &'a [String],
}

/// A bad target list: the file, the target and the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetsError {
    #[error("{0}")]
    Parse(String),
    #[error("target `{target}`: {problem}")]
    Bad { target: String, problem: String },
    #[error("the target name `{0}` is used twice: give each target its own `name`")]
    Duplicate(String),
    #[error("the targets file has no target: add at least one entry under `targets`")]
    Empty,
    #[error("{0}")]
    Conflict(String),
}

/// The file's text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Yaml,
}

impl Format {
    /// From the file name: `.toml` is TOML, `.yml`/`.yaml`/`.json` YAML (JSON is YAML).
    pub fn of(path: &str) -> Option<Format> {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".toml") {
            Some(Format::Toml)
        } else if [".yml", ".yaml", ".json"]
            .iter()
            .any(|e| lower.ends_with(e))
        {
            Some(Format::Yaml)
        } else {
            None
        }
    }
}

/// One entry of the file (and its `defaults`), as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: Option<String>,
    region: Option<String>,
    role_arn: Option<String>,
    external_id: Option<String>,
    profile: Option<String>,
    endpoint_url: Option<String>,
    cluster: Option<String>,
    services: Option<Vec<String>>,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
    desired_count: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    defaults: Entry,
    #[serde(default)]
    targets: Vec<Entry>,
}

/// A targets file's text as JSON, for `from_file`.
pub fn parse(text: &str, format: Format) -> Result<serde_json::Value, TargetsError> {
    match format {
        Format::Toml => toml::from_str::<serde_json::Value>(text)
            .map_err(|e| TargetsError::Parse(format!("not valid TOML: {e}"))),
        Format::Yaml => {
            let docs = yaml_rust2::YamlLoader::load_from_str(text)
                .map_err(|e| TargetsError::Parse(format!("not valid YAML: {e}")))?;
            let doc = docs.into_iter().next().unwrap_or(yaml_rust2::Yaml::Null);
            yaml_to_json(doc).map_err(TargetsError::Parse)
        }
    }
}

fn yaml_to_json(doc: yaml_rust2::Yaml) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    use yaml_rust2::Yaml;
    Ok(match doc {
        Yaml::Null | Yaml::BadValue => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::from(i),
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::String(r), Value::Number),
        Yaml::String(s) => Value::String(s),
        Yaml::Array(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Hash(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::String(s) => s,
                    Yaml::Integer(i) => i.to_string(),
                    other => return Err(format!("a key that is not a string: {other:?}")),
                };
                out.insert(key, yaml_to_json(v)?);
            }
            Value::Object(out)
        }
        Yaml::Alias(_) => return Err("YAML aliases are not supported".into()),
    })
}

/// The targets of a `--targets` file (already turned into JSON by its format's parser), the
/// command line's cluster, services and identity beneath its `defaults`, beneath each entry.
pub fn from_file(
    doc: serde_json::Value,
    flags: &FlagTargets<'_>,
) -> Result<Vec<Target>, TargetsError> {
    let file: File = serde_json::from_value(doc).map_err(|e| {
        TargetsError::Parse(format!(
            "{e} (expected `targets`: a list of entries with name, region, role_arn, external_id, profile, endpoint_url, cluster, services, env, secrets, desired_count; and optional `defaults`)"
        ))
    })?;
    if file.targets.is_empty() {
        return Err(TargetsError::Empty);
    }
    if flags.regions.len() > 1 || !flags.role_arns.is_empty() {
        return Err(TargetsError::Conflict(
            "--targets lists the targets: give regions and roles in the file, not also as several --region or --role-arn".into(),
        ));
    }
    let d = &file.defaults;
    let targets = file
        .targets
        .iter()
        .map(|e| {
            let or = |a: &Option<String>, b: &Option<String>, c: Option<&str>| {
                a.clone().or_else(|| b.clone()).or(c.map(str::to_owned))
            };
            let mut env = d.env.clone();
            env.extend(e.env.iter().cloned());
            let mut secrets = d.secrets.clone();
            secrets.extend(e.secrets.iter().cloned());
            Target {
                name: e.name.clone().unwrap_or_default(),
                region: or(
                    &e.region,
                    &d.region,
                    flags.regions.first().map(String::as_str),
                ),
                role_arn: or(&e.role_arn, &d.role_arn, None),
                external_id: or(&e.external_id, &d.external_id, flags.external_id),
                profile: or(&e.profile, &d.profile, flags.profile),
                endpoint_url: or(&e.endpoint_url, &d.endpoint_url, None),
                cluster: or(&e.cluster, &d.cluster, flags.cluster),
                services: e
                    .services
                    .clone()
                    .or_else(|| d.services.clone())
                    .unwrap_or_else(|| flags.services.to_vec()),
                env,
                secrets,
                desired_count: e.desired_count.or(d.desired_count),
            }
        })
        .collect();
    finish(targets)
}

/// The targets of the command line: every --region for every --role-arn (or the caller's own
/// identity), each with the command line's cluster and services.
pub fn from_flags(flags: &FlagTargets<'_>) -> Result<Vec<Target>, TargetsError> {
    let roles: Vec<Option<&String>> = if flags.role_arns.is_empty() {
        vec![None]
    } else {
        flags.role_arns.iter().map(Some).collect()
    };
    let regions: Vec<Option<&String>> = if flags.regions.is_empty() {
        vec![None]
    } else {
        flags.regions.iter().map(Some).collect()
    };
    let mut targets = Vec::new();
    for role in &roles {
        for region in &regions {
            targets.push(Target {
                name: String::new(),
                region: region.cloned(),
                role_arn: role.cloned(),
                external_id: flags.external_id.map(str::to_owned),
                profile: flags.profile.map(str::to_owned),
                endpoint_url: None,
                cluster: flags.cluster.map(str::to_owned),
                services: flags.services.to_vec(),
                env: Vec::new(),
                secrets: Vec::new(),
                desired_count: None,
            });
        }
    }
    finish(targets)
}

/// Names the unnamed, checks every field, refuses a name used twice.
fn finish(mut targets: Vec<Target>) -> Result<Vec<Target>, TargetsError> {
    for t in &mut targets {
        if t.name.is_empty() {
            t.name = default_name(t);
        }
        check(t).map_err(|problem| TargetsError::Bad {
            target: t.name.clone(),
            problem,
        })?;
    }
    let mut seen = std::collections::BTreeSet::new();
    for t in &targets {
        if !seen.insert(t.name.as_str()) {
            return Err(TargetsError::Duplicate(t.name.clone()));
        }
    }
    Ok(targets)
}

/// `<account or profile>/<region>`, leaving out what is not given.
fn default_name(t: &Target) -> String {
    let who = t
        .role_arn
        .as_deref()
        .and_then(role_account)
        .map(str::to_owned)
        .or_else(|| t.profile.clone());
    match (who, &t.region) {
        (Some(who), Some(region)) => format!("{who}/{region}"),
        (Some(who), None) => who,
        (None, Some(region)) => region.clone(),
        (None, None) => "default".to_owned(),
    }
}

fn check(t: &Target) -> Result<(), String> {
    if let Some(region) = &t.region
        && !is_region(region)
    {
        return Err(format!(
            "`{region}` is not a region name (like us-east-1 or ap-northeast-1)"
        ));
    }
    if let Some(role) = &t.role_arn
        && role_account(role).is_none()
    {
        return Err(format!(
            "`{role}` is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"
        ));
    }
    if let Some(id) = &t.external_id
        && !(2..=1224).contains(&id.len())
    {
        return Err("the external ID must be 2 to 1224 characters".into());
    }
    if t.cluster.as_deref() == Some("") || t.services.iter().any(String::is_empty) {
        return Err("an empty cluster or service name".into());
    }
    Ok(())
}

/// `us-east-1`, `ap-northeast-1`, `us-gov-west-1`, `eu-central-2`.
pub fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// The account of `arn:<partition>:iam::<account>:role/<name>`.
pub fn role_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (arn_word, partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let ok = arn_word == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource
            .strip_prefix("role/")
            .is_some_and(|n| !n.is_empty());
    ok.then_some(account)
}

/// The role session name for an assumed role: `ecs-ship-<what>`, only the characters STS allows
/// (`[\w+=,.@-]`), 2 to 64 of them
/// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html). CloudTrail shows it,
/// so the release that made a change can be told from the identity.
pub fn session_name(what: &str) -> String {
    let cleaned: String = what
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut name = format!("ecs-ship-{cleaned}");
    name.truncate(64);
    name
}

/// The exit code of several outcomes: a cancel first (the job is going away), then a failed
/// rollout, a timeout, a paused deployment, a failed call, a bad input, an internal error.
pub fn worst_exit(codes: impl IntoIterator<Item = u8>) -> u8 {
    const RANK: [u8; 8] = [143, 130, 4, 5, 6, 3, 2, 1];
    codes
        .into_iter()
        .filter(|c| *c != 0)
        .min_by_key(|c| RANK.iter().position(|r| r == c).unwrap_or(RANK.len()))
        .unwrap_or(0)
}

/// The verdict of several targets: on success the one they share (`stable`, `dry_run`,
/// `not_waited`), `stable` when they differ; else what the worst exit code means.
pub fn fleet_verdict<'a>(verdicts: impl IntoIterator<Item = &'a str>, exit_code: u8) -> &'a str {
    match exit_code {
        0 => {
            let mut all = verdicts.into_iter();
            let first = all.next().unwrap_or("stable");
            if all.all(|v| v == first) {
                first
            } else {
                "stable"
            }
        }
        5 => "timed_out",
        130 | 143 => "interrupted",
        6 => "paused",
        _ => "failed",
    }
}

/// One rule of an ECR registry's replication configuration: where it copies to (region,
/// account) and which repositories (name prefixes; none: every repository).
/// https://docs.aws.amazon.com/AmazonECR/latest/userguide/replication.html
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationRule {
    pub destinations: Vec<(String, String)>,
    pub prefixes: Vec<String>,
}

/// Whether the home registry's rules copy repository `name` to `account` in `region` (ECR then
/// pushes the replica itself, and the target waits for it by digest instead of a second push).
pub fn replicated(rules: &[ReplicationRule], name: &str, account: &str, region: &str) -> bool {
    rules.iter().any(|rule| {
        rule.destinations
            .iter()
            .any(|(r, a)| r == region && a == account)
            && (rule.prefixes.is_empty()
                || rule.prefixes.iter().any(|p| name.starts_with(p.as_str())))
    })
}

/// An ECR repository URI for another account and region: the same repository name under
/// `<account>.dkr.ecr.<region>.amazonaws.com`. A repository outside ECR is kept as it is.
pub fn ecr_repository_for(repository: &str, account: &str, region: &str) -> String {
    let Some((host, path)) = repository.split_once('/') else {
        return repository.to_owned();
    };
    let labels: Vec<&str> = host.split('.').collect();
    match labels.as_slice() {
        [_, "dkr", "ecr", _, rest @ ..] if !rest.is_empty() && rest[0] == "amazonaws" => {
            let suffix = rest.join(".");
            format!("{account}.dkr.ecr.{region}.{suffix}/{path}")
        }
        _ => repository.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_flags_give_every_region_for_every_role() {
        let regions = strings(&["us-east-1", "eu-west-1"]);
        let roles = strings(&[
            "arn:aws:iam::111111111111:role/deploy",
            "arn:aws:iam::222222222222:role/deploy",
        ]);
        let services = strings(&["api"]);
        let flags = FlagTargets {
            regions: &regions,
            role_arns: &roles,
            cluster: Some("web"),
            services: &services,
            ..Default::default()
        };
        let names: Vec<String> = from_flags(&flags)
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(
            names,
            [
                "111111111111/us-east-1",
                "111111111111/eu-west-1",
                "222222222222/us-east-1",
                "222222222222/eu-west-1"
            ]
        );
        let one = from_flags(&FlagTargets::default()).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].name, "default");
    }

    #[test]
    fn bad_targets_are_named_with_the_field_at_fault() {
        let cases: &[(&[&str], &[&str], &str)] = &[
            (&["us-east1"], &[], "`us-east1` is not a region"),
            (&["US-EAST-1"], &[], "is not a region"),
            (&[], &["arn:aws:iam::12:role/x"], "is not an IAM role ARN"),
            (
                &[],
                &["arn:aws:iam::123456789012:user/x"],
                "is not an IAM role ARN",
            ),
            (&["us-east-1", "us-east-1"], &[], "is used twice"),
        ];
        for (regions, roles, want) in cases {
            let regions = strings(regions);
            let roles = strings(roles);
            let flags = FlagTargets {
                regions: &regions,
                role_arns: &roles,
                ..Default::default()
            };
            let err = from_flags(&flags).unwrap_err().to_string();
            assert!(err.contains(want), "{regions:?} {roles:?}: {err}");
        }
    }

    #[test]
    fn a_file_entry_wins_over_its_defaults_and_the_defaults_over_the_flags() {
        let doc = json!({
            "defaults": {"cluster": "web", "env": ["TIER=prod"]},
            "targets": [
                {"name": "staging", "region": "us-west-2", "role_arn": "arn:aws:iam::210987654321:role/deploy",
                 "services": ["api", "worker"], "env": ["api:DEBUG=1"], "desired_count": 1},
                {"region": "eu-west-1", "cluster": "eu-web"}
            ]
        });
        let services = strings(&["api"]);
        let flags = FlagTargets {
            cluster: Some("flag-cluster"),
            services: &services,
            external_id: Some("ext-1"),
            ..Default::default()
        };
        let targets = from_file(doc, &flags).unwrap();
        assert_eq!(targets[0].name, "staging");
        assert_eq!(targets[0].cluster.as_deref(), Some("web"));
        assert_eq!(targets[0].services, ["api", "worker"]);
        assert_eq!(targets[0].env, ["TIER=prod", "api:DEBUG=1"]);
        assert_eq!(targets[0].external_id.as_deref(), Some("ext-1"));
        assert_eq!(targets[0].desired_count, Some(1));
        assert_eq!(targets[1].name, "eu-west-1");
        assert_eq!(targets[1].cluster.as_deref(), Some("eu-web"));
        assert_eq!(targets[1].services, ["api"]);
    }

    #[test]
    fn a_bad_file_says_what_is_wrong() {
        let flags = FlagTargets::default();
        let cases = [
            (json!({"targets": []}), "has no target"),
            (
                json!({"targets": [{"regoin": "us-east-1"}]}),
                "unknown field `regoin`",
            ),
            (
                json!({"target": [{"region": "us-east-1"}]}),
                "unknown field `target`",
            ),
            (
                json!({"targets": [{"region": "us-east-1"}, {"region": "us-east-1"}]}),
                "`us-east-1` is used twice",
            ),
            (
                json!({"targets": [{"name": "p", "region": "nowhere"}]}),
                "target `p`: `nowhere` is not a region",
            ),
            (
                json!({"targets": [{"services": "api"}]}),
                "expected a sequence",
            ),
        ];
        for (doc, want) in cases {
            let err = from_file(doc.clone(), &flags).unwrap_err().to_string();
            assert!(err.contains(want), "{doc}: {err}");
        }
        let roles = strings(&["arn:aws:iam::123456789012:role/x"]);
        let with_roles = FlagTargets {
            role_arns: &roles,
            ..Default::default()
        };
        let err = from_file(json!({"targets": [{}]}), &with_roles).unwrap_err();
        assert!(matches!(err, TargetsError::Conflict(_)), "{err}");
    }

    #[test]
    fn toml_and_yaml_say_the_same() {
        let toml = "[defaults]\ncluster = \"web\"\n\n[[targets]]\nregion = \"us-east-1\"\nservices = [\"api\"]\ndesired_count = 2\n";
        let yaml = "defaults:\n  cluster: web\ntargets:\n  - region: us-east-1\n    services: [api]\n    desired_count: 2\n";
        let a = parse(toml, Format::Toml).unwrap();
        let b = parse(yaml, Format::Yaml).unwrap();
        assert_eq!(a, b);
        assert!(
            parse("targets = [", Format::Toml)
                .unwrap_err()
                .to_string()
                .starts_with("not valid TOML")
        );
        assert!(
            parse("targets: [", Format::Yaml)
                .unwrap_err()
                .to_string()
                .starts_with("not valid YAML")
        );
        assert_eq!(Format::of("t.TOML"), Some(Format::Toml));
        assert_eq!(Format::of("t.yml"), Some(Format::Yaml));
        assert_eq!(Format::of("t.txt"), None);
    }

    #[test]
    fn regions_and_role_arns() {
        for (region, ok) in [
            ("us-east-1", true),
            ("ap-northeast-1", true),
            ("us-gov-west-1", true),
            ("eu-central-2", true),
            ("us-east", false),
            ("useast-1", false),
            ("us-east-1a", false),
            ("", false),
        ] {
            assert_eq!(is_region(region), ok, "{region}");
        }
        assert_eq!(
            role_account("arn:aws:iam::123456789012:role/path/deploy"),
            Some("123456789012")
        );
        assert_eq!(
            role_account("arn:aws-cn:iam::123456789012:role/d"),
            Some("123456789012")
        );
        assert_eq!(role_account("arn:aws:iam::123456789012:role/"), None);
        assert_eq!(role_account("arn:aws:sts::123456789012:role/d"), None);
    }

    #[test]
    fn the_session_name_is_what_sts_accepts() {
        assert_eq!(
            session_name("release api:2025"),
            "ecs-ship-release-api-2025"
        );
        assert_eq!(session_name(&"x".repeat(100)).len(), 64);
        assert!(
            session_name("a/b c@d")
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
        );
    }

    #[test]
    fn the_worst_exit_code_wins() {
        let cases: &[(&[u8], u8)] = &[
            (&[], 0),
            (&[0, 0], 0),
            (&[0, 3], 3),
            (&[3, 4], 4),
            (&[5, 4], 4),
            (&[2, 3], 3),
            (&[1, 2], 2),
            (&[4, 130], 130),
            (&[130, 143], 143),
            (&[6, 5], 5),
        ];
        for (codes, want) in cases {
            assert_eq!(worst_exit(codes.iter().copied()), *want, "{codes:?}");
        }
    }

    #[test]
    fn a_replication_rule_covers_a_target_by_region_account_and_prefix() {
        let rules = [
            ReplicationRule {
                destinations: vec![("eu-west-1".into(), "111111111111".into())],
                prefixes: vec!["team/".into()],
            },
            ReplicationRule {
                destinations: vec![("ap-northeast-1".into(), "222222222222".into())],
                prefixes: vec![],
            },
        ];
        let cases = [
            ("team/api", "111111111111", "eu-west-1", true),
            ("other/api", "111111111111", "eu-west-1", false),
            ("team/api", "111111111111", "us-west-2", false),
            ("team/api", "333333333333", "eu-west-1", false),
            ("anything", "222222222222", "ap-northeast-1", true),
        ];
        for (name, account, region, want) in cases {
            assert_eq!(
                replicated(&rules, name, account, region),
                want,
                "{name} {account} {region}"
            );
        }
        assert!(!replicated(&[], "team/api", "111111111111", "eu-west-1"));
    }

    #[test]
    fn the_verdict_of_several_targets() {
        let cases: &[(&[&str], u8, &str)] = &[
            (&["stable", "stable"], 0, "stable"),
            (&["dry_run", "dry_run"], 0, "dry_run"),
            (&["not_waited", "stable"], 0, "stable"),
            (&[], 0, "stable"),
            (&["stable", "failed"], 4, "failed"),
            (&["stable", "timed_out"], 5, "timed_out"),
            (&["stable", "failed"], 3, "failed"),
            (&["interrupted"], 130, "interrupted"),
            (&["paused"], 6, "paused"),
        ];
        for (verdicts, code, want) in cases {
            assert_eq!(
                fleet_verdict(verdicts.iter().copied(), *code),
                *want,
                "{verdicts:?} {code}"
            );
        }
    }

    #[test]
    fn an_ecr_repository_is_rewritten_for_each_account_and_region() {
        let cases = [
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/api",
                "210987654321",
                "eu-west-1",
                "210987654321.dkr.ecr.eu-west-1.amazonaws.com/team/api",
            ),
            (
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/api",
                "210987654321",
                "cn-northwest-1",
                "210987654321.dkr.ecr.cn-northwest-1.amazonaws.com.cn/api",
            ),
            (
                "127.0.0.1:5000/api",
                "210987654321",
                "eu-west-1",
                "127.0.0.1:5000/api",
            ),
            ("api", "210987654321", "eu-west-1", "api"),
        ];
        for (repo, account, region, want) in cases {
            assert_eq!(ecr_repository_for(repo, account, region), want, "{repo}");
        }
    }
}
