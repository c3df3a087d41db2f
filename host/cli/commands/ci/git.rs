//! The repository as `actions/checkout` left it, and the exact commits
//! `ferry ci` plans: a pull request's head is fetched by its SHA into a
//! worktree of its own, only after ferry checked who asked and that the
//! pull request is not from a fork; the configuration that decides where
//! credentials go is read from the default branch.
//!
//! git runs with no prompt, the token passed as an `http.extraheader` in the
//! environment (as actions/checkout configures it, but not written to disk
//! and not on the command line), and no config from the repository can
//! make it run a program (fetch and `worktree add` run no hooks that a
//! fetched commit can bring).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use base64::Engine as _;

/// The checkout's repository.
#[derive(Debug)]
pub struct Repo {
    root: PathBuf,
    /// `http.<server>/.extraheader` to authenticate fetches with.
    auth: Option<(String, String)>,
}

impl Repo {
    /// The repository that holds `dir`.
    pub fn discover(dir: &Path) -> anyhow::Result<Repo> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["rev-parse", "--show-toplevel"])
            .output()
            .context("running git (ferry ci needs the repository's git checkout)")?;
        if !out.status.success() {
            bail!("{} is not inside a git checkout: `ferry ci` plans exact commits, so it needs the repository as actions/checkout leaves it", dir.display());
        }
        let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        Ok(Repo { root, auth: None })
    }

    /// Fetches with `token` as GitHub Actions does (`x-access-token`),
    /// for `server` (`GITHUB_SERVER_URL`).
    pub fn with_token(mut self, server: &str, token: &str) -> Self {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
        self.auth = Some((format!("http.{}/.extraheader", server.trim_end_matches('/')), format!("AUTHORIZATION: basic {basic}")));
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The commit checked out at `dir`.
    pub fn head(dir: &Path) -> anyhow::Result<String> {
        git_in(dir, &["rev-parse", "HEAD"]).map(|s| s.trim().to_string())
    }

    /// Fetches `refspec` from `origin` (one commit deep) and returns the
    /// commit it points at.
    pub fn fetch(&self, refspec: &str) -> anyhow::Result<String> {
        let mut cmd = self.git();
        cmd.args(["fetch", "--no-tags", "--no-recurse-submodules", "--depth=1", "origin", refspec]);
        run(cmd, &format!("fetching {refspec} from origin"))?;
        self.rev_parse("FETCH_HEAD")
    }

    fn rev_parse(&self, what: &str) -> anyhow::Result<String> {
        git_in(&self.root, &["rev-parse", "--verify", &format!("{what}^{{commit}}")]).map(|s| s.trim().to_string())
    }

    /// The file at `path` (relative to the repository root) in `commit`,
    /// `None` when the commit has no such file.
    pub fn show(&self, commit: &str, path: &Path) -> anyhow::Result<Option<String>> {
        let spec = format!("{commit}:{}", path.to_string_lossy());
        let out = Command::new("git").arg("-C").arg(&self.root).args(["cat-file", "-e", &spec]).output()?;
        if !out.status.success() {
            return Ok(None);
        }
        git_in(&self.root, &["show", &spec]).map(Some)
    }

    /// `commit` checked out in a worktree of its own, removed on drop.
    pub fn worktree(&self, commit: &str) -> anyhow::Result<Worktree> {
        let parent = tempfile::Builder::new().prefix("ferry-ci-").tempdir().context("making a directory for the worktree")?;
        let path = parent.path().join(&commit[..commit.len().min(12)]);
        let mut cmd = self.git();
        cmd.args(["-c", "core.hooksPath=/dev/null", "worktree", "add", "--detach", "--force"]).arg(&path).arg(commit);
        run(cmd, &format!("checking out {commit} in a worktree"))?;
        Ok(Worktree { repo: self.root.clone(), path, _parent: parent })
    }

    fn git(&self) -> Command {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(&self.root).env("GIT_TERMINAL_PROMPT", "0");
        if let Some((key, value)) = &self.auth {
            cmd.env("GIT_CONFIG_COUNT", "1").env("GIT_CONFIG_KEY_0", key).env("GIT_CONFIG_VALUE_0", value);
        }
        cmd
    }
}

/// A commit checked out beside the repository's own checkout.
#[derive(Debug)]
pub struct Worktree {
    repo: PathBuf,
    path: PathBuf,
    _parent: tempfile::TempDir,
}

impl Worktree {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Worktree {
    fn drop(&mut self) {
        let _ = Command::new("git").arg("-C").arg(&self.repo).args(["worktree", "remove", "--force"]).arg(&self.path).output();
    }
}

fn git_in(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir).args(args);
    run(cmd, &format!("git {}", args.join(" ")))
}

fn run(mut cmd: Command, what: &str) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("{what}: running git"))?;
    if !out.status.success() {
        bail!("{what}: git says: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
