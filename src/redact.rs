//! Secrets this run has seen (an ECR authorization token and its password, registry passwords, the
//! X-Registry-Auth header made of them) are replaced by `***` in everything written to stderr: our
//! logs, the SDK's and hyper's at any level `ECS_SHIP_LOG` turns on, and error messages. Filtering
//! the log levels alone is not enough: at trace the SDK logs whole response bodies.

use std::borrow::Cow;
use std::io::Write;
use std::sync::{LazyLock, Mutex};

use regex::Regex;

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// An ECR authorization token where the SDK's trace logs show one before our code has seen it: in
/// the raw response body (`"authorizationToken":"..."`, its quotes escaped when the body is logged
/// as a Debug byte string) and in the parsed output's Debug form
/// (`authorization_token: Some("...")`).
static TOKEN_FIELDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(\\?"authorizationToken\\?"\s*:\s*\\?"|authorization_token: Some\(")[^"\\]*"#)
        .expect("a valid regex")
});

/// Remembers `secret` so it never reaches stderr. Very short strings are not registered: hiding
/// every `ab` in the output would hide more than the secret.
pub fn register(secret: &str) {
    if secret.len() < 6 {
        return;
    }
    if let Ok(mut secrets) = SECRETS.lock()
        && !secrets.iter().any(|s| s == secret)
    {
        secrets.push(secret.to_owned());
        // Longest first, so a token is hidden whole before the password inside it is looked for.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with every registered secret, and every ECR token field, replaced by `***`.
pub fn apply(text: &str) -> Cow<'_, str> {
    let mut out = TOKEN_FIELDS.replace_all(text, "${1}***");
    let Ok(secrets) = SECRETS.lock() else {
        return out;
    };
    for s in secrets.iter() {
        if out.contains(s.as_str()) {
            out = Cow::Owned(out.replace(s.as_str(), "***"));
        }
    }
    out
}

/// Stderr through `apply`, for the log subscriber.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let text = apply(&text);
        // The formatter escapes control sequences in messages; a line of an event message that
        // would be a workflow command is neutralised here.
        let text = if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
            crate::core::text::workflow_safe(&text).into_owned()
        } else {
            text.into_owned()
        };
        std::io::stderr().write_all(text.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = Stderr;

    fn make_writer(&'a self) -> Self::Writer {
        Stderr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_hidden_and_short_ones_ignored() {
        register("QVdTOnNlY3JldC1wYXNzd29yZA==");
        register("secret-password");
        register("ab");
        assert_eq!(
            apply("token QVdTOnNlY3JldC1wYXNzd29yZA== pw secret-password ab"),
            "token *** pw *** ab"
        );
        assert!(matches!(apply("nothing here"), Cow::Borrowed(_)));
        assert_eq!(
            apply(
                r#"body={"authorizationData":[{"authorizationToken":"QVdTOng=","proxyEndpoint":"x"}]}"#
            ),
            r#"body={"authorizationData":[{"authorizationToken":"***","proxyEndpoint":"x"}]}"#
        );
        assert_eq!(
            apply(r#"b"{\"authorizationToken\": \"QVdTOng=\", \"expiresAt\""#),
            r#"b"{\"authorizationToken\": \"***\", \"expiresAt\""#
        );
        assert_eq!(
            apply(r#"AuthorizationData { authorization_token: Some("QVdTOng="), expires_at"#),
            r#"AuthorizationData { authorization_token: Some("***"), expires_at"#
        );
    }
}
