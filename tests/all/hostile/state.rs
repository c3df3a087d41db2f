//! The state store: locks that cannot be lost or shared by accident, journals that cannot block other runs.
//!
//! The lock cases run the real engine (`apply`, `abort`) on a real
//! `DirStore` with a short TTL. The world they act on is [`QuietWorld`]:
//! every action is a wait that never calls `keepalive`, as a Fly health
//! wait, a volume copy or a database verify never does.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use ferry_engine::apply::{self, ApplyError, ApplyOptions, ExecError, Executor, Outcome, Owner};
use ferry_engine::journal::UndoData;
use ferry_model::{Action, ControlOp, Operation, Plan, Risk, StepSection, Undo};
use ferry_state::lock::{self, Holder, LockError};
use ferry_state::{DirStore, StateStore};
use ferry_test_guests as guests;

use crate::support::github::{FakeGitHub, OWNER, REPO};
use crate::support::{checkout, ferry, run, sha256_hex};

/// Actions that wait `WaitMs` without a word; `during_first` runs at the
/// start of the first one (what another run does meanwhile), or of the
/// first wait of `trigger_ms` when set. A wait of [`FAILS_MS`] fails.
struct QuietWorld {
    executed: Mutex<Vec<u64>>,
    during_first: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    trigger_ms: Option<u64>,
}

/// The wait the quiet world fails.
const FAILS_MS: u64 = 666;

impl QuietWorld {
    fn new(during_first: impl FnOnce() + Send + 'static) -> Self {
        QuietWorld { executed: Mutex::new(Vec::new()), during_first: Mutex::new(Some(Box::new(during_first))), trigger_ms: None }
    }

    fn during_wait_of(ms: u64, during: impl FnOnce() + Send + 'static) -> Self {
        QuietWorld { trigger_ms: Some(ms), ..QuietWorld::new(during) }
    }

    fn executed(&self) -> Vec<u64> {
        self.executed.lock().unwrap().clone()
    }
}

impl Executor for QuietWorld {
    fn prepare(&self, _: &Operation) -> Result<UndoData, ExecError> {
        Ok(UndoData::None)
    }

    fn execute(&self, op: &Operation, _keepalive: &mut dyn FnMut()) -> Result<Vec<(String, String)>, ExecError> {
        let Operation::Control(ControlOp::WaitMs(ms)) = op else { return Err(ExecError::Failed(format!("the quiet world only waits, not {op:?}"))) };
        self.executed.lock().unwrap().push(*ms);
        if *ms == FAILS_MS {
            return Err(ExecError::Failed("this wait fails".into()));
        }
        let during = if self.trigger_ms.is_none_or(|t| t == *ms) { self.during_first.lock().unwrap().take() } else { None };
        if let Some(during) = during {
            during();
        }
        std::thread::sleep(Duration::from_millis(*ms));
        Ok(Vec::new())
    }

    fn observe(&self, _: &Operation, _: u64) -> Result<bool, ExecError> {
        Ok(false)
    }

    fn restore(&self, _: &Operation, _: &UndoData) -> Result<(), ExecError> {
        Ok(())
    }
}

/// A deploy plan for `shop` of waits of these lengths.
fn waits(ms: &[u64]) -> Plan {
    let actions = ms
        .iter()
        .enumerate()
        .map(|(i, ms)| Action {
            id: format!("wait-{i}"),
            summary: format!("wait {ms} ms"),
            risk: Risk::Safe,
            operation: Operation::Control(ControlOp::WaitMs(*ms)),
            undo: Undo::None("a wait changes nothing".into()),
            detail: None,
        })
        .collect();
    let mut plan = Plan::new("deploy");
    plan.steps.push(StepSection { step: "quiet".into(), version: "0.1.0".into(), actions, findings: Vec::new() });
    plan
}

fn options(ttl_ms: u64) -> ApplyOptions {
    ApplyOptions {
        reviewed_hash: None,
        rollback: true,
        approve: false,
        run: Some("deploy-quiet".into()),
        key: Some("shop".into()),
        owner: Owner { id: "gh-4242-1-deploy-aaaa".into(), url: Some("https://github.com/acme/shop/actions/runs/4242".into()), host: None, pid: None },
        lock_ttl_ms: ttl_ms,
        resume_unreviewed: true,
    }
}

fn second_owner(url: &str) -> Holder<'_> {
    Holder { owner: "gh-4242-1-deploy-bbbb", purpose: "apply deploy", url: Some(url), host: None, pid: None }
}

