//! A fake of the parts of GitHub's REST API ferry uses, with state, on
//! loopback (wiremock). It follows the documented endpoints, status codes
//! and payload shapes, quirks included: an Actions token cannot read
//! `/user`, comment lists are paged with a `Link` header, a fork's token
//! gets 403 "Resource not accessible by integration", a contents write
//! needs the current blob sha (422 without it, 409 with a stale one), and
//! a missing branch is a 404.
//!
//! The `ferry-state` branch is a chain of commits: every contents write or
//! delete commits on it, and the Git Database endpoints (`GET
//! /git/ref/heads/{branch}`, `POST /git/trees`, `/git/commits`,
//! `/git/refs`) work on it as documented. GitHub's docs for "Create or
//! update file contents" and "Delete a file" warn that concurrent calls
//! conflict and must be made serially: a write whose branch head moved
//! while it was being made (another file committed) is refused with 409
//! "is at <head> but expected <old head>". [`State::concurrent_commits`]
//! makes that happen on demand.
//! <https://docs.github.com/en/rest/repos/contents#create-or-update-file-contents>

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const OWNER: &str = "acme";
pub const REPO: &str = "shop";
pub const BOT: &str = "github-actions[bot]";

#[derive(Clone, Debug)]
pub struct Comment {
    pub id: u64,
    pub issue: u64,
    pub body: String,
    pub login: String,
}

#[derive(Debug, Default)]
pub struct State {
    pub comments: Vec<Comment>,
    pub next_id: u64,
    /// Contents of the `ferry-state` branch: path -> (bytes, blob sha).
    pub files: BTreeMap<String, (Vec<u8>, String)>,
    /// The `ferry-state` branch exists.
    pub branch: bool,
    /// Its head commit.
    pub head: String,
    /// Commits made with `POST /git/commits`: sha -> the files of its tree.
    pub commits: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// Trees made with `POST /git/trees`: sha -> path -> bytes.
    pub trees: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// Files another writer commits to the branch while each of the next
    /// contents writes is being made (one per write, `None` deleting the
    /// file): GitHub then refuses that write with 409, whatever its sha.
    pub concurrent_commits: VecDeque<(String, Option<Vec<u8>>)>,
    /// The branch's tree is larger than GitHub lists at once: a recursive
    /// tree answers part of it with `truncated: true`.
    pub truncate_tree: bool,
    pub permissions: BTreeMap<String, String>,
    pub pulls: BTreeMap<u64, Pull>,
    /// Reviews, oldest first.
    pub reviews: Vec<Review>,
    /// The token may not write (a fork's pull request).
    pub read_only: bool,
    /// Set for a personal token: `GET /user` answers with this login.
    pub user: Option<String>,
    pub writes: u64,
    /// Comments on commits: (sha, body).
    pub commit_comments: Vec<(String, String)>,
}

/// A pull request as the fake knows it.
#[derive(Clone, Debug)]
pub struct Pull {
    pub head: String,
    /// `owner/name` of the head repository (another one: a fork).
    pub head_repo: String,
    pub author: String,
    pub merged: bool,
}

impl Pull {
    /// An open pull request from a branch of this repository, by `alice`.
    pub fn open(head: &str) -> Self {
        Pull { head: head.into(), head_repo: format!("{OWNER}/{REPO}"), author: "alice".into(), merged: false }
    }

    /// An open pull request from `fork` (`owner/name`).
    pub fn from_fork(head: &str, fork: &str) -> Self {
        Pull { head_repo: fork.into(), ..Pull::open(head) }
    }
}

/// A review of a pull request.
#[derive(Clone, Debug)]
pub struct Review {
    pub pull: u64,
    pub login: String,
    /// APPROVED, CHANGES_REQUESTED, COMMENTED…
    pub state: String,
    pub commit: String,
}

/// The fake server; `base` is the API root (`…/api/v3` for GHES).
pub struct FakeGitHub {
    pub server: MockServer,
    pub state: Arc<Mutex<State>>,
    pub base: String,
    runtime: tokio::runtime::Runtime,
}

