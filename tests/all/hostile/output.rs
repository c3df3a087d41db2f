//! Untrusted strings reach terminals and the Actions log neutralised: no workflow command, no escape sequence.
//!
//! The runner reads every line of a step's stdout and stderr: after leading
//! whitespace, `::name …::` is a workflow command (`::add-mask::`,
//! `::stop-commands::`, `::warning …`, the deprecated `::set-output`), and
//! `##[name]` is one anywhere in a line. A pull request controls fly.toml,
//! ferry.toml (custom steps, their parameters, so their summaries and log
//! lines) and the errors they cause. Each case below runs the real binary.

use std::path::Path;
use std::process::Command;

use ferry_test_guests as guests;

use crate::support::git::GitRepo;
use crate::support::github::{FakeGitHub, Pull, Runner, comment_event, pull_request_event};
use crate::support::{checkout, ferry, run, sha256_hex};

/// Every string field an attacker can reach in fly.toml, each trying to
/// start a line of its own, drive the terminal, or break out of Markdown.
const HOSTILE_FLY: &str = r#"app = "shop\n::warning title=pwned::app"
primary_region = "ams\r::add-mask::ams"

[build]
  image = "nginx\n::notice::image-injection\u001b[2J\u001b[1A ##[set-output name=image]evil</details><script>alert(1)</script>"

[env]
  "X\n::error::env-name-injection|</td><img src=x onerror=alert(1)>" = "v"

[http_service]
  internal_port = 8080
  "bad\n  ::stop-commands::ferrytok" = 1

[[services]]
  protocol = "tcp\u009b2J\n::set-output name=release-id::evil"
  internal_port = 9000
"#;

/// The same values as they must still be seen: escaped, not dropped.
const SEEN: &[&str] =
    &[r"shop\n::warning title=pwned::app", r"ams\r::add-mask::ams", r"nginx\n::notice::image-injection\u001b[2J\u001b[1A", r"X\n::error::env-name-injection"];

/// The runner's job token in [`Runner::apply`]: ferry registers it with `::add-mask::`.
const JOB_TOKEN: &str = "ghs_workflowtoken0123";

/// How ferry's own workflow commands start: annotations always name a
/// file, its plain warnings are its own sentences.
const OWN_COMMANDS: &[&str] = &["::error file=", "::warning file=", "::warning::could not", "::warning::no "];

/// No raw escape sequence, no line the runner would read as a command ferry
/// did not mean to write, and (inside Actions) no old-style command either.
fn assert_neutral_in_actions(what: &str, text: &str) {
    assert_neutral(what, text);
    for line in text.lines() {
        assert!(!line.contains("##["), "{what}: a `##[command]` the runner would act on: {line:?}");
    }
}

/// No raw escape sequence, and no line that starts a workflow command ferry
/// did not mean to write: what the value-level escaping alone guarantees.
fn assert_neutral(what: &str, text: &str) {
    let raw = text.chars().find(|c| *c == '\u{1b}' || *c == '\r' || ('\u{80}'..='\u{9f}').contains(c));
    assert_eq!(raw, None, "{what}: a raw control character reached the output:\n{text}");
    for line in text.lines() {
        let start = line.trim_start();
        if start.starts_with("::") {
            let own = OWN_COMMANDS.iter().any(|c| start.starts_with(c)) || start == format!("::add-mask::{JOB_TOKEN}");
            assert!(own, "{what}: a workflow command ferry did not write: {line:?}\n{text}");
        }
    }
}

fn assert_seen(what: &str, text: &str, values: &[&str]) {
    for value in values {
        assert!(text.contains(value), "{what}: {value} is not shown (escaped):\n{text}");
    }
}

/// ferry as run in a terminal: not inside Actions, whatever runs this test.
fn in_terminal(cache: &Path) -> Command {
    let mut cmd = ferry(cache);
    without_secrets(&mut cmd).env_remove("GITHUB_ACTIONS");
    cmd
}

/// ferry as run by a workflow's `run:` step (not `ferry ci`).
fn in_actions(cache: &Path) -> Command {
    let mut cmd = ferry(cache);
    without_secrets(&mut cmd).env("GITHUB_ACTIONS", "true");
    cmd
}

/// No token or secret from the environment running the tests: ferry would
/// register each with `::add-mask::`, and the Fly API is not for these tests.
fn without_secrets(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let secret = name.to_str().is_some_and(|n| n.starts_with("FERRY_SECRET_"));
        if secret || ["GITHUB_TOKEN", "GH_TOKEN", "FLY_API_TOKEN", "FLY_ACCESS_TOKEN", "ACTIONS_RUNTIME_TOKEN"].iter().any(|v| name == *v) {
            cmd.env_remove(&name);
        }
    }
    cmd
}

