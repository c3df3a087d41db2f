//! A step's parameters, read with the messages every step would otherwise
//! write itself: a whole number, a flag, one of a few words.

use crate::step::ParamInfo;
use crate::types::{Finding, Problem, Severity, StepError};

/// A parameter as a planner declares it: name, what it does, its default.
pub type Spec = (&'static str, &'static str, Option<&'static str>);

/// The `params` of `describe()`, from a planner's table; the names in
/// `required` have no default and must be given.
pub fn param_infos(specs: &[Spec], required: &[&str]) -> Vec<ParamInfo> {
    specs
        .iter()
        .map(|(name, description, default)| ParamInfo {
            name: (*name).into(),
            description: (*description).into(),
            required: required.contains(name),
            default: default.map(str::to_string),
        })
        .collect()
}

/// The `params` of a plan request. A later entry wins over an earlier one
/// (the CLI appends overrides); blank values count as absent.
#[derive(Clone, Copy, Debug)]
pub struct Params<'a>(pub &'a [(String, String)]);

impl<'a> Params<'a> {
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    pub fn number(&self, name: &str, default: u64) -> Result<u64, StepError> {
        match self.get(name) {
            Some(v) => v.replace('_', "").parse().map_err(|_| invalid(format!("{name} `{v}` must be a whole number"))),
            None => Ok(default),
        }
    }

    /// `true`/`false` (also `yes`/`no`, `1`/`0`, as YAML and shells write them).
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, StepError> {
        match self.get(name) {
            None => Ok(default),
            Some("true" | "yes" | "1") => Ok(true),
            Some("false" | "no" | "0") => Ok(false),
            Some(v) => Err(invalid(format!("{name} `{v}` must be true or false"))),
        }
    }

    /// One of `allowed`, or `default` when absent.
    pub fn one_of(&self, name: &str, allowed: &[&'a str], default: &'a str) -> Result<&'a str, StepError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) if allowed.contains(&v) => Ok(v),
            Some(v) => Err(invalid(format!("{name} `{v}` must be one of: {}", allowed.join(", ")))),
        }
    }

    /// Refuses a parameter that is not in `specs` (a typo would otherwise
    /// be ignored silently).
    pub fn only(&self, step: &str, specs: &[Spec]) -> Result<(), StepError> {
        match self.0.iter().find(|(k, _)| !specs.iter().any(|(name, _, _)| name == k)) {
            Some((unknown, _)) => Err(invalid(format!("{step} has no parameter `{unknown}`"))),
            None => Ok(()),
        }
    }

    /// A comma-separated list; `None` when absent.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        self.get(name).map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
    }
}

/// The error for a parameter a person got wrong.
pub fn invalid(message: impl Into<String>) -> StepError {
    StepError::InvalidInput(Problem { message: message.into(), location: None })
}

/// The error for a state of the world the step cannot plan from (nothing
/// to roll back to, a missing app-spec…): not the user's typing.
pub fn precondition(message: impl Into<String>) -> StepError {
    StepError::PreconditionFailed(Problem { message: message.into(), location: None })
}

/// A finding without a location.
pub fn finding(code: &str, severity: Severity, message: impl Into<String>) -> Finding {
    Finding { code: code.into(), severity, message: message.into(), location: None }
}
