//! Proof that a copy is complete: per-table row counts and order-independent
//! checksums, compared between source and target.

use std::collections::BTreeMap;

use crate::catalog::{self, ObjectDiff};
use crate::conn::{Session, connect};
use crate::inventory::{materialized_views, tables, to_u64};
use crate::sql::quote_qualified;
use crate::{DbUrl, PgError};

/// Row text depends on session settings; pin them so two servers with
/// different defaults still produce the same text for the same row.
const STABLE_OUTPUT: &str = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; \
     SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET bytea_output = 'hex'";

/// One table's (or pseudo-entry's) fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableDigest {
    pub table: String,
    pub rows: u64,
    pub checksum: String,
}

/// Result of comparing both sides.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verification {
    pub tables: Vec<TableCheck>,
    /// Objects defined differently, missing or extra on the target.
    pub objects: Vec<ObjectDiff>,
    /// How many catalog objects of the source were compared.
    pub objects_compared: usize,
    /// The source's size as verified (`pg_database_size`), to set beside
    /// the size the plan showed: a live database moves between the two.
    pub source_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableCheck {
    pub table: String,
    pub source_rows: u64,
    pub target_rows: u64,
    pub matches: bool,
}

/// The entries of a verification that are not relations (a relation's
/// name is always schema-qualified, so none is ever called this).
pub const PSEUDO_ENTRIES: [&str; 2] = ["large-objects", "sequences"];

impl Verification {
    /// The checks of tables and materialized views, without the pseudo-entries.
    pub fn relations(&self) -> impl Iterator<Item = &TableCheck> {
        self.tables.iter().filter(|t| !PSEUDO_ENTRIES.contains(&t.table.as_str()))
    }

    pub fn mismatches(&self) -> Vec<&TableCheck> {
        self.tables.iter().filter(|t| !t.matches).collect()
    }

    pub fn ok(&self) -> bool {
        self.tables.iter().all(|t| t.matches) && self.objects.is_empty()
    }
}

/// Per table `count(*)` and the SUM of a 64-bit hash of each row's text: the
/// order rows come back in does not matter, and (unlike xor) duplicate rows
/// still count. Tables that do not exist are left out; an empty `tables` means
/// every user table. Always followed by the pseudo-entries `large-objects`
/// and `sequences`, which replication handles separately.
pub fn digests(db: &DbUrl, tables: &[String]) -> Result<Vec<TableDigest>, PgError> {
    digests_in(&mut stable_session(db)?, tables)
}

/// A session with the output settings pinned ([`STABLE_OUTPUT`]).
fn stable_session(db: &DbUrl) -> Result<Session<'_>, PgError> {
    let mut s = connect(db)?;
    s.batch(STABLE_OUTPUT, "pinning output settings")?;
    Ok(s)
}

fn digests_in(s: &mut Session<'_>, tables: &[String]) -> Result<Vec<TableDigest>, PgError> {
    let names = table_names(s, tables)?;
    let mut out = Vec::new();
    for name in names {
        if let Some(d) = table_digest(s, &name)? {
            out.push(d);
        }
    }
    let [large_objects, sequences] = PSEUDO_ENTRIES;
    out.push(pseudo(s, large_objects, LARGE_OBJECTS)?);
    out.push(pseudo(s, sequences, SEQUENCES)?);
    Ok(out)
}

/// Digests and reads the catalog of both sides at once (two threads: the
/// slow part is the servers'), then compares. A table missing on either
/// side is a mismatch, and so is every object defined differently.
pub fn verify(src: &DbUrl, dst: &DbUrl, tables: &[String]) -> Result<Verification, PgError> {
    // One session per side for both reads.
    let read = |s: &mut Session<'_>| -> Result<_, PgError> { Ok((digests_in(s, tables)?, catalog::read(s)?)) };
    let (source, target) = std::thread::scope(|scope| {
        let source = scope.spawn(|| {
            let mut s = stable_session(src)?;
            let bytes: i64 = s.one("SELECT pg_database_size(current_database())", &[], "reading the database size")?.get(0);
            Ok::<_, PgError>((read(&mut s)?, to_u64(bytes)))
        });
        let target = stable_session(dst).and_then(|mut s| read(&mut s));
        (source.join().expect("digest thread panicked"), target)
    });
    let (((source, source_catalog), source_bytes), (target, target_catalog)) = (source?, target?);
    Ok(Verification {
        tables: compare(&source, &target),
        objects: catalog::diff(&source_catalog, &target_catalog),
        objects_compared: source_catalog.objects.len(),
        source_bytes,
    })
}

/// The field separator of [`digest_script`]'s output (ASCII unit
/// separator: no name or number holds it).
pub const DIGEST_FIELD_SEPARATOR: char = '\u{1f}';

