//! Database operations of copy-data: the freeze, the two copy modes, and
//! the verification that gates a cutover. Connection strings come from the
//! environment at execution time (never from the plan or the journal), and
//! every error from the provider is already redacted.

use std::time::Duration;

use ferry_model::Risk::{Destructive, Disruptive, Safe};
use ferry_model::VolumePass;
use ferry_model::{DataOp, PgCopy, PgLogical};
use ferry_postgres as pg;
use ferry_volume as vol;
use serde::{Deserialize, Serialize};

use crate::apply::executor::{ExecError, Ops, Outputs, mismatch};
use crate::apply::progress::Meter;
use crate::data::{DataSources, DatabaseUrls};
use crate::policy::words::*;
use crate::policy::{BOOKKEEPING, COPY_REMOVED, Floor, NOTHING_TO_PUT_BACK, OperationPolicy, Restore, at, restore};

/// Objects a failed verification names one by one (a copy missing its whole
/// schema would otherwise make an error of thousands of lines).
const MAX_NAMED: usize = 20;

/// The output the results show beside a done action: what it measured.
const NOTE: &str = crate::journal::NOTE_OUTPUT;

/// The database side of the executor.
#[derive(Debug, Default)]
pub struct DataOps {
    sources: DataSources,
}

impl DataOps {
    pub fn new(sources: DataSources) -> Self {
        DataOps { sources }
    }

    fn endpoints(&self, volume: &str) -> Result<(vol::Endpoint, vol::Endpoint), ExecError> {
        self.sources.endpoints(volume).map_err(ExecError::Config)
    }

    fn urls(&self, database: &str) -> Result<DatabaseUrls, ExecError> {
        self.sources.urls(database).map_err(ExecError::Config)
    }

    /// A copy writes only into an empty target; what the undo must drop
    /// is what the source's schemas put there.
    fn empty_target(&self, database: &str) -> Result<DataUndo, ExecError> {
        let urls = self.urls(database)?;
        if !pg::is_empty(&urls.target)? {
            return Err(ExecError::Failed(format!(
                "database {database}: the target ({}) is not empty; copy-data copies into an empty database only",
                urls.target.describe()
            )));
        }
        let schemas = pg::inventory(&urls.source)?.schemas;
        Ok(DataUndo::PgEmptyTarget { schemas })
    }

    /// A copy runs only after `prepare` found the target empty, so anything
    /// in it now was left by this copy's own interrupted run: drop it.
    fn clear_partial(&self, urls: &DatabaseUrls) -> Result<(), ExecError> {
        if pg::is_empty(&urls.target)? {
            return Ok(());
        }
        tracing::warn!("the target {} holds a partial copy from an interrupted run: clearing it first", urls.target.describe());
        let schemas = pg::inventory(&urls.source)?.schemas;
        pg::clear(&urls.target, &schemas).map_err(ExecError::from)
    }

    fn replica_identity(&self, database: &str, table: &str) -> Result<String, ExecError> {
        let inventory = pg::inventory(&self.urls(database)?.source)?;
        let found = inventory.tables.iter().find(|t| t.qualified() == table);
        let found = found.ok_or_else(|| ExecError::Failed(format!("database {database}: no table {table} on the source")))?;
        Ok(format!("{:?}", found.replica_identity).to_lowercase())
    }

    fn catch_up(&self, l: &PgLogical, keepalive: &mut dyn FnMut()) -> Result<Vec<(String, String)>, ExecError> {
        let urls = self.urls(&l.database)?;
        let mut meter = Meter::new(&format!("database {}: replication", l.database));
        let mut report = |s: &pg::ReplicationStatus| {
            keepalive();
            meter.status(|| format!("{}/{} tables synced, lag {} bytes", s.tables_ready, s.tables_total, s.lag_bytes));
        };
        let status = pg::wait_caught_up(&urls.source, &urls.target, &l.name, l.max_lag_bytes, Duration::from_millis(l.timeout_ms), &mut report)?;
        Ok(vec![("lag-bytes".into(), status.lag_bytes.to_string())])
    }
}

impl Ops for DataOps {
    type Op = DataOp;
    type Undo = DataUndo;

