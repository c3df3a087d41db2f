//! The least risk each operation carries, whatever its step says.
//!
//! Risk says what an action can cost if it goes wrong: `safe` (nothing a
//! reviewer must weigh), `disruptive` (service or traffic is interrupted or
//! moved, but the state comes back on undo), `destructive` (data or values
//! are lost or replaced with no way back), `irreversible` (nothing undoes it).
//! Each operation's floor is beside it, in its provider's [`crate::ops`]
//! module.

use ferry_model::{Operation, Risk, Undo};

use super::OperationPolicy;

/// An operation's minimum risk, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Floor {
    pub risk: Risk,
    pub reason: &'static str,
}

pub(crate) const fn at(risk: Risk, reason: &'static str) -> Floor {
    Floor { risk, reason }
}

/// The minimum risk of `op`. Some depend on the operation's fields (a DNS
/// change of the TTL alone, a VM file that runs a command after it is
/// written), never on what the step claims.
pub fn floor(op: &Operation) -> Floor {
    op.floor()
}

/// The risk of undoing an action whose operation is `op` with `undo`: an
/// abort runs it, so a reviewer weighs it like any action. Undoing a create
/// deletes what was created, and whatever was written to it since, so it
/// is rated by what the undo does, never by the create's own risk.
pub fn undo_floor(op: &Operation, undo: &Undo) -> Floor {
    match undo {
        Undo::Run(undo_op) => floor(undo_op),
        Undo::None(_) => at(Risk::Safe, "nothing runs"),
        Undo::RestorePrevious => op.restore().floor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_model::{DataOp, DnsOp, FlyOp, VmEnvFile, VmFile, VmOp, VolumePass};
    use ferry_model::{DnsChange, DnsRrset, FlySecrets, VolumeSync};

    fn rrset(ttl: u32, value: &str) -> DnsRrset {
        DnsRrset { name: "app.example.com.".into(), rtype: "A".into(), ttl, values: vec![value.into()] }
    }

    #[test]
    fn destroying_an_app_is_irreversible_and_secrets_destructive() {
        assert_eq!(floor(&Operation::Fly(FlyOp::DestroyApp("shop".into()))).risk, Risk::Irreversible);
        let secrets = Operation::Fly(FlyOp::SetSecrets(FlySecrets { app: "other".into(), names: vec!["DATABASE_URL".into()] }));
        assert_eq!(floor(&secrets).risk, Risk::Destructive);
    }

    #[test]
    fn a_ttl_change_is_safe_and_a_value_change_is_not() {
        let zone = "example.com.".to_string();
        let ttl = DnsChange { zone: zone.clone(), expected: Some(rrset(3600, "192.0.2.1")), new: Some(rrset(60, "192.0.2.1")) };
        assert_eq!(floor(&Operation::Dns(DnsOp::Change(ttl))).risk, Risk::Safe);
        let switch = DnsChange { zone: zone.clone(), expected: Some(rrset(60, "192.0.2.1")), new: Some(rrset(60, "198.51.100.7")) };
        assert_eq!(floor(&Operation::Dns(DnsOp::Change(switch))).risk, Risk::Disruptive);
        let delete = DnsChange { zone, expected: Some(rrset(60, "192.0.2.1")), new: None };
        assert_eq!(floor(&Operation::Dns(DnsOp::Change(delete))).risk, Risk::Disruptive);
    }

    #[test]
    fn a_reload_after_a_vm_file_and_secrets_in_an_env_file_raise_the_floor() {
        let file = |reload: bool| VmFile { target: "t".into(), path: "/srv/x".into(), contents: String::new(), mode: 0o644, reload };
        assert_eq!(floor(&Operation::Vm(VmOp::WriteFile(file(false)))).risk, Risk::Safe);
        assert_eq!(floor(&Operation::Vm(VmOp::WriteFile(file(true)))).risk, Risk::Disruptive);
        let env = |secrets: Vec<String>| VmEnvFile { target: "t".into(), path: "/srv/env".into(), env: vec![], secrets, from_files: vec![] };
        assert_eq!(floor(&Operation::Vm(VmOp::EnvFile(env(vec![])))).risk, Risk::Safe);
        assert_eq!(floor(&Operation::Vm(VmOp::EnvFile(env(vec!["API_KEY".into()])))).risk, Risk::Disruptive);
    }

    #[test]
    fn undoing_a_safe_create_is_rated_by_what_the_undo_deletes() {
        let volume = Operation::Fly(FlyOp::CreateVolume(ferry_model::FlyVolume {
            app: "shop".into(),
            name: "data".into(),
            region: "ams".into(),
            size_gb: 1,
            compute: None,
            compute_image: None,
            snapshot_retention: None,
            auto_backup: None,
        }));
        assert_eq!(floor(&volume).risk, Risk::Safe);
        assert_eq!(undo_floor(&volume, &Undo::RestorePrevious).risk, Risk::Destructive);
        assert_eq!(undo_floor(&volume, &Undo::None("kept".into())).risk, Risk::Safe);
        // An explicit undo operation carries that operation's own floor.
        let destroy = Undo::Run(Operation::Fly(FlyOp::DestroyApp("shop".into())));
        assert_eq!(
            undo_floor(&Operation::Fly(FlyOp::CreateApp(ferry_model::FlyApp { name: "shop".into(), org: "personal".into() })), &destroy).risk,
            Risk::Irreversible
        );
    }

    #[test]
    fn the_final_volume_pass_deletes() {
        let sync = |pass| Operation::Data(DataOp::VolumeSync(VolumeSync { volume: "data".into(), pass, exclude: vec![] }));
        assert_eq!(floor(&sync(VolumePass::Bulk)).risk, Risk::Safe);
        assert_eq!(floor(&sync(VolumePass::Final)).risk, Risk::Destructive);
    }
}
