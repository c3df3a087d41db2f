//! The least risk each operation carries, whatever its step says.
//!
//! Risk says what an action can cost if it goes wrong: `safe` (nothing a
//! reviewer must weigh), `disruptive` (service or traffic is interrupted or
//! moved, but the state comes back on undo), `destructive` (data or values
//! are lost or replaced with no way back), `irreversible` (nothing undoes it).

use crate::{Operation, Risk, Undo, VmEnvFile, VmFile, VolumePass};

/// An operation's minimum risk, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Floor {
    pub risk: Risk,
    pub reason: &'static str,
}

const fn at(risk: Risk, reason: &'static str) -> Floor {
    Floor { risk, reason }
}

/// The minimum risk of `op`. Some depend on the operation's fields (a DNS
/// change of the TTL alone, a VM file that runs a command after it is
/// written), never on what the step claims.
pub fn floor(op: &Operation) -> Floor {
    use Risk::{Destructive, Disruptive, Irreversible, Safe};
    match op {
        Operation::EditConfig(_) => at(Safe, "changes one key of a checkout file; the journal keeps the old value for the undo"),
        Operation::Approval(_) => at(Safe, "changes nothing: the apply waits for a person"),
        Operation::WaitMs(_) => at(Safe, "changes nothing: the apply waits"),
        Operation::FlyReleaseCommand(_) => {
            at(Disruptive, "runs the app's own release command (usually migrations) with its secrets; ferry cannot undo what it does")
        }
        Operation::FlyCreateMachines(_) => at(Safe, "only adds machines; the undo destroys them"),
        Operation::FlyUpdateMachines(_) => at(Disruptive, "restarts running machines with a new config"),
        Operation::FlyDestroyMachines(_) => at(Destructive, "destroys machines and their root filesystems"),
        Operation::FlyStopMachines(_) => at(Disruptive, "stopped machines serve nothing"),
        Operation::FlyStartMachines(_) => at(Disruptive, "started machines serve traffic (and write data) again"),
        Operation::FlyCordon(_) => at(Disruptive, "takes machines out of the proxy's rotation"),
        Operation::FlyUncordon(_) => at(Disruptive, "sends traffic to machines"),
        Operation::FlySetMetadata(_) => at(Safe, "a metadata key; the undo puts each machine's previous value back"),
        Operation::FlyCreateVolume(_) => at(Safe, "a new, empty volume; the undo deletes it"),
        Operation::FlyAllocateIp(_) => at(Safe, "a new address; the undo releases it"),
        Operation::FlyCreateApp(_) => at(Safe, "a new, empty app; the undo deletes it"),
        Operation::FlyDestroyApp(_) => at(Irreversible, "deletes an app with its machines, volumes and secrets; nothing brings it back"),
        Operation::FlySetSecrets(_) => at(Destructive, "replaces any secret of the same name, whose old value ferry never reads and cannot put back"),
        Operation::FlyAddCertificate(_) => at(Safe, "a certificate request; the undo removes it"),
        Operation::FlyCopyVolume(_) => at(Safe, "a snapshot of the source restored into a new volume; the source is only read"),
        Operation::FlyCreateRelease(_) => at(Safe, "a release record (what `fly releases` lists); no machine changes"),
        Operation::FlyCompleteRelease(_) => at(Safe, "marks a release record complete; no machine changes"),
        Operation::FlyWaitCertificate(_) => at(Safe, "reads a certificate's status until it is issued"),
        Operation::DnsChange(change) => match (&change.expected, &change.new) {
            (Some(old), Some(new)) if old.name == new.name && old.rtype == new.rtype && old.values == new.values => {
                at(Safe, "only the TTL changes: every answer stays the same")
            }
            _ => at(Disruptive, "moves a name's traffic; resolvers cache the old answer, so even the undo takes a TTL to land"),
        },
        Operation::TlsCheck(_) => at(Safe, "a TLS handshake: reads a certificate"),
        Operation::DnsVerify(_) => at(Safe, "DNS queries: reads answers"),
        Operation::PgFreeze(_) => at(Disruptive, "the source database stops taking writes"),
        Operation::PgDumpRestore(_) => at(Safe, "copies into an empty target (the host checks); the source is only read"),
        Operation::PgCopySchema(_) => at(Safe, "creates tables on the target; the source is only read"),
        Operation::PgReplicaIdentityFull(_) => at(Disruptive, "changes a table of the source database (more WAL for each update)"),
        Operation::PgSubscribe(_) => at(Safe, "a publication and a replication slot on the source, dropped by the undo"),
        Operation::PgCatchUp(_) => at(Safe, "waits for replication"),
        Operation::PgFinishLogical(_) => at(Safe, "finishes the copy on the target and drops the replication"),
        Operation::PgVerify(_) => at(Safe, "reads both databases"),
        Operation::VolumeSync(sync) => match sync.pass {
            VolumePass::Bulk => at(Safe, "copies files without deleting any"),
            VolumePass::Final => at(Destructive, "deletes files on the target that the source does not have"),
        },
        Operation::SqliteCopy(_) => at(Safe, "replaces the target's copy of the file; the source is only read"),
        Operation::VolumeVerify(_) => at(Safe, "reads both volumes"),
        Operation::WriteFile(_) => at(Safe, "writes a checkout file; the journal keeps the old contents for the undo"),
        Operation::VmLock(_) => at(Safe, "a lock file on the host"),
        Operation::VmUnlock(_) => at(Safe, "removes this run's lock file"),
        Operation::VmInstallPackages(_) => at(Disruptive, "installs system packages as root; they stay after an undo"),
        Operation::VmMkdir(_) => at(Safe, "creates directories; the undo removes those still empty"),
        Operation::VmNetwork(_) => at(Safe, "a Docker network; the undo removes it"),
        Operation::VmWriteFile(VmFile { then: Some(_), .. }) => at(Disruptive, "runs a shell command on the host after writing the file"),
        Operation::VmWriteFile(VmFile { then: None, .. }) => at(Safe, "writes one file; the replaced one is kept for the undo"),
        Operation::VmEnvFile(VmEnvFile { secrets, from_files, .. }) if !secrets.is_empty() || !from_files.is_empty() => {
            at(Disruptive, "puts secret values in a file on the host; whoever can read the path can read them")
        }
        Operation::VmEnvFile(_) => at(Safe, "writes plain values to one file; the replaced one is kept for the undo"),
        Operation::VmSecret(_) => at(Safe, "a random value made on the host; it never leaves it"),
        Operation::VmImage(_) => at(Safe, "builds or fetches an image; nothing runs"),
        Operation::VmReleaseCommand(_) => at(Disruptive, "runs the app's release command (usually migrations) with its env; ferry cannot undo what it does"),
        Operation::VmRun(_) => at(Safe, "starts a container; the undo stops or removes it"),
        Operation::VmStop(_) => at(Disruptive, "stopped containers serve nothing"),
        Operation::VmRemove(_) => at(Destructive, "removes containers with their writable layers"),
    }
}

