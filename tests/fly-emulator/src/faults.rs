//! Fault injection: rules registered through the control API make matching
//! API requests slow, fail, or fail after having been performed (the
//! "408 after a successful create" quirk).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::emulator::Emulator;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// HTTP method to match; any method when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// Regex searched for in the request path (anchor it with `^…$` yourself).
    pub path: String,
    /// Status to answer with; a rule without one only adds latency.
    #[serde(default)]
    pub status: Option<u16>,
    /// How many matching requests the rule applies to; counts down.
    #[serde(default = "one")]
    pub times: u32,
    /// Perform the request for real, then answer with `status` anyway.
    #[serde(default)]
    pub after_success: bool,
    #[serde(default)]
    pub latency_ms: u64,
    /// Response body; `{"error": "injected fault"}` when absent.
    #[serde(default)]
    pub body: Option<Value>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<(FaultRule, Regex)>>,
}

/// Marks a response a fault rule produced or delayed, for the request log.
#[derive(Debug, Clone, Copy)]
pub struct InjectedFault;

impl Faults {
    /// Adds rules after validating all of them (none is added on error).
    pub fn add(&self, rules: Vec<FaultRule>) -> Result<(), String> {
        let compiled = rules
            .into_iter()
            .map(|rule| {
                if let Some(status) = rule.status {
                    StatusCode::from_u16(status).map_err(|_| format!("invalid status {status}"))?;
                }
                if let Some(method) = &rule.method {
                    Method::from_bytes(method.as_bytes()).map_err(|_| format!("invalid method {method:?}"))?;
                }
                let pattern = Regex::new(&rule.path).map_err(|e| format!("invalid path regex: {e}"))?;
                Ok((rule, pattern))
            })
            .collect::<Result<Vec<_>, String>>()?;
        self.lock().extend(compiled);
        Ok(())
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The rules still armed, with their remaining `times`.
    pub fn list(&self) -> Vec<FaultRule> {
        self.lock().iter().map(|(rule, _)| rule.clone()).collect()
    }

    /// The first armed rule matching the request; counts it down.
    fn take(&self, method: &Method, path: &str) -> Option<FaultRule> {
        let mut rules = self.lock();
        let index = rules
            .iter()
            .position(|(rule, pattern)| rule.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method.as_str())) && pattern.is_match(path))?;
        let rule = rules[index].0.clone();
        rules[index].0.times -= 1;
        if rules[index].0.times == 0 {
            rules.remove(index);
        }
        Some(rule)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(FaultRule, Regex)>> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub async fn middleware(State(emulator): State<Arc<Emulator>>, request: Request, next: Next) -> Response {
    let Some(rule) = emulator.faults.take(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    tokio::time::sleep(Duration::from_millis(rule.latency_ms)).await;
    let mut response = match rule.status {
        None => next.run(request).await,
        Some(status) => {
            if rule.after_success {
                next.run(request).await;
            }
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = rule.body.clone().unwrap_or_else(|| json!({"error": "injected fault"}));
            (status, axum::Json(body)).into_response()
        }
    };
    response.extensions_mut().insert(InjectedFault);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(method: Option<&str>, path: &str, times: u32) -> FaultRule {
        FaultRule { method: method.map(str::to_string), path: path.into(), status: Some(503), times, after_success: false, latency_ms: 0, body: None }
    }

    #[test]
    fn rules_match_method_and_path_and_count_down() {
        let faults = Faults::default();
        faults.add(vec![rule(Some("post"), "^/v1/apps/[^/]+/machines$", 2)]).unwrap();
        assert!(faults.take(&Method::GET, "/v1/apps/a/machines").is_none());
        assert!(faults.take(&Method::POST, "/v1/apps/a/machines/x").is_none());
        assert!(faults.take(&Method::POST, "/v1/apps/a/machines").is_some());
        assert_eq!(faults.list()[0].times, 1);
        assert!(faults.take(&Method::POST, "/v1/apps/a/machines").is_some());
        assert!(faults.take(&Method::POST, "/v1/apps/a/machines").is_none());
        assert!(faults.list().is_empty());
    }

    #[test]
    fn invalid_rules_are_refused_whole() {
        let faults = Faults::default();
        let mut bad_status = rule(None, "x", 1);
        bad_status.status = Some(1000);
        assert!(faults.add(vec![rule(None, "ok", 1), bad_status]).is_err());
        assert!(faults.add(vec![rule(None, "(", 1)]).is_err());
        assert!(faults.list().is_empty());
    }
}
