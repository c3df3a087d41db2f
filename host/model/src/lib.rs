//! ferry's data, in the order it flows: files -> [`AppSpec`] -> [`Plan`] ->
//! journal -> report.
//!
//! These types mirror the WIT package `ferry:step` (`wit/types.wit`,
//! `wit/step.wit`) field for field. They derive both serde (for JSON output
//! and the plan hash) and wasmtime's `ComponentType`/`Lift`/`Lower`, so they
//! cross the sandbox boundary as they are: the host never converts between a
//! "WIT" and a "Rust" version of the same record. wasmtime type-checks them
//! against each component when it is loaded, so a drift between this crate
//! and the WIT is an error at load time, not silent corruption.

mod action;
mod app;
mod finding;
pub mod ops;
pub mod pairs;
mod plan;
mod printable;
mod step;

/// The VM provider's records, under the path they have always had.
pub use ops::vm;

pub use action::{Action, Risk, Undo};
pub use app::{
    Addon, AppKind, AppSpec, AutoStop, Build, Check, CheckKind, CheckScope, Concurrency, Deploy, Dockerfile, Experimental, File, FileSource, Formation,
    HttpOptions, HttpResponseOptions, LiveState, LiveVolume, LocalFile, MachineDefaults, Metrics, Mount, Platform, Port, Process, ProcessGroup,
    ProxyProtoOptions, ReplayCache, Restart, RestartPolicy, Service, ServiceProtocol, Static, TargetKind, TlsOptions, Vm,
};
pub use finding::{Finding, Location, Problem, Severity, StepError};
pub use ops::Operation;
pub use ops::checkout::{CheckoutOp, ConfigEdit, FileWrite};
pub use ops::control::ControlOp;
pub use ops::data::{DataOp, PgCopy, PgLogical, PgTable, PgVerify, SqliteCopy, VolumePass, VolumeSync, VolumeVerify};
pub use ops::dns::{DnsChange, DnsOp, DnsRrset, DnsVerify, TlsCheck};
pub use ops::fly::{
    FlyApp, FlyCertificate, FlyCertificateWait, FlyIp, FlyMachine, FlyMachineRefs, FlyMachines, FlyMetadata, FlyOp, FlyRelease, FlyReleaseCommand, FlySecrets,
    FlyVolume, FlyVolumeCopy, FlyWait, IpKind, ReleaseStrategy,
};
pub use ops::vm::{
    VmCertificate, VmContainer, VmContainers, VmEnvFile, VmFile, VmFileValue, VmFlyPostgres, VmFlyVolume, VmHealth, VmImage, VmImageSource, VmLock, VmNetwork,
    VmOp, VmPackages, VmPaths, VmPort, VmSecret,
};
pub use plan::{PLAN_FORMAT, Plan, RiskCounts, StepSection};
pub use printable::{printable, printable_lines};
pub use step::{ParamInfo, PlanRequest, StepInfo, StepPlan};
