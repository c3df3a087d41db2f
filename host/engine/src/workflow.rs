//! `ferry.toml`: which steps a repository's workflow runs, with what grants,
//! limits and parameters.
//!
//! ```toml
//! [limits]                       # defaults for every step
//! deadline = "10s"
//! memory = "256MiB"
//!
//! [[steps]]
//! name = "parse-config"          # a built-in step
//!
//! [[steps]]
//! name = "require-region"        # a custom step: a component pinned by sha256
//! component = "ci/require-region.wasm"
//! sha256 = "9f86d081884c7d65…"
//! grants = ["log", "checkout"]    # what it may read
//! actions = ["checkout"]         # what it may propose (default: approvals and waits only)
//! deadline = "2s"
//! params = { region = "ams" }
//!
//! [[steps]]
//! name = "deploy"                # a built-in step with parameters; `${…}`
//! params = { image = "registry.fly.io/shop:${GITHUB_SHA}" }  # reads GitHub's run variables
//!
//! [dns.zones."example.com."]     # a zone steps may read and ferry may change
//! provider = "rfc2136"           # or "powerdns" (url, api_key_env), "cloudflare" (token_env)
//! server = "ns1.example.com:53"
//! tsig_key_env = "FERRY_SECRET_TSIG"   # the env var holding `hmac-sha256:name:secret`
//! verify = ["ns1.example.com:53", "ns2.example.com:53"]
//!
//! [data.postgres.main]           # a database copy-data may read and copy
//! source_env = "FERRY_SECRET_SOURCE_DATABASE_URL"   # env vars holding the URLs
//! target_env = "FERRY_SECRET_TARGET_DATABASE_URL"
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::policy::OperationGrant;
use ferry_runtime::{Grants, Limits};
use serde::Deserialize;

/// The file a workflow is read from, at the checkout root.
pub const WORKFLOW_FILE: &str = "ferry.toml";

#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// A parsed workflow.
#[derive(Clone, Debug, PartialEq)]
pub struct Workflow {
    /// Where it came from; `None` for the default workflow.
    pub file: Option<PathBuf>,
    pub steps: Vec<StepSpec>,
    /// DNS zones steps may read and the host may change (`[dns.zones]`).
    pub dns: Vec<crate::dns::ZoneConfig>,
    /// Databases copy-data may read and copy (`[data.postgres]`).
    pub data: Vec<crate::data::DatabaseConfig>,
    /// Volumes copy-data may read and copy (`[data.volumes]`).
    pub volumes: Vec<crate::data::VolumeConfig>,
    /// Docker hosts deploys may target (`[targets.vm]`).
    pub vm_targets: Vec<crate::vm::VmTargetConfig>,
}

/// One step of a workflow.
#[derive(Clone, Debug, PartialEq)]
pub struct StepSpec {
    pub name: String,
    /// A custom component (path relative to the workflow file) and its
    /// pinned sha256; `None` for a built-in step.
    pub component: Option<(PathBuf, String)>,
    /// Grants for a custom step; built-in steps have fixed grants.
    pub grants: Option<Grants>,
    /// The operation classes a custom step may propose (`actions = [...]`);
    /// built-in steps have fixed ones.
    pub actions: Option<OperationGrant>,
    pub limits: Limits,
    pub params: Vec<(String, String)>,
}

impl StepSpec {
    /// Sets parameter `key`, replacing any value it had.
    pub fn set_param(&mut self, key: &str, value: &str) {
        self.params.retain(|(k, _)| k != key);
        self.params.push((key.to_string(), value.to_string()));
    }
}

impl Workflow {
    /// The workflow used when a repository has no `ferry.toml`.
    pub fn default_workflow() -> Self {
        Workflow {
            file: None,
            steps: vec![builtin("parse-config", Limits::default())],
            dns: Vec::new(),
            data: Vec::new(),
            volumes: Vec::new(),
            vm_targets: Vec::new(),
        }
    }

    /// The workflow with the built-in step `name` appended, unless it has a
    /// step of that name already (`ferry deploy` on a repository whose
    /// ferry.toml lists only checks of its own).
    pub fn with_builtin(mut self, name: &str) -> Self {
        if !self.steps.iter().any(|s| s.name == name) {
            let limits = self.steps.first().map(|s| s.limits).unwrap_or_default();
            self.steps.push(builtin(name, limits));
        }
        self
    }

