//! Runs a workflow: the steps named in `ferry.toml` (or the default
//! workflow), each loaded into the sandbox with its grant and limits, called
//! in order, their plans concatenated into one [`ferry_model::Plan`].
//!
//! Data flows one way: the workflow file names steps -> [`resolve`] loads
//! them -> [`planner`] calls them, threading the app-spec from one step to
//! the next -> a plan.

pub mod apply;
pub mod data;
pub mod dns;
pub mod fly;
pub mod journal;
pub mod migration;
pub mod planner;
pub mod policy;
pub mod resolve;
pub mod undo_plan;
pub mod vm;
pub mod workflow;

pub use data::DataSources;
pub use dns::DnsZones;
pub use fly::reader::FlyApiReader;
pub use planner::{PlanError, plan};
pub use resolve::{ResolveError, ResolvedStep, StepOrigin, resolve};
pub use vm::{VmTargetConfig, VmTargets};
pub use workflow::{StepSpec, Workflow, WorkflowError};