fn dir_store() -> (tempfile::TempDir, std::sync::Arc<DirStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(DirStore::open(dir.path().join("state")).unwrap());
    (dir, store)
}

#[test]
fn a_quiet_action_longer_than_the_lock_ttl_keeps_the_lock() {
    let (_dir, store) = dir_store();
    let attempt = std::sync::Arc::new(Mutex::new(None));
    let (s, seen) = (store.clone(), attempt.clone());
    // Over two TTLs into the first action, another job of the run asks for the lock.
    let world = QuietWorld::new(move || {
        std::thread::sleep(Duration::from_millis(2_600));
        let result = lock::acquire(&*s, "shop", &second_owner("https://ci/other"), 1_200, apply::now_ms(), &|_| false);
        *seen.lock().unwrap() = Some(result.map(drop).map_err(|e| e.to_string()));
    });
    let report = apply::apply(&*store, &world, &waits(&[300, 5]), &options(1_200)).unwrap();
    assert!(matches!(report.outcome, Outcome::Applied), "{:?}", report.outcome);
    let refused = attempt.lock().unwrap().take().expect("the second job asked").unwrap_err();
    assert!(refused.starts_with("shop is locked by gh-4242-1-deploy-aaaa (apply deploy, https://github.com/acme/shop/actions/runs/4242)"), "{refused}");
    assert_eq!(world.executed(), [300, 5]);
    assert!(lock::current(&*store, "shop").unwrap().is_none(), "released at the end");
}

#[test]
fn a_lock_taken_over_during_an_action_stops_the_apply_after_it() {
    let (_dir, store) = dir_store();
    let s = store.clone();
    // Someone runs `ferry unlock` and another job takes the lock, while the
    // first action runs.
    let world = QuietWorld::new(move || {
        lock::force_unlock(&*s, "shop").unwrap();
        lock::acquire(&*s, "shop", &second_owner("https://github.com/acme/shop/actions/runs/99"), 60_000, apply::now_ms(), &|_| false).unwrap();
    });
    let err = apply::apply(&*store, &world, &waits(&[700, 5, 6]), &options(900)).unwrap_err();
    assert!(matches!(err, ApplyError::Lock(LockError::Lost { .. })), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with(
            "the lock on shop was taken over by gh-4242-1-deploy-bbbb (apply deploy, https://github.com/acme/shop/actions/runs/99) while this run held it"
        ),
        "{message}"
    );
    assert!(message.contains("runs no further action"), "{message}");
    assert_eq!(world.executed(), [700], "no action ran after the lock was lost");
    let journal = apply::load_journal(&*store, "shop", "deploy-quiet").unwrap().unwrap();
    let events: Vec<String> =
        journal.phases[0].entries.iter().map(|e| format!("{}:{}", e.action, serde_json::to_value(&e.event).unwrap()["event"].as_str().unwrap())).collect();
    assert_eq!(events, ["wait-0:started", "wait-0:done"], "the action that ran is journaled as done");
    let holder = lock::current(&*store, "shop").unwrap().unwrap();
    assert_eq!(holder.owner, "gh-4242-1-deploy-bbbb", "the loser did not release the new holder's lock");
}

#[test]
fn a_lock_taken_over_during_a_rollback_undoes_nothing_further() {
    let (_dir, store) = dir_store();
    let s = store.clone();
    // The third action fails; while the rollback undoes the second (a 700 ms
    // wait), another job takes the lock. The first action's undo must not run.
    let world = QuietWorld::during_wait_of(700, move || {
        lock::force_unlock(&*s, "shop").unwrap();
        lock::acquire(&*s, "shop", &second_owner("https://github.com/acme/shop/actions/runs/99"), 60_000, apply::now_ms(), &|_| false).unwrap();
    });
    let mut plan = waits(&[5, 6, FAILS_MS]);
    let actions = &mut plan.steps[0].actions;
    actions[0].undo = Undo::Run(Operation::Control(ControlOp::WaitMs(10)));
    actions[1].undo = Undo::Run(Operation::Control(ControlOp::WaitMs(700)));
    let err = apply::apply(&*store, &world, &plan, &options(900)).unwrap_err();
    assert!(matches!(err, ApplyError::Lock(LockError::Lost { .. })), "{err}");
    assert_eq!(world.executed(), [5, 6, FAILS_MS, 700], "the first action's undo did not run after the lock was lost");
    let journal = apply::load_journal(&*store, "shop", "deploy-quiet").unwrap().unwrap();
    let undone: Vec<&str> =
        journal.phases[0].entries.iter().filter(|e| serde_json::to_value(&e.event).unwrap()["event"] == "undone").map(|e| e.action.as_str()).collect();
    assert_eq!(undone, ["wait-1"], "the undo that ran is journaled; wait-0 stays done for the new holder to see");
    assert_eq!(lock::current(&*store, "shop").unwrap().unwrap().owner, "gh-4242-1-deploy-bbbb");
}