/// The risk of undoing an action whose operation is `op` with `undo`: an
/// abort runs it, so a reviewer weighs it like any action. Undoing a create
/// deletes what was created, and whatever was written to it since, so it
/// is rated by what the undo does, never by the create's own risk.
pub fn undo_floor(op: &Operation, undo: &Undo) -> Floor {
    use Risk::{Destructive, Disruptive, Safe};
    match undo {
        Undo::Run(undo_op) => floor(undo_op),
        Undo::None(_) => at(Safe, "nothing runs"),
        Undo::RestorePrevious => match op {
            Operation::EditConfig(_) | Operation::WriteFile(_) => at(Safe, "puts a checkout file back as the journal kept it"),
            Operation::VmWriteFile(VmFile { then: Some(_), .. }) => at(Disruptive, "puts a file back, then runs a command on the host"),
            Operation::VmWriteFile(_) | Operation::VmEnvFile(_) => at(Disruptive, "puts a file on the host back; a service reading it sees the old one"),
            Operation::VmLock(_)
            | Operation::VmMkdir(_)
            | Operation::FlySetMetadata(_)
            | Operation::PgReplicaIdentityFull(_)
            | Operation::FlyCreateRelease(_)
            | Operation::FlyCompleteRelease(_) => at(Safe, "puts back bookkeeping nothing serves from"),
            Operation::VmSecret(_) => at(Disruptive, "removes a secret file a container may read"),
            Operation::VmNetwork(_) => at(Disruptive, "removes a network: containers on it lose their addresses"),
            Operation::VmRun(_) => at(Disruptive, "removes or stops a container that may be serving"),
            Operation::VmStop(_) | Operation::FlyStopMachines(_) => at(Disruptive, "starts what was stopped: it serves (and writes) again"),
            Operation::FlyUpdateMachines(_) => at(Disruptive, "restarts machines with their previous config"),
            Operation::FlyDestroyMachines(_) => at(Disruptive, "recreates machines from their saved configs"),
            Operation::FlyCreateMachines(_) => at(Destructive, "destroys the machines it created, with their root filesystems"),
            Operation::FlyCreateVolume(_) | Operation::FlyCopyVolume(_) => {
                at(Destructive, "deletes the volumes it created, with everything written to them since")
            }
            Operation::FlyCreateApp(_) => at(Destructive, "deletes the app it created, with whatever was deployed and written to it since"),
            Operation::FlySetSecrets(_) => at(Destructive, "removes secrets machines may need to boot"),
            Operation::FlyAllocateIp(_) => at(Disruptive, "releases an address clients may be using"),
            Operation::FlyAddCertificate(_) => at(Disruptive, "removes a certificate: its hostname stops serving TLS from Fly"),
            Operation::DnsChange(_) => at(Disruptive, "moves a name's traffic back; resolvers take a TTL to follow"),
            Operation::PgFreeze(_) => at(Disruptive, "the source database takes writes again"),
            Operation::PgDumpRestore(_) | Operation::PgCopySchema(_) | Operation::PgSubscribe(_) | Operation::VolumeSync(_) => {
                at(Destructive, "removes what the copy created on the target, with anything written there since")
            }
            Operation::Approval(_)
            | Operation::WaitMs(_)
            | Operation::FlyReleaseCommand(_)
            | Operation::FlyStartMachines(_)
            | Operation::FlyCordon(_)
            | Operation::FlyUncordon(_)
            | Operation::FlyDestroyApp(_)
            | Operation::TlsCheck(_)
            | Operation::DnsVerify(_)
            | Operation::PgCatchUp(_)
            | Operation::PgFinishLogical(_)
            | Operation::PgVerify(_)
            | Operation::SqliteCopy(_)
            | Operation::VolumeVerify(_)
            | Operation::VmUnlock(_)
            | Operation::VmInstallPackages(_)
            | Operation::VmImage(_)
            | Operation::VmReleaseCommand(_)
            | Operation::VmRemove(_)
            | Operation::FlyWaitCertificate(_) => at(Safe, "nothing to put back"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DnsChange, DnsRrset, FlySecrets, VolumeSync};

    fn rrset(ttl: u32, value: &str) -> DnsRrset {
        DnsRrset { name: "app.example.com.".into(), rtype: "A".into(), ttl, values: vec![value.into()] }
    }

    #[test]
    fn destroying_an_app_is_irreversible_and_secrets_destructive() {
        assert_eq!(floor(&Operation::FlyDestroyApp("shop".into())).risk, Risk::Irreversible);
        let secrets = Operation::FlySetSecrets(FlySecrets { app: "other".into(), names: vec!["DATABASE_URL".into()] });
        assert_eq!(floor(&secrets).risk, Risk::Destructive);
    }

    #[test]
    fn a_ttl_change_is_safe_and_a_value_change_is_not() {
        let zone = "example.com.".to_string();
        let ttl = DnsChange { zone: zone.clone(), expected: Some(rrset(3600, "192.0.2.1")), new: Some(rrset(60, "192.0.2.1")) };
        assert_eq!(floor(&Operation::DnsChange(ttl)).risk, Risk::Safe);
        let switch = DnsChange { zone: zone.clone(), expected: Some(rrset(60, "192.0.2.1")), new: Some(rrset(60, "198.51.100.7")) };
        assert_eq!(floor(&Operation::DnsChange(switch)).risk, Risk::Disruptive);
        let delete = DnsChange { zone, expected: Some(rrset(60, "192.0.2.1")), new: None };
        assert_eq!(floor(&Operation::DnsChange(delete)).risk, Risk::Disruptive);
    }

    #[test]
    fn a_command_after_a_vm_file_and_secrets_in_an_env_file_raise_the_floor() {
        let file = |then: Option<&str>| VmFile { target: "t".into(), path: "/srv/x".into(), contents: String::new(), mode: 0o644, then: then.map(Into::into) };
        assert_eq!(floor(&Operation::VmWriteFile(file(None))).risk, Risk::Safe);
        assert_eq!(floor(&Operation::VmWriteFile(file(Some("nginx -s reload")))).risk, Risk::Disruptive);
        let env = |secrets: Vec<String>| VmEnvFile { target: "t".into(), path: "/srv/env".into(), env: vec![], secrets, from_files: vec![] };
        assert_eq!(floor(&Operation::VmEnvFile(env(vec![]))).risk, Risk::Safe);
        assert_eq!(floor(&Operation::VmEnvFile(env(vec!["API_KEY".into()]))).risk, Risk::Disruptive);
    }

    #[test]
    fn undoing_a_safe_create_is_rated_by_what_the_undo_deletes() {
        let volume = Operation::FlyCreateVolume(crate::FlyVolume {
            app: "shop".into(),
            name: "data".into(),
            region: "ams".into(),
            size_gb: 1,
            compute: None,
            compute_image: None,
            snapshot_retention: None,
            auto_backup: None,
        });
        assert_eq!(floor(&volume).risk, Risk::Safe);
        assert_eq!(undo_floor(&volume, &Undo::RestorePrevious).risk, Risk::Destructive);
        assert_eq!(undo_floor(&volume, &Undo::None("kept".into())).risk, Risk::Safe);
        // An explicit undo operation carries that operation's own floor.
        let destroy = Undo::Run(Operation::FlyDestroyApp("shop".into()));
        assert_eq!(undo_floor(&Operation::FlyCreateApp(crate::FlyApp { name: "shop".into(), org: "personal".into() }), &destroy).risk, Risk::Irreversible);
    }

    #[test]
    fn the_final_volume_pass_deletes() {
        let sync = |pass| Operation::VolumeSync(VolumeSync { volume: "data".into(), pass, exclude: vec![] });
        assert_eq!(floor(&sync(VolumePass::Bulk)).risk, Risk::Safe);
        assert_eq!(floor(&sync(VolumePass::Final)).risk, Risk::Destructive);
    }
}