    /// Sets a parameter of every step called `step` (e.g. parse-config's
    /// `config`, from `--config`), replacing any value the file gave.
    pub fn set_param(&mut self, step: &str, key: &str, value: &str) {
        for spec in self.steps.iter_mut().filter(|s| s.name == step) {
            spec.set_param(key, value);
        }
    }

    /// The sha256 of everything in the workflow that decides what a plan
    /// does and where it reaches: each step (name, component sha256, grants,
    /// limits, params) and every `[dns]`, `[data]` and `[targets]` setting.
    /// Paths are left out (the same plan is made in a CI worktree and in a
    /// checkout elsewhere), so a component counts by its pinned hash.
    ///
    /// The settings enter through their `Debug` form on purpose: a field
    /// added to any of them is covered without anyone remembering to add it
    /// here, which matters more than a format stable across ferry versions
    /// (a plan is applied by the version that made it, or made again).
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        // A step's params are a map: the same values set in another order
        // (a flag's, or one the host set after the session opened, as an
        // image it built) are the same workflow.
        let sorted = |params: &[(String, String)]| {
            let mut params = params.to_vec();
            params.sort();
            params
        };
        let steps: Vec<_> = self
            .steps
            .iter()
            .map(|s| (&s.name, s.component.as_ref().map(|(_, sha)| sha), s.grants.as_ref().map(|g| g.to_string()), s.limits, sorted(&s.params)))
            .collect();
        let settings = format!("steps {steps:?}\ndns {:?}\ndata {:?}\nvolumes {:?}\nvm {:?}\n", self.dns, self.data, self.volumes, self.vm_targets);
        hex::encode(Sha256::digest(settings.as_bytes()))
    }

    /// Where this workflow sends credentials differently from `trusted`
    /// (the default branch's ferry.toml): every `[dns.zones]`,
    /// `[data.postgres]`, `[data.volumes]` and `[targets.vm]` entry added,
    /// removed or changed. Each of them names an endpoint together with the
    /// variable whose credential goes there, or a command run on a host
    /// with a key, so any change is a change of where a credential goes.
    pub fn binding_changes(&self, trusted: &Workflow) -> Vec<String> {
        let mut changes = Vec::new();
        diff(&mut changes, "dns.zones", &trusted.dns, &self.dns, |z| format!("\"{}\"", z.zone));
        diff(&mut changes, "data.postgres", &trusted.data, &self.data, |d| d.name.clone());
        diff(&mut changes, "data.volumes", &trusted.volumes, &self.volumes, |v| v.name.clone());
        diff(&mut changes, "targets.vm", &trusted.vm_targets, &self.vm_targets, |t| t.name.clone());
        changes
    }

    /// Reads `ferry.toml` from `dir` if present, else the default workflow.
    pub fn discover(dir: &Path) -> Result<Self, WorkflowError> {
        let path = dir.join(WORKFLOW_FILE);
        if path.is_file() { Self::load(&path) } else { Ok(Self::default_workflow()) }
    }

    pub fn load(path: &Path) -> Result<Self, WorkflowError> {
        let text = std::fs::read_to_string(path).map_err(|source| WorkflowError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, WorkflowError> {
        let invalid = |message: String| WorkflowError::Invalid { path: path.display().to_string(), message };
        let raw: RawWorkflow = toml::from_str(text).map_err(|e| invalid(toml_error(text, &e)))?;
        let defaults = raw.limits.unwrap_or_default().apply(Limits::default()).map_err(&invalid)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let steps = raw
            .steps
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let name = s.name.clone();
                s.into_spec(base, defaults).map_err(|m| invalid(format!("steps[{i}] `{name}`: {m}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if steps.is_empty() {
            return Err(invalid("no [[steps]]: a workflow needs at least one step".into()));
        }
        let dns = raw.dns.map(|d| d.zones).unwrap_or_default();
        let dns = dns.into_iter().map(|(zone, raw)| crate::dns::ZoneConfig::parse(&zone, raw)).collect::<Result<_, _>>().map_err(&invalid)?;
        let (data, volumes) = raw.data.map(|d| d.parse()).transpose().map_err(&invalid)?.unwrap_or_default();
        let vm_targets: Vec<crate::vm::VmTargetConfig> = raw.targets.map(|t| t.parse()).transpose().map_err(&invalid)?.unwrap_or_default();
        for db in &data {
            if let crate::data::DatabaseTarget::Vm { target, .. } = &db.target
                && !vm_targets.iter().any(|t| &t.name == target)
            {
                return Err(invalid(format!("[data.postgres.{}] target_vm: no [targets.vm.{target}] is configured", db.name)));
            }
        }
        Ok(Workflow { file: Some(path.to_path_buf()), steps, dns, data, volumes, vm_targets })
    }
}

/// A `*_env` setting: the name of the variable that holds a credential,
/// which must be a `FERRY_SECRET_*` one (see [`ferry_secrets::check_credential_var`]).
pub(crate) fn credential_var(at: &str, key: &str, var: &str) -> Result<String, String> {
    ferry_secrets::check_credential_var(var).map(|()| var.to_string()).map_err(|e| format!("{at} {key}: {e}"))
}

/// Each entry of `table` added, removed or changed between `before` and
/// `after`, by `key`, as `[table.key] added|removed|changed`.
fn diff<T: PartialEq>(out: &mut Vec<String>, table: &str, before: &[T], after: &[T], key: impl Fn(&T) -> String) {
    let keys: std::collections::BTreeSet<String> = before.iter().chain(after).map(&key).collect();
    for k in keys {
        let (b, a) = (before.iter().find(|x| key(x) == k), after.iter().find(|x| key(x) == k));
        let what = match (b, a) {
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            (Some(b), Some(a)) if b != a => "changed",
            _ => continue,
        };
        out.push(format!("[{table}.{k}] {what}"));
    }
}

fn builtin(name: &str, limits: Limits) -> StepSpec {
    StepSpec { name: name.into(), component: None, grants: None, actions: None, limits, params: Vec::new() }
}

/// "line 3, column 1: unknown field `deadlin`, expected one of …"
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim();
    let Some(span) = e.span() else { return message.to_string() };
    let start = unknown_key_offset(text, span.start, message).unwrap_or(span.start).min(text.len());
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}: {message}")
}

/// toml reports an unknown field at its table; point at the key itself.
fn unknown_key_offset(text: &str, from: usize, message: &str) -> Option<usize> {
    let key = message.strip_prefix("unknown field `")?.split('`').next()?;
    let mut offset = from;
    for line in text.get(from..)?.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(key)
            && rest.trim_start().starts_with(['=', '.'])
        {
            return Some(offset + (line.len() - trimmed.len()));
        }
        offset += line.len();
    }
    None
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    limits: Option<RawLimits>,
    dns: Option<RawDns>,
    data: Option<crate::data::RawData>,
    targets: Option<crate::vm::RawTargets>,
    #[serde(default)]
    steps: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDns {
    #[serde(default)]
    zones: std::collections::BTreeMap<String, crate::dns::RawZone>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    deadline: Option<String>,
    memory: Option<String>,
    hostcall_bytes: Option<String>,
    file_bytes: Option<String>,
}

impl RawLimits {
    /// `limits` with this table's keys applied. A value above the host's
    /// maximum ([`Limits::MAX`]) is refused, not clamped: ferry.toml comes
    /// from the pull request, and a silent clamp would hide what it asked for.
    fn apply(&self, mut limits: Limits) -> Result<Limits, String> {
        let max = Limits::MAX;
        if let Some(d) = &self.deadline {
            limits.deadline = at_most("deadline", d, duration(d)?, max.deadline, |d| humantime::format_duration(d).to_string())?;
        }
        if let Some(m) = &self.memory {
            limits.memory_bytes = at_most("memory", m, bytes(m, "memory")?, max.memory_bytes as u64, show_bytes)? as usize;
        }
        if let Some(h) = &self.hostcall_bytes {
            limits.hostcall_bytes = at_most("hostcall_bytes", h, bytes(h, "hostcall_bytes")?, max.hostcall_bytes as u64, show_bytes)? as usize;
        }
        if let Some(f) = &self.file_bytes {
            limits.file_bytes = at_most("file_bytes", f, bytes(f, "file_bytes")?, max.file_bytes, show_bytes)?;
        }
        Ok(limits)
    }
}

/// `value` if it is at most `max`; else an error naming the key, what was
/// written and the maximum.
fn at_most<T: PartialOrd + Copy>(key: &str, text: &str, value: T, max: T, show: impl Fn(T) -> String) -> Result<T, String> {
    if value > max {
        return Err(format!("{key} = \"{text}\" is above ferry's maximum of {} for a step; lower it", show(max)));
    }
    Ok(value)
}

/// A byte count as ferry.toml would write it ("1GiB", "64MiB").
fn show_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    match UNITS.iter().find(|(_, size)| n.is_multiple_of(*size)) {
        Some((unit, size)) => format!("{}{unit}", n / size),
        None => format!("{n}B"),
    }
}

