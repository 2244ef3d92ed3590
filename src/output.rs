//! Where things are printed: results to stdout (text, JSON or `KEY='value'` lines), progress and
//! logs to stderr (through `tracing`), errors to stderr with their cause chain; and where CI systems
//! look for them: GitHub Actions step outputs (`$GITHUB_OUTPUT`), the job summary
//! (`$GITHUB_STEP_SUMMARY`), `::group::` blocks and `::error` annotations; for CodeBuild, whose
//! phases cannot export variables from a child process, `--output env` and `--env-file`.

use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use serde::Serialize;
use tracing_subscriber::EnvFilter;

use crate::error::{Error, Result};

/// The format of results on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
    /// `ECS_SHIP_IMAGE='...'` lines, for `eval` in a shell.
    Env,
}

/// The version of the JSON results' shape, in every JSON result as `schema`.
pub const SCHEMA: u32 = 1;

/// Whether a result reached stdout: stdout then holds one JSON document, never two.
static RESULT_PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A command's result: text (`Display`), JSON (`Serialize`), and what CI systems take from it.
pub trait Report: Display + Serialize {
    /// Named results for the next step, with the names the peers use (`image`, `digest`,
    /// `image-tag`, `task-definition-arn`, `previous-task-definition-arn`, `verdict`).
    fn outputs(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// A Markdown report for the job summary.
    fn summary(&self) -> Option<String> {
        None
    }
}

/// `image-tag` -> `ECS_SHIP_IMAGE_TAG`.
pub fn env_name(output: &str) -> String {
    format!("ECS_SHIP_{}", output.to_ascii_uppercase().replace('-', "_"))
}

/// A value quoted for a POSIX shell: `'...'`, a `'` inside as `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// The outputs as shell assignments, one a line.
pub fn env_lines(outputs: &[(&'static str, String)]) -> String {
    outputs
        .iter()
        .map(|(k, v)| format!("{}={}\n", env_name(k), shell_quote(v)))
        .collect()
}

/// The outputs in `$GITHUB_OUTPUT`'s form: `name=value`, or the delimiter form for a value with a
/// newline (https://docs.github.com/actions/reference/workflow-commands-for-github-actions).
pub fn github_output_lines(outputs: &[(&'static str, String)]) -> String {
    let mut text = String::new();
    for (name, value) in outputs {
        if value.contains('\n') || value.contains('\r') {
            let mut delimiter = "ECS_SHIP_EOF".to_owned();
            while value.contains(&delimiter) {
                delimiter.push('_');
            }
            text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
        } else {
            text.push_str(&format!("{name}={value}\n"));
        }
    }
    text
}

fn in_github_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// Opens a collapsed `::group::` block in GitHub Actions' log (nothing elsewhere).
pub fn group_start(title: &str) {
    if in_github_actions() {
        let title = crate::core::text::terminal_safe(title);
        eprintln!("::group::{}", crate::core::text::command_data(&title));
    }
}

/// Closes the block `group_start` opened.
pub fn group_end() {
    if in_github_actions() {
        eprintln!("::endgroup::");
    }
}

fn append(path: &std::path::Path, text: &str) -> Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| Error::input_with(format!("cannot append to `{}`", path.display()), e))
}

/// Whether to colour stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Color {
    #[default]
    Auto,
    Always,
    Never,
}

/// How much goes to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verbosity {
    pub quiet: bool,
    /// 0 info, 1 debug, 2+ trace (ecs-ship's own logs only).
    pub verbose: u8,
}

/// How results are written; built once in `main`.
#[derive(Debug, Clone)]
pub struct Output {
    pub format: Format,
    pub color: bool,
    pub quiet: bool,
    /// Where `--env-file` writes the outputs as shell assignments.
    pub env_file: Option<PathBuf>,
}

impl Output {
    pub fn new(format: Format, color: Color, quiet: bool) -> Self {
        let color = match color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        Output {
            format,
            color,
            quiet,
            env_file: None,
        }
    }

    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// Writes a command's result to stdout (`Display` for text, `Serialize` for JSON, outputs for
    /// env), to `--env-file`, and in GitHub Actions to the step outputs and the job summary.
    pub fn result<T: Report>(&self, value: &T) -> Result<()> {
        let outputs = value.outputs();
        let text = match self.format {
            Format::Text => safe(&value.to_string()),
            Format::Json => to_json_pretty(&with_schema(value)?)?,
            Format::Env => env_lines(&outputs),
        };
        if !text.is_empty() {
            write_stdout(&text)?;
            RESULT_PRINTED.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        if let Some(path) = &self.env_file {
            crate::fsutil::write_atomic(path, env_lines(&outputs).as_bytes())?;
        }
        if in_github_actions() {
            if let Some(path) = std::env::var_os("GITHUB_OUTPUT").filter(|p| !p.is_empty())
                && !outputs.is_empty()
            {
                append(std::path::Path::new(&path), &github_output_lines(&outputs))?;
            }
            let wanted = std::env::var("ECS_SHIP_STEP_SUMMARY")
                .map(|v| {
                    !matches!(
                        v.to_ascii_lowercase().as_str(),
                        "false" | "0" | "no" | "off"
                    )
                })
                .unwrap_or(true);
            if let (true, Some(path), Some(summary)) = (
                wanted,
                std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()),
                value.summary(),
            ) {
                append(std::path::Path::new(&path), &format!("{summary}\n"))?;
            }
        }
        Ok(())
    }

