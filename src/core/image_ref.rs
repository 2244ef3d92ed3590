//! Image references (`[registry/]repository[:tag][@sha256:hex]`) checked against Docker's
//! reference grammar (distribution/reference), and ECR registry detection.

use std::fmt;

use regex::Regex;
use std::sync::LazyLock;

/// A parsed image reference. `name` includes the registry host when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference `{reference}`: {reason}")]
pub struct InvalidImageRef {
    pub reference: String,
    pub reason: String,
}

// distribution/reference: path components are lowercase alphanumerics joined by `.`, `_`, `__`
// or runs of `-`; a domain is DNS labels (any case) with an optional port, or a bracketed IPv6.
static PATH_COMPONENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$").unwrap());
static DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$",
    )
    .unwrap()
});
static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[\w][\w.-]{0,127}$").unwrap());
static DIGEST: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^sha256:[0-9a-f]{64}$").unwrap());
static ECR_HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([0-9]{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$").unwrap()
});

const MAX_NAME_LEN: usize = 255;

/// Whether `tag` is a valid Docker tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    TAG.is_match(tag)
}

impl ImageRef {
    pub fn parse(reference: &str) -> Result<Self, InvalidImageRef> {
        let invalid = |reason: &str| InvalidImageRef {
            reference: reference.to_owned(),
            reason: reason.to_owned(),
        };
        if reference.is_empty() {
            return Err(invalid("it is empty"));
        }
        if reference.chars().any(char::is_whitespace) {
            return Err(invalid("it contains white space"));
        }
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => {
                if !DIGEST.is_match(digest) {
                    return Err(invalid(
                        "the digest must be `sha256:` followed by 64 lowercase hex digits",
                    ));
                }
                (rest, Some(digest.to_owned()))
            }
            None => (reference, None),
        };
        // A tag follows the last `:` that comes after the last `/` (a port belongs to the domain).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(rest[at + 1..].to_owned()))
            }
            None => (rest, None),
        };
        if let Some(tag) = &tag
            && !is_valid_tag(tag)
        {
            return Err(invalid(&format!(
                "tag `{tag}` must be 1-128 of [A-Za-z0-9_.-], not starting with `.` or `-`"
            )));
        }
        validate_name(name).map_err(|reason| invalid(&reason))?;
        Ok(ImageRef {
            name: name.to_owned(),
            tag,
            digest,
        })
    }

    /// The registry host, when the first component names one.
    pub fn domain(&self) -> Option<&str> {
        split_domain(&self.name).0
    }

    /// The repository path without the registry host.
    pub fn path(&self) -> &str {
        split_domain(&self.name).1
    }

    /// The same image pinned to `digest`, without its tag: `name@sha256:...`.
    pub fn pinned(&self, digest: &str) -> ImageRef {
        ImageRef {
            name: self.name.clone(),
            tag: None,
            digest: Some(digest.to_owned()),
        }
    }

    /// The same repository with `tag` and no digest: `name:tag`.
    pub fn with_tag(&self, tag: &str) -> ImageRef {
        ImageRef {
            name: self.name.clone(),
            tag: Some(tag.to_owned()),
            digest: None,
        }
    }

    /// The ECR repository this image lives in, when its registry is ECR.
    pub fn ecr(&self) -> Option<EcrRepository> {
        let caps = ECR_HOST.captures(self.domain()?)?;
        Some(EcrRepository {
            registry_id: caps[1].to_owned(),
            region: caps[2].to_owned(),
            name: self.path().to_owned(),
        })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// An ECR repository: `<registry_id>.dkr.ecr.<region>.amazonaws.com/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcrRepository {
    pub registry_id: String,
    pub region: String,
    pub name: String,
}

fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the repository name is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "the repository name is longer than {MAX_NAME_LEN} characters"
        ));
    }
    let (domain, path) = split_domain(name);
    if let Some(domain) = domain
        && !DOMAIN.is_match(domain)
    {
        return Err(format!("`{domain}` is not a valid registry host"));
    }
    for component in path.split('/') {
        if !PATH_COMPONENT.is_match(component) {
            return Err(format!(
                "repository path component `{component}` must be lowercase letters and digits, \
                 separated by `.`, `_`, `__` or `-`"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn valid_references_parse_into_their_parts() {
        type Case<'a> = (
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
        );
        let cases: &[Case] = &[
            ("busybox", "busybox", None, None, None),
            ("busybox:1.36", "busybox", Some("1.36"), None, None),
            (
                "library/busybox:latest",
                "library/busybox",
                Some("latest"),
                None,
                None,
            ),
            (
                "localhost:5000/app:v1",
                "localhost:5000/app",
                Some("v1"),
                None,
                Some("localhost:5000"),
            ),
            (
                "127.0.0.1:15000/team/app",
                "127.0.0.1:15000/team/app",
                None,
                None,
                Some("127.0.0.1:15000"),
            ),
            (
                "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/vendor0919-api:202509240325",
                "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/vendor0919-api",
                Some("202509240325"),
                None,
                Some("123456789012.dkr.ecr.ap-northeast-1.amazonaws.com"),
            ),
            (
                "a.b/c__d-e.f:tag_1.x-y",
                "a.b/c__d-e.f",
                Some("tag_1.x-y"),
                None,
                Some("a.b"),
            ),
        ];
        for (input, name, tag, digest, domain) in cases {
            let r = ImageRef::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.name, *name, "{input}");
            assert_eq!(r.tag.as_deref(), *tag, "{input}");
            assert_eq!(r.digest.as_deref(), *digest, "{input}");
            assert_eq!(r.domain(), *domain, "{input}");
            assert_eq!(r.to_string(), *input, "round trip of {input}");
        }
    }

    #[test]
    fn digests_parse_with_and_without_a_tag() {
        let by_digest = ImageRef::parse(&format!("repo@{D}")).unwrap();
        assert_eq!(
            (by_digest.tag, by_digest.digest.as_deref()),
            (None, Some(D))
        );
        let both = ImageRef::parse(&format!("reg.io/repo:v1@{D}")).unwrap();
        assert_eq!(
            (both.tag.as_deref(), both.digest.as_deref()),
            (Some("v1"), Some(D))
        );
        assert_eq!(both.pinned(D).to_string(), format!("reg.io/repo@{D}"));
    }

    #[test]
    fn invalid_references_say_why() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("Repo:tag", "lowercase"),
            ("repo:", "tag ``"),
            ("repo:-bad", "tag `-bad`"),
            ("repo:has/slash:x", "registry host"),
            ("repo@sha256:abc", "64 lowercase hex"),
            ("repo@md5:0123", "digest"),
            ("repo name", "white space"),
            ("repo//x", "component ``"),
            ("-repo", "component `-repo`"),
            ("bad_host.-x/repo", "registry host"),
        ];
        for (input, needle) in cases {
            let err = ImageRef::parse(input).expect_err(input);
            assert!(err.to_string().contains(needle), "{input}: {err}");
            assert!(
                err.to_string().contains(&format!("`{input}`")),
                "{input}: {err}"
            );
        }
        let long_tag = format!("repo:{}", "a".repeat(129));
        assert!(ImageRef::parse(&long_tag).is_err());
        assert!(ImageRef::parse(&format!("repo:{}", "a".repeat(128))).is_ok());
    }

    #[test]
    fn ecr_repositories_are_recognised_by_host() {
        let r =
            ImageRef::parse("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/api:v1").unwrap();
        assert_eq!(
            r.ecr(),
            Some(EcrRepository {
                registry_id: "123456789012".into(),
                region: "us-east-1".into(),
                name: "team/api".into()
            })
        );
        for not_ecr in [
            "127.0.0.1:15000/api",
            "api",
            "public.ecr.aws/nginx/nginx",
            "12.dkr.ecr.us-east-1.amazonaws.com/x",
        ] {
            assert_eq!(ImageRef::parse(not_ecr).unwrap().ecr(), None, "{not_ecr}");
        }
    }
}
