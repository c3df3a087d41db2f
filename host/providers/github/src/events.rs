//! The webhook payloads ferry acts on, typed: `$GITHUB_EVENT_PATH` as the
//! Actions runner writes it. Field names follow GitHub's webhook docs
//! ("Webhook events and payloads"); only what ferry reads is declared, and
//! what GitHub always sends is required, so a malformed payload is an
//! error rather than a silent default.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The event that started the job.
#[derive(Clone, Debug)]
pub enum Event {
    PullRequest(PullRequestEvent),
    /// Runs the *base* branch's workflow with secrets, whatever the PR is.
    PullRequestTarget(PullRequestEvent),
    IssueComment(IssueCommentEvent),
    Push(PushEvent),
    WorkflowDispatch(DispatchEvent),
    /// Any other event: ferry does nothing on it.
    Other(String),
}

impl Event {
    /// Parses the payload of `name` (`GITHUB_EVENT_NAME`).
    pub fn parse(name: &str, payload: &serde_json::Value) -> Result<Event, serde_json::Error> {
        let p = || payload.clone();
        Ok(match name {
            "pull_request" => Event::PullRequest(serde_json::from_value(p())?),
            "pull_request_target" => Event::PullRequestTarget(serde_json::from_value(p())?),
            "issue_comment" => Event::IssueComment(serde_json::from_value(p())?),
            "push" => Event::Push(serde_json::from_value(p())?),
            "workflow_dispatch" => Event::WorkflowDispatch(serde_json::from_value(p())?),
            other => Event::Other(other.to_string()),
        })
    }

    /// The repository the workflow runs in.
    pub fn repository(&self) -> Option<&Repository> {
        match self {
            Event::PullRequest(e) | Event::PullRequestTarget(e) => Some(&e.repository),
            Event::IssueComment(e) => Some(&e.repository),
            Event::Push(e) => Some(&e.repository),
            Event::WorkflowDispatch(e) => Some(&e.repository),
            Event::Other(_) => None,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Repository {
    pub full_name: String,
    pub default_branch: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct User {
    pub login: String,
    /// `User`, `Bot` or `Organization`.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PullRequestEvent {
    pub action: String,
    pub number: u64,
    pub pull_request: PullRequestPayload,
    pub repository: Repository,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PullRequestPayload {
    pub number: u64,
    pub head: Branch,
    pub base: Branch,
    pub user: User,
}

/// One side of a pull request.
#[derive(Clone, Debug, Deserialize)]
pub struct Branch {
    pub sha: String,
    #[serde(rename = "ref")]
    pub name: String,
    /// `None` when the head repository (a fork) was deleted.
    pub repo: Option<RepoName>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RepoName {
    pub full_name: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct IssueCommentEvent {
    pub action: String,
    pub issue: Issue,
    pub comment: Comment,
    pub repository: Repository,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Issue {
    pub number: u64,
    /// Present only when the issue is a pull request.
    pub pull_request: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Comment {
    pub id: u64,
    pub body: String,
    pub user: User,
    /// OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, FIRST_TIME_CONTRIBUTOR,
    /// FIRST_TIMER or NONE: a hint only (ferry asks the API for the
    /// commenter's permission).
    pub author_association: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PushEvent {
    /// `refs/heads/<branch>`.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The commit the branch points at after the push.
    pub after: String,
    pub repository: Repository,
}

#[derive(Clone, Debug, Deserialize)]
pub struct DispatchEvent {
    /// The ref the workflow was dispatched on.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// Every input arrives as a string in the payload.
    #[serde(default)]
    pub inputs: BTreeMap<String, serde_json::Value>,
    pub repository: Repository,
}

impl DispatchEvent {
    /// An input's trimmed value, `None` when empty or absent.
    pub fn input(&self, name: &str) -> Option<String> {
        self.inputs.get(name).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comment_event_parses_and_a_broken_one_is_refused() {
        let payload = serde_json::json!({
            "action": "created",
            "issue": { "number": 7, "pull_request": { "url": "https://api.github.com/repos/a/b/pulls/7" } },
            "comment": { "id": 1, "body": "/ferry apply", "user": { "login": "alice", "type": "User" }, "author_association": "MEMBER" },
            "repository": { "full_name": "a/b", "default_branch": "main" }
        });
        let Event::IssueComment(e) = Event::parse("issue_comment", &payload).unwrap() else { panic!() };
        assert_eq!((e.issue.number, e.comment.user.login.as_str(), e.repository.default_branch.as_str()), (7, "alice", "main"));
        assert!(e.issue.pull_request.is_some());
        let broken = serde_json::json!({ "action": "created", "issue": { "number": 7 } });
        assert!(Event::parse("issue_comment", &broken).is_err());
        assert!(matches!(Event::parse("release", &broken).unwrap(), Event::Other(name) if name == "release"));
    }
}
