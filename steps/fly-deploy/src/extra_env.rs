//! `--env NAME=VALUE` (repeatable) and `--primary-region`: fly.toml
//! settings a deploy overrides for this run only.
//!
//! flyctl merges `--env` over `[env]` and sets `--primary-region` on the app
//! config before it builds anything (`determineAppConfigForMachines`,
//! `flyctl:internal/command/deploy/machines.go:810-855`; `deploy.go:746-754`).
//! So both reach every machine, updated or new, the release command machine
//! and the release definition; and the region is where new machines, the
//! release command and first-deploy volumes go. `FLY_PROCESS_GROUP` and
//! `PRIMARY_REGION` are still written after `[env]`, as flyctl writes them,
//! so `--env PRIMARY_REGION=x` does not outvote `--primary-region`.
//!
//! The step parameter `env` holds one `NAME=VALUE` per line, so a
//! ferry.toml can write it as a multi-line string, or a JSON list of them
//! (what the CLI passes: a value may then hold a line break).

use ferry_step_sdk::params::invalid;
use ferry_step_sdk::types::{AppSpec, StepError};

/// `NAME=VALUE` entries, split at the first `=` as flyctl's
/// `ParseKVStringsToMap` splits them.
pub fn parse(entries: &[String]) -> Result<Vec<(String, String)>, StepError> {
    entries
        .iter()
        .map(|line| match line.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => Ok((name.trim().to_string(), value.to_string())),
            _ => Err(invalid(format!("env `{line}` must be in the format NAME=VALUE"))),
        })
        .collect()
}

/// fly.toml as this deploy sees it: `--primary-region` and `--env` applied.
/// Applying twice changes nothing.
pub fn apply(app: &mut AppSpec, env: &[(String, String)], primary_region: Option<&str>) {
    if let Some(region) = primary_region {
        app.primary_region = Some(region.to_string());
    }
    for (name, value) in env {
        match app.env.iter_mut().find(|(k, _)| k == name) {
            Some(entry) => entry.1 = value.clone(),
            None => app.env.push((name.clone(), value.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_split_at_the_first_equals_sign() {
        let entries = |list: &[&str]| list.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        let env = parse(&entries(&["LOG_LEVEL=debug", "DATABASE_OPTS=a=b", "EMPTY="])).unwrap();
        assert_eq!(env, [("LOG_LEVEL".into(), "debug".into()), ("DATABASE_OPTS".into(), "a=b".into()), ("EMPTY".into(), String::new())]);
        let Err(StepError::InvalidInput(p)) = parse(&entries(&["LOG_LEVEL"])) else { panic!("no `=` is refused") };
        assert_eq!(p.message, "env `LOG_LEVEL` must be in the format NAME=VALUE");
        assert!(parse(&entries(&["=value"])).is_err(), "a name is needed");
    }
}
