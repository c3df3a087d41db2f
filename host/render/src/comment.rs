//! Pull-request comments: the plan or the apply results as Markdown, with a
//! hidden marker that lets ferry find and update its own comment, split into
//! parts that each fit GitHub's limit.
//!
//! GitHub refuses a comment over 65,536 characters; ferry budgets bytes
//! (stricter) with headroom. A part never ends inside a `<details>` block, a
//! table or a code fence: the open block is closed and opened again at the
//! top of the next part, so every part renders on its own.

use std::fmt::Write;

/// The most bytes a part may hold (GitHub's limit is 65,536 characters).
pub const MAX_COMMENT_BYTES: usize = 60_000;

/// The most bytes of a job summary (GitHub's limit is 1 MiB per step).
pub const MAX_SUMMARY_BYTES: usize = 1_000_000;

/// Identifies ferry's comment for one app and kind (`plan`, `apply`), with
/// facts a later run reads back (the plan hash, the head commit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    pub app: String,
    pub kind: String,
    pub fields: Vec<(String, String)>,
}

impl Marker {
    pub fn new(kind: &str, app: &str) -> Self {
        Marker { app: app.into(), kind: kind.into(), fields: Vec::new() }
    }

    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.fields.push((key.into(), value.into()));
        self
    }

    /// The hidden first line of every part: `<!-- ferry:plan app=shop part=1/3 hash=… -->`.
    pub fn line(&self, part: usize, parts: usize) -> String {
        let fields: String = self.fields.iter().map(|(k, v)| format!(" {k}={v}")).collect();
        format!("<!-- ferry:{} app={} part={part}/{parts}{fields} -->", self.kind, self.app)
    }

    /// A field of a marker line read back from a comment body.
    pub fn field(body: &str, key: &str) -> Option<String> {
        let first = body.lines().next()?.strip_prefix("<!-- ")?.strip_suffix(" -->")?;
        first.split(' ').find_map(|w| w.strip_prefix(&format!("{key}=")).map(str::to_string))
    }

    /// The prefix that identifies any part of this comment.
    pub fn prefix(&self) -> String {
        format!("<!-- ferry:{} app={} part=", self.kind, self.app)
    }

    /// Which part a comment body is, if it is one of this marker's.
    pub fn part_of(&self, body: &str) -> Option<usize> {
        let rest = body.strip_prefix(&self.prefix())?;
        rest.split('/').next()?.parse().ok()
    }
}

/// A comment body: `markdown` after the marker, with the run link and the
/// next command at the end, split into parts that each fit in a comment.
pub fn comment(marker: &Marker, markdown: &str, run_url: Option<&str>, next: &[String]) -> Vec<String> {
    let mut body = markdown.trim_end().to_string();
    body.push_str("\n\n");
    if !next.is_empty() {
        body.push_str("**Next**\n\n");
        for command in next {
            let _ = writeln!(body, "- {command}");
        }
        body.push('\n');
    }
    if let Some(url) = run_url {
        let _ = writeln!(body, "<sub>[Workflow run]({url}) · ferry {}</sub>", env!("CARGO_PKG_VERSION"));
    }
    let parts = split(&body, MAX_COMMENT_BYTES - 200);
    let n = parts.len();
    parts.into_iter().enumerate().map(|(i, p)| format!("{}\n{p}", marker.line(i + 1, n))).collect()
}

/// Cuts a job summary to GitHub's limit at a line boundary, with a note.
pub fn summary(markdown: &str) -> String {
    if markdown.len() <= MAX_SUMMARY_BYTES {
        return markdown.to_string();
    }
    let mut parts = split(markdown, MAX_SUMMARY_BYTES - 500);
    let mut first = parts.swap_remove(0);
    first.push_str("\n> [!NOTE]\n> The rest of this plan is longer than a job summary can hold; `ferry plan --format md` prints all of it.\n");
    first
}

/// The Markdown construct a line leaves open.
#[derive(Clone, Debug, Default)]
struct Open {
    /// The `<details…>` line and the `<summary>` line of an open block.
    details: Option<String>,
    /// The header and separator rows of an open table.
    table: Option<(String, String)>,
    /// The opening line of an open code fence.
    fence: Option<String>,
}

impl Open {
    fn track(&mut self, line: &str, previous: Option<&str>) {
        let t = line.trim();
        if let Some(fence) = &self.fence {
            // A fence closes with the same marker alone on its line.
            if t == &fence.trim_start()[..3] {
                self.fence = None;
            }
            return;
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            self.fence = Some(line.to_string());
        } else if t.starts_with("<details") {
            self.details = Some(line.to_string());
        } else if t.starts_with("</details>") {
            self.details = None;
        } else if t.starts_with('|') {
            if self.table.is_none()
                && is_separator(t)
                && let Some(header) = previous
            {
                self.table = Some((header.to_string(), line.to_string()));
            }
        } else {
            self.table = None;
        }
    }

