//! copy-data's parameters.

use ferry_step_sdk::params::{Params, Spec};
use ferry_step_sdk::types::StepError;

/// How a database is copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Logical replication when the source allows it and is big enough to
    /// be worth it, else dump-restore.
    Auto,
    DumpRestore,
    Logical,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub mode: Mode,
    /// In `auto`, databases at least this big are copied by logical replication.
    pub logical_above_bytes: u64,
    /// The Fly app whose machines are stopped to freeze writes (its
    /// volumes and database clients); `None`: only the databases are frozen.
    pub freeze_app: Option<String>,
    /// Only these databases / volumes (default: every one ferry.toml configures).
    pub databases: Option<Vec<String>>,
    pub volumes: Option<Vec<String>>,
    pub max_lag_bytes: u64,
    pub catch_up_timeout_ms: u64,
    pub finish_timeout_ms: u64,
    /// Stop for an approval right before the freeze.
    pub approve: bool,
}

pub const PARAMS: &[Spec] = &[
    ("mode", "`auto`, `dump-restore` or `logical`: how databases are copied.", Some("auto")),
    ("logical-above", "In auto mode, databases at least this big (MiB) use logical replication.", Some("1024")),
    ("freeze-app", "The Fly app whose machines are stopped while the data is copied (restarted by abort).", None),
    ("databases", "Comma-separated [data.postgres] names to copy (default: all).", None),
    ("volumes", "Comma-separated [data.volumes] names to copy (default: all).", None),
    ("max-lag", "Replication lag (KiB) that counts as caught up before the freeze.", Some("1024")),
    ("catch-up-timeout", "How long the initial logical sync may take, in seconds.", Some("3600")),
    ("finish-timeout", "How long the final catch-up after the freeze may take, in seconds.", Some("120")),
    ("approve", "Stop for an approval right before the source is frozen (true/false).", Some("false")),
];

impl Options {
    pub fn from_params(params: &[(String, String)]) -> Result<Self, StepError> {
        let p = Params(params);
        p.only("copy-data", PARAMS)?;
        let mode = match p.one_of("mode", &["auto", "dump-restore", "logical"], "auto")? {
            "dump-restore" => Mode::DumpRestore,
            "logical" => Mode::Logical,
            _ => Mode::Auto,
        };
        Ok(Options {
            mode,
            logical_above_bytes: p.number("logical-above", 1024)? << 20,
            freeze_app: p.get("freeze-app").map(str::to_string),
            databases: p.list("databases"),
            volumes: p.list("volumes"),
            max_lag_bytes: p.number("max-lag", 1024)? << 10,
            catch_up_timeout_ms: p.number("catch-up-timeout", 3600)? * 1000,
            finish_timeout_ms: p.number("finish-timeout", 120)? * 1000,
            approve: p.flag("approve", false)?,
        })
    }
}
