//! Logical replication: copy while the app keeps writing, then a short frozen
//! catch-up. Publication, subscription and slot all share one ferry-chosen name.

use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::conn::{Session, connect, query_error};
use crate::inventory::{materialized_views, sequences, to_u64};
use crate::sql::{quote_ident, quote_literal, quote_qualified, validate_name};
use crate::{DbUrl, PgError};

const POLL: Duration = Duration::from_millis(200);
/// Large objects move in pieces so memory stays flat whatever their size.
const LO_CHUNK: i32 = 1024 * 1024;

/// Progress of a subscription: initial table sync and WAL still to apply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplicationStatus {
    pub tables_total: u32,
    pub tables_ready: u32,
    pub lag_bytes: u64,
}

impl ReplicationStatus {
    fn synced(&self) -> bool {
        self.tables_ready == self.tables_total
    }
}

/// What the final step did, for the journal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FinishStats {
    pub sequences: u32,
    pub large_objects: u32,
    /// Materialized views refreshed on the target (replication fills none).
    pub materialized_views: u32,
    /// Time from the frozen source's last WAL position to it being on the target.
    pub catch_up: Duration,
    /// Time the refreshes took, inside the frozen window.
    pub refresh: Duration,
    /// UNLOGGED tables whose rows were dumped across, and how long it took.
    pub unlogged: u32,
    pub unlogged_copy: Duration,
}

/// Tables without a primary key can only publish UPDATE/DELETE with FULL
/// identity (the whole old row identifies it).
pub fn set_replica_identity_full(db: &DbUrl, table: &str) -> Result<(), PgError> {
    let sql = format!("ALTER TABLE {} REPLICA IDENTITY FULL", quote_qualified(table)?);
    connect(db)?.batch(&sql, "setting replica identity")
}

/// Undo of [`set_replica_identity_full`].
pub fn reset_replica_identity(db: &DbUrl, table: &str) -> Result<(), PgError> {
    let sql = format!("ALTER TABLE {} REPLICA IDENTITY DEFAULT", quote_qualified(table)?);
    connect(db)?.batch(&sql, "resetting replica identity")
}

/// `CREATE PUBLICATION name FOR ALL TABLES` on the source; already there is fine.
pub fn create_publication(src: &DbUrl, name: &str) -> Result<(), PgError> {
    validate_name(name)?;
    let mut s = connect(src)?;
    if exists(&mut s, "SELECT 1 FROM pg_publication WHERE pubname = $1", name)? {
        return Ok(());
    }
    s.batch(&format!("CREATE PUBLICATION {} FOR ALL TABLES", quote_ident(name)), "creating publication")
}

/// `CREATE SUBSCRIPTION` on the target (which also creates the slot on the
/// source and starts the initial copy). `source_for_target` is the address the
/// TARGET server uses, which may differ from ferry's. Already there is fine.
/// Source and target must be different clusters: on one cluster the slot
/// creation waits for the creating transaction itself.
pub fn create_subscription(dst: &DbUrl, source_for_target: &DbUrl, name: &str) -> Result<(), PgError> {
    validate_name(name)?;
    // A bounded connect, so a later DROP SUBSCRIPTION to a dead source gives up.
    let conninfo = format!("{} connect_timeout='10'", source_for_target.conninfo()?);
    let mut d = connect(dst)?;
    if exists(&mut d, "SELECT 1 FROM pg_subscription WHERE subname = $1", name)? {
        return Ok(());
    }
    let q = quote_ident(name);
    let sql = format!("CREATE SUBSCRIPTION {q} CONNECTION {} PUBLICATION {q}", quote_literal(&conninfo));
    d.batch(&sql, "creating subscription").map_err(|e| also_redact(e, source_for_target))
}

/// Sync state from `pg_subscription_rel` on the target, lag from the slot on the source.
pub fn replication_status(src: &DbUrl, dst: &DbUrl, name: &str) -> Result<ReplicationStatus, PgError> {
    validate_name(name)?;
    status(&mut connect(src)?, &mut connect(dst)?, name)
}

