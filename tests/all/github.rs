//! GitHub: the client against the fake (sticky comments, pages, authors,
//! forks, GHES, the branch store), then `ferry ci` run as the Actions
//! runner runs it, with the event payload, outputs and summary files.

use ferry_github::{CommentMode, GitHub};
use ferry_state::StateStore;

use crate::support::github::{
    BOT, FakeGitHub, JOB_FLY, Job, OWNER, Pull, REPO, comment_event, dispatch_event, output, pull_request_event, pull_request_event_from, push_event,
};

fn client(fake: &FakeGitHub) -> GitHub {
    GitHub::new(&fake.base, "ghs_test-token", &format!("{OWNER}/{REPO}")).unwrap()
}

const PREFIX: &str = "<!-- ferry:plan app=shop part=";

fn part(n: usize, of: usize, text: &str) -> String {
    format!("{PREFIX}{n}/{of} -->\n{text}")
}

#[test]
fn the_sticky_comment_is_created_then_updated_in_place() {
    let fake = FakeGitHub::start("");
    let gh = client(&fake);
    let me = gh.identity().unwrap();
    assert_eq!(me, BOT, "an Actions token cannot read /user: it comments as the bot");
    let first = gh.post_comment(7, PREFIX, &[part(1, 1, "plan A")], &me, CommentMode::Sticky).unwrap();
    assert_eq!((first.created, first.updated), (1, 0));
    let second = gh.post_comment(7, PREFIX, &[part(1, 1, "plan B")], &me, CommentMode::Sticky).unwrap();
    assert_eq!((second.created, second.updated), (0, 1));
    assert_eq!(first.url, second.url, "the same comment");
    let third = gh.post_comment(7, PREFIX, &[part(1, 1, "plan B")], &me, CommentMode::Sticky).unwrap();
    assert_eq!(third.unchanged, 1, "an identical body is not rewritten");
    let comments = fake.comments_on(7);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.ends_with("plan B"));
    let writes: Vec<String> = fake.requests().into_iter().filter(|r| !r.starts_with("GET")).collect();
    assert_eq!(writes, ["POST /repos/acme/shop/issues/7/comments", "PATCH /repos/acme/shop/issues/comments/1001"]);

    let new = gh.post_comment(7, PREFIX, &[part(1, 1, "plan C")], &me, CommentMode::New).unwrap();
    assert_eq!(new.created, 1);
    assert_eq!(fake.comments_on(7).len(), 2, "`new` mode keeps the history");
}

#[test]
fn the_sticky_comment_is_found_past_the_first_page_and_look_alikes_are_ignored() {
    let fake = FakeGitHub::start("");
    for i in 0..150 {
        fake.add_comment(9, "alice", &format!("comment {i}"));
    }
    // Someone pasted ferry's marker: it must not be taken for ferry's comment.
    let lookalike = fake.add_comment(9, "mallory", &part(1, 1, "fake plan"));
    let ours = fake.add_comment(9, BOT, &part(1, 1, "old plan"));
    let gh = client(&fake);
    let posted = gh.post_comment(9, PREFIX, &[part(1, 1, "new plan")], BOT, CommentMode::Sticky).unwrap();
    assert_eq!((posted.created, posted.updated), (0, 1));
    let comments = fake.comments_on(9);
    assert!(comments.iter().find(|c| c.id == ours).unwrap().body.ends_with("new plan"));
    assert!(comments.iter().find(|c| c.id == lookalike).unwrap().body.ends_with("fake plan"), "untouched");
    assert!(fake.requests().contains(&"GET /repos/acme/shop/issues/9/comments".to_string()));
}

#[test]
fn a_shorter_comment_deletes_its_extra_parts() {
    let fake = FakeGitHub::start("");
    let gh = client(&fake);
    let parts: Vec<String> = (1..=3).map(|i| part(i, 3, &format!("part {i}"))).collect();
    assert_eq!(gh.post_comment(4, PREFIX, &parts, BOT, CommentMode::Sticky).unwrap().created, 3);
    let posted = gh.post_comment(4, PREFIX, &[part(1, 1, "short now")], BOT, CommentMode::Sticky).unwrap();
    assert_eq!((posted.updated, posted.deleted), (1, 2));
    assert_eq!(fake.comments_on(4).len(), 1);
}

