//! Renders a plan for the people and programs that read it: Markdown for a
//! pull-request comment or job summary, JSON for scripts, plain text for a
//! terminal. Rendering never fails and never shows a secret value (steps
//! only ever see secret names).
//!
//! Everything a step wrote (summaries, messages) is untrusted text: it is
//! escaped so a third-party step cannot break out of a table cell or a
//! `<details>` block, or inject HTML into a comment.

pub mod comment;
mod facts;
mod json;
mod markdown;
mod results;
mod text;

use ferry_model::Plan;

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Json,
    Text,
}

/// Renders an inventory (app-spec) in `format`; JSON is the app-spec itself.
pub fn inventory(app: &ferry_model::AppSpec, format: Format) -> String {
    match format {
        Format::Markdown => markdown::inventory(app),
        Format::Json => json::inventory(app),
        Format::Text => text::inventory(app),
    }
}

pub use results::{apply_result, journal};

/// Untrusted text made safe for one line of Markdown (a PR comment, the job
/// summary): no HTML, nothing that leaves a table cell, no line break. For
/// a sentence the CLI adds to a rendered result.
pub fn markdown_text(text: &str) -> String {
    markdown::text(text)
}

/// Renders a plan in `format`.
pub fn plan(plan: &Plan, format: Format) -> String {
    plan_applied_by(plan, format, &format!("ferry apply --plan-hash {}", short_hash(&plan.hash())))
}

/// A plan whose text form ends with `apply`, the command that applies it
/// (`ferry migrate` plans are applied by their phase, not `ferry apply`).
pub fn plan_applied_by(plan: &Plan, format: Format, apply: &str) -> String {
    match format {
        Format::Markdown => markdown::plan(plan),
        Format::Json => json::plan(plan),
        Format::Text => text::plan(plan, apply),
    }
}