    fn prepare(&self, op: &DataOp) -> Result<Option<DataUndo>, ExecError> {
        match op {
            DataOp::PgFreeze(db) => {
                let frozen = pg::is_frozen(&self.urls(db)?.source)?;
                Ok(Some(DataUndo::PgReadOnly { previous: frozen.then(|| "on".to_string()) }))
            }
            DataOp::PgDumpRestore(copy) => self.empty_target(&copy.database).map(Some),
            DataOp::PgCopySchema(db) => self.empty_target(db).map(Some),
            DataOp::PgReplicaIdentityFull(t) => Ok(Some(DataUndo::PgReplicaIdentity { previous: self.replica_identity(&t.database, &t.table)? })),
            DataOp::VolumeSync(v) => {
                let (_, dst) = self.endpoints(&v.volume)?;
                let was_empty = match vol::scan(&dst) {
                    Ok(facts) => facts.files == 0,
                    Err(vol::VolumeError::MissingDirectory { .. }) => true,
                    Err(e) => return Err(ExecError::from(e)),
                };
                Ok(Some(DataUndo::VolumeTarget { was_empty }))
            }
            // Replication's setup is undone by name, its waits and checks
            // and the SQLite copy need nothing captured.
            DataOp::PgSubscribe(_)
            | DataOp::PgCatchUp(_)
            | DataOp::PgFinishLogical(_)
            | DataOp::PgVerify(_)
            | DataOp::SqliteCopy(_)
            | DataOp::VolumeVerify(_) => Ok(None),
        }
    }

    fn execute(&self, op: &DataOp, keepalive: &mut dyn FnMut()) -> Result<Outputs, ExecError> {
        match op {
            DataOp::PgFreeze(db) => {
                pg::freeze(&self.urls(db)?.source)?;
                Ok(Vec::new())
            }
            DataOp::PgDumpRestore(copy) => {
                let urls = self.urls(&copy.database)?;
                self.clear_partial(&urls)?;
                let mut meter = Meter::new(&format!("database {}: streamed", copy.database));
                let mut progress = |bytes| {
                    keepalive();
                    meter.set(bytes, String::new);
                };
                let stats = pg::dump_restore(&urls.source, &urls.target, copy.jobs, &mut progress)?;
                let note = format!("{} streamed in {:.1} s", bytesize::ByteSize(stats.bytes).display().iec(), stats.elapsed.as_secs_f64());
                Ok(vec![("bytes".into(), stats.bytes.to_string()), ("seconds".into(), format!("{:.2}", stats.elapsed.as_secs_f64())), (NOTE.into(), note)])
            }
            DataOp::PgCopySchema(db) => {
                let urls = self.urls(db)?;
                self.clear_partial(&urls)?;
                pg::copy_schema(&urls.source, &urls.target)?;
                Ok(Vec::new())
            }
            DataOp::PgReplicaIdentityFull(t) => {
                pg::set_replica_identity_full(&self.urls(&t.database)?.source, &t.table)?;
                Ok(Vec::new())
            }
            DataOp::PgSubscribe(l) => {
                let urls = self.urls(&l.database)?;
                pg::create_publication(&urls.source, &l.name)?;
                pg::create_subscription(&urls.target, &urls.source_for_target, &l.name)?;
                Ok(Vec::new())
            }
            DataOp::PgCatchUp(l) => self.catch_up(l, keepalive),
            DataOp::PgFinishLogical(l) => {
                let urls = self.urls(&l.database)?;
                let stats = pg::finish_logical(&urls.source, &urls.target, &l.name, &l.unlogged, Duration::from_millis(l.timeout_ms))?;
                // Replication is gone: the key-less tables need FULL no more.
                for table in &l.identity_full {
                    pg::reset_replica_identity(&urls.source, table)?;
                }
                let mut note = vec![format!("caught up in {} ms", stats.catch_up.as_millis())];
                if stats.unlogged > 0 {
                    note.push(format!("{} UNLOGGED table(s) dumped in {} ms", stats.unlogged, stats.unlogged_copy.as_millis()));
                }
                if stats.materialized_views > 0 {
                    note.push(format!("{} materialized view(s) refreshed in {} ms", stats.materialized_views, stats.refresh.as_millis()));
                }
                let note = note.join(", ");
                Ok(vec![
                    (NOTE.into(), note),
                    ("sequences".into(), stats.sequences.to_string()),
                    ("large-objects".into(), stats.large_objects.to_string()),
                    ("catch-up-ms".into(), stats.catch_up.as_millis().to_string()),
                    ("materialized-views".into(), stats.materialized_views.to_string()),
                    ("refresh-ms".into(), stats.refresh.as_millis().to_string()),
                    ("unlogged-tables".into(), stats.unlogged.to_string()),
                    ("unlogged-ms".into(), stats.unlogged_copy.as_millis().to_string()),
                ])
            }
            DataOp::PgVerify(v) => {
                let urls = self.urls(&v.database)?;
                let report = pg::verify(&urls.source, &urls.target, &v.tables)?;
                let mut bad: Vec<String> = report
                    .mismatches()
                    .iter()
                    .map(|t| format!("{} (source {} rows, target {} rows{})", t.table, t.source_rows, t.target_rows, same_count(t)))
                    .collect();
                bad.extend(report.objects.iter().take(MAX_NAMED).map(ToString::to_string));
                if report.objects.len() > MAX_NAMED {
                    bad.push(format!("{} more object(s)", report.objects.len() - MAX_NAMED));
                }
                if !bad.is_empty() {
                    return Err(ExecError::Failed(format!(
                        "database {}: the copy differs from the source in {}: no cutover until they match",
                        v.database,
                        bad.join(", ")
                    )));
                }
                let rows: u64 = report.relations().map(|t| t.source_rows).sum();
                let note = format!(
                    "{} tables and their {rows} rows, sequences, large objects and {} definitions equal; the source holds {} now",
                    report.relations().count(),
                    report.objects_compared,
                    bytesize::ByteSize(report.source_bytes).display().iec()
                );
                Ok(vec![
                    ("tables".into(), report.relations().count().to_string()),
                    ("rows".into(), rows.to_string()),
                    ("objects".into(), report.objects_compared.to_string()),
                    ("source-bytes".into(), report.source_bytes.to_string()),
                    (NOTE.into(), note),
                ])
            }
            DataOp::VolumeSync(v) => {
                let (src, dst) = self.endpoints(&v.volume)?;
                let pass = match v.pass {
                    VolumePass::Bulk => vol::Pass::Bulk,
                    VolumePass::Final => vol::Pass::Final,
                };
                let mut meter = Meter::new(&format!("volume {}: copied", v.volume));
                let mut report = |p: &vol::Progress| {
                    keepalive();
                    meter.set(p.bytes, || {
                        let percent = p.percent.map(|n| format!(", {n}%")).unwrap_or_default();
                        let eta = p.eta.map(|d| format!(", ETA {}", humantime::format_duration(Duration::from_secs(d.as_secs())))).unwrap_or_default();
                        format!("{percent}{eta}")
                    });
                };
                let stats = vol::sync(&src, &dst, pass, &v.exclude, &mut report)?;
                Ok(vec![("files".into(), stats.files_transferred.to_string()), ("bytes".into(), stats.bytes_transferred.to_string())])
            }
            DataOp::SqliteCopy(s) => {
                let (src, dst) = self.endpoints(&s.volume)?;
                let bytes = vol::sqlite_backup(&src, &dst, &s.path)?;
                Ok(vec![("bytes".into(), bytes.to_string())])
            }
            DataOp::VolumeVerify(v) => {
                let (src, dst) = self.endpoints(&v.volume)?;
                let mut problems = vol::differences(&src, &dst, &v.exclude)?;
                for db in &v.sqlite {
                    if !vol::sqlite_equal(&src, &dst, db)? {
                        problems.push(format!("SQLite database {db} differs"));
                    }
                }
                if !problems.is_empty() {
                    return Err(ExecError::Failed(format!("volume {}: the copy differs from the source: {}", v.volume, problems.join("; "))));
                }
                Ok(Vec::new())
            }
        }
    }

