//! Quoting for the identifiers ferry has to interpolate (DDL takes no parameters).

use crate::PgError;

pub use ferry_pg_names::{qualified_name, quote_ident};

/// A SQL string literal; uses the `E''` form when backslashes are present so the
/// result does not depend on `standard_conforming_strings`.
pub fn quote_literal(value: &str) -> String {
    let doubled = value.replace('\'', "''");
    if value.contains('\\') { format!("E'{}'", doubled.replace('\\', "\\\\")) } else { format!("'{doubled}'") }
}

/// `schema.table` (either part optionally `"quoted"`; no schema means `public`)
/// into `"schema"."table"`.
pub fn quote_qualified(table: &str) -> Result<String, PgError> {
    let (schema, name) = split_qualified(table)?;
    Ok(format!("{}.{}", quote_ident(&schema), quote_ident(&name)))
}

/// Splits `schema.table` into its two unquoted parts ([`ferry_pg_names`]).
pub(crate) fn split_qualified(table: &str) -> Result<(String, String), PgError> {
    ferry_pg_names::split_qualified(table).ok_or_else(|| PgError::InvalidTable(table.to_string()))
}

/// Ferry-chosen names (publication, subscription, slot) are restricted so that
/// the slot name rules (`[a-z0-9_]`, 63 bytes) hold too.
pub(crate) fn validate_name(name: &str) -> Result<(), PgError> {
    let ok = !name.is_empty() && name.len() <= 63 && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok { Ok(()) } else { Err(PgError::InvalidName(name.to_string())) }
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
        assert_eq!(quote_qualified("public.accounts").unwrap(), r#""public"."accounts""#);
        assert_eq!(quote_qualified("accounts").unwrap(), r#""public"."accounts""#);
        assert_eq!(quote_qualified(r#""My.Schema"."t""x""#).unwrap(), r#""My.Schema"."t""x""#);
        assert!(quote_qualified("a.b.c").is_err());
        assert!(quote_qualified("").is_err());
        assert!(quote_qualified(".x").is_err());
    }

    #[test]
    fn names() {
        assert!(validate_name("ferry_main").is_ok());
        for bad in ["", "Ferry", "a-b", "a;drop", &"x".repeat(64)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