/// [`digests`] of every relation and the pseudo-entries as one psql script,
/// for a database only a machine elsewhere can reach (Fly Postgres, from a
/// machine on Fly's private network). Run as `psql -X -q -At -F <US>
/// -v ON_ERROR_STOP=1 -f script`, it prints `schema<US>name<US>rows|checksum`
/// lines (an empty schema for a pseudo-entry), which [`parse_digests`]
/// reads. Its relations, settings and queries are [`digests`]' own, each
/// relation's run through `query_to_xml` so that one statement covers them all.
pub fn digest_script() -> String {
    use crate::inventory::{NOT_EXTENSION, USER_NAMESPACE};
    let [large_objects, sequences] = PSEUDO_ENTRIES;
    format!(
        "{STABLE_OUTPUT};\n\
         SELECT n.nspname, c.relname, CASE WHEN c.relkind = 'm' AND NOT c.relispopulated THEN '0|not populated' ELSE \
         (xpath('/row/x/text()', query_to_xml(format('SELECT count(*)::text || ''|'' || {ROW_SUM}::text AS x FROM %I.%I r', n.nspname, c.relname), \
         false, true, '')))[1]::text END \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'm') AND {USER_NAMESPACE} AND {NOT_EXTENSION} ORDER BY 1, 2;\n\
         SELECT '', '{large_objects}', x.rows::text || '|' || x.sum FROM ({LARGE_OBJECTS}) AS x(rows, sum);\n\
         SELECT '', '{sequences}', x.rows::text || '|' || x.sum FROM ({SEQUENCES}) AS x(rows, sum);\n"
    )
}

/// Reads [`digest_script`]'s output.
pub fn parse_digests(text: &str) -> Result<Vec<TableDigest>, String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split(DIGEST_FIELD_SEPARATOR).collect();
            let [schema, name, value] = fields[..] else { return Err(format!("not a digest line: {line:?}")) };
            let (rows, checksum) = value.split_once('|').ok_or_else(|| format!("no row count in {line:?}"))?;
            let rows = rows.parse().map_err(|_| format!("row count {rows:?} in {line:?}"))?;
            let table = if schema.is_empty() { name.to_string() } else { crate::sql::qualified_name(schema, name) };
            Ok(TableDigest { table, rows, checksum: checksum.to_string() })
        })
        .collect()
}

/// Compares digests read on two sides (by [`digests`] or [`digest_script`]).
pub fn compare(source: &[TableDigest], target: &[TableDigest]) -> Vec<TableCheck> {
    let by_name: BTreeMap<&str, &TableDigest> = target.iter().map(|d| (d.table.as_str(), d)).collect();
    let mut checks: Vec<TableCheck> = source
        .iter()
        .map(|s| {
            let t = by_name.get(s.table.as_str());
            TableCheck {
                table: s.table.clone(),
                source_rows: s.rows,
                target_rows: t.map_or(0, |t| t.rows),
                matches: t.is_some_and(|t| t.rows == s.rows && t.checksum == s.checksum),
            }
        })
        .collect();
    let in_source: Vec<&str> = source.iter().map(|d| d.table.as_str()).collect();
    checks.extend(target.iter().filter(|t| !in_source.contains(&t.table.as_str())).map(|t| TableCheck {
        table: t.table.clone(),
        source_rows: 0,
        target_rows: t.rows,
        matches: false,
    }));
    checks
}

fn table_names(s: &mut Session<'_>, requested: &[String]) -> Result<Vec<String>, PgError> {
    if !requested.is_empty() {
        return Ok(requested.to_vec());
    }
    let mut names: Vec<String> = tables(s)?.iter().map(|t| t.qualified()).collect();
    names.extend(materialized_views(s, false)?);
    Ok(names)
}

/// `ROW(r.*)` rather than `r`: a column named like the alias would win.
fn table_digest(s: &mut Session<'_>, table: &str) -> Result<Option<TableDigest>, PgError> {
    let q = quote_qualified(table)?;
    let found = s.one(
        "SELECT to_regclass($1) IS NOT NULL, \
         coalesce((SELECT relkind = 'm' AND NOT relispopulated FROM pg_class WHERE oid = to_regclass($1)), false)",
        &[&q],
        "looking up table",
    )?;
    if !found.get::<_, bool>(0) {
        return Ok(None);
    }
    // A materialized view made `WITH NO DATA` cannot be read: its state is
    // what both sides must agree on.
    if found.get::<_, bool>(1) {
        return Ok(Some(TableDigest { table: table.to_string(), rows: 0, checksum: "not populated".into() }));
    }
    let sql = format!("SELECT count(*), {ROW_SUM}::text FROM {q} r");
    let row = s.one(&sql, &[], &format!("checksumming {table}"))?;
    Ok(Some(TableDigest { table: table.to_string(), rows: to_u64(row.get(0)), checksum: row.get(1) }))
}

/// The order-independent sum of a 64-bit hash of every row `r`.
const ROW_SUM: &str = "coalesce(sum(hashtextextended(ROW(r.*)::text, 0)::numeric), 0)";

const LARGE_OBJECTS: &str = "SELECT count(*), coalesce(sum(hashtextextended(\
     oid::text || ':' || md5(lo_get(oid)), 0)::numeric), 0)::text FROM pg_largeobject_metadata";

const SEQUENCES: &str = "SELECT count(*), md5(coalesce(string_agg(\
     quote_ident(schemaname) || '.' || quote_ident(sequencename) || '=' || coalesce(last_value::text, 'unset'), \
     ',' ORDER BY schemaname, sequencename), '')) FROM pg_sequences \
     WHERE schemaname NOT IN ('pg_catalog', 'information_schema')";

fn pseudo(s: &mut Session<'_>, name: &str, sql: &str) -> Result<TableDigest, PgError> {
    let row = s.one(sql, &[], &format!("checksumming {name}"))?;
    Ok(TableDigest { table: name.to_string(), rows: to_u64(row.get(0)), checksum: row.get(1) })
}