/// `ferry ci` in `dir` as the runner starts it for `runner`'s event.
fn ferry_ci(dir: &Path, runner: &Runner) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    without_secrets(&mut cmd).arg("ci").current_dir(dir).env("FERRY_CACHE_DIR", dir.join(".cache")).env("FERRY_LOG", "info");
    runner.apply(&mut cmd);
    cmd
}

/// A checkout with `fly` and a ferry.toml running parse-config, the
/// lint-step (which logs the primary region) and `edits` with `edits`.
fn with_custom_steps(fly: &str, edits: &str) -> tempfile::TempDir {
    let dir = checkout(&[("fly.toml", fly)]);
    std::fs::copy(guests::LINT_STEP, dir.path().join("lint.wasm")).unwrap();
    std::fs::copy(guests::EDITS, dir.path().join("edits.wasm")).unwrap();
    set_edits(dir.path(), edits);
    dir
}

/// Writes ferry.toml with `edits` as the edits step's parameter (a TOML basic string's contents).
fn set_edits(dir: &Path, edits: &str) {
    let lint = sha256_hex(&ferry_test_guests::bytes(guests::LINT_STEP));
    let sha = sha256_hex(&ferry_test_guests::bytes(guests::EDITS));
    let workflow = format!(
        "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"lint\"\ncomponent = \"lint.wasm\"\nsha256 = \"{lint}\"\nparams = {{ region = \"ams\" }}\n\n\
         [[steps]]\nname = \"edits\"\ncomponent = \"edits.wasm\"\nsha256 = \"{sha}\"\nactions = [\"checkout\"]\nparams = {{ edits = \"{edits}\" }}\n"
    );
    std::fs::write(dir.join("ferry.toml"), workflow).unwrap();
}

/// A valid fly.toml whose primary region the lint step logs.
const LOGGED_FLY: &str = "app = \"shop\"\nprimary_region = \"ams\\n::warning title=step-log::x\\u001b[2J ##[add-mask]shop\"\n";

/// An edit whose summary (the step's text) carries commands and escapes.
const HOSTILE_EDIT: &str = r#"env.B=\"x\n::error::summary-injection\u001b[1A\""#;

/// One that can be applied too (a multi-line TOML string), its summary as hostile.
const APPLIED_EDIT: &str = r#"env.B=\"\"\"x\n::error::summary-injection\"\"\""#;

/// [`APPLIED_EDIT`]'s summary as it must be shown.
const APPLIED_SUMMARY: &str = r#"set env.B = """x\n::error::summary-injection""" in fly.toml"#;

#[test]
fn inventory_and_plan_in_a_terminal_show_hostile_values_escaped_on_their_line() {
    let co = checkout(&[("fly.toml", HOSTILE_FLY)]);
    let cache = tempfile::tempdir().unwrap();
    for args in [&["inventory"][..], &["plan"]] {
        let (code, stdout, stderr) = run(in_terminal(cache.path()).args(args).arg("--dir").arg(co.path()));
        assert_eq!(code, 1, "the protocol is invalid: {stderr}");
        assert_neutral("stdout", &stdout);
        assert_neutral("stderr", &stderr);
        assert_seen("stdout", &stdout, SEEN);
        assert_seen("stdout", &stdout, &[r"bad\n  ::stop-commands::ferrytok", r"tcp\u009b2J\n::set-output name=release-id::evil"]);
        assert!(stdout.contains("\n  Services         tcp 8080"), "the rows are still aligned: {stdout}");
        assert!(
            stderr.contains(
                r#"error: fly.toml is not valid: 3 errors, the first: fly.toml:1:7 (app): app name "shop\n::warning title=pwned::app" is not a Fly app name"#
            ),
            "the error names the value, escaped: {stderr}"
        );
    }
}

