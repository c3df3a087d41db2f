use std::time::Duration;

/// The host's errors about a step: it could not be loaded, or it trapped.
/// A step's own typed failure is `ferry_model::StepError` instead.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("step `{step}` is not a valid component: {message}")]
    InvalidComponent { step: String, message: String },

    #[error("step `{step}`'s component is {size} bytes, over the {max}-byte limit for a component; it was not compiled")]
    ComponentTooLarge { step: String, size: u64, max: u64 },

    #[error(
        "step `{step}` imports `{import}`, which its grant does not include (granted: {granted}); \
         it was not run. Add the capability to the step's `grants` in ferry.toml if you trust it"
    )]
    ImportNotGranted { step: String, import: String, granted: String },

    #[error("step `{step}` imports `{import}`, which ferry does not provide; it was not run")]
    UnknownImport { step: String, import: String },

    #[error("step `{step}` does not export `{export}`: {message}")]
    MissingExport { step: String, export: String, message: String },

    #[error("step `{step}` ran past its {}s deadline and was stopped", deadline.as_secs_f64())]
    Timeout { step: String, deadline: Duration },

    /// `requested` is what the store's memories and tables would have held
    /// together, had the growth been allowed.
    #[error(
        "step `{step}` hit its memory cap of {} (its memories and tables asked for {} in all) and was stopped",
        mib(*cap, Rounding::Down), mib(*requested, Rounding::Up)
    )]
    MemoryLimit { step: String, cap: usize, requested: usize },

    #[error("step `{step}` panicked: {message}")]
    Panic { step: String, message: String },

    #[error("step `{step}` trapped: {message}")]
    Trap { step: String, message: String },

    #[error("preparing the WebAssembly engine: {0}")]
    Engine(String),
}

impl RuntimeError {
    /// The step the error is about, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            RuntimeError::InvalidComponent { step, .. }
            | RuntimeError::ComponentTooLarge { step, .. }
            | RuntimeError::ImportNotGranted { step, .. }
            | RuntimeError::UnknownImport { step, .. }
            | RuntimeError::MissingExport { step, .. }
            | RuntimeError::Timeout { step, .. }
            | RuntimeError::MemoryLimit { step, .. }
            | RuntimeError::Panic { step, .. }
            | RuntimeError::Trap { step, .. } => Some(step),
            RuntimeError::Engine(_) => None,
        }
    }
}

#[derive(Clone, Copy)]
enum Rounding {
    Down,
    Up,
}

/// `bytes` in MiB: exact when whole, else to two decimals. A cap rounds down
/// and a request past it rounds up, so the two never print as the same
/// number when they differ (a request is a page, or a table element, past
/// the cap at least).
fn mib(bytes: usize, rounding: Rounding) -> String {
    const MIB: u128 = 1 << 20;
    let bytes = bytes as u128;
    if bytes.is_multiple_of(MIB) {
        return format!("{} MiB", bytes / MIB);
    }
    let scaled = bytes * 100;
    let hundredths = match rounding {
        Rounding::Down => scaled / MIB,
        Rounding::Up => scaled.div_ceil(MIB),
    };
    format!("{}.{:02} MiB", hundredths / 100, hundredths % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory_limit(cap: usize, requested: usize) -> String {
        RuntimeError::MemoryLimit { step: "s".into(), cap, requested }.to_string()
    }

    #[test]
    fn a_request_one_page_past_the_cap_prints_differently() {
        assert_eq!(
            memory_limit(64 << 20, (64 << 20) + (64 << 10)),
            "step `s` hit its memory cap of 64 MiB (its memories and tables asked for 64.07 MiB in all) and was stopped"
        );
    }

    #[test]
    fn a_request_bytes_past_the_cap_still_prints_differently() {
        // A table element past a cap that is not a whole number of MiB.
        let cap = 100_000_000;
        assert_eq!(memory_limit(cap, cap + 8), "step `s` hit its memory cap of 95.36 MiB (its memories and tables asked for 95.37 MiB in all) and was stopped");
        assert_eq!(mib(1 << 30, Rounding::Up), "1024 MiB");
        assert_eq!(mib(1, Rounding::Up), "0.01 MiB");
        assert_eq!(mib(1, Rounding::Down), "0.00 MiB");
    }
}
