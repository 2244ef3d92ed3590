//! Where AWS credentials come from, checked before the first call: a named profile that no shared
//! file holds, or a credential variable that is set but empty, is an error naming it - not a
//! silent fall-back to other credentials, nor the SDK's IMDS probe failing minutes later.
//! And what an authentication failure from AWS means, in words.

use std::fmt;

/// The credential variables the SDK reads from the environment
/// (https://docs.aws.amazon.com/sdkref/latest/guide/feature-static-credentials.html).
pub const CREDENTIAL_VARIABLES: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Where the credentials of this run come from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// A shared-config profile: its name, and where it was named (`--profile` or `AWS_PROFILE`).
    Profile {
        name: String,
        named_by: &'static str,
    },
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    Environment,
    /// The SDK's default chain: the default profile, SSO, the container or instance role.
    DefaultChain,
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Profile { name, named_by } => {
                write!(f, "profile `{name}` ({named_by})")
            }
            CredentialSource::Environment => {
                write!(
                    f,
                    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY from the environment"
                )
            }
            CredentialSource::DefaultChain => write!(
                f,
                "the default chain (default profile, SSO, container or instance role)"
            ),
        }
    }
}

/// What is wrong with the credential setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialProblem {
    EmptyVariables(Vec<&'static str>),
    NoSuchProfile {
        name: String,
        named_by: &'static str,
        files: Vec<String>,
    },
}

impl fmt::Display for CredentialProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialProblem::EmptyVariables(names) => write!(
                f,
                "{} set but empty: unset {} or give {} (a CI secret that is not defined expands to nothing)",
                names.join(", "),
                if names.len() == 1 { "it" } else { "them" },
                if names.len() == 1 {
                    "it a value"
                } else {
                    "them values"
                },
            ),
            CredentialProblem::NoSuchProfile {
                name,
                named_by,
                files,
            } => write!(
                f,
                "AWS profile `{name}` ({named_by}) is in none of {}: create it (aws configure --profile {name}), or unset {named_by} to use the other credentials",
                files.join(", ")
            ),
        }
    }
}

impl std::error::Error for CredentialProblem {}

/// A shared config or credentials file that was read: its path, and its text (None: missing).
pub struct SharedFile<'a> {
    pub path: &'a str,
    pub text: Option<&'a str>,
}