    fn observe(&self, op: &DataOp, _started_at_ms: u64) -> Result<bool, ExecError> {
        match op {
            DataOp::PgFreeze(db) => pg::is_frozen(&self.urls(db)?.source).map_err(ExecError::from),
            DataOp::PgReplicaIdentityFull(t) => Ok(self.replica_identity(&t.database, &t.table)? == "full"),
            // Copies are re-run (after clearing what a stopped run left);
            // waits and checks say something about now.
            DataOp::PgDumpRestore(_)
            | DataOp::PgCopySchema(_)
            | DataOp::PgSubscribe(_)
            | DataOp::PgCatchUp(_)
            | DataOp::PgFinishLogical(_)
            | DataOp::PgVerify(_)
            | DataOp::VolumeSync(_)
            | DataOp::SqliteCopy(_)
            | DataOp::VolumeVerify(_) => Ok(false),
        }
    }

    fn restore(&self, op: &DataOp, undo: Option<&DataUndo>) -> Result<(), ExecError> {
        match (op, undo) {
            (DataOp::PgFreeze(db), Some(DataUndo::PgReadOnly { previous })) => {
                pg::unfreeze(&self.urls(db)?.source, previous.as_deref()).map_err(ExecError::from)
            }
            (DataOp::PgDumpRestore(PgCopy { database, .. }), Some(DataUndo::PgEmptyTarget { schemas })) => {
                pg::clear(&self.urls(database)?.target, schemas).map_err(ExecError::from)
            }
            (DataOp::PgCopySchema(database), Some(DataUndo::PgEmptyTarget { schemas })) => {
                pg::clear(&self.urls(database)?.target, schemas).map_err(ExecError::from)
            }
            (DataOp::PgReplicaIdentityFull(t), Some(DataUndo::PgReplicaIdentity { previous })) if previous == "default" => {
                pg::reset_replica_identity(&self.urls(&t.database)?.source, &t.table).map_err(ExecError::from)
            }
            (DataOp::PgSubscribe(l), _) => {
                let urls = self.urls(&l.database)?;
                pg::drop_logical(&urls.source, &urls.target, &l.name).map_err(ExecError::from)
            }
            (DataOp::VolumeSync(v), Some(DataUndo::VolumeTarget { was_empty: true })) => empty_dir(&self.endpoints(&v.volume)?.1),
            // A table whose identity was not the default keeps FULL; a
            // volume that held files before is left as the sync made it.
            (DataOp::PgReplicaIdentityFull(_), Some(DataUndo::PgReplicaIdentity { .. })) | (DataOp::VolumeSync(_), Some(DataUndo::VolumeTarget { .. })) => {
                Ok(())
            }
            // The waits, checks and the SQLite copy: nothing to put back.
            (DataOp::PgCatchUp(_) | DataOp::PgFinishLogical(_) | DataOp::PgVerify(_) | DataOp::SqliteCopy(_) | DataOp::VolumeVerify(_), _) => Ok(()),
            (DataOp::PgFreeze(_) | DataOp::PgDumpRestore(_) | DataOp::PgCopySchema(_) | DataOp::PgReplicaIdentityFull(_) | DataOp::VolumeSync(_), undo) => {
                Err(mismatch(op, &undo))
            }
        }
    }
}

