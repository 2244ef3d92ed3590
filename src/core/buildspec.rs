//! A buildspec read as CodeBuild reads it (version 0.2: its keys, its phases, commands as lists of
//! strings), so a file CodeBuild would reject - not YAML, version 0.1, no phases, empty, binary -
//! is found before a build fails with YAML_FILE_ERROR
//! (https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html).

use std::fmt;

use yaml_rust2::{Yaml, YamlLoader};

/// One problem, with the line it is on when there is one (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildspecProblem {
    pub line: Option<usize>,
    pub problem: String,
}

impl fmt::Display for BuildspecProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.problem),
            None => f.write_str(&self.problem),
        }
    }
}

const TOP: [&str; 9] = [
    "version",
    "run-as",
    "env",
    "proxy",
    "batch",
    "phases",
    "reports",
    "artifacts",
    "cache",
];
const PHASES: [&str; 4] = ["install", "pre_build", "build", "post_build"];
const PHASE_KEYS: [&str; 5] = [
    "run-as",
    "on-failure",
    "runtime-versions",
    "commands",
    "finally",
];

/// The problems CodeBuild would have with `text`; none for a valid buildspec 0.2.
pub fn validate(text: &str) -> Vec<BuildspecProblem> {
    let at = |key: &str, problem: String| BuildspecProblem {
        line: line_of(text, key),
        problem,
    };
    let whole = |problem: &str| {
        vec![BuildspecProblem {
            line: None,
            problem: problem.to_owned(),
        }]
    };
    if text.trim().is_empty() {
        return whole("the file is empty: CodeBuild needs `version: 0.2` and `phases`");
    }
    if text.contains('\0') || text.contains('\u{FFFD}') {
        return whole("this is not text (a binary file?): a buildspec is YAML");
    }
    let docs = match YamlLoader::load_from_str(text) {
        Ok(docs) => docs,
        Err(e) => {
            return vec![BuildspecProblem {
                line: Some(e.marker().line().max(1)),
                problem: format!("not valid YAML: {}", e.info()),
            }];
        }
    };
    let Some(Yaml::Hash(top)) = docs.first() else {
        return whole("not a YAML mapping of buildspec keys (`version:`, `phases:`...)");
    };
    let mut problems = Vec::new();
    match top.get(&Yaml::String("version".into())) {
        None => problems.push(at("version", "no `version`: CodeBuild wants `version: 0.2`".into())),
        Some(v) if scalar(v).as_deref() == Some("0.2") => {}
        Some(v) => problems.push(at(
            "version",
            format!(
                "`version: {}`: CodeBuild runs version 0.2 (0.1 runs each command in a shell of its own)",
                scalar(v).unwrap_or_else(|| "?".into())
            ),
        )),
    }
    for key in top.keys() {
        let name = scalar(key).unwrap_or_default();
        if !TOP.contains(&name.as_str()) {
            problems.push(at(&name, format!("unknown top-level key `{name}`")));
        }
    }
    match top.get(&Yaml::String("phases".into())) {
        None | Some(Yaml::Null) => problems.push(at(
            "phases",
            "no `phases`: CodeBuild has nothing to run".into(),
        )),
        Some(Yaml::Hash(phases)) => problems.extend(check_phases(text, phases)),
        Some(_) => problems.push(at(
            "phases",
            "`phases` must map phase names (install, pre_build, build, post_build) to their commands"
                .into(),
        )),
    }
    problems
}

