//! The sandbox: loads ferry's step components, caches their compiled code,
//! links only the capabilities a step is granted, and calls it under a
//! deadline, a memory cap and a cap on the bytes a call may pass to the host.
//!
//! The flow for one step:
//!
//! 1. [`Runtime::load`] compiles the component (at most
//!    [`MAX_COMPONENT_BYTES`], the only bound on compile time) or maps it from
//!    the on-disk cache (keyed by ferry's version, the engine's compatibility
//!    hash and the component's sha256, each entry authenticated by a key kept
//!    outside the cache), checks its imports against its [`Grants`] and
//!    refuses it before anything runs if it asks for more, naming the import.
//! 2. [`Runtime::describe`] and [`Runtime::plan`] each run in a fresh
//!    `Store`: no state survives between calls, and a trap poisons nothing.
//!
//! Errors come in two levels, as in the WIT: a step's own typed
//! [`ferry_model::StepError`] (bad input, unsupported…) is the inner
//! `Result`; a trap, timeout, memory cap or refused import is a
//! [`RuntimeError`] that names the step.

mod cache;
mod cache_key;
mod call;
pub mod capabilities;
mod component_file;
mod engine;
mod error;
mod grants;
mod limits;
pub mod precompiled;

pub use capabilities::{HostContext, fly::FlyReader};
pub use component_file::{ComponentFileError, read_component_file};
pub use engine::{CompiledFrom, LoadedStep, MAX_COMPONENT_BYTES, Runtime, RuntimeConfig};
pub use error::RuntimeError;
pub use grants::{Capability, Grants};
pub use limits::Limits;
