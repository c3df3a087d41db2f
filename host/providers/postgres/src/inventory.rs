//! What is in a database: sizes, tables and their keys, things that need
//! special handling in a copy (tables without a key, large objects, sequences).

use crate::conn::{Session, connect};
use crate::sql::quote_ident;
use crate::{DbUrl, PgError};

/// Schemas that are never user data.
pub(crate) const USER_NAMESPACE: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";
/// Objects created by an extension come back with `CREATE EXTENSION`.
pub(crate) const NOT_EXTENSION: &str = "NOT EXISTS (SELECT 1 FROM pg_depend d \
     WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')";

/// One database's contents, for planning a copy and sizing its downtime.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Inventory {
    pub server_version: String,
    /// Logical replication needs `logical` on the source.
    pub wal_level: String,
    pub database: String,
    pub total_bytes: u64,
    pub tables: Vec<Table>,
    pub sequences: Vec<Sequence>,
    pub extensions: Vec<String>,
    /// Not carried by logical replication: copied separately at the end.
    pub large_objects: u64,
    /// Non-system schemas that hold user objects, e.g. `["public"]`.
    pub schemas: Vec<String>,
    /// Qualified names ([`crate::qualified_name`]): logical replication
    /// carries none of their rows, the final step refreshes them.
    pub materialized_views: Vec<String>,
    /// Objects by kind ([`crate::Catalog::counts`]).
    pub objects: std::collections::BTreeMap<String, u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Table {
    pub schema: String,
    pub name: String,
    /// Including indexes and TOAST (`pg_total_relation_size`).
    pub bytes: u64,
    /// From `reltuples`; 0 when never analyzed.
    pub estimated_rows: u64,
    /// Empty when the table has no primary key: logical replication then
    /// needs `REPLICA IDENTITY FULL` to carry updates and deletes.
    pub primary_key: Vec<String>,
    pub replica_identity: ReplicaIdentity,
    /// `relpersistence = 'u'`: its changes are not in the WAL, so logical
    /// replication never carries them.
    pub unlogged: bool,
}

impl Table {
    /// `schema.name`, quoted where needed: the form the other functions take.
    pub fn qualified(&self) -> String {
        crate::sql::qualified_name(&self.schema, &self.name)
    }
}

/// `pg_class.relreplident`: which old-row columns UPDATE/DELETE publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ReplicaIdentity {
    Default,
    Full,
    Index,
    Nothing,
}

impl ReplicaIdentity {
    fn from_code(code: &str) -> ReplicaIdentity {
        match code {
            "f" => ReplicaIdentity::Full,
            "i" => ReplicaIdentity::Index,
            "n" => ReplicaIdentity::Nothing,
            _ => ReplicaIdentity::Default,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sequence {
    pub schema: String,
    pub name: String,
}

/// Reads the inventory in one session.
pub fn inventory(db: &DbUrl) -> Result<Inventory, PgError> {
    let mut s = connect(db)?;
    let head = s.one(
        "SELECT current_setting('server_version'), current_setting('wal_level'), \
         current_database()::text, pg_database_size(current_database()), \
         (SELECT count(*) FROM pg_largeobject_metadata)",
        &[],
        "reading server facts",
    )?;
    Ok(Inventory {
        server_version: head.get(0),
        wal_level: head.get(1),
        database: head.get(2),
        total_bytes: to_u64(head.get(3)),
        large_objects: to_u64(head.get(4)),
        tables: tables(&mut s)?,
        sequences: sequences(&mut s)?,
        extensions: strings(&mut s, "SELECT extname::text FROM pg_extension ORDER BY 1")?,
        schemas: strings(&mut s, &schemas_sql())?,
        materialized_views: materialized_views(&mut s, false)?,
        objects: objects(&mut s)?,
    })
}

/// Objects by kind from the catalog, and `granted object`: how many user
/// schemas (but `public`, which has grants from initdb), relations, functions
/// and types carry explicit grants, which no copy carries (the restore runs
/// `--no-acl`; the target's roles are its own).
fn objects(s: &mut Session<'_>) -> Result<std::collections::BTreeMap<String, u32>, PgError> {
    let mut objects = crate::catalog::read(s)?.counts();
    let granted = format!(
        "SELECT (SELECT count(*) FROM pg_namespace n WHERE n.nspacl IS NOT NULL AND n.nspname <> 'public' AND {USER_NAMESPACE}) \
         + (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relacl IS NOT NULL AND {USER_NAMESPACE} AND {NOT_EXTENSION}) \
         + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proacl IS NOT NULL AND {USER_NAMESPACE}) \
         + (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typacl IS NOT NULL AND {USER_NAMESPACE})"
    );
    let n: i64 = s.one(&granted, &[], "counting grants")?.get(0);
    if n > 0 {
        objects.insert("granted object".to_string(), u32::try_from(n).unwrap_or(u32::MAX));
    }
    Ok(objects)
}

pub(crate) fn tables(s: &mut Session<'_>) -> Result<Vec<Table>, PgError> {
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, pg_total_relation_size(c.oid), \
         greatest(c.reltuples, 0)::bigint, c.relreplident::text, \
         coalesce((SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i \
           CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum \
           WHERE i.indrelid = c.oid AND i.indisprimary), '{{}}'), c.relpersistence = 'u' \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND {USER_NAMESPACE} AND {NOT_EXTENSION} ORDER BY 1, 2"
    );
    let rows = s.rows(&sql, &[], "listing tables")?;
    Ok(rows
        .iter()
        .map(|r| Table {
            schema: r.get(0),
            name: r.get(1),
            bytes: to_u64(r.get(2)),
            estimated_rows: to_u64(r.get(3)),
            replica_identity: ReplicaIdentity::from_code(r.get(4)),
            primary_key: r.get(5),
            unlogged: r.get(6),
        })
        .collect())
}

pub(crate) fn sequences(s: &mut Session<'_>) -> Result<Vec<Sequence>, PgError> {
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'S' AND {USER_NAMESPACE} AND {NOT_EXTENSION} ORDER BY 1, 2"
    );
    let rows = s.rows(&sql, &[], "listing sequences")?;
    Ok(rows.iter().map(|r| Sequence { schema: r.get(0), name: r.get(1) }).collect())
}

/// The user's materialized views, qualified; with `populated_only`, only
/// those that hold rows (one created `WITH NO DATA` stays unfilled on both
/// sides).
pub(crate) fn materialized_views(s: &mut Session<'_>, populated_only: bool) -> Result<Vec<String>, PgError> {
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'm' AND {USER_NAMESPACE} AND {NOT_EXTENSION} AND (c.relispopulated OR NOT $1) ORDER BY 1, 2"
    );
    let rows = s.rows(&sql, &[&populated_only], "listing materialized views")?;
    Ok(rows.iter().map(|r| crate::sql::qualified_name(r.get(0), r.get(1))).collect())
}

