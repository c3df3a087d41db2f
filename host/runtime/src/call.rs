//! One call of a step: a fresh `Store`, limits armed, the export called, and
//! a trap turned into an error that says which step and why.

use ferry_model::{PlanRequest, StepError, StepInfo, StepPlan};
use wasmtime::component::ComponentExportIndex;
use wasmtime::{ResourceLimiter, Store, Trap};

use crate::engine::EPOCH_TICK;
use crate::{HostContext, LoadedStep, Limits, Runtime, RuntimeError};

/// Everything a call's host functions can see. Dropped with the store.
pub(crate) struct CallState {
    pub(crate) step: String,
    pub(crate) host: HostContext,
    pub(crate) limits: Limits,
    pub(crate) memory: MemoryLimiter,
    /// Set by the guest SDK's panic hook through `log.report-panic`.
    pub(crate) panic_message: Option<String>,
    /// Bytes of log output so far; past the cap, lines are dropped.
    pub(crate) log_bytes: usize,
    pub(crate) dropped_log_lines: usize,
}

/// Denies memory growth past the cap and remembers it, so the trap that
/// follows can be reported as "memory cap" rather than a bare `unreachable`.
pub(crate) struct MemoryLimiter {
    cap: usize,
    pub(crate) denied: Option<usize>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.denied = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

impl Runtime {
    /// Calls the step's `describe`.
    pub fn describe(&self, step: &LoadedStep, host: &HostContext) -> Result<StepInfo, RuntimeError> {
        self.call::<(), (StepInfo,)>(step, host, &step.describe, ()).map(|(info,)| info)
    }

    /// Calls the step's `plan`. The outer error is the host's (trap, limits);
    /// the inner one is the step's own typed failure.
    pub fn plan(
        &self,
        step: &LoadedStep,
        host: &HostContext,
        request: &PlanRequest,
    ) -> Result<Result<StepPlan, StepError>, RuntimeError> {
        self.call::<(&PlanRequest,), (Result<StepPlan, StepError>,)>(step, host, &step.plan, (request,))
            .map(|(r,)| r)
    }

    fn call<P, R>(
        &self,
        step: &LoadedStep,
        host: &HostContext,
        export: &ComponentExportIndex,
        params: P,
    ) -> Result<R, RuntimeError>
    where
        P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower,
        R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift,
    {
        let mut store = new_store(step, host);
        let result = (|| {
            let instance = step.pre.instantiate(&mut store)?;
            let func = instance.get_typed_func::<P, R>(&mut store, export)?;
            func.call(&mut store, params)
        })();
        let state = store.data();
        if state.dropped_log_lines > 0 {
            tracing::warn!(step = %step.name, "dropped {} log lines past the log cap", state.dropped_log_lines);
        }
        result.map_err(|e| classify(&step.name, state, e))
    }
}

fn new_store(step: &LoadedStep, host: &HostContext) -> Store<CallState> {
    let state = CallState {
        step: step.name.clone(),
        host: host.clone(),
        limits: step.limits,
        memory: MemoryLimiter { cap: step.limits.memory_bytes, denied: None },
        panic_message: None,
        log_bytes: 0,
        dropped_log_lines: 0,
    };
    let mut store = Store::new(step.pre.engine(), state);
    store.limiter(|s| &mut s.memory);
    store.set_hostcall_fuel(step.limits.hostcall_bytes);
    // +1: the current tick may be almost over when the call starts.
    let ticks = step.limits.deadline.as_millis().div_ceil(EPOCH_TICK.as_millis()) as u64 + 1;
    store.set_epoch_deadline(ticks);
    store.epoch_deadline_trap();
    store
}

/// Turns a wasmtime error into the most specific [`RuntimeError`].
fn classify(step: &str, state: &CallState, error: wasmtime::Error) -> RuntimeError {
    let step = step.to_string();
    if let Some(requested) = state.memory.denied {
        return RuntimeError::MemoryLimit { step, cap: state.limits.memory_bytes, requested };
    }
    if let Some(message) = &state.panic_message {
        return RuntimeError::Panic { step, message: message.clone() };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => RuntimeError::Timeout { step, deadline: state.limits.deadline },
        Some(trap) => RuntimeError::Trap { step, message: format!("{trap}\n{error:?}") },
        None => RuntimeError::Trap { step, message: format!("{error:#}") },
    }
}
