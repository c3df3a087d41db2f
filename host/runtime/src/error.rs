use std::time::Duration;

/// The host's errors about a step: it could not be loaded, or it trapped.
/// A step's own typed failure is `ferry_model::StepError` instead.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("step `{step}` is not a valid component: {message}")]
    InvalidComponent { step: String, message: String },

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

    #[error(
        "step `{step}` hit its memory cap of {} MiB (it asked to grow to {} MiB) and was stopped",
        cap >> 20, requested >> 20
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