impl FakeGitHub {
    /// A fake at `prefix` ("" for github.com, "/api/v3" for GHES).
    pub fn start(prefix: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let server = runtime.block_on(MockServer::start());
        let state = Arc::new(Mutex::new(State { next_id: 1000, head: "0".repeat(40), ..State::default() }));
        let responder = Api { state: state.clone(), prefix: prefix.to_string(), uri: server.uri() };
        runtime.block_on(Mock::given(path_regex(".*")).respond_with(responder).mount(&server));
        let base = format!("{}{prefix}", server.uri());
        FakeGitHub { server, state, base, runtime }
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Every request received, as "METHOD /path".
    pub fn requests(&self) -> Vec<String> {
        let requests = self.runtime.block_on(self.server.received_requests()).unwrap_or_default();
        requests.iter().map(|r| format!("{} {}", r.method, r.url.path())).collect()
    }

    /// A comment written by someone, as if posted on the PR.
    pub fn add_comment(&self, issue: u64, login: &str, body: &str) -> u64 {
        let mut s = self.state();
        s.next_id += 1;
        let id = s.next_id;
        s.comments.push(Comment { id, issue, body: body.into(), login: login.into() });
        id
    }

    pub fn comments_on(&self, issue: u64) -> Vec<Comment> {
        self.state().comments.iter().filter(|c| c.issue == issue).cloned().collect()
    }
}

/// The `repository` object of every payload.
fn repository() -> Value {
    json!({ "full_name": format!("{OWNER}/{REPO}"), "default_branch": "main" })
}

/// A `pull_request` (`synchronize`) payload for PR `number` at commit `head`.
pub fn pull_request_event(number: u64, head: &str) -> Value {
    pull_request_event_from(number, head, &format!("{OWNER}/{REPO}"))
}

/// A `pull_request` payload for PR `number` whose head lives in `head_repo`.
pub fn pull_request_event_from(number: u64, head: &str, head_repo: &str) -> Value {
    json!({
        "action": "synchronize", "number": number,
        "pull_request": {
            "number": number,
            "head": { "sha": head, "ref": "feature", "repo": { "full_name": head_repo } },
            "base": { "sha": "b".repeat(40), "ref": "main", "repo": { "full_name": format!("{OWNER}/{REPO}") } },
            "user": { "login": "alice", "type": "User" }
        },
        "repository": repository()
    })
}

/// An `issue_comment` (`created`) payload: `login` commented `body` on PR `number`.
pub fn comment_event(number: u64, login: &str, body: &str) -> Value {
    json!({
        "action": "created",
        "issue": { "number": number, "pull_request": { "url": format!("https://api.github.com/repos/{OWNER}/{REPO}/pulls/{number}") } },
        "comment": { "id": 77, "body": body, "user": { "login": login, "type": "User" }, "author_association": "MEMBER" },
        "repository": repository()
    })
}

/// A `push` payload: `main` now at `after`.
pub fn push_event(after: &str) -> Value {
    json!({ "ref": "refs/heads/main", "before": "0".repeat(40), "after": after, "repository": repository() })
}

/// A `workflow_dispatch` payload on `main` with string `inputs`.
pub fn dispatch_event(inputs: &[(&str, &str)]) -> Value {
    let inputs: serde_json::Map<String, Value> = inputs.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect();
    json!({ "ref": "refs/heads/main", "inputs": inputs, "repository": repository() })
}

/// The files and environment GitHub Actions gives a step, pointed at a fake.
pub struct Runner {
    event_path: std::path::PathBuf,
    output: std::path::PathBuf,
    summary: std::path::PathBuf,
    event: String,
    api: String,
    /// `GITHUB_REF`: what the job checked out.
    git_ref: String,
}

impl Runner {
    /// Writes the event payload under `dir`; outputs and summary start empty.
    pub fn new(dir: &std::path::Path, fake: &FakeGitHub, event: &str, payload: &Value) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let runner = Runner {
            event_path: dir.join("event.json"),
            output: dir.join("output"),
            summary: dir.join("summary.md"),
            event: event.into(),
            api: fake.base.clone(),
            git_ref: match event {
                "pull_request" => payload["number"].as_u64().map(|n| format!("refs/pull/{n}/merge")).unwrap_or_default(),
                "push" | "workflow_dispatch" => payload["ref"].as_str().unwrap_or("refs/heads/main").to_string(),
                _ => "refs/heads/main".to_string(),
            },
        };
        std::fs::write(&runner.event_path, payload.to_string()).unwrap();
        let _ = std::fs::remove_file(&runner.output);
        let _ = std::fs::remove_file(&runner.summary);
        runner
    }