fn same_count(t: &pg::TableCheck) -> &'static str {
    if t.source_rows == t.target_rows { ", same count but different contents" } else { "" }
}

/// Undo of a sync into an empty directory: empty it again.
fn empty_dir(ep: &vol::Endpoint) -> Result<(), ExecError> {
    match ep {
        vol::Endpoint::Local(path) if path.is_dir() => {
            for entry in std::fs::read_dir(path).map_err(|e| ExecError::Failed(format!("{}: {e}", path.display())))? {
                let p = entry.map_err(|e| ExecError::Failed(format!("{}: {e}", path.display())))?.path();
                let removed = if p.is_dir() && !p.is_symlink() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
                removed.map_err(|e| ExecError::Failed(format!("{}: {e}", p.display())))?;
            }
            Ok(())
        }
        vol::Endpoint::Local(_) => Ok(()),
        vol::Endpoint::Remote { session, path } => {
            let dir = ferry_ssh::shell_quote(path);
            session.run(&format!("[ ! -d {dir} ] || find {dir} -mindepth 1 -delete")).map(drop).map_err(ExecError::from)
        }
    }
}

/// What a data action replaced on a source or target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum DataUndo {
    /// The database's `default_transaction_read_only` setting before a
    /// freeze (`None`: not set).
    PgReadOnly { previous: Option<String> },
    /// The target database was empty before a copy: the undo drops what
    /// the copy created in these schemas.
    PgEmptyTarget { schemas: Vec<String> },
    /// The replica identity a table had (`default`, `index`…).
    PgReplicaIdentity { previous: String },
    /// Whether the volume's target directory held files before a sync: only
    /// a sync into an empty one is undone (by emptying it again).
    VolumeTarget { was_empty: bool },
}

