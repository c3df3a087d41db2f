//! The masker: every output (stdout, stderr, the job summary, PR comments,
//! state documents) passes through [`Masker::mask`] before it leaves ferry.
//!
//! A value is masked in each form an output can give it: as written, as a
//! JSON string body (`"` and `\` escaped, newlines as `\n`), as a terminal
//! line shows it (`ferry_model::printable`), percent-encoded (inside a URL),
//! as ferry's Markdown cells render it, and line by line (a PEM key printed
//! over several lines). Inside GitHub Actions each form is
//! also registered with `::add-mask::`, so the runner masks what ferry's
//! children print too.

use std::io::Write;
use std::sync::{OnceLock, RwLock};

use crate::{SECRET_PREFIX, TOKEN_VARS};

/// Values shorter than this are not masked: masking `1` or `true` would
/// garble every output without protecting anything.
pub const MIN_SECRET_LEN: usize = 6;

/// Replaces known secret values with `***`.
#[derive(Debug, Default)]
pub struct Masker {
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Every form of every value, longest first (so a value containing
    /// another is masked whole).
    patterns: Vec<String>,
    /// Register new values with the Actions runner (`::add-mask::`).
    announce: bool,
}

static GLOBAL: OnceLock<Masker> = OnceLock::new();

impl Masker {
    /// The process-wide masker, seeded with the tokens and every
    /// `FERRY_SECRET_*` value in the environment.
    pub fn global() -> &'static Masker {
        GLOBAL.get_or_init(|| {
            let masker = Masker::default();
            for (name, value) in std::env::vars_os() {
                let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else { continue };
                if TOKEN_VARS.contains(&name) || name.starts_with(SECRET_PREFIX) {
                    masker.learn(value);
                }
            }
            masker
        })
    }

    /// A masker of exactly `values` (tests, and callers that need a private one).
    pub fn of(values: &[&str]) -> Masker {
        let masker = Masker::default();
        for v in values {
            masker.learn(v);
        }
        masker
    }

    /// Masks `value` (in every form) from now on.
    pub fn learn(&self, value: &str) {
        let forms = forms(value);
        if forms.is_empty() {
            return;
        }
        let mut state = self.state.write().expect("masker lock");
        let new: Vec<String> = forms.into_iter().filter(|f| !state.patterns.contains(f)).collect();
        if new.is_empty() {
            return;
        }
        if state.announce {
            add_mask(&new);
        }
        state.patterns.extend(new);
        state.patterns.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// Registers every value known now, and every one learnt later, with
    /// the Actions runner (`::add-mask::`, on stderr: stdout may carry JSON).
    pub fn announce_to_github(&self) {
        let mut state = self.state.write().expect("masker lock");
        state.announce = true;
        add_mask(&state.patterns);
    }

    pub fn mask(&self, text: &str) -> String {
        let state = self.state.read().expect("masker lock");
        let mut out = text.to_string();
        for p in &state.patterns {
            if out.contains(p.as_str()) {
                out = out.replace(p.as_str(), "***");
            }
        }
        out
    }

    /// Masks UTF-8 text; other bytes pass unchanged (no secret is binary).
    pub fn mask_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.mask(text).into_bytes(),
            Err(_) => bytes.to_vec(),
        }
    }
}

fn add_mask(values: &[String]) {
    let mut err = std::io::stderr().lock();
    for v in values {
        let _ = writeln!(err, "::add-mask::{v}");
    }
}

/// The forms of `value` an output may contain, each long enough to mask.
fn forms(value: &str) -> Vec<String> {
    let json = serde_json::to_string(value).expect("a string serialises");
    let shown = ferry_model::printable(value).into_owned();
    let mut forms = vec![value.to_string(), json[1..json.len() - 1].to_string(), shown, percent(value), markdown(value)];
    forms.extend(value.lines().map(|l| l.trim().to_string()));
    let mut forms: Vec<String> = forms.into_iter().filter(|f| f.len() >= MIN_SECRET_LEN && !f.contains('\n')).collect();
    forms.sort();
    forms.dedup();
    // A multi-line value is masked line by line (its whole form contains
    // newlines, which `::add-mask::` cannot take and lines cover).
    forms
}

/// RFC 3986 percent-encoding of everything but unreserved characters, as a
/// URL's userinfo or query carries a password.
fn percent(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// How ferry's Markdown renders a value in a table cell (`ferry-render`'s
/// `markdown::text`): HTML-escaped, `|` escaped, newlines as spaces.
fn markdown(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_longest_first() {
        let m = Masker::of(&["s3cr3t-and-more", "s3cr3t"]);
        assert_eq!(m.mask("a s3cr3t-and-more b s3cr3t c"), "a *** b *** c");
        assert_eq!(m.mask("nothing"), "nothing");
    }

    #[test]
    fn masks_the_json_url_markdown_and_line_forms() {
        let quoted = "pa\"ss\\word|<1>";
        let multi = "line-one-of-key\nline-two-of-key";
        let m = Masker::of(&[quoted, multi]);
        let json = serde_json::json!({ "q": quoted, "m": multi }).to_string();
        assert_eq!(m.mask(&json), r#"{"m":"***","q":"***"}"#);
        assert_eq!(m.mask("postgres://u:pa%22ss%5Cword%7C%3C1%3E@db/x"), "postgres://u:***@db/x");
        assert_eq!(m.mask("| pa\"ss\\word\\|&lt;1&gt; |"), "| *** |");
        assert_eq!(m.mask("-----\nline-one-of-key\nline-two-of-key\n-----"), "-----\n***\n***\n-----");
        let short_lines = Masker::of(&["q\"z\nsecond-line"]);
        assert_eq!(short_lines.mask("env: q\"z\\nsecond-line"), "env: ***", "the terminal's form, whose first line is too short to mask alone");
    }

    #[test]
    fn short_values_are_not_masked() {
        let m = Masker::of(&["true", "1"]);
        assert_eq!(m.mask("true 1"), "true 1");
    }
}
