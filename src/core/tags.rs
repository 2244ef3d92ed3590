//! Image tags: the run's UTC timestamp (one per run, so every step agrees), the short git sha,
//! and any given tag, each checked against Docker's tag grammar before anything is built.

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Utc};

use super::image_ref::is_valid_tag;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("invalid --tag-format `{0}`: not a chrono format (e.g. %Y%m%d%H%M)")]
    BadFormat(String),
    #[error(
        "invalid tag `{tag}`{from}: a tag is 1-128 of [A-Za-z0-9_.-], not starting with `.` or `-`"
    )]
    Invalid { tag: String, from: String },
}

/// The timestamp tag for `now` in `format` (chrono strftime), e.g. `%Y%m%d%H%M` -> `202611221930`.
pub fn timestamp_tag(now: DateTime<Utc>, format: &str) -> Result<String, TagError> {
    let items: Vec<Item<'_>> = StrftimeItems::new(format).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return Err(TagError::BadFormat(format.to_owned()));
    }
    let tag = now.format_with_items(items.into_iter()).to_string();
    if is_valid_tag(&tag) {
        Ok(tag)
    } else {
        Err(TagError::Invalid {
            tag,
            from: format!(" (from --tag-format `{format}`)"),
        })
    }
}

/// The 7-character short sha of a full git sha, if it is one.
pub fn short_sha(sha: &str) -> Option<String> {
    let sha = sha.trim();
    (sha.len() >= 7 && sha.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| sha[..7].to_ascii_lowercase())
}

/// The git revision CI gives: CodeBuild's resolved source version, else GitHub Actions' sha.
pub fn ci_revision(lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    ["CODEBUILD_RESOLVED_SOURCE_VERSION", "GITHUB_SHA"]
        .iter()
        .filter_map(|name| lookup(name))
        .find(|v| short_sha(v).is_some())
}

