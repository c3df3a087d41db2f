//! The last check between ferry's text and whoever reads it: a terminal, or
//! the GitHub Actions runner, which reads every line of a step's stdout and
//! stderr looking for workflow commands.
//!
//! Untrusted values are made [`printable`](ferry_model::printable) where
//! they are put into a line (renderers, errors, log fields). This guard is
//! the defence behind that, at the writer, for a value someone forgets:
//!
//! - Text (results and errors, not logs) gets every control character but
//!   the line feed escaped, so no raw escape sequence reaches a terminal.
//!   Logs are left alone here: their formatter escapes every field and may
//!   colour the level with escape sequences of its own.
//! - Inside GitHub Actions, a line that would start a workflow command is
//!   broken: the runner trims a line's leading whitespace and takes `::` as
//!   a command, so a backslash goes before the `::`; and it takes the older
//!   `##[command]` form anywhere in a line, so each `##[` becomes `##\u005b`.
//!
//! Both keep JSON output valid and meaning the same: a JSON line never
//! starts with `::`, and `\u005b` (like the control escapes of `printable`)
//! is the JSON spelling of the character it replaces.
//!
//! ferry's own workflow commands (annotations, `::add-mask::`) are written
//! by `runner.rs` and `mask.rs` straight to the stream, never through here.

use std::io::Write;

/// Where a guarded stream's text comes from, which decides what is escaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Results and errors: plain text, with no escape sequence of ferry's own.
    Text,
    /// The tracing formatter's lines: fields already escaped, colour allowed.
    Log,
}

/// A writer that applies the guard line by line. A line is held until its
/// end arrives (a command split over two writes is still seen whole); what
/// is left when the writer is dropped is written then, ended with a line
/// feed inside Actions so the next writer's text starts a line of its own.
#[derive(Debug)]
pub struct Guard<W: Write> {
    inner: W,
    source: Source,
    in_actions: bool,
    line: Vec<u8>,
}

impl<W: Write> Guard<W> {
    /// A guard that breaks workflow commands when ferry runs inside GitHub Actions.
    pub fn new(inner: W, source: Source) -> Self {
        Self::with_actions(inner, source, crate::context::in_github_actions())
    }

    fn with_actions(inner: W, source: Source, in_actions: bool) -> Self {
        Guard { inner, source, in_actions, line: Vec::new() }
    }

    fn write_line(&mut self, line: &[u8], end: &[u8]) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(line);
        let text = guard_line(&text, self.source, self.in_actions);
        self.inner.write_all(text.as_bytes())?;
        self.inner.write_all(end)
    }
}

impl<W: Write> Write for Guard<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while let Some(at) = rest.iter().position(|b| *b == b'\n') {
            let mut line = std::mem::take(&mut self.line);
            line.extend_from_slice(&rest[..at]);
            self.write_line(&line, b"\n")?;
            rest = &rest[at + 1..];
        }
        self.line.extend_from_slice(rest);
        Ok(buf.len())
    }

    /// Flushes the lines written so far; a line not yet ended stays held.
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Drop for Guard<W> {
    fn drop(&mut self) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            let end: &[u8] = if self.in_actions { b"\n" } else { b"" };
            let _ = self.write_line(&line, end);
        }
        let _ = self.inner.flush();
    }
}

/// One line (without its line feed) as the guard lets it through.
fn guard_line(line: &str, source: Source, in_actions: bool) -> String {
    let line = match source {
        Source::Text => ferry_model::printable(line).into_owned(),
        Source::Log => line.to_string(),
    };
    if in_actions { break_workflow_commands(&line) } else { line }
}

/// `line` with no workflow command the runner would act on. A raw carriage
/// return also ends a line for the runner, so each piece is checked.
fn break_workflow_commands(line: &str) -> String {
    line.split_inclusive('\r')
        .map(|piece| {
            let piece = piece.replace("##[", "##\\u005b");
            let indent = piece.len() - piece.trim_start().len();
            if piece[indent..].starts_with("::") { format!("{}\\{}", &piece[..indent], &piece[indent..]) } else { piece }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through(source: Source, in_actions: bool, writes: &[&str]) -> String {
        let mut out = Vec::new();
        {
            let mut guard = Guard::with_actions(&mut out, source, in_actions);
            for w in writes {
                guard.write_all(w.as_bytes()).unwrap();
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn in_actions_no_line_starts_a_workflow_command() {
        let out = through(Source::Text, true, &["plan\n::warning title=pwned::x\n  \t::add-mask::ams\n", "a ##[set-output name=image]evil\n"]);
        assert_eq!(out, "plan\n\\::warning title=pwned::x\n  \\t::add-mask::ams\na ##\\u005bset-output name=image]evil\n");
        for line in out.lines() {
            assert!(!line.trim_start().starts_with("::") && !line.contains("##["), "{line}");
        }
    }

    #[test]
    fn a_command_split_across_writes_is_still_seen_whole() {
        let out = through(Source::Log, true, &["ok\n :", ":stop-commands::tok", "en\n"]);
        assert_eq!(out, "ok\n \\::stop-commands::token\n");
    }

    #[test]
    fn log_lines_keep_their_colour_and_break_on_a_carriage_return() {
        let out = through(Source::Log, true, &["\u{1b}[32m INFO\u{1b}[0m done\r::error::x\n"]);
        assert_eq!(out, "\u{1b}[32m INFO\u{1b}[0m done\r\\::error::x\n");
    }

    #[test]
    fn text_loses_its_escape_sequences_everywhere() {
        assert_eq!(through(Source::Text, false, &["a\u{1b}[2J\u{9b}1A\rb\n"]), "a\\u001b[2J\\u009b1A\\rb\n");
    }

    #[test]
    fn json_stays_the_same_json() {
        let value = "##[set-output name=x]y \u{9b}\u{7f}";
        let json = format!("{}\n", serde_json::to_string_pretty(&serde_json::json!({ "image": value })).unwrap());
        let out = through(Source::Text, true, &[&json]);
        assert_ne!(out, json);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["image"], value);
    }

    #[test]
    fn outside_actions_lines_starting_with_colons_are_left_alone() {
        assert_eq!(through(Source::Text, false, &["::not a command here\n", "no newline"]), "::not a command here\nno newline");
    }

    #[test]
    fn the_last_unended_line_is_ended_inside_actions() {
        assert_eq!(through(Source::Text, true, &["::x"]), "\\::x\n");
    }
}
