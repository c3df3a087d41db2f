//! Operations sorted by the provider that carries them out.
//!
//! The contract's `operation` is one flat variant (the plan format keeps
//! it); the host works on it through [`Operation::route`], the one match
//! that sorts every operation to its provider. Each provider then matches
//! its own enum, exhaustively and with no catch-all, so a new operation is
//! named by the compiler here and in its provider's ops, and cannot reach
//! another provider's executor by default.

use crate::*;

/// An operation, as the provider that carries it out sees it.
#[derive(Clone, Copy, Debug)]
pub enum Routed<'a> {
    Control(ControlOp<'a>),
    Checkout(CheckoutOp<'a>),
    Fly(FlyOp<'a>),
    Dns(DnsOp<'a>),
    Data(DataOp<'a>),
    Vm(VmOp<'a>),
}

/// Approval gates and waits: they change nothing.
#[derive(Clone, Copy, Debug)]
pub enum ControlOp<'a> {
    Approval(&'a str),
    WaitMs(u64),
}

/// Files of the repository's checkout.
#[derive(Clone, Copy, Debug)]
pub enum CheckoutOp<'a> {
    EditConfig(&'a ConfigEdit),
    WriteFile(&'a FileWrite),
}

/// The Fly Machines API.
#[derive(Clone, Copy, Debug)]
pub enum FlyOp<'a> {
    ReleaseCommand(&'a FlyReleaseCommand),
    CreateMachines(&'a FlyMachines),
    UpdateMachines(&'a FlyMachines),
    DestroyMachines(&'a FlyMachineRefs),
    StopMachines(&'a FlyMachineRefs),
    StartMachines(&'a FlyMachineRefs),
    Cordon(&'a FlyMachineRefs),
    Uncordon(&'a FlyMachineRefs),
    SetMetadata(&'a FlyMetadata),
    CreateVolume(&'a FlyVolume),
    AllocateIp(&'a FlyIp),
    CreateApp(&'a FlyApp),
    DestroyApp(&'a str),
    SetSecrets(&'a FlySecrets),
    AddCertificate(&'a FlyCertificate),
    CopyVolume(&'a FlyVolumeCopy),
    CreateRelease(&'a FlyRelease),
    CompleteRelease(&'a str),
    WaitCertificate(&'a FlyCertificateWait),
}

/// DNS records, and the propagation and TLS checks around them.
#[derive(Clone, Copy, Debug)]
pub enum DnsOp<'a> {
    Change(&'a DnsChange),
    TlsCheck(&'a TlsCheck),
    Verify(&'a DnsVerify),
}

/// Databases and volumes copied between the `[data]` sources and targets.
#[derive(Clone, Copy, Debug)]
pub enum DataOp<'a> {
    PgFreeze(&'a str),
    PgDumpRestore(&'a PgCopy),
    PgCopySchema(&'a str),
    PgReplicaIdentityFull(&'a PgTable),
    PgSubscribe(&'a PgLogical),
    PgCatchUp(&'a PgLogical),
    PgFinishLogical(&'a PgLogical),
    PgVerify(&'a PgVerify),
    VolumeSync(&'a VolumeSync),
    SqliteCopy(&'a SqliteCopy),
    VolumeVerify(&'a VolumeVerify),
}

/// A Docker host over SSH.
#[derive(Clone, Copy, Debug)]
pub enum VmOp<'a> {
    Lock(&'a VmLock),
    Unlock(&'a VmLock),
    InstallPackages(&'a VmPackages),
    Mkdir(&'a VmPaths),
    Network(&'a VmNetwork),
    WriteFile(&'a VmFile),
    EnvFile(&'a VmEnvFile),
    Secret(&'a VmSecret),
    Image(&'a VmImage),
    ReleaseCommand(&'a VmContainer),
    Run(&'a VmContainer),
    Stop(&'a VmContainers),
    Remove(&'a VmContainers),
}

impl Operation {
    /// The operation as its provider sees it: the one place each operation
    /// is sorted to a provider.
    pub fn route(&self) -> Routed<'_> {
        use Routed::{Checkout, Control, Data, Dns, Fly, Vm};
        match self {
            Operation::Approval(message) => Control(ControlOp::Approval(message)),
            Operation::WaitMs(ms) => Control(ControlOp::WaitMs(*ms)),
            Operation::EditConfig(e) => Checkout(CheckoutOp::EditConfig(e)),
            Operation::WriteFile(w) => Checkout(CheckoutOp::WriteFile(w)),
            Operation::FlyReleaseCommand(x) => Fly(FlyOp::ReleaseCommand(x)),
            Operation::FlyCreateMachines(x) => Fly(FlyOp::CreateMachines(x)),
            Operation::FlyUpdateMachines(x) => Fly(FlyOp::UpdateMachines(x)),
            Operation::FlyDestroyMachines(x) => Fly(FlyOp::DestroyMachines(x)),
            Operation::FlyStopMachines(x) => Fly(FlyOp::StopMachines(x)),
            Operation::FlyStartMachines(x) => Fly(FlyOp::StartMachines(x)),
            Operation::FlyCordon(x) => Fly(FlyOp::Cordon(x)),
            Operation::FlyUncordon(x) => Fly(FlyOp::Uncordon(x)),
            Operation::FlySetMetadata(x) => Fly(FlyOp::SetMetadata(x)),
            Operation::FlyCreateVolume(x) => Fly(FlyOp::CreateVolume(x)),
            Operation::FlyAllocateIp(x) => Fly(FlyOp::AllocateIp(x)),
            Operation::FlyCreateApp(x) => Fly(FlyOp::CreateApp(x)),
            Operation::FlyDestroyApp(x) => Fly(FlyOp::DestroyApp(x)),
            Operation::FlySetSecrets(x) => Fly(FlyOp::SetSecrets(x)),
            Operation::FlyAddCertificate(x) => Fly(FlyOp::AddCertificate(x)),
            Operation::FlyCopyVolume(x) => Fly(FlyOp::CopyVolume(x)),
            Operation::FlyCreateRelease(x) => Fly(FlyOp::CreateRelease(x)),
            Operation::FlyCompleteRelease(x) => Fly(FlyOp::CompleteRelease(x)),
            Operation::FlyWaitCertificate(x) => Fly(FlyOp::WaitCertificate(x)),
            Operation::DnsChange(x) => Dns(DnsOp::Change(x)),
            Operation::TlsCheck(x) => Dns(DnsOp::TlsCheck(x)),
            Operation::DnsVerify(x) => Dns(DnsOp::Verify(x)),
            Operation::PgFreeze(x) => Data(DataOp::PgFreeze(x)),
            Operation::PgDumpRestore(x) => Data(DataOp::PgDumpRestore(x)),
            Operation::PgCopySchema(x) => Data(DataOp::PgCopySchema(x)),
            Operation::PgReplicaIdentityFull(x) => Data(DataOp::PgReplicaIdentityFull(x)),
            Operation::PgSubscribe(x) => Data(DataOp::PgSubscribe(x)),
            Operation::PgCatchUp(x) => Data(DataOp::PgCatchUp(x)),
            Operation::PgFinishLogical(x) => Data(DataOp::PgFinishLogical(x)),
            Operation::PgVerify(x) => Data(DataOp::PgVerify(x)),
            Operation::VolumeSync(x) => Data(DataOp::VolumeSync(x)),
            Operation::SqliteCopy(x) => Data(DataOp::SqliteCopy(x)),
            Operation::VolumeVerify(x) => Data(DataOp::VolumeVerify(x)),
            Operation::VmLock(x) => Vm(VmOp::Lock(x)),
            Operation::VmUnlock(x) => Vm(VmOp::Unlock(x)),
            Operation::VmInstallPackages(x) => Vm(VmOp::InstallPackages(x)),
            Operation::VmMkdir(x) => Vm(VmOp::Mkdir(x)),
            Operation::VmNetwork(x) => Vm(VmOp::Network(x)),
            Operation::VmWriteFile(x) => Vm(VmOp::WriteFile(x)),
            Operation::VmEnvFile(x) => Vm(VmOp::EnvFile(x)),
            Operation::VmSecret(x) => Vm(VmOp::Secret(x)),
            Operation::VmImage(x) => Vm(VmOp::Image(x)),
            Operation::VmReleaseCommand(x) => Vm(VmOp::ReleaseCommand(x)),
            Operation::VmRun(x) => Vm(VmOp::Run(x)),
            Operation::VmStop(x) => Vm(VmOp::Stop(x)),
            Operation::VmRemove(x) => Vm(VmOp::Remove(x)),
        }
    }
}
