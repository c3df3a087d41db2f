//! A blocking facade over octocrab (which is async) for one repository.

use std::sync::Arc;

use octocrab::Octocrab;
use serde::Deserialize;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    /// GitHub answered with an error status.
    #[error("GitHub answered {status} to {what}: {message}")]
    Status { what: String, status: u16, message: String },
    #[error("{what}: {message}")]
    Other { what: String, message: String },
}

impl GitHubError {
    pub fn status(&self) -> Option<u16> {
        match self {
            GitHubError::Status { status, .. } => Some(*status),
            GitHubError::Other { .. } => None,
        }
    }

    /// A read-only token (a fork's pull request, Dependabot) or a missing
    /// `permissions:` entry: GitHub says 403 "Resource not accessible by integration".
    pub fn is_forbidden(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }
}

/// One repository, through one token.
#[derive(Clone)]
pub struct GitHub {
    octo: Octocrab,
    runtime: Arc<tokio::runtime::Runtime>,
    pub owner: String,
    pub repo: String,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GitHub({}/{})", self.owner, self.repo)
    }
}

/// What ferry needs of a pull request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pull {
    pub number: u64,
    pub head_sha: String,
    /// `owner/name` of the head repository; differs from the base for a fork.
    pub head_repo: String,
    pub state: String,
}

impl GitHub {
    /// A client for `owner/repo` at `api_url` (`GITHUB_API_URL`).
    pub fn new(api_url: &str, token: &str, repository: &str) -> Result<Self, GitHubError> {
        let (owner, repo) = repository
            .split_once('/')
            .ok_or_else(|| GitHubError::Other { what: "GITHUB_REPOSITORY".into(), message: format!("`{repository}` is not owner/name") })?;
        let other = |message: String| GitHubError::Other { what: "building the GitHub client".into(), message };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| other(e.to_string()))?;
        let octo = {
            let _guard = runtime.enter();
            Octocrab::builder()
                .base_uri(api_url.trim_end_matches('/'))
                .map_err(|e| other(e.to_string()))?
                .personal_token(token.to_string())
                .add_header(http::header::HeaderName::from_static("x-github-api-version"), "2022-11-28".into())
                .build()
                .map_err(|e| other(e.to_string()))?
        };
        Ok(GitHub { octo, runtime: Arc::new(runtime), owner: owner.into(), repo: repo.into() })
    }

    /// `/repos/{owner}/{repo}` + `rest`.
    pub(crate) fn route(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.owner, self.repo)
    }

    pub(crate) fn get<T: DeserializeOwned>(&self, route: &str, query: Option<&[(&str, String)]>) -> Result<T, GitHubError> {
        self.runtime.block_on(self.octo.get(route, query)).map_err(|e| wrap(&format!("GET {route}"), e))
    }

    pub(crate) fn send<T: DeserializeOwned>(&self, method: http::Method, route: &str, body: &serde_json::Value) -> Result<T, GitHubError> {
        let what = format!("{method} {route}");
        let fut = async {
            match method {
                http::Method::POST => self.octo.post(route, Some(body)).await,
                http::Method::PATCH => self.octo.patch(route, Some(body)).await,
                http::Method::PUT => self.octo.put(route, Some(body)).await,
                http::Method::DELETE => self.octo.delete(route, Some(body)).await,
                _ => unreachable!("ferry sends no {method}"),
            }
        };
        self.runtime.block_on(fut).map_err(|e| wrap(&what, e))
    }

    /// A DELETE that answers 204 with no body.
    pub(crate) fn delete(&self, route: &str) -> Result<(), GitHubError> {
        let what = format!("DELETE {route}");
        let response = self.runtime.block_on(self.octo._delete(route, None::<&()>)).map_err(|e| wrap(&what, e))?;
        let status = response.status();
        if status.is_success() { Ok(()) } else { Err(GitHubError::Status { what, status: status.as_u16(), message: status.to_string() }) }
    }

    pub fn pull(&self, number: u64) -> Result<Pull, GitHubError> {
        #[derive(Deserialize)]
        struct Repo {
            full_name: String,
        }
        #[derive(Deserialize)]
        struct Head {
            sha: String,
            repo: Option<Repo>,
        }
        #[derive(Deserialize)]
        struct Raw {
            number: u64,
            state: String,
            head: Head,
        }
        let raw: Raw = self.get(&self.route(&format!("/pulls/{number}")), None)?;
        Ok(Pull { number: raw.number, head_sha: raw.head.sha, head_repo: raw.head.repo.map(|r| r.full_name).unwrap_or_default(), state: raw.state })
    }

    /// True when `user` may push to the repository (admin, maintain or write):
    /// the bar for running `/ferry apply` from a comment.
    pub fn can_write(&self, user: &str) -> Result<bool, GitHubError> {
        #[derive(Deserialize)]
        struct Permission {
            permission: String,
        }
        let p: Permission = self.get(&self.route(&format!("/collaborators/{user}/permission")), None)?;
        Ok(matches!(p.permission.as_str(), "admin" | "maintain" | "write"))
    }

    /// Comments on a commit (a push has no pull request to hold a report);
    /// returns the comment's URL. Long bodies are posted in parts.
    pub fn commit_comment(&self, sha: &str, parts: &[String]) -> Result<String, GitHubError> {
        #[derive(Deserialize)]
        struct Posted {
            html_url: String,
        }
        let route = self.route(&format!("/commits/{sha}/comments"));
        let mut first = None;
        for body in parts {
            let posted: Posted = self.send(http::Method::POST, &route, &serde_json::json!({ "body": body }))?;
            first.get_or_insert(posted.html_url);
        }
        Ok(first.unwrap_or_default())
    }

    /// Adds a reaction (e.g. `eyes`) to a comment, so its author sees ferry took it.
    pub fn react(&self, comment_id: u64, content: &str) -> Result<(), GitHubError> {
        let route = self.route(&format!("/issues/comments/{comment_id}/reactions"));
        self.send::<serde_json::Value>(http::Method::POST, &route, &serde_json::json!({ "content": content })).map(drop)
    }
}

fn wrap(what: &str, e: octocrab::Error) -> GitHubError {
    match e {
        octocrab::Error::GitHub { source, .. } => GitHubError::Status { what: what.into(), status: source.status_code.as_u16(), message: source.message },
        other => GitHubError::Other { what: what.into(), message: other.to_string() },
    }
}
