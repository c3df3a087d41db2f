//! One volume: a bulk rsync pass while the source is live, then after the
//! freeze a final pass with deletes, each SQLite database copied with the
//! online backup API, and a checksum pass that must find nothing.

use ferry_step_sdk::params::finding;
use ferry_step_sdk::types::{DataOp, Operation, Risk, Severity, SqliteCopy, Undo, VolumePass, VolumeSync, VolumeVerify};

use crate::{Parts, Volume, action, plural, size};

pub(crate) fn plan(v: &Volume, frozen_by_app: bool, parts: &mut Parts) {
    let sqlite = v.source.sqlite.clone();
    if !frozen_by_app {
        parts.findings.push(finding(
            "volume-not-frozen",
            Severity::Warning,
            format!("volume {}: nothing in this plan stops writes to it; set freeze-app (or stop its writers) so the final pass is the last", v.name),
        ));
    }
    if v.target.files > 0 {
        parts.findings.push(finding(
            "volume-target-not-empty",
            Severity::Warning,
            format!(
                "volume {}: the target holds {} file{} already; the final pass deletes those the source does not have",
                v.name,
                v.target.files,
                plural(v.target.files as usize)
            ),
        ));
    }
    let sync = |pass| VolumeSync { volume: v.name.clone(), pass, exclude: sqlite.clone() };
    parts.live.push(action(
        &format!("volume:bulk:{}", v.name),
        format!("Copy volume {} ({} in {} files) while the source is live", v.name, size(v.source.bytes), v.source.files),
        Risk::Safe,
        Operation::Data(DataOp::VolumeSync(sync(VolumePass::Bulk))),
        Undo::RestorePrevious,
        Some("rsync -a without deletes; live SQLite files are left to the online backup after the freeze. Undone by emptying the target only if it was empty before.".into()),
    ));
    parts.frozen.push(action(
        &format!("volume:final:{}", v.name),
        format!("Final pass of volume {}: only what changed since the bulk pass, with deletes", v.name),
        Risk::Destructive,
        Operation::Data(DataOp::VolumeSync(sync(VolumePass::Final))),
        Undo::None("it deletes on the target only what the source no longer has; the source is untouched".into()),
        None,
    ));
    for path in &sqlite {
        parts.frozen.push(action(
            &format!("sqlite:{}:{path}", v.name),
            format!("Copy SQLite database {path} of volume {} with the online backup API", v.name),
            Risk::Safe,
            Operation::Data(DataOp::SqliteCopy(SqliteCopy { volume: v.name.clone(), path: path.clone() })),
            Undo::None("the target file is replaced by a re-run; the source is only read".into()),
            Some("A live SQLite file copied byte by byte can be torn; `.backup` gives a consistent snapshot.".into()),
        ));
    }
    parts.frozen.push(action(
        &format!("volume:verify:{}", v.name),
        format!("Verify volume {}: a checksum pass that must find no difference{}", v.name, sqlite_note(&sqlite)),
        Risk::Safe,
        Operation::Data(DataOp::VolumeVerify(VolumeVerify { volume: v.name.clone(), exclude: sqlite.clone(), sqlite })),
        Undo::None("a check changes nothing".into()),
        None,
    ));
}

fn sqlite_note(sqlite: &[String]) -> String {
    match sqlite.len() {
        0 => String::new(),
        n => format!(", and {n} SQLite database{} compared by content", plural(n)),
    }
}