    /// Lines that close what is open, innermost first.
    fn close(&self) -> String {
        let mut out = String::new();
        if self.fence.is_some() {
            out.push_str("```\n");
        }
        if self.details.is_some() {
            out.push_str("\n</details>\n");
        }
        out
    }

    /// Lines that open it again at the top of the next part.
    fn reopen(&self) -> String {
        let mut out = String::new();
        if let Some(d) = &self.details {
            let summary = d.replace("<details open>", "<details>").replace("</summary>", " (continued)</summary>");
            let summary = if summary.contains("<summary>") { summary } else { format!("{summary}<summary>continued</summary>") };
            out.push_str(&summary);
            out.push_str("\n\n");
        }
        if let Some((header, sep)) = &self.table {
            let _ = writeln!(out, "{header}\n{sep}");
        }
        if let Some(fence) = &self.fence {
            out.push_str(fence);
            out.push('\n');
        }
        out
    }
}

/// `|---|:--:|` : the row under a table's header.
fn is_separator(line: &str) -> bool {
    line.contains('-') && line.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

const CONTINUED: &str = "\n_Continued in the next comment._\n";

/// Splits Markdown into parts of at most `budget` bytes at line boundaries,
/// closing and reopening blocks across the cut.
pub fn split(markdown: &str, budget: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut open = Open::default();
    let mut previous: Option<&str> = None;
    for line in markdown.split_inclusive('\n') {
        let closing = open.close();
        if !current.is_empty() && current.len() + line.len() + closing.len() + CONTINUED.len() > budget {
            current.push_str(&closing);
            current.push_str(CONTINUED);
            parts.push(std::mem::take(&mut current));
            current.push_str(&open.reopen());
        }
        if line.len() > budget {
            // A single line longer than a part: cut it (never happens with
            // ferry's own output, whose lines are short).
            for chunk in chunks(line, budget / 2) {
                current.push_str(chunk);
                parts.push(std::mem::take(&mut current));
            }
            continue;
        }
        current.push_str(line);
        open.track(line.trim_end_matches('\n'), previous);
        previous = Some(line.trim_end_matches('\n'));
    }
    if !current.is_empty() || parts.is_empty() {
        parts.push(current);
    }
    parts
}

fn chunks(s: &str, size: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let mut end = size.min(rest.len());
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_part_with_the_marker() {
        let m = Marker::new("plan", "shop").with("hash", "abc123");
        let parts = comment(&m, "## plan\n\nhello\n", Some("https://ci/1"), &["`/ferry apply`".into()]);
        assert_eq!(parts.len(), 1);
        assert!(parts[0].starts_with("<!-- ferry:plan app=shop part=1/1 hash=abc123 -->\n## plan\n"), "{}", parts[0]);
        assert_eq!(Marker::field(&parts[0], "hash").as_deref(), Some("abc123"));
        assert!(parts[0].contains("**Next**\n\n- `/ferry apply`\n"));
        assert_eq!(m.part_of(&parts[0]), Some(1));
        assert_eq!(m.part_of("<!-- ferry:plan app=other part=1/1 -->"), None);
    }

    #[test]
    fn a_long_table_in_details_is_split_with_both_reopened() {
        let mut md = String::from("# title\n\n<details open><summary><b>step</b></summary>\n\n| # | Action |\n|---|---|\n");
        for i in 0..2000 {
            let _ = writeln!(md, "| {i} | set key {i} to a value that makes the row long enough |");
        }
        md.push_str("\n</details>\n\nend\n");
        let parts = split(&md, 10_000);
        assert!(parts.len() > 5);
        for (i, p) in parts.iter().enumerate() {
            assert!(p.len() <= 10_000, "part {i} has {} bytes", p.len());
            assert_eq!(p.matches("<details").count(), p.matches("</details>").count(), "part {i} balances details");
            if i > 0 {
                assert!(p.starts_with("<details><summary><b>step</b> (continued)</summary>\n\n| # | Action |\n|---|---|\n"), "part {i}: {}", &p[..120]);
            }
        }
        let rows: usize = parts.iter().map(|p| p.lines().filter(|l| l.contains("to a value that")).count()).sum();
        assert_eq!(rows, 2000, "every row exactly once");
    }

    #[test]
    fn a_code_fence_is_closed_and_reopened() {
        let mut md = String::from("```text\n");
        for i in 0..500 {
            let _ = writeln!(md, "line {i} of the log output");
        }
        md.push_str("```\n");
        let parts = split(&md, 2_000);
        for p in &parts {
            assert_eq!(p.matches("```").count() % 2, 0, "balanced fences: {p}");
        }
    }
}
