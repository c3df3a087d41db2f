//! The WIT name of each operation, as plans, errors and JSON spell it.

use crate::Operation;

/// `fly-set-secrets`, `vm-write-file`, …: the operation's case in
/// `wit/types.wit` (and its key in the plan's JSON).
pub fn name(op: &Operation) -> &'static str {
    match op {
        Operation::EditConfig(_) => "edit-config",
        Operation::Approval(_) => "approval",
        Operation::WaitMs(_) => "wait-ms",
        Operation::FlyReleaseCommand(_) => "fly-release-command",
        Operation::FlyCreateMachines(_) => "fly-create-machines",
        Operation::FlyUpdateMachines(_) => "fly-update-machines",
        Operation::FlyDestroyMachines(_) => "fly-destroy-machines",
        Operation::FlyStopMachines(_) => "fly-stop-machines",
        Operation::FlyStartMachines(_) => "fly-start-machines",
        Operation::FlyCordon(_) => "fly-cordon",
        Operation::FlyUncordon(_) => "fly-uncordon",
        Operation::FlySetMetadata(_) => "fly-set-metadata",
        Operation::FlyCreateVolume(_) => "fly-create-volume",
        Operation::FlyAllocateIp(_) => "fly-allocate-ip",
        Operation::FlyCreateApp(_) => "fly-create-app",
        Operation::FlyDestroyApp(_) => "fly-destroy-app",
        Operation::FlySetSecrets(_) => "fly-set-secrets",
        Operation::FlyAddCertificate(_) => "fly-add-certificate",
        Operation::FlyCopyVolume(_) => "fly-copy-volume",
        Operation::FlyCreateRelease(_) => "fly-create-release",
        Operation::FlyCompleteRelease(_) => "fly-complete-release",
        Operation::FlyWaitCertificate(_) => "fly-wait-certificate",
        Operation::DnsChange(_) => "dns-change",
        Operation::TlsCheck(_) => "tls-check",
        Operation::DnsVerify(_) => "dns-verify",
        Operation::PgFreeze(_) => "pg-freeze",
        Operation::PgDumpRestore(_) => "pg-dump-restore",
        Operation::PgCopySchema(_) => "pg-copy-schema",
        Operation::PgReplicaIdentityFull(_) => "pg-replica-identity-full",
        Operation::PgSubscribe(_) => "pg-subscribe",
        Operation::PgCatchUp(_) => "pg-catch-up",
        Operation::PgFinishLogical(_) => "pg-finish-logical",
        Operation::PgVerify(_) => "pg-verify",
        Operation::VolumeSync(_) => "volume-sync",
        Operation::SqliteCopy(_) => "sqlite-copy",
        Operation::VolumeVerify(_) => "volume-verify",
        Operation::WriteFile(_) => "write-file",
        Operation::VmLock(_) => "vm-lock",
        Operation::VmUnlock(_) => "vm-unlock",
        Operation::VmInstallPackages(_) => "vm-install-packages",
        Operation::VmMkdir(_) => "vm-mkdir",
        Operation::VmNetwork(_) => "vm-network",
        Operation::VmWriteFile(_) => "vm-write-file",
        Operation::VmEnvFile(_) => "vm-env-file",
        Operation::VmSecret(_) => "vm-secret",
        Operation::VmImage(_) => "vm-image",
        Operation::VmReleaseCommand(_) => "vm-release-command",
        Operation::VmRun(_) => "vm-run",
        Operation::VmStop(_) => "vm-stop",
        Operation::VmRemove(_) => "vm-remove",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_json_keys() {
        let op = Operation::FlyDestroyApp("shop".into());
        let json = serde_json::to_value(&op).unwrap();
        assert!(json.get(name(&op)).is_some(), "{json}");
        let op = Operation::WaitMs(5);
        assert!(serde_json::to_value(&op).unwrap().get(name(&op)).is_some());
    }
}