    /// Reports a failed command on stderr, with a GitHub Actions annotation when running there.
    pub fn error(&self, err: &Error) {
        let chain = crate::redact::apply(&err.chain().to_string()).into_owned();
        let shown = safe(&chain);
        let prefix = if self.color {
            "\x1b[1;31merror\x1b[0m"
        } else {
            "error"
        };
        if self.is_json() && !RESULT_PRINTED.load(std::sync::atomic::Ordering::SeqCst) {
            // A script reading stdout as JSON gets a failure that printed no result as JSON too (one
            // that did - a failed rollout - says so in its result); the exit code is unchanged.
            let json = serde_json::json!({
                "schema": SCHEMA,
                "error": {"message": chain, "exit_code": err.exit_code()},
            });
            let _ = write_stdout(&json.to_string());
        }
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{prefix}: {shown}");
        if in_github_actions() {
            // Workflow commands take one line: newlines are escaped as the runner documents.
            let escaped =
                crate::core::text::command_data(&crate::core::text::terminal_safe(&chain));
            let _ = writeln!(stderr, "::error title=ecs-ship::{escaped}");
        }
    }
}

/// Text for the terminal or a CI log: control sequences shown, not obeyed, and under GitHub
/// Actions no line that the runner would take for a workflow command.
pub fn safe(text: &str) -> String {
    let text = crate::core::text::terminal_safe(text);
    if in_github_actions() {
        crate::core::text::workflow_safe(&text).into_owned()
    } else {
        text.into_owned()
    }
}

/// The result as JSON with `schema` beside its fields.
fn with_schema<T: Serialize>(value: &T) -> Result<serde_json::Value> {
    let mut json = serde_json::to_value(value)
        .map_err(|e| Error::internal_with("failed to encode the result as JSON", e))?;
    if let serde_json::Value::Object(map) = &mut json {
        map.insert("schema".into(), SCHEMA.into());
    }
    Ok(json)
}

/// Pretty JSON with two-space indent, the form every JSON result and rendered file uses.
pub fn to_json_pretty<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map_err(|e| Error::internal_with("failed to encode the result as JSON", e))
}

fn write_stdout(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    let written = if text.ends_with('\n') {
        stdout.write_all(text.as_bytes())
    } else {
        writeln!(stdout, "{text}")
    };
    match written.and_then(|()| stdout.flush()) {
        // A closed pipe (`| head`) is the reader's choice, not our failure.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::internal_with("failed to write to stdout", e))
        }
        _ => Ok(()),
    }
}

/// Sets up logging to stderr. ECS_SHIP_LOG (an EnvFilter directive) overrides the flags.
///
/// Dependencies stay at `warn` unless ECS_SHIP_LOG says otherwise: the SDK's own trace output can
/// carry request and response details, and no secret may reach a log, not even with `-vv`.
pub fn init_logging(verbosity: Verbosity, color: bool) {
    let own = match (verbosity.quiet, verbosity.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = std::env::var("ECS_SHIP_LOG")
        .ok()
        .and_then(|d| EnvFilter::try_new(d).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("warn,aws_config=error,ecs_ship={own}")));
    let verbose = verbosity.verbose > 0;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::redact::Stderr)
        .with_ansi(color)
        .with_target(verbose);
    if verbose {
        builder.init();
    } else {
        builder.without_time().with_level(false).init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_become_shell_assignments_and_github_output_lines() {
        let outputs = vec![
            ("image", "r@sha256:00".to_owned()),
            ("image-tag", "it's".to_owned()),
            ("verdict", "failed\nwith a reason".to_owned()),
        ];
        assert_eq!(
            env_lines(&outputs),
            "ECS_SHIP_IMAGE='r@sha256:00'\nECS_SHIP_IMAGE_TAG='it'\\''s'\nECS_SHIP_VERDICT='failed\nwith a reason'\n"
        );
        assert_eq!(
            github_output_lines(&outputs),
            "image=r@sha256:00\nimage-tag=it's\nverdict<<ECS_SHIP_EOF\nfailed\nwith a reason\nECS_SHIP_EOF\n"
        );
        // A value that contains the delimiter gets a longer one.
        let tricky = vec![("x", "a\nECS_SHIP_EOF\nb".to_owned())];
        assert!(github_output_lines(&tricky).starts_with("x<<ECS_SHIP_EOF_\n"));
    }
}