    /// Sets the Actions environment on `cmd`.
    pub fn apply<'c>(&self, cmd: &'c mut std::process::Command) -> &'c mut std::process::Command {
        cmd.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", &self.event)
            .env("GITHUB_EVENT_PATH", &self.event_path)
            .env("GITHUB_REPOSITORY", format!("{OWNER}/{REPO}"))
            .env("GITHUB_API_URL", &self.api)
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_RUN_ATTEMPT", "1")
            .env("GITHUB_TOKEN", "ghs_workflowtoken0123")
            .env("GITHUB_REF", &self.git_ref)
            .env("GITHUB_OUTPUT", &self.output)
            .env("GITHUB_STEP_SUMMARY", &self.summary)
    }

    pub fn outputs(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }

    pub fn summary(&self) -> String {
        std::fs::read_to_string(&self.summary).unwrap_or_default()
    }
}

fn pull_json(n: u64, p: &Pull) -> Value {
    json!({
        "number": n, "state": if p.merged { "closed" } else { "open" },
        "merged_at": if p.merged { Value::from("2026-11-23T10:00:00Z") } else { Value::Null },
        "user": user(&p.author),
        "head": { "sha": p.head, "ref": "feature", "repo": { "full_name": p.head_repo } },
        "base": { "sha": "b".repeat(40), "ref": "main", "repo": { "full_name": format!("{OWNER}/{REPO}") } }
    })
}

struct Api {
    state: Arc<Mutex<State>>,
    prefix: String,
    uri: String,
}

