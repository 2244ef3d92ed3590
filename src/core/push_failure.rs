//! Whether a push error the engine reports is worth another try: network trouble and the
//! registry's 5xx answers are; refused credentials, missing repositories, immutable tags and
//! anything unrecognised are not. Decided on the error's shape (an HTTP status in the engine's
//! phrasing, a network error's words), never on a substring that a digest or a name could hold.

use std::sync::LazyLock;

use regex::Regex;

/// What a push error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushFailure {
    /// The registry or the network may do better on another try.
    Transient,
    /// Another try gets the same answer.
    Final,
}

/// An HTTP status the registry answered, as the engine phrases it
/// ("received unexpected HTTP status: 503 Service Unavailable", "status code 502").
static STATUS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:http status:?|status code:?)\s*(\d{3})\b").expect("a valid pattern")
});

/// Network failures, as Go's net/http and the engine word them, as whole words.
static NETWORK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:connection reset by peer|connection reset|connection refused|broken pipe|unexpected EOF|i/o timeout|TLS handshake timeout|timeout awaiting response headers|context deadline exceeded)\b|: EOF$",
    )
    .expect("a valid pattern")
});

/// Refusals: another try gets the same answer.
static REFUSED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(?:unauthorized|denied|name unknown|manifest invalid|tag invalid|blob unknown)\b|no basic auth credentials|authentication required|\bimmutable\b",
    )
    .expect("a valid pattern")
});

pub fn classify(message: &str) -> PushFailure {
    let message = message.trim();
    if REFUSED.is_match(message) {
        return PushFailure::Final;
    }
    if let Some(code) = STATUS
        .captures(message)
        .and_then(|c| c[1].parse::<u16>().ok())
    {
        return if (500..=599).contains(&code) || code == 429 || code == 408 {
            PushFailure::Transient
        } else {
            PushFailure::Final
        };
    }
    if NETWORK.is_match(message) {
        PushFailure::Transient
    } else {
        PushFailure::Final
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_network_trouble_and_server_errors_are_retried() {
        use PushFailure::*;
        let cases = [
            (
                "Put \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused",
                Transient,
            ),
            (
                "received unexpected HTTP status: 503 Service Unavailable",
                Transient,
            ),
            (
                "received unexpected HTTP status: 500 Internal Server Error",
                Transient,
            ),
            (
                "received unexpected HTTP status: 429 Too Many Requests",
                Transient,
            ),
            ("unexpected EOF", Transient),
            ("Patch \"http://r/v2/x/blobs/uploads/1\": EOF", Transient),
            ("net/http: TLS handshake timeout", Transient),
            (
                "read tcp 127.0.0.1:5->127.0.0.1:6: read: connection reset by peer",
                Transient,
            ),
            ("unauthorized: authentication required", Final),
            ("denied: requested access to the resource is denied", Final),
            ("no basic auth credentials", Final),
            ("name unknown: repository name not known to registry", Final),
            ("received unexpected HTTP status: 404 Not Found", Final),
            (
                "tag invalid: The image tag 'v1' already exists in the 'api' repository and cannot be overwritten because the repository is immutable.",
                Final,
            ),
            // A digest or a name that holds "500", "eof" or "i/o" is no server error.
            (
                "manifest for r/api@sha256:5005002500b500eof0io00000000000000000000000000000000000000000 blob upload invalid",
                Final,
            ),
            ("layer 500a1b2c3d4e already exists, then: failed", Final),
            ("something else went wrong", Final),
        ];
        for (message, want) in cases {
            assert_eq!(classify(message), want, "{message}");
        }
    }
}
