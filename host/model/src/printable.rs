//! Untrusted text made safe to show on one line of a terminal or a CI log.
//!
//! Values from fly.toml, ferry.toml, a step's summaries and log lines, and
//! API answers are written by whoever controls the checkout or the step. Put
//! raw on a line of output, a newline in one of them starts a line of the
//! attacker's choosing (which the GitHub Actions runner reads as a workflow
//! command: `::add-mask::`, `::stop-commands::`, `::warning …`), and an
//! escape sequence drives the reader's terminal (clear the screen, move the
//! cursor up, retitle the window).
//!
//! [`printable`] is the one place that decides what is shown instead. It
//! lives in `ferry-model` because every crate that prints (the CLI, the
//! renderers, the runtime's step log, the engine's messages) already depends
//! on this one, and on nothing else in common.

use std::borrow::Cow;

/// `text` with every character that could break a line, move the cursor or
/// reorder what a reader sees replaced by a visible escape, so the value
/// stays on the line it was put on and a person can still read what it held:
///
/// - line feed, carriage return and tab as `\n`, `\r`, `\t`;
/// - every other C0 control, DEL and every C1 control (ESC and CSI among
///   them) as `\u001b`, `\u009b`…;
/// - the Unicode line and paragraph separators, and the bidirectional
///   embedding, override, isolate and mark characters (which make a line
///   read differently from what it holds), the same way.
///
/// The escapes are JSON's, so text that is JSON stays valid JSON, meaning
/// the same, when it is escaped again on its way out (serde_json leaves DEL
/// and C1 controls raw in strings).
///
/// Everything else, backslashes included, is kept as it is: the result is
/// for people, not a format to parse back, and applying it twice changes
/// nothing.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Every character escaped here is in the Basic Multilingual Plane.
            c if needs_escape(c) => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Text over several lines (an error carrying a machine's last log lines),
/// each line made [`printable`] on its own and joined by `separator`: the
/// lines stay lines for a reader, and none can hold what the one-line form
/// escapes. A separator that starts with a line feed and then a margin
/// (`"\n   │ "`) keeps every later line from starting a line of the
/// output at all.
pub fn printable_lines(text: &str, separator: &str) -> String {
    text.lines().map(printable).collect::<Vec<_>>().join(separator)
}

/// Whether `c` is shown escaped by [`printable`].
fn needs_escape(c: char) -> bool {
    c.is_control() || is_line_separator(c) || is_bidi_control(c)
}

/// U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR: some viewers break
/// the line at them.
fn is_line_separator(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}')
}

/// Marks, embeddings, overrides and isolates of the Unicode bidirectional
/// algorithm: they reorder the characters after them on screen ("Trojan
/// Source"), so a line can read as something it does not hold.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let text = "tcp 8080 ← 80 (http, force https) · ünïcode \\n stays";
        assert!(matches!(printable(text), std::borrow::Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn line_breaks_and_tabs_become_their_escapes() {
        assert_eq!(printable("a\n::warning title=pwned::x"), "a\\n::warning title=pwned::x");
        assert_eq!(printable("\r::add-mask::x"), "\\r::add-mask::x");
        assert_eq!(printable("a\r\nb\tc"), "a\\r\\nb\\tc");
    }

    #[test]
    fn c0_del_and_c1_controls_are_escaped() {
        assert_eq!(printable("\u{1b}[2J\u{1b}[1A"), "\\u001b[2J\\u001b[1A");
        assert_eq!(printable("\u{0}\u{7}\u{8}\u{7f}"), "\\u0000\\u0007\\u0008\\u007f");
        assert_eq!(printable("\u{9b}31m\u{85}\u{9d}"), "\\u009b31m\\u0085\\u009d");
    }

    #[test]
    fn each_line_is_escaped_on_its_own_and_joined_by_the_separator() {
        assert_eq!(super::printable_lines("a\r\n::x\u{1b}[2J\nb", "\n | "), "a\n | ::x\\u001b[2J\n | b");
    }

    #[test]
    fn separators_and_bidi_controls_are_escaped() {
        assert_eq!(printable("a\u{2028}b\u{2029}"), "a\\u2028b\\u2029");
        assert_eq!(printable("ok\u{202e}gpj.exe\u{2066}"), "ok\\u202egpj.exe\\u2066");
    }

    #[test]
    fn nothing_unsafe_survives_and_a_second_pass_changes_nothing() {
        let all: String = (0u32..=0x2100).filter_map(char::from_u32).collect();
        let once = printable(&all).into_owned();
        assert!(!once.chars().any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}' || ('\u{202a}'..='\u{202e}').contains(&c)));
        assert_eq!(printable(&once), once);
    }

    #[test]
    fn escaping_json_text_keeps_it_the_same_json() {
        let value = "a\u{7f}b\u{9b}c\u{2028}d\u{202e}\n\u{1b}";
        let json = serde_json::to_string(&serde_json::json!({ "v": value })).unwrap();
        assert!(json.contains('\u{9b}'), "serde_json leaves C1 raw: {json}");
        let escaped = printable(&json);
        let back: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back["v"], value);
    }
}
