//! A state store on a dedicated branch of the repository, through the
//! contents API: each document is a file, its blob sha is its version, and
//! GitHub refuses a write that names a stale sha — compare-and-swap that
//! needs nothing but the workflow's `contents: write` token. `prepare` on
//! Monday and `finalize` on Wednesday run on different runners and share
//! the journal here; every change is a commit anyone can read.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ferry_state::{StateStore, StoreError, Version};
use serde::Deserialize;

use crate::{GitHub, GitHubError};

/// The branch ferry keeps its state on.
pub const STATE_BRANCH: &str = "ferry-state";
/// The folder on that branch.
const ROOT: &str = "ferry";

#[derive(Debug, Clone)]
pub struct BranchStore {
    github: GitHub,
    branch: String,
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

impl BranchStore {
    pub fn new(github: GitHub) -> Self {
        BranchStore { github, branch: STATE_BRANCH.to_string() }
    }

    fn path(&self, key: &str) -> String {
        format!("{ROOT}/{key}")
    }

    fn error(&self, e: GitHubError) -> StoreError {
        StoreError::Backend { location: self.describe(), message: e.to_string() }
    }

    /// Creates the branch from the default branch's head, if it is missing.
    fn ensure_branch(&self) -> Result<(), GitHubError> {
        #[derive(Deserialize)]
        struct Repo {
            default_branch: String,
        }
        #[derive(Deserialize)]
        struct Object {
            sha: String,
        }
        #[derive(Deserialize)]
        struct Ref {
            object: Object,
        }
        let repo: Repo = self.github.get(&self.github.route(""), None)?;
        let head: Ref = self.github.get(&self.github.route(&format!("/git/ref/heads/{}", repo.default_branch)), None)?;
        let body = serde_json::json!({ "ref": format!("refs/heads/{}", self.branch), "sha": head.object.sha });
        match self.github.send::<serde_json::Value>(http::Method::POST, &self.github.route("/git/refs"), &body) {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(422) => Ok(()), // created meanwhile by another run
            Err(e) => Err(e),
        }
    }

    fn put(&self, key: &str, content: &[u8], expected: Option<&Version>) -> Result<Version, GitHubError> {
        let mut body = serde_json::json!({
            "message": format!("ferry: {key}"),
            "content": STANDARD.encode(content),
            "branch": self.branch,
        });
        if let Some(v) = expected {
            body["sha"] = serde_json::Value::String(v.0.clone());
        }
        let route = self.github.route(&format!("/contents/{}", self.path(key)));
        let written: Written = self.github.send(http::Method::PUT, &route, &body)?;
        Ok(Version(written.content.sha))
    }
}

impl StateStore for BranchStore {
    fn read(&self, key: &str) -> Result<Option<(Vec<u8>, Version)>, StoreError> {
        let route = self.github.route(&format!("/contents/{}", self.path(key)));
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
        match self.put(key, content, expected) {
            Ok(v) => Ok(v),
            // The branch does not exist yet.
            Err(e) if e.status() == Some(404) => {
                self.ensure_branch().map_err(|e| self.error(e))?;
                self.put(key, content, expected).map_err(|e| self.conflict_or(key, e))
            }
            Err(e) => Err(self.conflict_or(key, e)),
        }
    }

    fn delete(&self, key: &str, expected: &Version) -> Result<(), StoreError> {
        let route = self.github.route(&format!("/contents/{}", self.path(key)));
        let body = serde_json::json!({ "message": format!("ferry: remove {key}"), "sha": expected.0, "branch": self.branch });
        self.github.send::<serde_json::Value>(http::Method::DELETE, &route, &body).map(drop).map_err(|e| self.conflict_or(key, e))
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
        }
        let route = self.github.route(&format!("/git/trees/{}", self.branch));
        let tree: Tree = match self.github.get(&route, Some(&[("recursive", "1".into())])) {
            Ok(t) => t,
            Err(e) if e.status() == Some(404) => return Ok(Vec::new()),
            Err(e) => return Err(self.error(e)),
        };
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

impl BranchStore {
    /// 409 (sha does not match) and 422 (no sha for an existing file) mean
    /// someone else wrote the document: a conflict, not a failure.
    fn conflict_or(&self, key: &str, e: GitHubError) -> StoreError {
        match e.status() {
            Some(409 | 422) => StoreError::Conflict { key: key.to_string() },
            _ => self.error(e),
        }
    }
}
