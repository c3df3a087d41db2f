//! A state store on a dedicated branch of the repository, through the
//! contents API: each document is a file, its blob sha is its version, and
//! GitHub refuses a write that names a stale sha — compare-and-swap that
//! needs nothing but the workflow's `contents: write` token. `prepare` on
//! Monday and `finalize` on Wednesday run on different runners and share
//! the journal here; every change is a commit anyone can read.
//!
//! Two things about the contents API shape this module:
//!
//! - Every write is a commit on the branch, and GitHub documents that
//!   concurrent writes conflict and must be made serially: a write answers
//!   409 when *another* file was committed while it was being made (the
//!   branch head moved: "is at X but expected Y"), exactly as it answers a
//!   stale sha of the document itself. Parallel apps share the branch, so
//!   after a 409 (or a 404/422) the store reads the document again: if its
//!   sha is still the one this write named, the refusal was about the
//!   branch, not the document, and the write is tried again (bounded, with
//!   backoff); only a changed sha is a [`StoreError::Conflict`].
//!   <https://docs.github.com/en/rest/repos/contents#create-or-update-file-contents>
//! - The branch is looked up (`GET /git/ref/heads/{branch}`, documented to
//!   answer 404 for a missing ref) before the first write, and created when
//!   missing as an orphan commit holding only a README, so the state branch
//!   carries none of the repository's code and none of its workflows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ferry_state::{StateStore, StoreError, Version};
use serde::Deserialize;

use crate::{GitHub, GitHubError};

/// The branch ferry keeps its state on.
pub const STATE_BRANCH: &str = "ferry-state";
/// The folder on that branch.
const ROOT: &str = "ferry";
/// How many times a write refused because of *another* commit on the
/// branch is tried; the waits between them double from [`FIRST_BACKOFF`].
const WRITE_ATTEMPTS: u32 = 8;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(3);

/// The README of a branch ferry creates: what it is, for whoever finds it.
const README: &str = "# ferry state\n\nThis branch holds the journals, locks and reviewed plans of \
[ferry](https://github.com/ferry-dev/ferry) under `ferry/`. ferry writes it through the contents API; \
do not merge it. `ferry unlock --app APP` removes a lock left by a run that is gone.\n";

#[derive(Debug, Clone)]
pub struct BranchStore {
    github: GitHub,
    branch: String,
    /// Set once the branch is known to exist (looked up or created), so
    /// the lookup is made once per process, before the first write.
    branch_ready: Arc<AtomicBool>,
}

#[derive(Deserialize)]
struct File {
    sha: String,
    #[serde(default)]
    content: String,
}

#[derive(Deserialize)]
struct Written {
    content: File,
}

#[derive(Deserialize)]
struct Created {
    sha: String,
}

/// What a refused write turned out to be, after reading the document again.
enum Refusal {
    /// Another commit on the branch got in between: the same write may be tried again.
    Retry,
    Fail(StoreError),
}

impl BranchStore {
    pub fn new(github: GitHub) -> Self {
        BranchStore { github, branch: STATE_BRANCH.to_string(), branch_ready: Arc::new(AtomicBool::new(false)) }
    }

    /// The contents route of `key`, once the key is known to be safe in a
    /// path and a URL (`--run ../../x` or `x?ref=main` would reach another file).
    fn route(&self, key: &str) -> Result<String, StoreError> {
        ferry_state::validate_key(key).map_err(|message| StoreError::Backend { location: self.describe(), message })?;
        Ok(self.github.route(&format!("/contents/{ROOT}/{key}")))
    }

    fn error(&self, e: GitHubError) -> StoreError {
        StoreError::Backend { location: self.describe(), message: e.to_string() }
    }

    /// Makes sure the branch exists before anything is written to it.
    fn ensure_branch(&self) -> Result<(), StoreError> {
        if self.branch_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let route = self.github.route(&format!("/git/ref/heads/{}", self.branch));
        match self.github.get::<serde_json::Value>(&route, None) {
            Ok(_) => {}
            Err(e) if e.status() == Some(404) => self.create_branch().map_err(|e| self.error(e))?,
            Err(e) => return Err(self.error(e)),
        }
        self.branch_ready.store(true, Ordering::Release);
        Ok(())
    }

