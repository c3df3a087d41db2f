use serde::{Deserialize, Serialize};
use wasmtime::component::{ComponentType, Lift, Lower};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(enum)]
#[repr(u8)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    #[component(name = "info")]
    Info,
    #[component(name = "warning")]
    Warning,
    #[component(name = "error")]
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Where in the user's files something was found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Location {
    pub file: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub key: Option<String>,
}

impl std::fmt::Display for Location {
    /// `fly.toml:12:5 (services[0].internal_port)`, as compilers print positions.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if let Some(key) = &self.key {
            write!(f, " ({key})")?;
        }
        Ok(())
    }
}

/// Something a person reviewing the plan should notice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Finding {
    pub code: String,
    pub severity: Severity,
    pub message: String,
    pub location: Option<Location>,
}

/// A failure described for a person: what is wrong and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Problem {
    pub message: String,
    pub location: Option<Location>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(at) => write!(f, "{at}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A step's own, typed failure (a trap is the host's error, not one of these).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(variant)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum StepError {
    #[component(name = "invalid-input")]
    InvalidInput(Problem),
    #[component(name = "unsupported")]
    Unsupported(Problem),
    #[component(name = "precondition-failed")]
    PreconditionFailed(Problem),
    #[component(name = "transient")]
    Transient(Problem),
}

impl StepError {
    pub fn problem(&self) -> &Problem {
        match self {
            StepError::InvalidInput(p) | StepError::Unsupported(p) | StepError::PreconditionFailed(p) | StepError::Transient(p) => p,
        }
    }

    /// A short label for the kind of failure.
    pub fn kind(&self) -> &'static str {
        match self {
            StepError::InvalidInput(_) => "invalid input",
            StepError::Unsupported(_) => "unsupported",
            StepError::PreconditionFailed(_) => "precondition failed",
            StepError::Transient(_) => "transient failure",
        }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.problem(), self.kind())
    }
}

impl std::error::Error for StepError {}
