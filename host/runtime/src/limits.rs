//! Per-step resource limits.

use std::time::Duration;

/// What one call of a step may use. Defaults suit a planner that reads a
/// few files: a runaway step is stopped long before it hurts a CI job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time a call may run before it is interrupted.
    pub deadline: Duration,
    /// Linear memory a call may grow to, in bytes.
    pub memory_bytes: usize,
    /// Bytes a step may pass to the host in one crossing (a log line, a plan).
    pub hostcall_bytes: usize,
    /// The largest checkout file the host hands to a step.
    pub file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(10),
            memory_bytes: 256 << 20,
            hostcall_bytes: 16 << 20,
            file_bytes: 1 << 20,
        }
    }
}
