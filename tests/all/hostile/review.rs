//! Only the reviewed plan is applied: full hashes, journals bound to their plan, reviewed pushes and
//! dispatches, approvals from someone other than the author, and no fork code in a job with secrets.

use std::path::Path;

use ferry_engine::journal::Journal;

use crate::support::github::{
    FakeGitHub, JOB_FLY, Job, Pull, Review, comment_event, dispatch_event, output, pull_request_event, pull_request_event_from, push_event,
};
use crate::support::{checkout, ferry, run, sha256_hex};

/// A checkout whose workflow stops at an approval gate before editing
/// fly.toml: applying it leaves an unfinished run in `state`.
fn gated() -> (tempfile::TempDir, tempfile::TempDir) {
    let sha = sha256_hex(&ferry_test_guests::bytes(ferry_test_guests::EDITS));
    let workflow = format!(
        "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"edits\"\ncomponent = \"edits.wasm\"\nsha256 = \"{sha}\"\nactions = [\"checkout\"]\nparams = {{ edits = 'env.A=\"1\"', approval = \"go?\" }}\n"
    );
    let co = checkout(&[("fly.toml", "app = \"shop\"\n"), ("ferry.toml", &workflow)]);
    std::fs::copy(ferry_test_guests::EDITS, co.path().join("edits.wasm")).unwrap();
    (co, tempfile::tempdir().unwrap())
}