/// All tags of a build, in order, each once; every one checked.
pub fn build_tags(
    timestamp: Option<String>,
    git: Option<String>,
    extra: &[String],
) -> Result<Vec<String>, TagError> {
    let mut tags: Vec<String> = Vec::new();
    for tag in timestamp
        .into_iter()
        .chain(git)
        .chain(extra.iter().cloned())
    {
        if !is_valid_tag(&tag) {
            return Err(TagError::Invalid {
                tag,
                from: String::new(),
            });
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Ok(tags)
}

/// The OCI labels ecs-ship puts on every image
/// (https://github.com/opencontainers/image-spec/blob/main/annotations.md): when it was created,
/// from which revision and which source repository. A source URL that carries credentials
/// (`https://user:token@host/...`) is left out: labels are readable by anyone who can pull.
/// `user` labels (`--label K=V`) are applied last and win.
pub fn build_labels(
    created: &str,
    revision: Option<&str>,
    source: Option<&str>,
    user: &[(String, String)],
) -> std::collections::BTreeMap<String, String> {
    let mut labels = std::collections::BTreeMap::from([(
        "org.opencontainers.image.created".to_owned(),
        created.to_owned(),
    )]);
    if let Some(rev) = revision {
        labels.insert("org.opencontainers.image.revision".into(), rev.to_owned());
    }
    if let Some(source) = source.filter(|s| !s.contains('@')) {
        labels.insert("org.opencontainers.image.source".into(), source.to_owned());
    }
    for (k, v) in user {
        labels.insert(k.clone(), v.clone());
    }
    labels
}

/// The source repository URL CI names: GitHub's server and repository, else CodeBuild's.
pub fn ci_source(lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    match (lookup("GITHUB_SERVER_URL"), lookup("GITHUB_REPOSITORY")) {
        (Some(server), Some(repo)) => Some(format!("{server}/{repo}")),
        _ => lookup("CODEBUILD_SOURCE_REPO_URL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 19, 30, 59).unwrap()
    }

    #[test]
    fn timestamps_follow_the_format_in_utc() {
        assert_eq!(timestamp_tag(now(), "%Y%m%d%H%M").unwrap(), "202611221930");
        assert_eq!(
            timestamp_tag(now(), "%Y%m%d%H%M%S").unwrap(),
            "20261122193059"
        );
        assert_eq!(
            timestamp_tag(now(), "v%Y.%m.%d-%H%M").unwrap(),
            "v2026.11.22-1930"
        );
        assert_eq!(
            timestamp_tag(now(), "%Q").unwrap_err(),
            TagError::BadFormat("%Q".into())
        );
        assert!(
            matches!(
                timestamp_tag(now(), "%Y/%m").unwrap_err(),
                TagError::Invalid { .. }
            ),
            "`/` is not allowed in a tag"
        );
    }

    #[test]
    fn git_shas_come_from_ci_variables() {
        let env = |name: &str| match name {
            "CODEBUILD_RESOLVED_SOURCE_VERSION" => Some("not-a-sha".to_owned()),
            "GITHUB_SHA" => Some("0123456789ABCDEF0123456789abcdef01234567".to_owned()),
            _ => None,
        };
        let sha = ci_revision(&env).unwrap();
        assert_eq!(short_sha(&sha).unwrap(), "0123456");
        assert_eq!(ci_revision(&|_| None), None);
        assert_eq!(short_sha("abc"), None);
    }

    #[test]
    fn labels_name_time_revision_and_a_credential_free_source() {
        type Pairs<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(Option<&str>, Option<&str>, Pairs, Pairs)] = &[
            (
                None,
                None,
                &[],
                &[("org.opencontainers.image.created", "T")],
            ),
            (
                Some("abc"),
                Some("https://github.com/o/r"),
                &[],
                &[
                    ("org.opencontainers.image.created", "T"),
                    ("org.opencontainers.image.revision", "abc"),
                    ("org.opencontainers.image.source", "https://github.com/o/r"),
                ],
            ),
            (
                None,
                Some("https://x:secret@git.example/r"),
                &[],
                &[("org.opencontainers.image.created", "T")],
            ),
            (
                Some("abc"),
                None,
                &[("org.opencontainers.image.revision", "mine"), ("team", "a")],
                &[
                    ("org.opencontainers.image.created", "T"),
                    ("org.opencontainers.image.revision", "mine"),
                    ("team", "a"),
                ],
            ),
        ];
        for (revision, source, user, want) in cases {
            let user: Vec<(String, String)> = user
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect();
            let got = build_labels("T", *revision, *source, &user);
            let want: std::collections::BTreeMap<String, String> = want
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect();
            assert_eq!(got, want, "{revision:?} {source:?}");
        }
    }

    #[test]
    fn the_source_comes_from_github_else_codebuild() {
        let gh = |n: &str| match n {
            "GITHUB_SERVER_URL" => Some("https://github.com".to_owned()),
            "GITHUB_REPOSITORY" => Some("o/r".to_owned()),
            "CODEBUILD_SOURCE_REPO_URL" => Some("https://cb".to_owned()),
            _ => None,
        };
        assert_eq!(ci_source(&gh).as_deref(), Some("https://github.com/o/r"));
        let cb = |n: &str| (n == "CODEBUILD_SOURCE_REPO_URL").then(|| "https://cb".to_owned());
        assert_eq!(ci_source(&cb).as_deref(), Some("https://cb"));
        assert_eq!(ci_source(&|_| None), None);
    }

    #[test]
    fn tags_are_checked_and_deduplicated() {
        let tags = build_tags(
            Some("202611221930".into()),
            Some("0123456".into()),
            &["latest".into(), "0123456".into()],
        )
        .unwrap();
        assert_eq!(tags, ["202611221930", "0123456", "latest"]);
        let err = build_tags(None, None, &["bad tag".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid tag `bad tag`: a tag is 1-128 of [A-Za-z0-9_.-], not starting with `.` or `-`"
        );
        assert!(build_tags(None, None, &[".hidden".into()]).is_err());
    }
}