/// Polls every 200 ms until every table is synced and the lag is at most
/// `max_lag_bytes`; `keepalive` sees each status (progress, lease renewal).
pub fn wait_caught_up(
    src: &DbUrl,
    dst: &DbUrl,
    name: &str,
    max_lag_bytes: u64,
    timeout: Duration,
    keepalive: &mut dyn FnMut(&ReplicationStatus),
) -> Result<ReplicationStatus, PgError> {
    validate_name(name)?;
    let (mut s, mut d) = (connect(src)?, connect(dst)?);
    let started = Instant::now();
    loop {
        let st = status(&mut s, &mut d, name)?;
        keepalive(&st);
        if st.synced() && st.lag_bytes <= max_lag_bytes {
            return Ok(st);
        }
        if started.elapsed() >= timeout {
            let what = format!("subscription {name} to catch up");
            return Err(PgError::Timeout { what, waited: started.elapsed(), last: Some(st) });
        }
        sleep(POLL);
    }
}

/// The final step, with writes on the source frozen: wait until the slot has
/// confirmed the source's current WAL position (every committed write is on
/// the target), copy what replication does not carry (sequences, large
/// objects, the rows of the `unlogged` tables), refresh every materialized
/// view the source has filled (their rows are not replicated: on the target
/// they are still empty; a view may read an unlogged table, so it comes
/// after), then drop the subscription (and with it the slot) and publication.
pub fn finish_logical(src: &DbUrl, dst: &DbUrl, name: &str, unlogged: &[String], timeout: Duration) -> Result<FinishStats, PgError> {
    validate_name(name)?;
    let (mut s, mut d) = (connect(src)?, connect(dst)?);
    let started = Instant::now();
    // The target is the end of everything inserted into the WAL so far:
    // every commit made before the freeze. Not pg_current_wal_lsn(), the
    // *write* position: an app committing with synchronous_commit = off
    // leaves its last commits in WAL buffers, behind it, and the wait would
    // end without them (the class tests lost such a write every run).
    let target: String = s.one("SELECT pg_current_wal_insert_lsn()::text", &[], "reading WAL position")?.get(0);
    // The walsender sends only flushed WAL. A transaction of our own that
    // writes a record (a logical message, which no subscriber applies) and
    // commits synchronously flushes everything before it, and gives the
    // walsender a record past the target to report.
    s.batch(
        "BEGIN READ WRITE; SET LOCAL synchronous_commit = on; \
         SELECT pg_logical_emit_message(true, 'ferry', 'final catch-up'); COMMIT",
        "flushing the source's WAL",
    )?;
    wait_flushed(&mut s, &mut d, name, &target, timeout)?;
    let catch_up = started.elapsed();
    let sequences = sequences_between(&mut s, &mut d)?;
    let large_objects = large_objects_between(&mut s, &mut d)?;
    let copying = Instant::now();
    crate::dump::copy_rows(src, dst, unlogged)?;
    let unlogged_copy = copying.elapsed();
    let refreshing = Instant::now();
    let views = materialized_views(&mut s, true)?;
    refresh_in_order(&mut d, &views)?;
    let refresh = refreshing.elapsed();
    let q = quote_ident(name);
    d.batch(&format!("DROP SUBSCRIPTION {q}"), "dropping subscription")?;
    // A copy of ferry's publication, when the schema was copied while it existed (a retried apply).
    if exists(&mut d, "SELECT 1 FROM pg_publication WHERE pubname = $1", name)? {
        d.batch(&format!("DROP PUBLICATION {q}"), "dropping the publication's copy")?;
    }
    s.batch(&format!("DROP PUBLICATION IF EXISTS {q}"), "dropping publication")?;
    Ok(FinishStats {
        sequences,
        large_objects,
        materialized_views: u32::try_from(views.len()).unwrap_or(u32::MAX),
        catch_up,
        refresh,
        unlogged: u32::try_from(unlogged.len()).unwrap_or(u32::MAX),
        unlogged_copy,
    })
}

/// Undo of the whole setup, safe to repeat. When the source is unreachable
/// the subscription is detached from its slot first so it can still be dropped
/// (the source's publication and slot then need a later retry).
pub fn drop_logical(src: &DbUrl, dst: &DbUrl, name: &str) -> Result<(), PgError> {
    validate_name(name)?;
    drop_subscription(&mut connect(dst)?, name)?;
    let mut s = connect(src)?;
    s.batch(&format!("DROP PUBLICATION IF EXISTS {}", quote_ident(name)), "dropping publication")?;
    drop_slot(&mut s, name)
}

