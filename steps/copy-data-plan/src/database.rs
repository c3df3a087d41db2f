//! One database: which copy mode, and why; then its actions.

use ferry_step_sdk::host::data::{DatabaseInventory, PgTableInfo};
use ferry_step_sdk::params::finding;
use ferry_step_sdk::types::{DataOp, Operation, PgCopy, PgLogical, PgTable, PgVerify, Problem, Risk, Severity, StepError, Undo};

use crate::{Database, Mode, Options, Parts, action, plural, size};

/// A copy rate measured on 2 cores (pg_dump -Fc | pg_restore, 112 MB in
/// 2.3 s), for the plan's estimate of the dump-restore frozen window.
const DUMP_RESTORE_BYTES_PER_SEC: u64 = 48 << 20;
/// Directory format with jobs pays off from this size, with more than 2 cores.
const PARALLEL_ABOVE: u64 = 1 << 30;
const MAX_JOBS: u32 = 4;
/// Logical mode dumps UNLOGGED tables' rows inside the frozen window; above
/// this much (about 10 s at the rate above) the window is the copy again,
/// and logical mode is refused for dump-restore.
const UNLOGGED_IN_WINDOW_MAX: u64 = 512 << 20;

/// The mode chosen for a database, with the reason shown in the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    DumpRestore { jobs: u32, reason: String },
    Logical { reason: String },
}

pub(crate) fn plan(db: &Database, options: &Options, cores: u32, parts: &mut Parts) -> Result<(), StepError> {
    if let Some(what) = occupied(&db.target) {
        parts.findings.push(finding(
            "target-not-empty",
            Severity::Error,
            format!(
                "database {}: the target already holds {what}; copy-data copies into an empty database only (drop them, or point target_env at a new one)",
                db.name
            ),
        ));
        return Ok(());
    }
    let choice = choose(db, options, cores)?;
    let tables: Vec<String> = db.source.tables.iter().map(qualified).collect();
    parts.findings.push(finding("copy-carries", Severity::Info, carries(db, matches!(choice, Choice::Logical { .. }))));
    match &choice {
        Choice::DumpRestore { jobs, reason } => {
            parts.findings.push(finding("copy-mode", Severity::Info, format!("database {}: dump-restore, {reason}", db.name)));
            let window = db.source.total_bytes / DUMP_RESTORE_BYTES_PER_SEC + 1;
            parts.findings.push(finding(
                "frozen-window",
                Severity::Info,
                format!("database {}: writes stop for the whole copy of {} (about {window} s, plus verification)", db.name, size(db.source.total_bytes)),
            ));
            parts.frozen.push(dump_restore(db, *jobs));
        }
        Choice::Logical { reason } => {
            parts.findings.push(finding("copy-mode", Severity::Info, format!("database {}: logical replication, {reason}", db.name)));
            logical(db, options, parts);
        }
    }
    parts.freeze.push(freeze(&db.name));
    parts.frozen.push(verify(&db.name, tables, &db.source.materialized_views));
    Ok(())
}

/// How the chosen mode carries each kind of object the source holds.
fn carries(db: &Database, logical: bool) -> String {
    let count = |kind: &str| db.source.objects.iter().find(|(k, _)| k == kind).map_or(0, |(_, n)| *n);
    let definitions: Vec<String> = db.source.objects.iter().filter(|(k, _)| k != "column" && k != GRANTED).map(|(k, n)| format!("{k} {n}")).collect();
    let definitions = if definitions.is_empty() { "none".to_string() } else { definitions.join(", ") };
    let foreign = match count("foreign table") {
        0 => String::new(),
        n => format!("; {n} foreign table{}: the definition only (their rows live on the foreign server)", plural(n as usize)),
    };
    let publications = match count("publication") {
        0 => String::new(),
        n => format!("; {n} publication{}: the definition only (a consumer's replication slot is not carried: it re-points and resyncs)", plural(n as usize)),
    };
    let grants = match count(GRANTED) {
        0 => "ownership: the target's user owns every copy".to_string(),
        n => format!(
            "ownership and grants are not carried: the target's user owns every copy, and the grants on {n} object{} must be set again on the target",
            plural(n as usize)
        ),
    };
    let views = db.source.materialized_views.len();
    if logical {
        let unlogged = unlogged(&db.source).len();
        let rows = db.source.tables.len() - unlogged;
        let dumped = match unlogged {
            0 => String::new(),
            n => format!(", the rows of {n} UNLOGGED table{} by pg_dump", plural(n)),
        };
        format!(
            "database {}, in logical mode: definitions ({definitions}) by a schema copy before replication starts; the rows of {rows} table{} by replication while the app runs; \
             sequence values, {} large object{}{dumped} and {views} materialized view{} (refreshed) after the freeze{foreign}{publications}; {grants}",
            db.name,
            plural(rows),
            db.source.large_objects,
            plural(db.source.large_objects as usize),
            plural(views)
        )
    } else {
        format!(
            "database {}, in dump-restore mode: every definition ({definitions}), row, sequence value and large object by one pg_dump | pg_restore after the freeze, \
             which also fills {views} materialized view{}{foreign}{publications}; {grants}",
            db.name,
            plural(views)
        )
    }
}

