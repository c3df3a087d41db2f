//! What ferry asks about a pull request before it plans or applies it: its
//! exact head and author, the pull requests a pushed commit came from, and
//! the reviews of its head.

use serde::Deserialize;

use crate::{GitHub, GitHubError};

/// A pull request, from `GET /repos/{owner}/{repo}/pulls/{number}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    /// `open` or `closed`.
    pub state: String,
    pub head_sha: String,
    /// `owner/name` of the head repository: another one for a fork, empty
    /// when the fork was deleted.
    pub head_repo: String,
    pub base_ref: String,
    pub author: String,
    pub merged: bool,
}

impl PullRequest {
    /// Whether the head lives outside `repository` (`owner/name`).
    pub fn is_fork_of(&self, repository: &str) -> bool {
        !self.head_repo.eq_ignore_ascii_case(repository)
    }
}

#[derive(Deserialize)]
struct RawPull {
    number: u64,
    state: String,
    head: RawSide,
    base: RawSide,
    user: RawUser,
    #[serde(default)]
    merged_at: Option<String>,
}

#[derive(Deserialize)]
struct RawSide {
    sha: String,
    #[serde(rename = "ref")]
    name: String,
    repo: Option<RawRepo>,
}

#[derive(Deserialize)]
struct RawRepo {
    full_name: String,
}

#[derive(Deserialize)]
struct RawUser {
    login: String,
}

impl From<RawPull> for PullRequest {
    fn from(raw: RawPull) -> Self {
        PullRequest {
            number: raw.number,
            state: raw.state,
            head_sha: raw.head.sha,
            head_repo: raw.head.repo.map(|r| r.full_name).unwrap_or_default(),
            base_ref: raw.base.name,
            author: raw.user.login,
            merged: raw.merged_at.is_some(),
        }
    }
}

/// One review, from `GET /repos/{owner}/{repo}/pulls/{number}/reviews`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Review {
    pub user: Option<ReviewUser>,
    /// APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED or PENDING.
    pub state: String,
    /// The commit the review was made on.
    pub commit_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ReviewUser {
    pub login: String,
}

impl GitHub {
    pub fn pull_request(&self, number: u64) -> Result<PullRequest, GitHubError> {
        let raw: RawPull = self.get(&self.route(&format!("/pulls/{number}")), None)?;
        Ok(raw.into())
    }

    /// The pull requests `sha` belongs to (`GET /commits/{sha}/pulls`): for
    /// a push to the default branch, the merged one it came from.
    pub fn pulls_of_commit(&self, sha: &str) -> Result<Vec<PullRequest>, GitHubError> {
        let raw: Vec<RawPull> = self.get(&self.route(&format!("/commits/{sha}/pulls")), Some(&[("per_page", "100".into())]))?;
        Ok(raw.into_iter().map(PullRequest::from).collect())
    }

    /// Every review of pull request `number`, oldest first (paged, 100 a page).
    pub fn reviews(&self, number: u64) -> Result<Vec<Review>, GitHubError> {
        let route = self.route(&format!("/pulls/{number}/reviews"));
        let mut all = Vec::new();
        for page in 1.. {
            let batch: Vec<Review> = self.get(&route, Some(&[("per_page", "100".into()), ("page", page.to_string())]))?;
            let last = batch.len() < 100;
            all.extend(batch);
            if last {
                break;
            }
        }
        Ok(all)
    }

    /// Who approved `head` of pull request `number`, other than `author`:
    /// each reviewer's latest approving or change-requesting review counts
    /// (GitHub's own rule), and only if it was made on `head`.
    pub fn approvers(&self, number: u64, head: &str, author: &str) -> Result<Vec<String>, GitHubError> {
        let mut latest: std::collections::BTreeMap<String, Review> = std::collections::BTreeMap::new();
        for review in self.reviews(number)? {
            let Some(user) = &review.user else { continue };
            if matches!(review.state.as_str(), "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED") {
                latest.insert(user.login.clone(), review);
            }
        }
        Ok(latest
            .into_iter()
            .filter(|(login, r)| r.state == "APPROVED" && r.commit_id.as_deref() == Some(head) && !login.eq_ignore_ascii_case(author))
            .map(|(login, _)| login)
            .collect())
    }
}