/// `setval` on the target for every sequence of the source, in one transaction.
pub fn copy_sequences(src: &DbUrl, dst: &DbUrl) -> Result<u32, PgError> {
    sequences_between(&mut connect(src)?, &mut connect(dst)?)
}

/// Logical replication does not carry large objects: copies each one, oid
/// kept, replacing any on the target, and unlinks target ones the source does
/// not have, so both sides end up identical. Owners and grants are not copied.
pub fn copy_large_objects(src: &DbUrl, dst: &DbUrl) -> Result<u32, PgError> {
    large_objects_between(&mut connect(src)?, &mut connect(dst)?)
}

fn exists(s: &mut Session<'_>, sql: &str, name: &str) -> Result<bool, PgError> {
    Ok(!s.rows(sql, &[&name], "checking existence")?.is_empty())
}

fn also_redact(e: PgError, other: &DbUrl) -> PgError {
    match e {
        PgError::Query { target, context, message, code } => PgError::Query { target, context, message: other.redact(&message), code },
        other_error => other_error,
    }
}

fn status(s: &mut Session<'_>, d: &mut Session<'_>, name: &str) -> Result<ReplicationStatus, PgError> {
    let row = d.one(
        "SELECT EXISTS (SELECT 1 FROM pg_subscription WHERE subname = $1), count(*), \
         count(*) FILTER (WHERE sr.srsubstate = 'r') FROM pg_subscription_rel sr \
         JOIN pg_subscription sub ON sub.oid = sr.srsubid WHERE sub.subname = $1",
        &[&name],
        "reading subscription state",
    )?;
    if !row.get::<_, bool>(0) {
        return Err(PgError::NotFound { target: d.url.describe(), what: format!("subscription {name}") });
    }
    let lag = s.rows(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint \
         FROM pg_replication_slots WHERE slot_name = $1",
        &[&name],
        "reading slot lag",
    )?;
    let Some(lag) = lag.first() else {
        return Err(PgError::NotFound { target: s.url.describe(), what: format!("replication slot {name}") });
    };
    Ok(ReplicationStatus {
        tables_total: to_u32(row.get(1)),
        tables_ready: to_u32(row.get(2)),
        lag_bytes: lag.get::<_, Option<i64>>(0).map_or(u64::MAX, to_u64),
    })
}

