//! RFC 6125 name matching, as browsers do it.
//!
//! ASCII case-insensitive; a trailing dot is ignored; a wildcard is only a
//! whole left-most `*` label and stands for exactly one label, so
//! `*.example.com` covers `shop.example.com` but neither `a.b.example.com`
//! nor `example.com`. Partial wildcards (`f*.example.com`) and wildcards
//! over a single label (`*.com`) match nothing, as in webpki and the CA/B
//! Forum rules, so this answer agrees with the trust verdict.

/// Whether a certificate `pattern` (a SAN DNS name or CN) covers `host`.
pub(crate) fn matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.');
    let host = host.trim_end_matches('.');
    if pattern.is_empty() || host.is_empty() {
        return false;
    }
    match pattern.strip_prefix("*.") {
        Some(parent) => {
            let Some((label, host_parent)) = host.split_once('.') else {
                return false;
            };
            !label.is_empty() && parent.contains('.') && !parent.contains('*') && parent.eq_ignore_ascii_case(host_parent)
        }
        None => !pattern.contains('*') && pattern.eq_ignore_ascii_case(host),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn exact_names_match_case_insensitively_and_ignore_a_trailing_dot() {
        assert!(matches("shop.example.com", "shop.example.com"));
        assert!(matches("Shop.Example.COM", "shop.example.com."));
        assert!(!matches("shop.example.com", "shop.example.net"));
        assert!(!matches("example.com", "shop.example.com"));
    }

    #[test]
    fn a_wildcard_stands_for_exactly_one_label() {
        assert!(matches("*.example.com", "shop.example.com"));
        assert!(matches("*.EXAMPLE.com", "Shop.example.com"));
        assert!(!matches("*.example.com", "a.b.example.com"));
        assert!(!matches("*.example.com", "example.com"));
        assert!(!matches("*.example.com", ".example.com"));
    }

    #[test]
    fn partial_and_top_level_wildcards_match_nothing() {
        assert!(!matches("f*.example.com", "foo.example.com"));
        assert!(!matches("*.com", "example.com"));
        assert!(!matches("*.*.example.com", "a.b.example.com"));
        assert!(!matches("*", "localhost"));
        assert!(!matches("", "example.com"));
    }
}