#[test]
fn a_panicking_action_stops_renewing_its_lock() {
    struct Panics;
    impl Executor for Panics {
        fn prepare(&self, _: &Operation) -> Result<UndoData, ExecError> {
            Ok(UndoData::None)
        }
        fn execute(&self, _: &Operation, _: &mut dyn FnMut()) -> Result<Vec<(String, String)>, ExecError> {
            std::thread::sleep(Duration::from_millis(250));
            panic!("a provider bug")
        }
        fn observe(&self, _: &Operation, _: u64) -> Result<bool, ExecError> {
            Ok(false)
        }
        fn restore(&self, _: &Operation, _: &UndoData) -> Result<(), ExecError> {
            Ok(())
        }
    }
    let (_dir, store) = dir_store();
    let (done, finished) = std::sync::mpsc::channel();
    let s = store.clone();
    // Detached, so a renewer that never stops fails this test instead of hanging it.
    std::thread::spawn(move || {
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| apply::apply(&*s, &Panics, &waits(&[1]), &options(300))));
        done.send(panicked.is_err()).unwrap();
    });
    assert_eq!(finished.recv_timeout(Duration::from_secs(20)), Ok(true), "the panic reached the caller");
    let left = lock::current(&*store, "shop").unwrap().expect("a panicking run leaves its lock to expire");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(lock::current(&*store, "shop").unwrap().unwrap(), left, "nobody renews it after the panic");
    lock::acquire(&*store, "shop", &second_owner("https://ci/next"), 600, apply::now_ms(), &|_| false).expect("it expired");
}

// ---------------------------------------------------------------------------
// Owners: two jobs of one workflow run

const FLY: &str = "app = \"shop\"\n\n[http_service]\n  internal_port = 8080\n\n[env]\n  MODE = \"old\"\n";

/// A checkout whose workflow edits fly.toml (the `edits` test guest).
fn app() -> tempfile::TempDir {
    let co = checkout(&[("fly.toml", FLY), ("Dockerfile", "FROM alpine\nEXPOSE 8080\n")]);
    std::fs::copy(guests::EDITS, co.path().join("edits.wasm")).unwrap();
    let sha = sha256_hex(&ferry_test_guests::bytes(guests::EDITS));
    let workflow = format!(
        "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"edits\"\ncomponent = \"edits.wasm\"\nsha256 = \"{sha}\"\nactions = [\"checkout\"]\n[steps.params]\nedits = \"env.MODE=\\\"new\\\";env.A=\\\"1\\\"\"\n"
    );
    std::fs::write(co.path().join("ferry.toml"), workflow).unwrap();
    co
}

/// `ferry` as a job of run 4242 runs it (a matrix job: same run, attempt
/// and job name), with its state in the checkout.
fn job(dir: &Path) -> Command {
    let mut cmd = ferry(&dir.join(".cache"));
    cmd.current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .env("FERRY_LOG", "warn")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", format!("{OWNER}/{REPO}"))
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("GITHUB_JOB", "deploy");
    cmd
}

#[test]
fn two_jobs_of_one_workflow_run_do_not_share_the_lock() {
    let co = app();
    let hash = plan_hash(co.path());
    // The first job is killed mid-apply: its lock stays, unexpired.
    let killed = job(co.path()).args(["-q", "apply", "--plan-hash", &hash]).env("FERRY_TEST_KILL_AT", "edit:env.MODE:done").output().unwrap();
    assert!(!killed.status.success());
    let store = DirStore::open(co.path().join(".ferry")).unwrap();
    let first = lock::current(&store, "shop").unwrap().expect("the killed job's lock");
    assert!(first.owner.starts_with("gh-4242-1-deploy-") && first.owner.len() > "gh-4242-1-deploy-".len(), "{}", first.owner);
    assert_eq!(first.url.as_deref(), Some("https://github.com/acme/shop/actions/runs/4242"));

    // The second job of the same run must not take it as its own.
    let (code, _, stderr) = run(job(co.path()).args(["apply", "--plan-hash", &hash]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&format!("error: shop is locked by {} (apply deploy, https://github.com/acme/shop/actions/runs/4242)", first.owner)), "{stderr}");
    assert!(!std::fs::read_to_string(co.path().join("fly.toml")).unwrap().contains("A = \"1\""), "the second job did not apply");
}