#[test]
fn a_read_only_token_is_forbidden_not_broken() {
    let fake = FakeGitHub::start("");
    fake.state().read_only = true;
    let err = client(&fake).post_comment(3, PREFIX, &[part(1, 1, "x")], BOT, CommentMode::Sticky).unwrap_err();
    assert!(err.is_forbidden(), "{err}");
    assert!(err.to_string().contains("Resource not accessible by integration"), "{err}");
}

#[test]
fn github_enterprise_server_keeps_its_api_base_path() {
    let fake = FakeGitHub::start("/api/v3");
    fake.state().permissions.insert("bob".into(), "write".into());
    let gh = client(&fake);
    assert!(gh.can_write("bob").unwrap());
    assert!(!gh.can_write("eve").unwrap(), "read is not enough");
    gh.post_comment(5, PREFIX, &[part(1, 1, "plan")], BOT, CommentMode::Sticky).unwrap();
    let requests = fake.requests();
    assert!(requests.iter().all(|r| r.split(' ').nth(1).unwrap().starts_with("/api/v3/")), "{requests:?}");
}

#[test]
fn the_branch_store_swaps_documents_and_creates_its_branch() {
    let fake = FakeGitHub::start("");
    let store = ferry_github::BranchStore::new(client(&fake));
    assert!(store.read("journal/shop/a.json").unwrap().is_none());
    let v1 = store.write("journal/shop/a.json", b"{\"n\":1}", None).unwrap();
    assert!(fake.state().branch, "the ferry-state branch was created on the first write");
    assert!(matches!(store.write("journal/shop/a.json", b"x", None), Err(ferry_state::StoreError::Conflict { .. })), "no sha: 422");
    let v2 = store.write("journal/shop/a.json", b"{\"n\":2}", Some(&v1)).unwrap();
    assert!(matches!(store.write("journal/shop/a.json", b"x", Some(&v1)), Err(ferry_state::StoreError::Conflict { .. })), "stale sha: 409");
    assert_eq!(store.read("journal/shop/a.json").unwrap().unwrap(), (b"{\"n\":2}".to_vec(), v2.clone()));
    store.write("locks/shop.json", b"{}", None).unwrap();
    assert_eq!(store.list("journal/").unwrap(), ["journal/shop/a.json"]);
    store.delete("journal/shop/a.json", &v2).unwrap();
    assert!(store.read("journal/shop/a.json").unwrap().is_none());
    assert!(fake.state().files.contains_key("ferry/locks/shop.json"), "documents live under ferry/ on the branch");
}

// ---------------------------------------------------------------------------
// `ferry ci` as the runner runs it

/// The journal's record of the edit the job's workflow proposes.
fn applied_edit(fake: &FakeGitHub) -> bool {
    fake.state().files.iter().any(|(k, (bytes, _))| k.starts_with("ferry/journal/shop/") && String::from_utf8_lossy(bytes).contains("primary_region"))
}

#[test]
fn a_pull_request_gets_a_plan_comment_outputs_and_a_summary() {
    let fake = FakeGitHub::start("");
    let job = Job::new();
    let head = job.git.pull_request(12, &[]);
    fake.state().pulls.insert(12, Pull::open(&head));
    let (code, stdout, stderr, outputs, summary) = job.run(&fake, "pull_request", pull_request_event(12, &head), &[], &[]);
    assert_eq!(code, 0, "{stderr}");
    let hash = output(&outputs, "plan-hash").expect("plan-hash output");
    assert_eq!(hash.len(), 64);
    assert_eq!(output(&outputs, "has-changes").as_deref(), Some("true"));
    assert_eq!(output(&outputs, "disruptive").as_deref(), Some("1"));
    assert_eq!(output(&outputs, "destructive").as_deref(), Some("0"));
    assert!(output(&outputs, "comment-url").unwrap().starts_with("https://github.com/acme/shop/pull/12#issuecomment-"));
    assert!(stdout.contains("::warning file=fly.toml,title=port-not-exposed::") || !stdout.contains("::error"), "{stdout}");
    assert!(summary.contains("## ferry plan: `shop` · phase `deploy`"), "{summary}");
    let comments = fake.comments_on(12);
    assert_eq!(comments.len(), 1);
    let body = &comments[0].body;
    assert!(body.starts_with(&format!("<!-- ferry:plan app=shop part=1/1 hash={hash} sha={head} -->\n")), "the exact commit planned: {body}");
    assert!(body.contains(&format!("To apply this plan, comment `/ferry apply {}`", &hash[..12])), "{body}");
    assert!(body.contains("[Workflow run](https://github.com/acme/shop/actions/runs/4242)"));
    assert!(fake.state().files.keys().any(|k| k.starts_with("ferry/plans/shop/")), "the plan is kept on the state branch");

    // A second run updates the same comment.
    let (code, _, _, _, _) = job.run(&fake, "pull_request", pull_request_event(12, &head), &[], &[]);
    assert_eq!(code, 0);
    assert_eq!(fake.comments_on(12).len(), 1);
}

