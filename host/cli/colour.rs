//! Colour for risk levels on a terminal, and only there: never in a pipe,
//! a file or a CI log, and never when `NO_COLOR` is set
//! (<https://no-color.org>: any non-empty value) or `TERM=dumb`.

use ferry_model::Risk;

/// Whether output to a stream should be coloured.
pub fn wanted(is_terminal: bool, no_color: Option<&std::ffi::OsStr>, term: Option<&str>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty()) && term != Some("dumb")
}

/// `text` with each risk marker (`[safe]`, `[disruptive]`, …) in its
/// colour: green, yellow, red, and bold red for irreversible.
pub fn risks(text: &str) -> String {
    let mut out = text.to_string();
    for risk in Risk::ALL {
        let marker = format!("[{}]", risk.as_str());
        let style = match risk {
            Risk::Safe => "32",
            Risk::Disruptive => "33",
            Risk::Destructive => "31",
            Risk::Irreversible => "1;31",
        };
        out = out.replace(&marker, &format!("\u{1b}[{style}m{marker}\u{1b}[0m"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color_or_a_dumb_term() {
        assert!(wanted(true, None, Some("xterm-256color")));
        assert!(!wanted(false, None, None), "a pipe or a file");
        assert!(!wanted(true, Some("1".as_ref()), None), "NO_COLOR");
        assert!(wanted(true, Some("".as_ref()), None), "an empty NO_COLOR is unset");
        assert!(!wanted(true, None, Some("dumb")));
    }

    #[test]
    fn each_risk_marker_gets_its_colour_and_nothing_else_changes() {
        let text = "  1. [safe] create volume\n  2. [destructive] destroy machines\nsafe words stay\n";
        assert_eq!(risks(text), "  1. \u{1b}[32m[safe]\u{1b}[0m create volume\n  2. \u{1b}[31m[destructive]\u{1b}[0m destroy machines\nsafe words stay\n");
    }
}
