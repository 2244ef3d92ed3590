//! CodeBuild decisions, pure: where a project's buildspec comes from, what in a project would break a
//! release, which phases a poll newly shows as ended, and what a finished build's status means.
//!
//! References: the `buildspec` member of ProjectSource
//! (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ProjectSource.html), build phase
//! transitions (https://docs.aws.amazon.com/codebuild/latest/userguide/view-build-details.html#view-build-details-phases)
//! and privileged mode for Docker builds
//! (https://docs.aws.amazon.com/codebuild/latest/userguide/sample-docker.html).

use serde::Serialize;

/// Where a project takes its buildspec from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BuildspecSource {
    /// `buildspec.yml` at the root of the source (the `buildspec` member is empty).
    Repository,
    /// Another file of the source, or an S3 object.
    Path { path: String },
    /// The buildspec text itself, kept in the project: the repository's file is never read.
    Inline { text: String },
}

impl BuildspecSource {
    /// Reads ProjectSource's `buildspec` member: empty means the source's `buildspec.yml`; a
    /// value with a line break or a `key: value` pair is YAML, i.e. an inline buildspec; anything
    /// else is a path (relative to CODEBUILD_SRC_DIR) or an S3 ARN.
    pub fn of(buildspec: Option<&str>) -> Self {
        match buildspec.map(str::trim) {
            None | Some("") => BuildspecSource::Repository,
            Some(text) if text.contains('\n') || text.contains(": ") || text.starts_with('{') => {
                BuildspecSource::Inline {
                    text: buildspec.unwrap_or_default().to_owned(),
                }
            }
            Some(path) => BuildspecSource::Path {
                path: path.to_owned(),
            },
        }
    }

    pub fn describe(&self) -> String {
        match self {
            BuildspecSource::Repository => "buildspec.yml at the root of the source".into(),
            BuildspecSource::Path { path } => format!("`{path}` of the source"),
            BuildspecSource::Inline { .. } => "INLINE in the project".into(),
        }
    }
}

/// The first `n` lines of a text, for showing an inline buildspec.
pub fn first_lines(text: &str, n: usize) -> Vec<String> {
    text.lines().take(n).map(str::to_owned).collect()
}

/// What a buildspec's commands need from the build environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// The command lines that need a Docker engine (`ecs-ship build`/`release`, `docker build`...).
    pub docker: Vec<String>,
}

const SUBCOMMANDS: &[&str] = &[
    "build",
    "push",
    "digest",
    "imagedefs",
    "doctor",
    "taskdef",
    "deploy",
    "wait",
    "release",
    "status",
    "rehearse",
    "codebuild",
    "completions",
    "man",
];

/// Scans a buildspec's command lines (comments left out) for what needs a Docker engine in the
/// build: `ecs-ship build`, `ecs-ship release` (which builds) and `ecs-ship rehearse`, and
/// `docker build`/`docker buildx`/`docker compose build`.
pub fn needs(buildspec: &str) -> Needs {
    let mut docker = Vec::new();
    for line in buildspec.lines() {
        let code = line.trim_start();
        if code.starts_with('#') {
            continue;
        }
        let code = code.trim_start_matches("- ").trim();
        let words: Vec<&str> = code
            .split(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | '"' | '\''))
            .filter(|w| !w.is_empty())
            .collect();
        let uses_engine = words.iter().enumerate().any(|(i, w)| {
            let program = w.rsplit('/').next().unwrap_or(w);
            // The subcommand: the first word after the program that names one (global flags and
            // their values may come between, as in `ecs-ship --output env release`).
            let sub = words[i + 1..]
                .iter()
                .find(|w| SUBCOMMANDS.contains(w) || program == "docker");
            match (program, sub) {
                ("ecs-ship", Some(s)) => matches!(*s, "build" | "release" | "rehearse"),
                ("docker", Some(s)) => matches!(*s, "build" | "buildx"),
                _ => false,
            }
        }) || words
            .windows(3)
            .any(|w| w[0] == "docker" && w[1] == "compose" && w[2] == "build");
        if uses_engine {
            docker.push(code.to_owned());
        }
    }
    Needs { docker }
}

