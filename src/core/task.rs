//! One-off tasks (`ecs-ship run`), pure: what a described task's state means, and the command line
//! a user gives, split as ECS wants it.
//!
//! A task passes only when it stopped and every essential container exited 0. A task that never
//! started (an image that cannot be pulled, no capacity, a secret that cannot be read) has no exit
//! codes at all: that is a failure with ECS's reason, never a missing value.
//! (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-errors.html)

use serde::Serialize;

/// A described task, as the verdict needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TaskSnapshot {
    pub arn: String,
    pub last_status: String,
    pub stopped_reason: Option<String>,
    pub stop_code: Option<String>,
    pub containers: Vec<ContainerState>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContainerState {
    pub name: String,
    pub last_status: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub essential: bool,
}

impl TaskSnapshot {
    pub fn id(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or(&self.arn)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum TaskVerdict {
    Running,
    Succeeded,
    /// An essential container exited non-zero (or was killed).
    Failed {
        container: String,
        exit_code: Option<i32>,
        reason: String,
    },
    /// The task stopped before its essential containers ran.
    NeverStarted {
        reason: String,
    },
}

impl TaskVerdict {
    pub fn describe(&self) -> String {
        match self {
            TaskVerdict::Running => "running".into(),
            TaskVerdict::Succeeded => "every essential container exited 0".into(),
            TaskVerdict::Failed {
                container,
                exit_code: Some(code),
                reason,
            } => format!("container `{container}` exited {code}: {reason}"),
            TaskVerdict::Failed {
                container, reason, ..
            } => format!("container `{container}` stopped without an exit code: {reason}"),
            TaskVerdict::NeverStarted { reason } => format!("the task never started: {reason}"),
        }
    }
}

/// What a task's state means. `essential` names the essential containers (from the task
/// definition); when it is empty every container counts.
pub fn verdict(task: &TaskSnapshot) -> TaskVerdict {
    if task.last_status != "STOPPED" {
        return TaskVerdict::Running;
    }
    let stopped = task
        .stopped_reason
        .clone()
        .filter(|r| !r.is_empty())
        .or_else(|| task.stop_code.clone())
        .unwrap_or_else(|| "ECS gave no reason".into());
    let essential: Vec<&ContainerState> = {
        let marked: Vec<_> = task.containers.iter().filter(|c| c.essential).collect();
        if marked.is_empty() {
            task.containers.iter().collect()
        } else {
            marked
        }
    };
    if essential.is_empty() || essential.iter().all(|c| c.exit_code.is_none()) {
        // Nothing ran: the container reasons (CannotPullContainerError...) say more than the
        // task's, so both are given.
        let detail: Vec<String> = essential
            .iter()
            .filter_map(|c| c.reason.as_ref().map(|r| format!("`{}`: {r}", c.name)))
            .collect();
        let reason = if detail.is_empty() {
            stopped
        } else {
            format!("{stopped} ({})", detail.join("; "))
        };
        return TaskVerdict::NeverStarted { reason };
    }
    match essential.iter().find(|c| c.exit_code != Some(0)) {
        None => TaskVerdict::Succeeded,
        Some(c) => TaskVerdict::Failed {
            container: c.name.clone(),
            exit_code: c.exit_code,
            reason: c
                .reason
                .clone()
                .filter(|r| !r.is_empty())
                .unwrap_or(stopped),
        },
    }
}

/// A command line split as a shell would (quotes, backslashes), for a container's `command`.
pub fn split_command(line: &str) -> Result<Vec<String>, String> {
    let words = shell_words::split(line).map_err(|e| format!("`{line}`: {e}"))?;
    if words.is_empty() {
        return Err("the command is empty".into());
    }
    Ok(words)
}

/// A JSON array of strings, for `--command-json`.
pub fn command_json(text: &str) -> Result<Vec<String>, String> {
    let words: Vec<String> = serde_json::from_str(text)
        .map_err(|e| format!("`{text}`: expected a JSON array of strings ({e})"))?;
    if words.is_empty() {
        return Err("the command is empty".into());
    }
    Ok(words)
}

/// A RunTask failure (`failures[]`) in words: its reason and detail and what it concerns, never
/// a bare null.
pub fn failure_text(arn: Option<&str>, reason: Option<&str>, detail: Option<&str>) -> String {
    let mut text = reason
        .filter(|r| !r.is_empty())
        .unwrap_or("ECS refused the task without a reason")
        .to_owned();
    if let Some(d) = detail.filter(|d| !d.is_empty()) {
        text.push_str(&format!(": {d}"));
    }
    if let Some(a) = arn.filter(|a| !a.is_empty()) {
        text.push_str(&format!(" ({a})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(
        name: &str,
        status: &str,
        exit: Option<i32>,
        reason: Option<&str>,
        essential: bool,
    ) -> ContainerState {
        ContainerState {
            name: name.into(),
            last_status: status.into(),
            exit_code: exit,
            reason: reason.map(str::to_owned),
            essential,
        }
    }

    fn task(status: &str, reason: Option<&str>, containers: Vec<ContainerState>) -> TaskSnapshot {
        TaskSnapshot {
            arn: "arn:aws:ecs:us-east-1:123456789012:task/c/0123abcd".into(),
            last_status: status.into(),
            stopped_reason: reason.map(str::to_owned),
            stop_code: Some("EssentialContainerExited".into()),
            containers,
        }
    }

    #[test]
    fn verdicts() {
        let cases: Vec<(TaskSnapshot, TaskVerdict)> = vec![
            (
                task("RUNNING", None, vec![container("migrate", "RUNNING", None, None, true)]),
                TaskVerdict::Running,
            ),
            (
                task("STOPPED", Some("Essential container in task exited"), vec![
                    container("migrate", "STOPPED", Some(0), None, true),
                    // A sidecar that is not essential may end as it likes.
                    container("xray", "STOPPED", Some(137), None, false),
                ]),
                TaskVerdict::Succeeded,
            ),
            (
                task("STOPPED", Some("Essential container in task exited"), vec![
                    container("migrate", "STOPPED", Some(3), None, true),
                ]),
                TaskVerdict::Failed {
                    container: "migrate".into(),
                    exit_code: Some(3),
                    reason: "Essential container in task exited".into(),
                },
            ),
            (
                task("STOPPED", Some("Task stopped by user"), vec![
                    container("migrate", "STOPPED", Some(137), Some("OutOfMemoryError: Container killed due to memory usage"), true),
                ]),
                TaskVerdict::Failed {
                    container: "migrate".into(),
                    exit_code: Some(137),
                    reason: "OutOfMemoryError: Container killed due to memory usage".into(),
                },
            ),
            (
                task("STOPPED", Some("CannotPullContainerError: pull image manifest has been retried 5 time(s)"), vec![
                    container("migrate", "STOPPED", None, Some("CannotPullContainerError: ref not found"), true),
                ]),
                TaskVerdict::NeverStarted {
                    reason: "CannotPullContainerError: pull image manifest has been retried 5 time(s) (`migrate`: CannotPullContainerError: ref not found)".into(),
                },
            ),
            (
                task("STOPPED", None, vec![]),
                TaskVerdict::NeverStarted {
                    reason: "EssentialContainerExited".into(),
                },
            ),
            // No container marked essential (an old snapshot): every container counts.
            (
                task("STOPPED", Some("x"), vec![container("a", "STOPPED", Some(0), None, false), container("b", "STOPPED", Some(1), None, false)]),
                TaskVerdict::Failed { container: "b".into(), exit_code: Some(1), reason: "x".into() },
            ),
        ];
        for (t, want) in cases {
            assert_eq!(verdict(&t), want, "{t:?}");
        }
    }

    #[test]
    fn commands_and_failures() {
        assert_eq!(
            split_command("bin/rails db:migrate VERSION='1 2' \"a b\"").unwrap(),
            ["bin/rails", "db:migrate", "VERSION=1 2", "a b"]
        );
        assert!(split_command("echo 'open").is_err());
        assert!(split_command("  ").is_err());
        assert_eq!(
            command_json(r#"["sh","-c","exit 3"]"#).unwrap(),
            ["sh", "-c", "exit 3"]
        );
        assert!(command_json("sh -c").is_err());
        assert!(command_json("[]").is_err());
        assert_eq!(
            failure_text(None, None, None),
            "ECS refused the task without a reason"
        );
        assert_eq!(
            failure_text(
                Some("arn:aws:ecs:us-east-1:1:container-instance/x"),
                Some("RESOURCE:MEMORY"),
                None
            ),
            "RESOURCE:MEMORY (arn:aws:ecs:us-east-1:1:container-instance/x)"
        );
    }
}