fn check_phases(text: &str, phases: &yaml_rust2::yaml::Hash) -> Vec<BuildspecProblem> {
    let mut problems = Vec::new();
    let at = |key: &str, problem: String| BuildspecProblem {
        line: line_of(text, key),
        problem,
    };
    if phases.is_empty() {
        problems.push(at(
            "phases",
            "`phases` is empty: CodeBuild has nothing to run".into(),
        ));
    }
    for (name, phase) in phases {
        let name = scalar(name).unwrap_or_default();
        if !PHASES.contains(&name.as_str()) {
            problems.push(at(
                &name,
                format!(
                    "unknown phase `{name}` (CodeBuild knows install, pre_build, build, post_build)"
                ),
            ));
            continue;
        }
        let keys = match phase {
            Yaml::Hash(keys) => keys,
            Yaml::Null => continue,
            _ => {
                problems.push(at(
                    &name,
                    format!("phase `{name}` must be a mapping (`commands:`...)"),
                ));
                continue;
            }
        };
        for (key, value) in keys {
            let key = scalar(key).unwrap_or_default();
            if !PHASE_KEYS.contains(&key.as_str()) {
                problems.push(at(&key, format!("unknown key `{key}` in phase `{name}`")));
            }
            if (key == "commands" || key == "finally") && !is_command_list(value) {
                problems.push(at(
                    &name,
                    format!("`{name}.{key}` must be a list of command strings (`- make build`)"),
                ));
            }
        }
    }
    problems
}

fn is_command_list(value: &Yaml) -> bool {
    match value {
        Yaml::Array(items) => items.iter().all(|i| {
            matches!(
                i,
                Yaml::String(_) | Yaml::Integer(_) | Yaml::Real(_) | Yaml::Boolean(_)
            )
        }),
        _ => false,
    }
}

fn scalar(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The first line (1-based) where `key:` starts a line.
fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.starts_with(':'))
                || l.strip_prefix('"')
                    .and_then(|l| l.strip_prefix(key))
                    .is_some_and(|rest| rest.starts_with("\":"))
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "version: 0.2\nenv:\n  variables:\n    A: b\nphases:\n  install:\n    runtime-versions:\n      docker: 20\n  build:\n    commands:\n      - ecs-ship release --cluster c\n    finally:\n      - echo done\nartifacts:\n  files:\n    - imagedefinitions.json\n";

    #[test]
    fn a_valid_buildspec_has_no_problem() {
        assert_eq!(validate(GOOD), vec![]);
        assert_eq!(validate(include_str!("../../buildspec.yml")), vec![]);
        assert_eq!(validate(include_str!("../../buildspec-batch.yml")), vec![]);
        assert_eq!(
            validate("version: \"0.2\"\nphases:\n  build:\n    commands: [make]\n"),
            vec![]
        );
    }

    #[test]
    fn what_codebuild_would_reject_is_named_with_its_line() {
        let cases: &[(&str, Option<usize>, &str)] = &[
            ("", None, "the file is empty"),
            ("  \n\n", None, "the file is empty"),
            ("\u{0}\u{1}ELF", None, "not text"),
            (
                "version: 0.2\nphases:\n  build:\n    commands:\n  - [unclosed\n",
                Some(5),
                "not valid YAML",
            ),
            ("just some words\n", None, "not a YAML mapping"),
            (
                "version: 0.1\nphases:\n  build:\n    commands:\n      - make\n",
                Some(1),
                "`version: 0.1`",
            ),
            (
                "phases:\n  build:\n    commands:\n      - make\n",
                None,
                "no `version`",
            ),
            ("version: 0.2\n", None, "no `phases`"),
            ("version: 0.2\nphases:\n", Some(2), "no `phases`"),
            (
                "version: 0.2\nphase:\n  build: {}\n",
                Some(2),
                "unknown top-level key `phase`",
            ),
            (
                "version: 0.2\nphases:\n  deploy:\n    commands:\n      - x\n",
                Some(3),
                "unknown phase `deploy`",
            ),
            (
                "version: 0.2\nphases:\n  build:\n    commands: make all\n",
                Some(3),
                "`build.commands` must be a list",
            ),
            (
                "version: 0.2\nphases:\n  build:\n    command:\n      - make\n",
                Some(4),
                "unknown key `command` in phase `build`",
            ),
        ];
        for (text, line, want) in cases {
            let problems = validate(text);
            let first = problems
                .first()
                .unwrap_or_else(|| panic!("{text:?}: no problem found"));
            assert!(first.problem.contains(want), "{text:?}: {problems:?}");
            if line.is_some() {
                assert_eq!(first.line, *line, "{text:?}: {problems:?}");
            }
        }
    }
}