#[test]
fn a_writer_applies_from_a_comment_and_a_reader_is_answered_on_the_pull_request() {
    let fake = FakeGitHub::start("");
    fake.state().permissions.insert("maintainer".into(), "maintain".into());
    let job = Job::new();
    let head = job.git.pull_request(12, &[]);
    fake.state().pulls.insert(12, Pull::open(&head));
    assert_eq!(job.run(&fake, "pull_request", pull_request_event(12, &head), &[], &[]).0, 0);

    let (code, _, stderr, _, _) = job.run(&fake, "issue_comment", comment_event(12, "visitor", "/ferry apply"), &[], &[]);
    assert_eq!(code, 0);
    assert!(stderr.contains("@visitor may not run /ferry commands: that needs write permission"), "{stderr}");
    assert!(!applied_edit(&fake), "nothing applied");
    assert!(fake.comments_on(12).iter().any(|c| c.body.contains("@visitor may not run /ferry commands")), "answered where they asked");

    let (code, _, stderr, outputs, summary) = job.run(&fake, "issue_comment", comment_event(12, "maintainer", "/ferry apply"), &[], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(output(&outputs, "outcome").as_deref(), Some("applied"));
    assert!(applied_edit(&fake), "the journal lives on the branch");
    assert_eq!(std::fs::read_to_string(job.path().join("fly.toml")).unwrap(), JOB_FLY, "the pull request was applied in its own worktree");
    assert!(summary.contains("**✅ Applied**"), "{summary}");
    let bodies: Vec<String> = fake.comments_on(12).into_iter().map(|c| c.body).collect();
    assert!(bodies.iter().any(|b| b.starts_with("<!-- ferry:apply app=shop part=1/1") && b.contains("| 1 | set primary_region")), "{bodies:?}");
    assert!(fake.requests().contains(&"POST /repos/acme/shop/issues/comments/77/reactions".to_string()), "👀 on the command");
}

#[test]
fn a_failed_apply_tells_its_reason_once_in_the_log_as_an_error_annotation() {
    let fake = FakeGitHub::start("");
    fake.state().permissions.insert("maintainer".into(), "maintain".into());
    // `app.name` cannot be set: `app` is a string, not a table.
    let sha = crate::support::sha256_hex(&ferry_test_guests::bytes(ferry_test_guests::EDITS));
    let workflow = format!(
        "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"edits\"\ncomponent = \"edits.wasm\"\nsha256 = \"{sha}\"\nactions = [\"checkout\"]\nparams = {{ edits = 'primary_region=\"ams\";app.name=\"x\"' }}\n"
    );
    let job = Job::with_files(&[("ferry.toml", &workflow)]);
    let head = job.git.pull_request(12, &[]);
    fake.state().pulls.insert(12, Pull::open(&head));
    assert_eq!(job.run(&fake, "pull_request", pull_request_event(12, &head), &[], &[]).0, 0);

    let (code, stdout, stderr, outputs, summary) = job.run(&fake, "issue_comment", comment_event(12, "maintainer", "/ferry apply"), &[], &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(output(&outputs, "outcome").as_deref(), Some("rolled-back"), "{outputs}");
    let reason = "`app` is not a table";
    let log = format!("{stdout}{stderr}");
    assert_eq!(log.matches(reason).count(), 1, "told once in the job log:\n{log}");
    assert!(stdout.lines().any(|l| l.starts_with("::error::") && l.contains(reason)), "as an annotation: {stdout}");
    assert!(stderr.contains("failed: set app.name") && stderr.contains("undoing what this run did"), "{stderr}");
    assert!(summary.contains(reason), "{summary}");
    assert!(fake.comments_on(12).iter().any(|c| c.body.starts_with("<!-- ferry:apply") && c.body.contains(reason)), "and on the pull request");
}

#[test]
fn apply_refuses_a_plan_of_older_commits() {
    let fake = FakeGitHub::start("");
    fake.state().permissions.insert("maintainer".into(), "write".into());
    let job = Job::new();
    let head = job.git.pull_request(12, &[]);
    fake.state().pulls.insert(12, Pull::open(&head));
    assert_eq!(job.run(&fake, "pull_request", pull_request_event(12, &head), &[], &[]).0, 0);
    let newer = job.git.push_to_pull(12, &head, &[("README", "more\n")]);
    fake.state().pulls.insert(12, Pull::open(&newer));
    let (code, _, stderr, _, _) = job.run(&fake, "issue_comment", comment_event(12, "maintainer", "/ferry apply"), &[], &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains(&format!("#12 has new commits since its plan (planned {}, head {})", &head[..12], &newer[..12])), "{stderr}");
    assert!(!applied_edit(&fake));
}

#[test]
fn a_fork_gets_its_plan_in_the_summary_and_never_an_apply() {
    let fake = FakeGitHub::start("");
    let job = Job::new();
    let head = job.git.pull_request(13, &[]);
    fake.state().pulls.insert(13, Pull::from_fork(&head, "stranger/shop"));
    fake.state().read_only = true;
    let (code, stdout, stderr, outputs, summary) = job.run(&fake, "pull_request", pull_request_event_from(13, &head, "stranger/shop"), &[], &[]);
    assert_eq!(code, 0, "a read-only token is not a failure: {stderr}");
    assert!(summary.contains("## ferry plan: `shop`"), "{summary}");
    assert!(output(&outputs, "plan-hash").is_some());
    assert!(stdout.contains("::warning::could not comment on #13: this pull request comes from a fork"), "{stdout}");
    assert!(fake.comments_on(13).is_empty());
}

#[test]
fn a_dispatch_applies_the_plan_hash_it_names_and_aborts_on_the_default_branch() {
    let fake = FakeGitHub::start("");
    let job = Job::new();
    let dispatch = |command: &str, hash: &str| dispatch_event(&[("command", command), ("phase", "deploy"), ("plan-hash", hash)]);
    let (code, _, _, outputs, _) = job.run(&fake, "workflow_dispatch", dispatch("plan", ""), &[], &[]);
    assert_eq!(code, 0);
    let hash = output(&outputs, "plan-hash").unwrap();
    let (code, _, stderr, outputs, summary) = job.run(&fake, "workflow_dispatch", dispatch("apply", &hash[..12]), &[], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(output(&outputs, "outcome").as_deref(), Some("applied"));
    assert!(summary.contains("✅ Applied"));
    assert!(std::fs::read_to_string(job.path().join("fly.toml")).unwrap().contains("primary_region = \"ams\""), "applied in the checkout");
    let (code, _, stderr, outputs, _) = job.run(&fake, "workflow_dispatch", dispatch("abort", ""), &[], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(output(&outputs, "outcome").as_deref(), Some("aborted"));
    assert_eq!(std::fs::read_to_string(job.path().join("fly.toml")).unwrap(), JOB_FLY);
}

#[test]
fn a_push_applies_the_plan_reviewed_on_its_merged_pull_request() {
    let fake = FakeGitHub::start("");
    let job = Job::new();
    let head = job.git.pull_request(12, &[("README", "docs\n")]);
    fake.state().pulls.insert(12, Pull::open(&head));
    let (code, _, stderr, outputs, _) = job.run(&fake, "pull_request", pull_request_event(12, &head), &[], &[]);
    assert_eq!(code, 0, "{stderr}");
    let reviewed = output(&outputs, "plan-hash").unwrap();
    let merged = job.git.merge(12);
    fake.state().pulls.insert(12, Pull { merged: true, ..Pull::open(&merged) });
    let (code, _, stderr, outputs, _) = job.run(&fake, "push", push_event(&merged), &[], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(output(&outputs, "outcome").as_deref(), Some("applied"));
    assert_eq!(output(&outputs, "plan-hash"), Some(reviewed), "the reviewed plan");
    assert!(stderr.contains("applying the plan reviewed on #12"), "{stderr}");
    let commits = fake.state().commit_comments.clone();
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].0, merged, "reported on the commit applied");
}

#[test]
fn config_errors_are_annotated_on_their_file_and_line() {
    let fake = FakeGitHub::start("");
    let job = Job::with_files(&[("fly.toml", "app = \"shop\"\n[deploy]\nstrategy = \"simple\"\n")]);
    let (code, stdout, _, _, summary) = job.run(&fake, "workflow_dispatch", dispatch_event(&[("command", "plan")]), &[], &[]);
    assert_eq!(code, 1, "an invalid config fails the step");
    assert!(stdout.contains("::error file=fly.toml,line=3,col=12,title=invalid-strategy::deploy strategy \"simple\" is not one of"), "{stdout}");
    assert!(summary.contains("invalid-strategy"), "the plan is still in the summary");
}

#[test]
fn a_canary_secret_never_reaches_comments_summary_outputs_or_state() {
    let canary = "canary-ci-51f0e2a9";
    let fake = FakeGitHub::start("");
    fake.state().permissions.insert("maintainer".into(), "write".into());
    let job = Job::new();
    let head = job.git.pull_request(12, &[("fly.toml", &format!("{JOB_FLY}\n[env]\n  LEAK = \"{canary}\"\n"))]);
    fake.state().pulls.insert(12, Pull::open(&head));
    let env = [("FERRY_SECRET_API_KEY", canary)];
    let mut seen = String::new();
    for (event, payload) in [("pull_request", pull_request_event(12, &head)), ("issue_comment", comment_event(12, "maintainer", "/ferry apply"))] {
        let (code, stdout, stderr, outputs, summary) = job.run(&fake, event, payload, &[], &env);
        assert_eq!(code, 0, "{stderr}");
        // `::add-mask::` is how a value is handed to the runner to hide; the
        // runner consumes that line and never shows it.
        let stderr: String = stderr.lines().filter(|l| !l.starts_with("::add-mask::")).collect::<Vec<_>>().join("\n");
        assert!(stderr.len() < 100_000);
        seen.push_str(&stdout);
        seen.push_str(&stderr);
        seen.push_str(&outputs);
        seen.push_str(&summary);
    }
    for c in fake.comments_on(12) {
        seen.push_str(&c.body);
    }
    for (bytes, _) in fake.state().files.values() {
        seen.push_str(&String::from_utf8_lossy(bytes));
    }
    assert!(seen.contains("LEAK"), "the key is there");
    assert!(!seen.contains(canary), "the canary leaked");
}

// ---------------------------------------------------------------------------
// The branch store under concurrency, and its branch

#[test]
fn the_state_branch_is_looked_up_and_created_as_an_orphan_before_the_first_write() {
    let fake = FakeGitHub::start("");
    let store = ferry_github::BranchStore::new(client(&fake));
    store.write("locks/shop.json", b"{}", None).unwrap();
    assert_eq!(
        fake.requests(),
        [
            "GET /repos/acme/shop/git/ref/heads/ferry-state",
            "POST /repos/acme/shop/git/trees",
            "POST /repos/acme/shop/git/commits",
            "POST /repos/acme/shop/git/refs",
            "PUT /repos/acme/shop/contents/ferry/locks/shop.json",
        ],
        "looked up (404), then made: a tree, a root commit, the ref; then written"
    );
    let files: Vec<String> = fake.state().files.keys().cloned().collect();
    assert_eq!(files, ["README.md", "ferry/locks/shop.json"], "only ferry's files: none of the repository's code or workflows");
    assert!(String::from_utf8_lossy(&fake.state().files["README.md"].0).contains("ferry state"));

    // Another process finds it and creates nothing.
    let before = fake.requests().len();
    let other = ferry_github::BranchStore::new(client(&fake));
    other.write("locks/cart.json", b"{}", None).unwrap();
    assert_eq!(fake.requests()[before..], ["GET /repos/acme/shop/git/ref/heads/ferry-state", "PUT /repos/acme/shop/contents/ferry/locks/cart.json"]);
    // And looks it up once per process.
    other.write("locks/cart2.json", b"{}", None).unwrap();
    assert_eq!(fake.requests().iter().filter(|r| r.ends_with("/git/ref/heads/ferry-state")).count(), 2);
}

#[test]
fn a_commit_of_another_file_is_retried_and_only_a_change_of_the_document_conflicts() {
    let fake = FakeGitHub::start("");
    let store = ferry_github::BranchStore::new(client(&fake));
    let v1 = store.write("journal/shop/run.json", b"{\"n\":1}", None).unwrap();

    // Two other apps' runs commit while this write is made: GitHub says 409 twice.
    fake.state().concurrent_commits.extend([("ferry/locks/cart.json".to_string(), Some(b"{}".to_vec())), ("ferry/locks/blog.json".into(), None)]);
    let v2 = store.write("journal/shop/run.json", b"{\"n\":2}", Some(&v1)).expect("not a conflict: the journal itself did not change");
    assert_eq!(store.read("journal/shop/run.json").unwrap().unwrap(), (b"{\"n\":2}".to_vec(), v2.clone()));
    let puts = fake.requests().iter().filter(|r| r.as_str() == "PUT /repos/acme/shop/contents/ferry/journal/shop/run.json").count();
    assert_eq!(puts, 4, "the first write, then the refused one twice and its success");

    // Creating a document and deleting one go through the same way.
    fake.state().concurrent_commits.push_back(("ferry/locks/cart.json".into(), Some(b"{\"x\":1}".to_vec())));
    let created = store.write("journal/shop/other.json", b"{}", None).unwrap();
    fake.state().concurrent_commits.push_back(("ferry/locks/cart.json".into(), None));
    store.delete("journal/shop/other.json", &created).unwrap();

    // The concurrent commit is to this very document: a real conflict.
    fake.state().concurrent_commits.push_back(("ferry/journal/shop/run.json".into(), Some(b"{\"n\":\"theirs\"}".to_vec())));
    let err = store.write("journal/shop/run.json", b"{\"n\":3}", Some(&v2)).unwrap_err();
    assert!(matches!(err, ferry_state::StoreError::Conflict { .. }), "{err}");
    assert_eq!(store.read("journal/shop/run.json").unwrap().unwrap().0, b"{\"n\":\"theirs\"}", "theirs stands");
}

#[test]
fn a_lock_refresh_on_a_busy_branch_is_not_taken_over_by_itself() {
    let fake = FakeGitHub::start("");
    let store = ferry_github::BranchStore::new(client(&fake));
    let me = ferry_state::lock::Holder { owner: "gh-1-1-deploy-aaaa", purpose: "apply deploy", url: None, host: None, pid: None };
    let mut held = ferry_state::lock::acquire(&store, "shop", &me, 60_000, 1_000, &|_| false).unwrap();
    fake.state().concurrent_commits.push_back(("ferry/journal/cart/run.json".into(), Some(b"{}".to_vec())));
    held.refresh(&store, 2_000).expect("another app's journal save is not a takeover");
    assert_eq!(ferry_state::lock::current(&store, "shop").unwrap().unwrap().expires_at_ms, 62_000);
    held.release(&store).unwrap();
    assert!(ferry_state::lock::current(&store, "shop").unwrap().is_none());
}

#[test]
fn a_branch_that_stays_busy_fails_the_write_saying_so() {
    let fake = FakeGitHub::start("");
    let store = ferry_github::BranchStore::new(client(&fake));
    let v1 = store.write("journal/shop/run.json", b"{}", None).unwrap();
    fake.state().concurrent_commits.extend((0..20).map(|i| (format!("ferry/locks/app{i}.json"), Some(b"{}".to_vec()))));
    let started = std::time::Instant::now();
    let err = store.write("journal/shop/run.json", b"{\"n\":2}", Some(&v1)).unwrap_err().to_string();
    assert!(err.contains("GitHub answered 409 8 times though journal/shop/run.json itself did not change"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "bounded: {:?}", started.elapsed());
    assert_eq!(fake.state().concurrent_commits.len(), 12, "eight attempts, no more");
}