#[test]
fn errors_keep_their_untrusted_parts_on_one_line() {
    let cache = tempfile::tempdir().unwrap();
    let co = checkout(&[("fly.toml", "app = \"shop\"\n")]);
    let (code, _, stderr) = run(in_terminal(cache.path()).args(["plan", "--config", "fly\n::stop-commands::tok\u{1b}[2J.toml", "--dir"]).arg(co.path()));
    assert_eq!(code, 1);
    assert_neutral("a missing config", &stderr);
    assert!(stderr.contains(r"fly\n::stop-commands::tok\u001b[2J.toml not found in the checkout"), "{stderr}");

    // A failing step's message, here a panic that quotes the phase.
    std::fs::copy(guests::PANICS, co.path().join("panics.wasm")).unwrap();
    let sha = sha256_hex(&ferry_test_guests::bytes(guests::PANICS));
    std::fs::write(
        co.path().join("ferry.toml"),
        format!("[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"panics\"\ncomponent = \"panics.wasm\"\nsha256 = \"{sha}\"\n"),
    )
    .unwrap();
    let (code, _, stderr) = run(in_terminal(cache.path()).args(["plan", "--phase", "deploy\r\n::error::phase\u{9b}1A", "--dir"]).arg(co.path()));
    assert_eq!(code, 1);
    assert_neutral("a failing step", &stderr);
    assert!(stderr.contains(r"error: step `panics` panicked: no process group to plan for in phase deploy\r\n::error::phase\u009b1A"), "{stderr}");
}

#[test]
fn a_custom_steps_log_lines_and_summaries_are_escaped_in_plan_and_apply() {
    let co = with_custom_steps(LOGGED_FLY, APPLIED_EDIT);
    let cache = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(in_terminal(cache.path()).args(["plan", "--format", "json", "--dir"]).arg(co.path()));
    assert_eq!(code, 0, "{stderr}");
    assert_neutral("plan --format json: the step's log", &stderr);
    assert!(stderr.contains(r" INFO [lint] primary_region is ams\n::warning title=step-log::x\u001b[2J ##[add-mask]shop"), "{stderr}");
    let hash = serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["plan_hash"].as_str().unwrap().to_string();

    let (code, stdout, stderr) = run(in_terminal(cache.path()).args(["plan", "--dir"]).arg(co.path()));
    assert_eq!(code, 0, "{stderr}");
    assert_neutral("plan: stdout", &stdout);
    assert!(stdout.contains(&format!("     the step says: {APPLIED_SUMMARY}\n")), "{stdout}");

    // The engine logs each action as it runs it: the formatter escapes it.
    let (code, stdout, stderr) = run(in_terminal(cache.path()).args(["apply", "--plan-hash", &hash, "--dir"]).arg(co.path()));
    assert_eq!(code, 0, "{stderr}");
    assert_neutral("apply: stdout", &stdout);
    assert_neutral("apply: stderr", &stderr);
    assert!(stderr.contains(&format!(" INFO done: {APPLIED_SUMMARY} (")), "{stderr}");
    assert!(stdout.contains(&format!("  1. [done] {APPLIED_SUMMARY} in ")), "{stdout}");
}