/// How bad a finding is: a problem would break a release (exit 4), a warning deserves a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Problem,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub message: String,
}

/// What `codebuild check` decides from.
#[derive(Debug, Clone, Default)]
pub struct ProjectFacts<'a> {
    pub source_type: &'a str,
    pub buildspec: Option<&'a BuildspecSource>,
    pub privileged: bool,
    /// The buildspec file of the checkout the command runs in, with its text, if there is one.
    pub checkout_file: Option<(&'a str, &'a str)>,
    /// Whether the checkout has the file a `Path` buildspec names (None: not known).
    pub path_in_checkout: Option<bool>,
}

/// The findings about a project, problems first.
pub fn check(facts: &ProjectFacts) -> Vec<Finding> {
    let mut findings = Vec::new();
    let problem = |message: String| Finding {
        severity: Severity::Problem,
        message,
    };
    let warning = |message: String| Finding {
        severity: Severity::Warning,
        message,
    };
    // The buildspec that runs: the inline text, else the checkout's file (what the source will hold).
    let running: Option<(&str, &str)> = match facts.buildspec {
        Some(BuildspecSource::Inline { text }) => {
            match facts.checkout_file {
                Some((path, _)) => findings.push(problem(format!(
                    "the buildspec is INLINE in the project, so `{path}` of this checkout is never read: builds run the project's own copy (set the project's buildspec to empty for buildspec.yml, or to the file's path)"
                ))),
                None if facts.source_type != "NO_SOURCE" => findings.push(warning(
                    "the buildspec is INLINE in the project: a buildspec file in the repository would be ignored".into(),
                )),
                None => {}
            }
            Some(("the project's inline buildspec", text.as_str()))
        }
        _ => facts.checkout_file,
    };
    if let (Some(BuildspecSource::Path { path }), Some(false)) =
        (facts.buildspec, facts.path_in_checkout)
        && !path.starts_with("arn:")
    {
        findings.push(warning(format!(
            "the project reads the buildspec from `{path}`, which this checkout does not have: builds would fail with YAML_FILE_ERROR"
        )));
    }
    if let Some((name, text)) = running {
        for p in crate::core::buildspec::validate(text) {
            findings.push(problem(format!(
                "{name}: {p}: builds would fail with YAML_FILE_ERROR"
            )));
        }
        let needs = needs(text);
        if !facts.privileged && !needs.docker.is_empty() {
            findings.push(problem(format!(
                "privileged mode is off, but the buildspec runs `{}`, which needs a Docker engine in the build: turn on privileged mode in the project's environment",
                shorten(&needs.docker[0], 72)
            )));
        }
    }
    findings.sort_by_key(|f| f.severity != Severity::Problem);
    findings
}

/// A command line cut to `n` characters, for a one-line message.
fn shorten(line: &str, n: usize) -> String {
    match line.char_indices().nth(n) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_owned(),
    }
}

/// One phase of a build as CodeBuild reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phase {
    pub phase: String,
    /// SUCCEEDED, FAILED, FAULT, TIMED_OUT, IN_PROGRESS, STOPPED; None while it runs.
    pub status: Option<String>,
    pub duration_seconds: Option<i64>,
    /// Each context's `statusCode: message`.
    pub contexts: Vec<String>,
}

impl Phase {
    pub fn ended(&self) -> bool {
        self.status.as_deref().is_some_and(|s| s != "IN_PROGRESS")
    }

    pub fn line(&self) -> String {
        let mut line = format!(
            "{:<17} {:<10} {}",
            self.phase,
            self.status.as_deref().unwrap_or("IN_PROGRESS"),
            self.duration_seconds
                .map(|s| format!("{s}s"))
                .unwrap_or_default()
        );
        for context in &self.contexts {
            line.push_str(&format!("\n  {context}"));
        }
        line.trim_end().to_owned()
    }
}

/// The phases a poll shows as ended that `seen` did not have yet, each once (by phase type: an
/// answer that lists a phase twice counts once), oldest first; `seen` is updated.
pub fn new_phases<'a>(phases: &'a [Phase], seen: &mut Vec<String>) -> Vec<&'a Phase> {
    let mut new = Vec::new();
    for phase in phases {
        if phase.ended() && !seen.contains(&phase.phase) {
            seen.push(phase.phase.clone());
            new.push(phase);
        }
    }
    new
}

