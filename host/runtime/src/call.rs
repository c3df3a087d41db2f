//! One call of a step: a fresh `Store`, limits armed, the export called, and
//! a trap turned into an error that says which step and why.

use ferry_model::{PlanRequest, StepError, StepInfo, StepPlan};
use wasmtime::component::ComponentExportIndex;
use wasmtime::{ResourceLimiter, Store, Trap};

use crate::engine::EPOCH_TICK;
use crate::{HostContext, Limits, LoadedStep, Runtime, RuntimeError};

/// Everything a call's host functions can see. Dropped with the store.
pub(crate) struct CallState {
    pub(crate) step: String,
    pub(crate) host: HostContext,
    pub(crate) limits: Limits,
    pub(crate) limiter: StoreLimiter,
    /// Set by the guest SDK's panic hook through `log.report-panic`.
    pub(crate) panic_message: Option<String>,
    /// Bytes of log output so far; past the cap, lines are dropped.
    pub(crate) log_bytes: usize,
    pub(crate) dropped_log_lines: usize,
}

/// Core instances a call's store may create. wasmtime's default is 10,000.
/// A step componentized by wit-component instantiates three core modules
/// (the step, a shim and its fixup); four times that leaves room for
/// toolchain changes without letting a component multiply the store's
/// bookkeeping.
const MAX_INSTANCES: usize = 12;
/// Linear memories a call's store may create (wasmtime's default: 10,000).
/// A step has exactly one. Each memory reserves gigabytes of address space
/// and a mapping, so even empty ones must be few; the bytes they hold are
/// capped by [`StoreLimiter`] whatever the count.
const MAX_MEMORIES: usize = 4;
/// Tables a call's store may create (wasmtime's default: 10,000). A step has
/// two: its own function table and the shim's.
const MAX_TABLES: usize = 8;
/// What wasmtime spends on one table element: a pointer
/// (see `ResourceLimiter::table_growing`).
const TABLE_ELEMENT_BYTES: usize = std::mem::size_of::<usize>();

/// Holds a call's store to its memory cap, summed over every linear memory
/// and table the store has. wasmtime asks about each memory and table on its
/// own; comparing one memory's size with the cap, as this once did, let a
/// component with N core instances (or N memories) use N times the cap.
///
/// Growth that the limiter allows but wasmtime then fails stays counted: the
/// step only hurts itself, whereas subtracting in `memory_grow_failed`
/// (which wasmtime also calls for failures it never asked about) could be
/// played to make the total drift below what is really allocated.
#[derive(Debug)]
pub(crate) struct StoreLimiter {
    cap: usize,
    /// Bytes granted so far to all memories and tables.
    used: usize,
    /// The total a refused growth would have reached, so the trap that
    /// follows can be reported as "memory cap" rather than a bare
    /// `unreachable`.
    pub(crate) denied: Option<usize>,
}

impl StoreLimiter {
    pub(crate) fn new(cap: usize) -> Self {
        StoreLimiter { cap, used: 0, denied: None }
    }

    /// Grants growth from `current` to `desired` bytes of one memory or
    /// table if the store's total stays within the cap.
    fn grow(&mut self, current: usize, desired: usize) -> bool {
        let total = self.used.saturating_add(desired.saturating_sub(current));
        if total > self.cap {
            self.denied = Some(total);
            return false;
        }
        self.used = total;
        true
    }
}

impl ResourceLimiter for StoreLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(self.grow(current, desired))
    }

    fn table_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(self.grow(current.saturating_mul(TABLE_ELEMENT_BYTES), desired.saturating_mul(TABLE_ELEMENT_BYTES)))
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}

impl Runtime {
    /// Calls the step's `describe`.
    pub fn describe(&self, step: &LoadedStep, host: &HostContext) -> Result<StepInfo, RuntimeError> {
        self.call::<(), (StepInfo,)>(step, host, &step.describe, ()).map(|(info,)| info)
    }

    /// Calls the step's `plan`. The outer error is the host's (trap, limits);
    /// the inner one is the step's own typed failure.
    pub fn plan(&self, step: &LoadedStep, host: &HostContext, request: &PlanRequest) -> Result<Result<StepPlan, StepError>, RuntimeError> {
        self.call::<(&PlanRequest,), (Result<StepPlan, StepError>,)>(step, host, &step.plan, (request,)).map(|(r,)| r)
    }

    fn call<P, R>(&self, step: &LoadedStep, host: &HostContext, export: &ComponentExportIndex, params: P) -> Result<R, RuntimeError>
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
        limiter: StoreLimiter::new(step.limits.memory_bytes),
        panic_message: None,
        log_bytes: 0,
        dropped_log_lines: 0,
    };
    let mut store = Store::new(step.pre.engine(), state);
    store.limiter(|s| &mut s.limiter);
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
    if let Some(requested) = state.limiter.denied {
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

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    #[test]
    fn growth_of_different_memories_adds_up() {
        let mut limiter = StoreLimiter::new(100 * MIB);
        // Two memories created at 40 MiB each, then one grows by 10 MiB.
        assert!(limiter.memory_growing(0, 40 * MIB, None).unwrap());
        assert!(limiter.memory_growing(0, 40 * MIB, None).unwrap());
        assert!(limiter.memory_growing(40 * MIB, 50 * MIB, None).unwrap());
        assert_eq!(limiter.denied, None);
        // The other one growing by 11 MiB would make 101 MiB in all.
        assert!(!limiter.memory_growing(40 * MIB, 51 * MIB, None).unwrap());
        assert_eq!(limiter.denied, Some(101 * MIB));
        // A refused growth is not counted: 10 MiB still fits.
        assert!(limiter.memory_growing(40 * MIB, 50 * MIB, None).unwrap());
    }

    #[test]
    fn table_elements_count_against_the_same_cap() {
        let mut limiter = StoreLimiter::new(MIB);
        assert!(limiter.memory_growing(0, MIB / 2, None).unwrap());
        let elements = MIB / 2 / TABLE_ELEMENT_BYTES;
        assert!(limiter.table_growing(0, elements, None).unwrap());
        assert!(!limiter.table_growing(elements, elements + 1, None).unwrap());
        assert_eq!(limiter.denied, Some(MIB + TABLE_ELEMENT_BYTES));
    }

    #[test]
    fn an_absurd_request_saturates_instead_of_wrapping() {
        let mut limiter = StoreLimiter::new(MIB);
        assert!(limiter.memory_growing(0, MIB, None).unwrap());
        assert!(!limiter.table_growing(0, usize::MAX, None).unwrap());
        assert!(!limiter.memory_growing(0, usize::MAX, None).unwrap());
        assert_eq!(limiter.denied, Some(usize::MAX));
    }
}
