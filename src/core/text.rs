//! Text from elsewhere (AWS, the engine, a registry) made safe to print: no terminal control
//! sequences reach the terminal, and no line of it becomes a GitHub Actions workflow command.

use std::borrow::Cow;

/// `text` with every control character but newline and tab written out as `\u{..}`, so an ESC,
/// OSC or BEL sequence in a service name or an event message is shown, not obeyed.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_unsafe(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// `text` with every line that the Actions runner would read as a workflow command (`::name::`
/// at its start, after white space) prefixed with a backslash
/// (https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands).
pub fn workflow_safe(text: &str) -> Cow<'_, str> {
    if !text.lines().any(is_command) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split_inclusive('\n') {
        if is_command(line) {
            out.push('\\');
        }
        out.push_str(line);
    }
    Cow::Owned(out)
}

fn is_command(line: &str) -> bool {
    line.trim_start().starts_with("::")
}

/// Data of a workflow command (`::group::DATA`, `::error::DATA`): one line, escaped as the runner
/// unescapes it.
pub fn command_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_sequences_are_shown_not_obeyed() {
        let cases = [
            ("plain text\n\tindented", "plain text\n\tindented"),
            ("\u{1b}]0;title\u{7}", "\\u{1b}]0;title\\u{7}"),
            ("a\u{1b}[2Jb", "a\\u{1b}[2Jb"),
            ("cr\rhere", "cr\\u{d}here"),
            ("\u{9b}31m", "\\u{9b}31m"),
        ];
        for (text, want) in cases {
            assert_eq!(terminal_safe(text), want, "{text:?}");
        }
        assert!(matches!(terminal_safe("fine"), Cow::Borrowed(_)));
    }

    #[test]
    fn no_line_becomes_a_workflow_command() {
        let cases = [
            ("error: x\n::add-mask::y\n", "error: x\n\\::add-mask::y\n"),
            ("  ::error::z", "\\  ::error::z"),
            ("a :: b\nc::d", "a :: b\nc::d"),
            ("::group::g", "\\::group::g"),
        ];
        for (text, want) in cases {
            assert_eq!(workflow_safe(text), want, "{text:?}");
        }
        assert_eq!(command_data("50%\r\n::x"), "50%25%0D%0A::x");
    }
}
