//! `--verify-url`: once a service is stable, GET each URL (a load balancer's `/health`) until it
//! answers 2xx or the deadline passes. A URL that never does fails the rollout, with the last status
//! and the start of the body - what the team this tool was first built for curled by hand after every deploy.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;
use tracing::{debug, info};

use crate::error::Error;

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct VerifySettings {
    pub urls: Vec<String>,
    /// How long each URL may take to answer 2xx.
    pub timeout: Duration,
}

/// How the checks went.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub urls: Vec<UrlCheck>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UrlCheck {
    pub url: String,
    pub ok: bool,
    /// The last HTTP status seen, if any answer came.
    pub status: Option<u16>,
    /// The start of the last answer's body (at most 200 characters).
    pub body: Option<String>,
    /// Why the last attempt got no answer (connection refused, timed out).
    pub error: Option<String>,
    pub attempts: u32,
    pub seconds: f64,
}

impl UrlCheck {
    fn describe(&self) -> String {
        match (self.status, &self.error) {
            (Some(status), _) => {
                let body = self
                    .body
                    .as_deref()
                    .filter(|b| !b.is_empty())
                    .map(|b| format!(": {b}"))
                    .unwrap_or_default();
                format!("HTTP {status}{body}")
            }
            (None, Some(error)) => error.clone(),
            (None, None) => "no answer".to_owned(),
        }
    }
}

impl VerifyReport {
    /// The rollout failure these checks amount to, if any failed.
    pub fn failure(&self) -> Option<Error> {
        let failed: Vec<String> = self
            .urls
            .iter()
            .filter(|c| !c.ok)
            .map(|c| {
                format!(
                    "{} did not answer 2xx within {:.0}s ({} attempts; last: {})",
                    c.url,
                    c.seconds,
                    c.attempts,
                    c.describe()
                )
            })
            .collect();
        (!failed.is_empty()).then(|| {
            Error::RolloutFailed(format!("the service is stable, but {}", failed.join("; ")))
        })
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.urls {
            let verdict = if c.ok { "ok" } else { "FAILED" };
            writeln!(
                f,
                "verify {}: {verdict} after {:.1}s ({})",
                c.url,
                c.seconds,
                c.describe()
            )?;
        }
        Ok(())
    }
}

/// Checks every URL, each until it answers 2xx or `settings.timeout` passes.
pub async fn verify(settings: &VerifySettings) -> VerifyReport {
    let mut urls = Vec::new();
    for url in &settings.urls {
        urls.push(check(url, settings.timeout).await);
    }
    VerifyReport { urls }
}

const BODY_EXCERPT: usize = 200;

async fn check(url: &str, timeout: Duration) -> UrlCheck {
    let start = Instant::now();
    let deadline = start + timeout;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .redirect(reqwest::redirect::Policy::limited(5))
        .build();
    let mut result = UrlCheck {
        url: url.to_owned(),
        ok: false,
        status: None,
        body: None,
        error: None,
        attempts: 0,
        seconds: 0.0,
    };
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            result.error = Some(format!("cannot make an HTTP client: {e}"));
            return result;
        }
    };
    info!(
        "verifying {url} (up to {})",
        humantime::format_duration(timeout)
    );
    loop {
        result.attempts += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let per_request = remaining.clamp(Duration::from_millis(100), Duration::from_secs(5));
        match tokio::time::timeout(per_request, get(&client, url)).await {
            Ok(Ok((status, body))) => {
                result.status = Some(status);
                result.body = Some(body);
                result.error = None;
                if (200..300).contains(&status) {
                    result.ok = true;
                    break;
                }
                debug!("{url}: HTTP {status}");
            }
            Ok(Err(e)) => {
                result.error = Some(e);
                result.status = None;
                result.body = None;
            }
            Err(_) => {
                result.error = Some(format!("no answer within {}s", per_request.as_secs_f64()));
                result.status = None;
                result.body = None;
            }
        }
        if Instant::now() + Duration::from_secs(1) >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    result.seconds = start.elapsed().as_secs_f64();
    result
}

async fn get(client: &reqwest::Client, url: &str) -> Result<(u16, String), String> {
    let response = client.get(url).send().await.map_err(|e| {
        let mut text = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    })?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let excerpt: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(BODY_EXCERPT)
        .collect();
    Ok((status, excerpt.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ok: bool, status: Option<u16>, body: Option<&str>, error: Option<&str>) -> UrlCheck {
        UrlCheck {
            url: "http://127.0.0.1:1/health".into(),
            ok,
            status,
            body: body.map(str::to_owned),
            error: error.map(str::to_owned),
            attempts: 3,
            seconds: 2.0,
        }
    }

    #[test]
    fn a_failed_url_is_a_rollout_failure_naming_status_and_body() {
        let ok = VerifyReport {
            urls: vec![check(true, Some(200), Some("ok"), None)],
        };
        assert!(ok.failure().is_none());
        let bad = VerifyReport {
            urls: vec![
                check(true, Some(200), Some("ok"), None),
                check(false, Some(503), Some("db down"), None),
            ],
        };
        let err = bad.failure().unwrap();
        assert_eq!(err.exit_code(), 4);
        let text = err.to_string();
        assert!(text.contains("HTTP 503: db down"), "{text}");
        assert!(text.contains("3 attempts"), "{text}");
        let refused = VerifyReport {
            urls: vec![check(false, None, None, Some("connection refused"))],
        };
        assert!(
            refused
                .failure()
                .unwrap()
                .to_string()
                .contains("last: connection refused")
        );
    }
}
