//! Per-step resource limits, and the most a workflow may raise them to.

use std::time::Duration;

/// What one call of a step may use. Defaults suit a planner that reads a
/// few files: a runaway step is stopped long before it hurts a CI job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time a call may run before it is interrupted.
    pub deadline: Duration,
    /// Memory a call may grow to, in bytes: every linear memory and table of
    /// the call's store together (a table element counts as a pointer).
    pub memory_bytes: usize,
    /// Bytes a step may pass to the host in one crossing (a log line, a plan).
    pub hostcall_bytes: usize,
    /// The largest checkout file the host hands to a step.
    pub file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { deadline: Duration::from_secs(10), memory_bytes: 256 << 20, hostcall_bytes: 16 << 20, file_bytes: 1 << 20 }
    }
}

impl Limits {
    /// The host's ceiling for each limit: ferry.toml comes from the pull
    /// request under review, so it may raise a limit up to here and no
    /// further. Each is a generous multiple of what a real planner needs;
    /// past it a step is broken or hostile, and either way it must not be
    /// able to take the CI runner down with it.
    pub const MAX: Limits = Limits {
        // A step plans; its slow part is read imports (the Fly API, SSH
        // probes of a VM, a database inventory), each of which has its own
        // network timeout. Five minutes covers a slow link several times over;
        // a step that needs longer hangs the job, and epoch interruption
        // cannot cut a blocking host call short anyway.
        deadline: Duration::from_secs(5 * 60),
        // Four times the default. The largest input a step holds is a
        // checkout file (at most `file_bytes`) and an inventory; 1 GiB is
        // already a seventh of a GitHub-hosted runner's 7 GB.
        memory_bytes: 1 << 30,
        // The biggest crossing is the plan itself, rendered into a PR comment
        // that GitHub caps at 64 KiB of text; 64 MiB of plan is never
        // reviewable. Also bounds the fuel that lifting a result may spend.
        hostcall_bytes: 64 << 20,
        // Steps read config files (fly.toml, Dockerfile, app.json, a schema
        // dump at most). 32 MiB also stays well under `memory_bytes`'s
        // default, so a read that passes this cap can still land in memory.
        file_bytes: 32 << 20,
    };
}
