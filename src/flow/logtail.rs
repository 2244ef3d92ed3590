//! Following a CloudWatch Logs stream while something runs (a CodeBuild build, a one-off task):
//! each poll reads what is new, page by page, and keeps the last lines for the failure report.

use std::collections::VecDeque;

use crate::aws::{Aws, logs};

/// How many of the last lines are kept for a report.
const KEEP_LINES: usize = 20;

#[derive(Debug, Default)]
pub struct LogTail {
    region: Option<String>,
    location: Option<(String, String)>,
    token: Option<String>,
    last: VecDeque<String>,
    lines: usize,
    missing_reported: bool,
}

impl LogTail {
    pub fn new(region: Option<&str>, group: &str, stream: &str) -> Self {
        LogTail {
            region: region.map(str::to_owned),
            location: Some((group.to_owned(), stream.to_owned())),
            ..Default::default()
        }
    }

    pub fn is_set(&self) -> bool {
        self.location.is_some()
    }

    /// How many lines were read so far.
    pub fn seen(&self) -> usize {
        self.lines
    }

    pub fn last_lines(&self) -> Vec<String> {
        self.last.iter().cloned().collect()
    }

    /// Reads what is new and hands each line to `emit`. A stream that does not exist yet (it
    /// appears once the first line is written) is said once, at info level, and tried again later.
    pub async fn drain(&mut self, aws: &Aws, mut emit: impl FnMut(&str)) {
        let Some((group, stream)) = &self.location else {
            return;
        };
        // A bounded number of pages per poll, so a chatty log cannot starve the polling.
        for _ in 0..20 {
            match logs::page(
                aws,
                self.region.as_deref(),
                group,
                stream,
                self.token.as_deref(),
            )
            .await
            {
                Ok((lines, next)) => {
                    for line in &lines {
                        emit(line);
                        if self.last.len() == KEEP_LINES {
                            self.last.pop_front();
                        }
                        self.last.push_back(line.clone());
                        self.lines += 1;
                    }
                    let same = next.is_some() && next == self.token;
                    self.token = next;
                    if lines.is_empty() || same {
                        return;
                    }
                }
                Err(e) => {
                    if !self.missing_reported {
                        tracing::debug!(
                            "the log stream {group} {stream} is not readable yet ({})",
                            e.chain()
                        );
                        self.missing_reported = true;
                    }
                    return;
                }
            }
        }
    }
}