/// What a build's status means for the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum BuildVerdict {
    Running,
    Succeeded,
    /// FAILED, FAULT or STOPPED: the phase that did not succeed and its context messages.
    Failed {
        status: String,
        phase: Option<String>,
        contexts: Vec<String>,
    },
    /// CodeBuild timed the build out.
    TimedOut {
        phase: Option<String>,
    },
}

pub fn verdict(status: &str, phases: &[Phase]) -> BuildVerdict {
    let failed = phases
        .iter()
        .find(|p| p.ended() && p.status.as_deref() != Some("SUCCEEDED"));
    match status {
        "IN_PROGRESS" | "" => BuildVerdict::Running,
        "SUCCEEDED" => BuildVerdict::Succeeded,
        "TIMED_OUT" => BuildVerdict::TimedOut {
            phase: failed.map(|p| p.phase.clone()),
        },
        other => BuildVerdict::Failed {
            status: other.to_owned(),
            phase: failed.map(|p| p.phase.clone()),
            contexts: failed.map(|p| p.contexts.clone()).unwrap_or_default(),
        },
    }
}

/// What a batch build's status means: its legs (build groups) decide, CodeBuild says the whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum BatchVerdict {
    Running,
    Succeeded,
    /// FAILED, FAULT or STOPPED, with the legs that did not succeed (and were not allowed to fail).
    Failed {
        status: String,
        failed_legs: Vec<String>,
    },
    TimedOut {
        failed_legs: Vec<String>,
    },
}

/// A batch's verdict from its status and each leg's (identifier, status, ignore_failure). A leg
/// never started (its dependency failed) is not named: the one that failed is.
pub fn batch_verdict(status: &str, legs: &[(&str, Option<&str>, bool)]) -> BatchVerdict {
    let bad = |wanted: &[&str]| -> Vec<String> {
        legs.iter()
            .filter(|(_, s, ignore)| !ignore && s.is_some_and(|s| wanted.contains(&s)))
            .map(|(id, _, _)| (*id).to_owned())
            .collect()
    };
    match status {
        "IN_PROGRESS" | "" => BatchVerdict::Running,
        "SUCCEEDED" => BatchVerdict::Succeeded,
        "TIMED_OUT" => BatchVerdict::TimedOut {
            failed_legs: bad(&["TIMED_OUT", "IN_PROGRESS"]),
        },
        other => BatchVerdict::Failed {
            status: other.to_owned(),
            failed_legs: bad(&["FAILED", "FAULT", "STOPPED", "TIMED_OUT"]),
        },
    }
}

