//! The definitions of a database's objects, read from `pg_catalog`, so a
//! copy can be checked for more than its rows: a column of another type, a
//! missing index, constraint, trigger, function, view, enum label or
//! sequence setting is named before anything is cut over.
//!
//! Each object is a key (`index public.orders_pkey`) and its definition as
//! the server prints it (`pg_get_indexdef`, `pg_get_constraintdef`, …).
//! Views and functions are printed by the server's own deparser, which
//! changes between major versions: across versions only their presence is
//! compared. Publications (but ferry's own) and comments (but initdb's on
//! `public`) are compared, as both modes carry them. Ownership and grants are not compared: the restore
//! runs `--no-owner --no-acl`, so the target's user owns every copy (the
//! roles of the source need not exist there; the plan counts what this
//! leaves behind). Objects of extensions come back with `CREATE EXTENSION`.

use std::collections::BTreeMap;

use crate::conn::{Session, connect};
use crate::inventory::USER_NAMESPACE;
use crate::{DbUrl, PgError};

/// The publications and slots logical mode creates (`ferry_<database>`,
/// named by the copy-data planner): replication plumbing, not the app's.
const OWN_PUBLICATIONS: &str = "ferry\\_%";

/// One database's objects: key → definition, and its major version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    pub major: u32,
    pub objects: BTreeMap<String, String>,
}

/// An object that is not the same on both sides.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ObjectDiff {
    pub object: String,
    /// `None`: the object is not on that side.
    pub source: Option<String>,
    pub target: Option<String>,
}

impl std::fmt::Display for ObjectDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.source, &self.target) {
            (Some(_), None) => write!(f, "{} is missing on the target", self.object),
            (None, Some(_)) => write!(f, "{} is only on the target", self.object),
            (Some(s), Some(t)) => write!(f, "{} differs (source: {s}; target: {t})", self.object),
            (None, None) => write!(f, "{}", self.object),
        }
    }
}

