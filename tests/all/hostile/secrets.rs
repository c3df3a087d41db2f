//! Secret values are masked in every form they can take: with quotes, backslashes and newlines (a
//! JSON service-account key, a PEM key), inside a URL, in Markdown, in state documents.

use std::path::Path;

use crate::support::{checkout, ferry, run, sha256_hex};

/// Values whose escaped forms differ from their raw form.
const QUOTED: &str = "pa\"ss\\word-0f3a9c";
const MULTI: &str = "line-one-of-key-51e2\nline-two-of-key-51e2";
const PIPED: &str = "a|b<c>&d-7d21e0";

fn forms(value: &str) -> Vec<String> {
    let json = serde_json::to_string(value).unwrap();
    let mut forms = vec![value.to_string(), json[1..json.len() - 1].to_string()];
    forms.extend(value.lines().map(str::to_string));
    forms
}

#[test]
fn secrets_with_quotes_backslashes_and_newlines_are_masked_in_json_markdown_and_state() {
    // The values are secrets, and (by mistake) also in fly.toml, so they
    // reach every output: each must come out masked.
    let fly = format!("app = \"shop\"\n\n[env]\n  QUOTED = {}\n  MULTI = {}\n  PIPED = {}\n", toml_string(QUOTED), toml_string(MULTI), toml_string(PIPED));
    let sha = sha256_hex(&ferry_test_guests::bytes(ferry_test_guests::EDITS));
    let workflow = format!(
        "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"edits\"\ncomponent = \"edits.wasm\"\nsha256 = \"{sha}\"\nactions = [\"checkout\"]\nparams = {{ edits = 'env.Q={}' }}\n",
        toml_string(QUOTED).replace('\'', "")
    );
    let co = checkout(&[("fly.toml", &fly), ("ferry.toml", &workflow)]);
    std::fs::copy(ferry_test_guests::EDITS, co.path().join("edits.wasm")).unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut seen = String::new();
    for args in [
        &["inventory", "--format", "json"][..],
        &["inventory"],
        &["plan", "--format", "json"],
        &["plan", "--format", "md"],
        &["apply", "--format", "json"],
        &["status", "--format", "json"],
    ] {
        let mut cmd = ferry(&co.path().join(".cache"));
        cmd.args(args).arg("--dir").arg(co.path());
        if args[0] != "inventory" {
            cmd.arg("--state").arg(state.path());
        }
        cmd.env("FERRY_SECRET_QUOTED", QUOTED).env("FERRY_SECRET_MULTI", MULTI).env("FERRY_SECRET_PIPED", PIPED).env("FERRY_LOG", "debug");
        let (_, out, err) = run(&mut cmd);
        seen.push_str(&out);
        seen.push_str(&err);
    }
    assert!(seen.contains("QUOTED") && seen.contains("***"), "the keys are there, their values masked");
    for doc in walk(state.path()) {
        seen.push_str(&std::fs::read_to_string(doc).unwrap_or_default());
    }
    for value in [QUOTED, MULTI, PIPED] {
        for form in forms(value) {
            assert!(!seen.contains(&form), "{form:?} leaked");
        }
    }
    assert!(!seen.contains("a\\|b&lt;c&gt;&amp;d"), "the Markdown form leaked");
}

fn toml_string(value: &str) -> String {
    toml::Value::String(value.to_string()).to_string()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}