/// The CloudWatch Logs group and stream of a build, from its `logs` member (`groupName` and
/// `streamName`, or else parsed from `cloudWatchLogsArn`).
pub fn log_location(
    group: Option<&str>,
    stream: Option<&str>,
    arn: Option<&str>,
) -> Option<(String, String)> {
    if let (Some(g), Some(s)) = (group, stream)
        && !g.is_empty()
        && !s.is_empty()
    {
        return Some((g.to_owned(), s.to_owned()));
    }
    // arn:aws:logs:REGION:ACCOUNT:log-group:GROUP:log-stream:STREAM
    let arn = arn?;
    let (_, rest) = arn.split_once(":log-group:")?;
    let (group, stream) = rest.split_once(":log-stream:")?;
    (!group.is_empty() && !stream.is_empty() && group != "null")
        .then(|| (group.to_owned(), stream.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_names_the_legs_that_failed() {
        let legs = [
            ("build_amd64", Some("SUCCEEDED"), false),
            ("build_arm64", Some("FAILED"), false),
            ("lint", Some("FAILED"), true),
            ("release", None, false),
        ];
        let cases = [
            ("IN_PROGRESS", BatchVerdict::Running),
            ("SUCCEEDED", BatchVerdict::Succeeded),
            (
                "FAILED",
                BatchVerdict::Failed {
                    status: "FAILED".into(),
                    failed_legs: vec!["build_arm64".into()],
                },
            ),
            (
                "STOPPED",
                BatchVerdict::Failed {
                    status: "STOPPED".into(),
                    failed_legs: vec!["build_arm64".into()],
                },
            ),
        ];
        for (status, want) in cases {
            assert_eq!(batch_verdict(status, &legs), want, "{status}");
        }
        let timed = [
            ("a", Some("IN_PROGRESS"), false),
            ("b", Some("SUCCEEDED"), false),
        ];
        assert_eq!(
            batch_verdict("TIMED_OUT", &timed),
            BatchVerdict::TimedOut {
                failed_legs: vec!["a".into()]
            }
        );
    }

    #[test]
    fn buildspec_sources() {
        let cases: &[(Option<&str>, &str)] = &[
            (None, "repository"),
            (Some(""), "repository"),
            (Some("  "), "repository"),
            (Some("buildspec.yml"), "path"),
            (Some("ci/release.yml"), "path"),
            (
                Some("arn:aws:s3:::my-bucket/buildspecs/release.yml"),
                "path",
            ),
            (Some("version: 0.2\nphases: {}\n"), "inline"),
            (Some("version: 0.2"), "inline"),
            (Some("{\"version\": \"0.2\"}"), "inline"),
        ];
        for (value, kind) in cases {
            let got = match BuildspecSource::of(*value) {
                BuildspecSource::Repository => "repository",
                BuildspecSource::Path { .. } => "path",
                BuildspecSource::Inline { .. } => "inline",
            };
            assert_eq!(got, *kind, "{value:?}");
        }
    }

    #[test]
    fn command_lines_that_need_an_engine() {
        let cases: &[(&str, bool)] = &[
            ("      - ecs-ship release --context . --repository r", true),
            ("      - ./bin/ecs-ship build --repository r", true),
            ("      - ecs-ship rehearse --image x", true),
            ("      - docker build -t x .", true),
            ("      - docker buildx build --push .", true),
            ("      - docker compose build", true),
            (
                "      - eval \"$(ecs-ship --output env release --no-deploy)\"",
                true,
            ),
            ("      - ecs-ship deploy --cluster c --service s", false),
            ("      - ecs-ship taskdef render --file td.json", false),
            ("      - docker push x", false),
            ("      # - ecs-ship release --context .", false),
            ("# docker build -t x .", false),
            ("      - echo ecs-ship-builder", false),
        ];
        for (line, engine) in cases {
            assert_eq!(!needs(line).docker.is_empty(), *engine, "{line}");
        }
    }

    fn facts<'a>(
        spec: &'a BuildspecSource,
        privileged: bool,
        checkout: Option<(&'a str, &'a str)>,
    ) -> ProjectFacts<'a> {
        ProjectFacts {
            source_type: "GITHUB",
            buildspec: Some(spec),
            privileged,
            checkout_file: checkout,
            path_in_checkout: None,
        }
    }

    #[test]
    fn findings() {
        let release = "version: 0.2\nphases:\n  build:\n    commands:\n      - ecs-ship release --context .\n";
        let deploy =
            "version: 0.2\nphases:\n  build:\n    commands:\n      - ecs-ship deploy --cluster c\n";
        let inline = BuildspecSource::Inline {
            text: deploy.into(),
        };
        let repo = BuildspecSource::Repository;
        let inline_release = BuildspecSource::Inline {
            text: release.into(),
        };
        let path = BuildspecSource::Path {
            path: "ci/buildspec.yml".into(),
        };
        let severities = |f: &[Finding]| f.iter().map(|f| f.severity).collect::<Vec<_>>();
        use Severity::{Problem, Warning};
        let cases: Vec<(ProjectFacts, Vec<Severity>, &str)> = vec![
            // That team's trap: an inline buildspec while the repository has its own file.
            (
                facts(&inline, true, Some(("buildspec.yml", release))),
                vec![Problem],
                "never read",
            ),
            (facts(&inline, true, None), vec![Warning], "INLINE"),
            // The running buildspec builds images, without privileged mode.
            (
                facts(&repo, false, Some(("buildspec.yml", release))),
                vec![Problem],
                "privileged mode is off",
            ),
            (
                facts(&repo, false, Some(("buildspec.yml", deploy))),
                vec![],
                "",
            ),
            (
                facts(&repo, true, Some(("buildspec.yml", release))),
                vec![],
                "",
            ),
            // Inline and building without privilege: both, the inline text is what runs.
            (
                facts(&inline_release, false, Some(("buildspec.yml", deploy))),
                vec![Problem, Problem],
                "never read",
            ),
            (
                ProjectFacts {
                    path_in_checkout: Some(false),
                    ..facts(&path, true, None)
                },
                vec![Warning],
                "YAML_FILE_ERROR",
            ),
        ];
        for (facts, want, text) in cases {
            let got = check(&facts);
            assert_eq!(severities(&got), want, "{facts:?}: {got:?}");
            if let Some(first) = got.first() {
                assert!(first.message.contains(text), "{}", first.message);
            }
        }
    }

    fn phase(name: &str, status: Option<&str>) -> Phase {
        Phase {
            phase: name.into(),
            status: status.map(str::to_owned),
            duration_seconds: status.map(|_| 3),
            contexts: if status == Some("FAILED") {
                vec!["COMMAND_EXECUTION_ERROR: exit status 4".into()]
            } else {
                vec![]
            },
        }
    }

    #[test]
    fn phases_are_reported_once_when_they_end() {
        let mut seen = Vec::new();
        let first = [phase("SUBMITTED", Some("SUCCEEDED")), phase("QUEUED", None)];
        let names = |v: Vec<&Phase>| v.iter().map(|p| p.phase.clone()).collect::<Vec<_>>();
        assert_eq!(names(new_phases(&first, &mut seen)), ["SUBMITTED"]);
        let second = [
            phase("SUBMITTED", Some("SUCCEEDED")),
            phase("QUEUED", Some("SUCCEEDED")),
            phase("PROVISIONING", Some("SUCCEEDED")),
            phase("DOWNLOAD_SOURCE", None),
            // An answer that repeats a phase (moto appends them on every call).
            phase("QUEUED", Some("SUCCEEDED")),
        ];
        assert_eq!(
            names(new_phases(&second, &mut seen)),
            ["QUEUED", "PROVISIONING"]
        );
        assert!(new_phases(&second, &mut seen).is_empty());
    }

    #[test]
    fn verdicts() {
        let ok = [phase("BUILD", Some("SUCCEEDED"))];
        let failed = [
            phase("PRE_BUILD", Some("SUCCEEDED")),
            phase("BUILD", Some("FAILED")),
            phase("POST_BUILD", Some("SUCCEEDED")),
        ];
        assert_eq!(verdict("IN_PROGRESS", &ok), BuildVerdict::Running);
        assert_eq!(verdict("SUCCEEDED", &ok), BuildVerdict::Succeeded);
        assert_eq!(
            verdict("FAILED", &failed),
            BuildVerdict::Failed {
                status: "FAILED".into(),
                phase: Some("BUILD".into()),
                contexts: vec!["COMMAND_EXECUTION_ERROR: exit status 4".into()],
            }
        );
        assert_eq!(
            verdict("TIMED_OUT", &[phase("BUILD", Some("TIMED_OUT"))]),
            BuildVerdict::TimedOut {
                phase: Some("BUILD".into())
            }
        );
        assert!(matches!(
            verdict("STOPPED", &ok),
            BuildVerdict::Failed { phase: None, .. }
        ));
    }

    #[test]
    fn log_locations() {
        assert_eq!(
            log_location(Some("/aws/codebuild/p"), Some("abc"), None),
            Some(("/aws/codebuild/p".into(), "abc".into()))
        );
        assert_eq!(
            log_location(
                None,
                None,
                Some(
                    "arn:aws:logs:us-east-1:123456789012:log-group:/aws/codebuild/p:log-stream:abc"
                )
            ),
            Some(("/aws/codebuild/p".into(), "abc".into()))
        );
        assert_eq!(
            log_location(
                None,
                None,
                Some("arn:aws:logs:us-east-1:1:log-group:null:log-stream:null")
            ),
            None
        );
        assert_eq!(log_location(None, None, None), None);
    }
}
