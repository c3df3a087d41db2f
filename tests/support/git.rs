//! A repository as GitHub holds it — a bare `origin` with `refs/pull/N/head`
//! for each pull request — and the checkout `actions/checkout` leaves a job:
//! a clone of `origin` at the default branch. `ferry ci` fetches pull
//! requests' heads from `origin` itself, so the tests see exactly which
//! commit it planned and applied.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The default branch.
pub const MAIN: &str = "main";

pub struct GitRepo {
    origin: PathBuf,
    checkout: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.test", "-c", "init.defaultBranch=main", "-c", "advice.detachedHead=false"])
        .args(args)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?} in {}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl GitRepo {
    /// Makes `checkout` (a directory with files) the job's clone of a new
    /// `origin` (beside it, in `origin_dir`) whose `main` holds those files.
    pub fn adopt(checkout: &Path, origin_dir: &Path) -> GitRepo {
        git(checkout, &["init", "-q", "-b", MAIN]);
        std::fs::write(checkout.join(".git/info/exclude"), ".ferry/\n.cache/\n.runner/\n").unwrap();
        git(checkout, &["add", "-A"]);
        git(checkout, &["commit", "-q", "--allow-empty", "-m", "the app"]);
        let origin = origin_dir.join("origin.git");
        git(origin_dir, &["clone", "-q", "--bare", checkout.to_str().unwrap(), origin.to_str().unwrap()]);
        git(checkout, &["remote", "add", "origin", origin.to_str().unwrap()]);
        git(checkout, &["fetch", "-q", "origin"]);
        GitRepo { origin, checkout: checkout.to_path_buf() }
    }

    pub fn checkout(&self) -> &Path {
        &self.checkout
    }

    /// The default branch's head.
    pub fn main(&self) -> String {
        git(&self.origin, &["rev-parse", MAIN])
    }

    /// Opens pull request `number`: a commit on top of `main` changing
    /// `files` (none: an empty commit), as `refs/pull/<number>/head` on
    /// origin. Returns its SHA.
    pub fn pull_request(&self, number: u64, files: &[(&str, &str)]) -> String {
        self.push_to_pull(number, &self.main(), files)
    }

    /// Adds a commit to pull request `number` (on its current head).
    pub fn push_to_pull(&self, number: u64, parent: &str, files: &[(&str, &str)]) -> String {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("w");
        git(work.path(), &["clone", "-q", self.origin.to_str().unwrap(), dir.to_str().unwrap()]);
        git(&dir, &["fetch", "-q", "origin", "+refs/pull/*/head:refs/remotes/origin/pull/*"]);
        git(&dir, &["checkout", "-q", "--detach", parent]);
        for (path, contents) in files {
            let full = dir.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, contents).unwrap();
        }
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-q", "--allow-empty", "-m", &format!("pull request {number}")]);
        let sha = git(&dir, &["rev-parse", "HEAD"]);
        git(&dir, &["push", "-q", "origin", &format!("HEAD:refs/pull/{number}/head")]);
        sha
    }

    /// Merges pull request `number` into `main` (a fast-forward, as a
    /// rebase merge leaves it) and brings the job's checkout to it, as a
    /// push's job starts. Returns the new `main`.
    pub fn merge(&self, number: u64) -> String {
        let head = git(&self.origin, &["rev-parse", &format!("refs/pull/{number}/head")]);
        git(&self.origin, &["update-ref", &format!("refs/heads/{MAIN}"), &head]);
        git(&self.checkout, &["fetch", "-q", "origin", MAIN]);
        git(&self.checkout, &["checkout", "-q", "-B", MAIN, "FETCH_HEAD"]);
        head
    }

    /// Commits `files` straight to `main` (someone with push rights), and
    /// brings the checkout to it.
    pub fn commit_to_main(&self, files: &[(&str, &str)]) -> String {
        let sha = self.push_to_pull(0, &self.main(), files);
        git(&self.origin, &["update-ref", &format!("refs/heads/{MAIN}"), &sha]);
        git(&self.checkout, &["fetch", "-q", "origin", MAIN]);
        git(&self.checkout, &["checkout", "-q", "-B", MAIN, "FETCH_HEAD"]);
        sha
    }
}