impl OperationPolicy for DataOp {
    fn name(&self) -> &'static str {
        match self {
            DataOp::PgFreeze(_) => "pg-freeze",
            DataOp::PgDumpRestore(_) => "pg-dump-restore",
            DataOp::PgCopySchema(_) => "pg-copy-schema",
            DataOp::PgReplicaIdentityFull(_) => "pg-replica-identity-full",
            DataOp::PgSubscribe(_) => "pg-subscribe",
            DataOp::PgCatchUp(_) => "pg-catch-up",
            DataOp::PgFinishLogical(_) => "pg-finish-logical",
            DataOp::PgVerify(_) => "pg-verify",
            DataOp::VolumeSync(_) => "volume-sync",
            DataOp::SqliteCopy(_) => "sqlite-copy",
            DataOp::VolumeVerify(_) => "volume-verify",
        }
    }

    fn floor(&self) -> Floor {
        match self {
            DataOp::PgFreeze(_) => at(Disruptive, "the source database stops taking writes"),
            DataOp::PgDumpRestore(_) => at(Safe, "copies into an empty target (the host checks); the source is only read"),
            DataOp::PgCopySchema(_) => at(Safe, "creates tables on the target; the source is only read"),
            DataOp::PgReplicaIdentityFull(_) => at(Disruptive, "changes a table of the source database (more WAL for each update)"),
            DataOp::PgSubscribe(_) => at(Safe, "a publication and a replication slot on the source, dropped by the undo"),
            DataOp::PgCatchUp(_) => at(Safe, "waits for replication"),
            DataOp::PgFinishLogical(_) => at(Safe, "finishes the copy on the target and drops the replication"),
            DataOp::PgVerify(_) => at(Safe, "reads both databases"),
            DataOp::VolumeSync(sync) => match sync.pass {
                VolumePass::Bulk => at(Safe, "copies files without deleting any"),
                VolumePass::Final => at(Destructive, "deletes files on the target that the source does not have"),
            },
            DataOp::SqliteCopy(_) => at(Safe, "replaces the target's copy of the file; the source is only read"),
            DataOp::VolumeVerify(_) => at(Safe, "reads both volumes"),
        }
    }

    fn restore(&self) -> Restore {
        match self {
            DataOp::PgFreeze(_) => restore("restores the database's previous read-only setting", at(Disruptive, "the source database takes writes again")),
            DataOp::PgDumpRestore(_) | DataOp::PgCopySchema(_) => restore("drops what the copy created on the target", COPY_REMOVED),
            DataOp::PgReplicaIdentityFull(_) => restore("resets the table's replica identity to default (if it was default)", BOOKKEEPING),
            DataOp::PgSubscribe(_) => restore("drops the subscription, its slot and the publication", COPY_REMOVED),
            DataOp::VolumeSync(_) => restore("empties the target, only if it was empty before", COPY_REMOVED),
            DataOp::PgCatchUp(_) | DataOp::PgFinishLogical(_) | DataOp::PgVerify(_) | DataOp::SqliteCopy(_) | DataOp::VolumeVerify(_) => NOTHING_TO_PUT_BACK,
        }
    }

    fn describe(&self) -> String {
        match self {
            DataOp::PgFreeze(db) => format!("make source database {db} read-only (new sessions read-only, open ones ended)"),
            DataOp::PgDumpRestore(c) => format!("copy database {} from source to the empty target with pg_dump | pg_restore ({} job(s))", c.database, c.jobs),
            DataOp::PgCopySchema(db) => format!("copy the schema of database {db} from source to target"),
            DataOp::PgReplicaIdentityFull(t) => format!("ALTER TABLE {} REPLICA IDENTITY FULL in source database {}", t.table, t.database),
            DataOp::PgSubscribe(l) => {
                format!("publish source database {} as {} and subscribe the target to it (a replication slot on the source)", l.database, l.name)
            }
            DataOp::PgCatchUp(l) => {
                format!("wait until subscription {} of database {} lags under {} bytes (up to {})", l.name, l.database, l.max_lag_bytes, duration(l.timeout_ms))
            }
            DataOp::PgFinishLogical(l) => format!(
                "finish replication {} of database {}: last writes, {}sequences, large objects and materialized views to the target, then drop the subscription and publication{} (up to {})",
                l.name,
                l.database,
                match l.unlogged.len() {
                    0 => String::new(),
                    n => format!("the rows of {n} UNLOGGED table(s) by pg_dump, "),
                },
                match l.identity_full.len() {
                    0 => String::new(),
                    n => format!(" and reset REPLICA IDENTITY on {n} table(s) of the source"),
                },
                duration(l.timeout_ms)
            ),
            DataOp::PgVerify(v) => format!("compare row counts and checksums of {} table(s) of database {} on source and target", v.tables.len(), v.database),
            DataOp::VolumeSync(s) => {
                let deletes = match s.pass {
                    VolumePass::Bulk => "without deleting",
                    VolumePass::Final => "DELETING target files the source does not have",
                };
                format!("rsync volume {} from source to target, {deletes}{}", s.volume, excluding(&s.exclude))
            }
            DataOp::SqliteCopy(c) => format!("copy SQLite file {} of volume {} with the online backup API, replacing the target's", c.path, c.volume),
            DataOp::VolumeVerify(v) => format!(
                "compare checksums of volume {} on source and target{}{}",
                v.volume,
                excluding(&v.exclude),
                if v.sqlite.is_empty() { String::new() } else { format!("; SQLite files {} by content", list(&v.sqlite)) }
            ),
        }
    }
}
