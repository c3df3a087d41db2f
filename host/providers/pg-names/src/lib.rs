//! How ferry writes and reads a schema-qualified PostgreSQL name.
//!
//! The copy-data planner (a WebAssembly step) names tables in its plan;
//! the host reads the names back to act on them (replica identity, the
//! rows of an unlogged table, the tables to verify). A table may be called
//! anything PostgreSQL allows: a dot, a quote, spaces, capitals. Both sides
//! use this one crate, so what the plan says is what the host reads.

/// `"name"`, with embedded quotes doubled: always quoted, so case and
/// reserved words survive.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `schema.name` as ferry shows and passes a relation: each part bare when
/// it is a plain lower-case identifier (`public.orders`), quoted otherwise
/// (`public."Order.Lines"`), so [`split_qualified`] reads back exactly the
/// two parts, whatever they hold.
pub fn qualified_name(schema: &str, name: &str) -> String {
    format!("{}.{}", shown_ident(schema), shown_ident(name))
}

fn shown_ident(part: &str) -> String {
    let mut chars = part.chars();
    let plain = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_') && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain { part.to_string() } else { quote_ident(part) }
}

/// `schema.table` (either part optionally `"quoted"`; no schema means
/// `public`) into its two unquoted parts; `None` when it is not one name.
pub fn split_qualified(table: &str) -> Option<(String, String)> {
    let (first, rest) = take_ident(table)?;
    if rest.is_empty() {
        return Some(("public".to_string(), first));
    }
    match take_ident(rest.strip_prefix('.')?) {
        Some((second, "")) => Some((first, second)),
        _ => None,
    }
}

/// One identifier from the front of `s`: `"quoted ""x"""` or plain up to a dot.
fn take_ident(s: &str) -> Option<(String, &str)> {
    if let Some(body) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '"' {
                out.push(c);
            } else if chars.peek().map(|(_, n)| *n) == Some('"') {
                out.push('"');
                chars.next();
            } else {
                return (!out.is_empty()).then(|| (out, &body[i + 1..]));
            }
        }
        return None;
    }
    let end = s.find('.').unwrap_or(s.len());
    (end > 0).then(|| (s[..end].to_string(), &s[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASES: &str = include_str!("../tests/qualified_names.tsv");

    #[test]
    fn a_qualified_name_reads_back_as_its_two_parts_whatever_they_hold() {
        let cases = CASES.lines().filter(|l| !l.starts_with('#')).map(|l| {
            let mut parts = l.split('\t');
            (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap())
        });
        for (schema, name, shown) in cases {
            assert_eq!(qualified_name(schema, name), shown);
            assert_eq!(split_qualified(shown), Some((schema.to_string(), name.to_string())), "{shown}");
        }
        // Every character PostgreSQL allows in a name, in one.
        let every: String = (1u32..0x300).filter_map(char::from_u32).collect();
        let shown = qualified_name(&every, &every);
        assert_eq!(split_qualified(&shown), Some((every.clone(), every)));
    }

    #[test]
    fn quoting_and_what_is_not_one_name() {
        assert_eq!(quote_ident(r#"we"ird"#), r#""we""ird""#);
        assert_eq!(split_qualified("accounts"), Some(("public".into(), "accounts".into())));
        assert_eq!(split_qualified(r#""My.Schema"."t""x""#), Some(("My.Schema".into(), r#"t"x"#.into())));
        for bad in ["a.b.c", "", ".x", r#""open"#, r#""""#, "a."] {
            assert_eq!(split_qualified(bad), None, "{bad}");
        }
    }
}