/// Checks the setup. `env` reads a variable; `profile` is the one named, with where it was named.
pub fn check(
    env: impl Fn(&str) -> Option<String>,
    profile: Option<(&str, &'static str)>,
    files: &[SharedFile<'_>],
) -> Result<CredentialSource, CredentialProblem> {
    let empty: Vec<&'static str> = CREDENTIAL_VARIABLES
        .iter()
        .copied()
        .filter(|v| env(v).is_some_and(|value| value.trim().is_empty()))
        .collect();
    if !empty.is_empty() {
        return Err(CredentialProblem::EmptyVariables(empty));
    }
    if let Some((name, named_by)) = profile {
        if files
            .iter()
            .any(|f| f.text.is_some_and(|t| has_profile(t, name)))
        {
            return Ok(CredentialSource::Profile {
                name: name.to_owned(),
                named_by,
            });
        }
        return Err(CredentialProblem::NoSuchProfile {
            name: name.to_owned(),
            named_by,
            files: files.iter().map(|f| f.path.to_owned()).collect(),
        });
    }
    if env("AWS_ACCESS_KEY_ID").is_some() {
        Ok(CredentialSource::Environment)
    } else {
        Ok(CredentialSource::DefaultChain)
    }
}

/// Whether a shared file has a section for `name`: `[name]` (credentials, and `default` in config)
/// or `[profile name]` (config).
fn has_profile(text: &str, name: &str) -> bool {
    text.lines().any(|line| {
        let Some(inner) = line
            .trim()
            .strip_prefix('[')
            .and_then(|l| l.split(']').next())
        else {
            return false;
        };
        let inner = inner.trim();
        inner == name
            || inner
                .strip_prefix("profile")
                .is_some_and(|rest| rest.starts_with(char::is_whitespace) && rest.trim() == name)
    })
}

/// What an authentication failure from AWS means, by its error code; `None` for other errors.
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html,
/// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/CommonErrors.html)
pub fn explain_auth(code: &str) -> Option<&'static str> {
    match code {
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" | "TokenRefreshRequired" => {
            Some(
                "the session credentials have expired: refresh them (a new role session, `aws sso login`) and run again",
            )
        }
        "InvalidSignatureException" | "SignatureDoesNotMatch" => Some(
            "AWS refused the request's signature: check this machine's clock (a skew of over 5 minutes invalidates every request), and that the secret key belongs to the access key",
        ),
        "UnrecognizedClientException" | "InvalidClientTokenId" | "InvalidAccessKeyId" => Some(
            "AWS does not know this access key: it was deleted, deactivated, or belongs to another partition",
        ),
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => {
            Some("the identity is not allowed this call: add the action to its IAM policy")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    const CONFIG: &str = "[default]\nregion = us-east-1\n[profile deploy]\nrole_arn = x\n";
    const CREDENTIALS: &str = "[ci]\naws_access_key_id = A\n";

    #[test]
    fn the_credential_setup_is_checked_before_any_call() {
        let files = [
            SharedFile {
                path: "~/.aws/config",
                text: Some(CONFIG),
            },
            SharedFile {
                path: "~/.aws/credentials",
                text: Some(CREDENTIALS),
            },
        ];
        let keys = [("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "S")];
        let profile = |name: &str| CredentialSource::Profile {
            name: name.into(),
            named_by: "AWS_PROFILE",
        };
        type Case<'a> = (
            Vec<(&'a str, &'a str)>,
            Option<&'a str>,
            Result<CredentialSource, CredentialProblem>,
        );
        let cases: Vec<Case> = vec![
            (keys.to_vec(), None, Ok(CredentialSource::Environment)),
            (vec![], None, Ok(CredentialSource::DefaultChain)),
            (vec![], Some("deploy"), Ok(profile("deploy"))),
            (vec![], Some("ci"), Ok(profile("ci"))),
            (vec![], Some("default"), Ok(profile("default"))),
            (
                keys.to_vec(),
                Some("prod"),
                Err(CredentialProblem::NoSuchProfile {
                    name: "prod".into(),
                    named_by: "AWS_PROFILE",
                    files: vec!["~/.aws/config".into(), "~/.aws/credentials".into()],
                }),
            ),
            (
                vec![("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", " ")],
                None,
                Err(CredentialProblem::EmptyVariables(vec![
                    "AWS_ACCESS_KEY_ID",
                    "AWS_SECRET_ACCESS_KEY",
                ])),
            ),
            (
                vec![
                    ("AWS_ACCESS_KEY_ID", "A"),
                    ("AWS_SECRET_ACCESS_KEY", "S"),
                    ("AWS_SESSION_TOKEN", ""),
                ],
                None,
                Err(CredentialProblem::EmptyVariables(vec!["AWS_SESSION_TOKEN"])),
            ),
        ];
        for (vars, named, want) in cases {
            let got = check(env_of(&vars), named.map(|n| (n, "AWS_PROFILE")), &files);
            assert_eq!(got, want, "{vars:?} {named:?}");
        }
        // "[profile deploy]" names `deploy`, never `profile deploy` nor `deploy-old`.
        assert!(!has_profile("[profile deploy-old]\n", "deploy"));
        assert!(!has_profile("[profiledeploy]\n", "deploy"));
    }

    #[test]
    fn auth_failures_are_said_in_words() {
        assert!(explain_auth("ExpiredToken").unwrap().contains("expired"));
        assert!(
            explain_auth("InvalidSignatureException")
                .unwrap()
                .contains("clock")
        );
        assert!(
            explain_auth("SignatureDoesNotMatch")
                .unwrap()
                .contains("clock")
        );
        assert!(
            explain_auth("UnrecognizedClientException")
                .unwrap()
                .contains("access key")
        );
        assert_eq!(explain_auth("ClusterNotFoundException"), None);
    }
}
