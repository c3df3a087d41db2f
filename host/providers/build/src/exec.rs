//! Running a build or push [`Command`]: the one place ferry-build starts a
//! process.
//!
//! The engine gets this process's environment minus every credential it
//! was not given: the CI's tokens (`FLY_API_TOKEN`, `GITHUB_TOKEN`, …) and
//! every `FERRY_SECRET_*` the build did not name. A Dockerfile is the
//! checkout's code; what its engine can read is what the build asked for.
//!
//! Its output (stdout and stderr, interleaved as written) reaches the
//! caller line by line as it comes, so a long build shows progress through
//! the caller's logging, which masks secrets and escapes what a CI runner
//! would read as a command.

use std::io::{BufRead, BufReader};

use ferry_secrets::{SECRET_PREFIX, TOKEN_VARS};

use crate::BuildError;
use crate::commands::Command;

/// Runs `command` with the build secrets `secrets` (names) readable, handing
/// each output line to `line`; the output's lines when it exits 0.
pub fn run(command: &Command, secrets: &[String], line: &mut dyn FnMut(&str)) -> Result<Vec<String>, BuildError> {
    let failed = |why: String| BuildError::Failed { command: command.to_string(), why };
    let (reader, writer) = std::io::pipe().map_err(|e| failed(format!("a pipe for its output: {e}")))?;
    let mut child = {
        let mut process = std::process::Command::new(command.program);
        process.args(&command.args).envs(command.env.iter().map(|(name, value)| (name, value))).stdin(std::process::Stdio::null());
        let present = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
        for name in withheld_vars(present, secrets) {
            process.env_remove(name);
        }
        let stderr = writer.try_clone().map_err(|e| failed(format!("a pipe for its output: {e}")))?;
        process.stdout(writer).stderr(stderr);
        process.spawn().map_err(|e| failed(format!("could not start {}: {e}", command.program)))?
        // `process`, holding the pipe's write ends, is dropped here: the
        // read below ends when the child (and anything it left running) closes its own.
    };
    let mut lines = Vec::new();
    for text in BufReader::new(reader).lines() {
        let text = text.map_err(|e| failed(format!("reading its output: {e}")))?;
        line(&text);
        lines.push(text);
    }
    let status = child.wait().map_err(|e| failed(format!("waiting for it: {e}")))?;
    if !status.success() {
        let last = lines.iter().rev().find(|l| !l.trim().is_empty()).cloned().unwrap_or_default();
        return Err(failed(format!("{status}; its last line: {last}")));
    }
    Ok(lines)
}

/// Of the variables `present`, those the engine must not see: the CI's
/// tokens, and each `FERRY_SECRET_*` that is not one of `secrets`.
fn withheld_vars(present: impl Iterator<Item = String>, secrets: &[String]) -> Vec<String> {
    let given: Vec<String> = secrets.iter().map(|name| format!("{SECRET_PREFIX}{name}")).collect();
    present.filter(|name| TOKEN_VARS.contains(&name.as_str()) || (name.starts_with(SECRET_PREFIX) && !given.contains(name))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        Command { program: "sh", env: vec![], args: vec!["-c".into(), script.into()] }
    }

    #[test]
    fn the_engine_sees_only_the_secrets_it_was_given() {
        let present = ["PATH", "HOME", "DOCKER_HOST", "FLY_API_TOKEN", "GITHUB_TOKEN", "FERRY_SECRET_NPM_TOKEN", "FERRY_SECRET_DATABASE_URL", "FERRY_STATE"];
        let withheld = withheld_vars(present.iter().map(|v| v.to_string()), &["NPM_TOKEN".into()]);
        assert_eq!(withheld, ["FLY_API_TOKEN", "GITHUB_TOKEN", "FERRY_SECRET_DATABASE_URL"]);
    }

    #[test]
    fn every_line_reaches_the_caller_as_it_comes() {
        let mut seen = Vec::new();
        let mut command = sh("echo \"one $FROM_THE_COMMAND\"; echo two >&2; echo three");
        command.env.push(("FROM_THE_COMMAND", "1".into()));
        let lines = run(&command, &[], &mut |l| seen.push(l.to_string())).unwrap();
        assert_eq!(lines, ["one 1", "two", "three"]);
        assert_eq!(seen, lines);
    }

    #[test]
    fn a_failure_names_the_command_its_status_and_last_line() {
        let err = run(&sh("echo step 1; echo 'no space left' >&2; exit 3"), &[], &mut |_| {}).unwrap_err().to_string();
        assert_eq!(err, "sh -c 'echo step 1; echo '\\''no space left'\\'' >&2; exit 3' failed: exit status: 3; its last line: no space left");
        let err = run(&Command { program: "ferry-no-such-engine", env: vec![], args: vec![] }, &[], &mut |_| {}).unwrap_err().to_string();
        assert!(err.starts_with("ferry-no-such-engine failed: could not start ferry-no-such-engine: "), "{err}");
    }
}
