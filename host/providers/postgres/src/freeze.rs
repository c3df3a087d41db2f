//! Stopping writes on the source at the database level, for the final step of
//! a copy: nothing the app does afterwards can be lost.

use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::conn::{Session, connect};
use crate::sql::{quote_ident, quote_literal};
use crate::{DbUrl, PgError};

const SETTING: &str = "default_transaction_read_only";
/// How long ended sessions may take to exit (a backend finishes the
/// statement step it is in, e.g. a COMMIT's WAL flush).
const EXIT_WAIT: Duration = Duration::from_secs(30);

/// `ALTER DATABASE .. SET default_transaction_read_only = on`, then ends every
/// other client session on the database so it reconnects read-only (a
/// setting change alone only affects new sessions). Walsenders are spared so
/// replication keeps flowing for the final catch-up. Returns the previous
/// database-level value (`None` when unset) for [`unfreeze`]; if ending
/// sessions fails, the setting is put back before the error is returned.
pub fn freeze(db: &DbUrl) -> Result<Option<String>, PgError> {
    let mut s = connect(db)?;
    let previous = current(&mut s)?;
    let db = database(&mut s)?;
    s.batch(&format!("ALTER DATABASE {db} SET {SETTING} = on"), "freezing")?;
    if let Err(e) = terminate_others(&mut s) {
        let _ = restore(&mut s, previous.as_deref());
        return Err(e);
    }
    Ok(previous)
}

/// Puts the previous value back (RESET when there was none) and again ends
/// other sessions, which would otherwise stay read-only until they reconnect.
pub fn unfreeze(db: &DbUrl, previous: Option<&str>) -> Result<(), PgError> {
    let mut s = connect(db)?;
    restore(&mut s, previous)?;
    terminate_others(&mut s)
}

/// True when the database-level setting is on.
pub fn is_frozen(db: &DbUrl) -> Result<bool, PgError> {
    let value = current(&mut connect(db)?)?;
    Ok(value.is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "on" | "true" | "yes" | "1")))
}

fn database(s: &mut Session<'_>) -> Result<String, PgError> {
    let name: String = s.one("SELECT current_database()::text", &[], "reading database name")?.get(0);
    Ok(quote_ident(&name))
}

/// The database-wide (not per-role) value from `pg_db_role_setting`.
fn current(s: &mut Session<'_>) -> Result<Option<String>, PgError> {
    let rows = s.rows(
        "SELECT split_part(cfg, '=', 2) FROM pg_db_role_setting rs \
         JOIN pg_database d ON d.oid = rs.setdatabase CROSS JOIN LATERAL unnest(rs.setconfig) AS cfg \
         WHERE d.datname = current_database() AND rs.setrole = 0 \
         AND cfg LIKE 'default\\_transaction\\_read\\_only=%'",
        &[],
        "reading freeze setting",
    )?;
    Ok(rows.first().map(|r| r.get(0)))
}

fn restore(s: &mut Session<'_>, previous: Option<&str>) -> Result<(), PgError> {
    let db = database(s)?;
    let sql = match previous {
        Some(v) => format!("ALTER DATABASE {db} SET {SETTING} = {}", quote_literal(v)),
        None => format!("ALTER DATABASE {db} RESET {SETTING}"),
    };
    s.batch(&sql, "unfreezing")
}

/// Ends every client session on the database that may have started before
/// the freeze, and waits until each has exited.
///
/// - `pg_terminate_backend` only signals: a session in the middle of a
///   COMMIT finishes it first, so a write could land after this returned,
///   after the WAL position the final catch-up waits for. Once the sessions
///   are gone, every write they made is in the WAL.
/// - A session reads `default_transaction_read_only` as it starts, and
///   shows no database in `pg_stat_activity` until it has authenticated: one
///   connecting as the freeze commits may still start writable. So every
///   session that began (`backend_start`) before the setting was in place is
///   ended, waiting for those still starting to show their database.
///
/// Sessions begun afterwards read the setting and are left alone (as are
/// walsenders, so replication keeps flowing for the catch-up).
fn terminate_others(s: &mut Session<'_>) -> Result<(), PgError> {
    let since: String = s.one("SELECT clock_timestamp()::text", &[], "reading the time")?.get(0);
    let started = Instant::now();
    loop {
        let rows = s.rows(
            "SELECT pid, datname IS NOT NULL FROM pg_stat_activity \
             WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() \
             AND backend_start <= $1::text::timestamptz AND (datname = current_database() OR datname IS NULL)",
            &[&since],
            "listing other sessions",
        )?;
        if rows.is_empty() {
            return Ok(());
        }
        let ours: Vec<i32> = rows.iter().filter(|r| r.get::<_, bool>(1)).map(|r| r.get(0)).collect();
        s.rows("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", &[&ours], "ending other sessions")?;
        if started.elapsed() >= EXIT_WAIT {
            return Err(PgError::Timeout { what: format!("{} session(s) begun before the freeze to exit", rows.len()), waited: started.elapsed(), last: None });
        }
        sleep(Duration::from_millis(20));
    }
}