    /// Creates the branch as a root commit of one README: a tree, a commit
    /// without parents, and the ref (Git Database API).
    fn create_branch(&self) -> Result<(), GitHubError> {
        tracing::info!("creating the branch {} of {}/{} for ferry's state", self.branch, self.github.owner, self.github.repo);
        let tree_body = serde_json::json!({
            "tree": [{ "path": "README.md", "mode": "100644", "type": "blob", "content": README }]
        });
        let tree: Created = self.github.send(http::Method::POST, &self.github.route("/git/trees"), &tree_body)?;
        let commit_body = serde_json::json!({ "message": "ferry: state branch", "tree": tree.sha, "parents": [] });
        let commit: Created = self.github.send(http::Method::POST, &self.github.route("/git/commits"), &commit_body)?;
        let ref_body = serde_json::json!({ "ref": format!("refs/heads/{}", self.branch), "sha": commit.sha });
        match self.github.send::<serde_json::Value>(http::Method::POST, &self.github.route("/git/refs"), &ref_body) {
            Ok(_) => Ok(()),
            // "Reference already exists": another run created it meanwhile.
            Err(e) if e.status() == Some(422) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn put(&self, route: &str, key: &str, content: &[u8], expected: Option<&Version>) -> Result<Version, GitHubError> {
        let mut body = serde_json::json!({
            "message": format!("ferry: {key}"),
            "content": STANDARD.encode(content),
            "branch": self.branch,
        });
        if let Some(v) = expected {
            body["sha"] = serde_json::Value::String(v.0.clone());
        }
        let written: Written = self.github.send(http::Method::PUT, route, &body)?;
        Ok(Version(written.content.sha))
    }

    /// Runs a write until GitHub takes it, the document turns out changed,
    /// or the branch stays too busy for [`WRITE_ATTEMPTS`] tries.
    fn swap<T>(&self, key: &str, expected: Option<&Version>, mut write: impl FnMut() -> Result<T, GitHubError>) -> Result<T, StoreError> {
        self.ensure_branch()?;
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=WRITE_ATTEMPTS {
            let refused = match write() {
                Ok(done) => return Ok(done),
                Err(e) => e,
            };
            match self.after_refusal(key, expected, refused)? {
                Refusal::Retry if attempt < WRITE_ATTEMPTS => {
                    tracing::debug!("{}: another commit on {} got in first; writing {key} again in {backoff:?}", self.describe(), self.branch);
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Refusal::Retry => break,
                Refusal::Fail(e) => return Err(e),
            }
        }
        Err(StoreError::Backend {
            location: self.describe(),
            message: format!(
                "writing {key}: GitHub answered 409 {WRITE_ATTEMPTS} times though {key} itself did not change (other commits \
                 on the branch kept getting in first); try again when fewer ferry runs write to {}",
                self.branch
            ),
        })
    }

    /// Tells a refusal about the document (a real conflict) from one about
    /// the branch (try again) by reading the document's sha again.
    fn after_refusal(&self, key: &str, expected: Option<&Version>, e: GitHubError) -> Result<Refusal, StoreError> {
        let status = e.status();
        if !matches!(status, Some(404 | 409 | 422)) {
            return Err(self.error(e));
        }
        let now = self.read(key)?.map(|(_, version)| version);
        if now.as_ref() != expected {
            return Ok(Refusal::Fail(StoreError::Conflict { key: key.to_string() }));
        }
        Ok(match status {
            Some(409) => Refusal::Retry,
            // The document is as expected, so this is about something else
            // (the branch was deleted, the content refused): say what GitHub said.
            _ => {
                self.branch_ready.store(false, Ordering::Release);
                Refusal::Fail(self.error(e))
            }
        })
    }
}

impl StateStore for BranchStore {
    fn read(&self, key: &str) -> Result<Option<(Vec<u8>, Version)>, StoreError> {
        let route = self.route(key)?;
        let file: File = match self.github.get(&route, Some(&[("ref", self.branch.clone())])) {
            Ok(f) => f,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(self.error(e)),
        };
        let mut encoded = file.content;
        if encoded.is_empty() {
            // Files over 1 MB come without content: read the blob instead.
            let blob: File = self.github.get(&self.github.route(&format!("/git/blobs/{}", file.sha)), None).map_err(|e| self.error(e))?;
            encoded = blob.content;
        }
        let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = STANDARD.decode(compact).map_err(|e| StoreError::Backend { location: self.describe(), message: format!("{key}: {e}") })?;
        Ok(Some((bytes, Version(file.sha))))
    }

    fn write(&self, key: &str, content: &[u8], expected: Option<&Version>) -> Result<Version, StoreError> {
        let route = self.route(key)?;
        self.swap(key, expected, || self.put(&route, key, content, expected))
    }

    fn delete(&self, key: &str, expected: &Version) -> Result<(), StoreError> {
        let route = self.route(key)?;
        let body = serde_json::json!({ "message": format!("ferry: remove {key}"), "sha": expected.0, "branch": self.branch });
        self.swap(key, Some(expected), || self.github.send::<serde_json::Value>(http::Method::DELETE, &route, &body).map(drop))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        #[derive(Deserialize)]
        struct Entry {
            path: String,
            #[serde(rename = "type")]
            kind: String,
        }
        #[derive(Deserialize)]
        struct Tree {
            tree: Vec<Entry>,
            #[serde(default)]
            truncated: bool,
        }
        let route = self.github.route(&format!("/git/trees/{}", self.branch));
        let tree: Tree = match self.github.get(&route, Some(&[("recursive", "1".into())])) {
            Ok(t) => t,
            Err(e) if e.status() == Some(404) => return Ok(Vec::new()),
            Err(e) => return Err(self.error(e)),
        };
        if tree.truncated {
            // A partial list would hide journals (a run to resume or abort)
            // and kept plans: refuse rather than answer wrongly.
            return Err(StoreError::Backend {
                location: self.describe(),
                message: format!(
                    "GitHub truncated the tree of {} (it lists at most 100,000 entries or 7 MB), so ferry cannot see every \
                     document under {ROOT}/{prefix}; delete old {ROOT}/journal/ and {ROOT}/plans/ files from the branch",
                    self.branch
                ),
            });
        }
        let root = format!("{ROOT}/");
        let mut keys: Vec<String> = tree
            .tree
            .into_iter()
            .filter(|e| e.kind == "blob")
            .filter_map(|e| e.path.strip_prefix(&root).map(str::to_string))
            .filter(|k| k.starts_with(prefix))
            .collect();
        keys.sort();
        Ok(keys)
    }

    fn describe(&self) -> String {
        format!("branch {} of {}/{}", self.branch, self.github.owner, self.github.repo)
    }
}