/// The inventory's count of objects with explicit grants (no copy carries them).
const GRANTED: &str = "granted object";

/// What the target holds already, if anything.
fn occupied(target: &DatabaseInventory) -> Option<String> {
    match (target.tables.len(), target.large_objects) {
        (0, 0) => None,
        (0, lo) => Some(format!("{lo} large object{}", plural(lo as usize))),
        (n, _) => Some(format!("{n} table{} ({})", plural(n), first_names(&target.tables))),
    }
}

fn first_names(tables: &[PgTableInfo]) -> String {
    let mut names: Vec<String> = tables.iter().take(3).map(qualified).collect();
    if tables.len() > 3 {
        names.push("…".into());
    }
    names.join(", ")
}

/// Picks the mode: as asked, or in `auto` by what the source allows and
/// its size. An explicit `logical` the source cannot take is refused.
pub fn choose(db: &Database, options: &Options, cores: u32) -> Result<Choice, StepError> {
    let blockers = logical_blockers(&db.source);
    let bytes = db.source.total_bytes;
    let dump = |reason: String| Choice::DumpRestore { jobs: jobs(bytes, cores).0, reason: format!("{reason}; {}", jobs(bytes, cores).1) };
    Ok(match options.mode {
        Mode::DumpRestore => dump("as asked (mode = dump-restore)".into()),
        Mode::Logical if !blockers.is_empty() => {
            return Err(StepError::PreconditionFailed(Problem {
                message: format!("database {}: logical replication is not possible: {}", db.name, blockers.join("; ")),
                location: None,
            }));
        }
        Mode::Logical => Choice::Logical { reason: "as asked (mode = logical)".into() },
        Mode::Auto if !blockers.is_empty() => dump(format!("because logical replication is not possible ({})", blockers.join("; "))),
        Mode::Auto if bytes < options.logical_above_bytes => dump(format!(
            "because {} is below logical-above ({}): one dump is quicker than setting up replication",
            size(bytes),
            size(options.logical_above_bytes)
        )),
        Mode::Auto => Choice::Logical {
            reason: format!(
                "because {} is at least logical-above ({}): the frozen window is the final catch-up, not the copy",
                size(bytes),
                size(options.logical_above_bytes)
            ),
        },
    })
}

/// Parallel jobs for dump-restore, and why.
fn jobs(bytes: u64, cores: u32) -> (u32, String) {
    if cores > 2 && bytes >= PARALLEL_ABOVE {
        let jobs = cores.min(MAX_JOBS);
        (jobs, format!("directory format with {jobs} jobs ({cores} cores)"))
    } else if cores <= 2 {
        (1, format!("one stream through a pipe, no temporary file ({cores} cores: parallel jobs are no faster)"))
    } else {
        (1, format!("one stream through a pipe, no temporary file ({} is too small for parallel jobs to pay)", size(bytes)))
    }
}

