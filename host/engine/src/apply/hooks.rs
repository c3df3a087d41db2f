//! Test hooks, inert unless their environment variables are set: the
//! crash-and-resume tests kill the process at an exact point of an action
//! and count how often each action really ran.

/// Where in an action the process can be killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// `Started` is journaled; nothing has run.
    Started,
    /// The operation ran; `Done` is not journaled yet.
    Executed,
    /// `Done` is journaled.
    Done,
}

impl Point {
    fn name(self) -> &'static str {
        match self {
            Point::Started => "started",
            Point::Executed => "executed",
            Point::Done => "done",
        }
    }
}

/// `FERRY_TEST_KILL_AT=<action-id>:<point>` aborts the process there, as
/// `kill -9` would: no destructor runs, no lock is released.
pub fn maybe_kill(action: &str, point: Point) {
    if let Ok(target) = std::env::var("FERRY_TEST_KILL_AT")
        && target == format!("{action}:{}", point.name())
    {
        std::process::abort();
    }
}

/// `FERRY_TEST_EXEC_LOG=<file>` gets a line per operation really carried out.
pub fn log_execution(action: &str) {
    if let Ok(path) = std::env::var("FERRY_TEST_EXEC_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{action}");
        }
    }
}