fn duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| format!("deadline `{text}`: {e} (write e.g. \"10s\" or \"500ms\")"))?;
    if d.is_zero() {
        return Err("deadline must be more than zero".into());
    }
    Ok(d)
}

fn bytes(text: &str, what: &str) -> Result<u64, String> {
    let size: bytesize::ByteSize = text.parse().map_err(|e| format!("{what} `{text}`: {e} (write e.g. \"256MiB\")"))?;
    if size.as_u64() == 0 {
        return Err(format!("{what} must be more than zero"));
    }
    Ok(size.as_u64())
}

/// Expands `${NAME}` in a parameter from the environment, for values a
/// workflow file cannot know, such as the image CI just built
/// (`registry.fly.io/app:${GITHUB_SHA}`). Only GitHub's run variables and
/// `FERRY_VAR_*` can be read: a plan is shown in pull requests, so a param
/// must never pull in a secret.
fn expand(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| format!("`${{` without a closing `}}` in `{text}`"))?;
        let name = &after[..end];
        if !readable(name) {
            return Err(format!(
                "`${{{name}}}` cannot be read here: params may use GitHub's run variables (GITHUB_SHA, GITHUB_REF_NAME, …) \
                 and FERRY_VAR_* only, so no secret can reach a plan"
            ));
        }
        let value = std::env::var(name).map_err(|_| format!("`${{{name}}}` is not set in the environment"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn readable(name: &str) -> bool {
    const GITHUB: &[&str] = &[
        "GITHUB_SHA",
        "GITHUB_REF",
        "GITHUB_REF_NAME",
        "GITHUB_HEAD_REF",
        "GITHUB_BASE_REF",
        "GITHUB_RUN_ID",
        "GITHUB_RUN_NUMBER",
        "GITHUB_RUN_ATTEMPT",
        "GITHUB_REPOSITORY",
        "GITHUB_ACTOR",
        "GITHUB_EVENT_NAME",
    ];
    GITHUB.contains(&name) || (name.starts_with("FERRY_VAR_") && name.len() > "FERRY_VAR_".len())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: String,
    component: Option<PathBuf>,
    sha256: Option<String>,
    grants: Option<Vec<String>>,
    actions: Option<Vec<String>>,
    // The step's own limits, as in `[limits]`. Not a flattened `RawLimits`:
    // serde's flatten cannot be combined with deny_unknown_fields, and
    // without it an unknown key's error could not list the valid ones.
    deadline: Option<String>,
    memory: Option<String>,
    hostcall_bytes: Option<String>,
    file_bytes: Option<String>,
    #[serde(default)]
    params: toml::Table,
}

impl RawStep {
    fn into_spec(self, base: &Path, defaults: Limits) -> Result<StepSpec, String> {
        let own = RawLimits { deadline: self.deadline, memory: self.memory, hostcall_bytes: self.hostcall_bytes, file_bytes: self.file_bytes };
        let limits = own.apply(defaults)?;
        let params = self
            .params
            .into_iter()
            .map(|(k, v)| match v {
                toml::Value::String(s) => expand(&s).map(|s| (k.clone(), s)).map_err(|e| format!("params.{k}: {e}")),
                toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => Ok((k, v.to_string())),
                _ => Err(format!("params.{k} must be a string, number or boolean")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let grants = self.grants.as_deref().map(Grants::parse).transpose()?;
        let actions = self.actions.as_deref().map(OperationGrant::parse).transpose()?;
        let component = match (self.component, self.sha256) {
            (None, None) if grants.is_none() && actions.is_none() => None,
            (None, None) => return Err(format!("`{}` is a built-in step: its grants and actions are fixed", self.name)),
            (None, Some(_)) => return Err("`sha256` without `component`".into()),
            (Some(path), None) => {
                return Err(format!("custom step `{}` needs `sha256 = \"…\"` pinning {} (run `sha256sum` on it)", self.name, path.display()));
            }
            (Some(path), Some(sha)) => {
                let sha = sha.trim().to_ascii_lowercase();
                if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(format!("sha256 `{sha}` is not 64 hex digits"));
                }
                Some((base.join(path), sha))
            }
        };
        Ok(StepSpec { name: self.name, component, grants, actions, limits, params })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/ferry-toml.md, the reference users read.
    const REFERENCE: &str = include_str!("../../../docs/ferry-toml.md");

    /// The reference's TOML examples. `${GITHUB_SHA}` is what CI sets; the
    /// test gives it a value rather than reading its own environment.
    fn examples() -> Vec<String> {
        REFERENCE.split("```toml\n").skip(1).map(|block| block.split("```").next().unwrap_or_default().replace("${GITHUB_SHA}", "4f2a9c1")).collect()
    }

    /// The keys a table of the reference documents: the first cell of each
    /// row under its heading, up to the next heading.
    fn documented(heading: &str) -> Vec<String> {
        let start = REFERENCE.find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("docs/ferry-toml.md has no heading `{heading}`"));
        let section = &REFERENCE[start + heading.len() + 2..];
        let section = &section[..section.find("\n#").unwrap_or(section.len())];
        let mut keys: Vec<String> = section.lines().filter_map(|line| line.strip_prefix("| `")?.split_once('`').map(|(key, _)| key.to_string())).collect();
        keys.sort();
        keys
    }

    /// The keys the parser accepts in the table `path` leads to, read from
    /// its own refusal of an unknown one ("expected one of `a`, `b`").
    fn accepted(prefix: &str) -> Vec<String> {
        let text = format!("{prefix}\nnot_a_key_of_ferry = 1\n");
        let Err(refused) = toml::from_str::<RawWorkflow>(&text) else { panic!("an unknown key in `{prefix}` was accepted") };
        let message = refused.message().to_string();
        let listed = message
            .split_once("expected one of ")
            .or_else(|| message.split_once("expected "))
            .map(|(_, list)| list)
            .unwrap_or_else(|| panic!("`{prefix}`: {message}"));
        let mut keys: Vec<String> = listed.split(", ").map(|k| k.trim().trim_matches('`').to_string()).collect();
        keys.sort();
        keys
    }

    #[test]
    fn every_example_of_the_reference_parses() {
        let examples = examples();
        assert!(examples.len() >= 5, "found {} examples", examples.len());
        for example in examples {
            if let Err(e) = Workflow::parse(&example, Path::new("ferry.toml")) {
                panic!("docs/ferry-toml.md: an example does not parse: {e}\n{example}");
            }
        }
    }

    #[test]
    fn the_reference_documents_every_key_the_parser_accepts() {
        let tables = [
            ("## `[limits]`", "[limits]"),
            ("### `[dns.zones.\"<zone>\"]`", "[dns.zones.\"example.com.\"]\nprovider = \"rfc2136\""),
            ("### `[data.postgres.<name>]`", "[data.postgres.main]\nsource_env = \"FERRY_SECRET_A\""),
            ("### `[data.volumes.<name>]`", "[data.volumes.v]\nsource = \"/a\"\ntarget = \"/b\""),
            ("### `[targets.vm.<name>]`", "[targets.vm.prod]\nhost = \"h\"\nssh_key_env = \"FERRY_SECRET_K\"\nknown_hosts_env = \"FERRY_SECRET_H\""),
            (
                "### `[targets.vm.<name>.acme]`",
                "[targets.vm.prod]\nhost = \"h\"\nssh_key_env = \"FERRY_SECRET_K\"\nknown_hosts_env = \"FERRY_SECRET_H\"\n[targets.vm.prod.acme]",
            ),
        ];
        for (heading, prefix) in tables {
            assert_eq!(documented(heading), accepted(prefix), "docs/ferry-toml.md {heading} against the parser");
        }
        assert_eq!(documented("## `[[steps]]`"), accepted("[[steps]]\nname = \"x\""), "docs/ferry-toml.md [[steps]] against the parser");
        // The top-level tables each have a heading.
        for table in accepted("") {
            let heading = if table == "steps" { "## `[[steps]]`".to_string() } else { format!("## `[{table}]`") };
            assert!(REFERENCE.contains(&format!("\n{heading}\n")), "docs/ferry-toml.md has no section for `{table}`");
        }
    }
}
