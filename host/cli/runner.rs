//! The GitHub Actions runner contract: the event that started the job, the
//! environment files a step writes its outputs and summary to, and workflow
//! commands. Everything written passes through the secret masker, and
//! ferry's own workflow commands are written only by [`workflow_command`].

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use ferry_model::{printable, printable_lines};
use serde_json::Value;

use crate::mask::Masker;

/// The GitHub client for `GITHUB_REPOSITORY` at `GITHUB_API_URL` (GHES: `https://HOST/api/v3`).
pub fn github_from_env() -> anyhow::Result<ferry_github::GitHub> {
    let token = std::env::var("GITHUB_TOKEN")
        .or_else(|_| std::env::var("GH_TOKEN"))
        .context("GITHUB_TOKEN is not set: pass `github-token` to the action (or set GITHUB_TOKEN)")?;
    let repository = std::env::var("GITHUB_REPOSITORY").context("GITHUB_REPOSITORY is not set (not inside GitHub Actions?)")?;
    let api = std::env::var("GITHUB_API_URL").unwrap_or_else(|_| "https://api.github.com".into());
    Ok(ferry_github::GitHub::new(&api, &token, &repository)?)
}

/// The job ferry runs in.
#[derive(Debug)]
pub struct Runner {
    pub event_name: String,
    pub event: Value,
    pub repository: String,
    pub run_url: Option<String>,
    output: Option<PathBuf>,
    summary: Option<PathBuf>,
}

impl Runner {
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let event_name = var("GITHUB_EVENT_NAME").context("GITHUB_EVENT_NAME is not set: `ferry ci` runs inside GitHub Actions")?;
        let event = match var("GITHUB_EVENT_PATH") {
            Some(path) => {
                let text = std::fs::read_to_string(&path).with_context(|| format!("reading the event payload {path}"))?;
                serde_json::from_str(&text).with_context(|| format!("the event payload {path} is not JSON"))?
            }
            None => Value::Null,
        };
        let run_url = match (var("GITHUB_SERVER_URL"), var("GITHUB_REPOSITORY"), var("GITHUB_RUN_ID")) {
            (Some(s), Some(r), Some(id)) => Some(format!("{s}/{r}/actions/runs/{id}")),
            _ => None,
        };
        Ok(Runner {
            event_name,
            event,
            repository: var("GITHUB_REPOSITORY").unwrap_or_default(),
            run_url,
            output: var("GITHUB_OUTPUT").map(PathBuf::from),
            summary: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        })
    }

    /// Sets a step output (`$GITHUB_OUTPUT`), with a heredoc for multi-line values.
    pub fn output(&self, key: &str, value: &str) -> anyhow::Result<()> {
        let Some(path) = &self.output else { return Ok(()) };
        append(path, &output_entry(key, &Masker::global().mask(value))?)
    }

    /// Appends Markdown to the job summary (cut to GitHub's 1 MiB limit).
    pub fn summary(&self, markdown: &str) -> anyhow::Result<()> {
        let Some(path) = &self.summary else { return Ok(()) };
        append(path, &ferry_render::comment::summary(&Masker::global().mask(markdown)))
    }

    /// `::error file=…,line=…::` annotations for the worst findings (GitHub
    /// shows at most 10 errors and 10 warnings per step).
    pub fn annotate(&self, findings: &[ferry_model::Finding]) {
        use ferry_model::Severity;
        for (severity, command) in [(Severity::Error, "error"), (Severity::Warning, "warning")] {
            for f in findings.iter().filter(|f| f.severity == severity).take(10) {
                let mut props = Vec::new();
                if let Some(at) = &f.location {
                    props.push(format!("file={}", property(&at.file)));
                    if let Some(line) = at.line {
                        props.push(format!("line={line}"));
                    }
                    if let Some(col) = at.column {
                        props.push(format!("col={col}"));
                    }
                }
                props.push(format!("title={}", property(&f.code)));
                workflow_command(&format!("{command} {}", props.join(",")), &f.message);
            }
        }
    }

    /// An error annotation on the run: where a failed apply's reason
    /// shows in the job log (the live log only says where it stopped).
    pub fn error(&self, message: &str) {
        workflow_command("error", message);
    }

    /// A warning annotation on the run.
    pub fn warning(&self, message: &str) {
        workflow_command("warning", message);
    }
}

/// Writes `::{command}::{message}` on stdout, the message masked, made
/// printable (a finding's message is the step's text: no escape sequence
/// reaches the log) and escaped. ferry's own workflow commands are written
/// here, straight to the stream: everything else ferry prints goes through
/// the guard (`guard.rs`), which breaks any line that would read as a command.
fn workflow_command(command: &str, message: &str) {
    // Each line made printable on its own, then joined by `%0A`: a
    // message over several lines (a machine's last log lines) shows as
    // such in the annotation, and is still one line of the log.
    let line = format!("::{command}::{}\n", escape(&printable_lines(&Masker::global().mask(message), "\n")));
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(line.as_bytes()).and_then(|()| stdout.flush());
}

/// One `$GITHUB_OUTPUT` entry: `key=value`, or for a value over several
/// lines a heredoc. Its delimiter is random (GitHub's advice): a value that
/// came from a pull request (an image name) could otherwise hold the
/// delimiter on a line of its own and set outputs ferry did not write.
fn output_entry(key: &str, value: &str) -> anyhow::Result<String> {
    if !value.contains(['\n', '\r']) {
        return Ok(format!("{key}={value}\n"));
    }
    let delimiter = loop {
        let delimiter = random_delimiter()?;
        // 128 random bits are never in the value, but checking costs nothing.
        if !value.contains(&delimiter) {
            break delimiter;
        }
    };
    Ok(format!("{key}<<{delimiter}\n{value}\n{delimiter}\n"))
}

/// `ferry_` and 128 bits from the operating system's random source, in hex.
fn random_delimiter() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random bytes for a $GITHUB_OUTPUT delimiter: {e}"))?;
    Ok(format!("ferry_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

fn append(path: &PathBuf, text: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).with_context(|| format!("opening {}", path.display()))?;
    f.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

/// Escapes a workflow command's property value (also `:` and `,`), made
/// printable first as a message is.
fn property(s: &str) -> String {
    escape(&printable(s)).replace(':', "%3A").replace(',', "%2C")
}

/// Escapes a workflow command's message (`%`, CR, LF).
fn escape(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_line_output_gets_a_fresh_random_delimiter() {
        let value = "line 1\nferry_gh_4242_1\n::set-output name=x::y";
        let first = output_entry("image", value).unwrap();
        let delimiter = first.lines().next().unwrap().strip_prefix("image<<").unwrap().to_string();
        assert!(delimiter.starts_with("ferry_") && delimiter.len() == 6 + 32, "{delimiter}");
        assert_eq!(first, format!("image<<{delimiter}\n{value}\n{delimiter}\n"));
        let second = output_entry("image", value).unwrap();
        assert_ne!(second.lines().next(), first.lines().next(), "a delimiter is never reused");
        assert_eq!(output_entry("outcome", "applied").unwrap(), "outcome=applied\n");
        assert!(output_entry("note", "a\rb").unwrap().starts_with("note<<ferry_"), "a carriage return gets a heredoc too");
    }
}