/// "3 safe · 1 disruptive · 0 destructive · 0 irreversible"
pub(crate) fn counts_line(plan: &Plan) -> String {
    let counts = plan.counts();
    ferry_model::Risk::ALL
        .iter()
        .map(|r| format!("{} {}", counts.get(*r), r.as_str()))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The first 12 hex digits of the plan hash, as people quote it.
pub(crate) fn short_hash(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// How an action is undone, in a few words.
pub(crate) fn undo_text(action: &ferry_model::Action) -> String {
    match &action.undo {
        ferry_model::Undo::Run(op) => format!("runs {}", operation_name(op)),
        ferry_model::Undo::RestorePrevious => restore_text(&action.operation).into(),
        ferry_model::Undo::None(reason) => format!("none: {reason}"),
    }
}

/// What putting back the state before `op` does, in the reviewer's words.
fn restore_text(op: &ferry_model::Operation) -> &'static str {
    use ferry_model::Operation as Op;
    match op {
        Op::EditConfig(_) => "puts the previous value back",
        Op::WriteFile(_) | Op::VmWriteFile(_) | Op::VmEnvFile(_) => "puts the file back as it was (or removes it)",
        Op::VmLock(_) => "releases the host lock",
        Op::VmMkdir(_) => "removes the directories it created, if still empty",
        Op::VmNetwork(_) => "removes the network it created",
        Op::VmSecret(_) => "removes the secret file it made (a file that was there stays)",
        Op::VmRun(_) => "removes the container it created (or stops the one it started)",
        Op::VmStop(_) => "starts the containers again",
        Op::FlyCreateMachines(_) => "destroys the machines it created",
        Op::FlyUpdateMachines(_) => "puts each machine's previous config and image back",
        Op::FlyStopMachines(_) => "starts the machines again",
        Op::FlyStartMachines(_) => "stops the machines again",
        Op::FlyCreateVolume(_) | Op::FlyCopyVolume(_) => "deletes the volumes it created",
        Op::FlyAllocateIp(_) => "releases the address it allocated",
        Op::FlyCreateApp(_) => "deletes the app it created",
        Op::FlySetSecrets(_) => "removes the secrets it added",
        Op::FlyAddCertificate(_) => "removes the certificate it added",
        Op::FlySetMetadata(_) => "puts each machine's previous value back",
        _ => "restores the previous state",
    }
}

pub(crate) fn operation_name(op: &ferry_model::Operation) -> &'static str {
    match op {
        ferry_model::Operation::EditConfig(_) => "edit-config",
        ferry_model::Operation::Approval(_) => "approval",
        ferry_model::Operation::WaitMs(_) => "wait",
        ferry_model::Operation::FlyReleaseCommand(_) => "release-command",
        ferry_model::Operation::FlyCreateMachines(_) => "create-machines",
        ferry_model::Operation::FlyUpdateMachines(_) => "update-machines",
        ferry_model::Operation::FlyDestroyMachines(_) => "destroy-machines",
        ferry_model::Operation::FlyStopMachines(_) => "stop-machines",
        ferry_model::Operation::FlyStartMachines(_) => "start-machines",
        ferry_model::Operation::FlyCordon(_) => "cordon",
        ferry_model::Operation::FlyUncordon(_) => "uncordon",
        ferry_model::Operation::FlySetMetadata(_) => "set-metadata",
        ferry_model::Operation::FlyCreateVolume(_) => "create-volume",
        ferry_model::Operation::FlyAllocateIp(_) => "allocate-ip",
        ferry_model::Operation::FlyCreateApp(_) => "create-app",
        ferry_model::Operation::FlyDestroyApp(_) => "destroy-app",
        ferry_model::Operation::FlySetSecrets(_) => "set-secrets",
        ferry_model::Operation::FlyAddCertificate(_) => "add-certificate",
        ferry_model::Operation::FlyCopyVolume(_) => "copy-volume",
        ferry_model::Operation::DnsChange(_) => "dns-change",
        ferry_model::Operation::TlsCheck(_) => "tls-check",
        ferry_model::Operation::DnsVerify(_) => "dns-verify",
        ferry_model::Operation::PgFreeze(_) => "pg-freeze",
        ferry_model::Operation::PgDumpRestore(_) => "pg-dump-restore",
        ferry_model::Operation::PgCopySchema(_) => "pg-copy-schema",
        ferry_model::Operation::PgReplicaIdentityFull(_) => "pg-replica-identity",
        ferry_model::Operation::PgSubscribe(_) => "pg-subscribe",
        ferry_model::Operation::PgCatchUp(_) => "pg-catch-up",
        ferry_model::Operation::PgFinishLogical(_) => "pg-finish-logical",
        ferry_model::Operation::PgVerify(_) => "pg-verify",
        ferry_model::Operation::VolumeSync(_) => "volume-sync",
        ferry_model::Operation::SqliteCopy(_) => "sqlite-copy",
        ferry_model::Operation::VolumeVerify(_) => "volume-verify",
        ferry_model::Operation::WriteFile(_) => "write-file",
        ferry_model::Operation::VmLock(_) => "vm-lock",
        ferry_model::Operation::VmUnlock(_) => "vm-unlock",
        ferry_model::Operation::VmInstallPackages(_) => "vm-install-packages",
        ferry_model::Operation::VmMkdir(_) => "vm-mkdir",
        ferry_model::Operation::VmNetwork(_) => "vm-network",
        ferry_model::Operation::VmWriteFile(_) => "vm-write-file",
        ferry_model::Operation::VmEnvFile(_) => "vm-env-file",
        ferry_model::Operation::VmSecret(_) => "vm-secret",
        ferry_model::Operation::VmImage(_) => "vm-image",
        ferry_model::Operation::VmReleaseCommand(_) => "vm-release-command",
        ferry_model::Operation::VmRun(_) => "vm-run",
        ferry_model::Operation::VmStop(_) => "vm-stop",
        ferry_model::Operation::VmRemove(_) => "vm-remove",
    }
}