#[test]
fn a_changed_plan_lists_one_change_a_line_each_escaped() {
    let co = with_custom_steps("app = \"shop\"\nprimary_region = \"ams\"\n", r#"env.A=\"1\""#);
    let cache = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(in_terminal(cache.path()).args(["plan", "--format", "json", "--dir"]).arg(co.path()));
    assert_eq!(code, 0, "{stderr}");
    let hash = serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["plan_hash"].as_str().unwrap()[..12].to_string();
    set_edits(co.path(), HOSTILE_EDIT);
    let (code, _, stderr) = run(in_terminal(cache.path()).args(["apply", "--plan-hash", &hash, "--dir"]).arg(co.path()));
    assert_eq!(code, 1);
    assert_neutral("stderr", &stderr);
    assert!(stderr.contains(&format!("error: the plan changed since it was reviewed (reviewed {hash}, now ")), "{stderr}");
    assert!(
        stderr.contains(
            "):\n  - added: set env.B = \"x\\n::error::summary-injection\\u001b[1A\" in fly.toml [disruptive]\n  - removed: set env.A = \"1\" in fly.toml\n  - ferry.toml's settings changed (a step, its component or limits, or [dns], [data], [targets])\nrun `ferry plan` again"
        ),
        "ferry's own list keeps its lines; the summary stays on its own: {stderr}"
    );
}

#[test]
fn inside_actions_old_style_commands_are_broken_too() {
    // `##[command]` works anywhere in a line, so escaping line breaks is not
    // enough: only the guard at the writer stops this one.
    let co = with_custom_steps(LOGGED_FLY, r###"env.C=\"##[set-output name=image]evil\""###);
    let cache = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(in_actions(cache.path()).args(["plan", "--state"]).arg(state.path()).arg("--dir").arg(co.path()));
    assert_eq!(code, 0, "{stderr}");
    assert_neutral_in_actions("stdout", &stdout);
    assert_neutral_in_actions("stderr", &stderr);
    assert!(stdout.contains(r###"set env.C = "##\u005bset-output name=image]evil" in fly.toml"###), "{stdout}");
    assert!(stderr.contains(r"##\u005badd-mask]shop"), "{stderr}");

    let (_, outside, _) = run(in_terminal(cache.path()).args(["plan", "--dir"]).arg(co.path()));
    assert!(outside.contains("##[set-output"), "outside Actions the text is left as it is: {outside}");
}

#[test]
fn a_usage_error_inside_actions_quotes_the_value_without_obeying_it() {
    // clap quotes the bad value, line break and all: only the guard stands
    // between it and the runner.
    let cache = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(in_actions(cache.path()).args(["plan", "--format", "md\n::add-mask::ams\n  ##[error]x"]));
    assert_eq!(code, 2, "{stderr}");
    assert_neutral_in_actions("stdout", &stdout);
    assert_neutral_in_actions("stderr", &stderr);
    assert!(stderr.contains("\n\\::add-mask::ams\n  ##\\u005berror]x"), "{stderr}");
}

#[test]
fn json_output_inside_actions_is_still_exact_json() {
    // serde_json leaves C1 controls raw and `##[` is plain text to it: the
    // guard escapes both in JSON's own spelling, so the document parses to
    // the same values.
    let co = checkout(&[("fly.toml", HOSTILE_FLY)]);
    let cache = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let (_, stdout, stderr) = run(in_actions(cache.path()).args(["plan", "--format", "json", "--state"]).arg(state.path()).arg("--dir").arg(co.path()));
    assert_neutral_in_actions("stdout", &stdout);
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    let fly: toml::Table = HOSTILE_FLY.parse().unwrap();
    let app = &plan["plan"]["app"];
    assert_eq!(app["app"], fly["app"].as_str().unwrap());
    assert_eq!(app["build"]["image"], fly["build"]["image"].as_str().unwrap());
    // A protocol is a closed set: the app-spec holds its first case, and the
    // finding quotes what fly.toml says, exactly.
    assert_eq!(app["services"][1]["protocol"], "tcp");
    let quoted = format!("not \"{}\"", fly["services"][0]["protocol"].as_str().unwrap());
    assert!(strings(&plan).iter().any(|s| s.contains(&quoted)), "no finding quotes {quoted:?}: {stdout}");
}

/// Every string inside a JSON value.
fn strings(value: &serde_json::Value) -> Vec<&str> {
    match value {
        serde_json::Value::String(s) => vec![s.as_str()],
        serde_json::Value::Array(items) => items.iter().flat_map(strings).collect(),
        serde_json::Value::Object(fields) => fields.values().flat_map(strings).collect(),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => Vec::new(),
    }
}

#[test]
fn markdown_cells_hold_hostile_values() {
    let co = checkout(&[("fly.toml", HOSTILE_FLY)]);
    let cache = tempfile::tempdir().unwrap();
    for args in [&["inventory", "--format", "md"][..], &["plan", "--format", "md"]] {
        let (_, stdout, _) = run(in_terminal(cache.path()).args(args).arg("--dir").arg(co.path()));
        // Markdown escapes for HTML, not for terminals: the guard at stdout does that.
        assert_neutral("stdout", &stdout);
        assert_markdown_contained(&stdout);
        assert!(stdout.contains(r"X ::error::env-name-injection\|&lt;/td&gt;&lt;img src=x onerror=alert(1)&gt;"), "{stdout}");
    }
}

/// Every table row has its header's cells, no tag from a value survives,
/// and `<details>` blocks balance.
fn assert_markdown_contained(md: &str) {
    // Inside a code span a tag is shown as text, not rendered: only the
    // rest of each line counts.
    let rendered: String = md.lines().map(|l| l.split('`').step_by(2).collect::<Vec<_>>().join(" ") + "\n").collect();
    for tag in ["<script", "<img", "</td>"] {
        assert!(!rendered.contains(tag), "{tag} reached the Markdown:\n{md}");
    }
    assert_eq!(md.matches("<details").count(), md.matches("</details>").count(), "{md}");
    let cells = |line: &str| line.replace("\\|", "").matches('|').count();
    let mut header: Option<usize> = None;
    for line in md.lines() {
        match (line.starts_with('|'), header) {
            (true, None) => header = Some(cells(line)),
            (true, Some(n)) => assert_eq!(cells(line), n, "a value left its table cell: {line}\n{md}"),
            (false, _) => header = None,
        }
    }
}

#[test]
fn ferry_ci_on_a_hostile_pull_request_writes_only_its_own_commands() {
    let fake = FakeGitHub::start("");
    let co = with_custom_steps(HOSTILE_FLY, HOSTILE_EDIT);
    let origin = tempfile::tempdir().unwrap();
    let head = GitRepo::adopt(co.path(), origin.path()).pull_request(12, &[]);
    fake.state().pulls.insert(12, Pull::open(&head));
    let runner = Runner::new(&co.path().join(".runner"), &fake, "pull_request", &pull_request_event(12, &head));
    let (code, stdout, stderr) = run(&mut ferry_ci(co.path(), &runner));
    assert_eq!(code, 1, "the invalid protocol fails the step after the plan is posted: {stderr}");
    assert_neutral_in_actions("ci stdout", &stdout);
    assert_neutral_in_actions("ci stderr", &stderr);
    assert!(stderr.lines().any(|l| l == format!("::add-mask::{JOB_TOKEN}")), "ferry's own commands still pass: {stderr}");
    assert!(stdout.contains("::error file=fly.toml,line=14,col=1,title=invalid-protocol::"), "{stdout}");
    assert!(stderr.contains(r" INFO [lint] primary_region is ams\r::add-mask::ams"), "{stderr}");
    assert!(
        stderr.contains(
            r#"error: fly.toml is not valid: 3 errors, the first: fly.toml:1:7 (app): app name "shop\n::warning title=pwned::app" is not a Fly app name"#
        ),
        "{stderr}"
    );

    let summary = runner.summary();
    assert_markdown_contained(&summary);
    let comments = fake.comments_on(12);
    assert_eq!(comments.len(), 1, "the plan is posted");
    assert_markdown_contained(&comments[0].body);
    assert!(!runner.outputs().contains("release-id"), "no output ferry did not set: {}", runner.outputs());
}

#[test]
fn ferry_ci_applying_a_hostile_plan_logs_each_action_escaped() {
    let fake = FakeGitHub::start("");
    fake.state().permissions.insert("maintainer".into(), "write".into());
    let co = with_custom_steps(LOGGED_FLY, APPLIED_EDIT);
    let origin = tempfile::tempdir().unwrap();
    let head = GitRepo::adopt(co.path(), origin.path()).pull_request(12, &[]);
    fake.state().pulls.insert(12, Pull::open(&head));
    let ci = |event: &str, payload: serde_json::Value| {
        let runner = Runner::new(&co.path().join(".runner"), &fake, event, &payload);
        let result = run(&mut ferry_ci(co.path(), &runner));
        (result, runner.summary())
    };
    let ((code, _, stderr), _) = ci("pull_request", pull_request_event(12, &head));
    assert_eq!(code, 0, "{stderr}");
    let ((code, stdout, stderr), summary) = ci("issue_comment", comment_event(12, "maintainer", "/ferry apply"));
    assert_eq!(code, 0, "{stderr}");
    assert_neutral_in_actions("apply stdout", &stdout);
    assert_neutral_in_actions("apply stderr", &stderr);
    assert!(stderr.contains(&format!(" INFO done: {APPLIED_SUMMARY} (")), "{stderr}");
    assert_markdown_contained(&summary);
    assert!(summary.contains("**✅ Applied**"), "{summary}");
}

#[test]
fn a_step_log_line_is_escaped_by_the_host_whatever_formats_it() {
    use std::sync::{Arc, Mutex};

    // The host escapes a step's line before it is logged: a subscriber other
    // than the CLI's (a library user's, the default one here) gets it escaped.
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let co = checkout(&[("fly.toml", LOGGED_FLY)]);
    let rt = crate::support::runtime();
    let app = rt.plan(crate::support::parse_config(), &crate::support::host(co.path()), &crate::support::request(&[])).unwrap().unwrap().app;
    let lint = crate::support::load(rt, "lint", guests::LINT_STEP, &["log"], ferry_runtime::Limits::default());
    let request = ferry_model::PlanRequest { app, ..crate::support::request(&[("region", "ams")]) };
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = buffer.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || Sink(sink.clone())).with_ansi(false).without_time().finish();
    tracing::subscriber::with_default(subscriber, || rt.plan(&lint, &crate::support::host(co.path()), &request).unwrap().unwrap());
    let logged = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    assert_eq!(logged.lines().count(), 1, "{logged}");
    assert!(logged.contains(r"[lint] primary_region is ams\n::warning title=step-log::x\u001b[2J ##[add-mask]shop"), "{logged}");
}