fn to_u32(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn wait_flushed(s: &mut Session<'_>, d: &mut Session<'_>, name: &str, lsn: &str, timeout: Duration) -> Result<(), PgError> {
    let started = Instant::now();
    loop {
        let row = s.one(
            "SELECT coalesce(bool_or(confirmed_flush_lsn >= $2::text::pg_lsn), false) \
             FROM pg_replication_slots WHERE slot_name = $1",
            &[&name, &lsn],
            "reading slot position",
        )?;
        let st = status(s, d, name)?;
        if row.get::<_, bool>(0) && st.synced() {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            let what = format!("slot {name} to confirm {lsn}");
            return Err(PgError::Timeout { what, waited: started.elapsed(), last: Some(st) });
        }
        sleep(POLL);
    }
}

/// Refreshes `views` on the target, each after the views it reads: one over
/// a view not filled yet fails (SQLSTATE 55000) and is tried again once a
/// pass has filled others. A pass that fills none returns its first error.
fn refresh_in_order(d: &mut Session<'_>, views: &[String]) -> Result<(), PgError> {
    let mut pending: Vec<&String> = views.iter().collect();
    while !pending.is_empty() {
        let (mut waiting, mut first_error) = (Vec::new(), None);
        for view in &pending {
            match d.batch(&format!("REFRESH MATERIALIZED VIEW {}", quote_qualified(view)?), &format!("refreshing {view}")) {
                Ok(()) => {}
                Err(e) if matches!(&e, PgError::Query { code: Some(code), .. } if code == "55000") => {
                    first_error.get_or_insert(e);
                    waiting.push(*view);
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(e) = first_error.filter(|_| waiting.len() == pending.len()) {
            return Err(e);
        }
        pending = waiting;
    }
    Ok(())
}

fn sequences_between(s: &mut Session<'_>, d: &mut Session<'_>) -> Result<u32, PgError> {
    let mut values = Vec::new();
    for seq in sequences(s)? {
        let q = format!("{}.{}", quote_ident(&seq.schema), quote_ident(&seq.name));
        let row = s.one(&format!("SELECT last_value, is_called FROM {q}"), &[], "reading sequence")?;
        values.push((q, row.get::<_, i64>(0), row.get::<_, bool>(1)));
    }
    let url = d.url;
    let fail = |e| query_error(url, "setting sequences", &e);
    let mut tx = d.client.transaction().map_err(fail)?;
    for (q, value, called) in &values {
        tx.execute("SELECT setval($1::text::regclass, $2, $3)", &[q, value, called]).map_err(fail)?;
    }
    tx.commit().map_err(fail)?;
    Ok(u32::try_from(values.len()).unwrap_or(u32::MAX))
}

fn large_objects_between(s: &mut Session<'_>, d: &mut Session<'_>) -> Result<u32, PgError> {
    let rows = s.rows("SELECT oid FROM pg_largeobject_metadata ORDER BY oid", &[], "listing large objects")?;
    let oids: Vec<u32> = rows.iter().map(|r| r.get(0)).collect();
    let url = d.url;
    let fail = |e| query_error(url, "writing large objects", &e);
    let mut tx = d.client.transaction().map_err(fail)?;
    tx.execute("SELECT lo_unlink(oid) FROM pg_largeobject_metadata WHERE oid <> ALL($1)", &[&oids]).map_err(fail)?;
    for oid in &oids {
        tx.execute("SELECT lo_unlink(oid) FROM pg_largeobject_metadata WHERE oid = $1", &[oid]).map_err(fail)?;
        tx.execute("SELECT lo_from_bytea($1, ''::bytea)", &[oid]).map_err(fail)?;
        copy_chunks(s, &mut tx, url, *oid)?;
    }
    tx.commit().map_err(fail)?;
    Ok(u32::try_from(oids.len()).unwrap_or(u32::MAX))
}

/// One large object, 1 MiB at a time, into the already created target object.
fn copy_chunks(s: &mut Session<'_>, tx: &mut postgres::Transaction<'_>, dst: &DbUrl, oid: u32) -> Result<(), PgError> {
    let mut offset = 0i64;
    loop {
        let row = s.one("SELECT lo_get($1, $2, $3)", &[&oid, &offset, &LO_CHUNK], "reading large object")?;
        let chunk: Vec<u8> = row.get(0);
        if !chunk.is_empty() {
            tx.execute("SELECT lo_put($1, $2, $3)", &[&oid, &offset, &chunk]).map_err(|e| query_error(dst, "writing large object", &e))?;
        }
        if chunk.len() < LO_CHUNK as usize {
            return Ok(());
        }
        offset += chunk.len() as i64;
    }
}

fn drop_subscription(d: &mut Session<'_>, name: &str) -> Result<(), PgError> {
    if !exists(d, "SELECT 1 FROM pg_subscription WHERE subname = $1", name)? {
        return Ok(());
    }
    let q = quote_ident(name);
    if d.batch(&format!("DROP SUBSCRIPTION {q}"), "dropping subscription").is_ok() {
        return Ok(());
    }
    let detach = format!("ALTER SUBSCRIPTION {q} DISABLE; ALTER SUBSCRIPTION {q} SET (slot_name = NONE); DROP SUBSCRIPTION {q}");
    d.batch(&detach, "dropping subscription without its slot")
}

/// Drops the slot if it is still there, ending a walsender that holds it.
fn drop_slot(s: &mut Session<'_>, name: &str) -> Result<(), PgError> {
    let started = Instant::now();
    loop {
        let rows = s.rows("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", &[&name], "reading slot")?;
        let Some(row) = rows.first() else {
            return Ok(());
        };
        let attempt = match row.get::<_, Option<i32>>(0) {
            Some(pid) => s.rows("SELECT pg_terminate_backend($1)", &[&pid], "ending slot holder"),
            None => s.rows("SELECT pg_drop_replication_slot($1)", &[&name], "dropping slot"),
        };
        if let Err(e) = attempt
            && started.elapsed() > Duration::from_secs(5)
        {
            return Err(e);
        }
        sleep(Duration::from_millis(100));
    }
}