/// Why logical replication cannot copy this source.
fn logical_blockers(source: &DatabaseInventory) -> Vec<String> {
    let mut blockers = Vec::new();
    if source.wal_level != "logical" {
        blockers.push(format!("wal_level is `{}` (it must be `logical`: ALTER SYSTEM SET wal_level = logical, then restart)", source.wal_level));
    }
    if major(&source.server_version).is_some_and(|v| v < 10) {
        blockers.push(format!("PostgreSQL {} has no built-in logical replication (10 or later)", source.server_version));
    }
    for t in source.tables.iter().filter(|t| t.replica_identity == "nothing") {
        blockers.push(format!("{} has REPLICA IDENTITY NOTHING: its updates and deletes would fail while published", qualified(t)));
    }
    let unlogged = unlogged(source);
    let unlogged_bytes = bytes(&unlogged);
    if unlogged_bytes > UNLOGGED_IN_WINDOW_MAX {
        let names: Vec<String> = unlogged.iter().map(|t| format!("{} ({})", qualified(t), size(t.bytes))).collect();
        blockers.push(format!(
            "UNLOGGED table{} {} hold{} {}, more than the {} logical mode copies inside the frozen window (replication never carries their rows; make them logged with ALTER TABLE … SET LOGGED, or copy by dump-restore)",
            plural(unlogged.len()),
            names.join(", "),
            if unlogged.len() == 1 { "s" } else { "" },
            size(unlogged_bytes),
            size(UNLOGGED_IN_WINDOW_MAX)
        ));
    }
    blockers
}

fn major(version: &str) -> Option<u32> {
    version.split(['.', ' ']).next()?.parse().ok()
}

fn logical(db: &Database, options: &Options, parts: &mut Parts) {
    let name = logical_name(&db.name);
    let keyless: Vec<&PgTableInfo> = db.source.tables.iter().filter(|t| t.primary_key.is_empty() && t.replica_identity == "default").collect();
    let spec = PgLogical {
        database: db.name.clone(),
        name: name.clone(),
        max_lag_bytes: options.max_lag_bytes,
        timeout_ms: options.catch_up_timeout_ms,
        identity_full: keyless.iter().map(|t| qualified(t)).collect(),
        unlogged: unlogged(&db.source).into_iter().map(qualified).collect(),
    };
    parts.findings.push(finding(
        "logical-ddl",
        Severity::Warning,
        format!("database {}: schema changes (DDL) on the source are not replicated: run no migration until the cutover", db.name),
    ));
    if !db.source.materialized_views.is_empty() {
        let views = &db.source.materialized_views;
        parts.findings.push(finding(
            "logical-materialized-views",
            Severity::Info,
            format!(
                "database {}: logical replication does not fill materialized views; the final step refreshes {} on the target inside the frozen window (the journal records how long it took): {}",
                db.name,
                views.len(),
                views.join(", ")
            ),
        ));
    }
    if !spec.unlogged.is_empty() {
        let bytes = bytes(&unlogged(&db.source));
        parts.findings.push(finding(
            "logical-unlogged",
            Severity::Info,
            format!(
                "database {}: logical replication never carries the rows of UNLOGGED table{} {}; the final step copies them ({}) with pg_dump --data-only inside the frozen window (about {} s; the journal records how long it took)",
                db.name,
                plural(spec.unlogged.len()),
                spec.unlogged.join(", "),
                size(bytes),
                bytes / DUMP_RESTORE_BYTES_PER_SEC + 1
            ),
        ));
    }
    if db.source.large_objects > 0 {
        let n = db.source.large_objects;
        parts.findings.push(finding(
            "logical-large-objects",
            Severity::Warning,
            format!(
                "database {}: logical replication does not carry large objects; the {n} large object{} are copied after the freeze",
                db.name,
                plural(n as usize)
            ),
        ));
    }
    parts.live.push(action(
        &format!("pg:schema:{}", db.name),
        format!("Copy the schema of database {} into the target", db.name),
        Risk::Safe,
        Operation::Data(DataOp::PgCopySchema(db.name.clone())),
        Undo::RestorePrevious,
        Some("Logical replication carries rows, not DDL: the tables must exist on the target first.".into()),
    ));
    for t in keyless {
        parts.findings.push(finding(
            "no-primary-key",
            Severity::Warning,
            format!("database {}: {} has no primary key; REPLICA IDENTITY FULL is set on the source so its updates and deletes replicate (the final step resets it, and so does an undo)", db.name, qualified(t)),
        ));
        parts.live.push(action(
            &format!("pg:replica-identity:{}:{}", db.name, qualified(t)),
            format!("Set REPLICA IDENTITY FULL on {} (database {}, source)", qualified(t), db.name),
            Risk::Disruptive,
            Operation::Data(DataOp::PgReplicaIdentityFull(PgTable { database: db.name.clone(), table: qualified(t) })),
            Undo::RestorePrevious,
            Some("Without a key, the publisher refuses UPDATE and DELETE on a published table; FULL logs the whole old row instead.".into()),
        ));
    }
    parts.live.push(action(
        &format!("pg:subscribe:{}", db.name),
        format!("Publish database {} and subscribe the target ({name}): the initial sync runs while the app is live", db.name),
        Risk::Safe,
        Operation::Data(DataOp::PgSubscribe(spec.clone())),
        Undo::RestorePrevious,
        Some("A publication on the source, a subscription (and its slot) on the target; the undo drops all three so no slot keeps WAL on the source.".into()),
    ));
    parts.live.push(action(
        &format!("pg:catch-up:{}", db.name),
        format!("Wait for the initial sync of {} ({}) and a lag under {}", db.name, size(db.source.total_bytes), size(options.max_lag_bytes)),
        Risk::Safe,
        Operation::Data(DataOp::PgCatchUp(spec.clone())),
        Undo::None("waiting changes nothing".into()),
        None,
    ));
    let reset = match spec.identity_full.as_slice() {
        [] => String::new(),
        tables => format!(", REPLICA IDENTITY reset on {}", tables.join(", ")),
    };
    let unlogged = match spec.unlogged.as_slice() {
        [] => String::new(),
        tables => format!(", rows of UNLOGGED {} dumped", tables.join(", ")),
    };
    parts.frozen.push(action(
        &format!("pg:finish:{}", db.name),
        format!(
            "Final catch-up of {}, sequences set, large objects copied{unlogged}, materialized views refreshed, subscription and publication dropped{reset}",
            db.name
        ),
        Risk::Safe,
        Operation::Data(DataOp::PgFinishLogical(PgLogical { timeout_ms: options.finish_timeout_ms, ..spec })),
        Undo::None("the copy stays on the target; undoing the schema copy empties it".into()),
        Some("Waits until the target confirmed every write committed before the freeze (the source's current WAL position).".into()),
    ));
}

