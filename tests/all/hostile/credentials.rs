//! Credentials go only where trusted config sends them: a pull request's ferry.toml cannot choose
//! an endpoint for a credential, nor name the CI's own tokens as one.
//!
//! Each case runs the real `ferry` against loopback listeners that record what reaches them: a
//! "trusted" endpoint (where the default branch sends the credential) and an "attacker" one.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use crate::support::github::{FakeGitHub, Job, Pull, comment_event, pull_request_event};
use crate::support::{checkout, ferry, run};

const CANARY: &str = "pdns-canary-7c1e55d0";

/// A loopback HTTP listener that keeps every request it receives and
/// answers 500 (a plan that reads through it fails, which is fine: what
/// matters is what was sent).
struct Listener {
    port: u16,
    seen: Arc<Mutex<String>>,
}

impl Listener {
    fn start() -> Listener {
        let socket = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(String::new()));
        let keep = seen.clone();
        std::thread::spawn(move || {
            for stream in socket.incoming() {
                let Ok(mut stream) = stream else { return };
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
                let mut buf = [0u8; 8192];
                let n = stream.read(&mut buf).unwrap_or(0);
                keep.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
                let _ = stream.write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            }
        });
        Listener { port, seen }
    }

    fn seen(&self) -> String {
        self.seen.lock().unwrap().clone()
    }
}

/// A workflow that reads a PowerDNS zone at `port` with the credential in
/// `var` (the cutover step reads the records it would switch).
fn dns_workflow(port: u16, var: &str) -> String {
    format!(
        "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"cutover\"\nparams = {{ zone = \"example.test\", records = \"shop.example.test A 203.0.113.7\" }}\n\n\
         [dns.zones.\"example.test.\"]\nprovider = \"powerdns\"\nurl = \"http://127.0.0.1:{port}\"\napi_key_env = \"{var}\"\n"
    )
}

#[test]
fn a_pull_request_that_points_a_credential_elsewhere_is_planned_without_it_and_never_applied() {
    let (trusted, attacker) = (Listener::start(), Listener::start());
    let fake = FakeGitHub::start("");
    fake.state().permissions.insert("maintainer".into(), "write".into());
    let job = Job::with_files(&[("ferry.toml", &dns_workflow(trusted.port, "FERRY_SECRET_PDNS"))]);
    let head = job.git.pull_request(12, &[("ferry.toml", &dns_workflow(attacker.port, "FERRY_SECRET_PDNS"))]);
    fake.state().pulls.insert(12, Pull::open(&head));
    let env = [("FERRY_SECRET_PDNS", CANARY)];

    let (code, _, stderr, _, _) = job.run(&fake, "pull_request", pull_request_event(12, &head), &[], &env);
    assert_eq!(code, 1, "the cutover step cannot read the zone without its credential: {stderr}");
    assert!(stderr.contains("changes where credentials go ([dns.zones.\"example.test.\"] changed)"), "{stderr}");
    assert!(stderr.contains("the credential in FERRY_SECRET_PDNS is withheld"), "{stderr}");
    let comments = fake.comments_on(12);
    assert!(comments.iter().any(|c| c.body.contains("ferry could not plan") && c.body.contains("changes where credentials go")), "said on the PR");
    assert_eq!(attacker.seen(), "", "nothing reached the pull request's endpoint");
    assert_eq!(trusted.seen(), "", "nor the trusted one: the plan read no credential at all");

    let (code, _, stderr, _, _) = job.run(&fake, "issue_comment", comment_event(12, "maintainer", "/ferry apply"), &[], &env);
    assert_eq!(code, 1);
    assert!(stderr.contains("changes where credentials go"), "{stderr}");
    assert_eq!(attacker.seen(), "", "an apply from a comment reads none either");
    for c in fake.comments_on(12) {
        assert!(!c.body.contains(CANARY));
    }
}