fn schemas_sql() -> String {
    format!(
        "SELECT n.nspname::text FROM pg_namespace n WHERE {USER_NAMESPACE} AND (\
         EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid) OR \
         EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace = n.oid) OR \
         EXISTS (SELECT 1 FROM pg_type t WHERE t.typnamespace = n.oid)) ORDER BY 1"
    )
}

fn strings(s: &mut Session<'_>, sql: &str) -> Result<Vec<String>, PgError> {
    Ok(s.rows(sql, &[], "listing names")?.iter().map(|r| r.get(0)).collect())
}

pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// True when `db` has no user tables, views, sequences, large objects or
/// publications: the copy's precondition, so a copy never mixes with
/// existing data (and [`clear`] removes only what the copy made).
pub fn is_empty(db: &DbUrl) -> Result<bool, PgError> {
    let mut s = connect(db)?;
    let sql = format!(
        "SELECT NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
           WHERE c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f') AND {USER_NAMESPACE} AND {NOT_EXTENSION}) \
         AND NOT EXISTS (SELECT 1 FROM pg_largeobject_metadata) AND NOT EXISTS (SELECT 1 FROM pg_publication)"
    );
    Ok(s.one(&sql, &[], "checking emptiness")?.get(0))
}

pub(crate) fn ensure_empty(db: &DbUrl) -> Result<(), PgError> {
    if is_empty(db)? { Ok(()) } else { Err(PgError::TargetNotEmpty { target: db.describe() }) }
}

/// Undo of a copy: drops `schemas` (CASCADE) and every publication (the
/// target had none before: [`is_empty`]), re-creates `public` the way a
/// fresh PostgreSQL 15 database has it, and unlinks every large object. One
/// transaction, so a failed undo leaves the copy as it was.
pub fn clear(db: &DbUrl, schemas: &[String]) -> Result<(), PgError> {
    let mut sql = String::from("BEGIN;\n");
    for schema in schemas {
        sql.push_str(&format!("DROP SCHEMA IF EXISTS {} CASCADE;\n", quote_ident(schema)));
    }
    sql.push_str(CLEAR_REST);
    connect(db)?.batch(&sql, "clearing the copy")
}

/// [`clear`] of every user schema, as a script for a client elsewhere
/// (psql inside the database's container): the undo of a copy into a
/// database that [`is_empty`] found empty.
pub fn clear_all_script() -> String {
    format!(
        "BEGIN;\nDO $$ DECLARE s name; BEGIN FOR s IN SELECT n.nspname FROM pg_namespace n WHERE {USER_NAMESPACE} LOOP EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP; END $$;\n{CLEAR_REST}"
    )
}

/// What [`clear`] does after the schemas: large objects, publications, a
/// fresh `public`, the commit.
const CLEAR_REST: &str = "SELECT lo_unlink(oid) FROM pg_largeobject_metadata;\n\
         DO $$ DECLARE p name; BEGIN FOR p IN SELECT pubname FROM pg_publication LOOP \
           EXECUTE format('DROP PUBLICATION %I', p); END LOOP; END $$;\n\
         DO $$ BEGIN IF to_regnamespace('public') IS NULL THEN \
           CREATE SCHEMA public; \
           COMMENT ON SCHEMA public IS 'standard public schema'; \
           GRANT USAGE ON SCHEMA public TO PUBLIC; \
           BEGIN ALTER SCHEMA public OWNER TO pg_database_owner; \
           EXCEPTION WHEN OTHERS THEN NULL; END; \
         END IF; END $$;\n\
         COMMIT;";