fn dump_restore(db: &Database, jobs: u32) -> ferry_step_sdk::types::Action {
    action(
        &format!("pg:dump-restore:{}", db.name),
        format!("Copy database {} ({}) into the target with pg_dump | pg_restore", db.name, size(db.source.total_bytes)),
        Risk::Safe,
        Operation::Data(DataOp::PgDumpRestore(PgCopy { database: db.name.clone(), jobs })),
        Undo::RestorePrevious,
        Some("The target must be empty; the undo drops what the copy created there. The source is only read.".into()),
    )
}

fn freeze(database: &str) -> ferry_step_sdk::types::Action {
    action(
        &format!("freeze:pg:{database}"),
        format!("Freeze database {database} on the source: new sessions are read-only, open ones are ended"),
        Risk::Disruptive,
        Operation::Data(DataOp::PgFreeze(database.into())),
        Undo::RestorePrevious,
        Some("ALTER DATABASE … SET default_transaction_read_only = on; the undo restores the setting it replaced.".into()),
    )
}

fn verify(database: &str, mut tables: Vec<String>, views: &[String]) -> ferry_step_sdk::types::Action {
    let n = tables.len();
    let filled = match views.len() {
        0 => String::new(),
        v => format!(", {v} materialized view{}", plural(v)),
    };
    tables.extend(views.iter().cloned());
    action(
        &format!("pg:verify:{database}"),
        format!("Verify database {database}: row counts and checksums of {n} table{}{filled}, sequences, large objects", plural(n)),
        Risk::Safe,
        Operation::Data(DataOp::PgVerify(PgVerify { database: database.into(), tables })),
        Undo::None("a check changes nothing".into()),
        Some("An order-independent checksum per table on both sides; any difference fails the phase and names the table, so no cutover follows.".into()),
    )
}

/// `ferry_<name>`: the publication, subscription and slot name.
pub fn logical_name(database: &str) -> String {
    let clean: String = database.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    format!("ferry_{clean}")
}

/// The source's UNLOGGED tables: replication never carries their rows.
fn unlogged(source: &DatabaseInventory) -> Vec<&PgTableInfo> {
    source.tables.iter().filter(|t| t.unlogged).collect()
}

fn bytes(tables: &[&PgTableInfo]) -> u64 {
    tables.iter().map(|t| t.bytes).sum()
}

/// `schema.name` as the host reads it back ([`ferry_pg_names`]).
fn qualified(t: &PgTableInfo) -> String {
    ferry_pg_names::qualified_name(&t.schema, &t.name)
}