#[test]
fn the_same_pull_request_without_the_change_reads_the_zone_with_its_credential() {
    // The control for the case above: with ferry.toml as the default branch
    // has it, the credential does go to the trusted endpoint.
    let trusted = Listener::start();
    let fake = FakeGitHub::start("");
    let job = Job::with_files(&[("ferry.toml", &dns_workflow(trusted.port, "FERRY_SECRET_PDNS"))]);
    let head = job.git.pull_request(12, &[("README", "docs\n")]);
    fake.state().pulls.insert(12, Pull::open(&head));
    let (code, _, stderr, _, _) = job.run(&fake, "pull_request", pull_request_event(12, &head), &[], &[("FERRY_SECRET_PDNS", CANARY)]);
    assert_eq!(code, 1, "the listener answers 500: {stderr}");
    assert!(!stderr.contains("withheld"), "{stderr}");
    assert!(trusted.seen().to_ascii_lowercase().contains(&format!("x-api-key: {CANARY}")), "{}", trusted.seen());
}

#[test]
fn ferry_toml_cannot_name_the_ci_tokens_as_a_credential() {
    for (key, var) in [("api_key_env", "FLY_API_TOKEN"), ("api_key_env", "GITHUB_TOKEN"), ("api_key_env", "ACTIONS_RUNTIME_TOKEN")] {
        let listener = Listener::start();
        let co = checkout(&[("fly.toml", "app = \"shop\"\n"), ("ferry.toml", &dns_workflow(listener.port, var))]);
        let cache = tempfile::tempdir().unwrap();
        let (code, _, err) = run(ferry(cache.path()).args(["plan", "--dir"]).arg(co.path()).env(var, CANARY));
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(&format!("dns.zones.\"example.test.\" {key}: `{var}` cannot hold a credential")), "{err}");
        assert_eq!(listener.seen(), "", "nothing was sent");
    }
    let co = checkout(&[
        ("fly.toml", "app = \"shop\"\n"),
        (
            "ferry.toml",
            "[[steps]]\nname = \"parse-config\"\n\n[targets.vm.prod]\nhost = \"root@127.0.0.1\"\nssh_key_env = \"GITHUB_TOKEN\"\nknown_hosts_env = \"FERRY_SECRET_KH\"\n",
        ),
    ]);
    let (code, _, err) = run(ferry(tempfile::tempdir().unwrap().path()).args(["plan", "--dir"]).arg(co.path()));
    assert_eq!(code, 1);
    assert!(err.contains("[targets.vm.prod] ssh_key_env: `GITHUB_TOKEN` cannot hold a credential"), "{err}");
}

#[test]
fn a_local_plan_against_a_trusted_workflow_withholds_moved_credentials_and_says_so() {
    let (trusted, moved) = (Listener::start(), Listener::start());
    // A workflow whose zone is configured but not read while planning
    // (no cutover step): the plan is made, without credentials, and says so.
    let read_nothing = |port: u16| {
        format!(
            "[[steps]]\nname = \"parse-config\"\n\n[dns.zones.\"example.test.\"]\nprovider = \"powerdns\"\nurl = \"http://127.0.0.1:{port}\"\napi_key_env = \"FERRY_SECRET_PDNS\"\n"
        )
    };
    let co = checkout(&[("fly.toml", "app = \"shop\"\n"), ("ferry.toml", &read_nothing(moved.port)), ("trusted.toml", &read_nothing(trusted.port))]);
    let cache = tempfile::tempdir().unwrap();
    let (code, out, err) = run(ferry(cache.path())
        .args(["plan", "--format", "json", "--dir"])
        .arg(co.path())
        .arg("--trusted-workflow")
        .arg(co.path().join("trusted.toml"))
        .env("FERRY_SECRET_PDNS", CANARY));
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let finding = &plan["plan"]["host_findings"][0];
    assert_eq!(finding["code"], "credentials-withheld", "{out}");
    assert!(finding["message"].as_str().unwrap().contains("[dns.zones.\"example.test.\"] changed"), "{finding}");
    assert_eq!(moved.seen(), "");
}