fn apply(co: &Path, state: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let cache = co.join(".cache");
    let mut cmd = ferry(&cache);
    cmd.args(["apply", "--dir"]).arg(co).arg("--state").arg(state).args(args).env_remove("GITHUB_ACTIONS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// The one journal in `state`, and its path.
fn journal(state: &Path) -> (std::path::PathBuf, Journal) {
    let dir = state.join("journal/shop");
    let path = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let journal = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    (path, journal)
}

/// Rewrites the journaled edit's value, as someone with push access to the
/// state branch could; `rehash` also recomputes the recorded plan hash.
fn tamper(state: &Path, rehash: bool) -> String {
    let (path, mut journal) = journal(state);
    let phase = &mut journal.phases[0];
    let text = serde_json::to_string(&phase.plan).unwrap().replace(r#"\"1\""#, r#"\"PWNED\""#);
    phase.plan = serde_json::from_str(&text).unwrap();
    if rehash {
        phase.plan_hash = phase.plan.hash();
    }
    let recorded = phase.plan_hash.clone();
    std::fs::write(&path, serde_json::to_vec(&journal).unwrap()).unwrap();
    recorded
}

#[test]
fn an_empty_or_short_plan_hash_is_refused_not_taken_as_any_plan() {
    let (co, state) = gated();
    for bad in ["", "abc", "0123456789a", "zzzzzzzzzzzzzz"] {
        let (code, _, err) = apply(co.path(), state.path(), &["--plan-hash", bad], &[]);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains("is not a plan hash: give at least 12 hex digits"), "{err}");
    }
    assert!(!state.path().join("journal").exists(), "nothing was applied");
}

#[test]
fn a_journal_edited_on_the_state_branch_is_neither_resumed_nor_undone() {
    let (co, state) = gated();
    let (code, _, err) = apply(co.path(), state.path(), &[], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("go?") || journal(state.path()).1.phases[0].status == ferry_engine::journal::PhaseStatus::WaitingApproval);
    tamper(state.path(), false);
    let (code, _, err) = apply(co.path(), state.path(), &["--approve"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("was changed after ferry wrote it"), "{err}");
    let (code, _, err) = run(ferry(&co.path().join(".cache")).args(["abort", "--yes", "--dir"]).arg(co.path()).arg("--state").arg(state.path()));
    assert_eq!(code, 1, "abort does not run undo data from an edited journal either");
    assert!(err.contains("was changed after ferry wrote it"), "{err}");
    assert_eq!(std::fs::read_to_string(co.path().join("fly.toml")).unwrap(), "app = \"shop\"\n");
}

#[test]
fn in_ci_a_run_is_resumed_only_with_its_reviewed_hash() {
    let (co, state) = gated();
    let (code, out, err) = apply(co.path(), state.path(), &["--format", "json"], &[]);
    assert_eq!(code, 0, "{err}");
    let reviewed = journal(state.path()).1.phases[0].plan_hash.clone();
    assert!(!out.is_empty());
    // A consistent forgery: the plan and its recorded hash both rewritten.
    let forged = tamper(state.path(), true);
    let ci = [("GITHUB_ACTIONS", "true")];
    let (code, _, err) = apply(co.path(), state.path(), &["--approve"], &ci);
    assert_eq!(code, 1, "a push names no hash: {err}");
    assert!(err.contains("nothing here names that plan as reviewed"), "{err}");
    let (code, _, err) = apply(co.path(), state.path(), &["--approve", "--plan-hash", &reviewed[..12]], &ci);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("of plan {}, not of the plan given ({})", &forged[..12], &reviewed[..12])), "{err}");
    assert!(!err.contains(&format!("--plan-hash {}", &forged[..12])), "no command that resumes the unreviewed plan: {err}");
    assert_eq!(std::fs::read_to_string(co.path().join("fly.toml")).unwrap(), "app = \"shop\"\n", "nothing applied");
}

#[test]
fn a_dispatch_applies_only_a_named_plan_on_the_default_branch() {
    let fake = FakeGitHub::start("");
    let job = Job::new();
    let (code, _, stderr, _, _) = job.run(&fake, "workflow_dispatch", dispatch_event(&[("command", "apply")]), &[], &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("a dispatch applies only the plan it names: give the `plan-hash` input"), "{stderr}");
    let mut elsewhere = dispatch_event(&[("command", "apply"), ("plan-hash", &"a".repeat(64))]);
    elsewhere["ref"] = "refs/heads/feature".into();
    let (code, _, stderr, _, _) = job.run(&fake, "workflow_dispatch", elsewhere, &[], &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("ferry applies a push or a dispatch on the default branch (main) only, not on refs/heads/feature"), "{stderr}");
    assert_eq!(std::fs::read_to_string(job.path().join("fly.toml")).unwrap(), JOB_FLY);
    let (code, _, stderr, outputs, _) = job.run(&fake, "workflow_dispatch", dispatch_event(&[("command", "apply")]), &["--allow-unreviewed"], &[]);
    assert_eq!(code, 0, "the explicit opt-in: {stderr}");
    assert_eq!(output(&outputs, "outcome").as_deref(), Some("applied"));
}

#[test]
fn a_push_without_a_reviewed_plan_is_refused_unless_the_workflow_opts_in() {
    let fake = FakeGitHub::start("");
    let job = Job::new();
    let sha = job.git.commit_to_main(&[("README", "straight to main\n")]);
    let (code, _, stderr, _, _) = job.run(&fake, "push", push_event(&sha), &[], &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains(&format!("no pull request merged as {} has a ferry plan for shop", &sha[..12])), "{stderr}");
    assert_eq!(std::fs::read_to_string(job.path().join("fly.toml")).unwrap(), JOB_FLY);
    let (code, _, stderr, outputs, _) = job.run(&fake, "push", push_event(&sha), &["--allow-unreviewed"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(output(&outputs, "outcome").as_deref(), Some("applied"));
}

#[test]
fn a_push_whose_plan_is_not_the_reviewed_one_is_refused() {
    let fake = FakeGitHub::start("");
    let job = Job::new();
    let head = job.git.pull_request(12, &[]);
    fake.state().pulls.insert(12, Pull::open(&head));
    assert_eq!(job.run(&fake, "pull_request", pull_request_event(12, &head), &[], &[]).0, 0);
    // A later commit lands on the PR without a new plan, and the PR merges.
    let sneaked = job.git.push_to_pull(12, &head, &[("ferry.toml", &Job::workflow("").replace("primary_region=\"ams\"", "primary_region=\"fra\""))]);
    let merged = job.git.merge(12);
    assert_eq!(sneaked, merged);
    fake.state().pulls.insert(12, Pull { merged: true, ..Pull::open(&merged) });
    let (code, _, stderr, _, _) = job.run(&fake, "push", push_event(&merged), &[], &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("the plan changed since it was reviewed"), "{stderr}");
    assert_eq!(std::fs::read_to_string(job.path().join("fly.toml")).unwrap(), JOB_FLY);
}

#[test]
fn with_required_approval_only_someone_elses_approval_of_the_head_counts() {
    let fake = FakeGitHub::start("");
    fake.state().permissions.insert("alice".into(), "write".into());
    let job = Job::new();
    let older = job.git.pull_request(12, &[("README", "one\n")]);
    let head = job.git.push_to_pull(12, &older, &[("README", "two\n")]);
    fake.state().pulls.insert(12, Pull::open(&head));
    assert_eq!(job.run(&fake, "pull_request", pull_request_event(12, &head), &[], &[]).0, 0);
    let apply = || job.run(&fake, "issue_comment", comment_event(12, "alice", "/ferry apply"), &["--require-approval"], &[]);

    let (code, _, stderr, _, _) = apply();
    assert_eq!(code, 1);
    assert!(stderr.contains(&format!("#12 needs an approving review of its head {} by someone other than its author (@alice)", &head[..12])), "{stderr}");
    let review = |login: &str, commit: &str| Review { pull: 12, login: login.into(), state: "APPROVED".into(), commit: commit.into() };
    fake.state().reviews.push(review("alice", &head));
    fake.state().reviews.push(review("bob", &older));
    let (code, _, stderr, _, _) = apply();
    assert_eq!(code, 1, "the author's own approval and one of an older commit do not count: {stderr}");
    fake.state().reviews.push(review("bob", &head));
    let (code, _, stderr, outputs, _) = apply();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(output(&outputs, "outcome").as_deref(), Some("applied"));
}

#[test]
fn a_command_naming_another_plan_is_refused() {
    let fake = FakeGitHub::start("");
    fake.state().permissions.insert("maintainer".into(), "write".into());
    let job = Job::new();
    let head = job.git.pull_request(12, &[]);
    fake.state().pulls.insert(12, Pull::open(&head));
    let (_, _, _, outputs, _) = job.run(&fake, "pull_request", pull_request_event(12, &head), &[], &[]);
    let hash = output(&outputs, "plan-hash").unwrap();
    let (code, _, stderr, _, _) = job.run(&fake, "issue_comment", comment_event(12, "maintainer", "/ferry apply 0123456789ab"), &[], &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains(&format!("the command names plan 0123456789ab, but ferry's plan on #12 is {} now", &hash[..12])), "{stderr}");
    let answered = fake.comments_on(12).iter().any(|c| c.body.contains("@maintainer: ferry did not do that") && c.body.contains("names plan 0123456789ab"));
    assert!(answered, "the refusal is answered on the pull request");
    let (code, _, stderr, _, _) = job.run(&fake, "issue_comment", comment_event(12, "maintainer", &format!("/ferry apply {}", &hash[..12])), &[], &[]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_forks_code_never_reaches_a_job_with_secrets() {
    let fake = FakeGitHub::start("");
    fake.state().permissions.insert("maintainer".into(), "admin".into());
    let job = Job::new();
    let head = job.git.pull_request(13, &[("ferry.toml", "# the fork's\n")]);
    fake.state().pulls.insert(13, Pull::from_fork(&head, "stranger/shop"));
    for command in ["/ferry plan", "/ferry apply", "/ferry abort"] {
        let (code, _, stderr, _, _) = job.run(&fake, "issue_comment", comment_event(13, "maintainer", command), &[], &[]);
        assert_eq!(code, 1, "{command}: {stderr}");
        assert!(stderr.contains("#13 comes from a fork (stranger/shop): ferry does not"), "{command}: {stderr}");
    }
    let (code, _, stderr, _, _) = job.run(&fake, "pull_request_target", pull_request_event_from(13, &head, "stranger/shop"), &[], &[]);
    assert_eq!(code, 1, "pull_request_target holds secrets: {stderr}");
    assert!(!job.has_commit(&head), "the fork's commit was never fetched");
    assert!(fake.comments_on(13).iter().all(|c| c.body.contains("comes from a fork")), "each refusal answered");
}

#[test]
fn a_closed_pull_request_is_not_applied_from_a_comment() {
    let fake = FakeGitHub::start("");
    fake.state().permissions.insert("maintainer".into(), "write".into());
    let job = Job::new();
    let head = job.git.pull_request(12, &[]);
    fake.state().pulls.insert(12, Pull { merged: true, ..Pull::open(&head) });
    let (code, _, stderr, _, _) = job.run(&fake, "issue_comment", comment_event(12, "maintainer", "/ferry apply"), &[], &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("#12 is closed"), "{stderr}");
}

#[test]
fn with_a_state_key_a_journal_changed_anywhere_is_refused() {
    let (co, state) = gated();
    let key = [("FERRY_STATE_KEY", "state-key-5b0c1d7e93")];
    let (code, _, err) = apply(co.path(), state.path(), &[], &key);
    assert_eq!(code, 0, "{err}");
    let path = std::fs::read_dir(state.path().join("journal/shop")).unwrap().next().unwrap().unwrap().path();
    let raw = std::fs::read_to_string(&path).unwrap();
    let (header, body) = raw.split_once('\n').unwrap();
    assert!(header.starts_with("ferry-signed hmac-sha256 "), "{header}");
    // A field no plan hash covers (when the phase started): only the
    // signature can notice that it changed.
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    let mut edited = body.clone();
    edited["phases"][0]["started_at_ms"] = 1.into();
    std::fs::write(&path, format!("{header}\n{edited}")).unwrap();
    let (code, _, err) = apply(co.path(), state.path(), &["--approve"], &key);
    assert_eq!(code, 1);
    assert!(err.contains("not signed with this repository's FERRY_STATE_KEY"), "{err}");
    std::fs::write(&path, &raw).unwrap();
    let (code, _, err) = apply(co.path(), state.path(), &["--approve"], &key);
    assert_eq!(code, 0, "the original document verifies: {err}");
    assert!(std::fs::read_to_string(co.path().join("fly.toml")).unwrap().contains("A = \"1\""));
}

#[test]
fn the_plan_hash_covers_settings_no_action_shows() {
    // The audit's case: a shell command slipped into a VM target's `docker`
    // setting left the plan hash unchanged.
    let target = |docker: &str| {
        format!(
            "[[steps]]\nname = \"parse-config\"\n\n[targets.vm.prod]\nhost = \"root@127.0.0.1:1\"\nssh_key_env = \"FERRY_SECRET_KEY\"\n\
             known_hosts_env = \"FERRY_SECRET_KH\"\ndocker = \"{docker}\"\n"
        )
    };
    let co = checkout(&[("fly.toml", "app = \"shop\"\n"), ("ferry.toml", &target("docker"))]);
    let state = tempfile::tempdir().unwrap();
    let hash = |co: &Path| {
        let (code, out, err) = run(ferry(&co.join(".cache")).args(["plan", "--format", "json", "--dir"]).arg(co).arg("--state").arg(state.path()));
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["plan_hash"].as_str().unwrap().to_string()
    };
    let reviewed = hash(co.path());
    std::fs::write(co.path().join("ferry.toml"), target("touch /tmp/pwned; docker")).unwrap();
    assert_ne!(hash(co.path()), reviewed, "the setting is part of the plan");
    let (code, _, err) = apply(co.path(), state.path(), &["--plan-hash", &reviewed], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("ferry.toml's settings changed"), "{err}");
}

#[test]
fn with_a_state_key_a_planted_lock_blocks_nothing_for_good() {
    // Someone with push access to the state branch plants a lock (a
    // denial of service): refused as unsigned, and `ferry unlock` removes it.
    let (co, state) = gated();
    let key = [("FERRY_STATE_KEY", "state-key-5b0c1d7e93")];
    std::fs::create_dir_all(state.path().join("locks")).unwrap();
    let planted = "{\"format\":1,\"owner\":\"mallory\",\"purpose\":\"apply deploy\",\"url\":null,\"host\":null,\"pid\":null,\"acquired_at_ms\":1,\"expires_ms\":99999999999999}\n";
    std::fs::write(state.path().join("locks/shop.json"), planted).unwrap();
    let (code, _, err) = apply(co.path(), state.path(), &[], &key);
    assert_eq!(code, 1);
    assert!(err.contains("locks/shop.json") && err.contains("is not signed with this repository's FERRY_STATE_KEY"), "{err}");
    let mut unlock = ferry(&co.path().join(".cache"));
    unlock.args(["unlock", "--app", "shop", "--dir"]).arg(co.path()).arg("--state").arg(state.path()).envs(key);
    let (code, _, err) = run(&mut unlock);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("removed the lock file of shop") && err.contains("not signed"), "{err}");
    let (code, _, err) = apply(co.path(), state.path(), &[], &key);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn an_answer_quotes_the_commenters_words_as_text_never_as_html() {
    let fake = FakeGitHub::start("");
    fake.state().permissions.insert("maintainer".into(), "write".into());
    let job = Job::new();
    let head = job.git.pull_request(12, &[]);
    fake.state().pulls.insert(12, Pull::open(&head));
    let (code, _, stderr, _, _) = job.run(&fake, "issue_comment", comment_event(12, "maintainer", "/ferry <img src=x onerror=alert(1)>"), &[], &[]);
    assert_eq!(code, 0, "an unknown command is answered, not an error: {stderr}");
    let answers: Vec<String> = fake.comments_on(12).iter().map(|c| c.body.clone()).filter(|b| b.contains("unknown /ferry command")).collect();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert!(answers[0].contains("`&lt;img`") && !answers[0].contains("<img"), "{}", answers[0]);
}
