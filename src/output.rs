//! Where things are printed: results to stdout (text or JSON), progress and logs to stderr
//! (through `tracing`), errors to stderr with their cause chain, plus a GitHub Actions
//! annotation when running there.

use std::fmt::Display;
use std::io::{IsTerminal, Write};

use serde::Serialize;
use tracing_subscriber::EnvFilter;

use crate::cli::{ColorChoice, GlobalArgs, OutputFormat};
use crate::error::{Error, Result};

/// How results are written. Cheap to copy; built once in `main`.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub format: OutputFormat,
    pub color: bool,
}

impl Output {
    pub fn new(global: &GlobalArgs) -> Self {
        let color = match global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        Output {
            format: global.output,
            color,
        }
    }

    pub fn is_json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    /// Writes a command's result to stdout: `Display` for text, `Serialize` for JSON.
    pub fn result<T: Display + Serialize>(&self, value: &T) -> Result<()> {
        let text = match self.format {
            OutputFormat::Text => value.to_string(),
            OutputFormat::Json => to_json_pretty(value)?,
        };
        write_stdout(&text)
    }

    /// Reports a failed command on stderr, with a GitHub Actions annotation when running there.
    pub fn error(&self, err: &Error) {
        let chain = err.chain().to_string();
        let prefix = if self.color {
            "\x1b[1;31merror\x1b[0m"
        } else {
            "error"
        };
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{prefix}: {chain}");
        if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
            // Workflow commands take one line: newlines are escaped as the runner documents.
            let escaped = chain
                .replace('%', "%25")
                .replace('\r', "%0D")
                .replace('\n', "%0A");
            let _ = writeln!(stderr, "::error title=ecs-ship::{escaped}");
        }
    }
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
pub fn init_logging(global: &GlobalArgs, color: bool) {
    let own = match (global.quiet, global.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = std::env::var("ECS_SHIP_LOG")
        .ok()
        .and_then(|d| EnvFilter::try_new(d).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("warn,aws_config=error,ecs_ship={own}")));
    let verbose = global.verbose > 0;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .with_target(verbose);
    if verbose {
        builder.init();
    } else {
        builder.without_time().with_level(false).init();
    }
}
