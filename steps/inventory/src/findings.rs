//! Findings: what a person reviewing the inventory should notice. Each has
//! a stable code (documented in the crate docs) so scripts can act on it.

use ferry_step_sdk::types::{Finding, Location, Severity};

use crate::node::Pos;

/// Collects findings about one file.
#[derive(Debug)]
pub struct Findings {
    file: String,
    list: Vec<Finding>,
}

/// Where in the file: a position and a key path, either may be unknown.
#[derive(Clone, Debug, Default)]
pub struct Spot {
    pub pos: Option<Pos>,
    pub key: Option<String>,
}

impl Spot {
    pub fn new(pos: Option<Pos>, key: impl Into<String>) -> Self {
        let key = key.into();
        Spot { pos, key: (!key.is_empty()).then_some(key) }
    }
}

impl From<&crate::read::At<'_>> for Spot {
    fn from(at: &crate::read::At<'_>) -> Self {
        Spot::new(at.node.pos, at.path())
    }
}

impl Findings {
    pub fn new(file: impl Into<String>) -> Self {
        Findings { file: file.into(), list: Vec::new() }
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn add(&mut self, severity: Severity, code: &str, message: impl Into<String>, at: impl Into<Spot>) {
        let at = at.into();
        self.list.push(Finding {
            code: code.into(),
            severity,
            message: message.into(),
            location: Some(Location { file: self.file.clone(), line: at.pos.map(|p| p.line), column: at.pos.map(|p| p.column), key: at.key }),
        });
    }

    pub fn info(&mut self, code: &str, message: impl Into<String>, at: impl Into<Spot>) {
        self.add(Severity::Info, code, message, at);
    }

    pub fn warn(&mut self, code: &str, message: impl Into<String>, at: impl Into<Spot>) {
        self.add(Severity::Warning, code, message, at);
    }

    pub fn error(&mut self, code: &str, message: impl Into<String>, at: impl Into<Spot>) {
        self.add(Severity::Error, code, message, at);
    }

    /// A finding about the file as a whole.
    pub fn whole_file(&mut self, severity: Severity, code: &str, message: impl Into<String>) {
        self.add(severity, code, message, Spot::default());
    }

    /// Records a problem that makes flyctl reject the file (a wrong type, a
    /// form it cannot patch) as an error, so the rest is still inventoried,
    /// as flyctl's loader does before `Validate` fails.
    pub fn problem(&mut self, p: crate::read::Problem) {
        let message = format!("{}; flyctl rejects this file", p.message);
        self.error("invalid-config", message, Spot::new(p.pos, p.key));
    }

    /// The value, or `None` after recording the problem.
    pub fn keep<T>(&mut self, r: Result<T, crate::read::Problem>) -> Option<T> {
        r.map_err(|p| self.problem(p)).ok()
    }

    pub fn into_vec(self) -> Vec<Finding> {
        self.list
    }

    pub fn extend(&mut self, other: Findings) {
        self.list.extend(other.list);
    }
}