/// Every user object whose definition a copy must carry. Each part of the
/// `UNION ALL` is one kind; `ext` leaves out what an extension created.
fn catalog_sql() -> String {
    let q = "quote_ident(ns.nspname) || '.' || quote_ident";
    let not_ext = |class: &str, oid: &str| format!("NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = '{class}'::regclass AND ext.objid = {oid})");
    let rel = not_ext("pg_class", "c.oid");
    let pro = not_ext("pg_proc", "p.oid");
    let typ = not_ext("pg_type", "t.oid");
    format!(
        "WITH ns AS (SELECT n.oid, n.nspname FROM pg_namespace n WHERE {USER_NAMESPACE}), \
         ext AS (SELECT classid, objid FROM pg_depend WHERE deptype = 'e') \
         SELECT 'column ' || {q}(c.relname) || '.' || quote_ident(a.attname), \
           format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END \
           || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN ns ON ns.oid = c.relnamespace \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND a.attnum > 0 AND NOT a.attisdropped AND {rel} \
         UNION ALL \
         SELECT 'table ' || {q}(c.relname), CASE c.relpersistence WHEN 'u' THEN 'unlogged ' ELSE '' END || \
           CASE c.relkind WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table' ELSE 'table' END \
           || coalesce(' partition of ' || (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid LIMIT 1) \
              || ' ' || pg_get_expr(c.relpartbound, c.oid), '') \
         FROM pg_class c JOIN ns ON ns.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'f') AND {rel} \
         UNION ALL \
         SELECT 'constraint ' || {q}(c.relname) || '.' || quote_ident(co.conname), pg_get_constraintdef(co.oid) \
         FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN ns ON ns.oid = c.relnamespace WHERE {rel} \
         UNION ALL \
         SELECT 'index ' || {q}(c.relname), pg_get_indexdef(c.oid) \
         FROM pg_class c JOIN ns ON ns.oid = c.relnamespace WHERE c.relkind IN ('i', 'I') AND {rel} \
         UNION ALL \
         SELECT CASE c.relkind WHEN 'm' THEN 'materialized view ' ELSE 'view ' END || {q}(c.relname), pg_get_viewdef(c.oid) \
         FROM pg_class c JOIN ns ON ns.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') AND {rel} \
         UNION ALL \
         SELECT 'sequence ' || {q}(c.relname), format_type(s.seqtypid, NULL) || ' increment ' || s.seqincrement \
           || ' from ' || s.seqmin || ' to ' || s.seqmax || CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END \
         FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN ns ON ns.oid = c.relnamespace WHERE {rel} \
         UNION ALL \
         SELECT 'function ' || {q}(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')', pg_get_functiondef(p.oid) \
         FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace WHERE p.prokind IN ('f', 'p') AND {pro} \
         UNION ALL \
         SELECT 'aggregate ' || {q}(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')', \
           CASE p.prokind WHEN 'w' THEN 'window ' ELSE '' END || 'returning ' || pg_get_function_result(p.oid) \
         FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace WHERE p.prokind IN ('a', 'w') AND {pro} \
         UNION ALL \
         SELECT 'trigger ' || {q}(c.relname) || '.' || quote_ident(t.tgname), pg_get_triggerdef(t.oid) \
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN ns ON ns.oid = c.relnamespace WHERE NOT t.tgisinternal AND {rel} \
         UNION ALL \
         SELECT 'type ' || {q}(t.typname), CASE t.typtype \
           WHEN 'e' THEN 'enum (' || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) || ')' \
           ELSE 'domain over ' || format_type(t.typbasetype, t.typtypmod) || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END \
             || coalesce(' ' || (SELECT string_agg(pg_get_constraintdef(co.oid), ' ' ORDER BY co.conname) FROM pg_constraint co WHERE co.contypid = t.oid), '') END \
         FROM pg_type t JOIN ns ON ns.oid = t.typnamespace WHERE t.typtype IN ('e', 'd') AND {typ} \
         UNION ALL \
         SELECT 'type ' || {q}(t.typname), CASE t.typtype WHEN 'r' THEN 'range over ' || format_type(r.rngsubtype, NULL) ELSE 'composite' END \
         FROM pg_type t JOIN ns ON ns.oid = t.typnamespace LEFT JOIN pg_range r ON r.rngtypid = t.oid \
         WHERE (t.typtype = 'r' OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')) AND {typ} \
         UNION ALL \
         SELECT 'schema ' || quote_ident(ns.nspname), 'schema' FROM ns \
         UNION ALL \
         SELECT 'event trigger ' || quote_ident(e.evtname), e.evtevent || ' ' || e.evtfoid::regproc::text || ' ' || e.evtenabled::text FROM pg_event_trigger e \
           WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_event_trigger'::regclass AND ext.objid = e.oid) \
         UNION ALL \
         SELECT 'extension ' || quote_ident(x.extname), 'installed' FROM pg_extension x \
         UNION ALL \
         SELECT 'publication ' || quote_ident(p.pubname), CASE WHEN p.puballtables THEN 'all tables' ELSE 'tables ' || coalesce( \
             (SELECT string_agg(quote_ident(t.schemaname) || '.' || quote_ident(t.tablename), ', ' ORDER BY 1) FROM pg_publication_tables t WHERE t.pubname = p.pubname), '-') END \
           || ' publishing' || CASE WHEN p.pubinsert THEN ' insert' ELSE '' END || CASE WHEN p.pubupdate THEN ' update' ELSE '' END \
           || CASE WHEN p.pubdelete THEN ' delete' ELSE '' END || CASE WHEN p.pubtruncate THEN ' truncate' ELSE '' END \
         FROM pg_publication p WHERE p.pubname NOT LIKE '{OWN_PUBLICATIONS}' \
         UNION ALL \
         SELECT 'comment on ' || i.type || ' ' || i.identity, d.description \
         FROM pg_description d CROSS JOIN LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) i \
         JOIN pg_namespace n ON n.nspname = i.schema OR (d.classoid = 'pg_namespace'::regclass AND n.oid = d.objoid) \
         WHERE {USER_NAMESPACE} AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = d.classoid AND ext.objid = d.objoid) \
           AND NOT (d.classoid = 'pg_namespace'::regclass AND n.nspname = 'public' AND d.description = 'standard public schema')"
    )
}

