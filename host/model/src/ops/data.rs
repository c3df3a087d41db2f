//! Databases and volumes copied between ferry.toml's `[data]` sources and targets (`wit/ops-data.wit`).
//!
//! What the host says about each operation: its name, its least risk, what
//! it does and what its undo puts back. The records and the variant are the
//! WIT file's own, generated (`super::contract`): a new operation of this
//! provider is written in its WIT file, then here and in its executor, each
//! named by the compiler as a match it is missing from.

pub use super::contract::ferry::step::data_ops::*;

use serde::{Deserialize, Serialize};

use crate::Risk::{Destructive, Disruptive, Safe};
use crate::policy::words::*;
use crate::policy::{BOOKKEEPING, COPY_REMOVED, Floor, NOTHING_TO_PUT_BACK, OperationPolicy, Restore, at, restore};

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