// ---------------------------------------------------------------------------
// One bad state file does not block the app

fn plan_hash(dir: &Path) -> String {
    let (code, stdout, stderr) = run(ferry_in(dir).args(["plan", "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["plan_hash"].as_str().unwrap()[..12].to_string()
}

/// Applies the app once, so it has a run; returns the run's id.
fn applied(dir: &Path) -> String {
    let hash = plan_hash(dir);
    let (code, _, stderr) = run(ferry_in(dir).args(["apply", "--plan-hash", &hash]));
    assert_eq!(code, 0, "{stderr}");
    let store = DirStore::open(dir.join(".ferry")).unwrap();
    apply::latest_run(&store, "shop").unwrap().unwrap()
}

fn ferry_in(dir: &Path) -> Command {
    let mut cmd = ferry(&dir.join(".cache"));
    cmd.current_dir(dir).env("FERRY_LOG", "warn");
    cmd
}

#[test]
fn a_corrupted_or_newer_journal_of_another_run_is_skipped_with_a_warning() {
    let co = app();
    let good = applied(co.path());
    let folder = co.path().join(".ferry/journal/shop");
    std::fs::write(folder.join("zz-broken.json"), "{\"format\": 1, \"app\": \"shop\", \"run\": ").unwrap();
    std::fs::write(folder.join("zz-newer.json"), "{\"format\": 99, \"app\": \"shop\", \"run\": \"zz-newer\", \"phases\": []}").unwrap();

    let (code, stdout, stderr) = run(ferry_in(co.path()).args(["status"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("phase deploy: applied"), "{stdout}");
    assert!(stderr.contains("skipping a journal that cannot be read: journal/shop/zz-broken.json in directory"), "{stderr}");
    assert!(stderr.contains("journal/shop/zz-newer.json in directory") && stderr.contains("is a journal of format 99"), "{stderr}");

    // That very run, asked for by name, is refused with the reason.
    let (code, _, stderr) = run(ferry_in(co.path()).args(["status", "--app", "shop", "--run", "zz-newer"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("is a journal of format 99, and this ferry reads journals of format 3 only"), "{stderr}");

    let (code, stdout, stderr) = run(ferry_in(co.path()).args(["abort", "--yes"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("phase deploy: aborted"), "{stdout}");
    assert_eq!(std::fs::read_to_string(co.path().join("fly.toml")).unwrap(), FLY, "the good run {good} was aborted");
}

#[test]
fn unlock_removes_a_corrupted_lock_that_blocks_abort() {
    let co = app();
    applied(co.path());
    let lock_file = co.path().join(".ferry/locks/shop.json");
    std::fs::write(&lock_file, "\u{0}\u{0}garbage").unwrap();

    let (code, _, stderr) = run(ferry_in(co.path()).args(["abort", "--yes"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("locks/shop.json in directory") && stderr.contains("cannot be read: not valid JSON"), "{stderr}");
    assert!(stderr.contains("remove the lock with `ferry unlock --app shop`"), "{stderr}");

    let (code, _, stderr) = run(ferry_in(co.path()).args(["unlock", "--app", "shop"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("removed the lock file of shop from directory") && stderr.contains("it could not be read (not valid JSON"), "{stderr}");
    assert!(stderr.contains("9 bytes"), "{stderr}");
    assert!(!lock_file.exists());

    let (code, _, stderr) = run(ferry_in(co.path()).args(["abort", "--yes"]));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_lock_or_kept_plan_of_an_unknown_format_is_refused() {
    let (_dir, store) = dir_store();
    store.write("locks/shop.json", br#"{"format":99,"owner":"x","purpose":"apply","url":null,"acquired_at_ms":0,"expires_at_ms":0}"#, None).unwrap();
    let err = apply::apply(&*store, &QuietWorld::new(|| {}), &waits(&[1]), &options(60_000)).unwrap_err().to_string();
    assert!(err.contains("locks/shop.json in directory") && err.contains("is a lock of format 99, and this ferry reads locks of format 1 only"), "{err}");
    assert!(err.contains("ferry unlock --app shop"), "{err}");

    let plan = waits(&[1]);
    let hash = plan.hash();
    let mut newer = serde_json::to_value(&plan).unwrap();
    newer["format"] = 99.into();
    let key = format!("plans/shop/{hash}.json");
    let (_, kept) = store.read(&key).unwrap().expect("apply kept the plan before it asked for the lock");
    store.write(&key, newer.to_string().as_bytes(), Some(&kept)).unwrap();
    let err = apply::load_plan(&*store, "shop", &hash[..12]).unwrap_err().to_string();
    assert!(err.contains(&format!("plans/shop/{hash}.json")) && err.contains("is a kept plan of format 99"), "{err}");
}

// ---------------------------------------------------------------------------
// The GitHub branch store

fn branch_store(fake: &FakeGitHub) -> ferry_github::BranchStore {
    ferry_github::BranchStore::new(ferry_github::GitHub::new(&fake.base, "ghs_test-token", &format!("{OWNER}/{REPO}")).unwrap())
}

#[test]
fn keys_that_leave_the_state_folder_or_change_the_url_are_refused_before_any_request() {
    let fake = FakeGitHub::start("");
    let store = branch_store(&fake);
    for key in [
        "../../x",
        "journal/shop/../../../README.md",
        "/etc/passwd",
        "journal/shop/x?ref=main",
        "journal/shop/x#y",
        "journal/shop/%2e%2e",
        ".github/workflows/ci.yml",
    ] {
        let err = store.read(key).unwrap_err().to_string();
        assert!(err.contains("invalid key"), "{key}: {err}");
        let err = store.write(key, b"{}", None).unwrap_err().to_string();
        assert!(err.contains("invalid key"), "{key}: {err}");
    }
    assert_eq!(fake.requests(), Vec::<String>::new(), "nothing reached GitHub");

    // As `--run` reaches it from the command line.
    let dir = tempfile::tempdir().unwrap();
    let runner = crate::support::github::Runner::new(dir.path(), &fake, "workflow_dispatch", &serde_json::json!({}));
    let mut cmd = ferry_in(dir.path());
    runner.apply(&mut cmd);
    let (code, _, stderr) = run(cmd.args(["status", "--app", "shop", "--run", "../../x", "--state", "github"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("invalid key `journal/shop/../../x.json`"), "{stderr}");
    assert!(fake.requests().iter().all(|r| !r.contains("..")), "{:?}", fake.requests());
}

#[test]
fn a_truncated_tree_fails_the_listing_instead_of_hiding_runs() {
    let fake = FakeGitHub::start("");
    let store = branch_store(&fake);
    for run in ["a", "b", "c", "d"] {
        store.write(&format!("journal/shop/{run}.json"), b"{}", None).unwrap();
    }
    assert_eq!(store.list("journal/shop/").unwrap().len(), 4);
    fake.state().truncate_tree = true;
    let err = store.list("journal/shop/").unwrap_err().to_string();
    assert!(err.contains("GitHub truncated the tree of ferry-state"), "{err}");
    assert!(err.contains("delete old ferry/journal/ and ferry/plans/ files"), "{err}");
}

#[test]
fn an_apply_on_a_branch_other_apps_keep_committing_to_runs_through() {
    let fake = FakeGitHub::start("");
    let store = branch_store(&fake);
    // Another app's runs commit while each of the first six writes is made
    // (the kept plan, the lock, the journal saves): GitHub says 409 to each.
    fake.state().concurrent_commits.extend((0..6).map(|i| (format!("ferry/journal/cart/run-{i}.json"), Some(b"{}".to_vec()))));
    let report = apply::apply(&store, &QuietWorld::new(|| {}), &waits(&[5, 5]), &options(60_000)).expect("no spurious conflict");
    assert!(matches!(report.outcome, Outcome::Applied), "{:?}", report.outcome);
    assert!(fake.state().concurrent_commits.is_empty(), "every refusal happened");
    assert!(lock::current(&store, "shop").unwrap().is_none(), "released, not left 'taken over by itself'");
    let journal = apply::load_journal(&store, "shop", "deploy-quiet").unwrap().unwrap();
    assert_eq!(journal.phases[0].entries.len(), 4, "started and done, for both actions");
}