/// Reads `db`'s catalog in one query.
pub fn catalog(db: &DbUrl) -> Result<Catalog, PgError> {
    read(&mut connect(db)?)
}

/// [`catalog`], in a session the caller has open already.
pub(crate) fn read(s: &mut Session<'_>) -> Result<Catalog, PgError> {
    let major: i32 = s.one("SELECT current_setting('server_version_num')::int / 10000", &[], "reading the server version")?.get(0);
    let rows = s.rows(&catalog_sql(), &[], "reading the catalog")?;
    let objects = rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1).unwrap_or_default())).collect();
    Ok(Catalog { major: u32::try_from(major).unwrap_or(0), objects })
}

impl Catalog {
    /// How many objects of each kind (`table`, `unlogged table`, `foreign
    /// table`, `index`, `enum`, `domain`, `function`, …), for the plan to
    /// say how each is carried.
    pub fn counts(&self) -> BTreeMap<String, u32> {
        let mut counts = BTreeMap::new();
        for (key, def) in &self.objects {
            let kind = match key.split_once(' ').map_or(key.as_str(), |(k, _)| k) {
                "table" => def.split(" partition of ").next().unwrap_or(def).to_string(),
                "type" if def.starts_with("enum") => "enum".to_string(),
                "type" if def.starts_with("domain") => "domain".to_string(),
                "type" if def.starts_with("range") => "range type".to_string(),
                "type" => "composite type".to_string(),
                "event" => "event trigger".to_string(),
                "materialized" => "materialized view".to_string(),
                other => other.to_string(),
            };
            *counts.entry(kind).or_insert(0) += 1;
        }
        counts
    }
}

/// Every object that is missing, extra or defined differently on the
/// target. Views and functions across major versions: presence only.
pub fn diff(source: &Catalog, target: &Catalog) -> Vec<ObjectDiff> {
    let same_deparser = source.major == target.major;
    let deparsed = |key: &str| key.starts_with("view ") || key.starts_with("materialized view ") || key.starts_with("function ");
    let mut out = Vec::new();
    for (key, def) in &source.objects {
        match target.objects.get(key) {
            None => out.push(ObjectDiff { object: key.clone(), source: Some(def.clone()), target: None }),
            Some(other) if other != def && (same_deparser || !deparsed(key)) => {
                out.push(ObjectDiff { object: key.clone(), source: Some(def.clone()), target: Some(other.clone()) })
            }
            Some(_) => {}
        }
    }
    for (key, def) in &target.objects {
        if !source.objects.contains_key(key) {
            out.push(ObjectDiff { object: key.clone(), source: None, target: Some(def.clone()) });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(major: u32, objects: &[(&str, &str)]) -> Catalog {
        Catalog { major, objects: objects.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    #[test]
    fn missing_extra_and_changed_objects_are_named_and_deparsed_ones_compare_by_presence_across_versions() {
        let source = catalog(15, &[("column public.t.a", "integer"), ("index public.t_pkey", "CREATE UNIQUE INDEX …"), ("view public.v", "SELECT 1;")]);
        let target = catalog(15, &[("column public.t.a", "bigint"), ("view public.v", "SELECT 1 AS x;"), ("trigger public.t.audit", "CREATE TRIGGER …")]);
        let found: Vec<String> = diff(&source, &target).iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            [
                "column public.t.a differs (source: integer; target: bigint)",
                "index public.t_pkey is missing on the target",
                "view public.v differs (source: SELECT 1;; target: SELECT 1 AS x;)",
                "trigger public.t.audit is only on the target",
            ]
        );
        assert_eq!(
            catalog(
                15,
                &[
                    ("table public.a", "unlogged table"),
                    ("table public.m_1", "table partition of m FOR VALUES IN (1)"),
                    ("type public.t", "enum ('a')"),
                    ("column public.a.x", "int")
                ]
            )
            .counts(),
            [("column".to_string(), 1), ("enum".to_string(), 1), ("table".to_string(), 1), ("unlogged table".to_string(), 1)].into_iter().collect()
        );
        let newer = Catalog { major: 16, ..target };
        assert!(!diff(&source, &newer).iter().any(|d| d.object == "view public.v"), "another deparser: presence only");
    }
}
