//! Build and push progress on stderr: plain lines in CI (and whenever stderr is not a terminal),
//! a tidy live view on a terminal - the current build step's latest line redrawn in place, one line
//! per pushed layer with its byte count.

use std::io::{IsTerminal, Write};

/// Where progress goes and how it is drawn.
pub struct Progress<W: Write> {
    out: W,
    live: bool,
    quiet: bool,
    /// Live view: lines of the running step, shown again in full if the step fails.
    step_lines: Vec<String>,
    /// Live view: the transient line is on screen.
    transient: bool,
    /// Live view: layer rows, redrawn together.
    layers: Vec<(String, String)>,
}

impl Progress<crate::redact::Stderr> {
    /// Live on a terminal (unless TERM=dumb), plain otherwise; nothing at all with `quiet`.
    pub fn stderr(quiet: bool) -> Self {
        let live =
            std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb");
        // Through the redaction: a step may print a secret it was given.
        Progress::new(crate::redact::Stderr, live, quiet)
    }
}

impl<W: Write> Progress<W> {
    pub fn new(out: W, live: bool, quiet: bool) -> Self {
        Progress {
            out,
            live,
            quiet,
            step_lines: Vec::new(),
            transient: false,
            layers: Vec::new(),
        }
    }

    fn clear_transient(&mut self) {
        if self.transient {
            let _ = write!(self.out, "\r\x1b[K");
            self.transient = false;
        }
    }

    /// A line that stays: a build step, a summary.
    pub fn line(&mut self, text: &str) {
        if self.quiet {
            return;
        }
        self.clear_transient();
        if text.starts_with("Step ") {
            self.step_lines.clear();
        }
        let _ = writeln!(self.out, "{text}");
    }

    /// Output of the running step: a line of its own in plain mode, redrawn in place when live.
    pub fn detail(&mut self, text: &str) {
        if self.quiet {
            return;
        }
        if !self.live {
            let _ = writeln!(self.out, "{text}");
            return;
        }
        self.step_lines.push(text.to_owned());
        let width = 120;
        let shown: String = text.chars().take(width).collect();
        let _ = write!(self.out, "\r\x1b[K  {shown}");
        let _ = self.out.flush();
        self.transient = true;
    }

    /// The running step failed: on a terminal, show everything it printed, not just its last line.
    pub fn failed(&mut self) {
        self.clear_transient();
        if self.live && !self.quiet {
            for l in std::mem::take(&mut self.step_lines) {
                let _ = writeln!(self.out, "  {l}");
            }
        }
    }

    /// The build is over: clear a transient line so what follows starts on a clean line.
    pub fn failed_or_done(&mut self) {
        self.clear_transient();
        self.step_lines.clear();
    }

    /// One pushed layer's state. Plain: a line per change. Live: one row per layer, redrawn.
    pub fn layer(&mut self, id: &str, state: &str, bytes: Option<(i64, i64)>) {
        if self.quiet {
            return;
        }
        let text = match bytes {
            Some((current, total)) if total > 0 => {
                format!(
                    "{state} {:.1}/{:.1} MB",
                    current as f64 / 1e6,
                    total as f64 / 1e6
                )
            }
            _ => state.to_owned(),
        };
        if !self.live {
            // Byte counts would flood a CI log: plain mode shows state changes only.
            if state != "Pushing" || bytes.is_none() {
                let _ = writeln!(self.out, "{id}: {text}");
            }
            return;
        }
        let rows = self.layers.len();
        match self.layers.iter_mut().find(|(i, _)| i == id) {
            Some((_, t)) => *t = text,
            None => self.layers.push((id.to_owned(), text)),
        }
        if rows > 0 {
            let _ = write!(self.out, "\x1b[{rows}A");
        }
        for (i, t) in &self.layers {
            let _ = writeln!(self.out, "\r\x1b[K{i}: {t}");
        }
        let _ = self.out.flush();
    }

    /// The push of one tag is over: the next starts a new block of rows.
    pub fn end_layers(&mut self) {
        self.layers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(p: Progress<Vec<u8>>) -> String {
        String::from_utf8(p.out).unwrap()
    }

    #[test]
    fn plain_mode_writes_every_line() {
        let mut p = Progress::new(Vec::new(), false, false);
        p.line("Step 1/2 : FROM busybox");
        p.detail(" ---> Running in abc");
        p.layer("abc123", "Pushing", None);
        p.layer("abc123", "Pushing", Some((1_000_000, 2_000_000)));
        p.layer("abc123", "Pushed", None);
        assert_eq!(
            text(p),
            "Step 1/2 : FROM busybox\n ---> Running in abc\nabc123: Pushing\nabc123: Pushed\n"
        );
    }

    #[test]
    fn live_mode_redraws_in_place_and_shows_a_failed_step_whole() {
        let mut p = Progress::new(Vec::new(), true, false);
        p.line("Step 2/2 : RUN make");
        p.detail("compiling a");
        p.detail("error: b");
        p.failed();
        let out = text(p);
        assert!(
            out.contains("\r\x1b[K  compiling a\r\x1b[K  error: b"),
            "{out:?}"
        );
        assert!(out.ends_with("  compiling a\n  error: b\n"), "{out:?}");
    }

    #[test]
    fn live_layers_are_rows_redrawn_together() {
        let mut p = Progress::new(Vec::new(), true, false);
        p.layer("a", "Pushing", Some((1_500_000, 3_000_000)));
        assert!(String::from_utf8_lossy(&p.out).contains("a: Pushing 1.5/3.0 MB"));
        p.layer("a", "Preparing", None);
        p.layer("b", "Preparing", None);
        p.layer("a", "Pushed", None);
        let out = text(p);
        assert!(
            out.ends_with("\x1b[2A\r\x1b[Ka: Pushed\n\r\x1b[Kb: Preparing\n"),
            "{out:?}"
        );
    }

    #[test]
    fn quiet_writes_nothing() {
        let mut p = Progress::new(Vec::new(), true, true);
        p.line("x");
        p.detail("y");
        p.layer("a", "Pushed", None);
        p.failed();
        assert!(text(p).is_empty());
    }
}
