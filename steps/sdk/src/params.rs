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
    /// be ignored silently), suggesting the one it is closest to.
    pub fn only(&self, step: &str, specs: &[Spec]) -> Result<(), StepError> {
        let names = || specs.iter().map(|(name, _, _)| *name);
        match self.0.iter().find(|(k, _)| !names().any(|name| name == k)) {
            Some((unknown, _)) => Err(invalid(format!(
                "{step} has no parameter `{unknown}`{}; it takes: {}",
                suggestion(unknown, names()),
                names().collect::<Vec<_>>().join(", ")
            ))),
            None => Ok(()),
        }
    }

    /// A comma-separated list; `None` when absent.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        self.get(name).map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
    }
}

/// The candidate `word` is most likely a misspelling of, if any is close
/// enough: clap's rule for misspelt flags (Jaro similarity above 0.7), or,
/// for the short names Jaro is blind to (`wbe` for `web`), at most one edit
/// (or transposition) per three letters. So `stratgy` finds `strategy` and
/// `wrker` finds `worker`, while an unrelated word finds nothing.
pub fn did_you_mean<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let close = |candidate: &str| strsim::jaro(word, candidate) > 0.7 || strsim::osa_distance(word, candidate) <= (candidate.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|candidate| close(candidate))
        .map(|candidate| (strsim::jaro_winkler(word, candidate), candidate))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// ` (did you mean `strategy`?)`, or nothing when no candidate is close.
pub fn suggestion<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> String {
    did_you_mean(word, candidates).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[Spec] = &[("strategy", "", None), ("image", "", None), ("wait-timeout", "", None)];

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_misspelt_parameter_is_refused_with_the_one_it_resembles() {
        let given = params(&[("image", "x"), ("stratgy", "canary")]);
        let Err(StepError::InvalidInput(p)) = Params(&given).only("deploy", SPECS) else { panic!("a typo must be refused") };
        assert_eq!(p.message, "deploy has no parameter `stratgy` (did you mean `strategy`?); it takes: strategy, image, wait-timeout");
        let unrelated = params(&[("colour", "blue")]);
        let Err(StepError::InvalidInput(p)) = Params(&unrelated).only("deploy", SPECS) else { panic!() };
        assert!(!p.message.contains("did you mean"), "nothing resembles `colour`: {}", p.message);
        assert!(Params(&params(&[("strategy", "rolling")])).only("deploy", SPECS).is_ok());
    }

    #[test]
    fn did_you_mean_picks_the_closest_likely_typo() {
        assert_eq!(did_you_mean("wrker", ["web", "worker"]), Some("worker"));
        assert_eq!(did_you_mean("wbe", ["web", "worker"]), Some("web"));
        assert_eq!(did_you_mean("release", ["web", "worker"]), None);
        assert_eq!(did_you_mean("x", []), None);
        assert_eq!(suggestion("wait-timout", ["wait-timeout"]), " (did you mean `wait-timeout`?)");
    }
}
