//! GitHub, as ferry uses it from a workflow run: the sticky plan comment on
//! a pull request, who may apply, the PR's head, and a state store on a
//! dedicated branch of the repository.
//!
//! Every call goes to `GITHUB_API_URL`, so GitHub Enterprise Server works
//! (`https://HOST/api/v3`): octocrab keeps the base path and joins routes to
//! it. Errors keep GitHub's status, so callers can treat a 403 from a
//! fork's read-only token as "no permission" rather than a failure.

mod client;
mod comments;
pub mod events;
mod pulls;
mod store;

pub use client::{GitHub, GitHubError, Pull};
pub use comments::{CommentMode, Posted};
pub use pulls::{PullRequest, Review};
pub use store::BranchStore;