fn json_response(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

fn error(status: u16, message: &str) -> ResponseTemplate {
    json_response(status, json!({ "message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string() }))
}

fn user(login: &str) -> Value {
    let bot = login.ends_with("[bot]");
    json!({
        "login": login, "id": 41898282, "node_id": "MDM6Qm90NDE4OTgyODI=",
        "avatar_url": "https://avatars.githubusercontent.com/in/15368?v=4", "gravatar_id": "",
        "url": format!("https://api.github.com/users/{login}"), "html_url": format!("https://github.com/{login}"),
        "type": if bot { "Bot" } else { "User" }, "site_admin": false
    })
}

impl Api {
    fn comment_json(&self, c: &Comment) -> Value {
        json!({
            "id": c.id, "node_id": format!("IC_{}", c.id),
            "url": format!("{}/repos/{OWNER}/{REPO}/issues/comments/{}", self.uri, c.id),
            "html_url": format!("https://github.com/{OWNER}/{REPO}/pull/{}#issuecomment-{}", c.issue, c.id),
            "body": c.body, "user": user(&c.login), "author_association": "NONE",
            "created_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:00Z"
        })
    }

    fn route(&self, req: &Request) -> ResponseTemplate {
        let Some(path) = req.url.path().strip_prefix(&self.prefix) else { return error(404, "Not Found") };
        let query: BTreeMap<String, String> = req.url.query_pairs().into_owned().collect();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let method = req.method.as_str();
        let mut s = self.state.lock().unwrap();
        let repo = format!("/repos/{OWNER}/{REPO}");
        let parts: Vec<&str> = path.strip_prefix(&repo).unwrap_or(path).split('/').collect();
        let writing = !matches!(method, "GET");
        if writing && s.read_only && !path.ends_with("/reactions") {
            return error(403, "Resource not accessible by integration");
        }
        match (method, path.starts_with(&repo), parts.as_slice()) {
            ("GET", false, ["", "user"]) => match &s.user {
                Some(login) => json_response(200, user(login)),
                None => error(403, "Resource not accessible by integration"),
            },
            ("GET", true, ["", "issues", n, "comments"]) => {
                let n: u64 = n.parse().unwrap_or(0);
                let per_page: usize = query.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(30);
                let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                let all: Vec<&Comment> = s.comments.iter().filter(|c| c.issue == n).collect();
                let slice: Vec<Value> = all.iter().skip((page - 1) * per_page).take(per_page).map(|c| self.comment_json(c)).collect();
                let mut response = json_response(200, Value::Array(slice));
                if page * per_page < all.len() {
                    let next = format!("<{}{path}?per_page={per_page}&page={}>; rel=\"next\"", self.uri, page + 1);
                    response = response.insert_header("link", next.as_str());
                }
                response
            }
            ("POST", true, ["", "issues", n, "comments"]) => {
                s.next_id += 1;
                let c = Comment { id: s.next_id, issue: n.parse().unwrap_or(0), body: body["body"].as_str().unwrap_or_default().into(), login: BOT.into() };
                let out = self.comment_json(&c);
                s.comments.push(c);
                json_response(201, out)
            }
            ("PATCH", true, ["", "issues", "comments", id]) => {
                let id: u64 = id.parse().unwrap_or(0);
                let Some(c) = s.comments.iter_mut().find(|c| c.id == id) else { return error(404, "Not Found") };
                c.body = body["body"].as_str().unwrap_or_default().into();
                let c = c.clone();
                json_response(200, self.comment_json(&c))
            }
            ("DELETE", true, ["", "issues", "comments", id]) => {
                let id: u64 = id.parse().unwrap_or(0);
                s.comments.retain(|c| c.id != id);
                ResponseTemplate::new(204)
            }
            ("POST", true, ["", "commits", sha, "comments"]) => {
                s.next_id += 1;
                let id = s.next_id;
                s.commit_comments.push((sha.to_string(), body["body"].as_str().unwrap_or_default().into()));
                json_response(
                    201,
                    json!({
                        "id": id, "body": body["body"], "commit_id": sha, "user": user(BOT),
                        "html_url": format!("https://github.com/{OWNER}/{REPO}/commit/{sha}#commitcomment-{id}")
                    }),
                )
            }
            ("POST", true, ["", "issues", "comments", _, "reactions"]) => json_response(201, json!({ "id": 1, "content": body["content"] })),
            ("GET", true, ["", "pulls", n]) => {
                let n: u64 = n.parse().unwrap_or(0);
                match s.pulls.get(&n) {
                    Some(pull) => json_response(200, pull_json(n, pull)),
                    None => error(404, "Not Found"),
                }
            }
            // "List pull requests associated with a commit": a merged one
            // for the commit a merge left on the base branch.
            ("GET", true, ["", "commits", sha, "pulls"]) => {
                let pulls: Vec<Value> = s.pulls.iter().filter(|(_, p)| p.head == *sha).map(|(n, p)| pull_json(*n, p)).collect();
                json_response(200, Value::Array(pulls))
            }
            ("GET", true, ["", "pulls", n, "reviews"]) => {
                let n: u64 = n.parse().unwrap_or(0);
                let per_page: usize = query.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(30);
                let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                let reviews: Vec<Value> = s
                    .reviews
                    .iter()
                    .filter(|r| r.pull == n)
                    .skip((page - 1) * per_page)
                    .take(per_page)
                    .map(|r| json!({ "id": 1, "user": user(&r.login), "state": r.state, "commit_id": r.commit, "body": "" }))
                    .collect();
                json_response(200, Value::Array(reviews))
            }
            ("GET", true, ["", "collaborators", login, "permission"]) => {
                let permission = s.permissions.get(*login).cloned().unwrap_or_else(|| "read".into());
                json_response(200, json!({ "permission": permission, "role_name": permission, "user": user(login) }))
            }
            ("GET", true, [""]) => json_response(200, json!({ "full_name": format!("{OWNER}/{REPO}"), "default_branch": "main" })),
            ("GET", true, ["", "git", "ref", "heads", "main"]) => {
                json_response(200, json!({ "ref": "refs/heads/main", "object": { "sha": "a".repeat(40), "type": "commit" } }))
            }
            // "Get a reference": 404 when the ref does not exist.
            ("GET", true, ["", "git", "ref", "heads", "ferry-state"]) => match s.branch {
                true => json_response(200, json!({ "ref": "refs/heads/ferry-state", "object": { "sha": s.head, "type": "commit" } })),
                false => error(404, "Not Found"),
            },
            ("GET", true, ["", "git", "ref", ..]) => error(404, "Not Found"),
            // "Create a tree" without base_tree: the tree holds exactly these entries.
            ("POST", true, ["", "git", "trees"]) => {
                let mut files = BTreeMap::new();
                for entry in body["tree"].as_array().into_iter().flatten() {
                    let (Some(path), Some(content)) = (entry["path"].as_str(), entry["content"].as_str()) else {
                        return error(422, "Invalid tree info");
                    };
                    files.insert(path.to_string(), content.as_bytes().to_vec());
                }
                s.writes += 1;
                let sha = format!("{:040x}", 0x7000_0000_u64 + s.writes);
                s.trees.insert(sha.clone(), files);
                json_response(201, json!({ "sha": sha, "tree": [], "truncated": false }))
            }
            // "Create a commit": empty `parents` makes a root commit.
            ("POST", true, ["", "git", "commits"]) => {
                let Some(files) = body["tree"].as_str().and_then(|t| s.trees.get(t)).cloned() else { return error(422, "Tree SHA does not exist") };
                if body["parents"].as_array().is_none_or(|p| !p.is_empty()) {
                    return error(422, "the fake makes root commits only");
                }
                s.writes += 1;
                let sha = format!("{:040x}", 0xc000_0000_u64 + s.writes);
                s.commits.insert(sha.clone(), files);
                json_response(201, json!({ "sha": sha, "tree": { "sha": body["tree"] }, "parents": [] }))
            }
            // "Create a reference": 422 when it exists.
            ("POST", true, ["", "git", "refs"]) => {
                if body["ref"] != "refs/heads/ferry-state" {
                    return error(422, "the fake creates refs/heads/ferry-state only");
                }
                if s.branch {
                    return error(422, "Reference already exists");
                }
                let sha = body["sha"].as_str().unwrap_or_default().to_string();
                let files = match s.commits.get(&sha) {
                    Some(files) => files.clone(),
                    None if sha == "a".repeat(40) => BTreeMap::new(), // main's head: the fake's main is empty
                    None => return error(422, "Object does not exist"),
                };
                s.writes += 1;
                let writes = s.writes;
                s.files = files.into_iter().map(|(path, bytes)| (path, (bytes, format!("{writes:040x}")))).collect();
                s.branch = true;
                s.head = sha.clone();
                json_response(201, json!({ "ref": body["ref"], "object": { "sha": sha, "type": "commit" } }))
            }
            ("GET", true, ["", "git", "trees", "ferry-state"]) => {
                if !s.branch {
                    return error(404, "Not Found");
                }
                // Recursive trees list folders as `tree` entries too.
                let mut entries: BTreeMap<String, &str> = BTreeMap::new();
                for path in s.files.keys() {
                    let mut folder = path.as_str();
                    while let Some((parent, _)) = folder.rsplit_once('/') {
                        entries.insert(parent.to_string(), "tree");
                        folder = parent;
                    }
                    entries.insert(path.clone(), "blob");
                }
                let shown = if s.truncate_tree { entries.len() / 2 } else { entries.len() };
                let tree: Vec<Value> = entries
                    .into_iter()
                    .take(shown)
                    .map(|(p, kind)| json!({ "path": p, "type": kind, "mode": if kind == "tree" { "040000" } else { "100644" } }))
                    .collect();
                json_response(200, json!({ "sha": "t".repeat(40), "tree": tree, "truncated": s.truncate_tree }))
            }
            (_, true, ["", "contents", rest @ ..]) => self.contents(&mut s, method, &rest.join("/"), &query, &body),
            _ => error(404, &format!("the fake has no {method} {path}")),
        }
    }

    fn contents(&self, s: &mut State, method: &str, path: &str, query: &BTreeMap<String, String>, body: &Value) -> ResponseTemplate {
        let on_branch = query.get("ref").or(body["branch"].as_str().map(String::from).as_ref()).map(|b| b == "ferry-state").unwrap_or(false);
        if !on_branch {
            return error(404, "Not Found");
        }
        if !s.branch {
            return error(404, "Branch ferry-state not found");
        }
        if matches!(method, "PUT" | "DELETE")
            && let Some((other, bytes)) = s.concurrent_commits.pop_front()
        {
            // Another writer's commit lands while this one is being made.
            let expected = s.head.clone();
            s.commit(&other, bytes);
            return error(409, &format!("is at {} but expected {expected}", s.head));
        }
        let current = s.files.get(path).cloned();
        match method {
            "GET" => match current {
                Some((bytes, sha)) => json_response(
                    200,
                    json!({
                        "type": "file", "encoding": "base64", "size": bytes.len(), "name": path.rsplit('/').next(), "path": path,
                        "content": STANDARD.encode(&bytes), "sha": sha
                    }),
                ),
                None => error(404, "Not Found"),
            },
            "PUT" => {
                let given = body["sha"].as_str();
                match (&current, given) {
                    (Some(_), None) => return error(422, "Invalid request.\n\n\"sha\" wasn't supplied."),
                    (Some((_, sha)), Some(g)) if sha != g => return error(409, &format!("{path} does not match {g}")),
                    (None, Some(_)) => return error(404, "Not Found"),
                    _ => {}
                }
                let bytes = STANDARD.decode(body["content"].as_str().unwrap_or_default()).unwrap_or_default();
                let sha = s.commit(path, Some(bytes)).unwrap_or_default();
                json_response(if current.is_some() { 200 } else { 201 }, json!({ "content": { "path": path, "sha": sha }, "commit": { "sha": s.head } }))
            }
            "DELETE" => match current {
                Some((_, sha)) if body["sha"].as_str() == Some(sha.as_str()) => {
                    s.commit(path, None);
                    json_response(200, json!({ "content": null, "commit": { "sha": s.head } }))
                }
                Some(_) => error(409, "sha does not match"),
                None => error(404, "Not Found"),
            },
            _ => error(405, "Method Not Allowed"),
        }
    }
}

impl State {
    /// Commits one file (or its removal) on the branch; returns its blob sha.
    fn commit(&mut self, path: &str, bytes: Option<Vec<u8>>) -> Option<String> {
        self.writes += 1;
        self.head = format!("{:040x}", 0xe000_0000_u64 + self.writes);
        let sha = format!("{:040x}", self.writes);
        match bytes {
            Some(bytes) => {
                self.files.insert(path.to_string(), (bytes, sha.clone()));
                Some(sha)
            }
            None => {
                self.files.remove(path);
                None
            }
        }
    }
}

impl Respond for Api {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.route(request)
    }
}

/// A repository whose workflow proposes one edit (`primary_region = "ams"`
/// through the `edits` test component), cloned as a job's checkout, with
/// `ferry ci` run in it as the Actions runner runs it.
pub struct Job {
    dir: tempfile::TempDir,
    pub git: crate::support::git::GitRepo,
}

/// The app's fly.toml in every [`Job`].
pub const JOB_FLY: &str = "app = \"shop\"\n\n[http_service]\n  internal_port = 8080\n";

impl Job {
    pub fn new() -> Self {
        Job::with_files(&[])
    }

    /// A job whose repository also holds `files` (ferry.toml among them,
    /// replacing the default one).
    pub fn with_files(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let checkout = dir.path().join("checkout");
        std::fs::create_dir_all(&checkout).unwrap();
        std::fs::write(checkout.join("fly.toml"), JOB_FLY).unwrap();
        std::fs::write(checkout.join("Dockerfile"), "FROM alpine\nEXPOSE 8080\n").unwrap();
        std::fs::copy(ferry_test_guests::EDITS, checkout.join("edits.wasm")).unwrap();
        std::fs::write(checkout.join("ferry.toml"), Job::workflow("")).unwrap();
        for (path, contents) in files {
            std::fs::write(checkout.join(path), contents).unwrap();
        }
        let git = crate::support::git::GitRepo::adopt(&checkout, dir.path());
        Job { dir, git }
    }

    /// The default ferry.toml, with `extra` appended.
    pub fn workflow(extra: &str) -> String {
        let sha = crate::support::sha256_hex(&ferry_test_guests::bytes(ferry_test_guests::EDITS));
        format!(
            "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"edits\"\ncomponent = \"edits.wasm\"\nsha256 = \"{sha}\"\nactions = [\"checkout\"]\nparams = {{ edits = 'primary_region=\"ams\"' }}\n{extra}"
        )
    }

    /// The job's checkout (the default branch, as actions/checkout leaves it).
    pub fn path(&self) -> &std::path::Path {
        self.git.checkout()
    }

    /// Runs `ferry ci [args]` for `event` with `payload`; returns (code,
    /// stdout, stderr, outputs, summary).
    pub fn run(&self, fake: &FakeGitHub, event: &str, payload: Value, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String, String, String) {
        let runner = Runner::new(&self.dir.path().join("runner"), fake, event, &payload);
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"));
        cmd.arg("ci").args(args).current_dir(self.path()).env("FERRY_CACHE_DIR", super::step_cache()).env("FERRY_LOG", "info");
        cmd.env("FERRY_STATE", "github").env_remove("FLY_API_TOKEN").env_remove("FLY_ACCESS_TOKEN");
        runner.apply(&mut cmd);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let (code, stdout, stderr) = crate::support::run(&mut cmd);
        (code, stdout, stderr, runner.outputs(), runner.summary())
    }

    /// Whether the job's own repository holds `sha` (was it fetched?).
    pub fn has_commit(&self, sha: &str) -> bool {
        std::process::Command::new("git").arg("-C").arg(self.path()).args(["cat-file", "-e", &format!("{sha}^{{commit}}")]).output().unwrap().status.success()
    }
}

/// `key=value` from a `$GITHUB_OUTPUT` file.
pub fn output(outputs: &str, key: &str) -> Option<String> {
    outputs.lines().find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
}
