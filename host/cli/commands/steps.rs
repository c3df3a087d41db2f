//! `ferry steps`: what the workflow runs, and what each step may reach.

use std::fmt::Write;
use std::process::ExitCode;

use anyhow::Context;

use ferry_engine::{ResolvedStep, StepOrigin};
use ferry_model::printable;
use serde_json::json;

use crate::args::{Global, ListFormat, PrecompileArgs, StepsAction, StepsArgs};
use crate::context::Session;
use crate::exit;

pub fn run(global: &Global, args: &StepsArgs) -> anyhow::Result<ExitCode> {
    match &args.action {
        Some(StepsAction::Precompile(precompile)) => return self::precompile(precompile),
        None => {}
    }
    let session = Session::open(global, &args.checkout)?;
    let text = match args.format {
        ListFormat::Json => json(&session.steps),
        ListFormat::Text => text(&session),
    };
    super::print(&text)?;
    Ok(exit::OK)
}

/// `ferry steps precompile`: this executable, with every built-in step
/// compiled and appended.
fn precompile(args: &PrecompileArgs) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("finding this ferry's executable")?;
    let components: Vec<&[u8]> = ferry_steps::BUILTIN.iter().map(|b| b.component).collect();
    let started = std::time::Instant::now();
    let written = ferry_runtime::precompiled::write_with_bundle(&exe, &components, &args.out)?;
    super::print(&format!(
        "{}: {} built-in steps precompiled for {} ({:.1} MiB of machine code) in {:.1} s\n",
        args.out.display(),
        written.steps,
        std::env::consts::ARCH,
        written.bytes as f64 / f64::from(1 << 20),
        started.elapsed().as_secs_f64()
    ))?;
    Ok(exit::OK)
}

fn origin(step: &ResolvedStep) -> String {
    match &step.origin {
        StepOrigin::Builtin => "built-in".into(),
        StepOrigin::Custom(path) => path.display().to_string(),
    }
}

fn json(steps: &[ResolvedStep]) -> String {
    let list: Vec<_> = steps
        .iter()
        .map(|s| {
            let limits = s.loaded.limits();
            json!({
                "name": s.spec.name,
                "version": s.info.version,
                "summary": s.info.summary,
                "origin": origin(s),
                "sha256": s.loaded.sha256(),
                "grants": s.loaded.grants().iter().map(|c| c.name()).collect::<Vec<_>>(),
                "imports": s.loaded.imports(),
                "limits": {
                    "deadline_ms": limits.deadline.as_millis() as u64,
                    "memory_bytes": limits.memory_bytes,
                    "hostcall_bytes": limits.hostcall_bytes,
                    "file_bytes": limits.file_bytes,
                },
                "params": s.info.params,
            })
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&json!({ "steps": list })).expect("json values serialise");
    out.push('\n');
    out
}

fn text(session: &Session) -> String {
    let mut out = String::new();
    let source = match &session.workflow.file {
        Some(f) => f.display().to_string(),
        None => "the built-in workflow (no ferry.toml)".into(),
    };
    let _ = writeln!(out, "Workflow: {}\n", printable(&source));
    for (i, s) in session.steps.iter().enumerate() {
        // A custom step describes itself: its version, summary and
        // parameters are the component's words, shown escaped.
        let _ = writeln!(out, "{}. {} {} ({})", i + 1, printable(&s.spec.name), printable(&s.info.version), printable(&origin(s)));
        let _ = writeln!(out, "   {}", printable(&s.info.summary));
        let _ = writeln!(out, "   sha256   {}", s.loaded.sha256());
        let _ = writeln!(out, "   granted  {}", s.loaded.grants());
        let imports: Vec<&str> = s.loaded.imports().iter().map(String::as_str).collect();
        let _ = writeln!(out, "   imports  {}", if imports.is_empty() { "nothing".into() } else { imports.join(", ") });
        let limits = s.loaded.limits();
        let _ = writeln!(out, "   limits   {}s deadline, {} MiB memory", limits.deadline.as_secs_f64(), limits.memory_bytes >> 20);
        for p in &s.info.params {
            let default = p.default.as_deref().map(|d| format!(" [default: {}]", printable(d))).unwrap_or_default();
            let _ = writeln!(out, "   param    {}: {}{default}", printable(&p.name), printable(&p.description));
        }
        out.push('\n');
    }
    out
}
