//! Quoting for the identifiers ferry has to interpolate (DDL takes no parameters).

use crate::PgError;

/// `"name"`, with embedded quotes doubled: always quoted, so case and
/// reserved words survive.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal; uses the `E''` form when backslashes are present so the
/// result does not depend on `standard_conforming_strings`.
pub fn quote_literal(value: &str) -> String {
    let doubled = value.replace('\'', "''");
    if value.contains('\\') {
        format!("E'{}'", doubled.replace('\\', "\\\\"))
    } else {
        format!("'{doubled}'")
    }
}

/// `schema.name` as ferry shows and passes a relation: each part bare when
/// it is a plain lower-case identifier (`public.orders`), quoted otherwise
/// (`public."Order.Lines"`), so [`quote_qualified`] reads back exactly the
/// two parts, whatever they hold (a dot, a quote, spaces, capitals).
///
/// The copy-data planner (a WebAssembly step, `steps/copy-data-plan`)
/// writes names the same way; the two are tested on the same cases.
pub fn qualified_name(schema: &str, name: &str) -> String {
    format!("{}.{}", shown_ident(schema), shown_ident(name))
}

fn shown_ident(part: &str) -> String {
    let mut chars = part.chars();
    let plain = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain { part.to_string() } else { quote_ident(part) }
}

/// `schema.table` (either part optionally `"quoted"`; no schema means `public`)
/// into `"schema"."table"`.
pub fn quote_qualified(table: &str) -> Result<String, PgError> {
    let (schema, name) = split_qualified(table)?;
    Ok(format!("{}.{}", quote_ident(&schema), quote_ident(&name)))
}

/// Splits `schema.table` into its two unquoted parts.
pub(crate) fn split_qualified(table: &str) -> Result<(String, String), PgError> {
    let invalid = || PgError::InvalidTable(table.to_string());
    let (first, rest) = take_ident(table).ok_or_else(invalid)?;
    if rest.is_empty() {
        return Ok(("public".to_string(), first));
    }
    let rest = rest.strip_prefix('.').ok_or_else(invalid)?;
    match take_ident(rest) {
        Some((second, "")) => Ok((first, second)),
        _ => Err(invalid()),
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

/// Ferry-chosen names (publication, subscription, slot) are restricted so that
/// the slot name rules (`[a-z0-9_]`, 63 bytes) hold too.
pub(crate) fn validate_name(name: &str) -> Result<(), PgError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(PgError::InvalidName(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident(r#"we"ird"#), r#""we""ird""#);
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(r"a\b"), r"E'a\\b'");
    }

    #[test]
    fn qualified_names() {
        assert_eq!(
            quote_qualified("public.accounts").unwrap(),
            r#""public"."accounts""#
        );
        assert_eq!(
            quote_qualified("accounts").unwrap(),
            r#""public"."accounts""#
        );
        assert_eq!(
            quote_qualified(r#""My.Schema"."t""x""#).unwrap(),
            r#""My.Schema"."t""x""#
        );
        assert!(quote_qualified("a.b.c").is_err());
        assert!(quote_qualified("").is_err());
        assert!(quote_qualified(".x").is_err());
    }

    /// The cases `steps/copy-data-plan`'s planner is tested on too.
    const CASES: &str = include_str!("../tests/qualified_names.tsv");

    #[test]
    fn a_qualified_name_reads_back_as_its_two_parts_whatever_they_hold() {
        let cases = CASES.lines().filter(|l| !l.starts_with('#')).map(|l| {
            let mut parts = l.split('\t');
            (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap())
        });
        for (schema, name, shown) in cases {
            assert_eq!(qualified_name(schema, name), shown);
            assert_eq!(split_qualified(shown).unwrap(), (schema.to_string(), name.to_string()), "{shown}");
        }
        // Every character PostgreSQL allows in a name, in one.
        let every: String = (1u32..0x300).filter_map(char::from_u32).collect();
        let shown = qualified_name(&every, &every);
        assert_eq!(split_qualified(&shown).unwrap(), (every.clone(), every));
    }

    #[test]
    fn names() {
        assert!(validate_name("ferry_main").is_ok());
        for bad in ["", "Ferry", "a-b", "a;drop", &"x".repeat(64)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
