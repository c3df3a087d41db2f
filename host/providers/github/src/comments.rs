//! The sticky comment: one comment (in parts, when long) per pull request
//! and app, found again by its hidden marker *and* its author, updated in
//! place. A look-alike comment by anyone else is never touched: a marker
//! alone can be copied by any commenter.

use serde::Deserialize;

use crate::{GitHub, GitHubError};

/// How results are posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommentMode {
    /// Update ferry's comment in place (create it the first time).
    Sticky,
    /// Post a new comment every time (for teams who want the history).
    New,
}

/// What was posted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Posted {
    /// The first part's URL.
    pub url: String,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub deleted: usize,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Comment {
    pub id: u64,
    pub html_url: String,
    #[serde(default)]
    pub body: Option<String>,
    pub user: Option<User>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct User {
    pub login: String,
}

/// The login of the identity every Actions workflow token comments as.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

impl GitHub {
    /// Who this token comments as: `GET /user` for a personal token; an
    /// Actions installation token cannot read `/user` and is `github-actions[bot]`.
    pub fn identity(&self) -> Result<String, GitHubError> {
        #[derive(Deserialize)]
        struct Me {
            login: String,
        }
        match self.get::<Me>("/user", None) {
            Ok(me) => Ok(me.login),
            Err(e) if e.is_forbidden() || e.status() == Some(404) => Ok(ACTIONS_BOT.to_string()),
            Err(e) => Err(e),
        }
    }

    /// Every comment of an issue or pull request, all pages.
    pub(crate) fn comments(&self, number: u64) -> Result<Vec<Comment>, GitHubError> {
        let route = self.route(&format!("/issues/{number}/comments"));
        let mut out = Vec::new();
        for page in 1.. {
            let batch: Vec<Comment> = self.get(&route, Some(&[("per_page", "100".into()), ("page", page.to_string())]))?;
            let last = batch.len() < 100;
            out.extend(batch);
            if last {
                break;
            }
        }
        Ok(out)
    }

    /// The body of part 1 of ferry's comment whose marker starts with
    /// `prefix`, written by `author` (e.g. to read the reviewed plan hash).
    pub fn find_own_comment(&self, number: u64, prefix: &str, author: &str) -> Result<Option<String>, GitHubError> {
        Ok(self
            .comments(number)?
            .into_iter()
            .filter(|c| c.user.as_ref().is_some_and(|u| u.login == author))
            .filter_map(|c| c.body)
            .rfind(|b| b.starts_with(prefix) && part_number(b, prefix) == Some(1)))
    }

    /// Posts `parts` as ferry's comment on `number`: with [`CommentMode::Sticky`],
    /// the earlier comment by `author` whose marker starts with `prefix` is
    /// updated part by part, extra old parts are deleted.
    pub fn post_comment(&self, number: u64, prefix: &str, parts: &[String], author: &str, mode: CommentMode) -> Result<Posted, GitHubError> {
        let mut existing: Vec<(usize, Comment)> = Vec::new();
        if mode == CommentMode::Sticky {
            for c in self.comments(number)? {
                let by_us = c.user.as_ref().is_some_and(|u| u.login == author);
                let part = c.body.as_deref().and_then(|b| part_number(b, prefix));
                if let (true, Some(part)) = (by_us, part)
                    && !existing.iter().any(|(p, _)| *p == part)
                {
                    existing.push((part, c));
                }
            }
        }
        let mut posted = Posted::default();
        for (i, body) in parts.iter().enumerate() {
            let url = match existing.iter().find(|(p, _)| *p == i + 1) {
                Some((_, c)) if c.body.as_deref() == Some(body.as_str()) => {
                    posted.unchanged += 1;
                    c.html_url.clone()
                }
                Some((_, c)) => {
                    posted.updated += 1;
                    self.update(c.id, body)?.html_url
                }
                None => {
                    posted.created += 1;
                    self.create(number, body)?.html_url
                }
            };
            if i == 0 {
                posted.url = url;
            }
        }
        for (_, c) in existing.iter().filter(|(p, _)| *p > parts.len()) {
            self.delete(&self.route(&format!("/issues/comments/{}", c.id)))?;
            posted.deleted += 1;
        }
        Ok(posted)
    }

    fn create(&self, number: u64, body: &str) -> Result<Comment, GitHubError> {
        self.send(http::Method::POST, &self.route(&format!("/issues/{number}/comments")), &serde_json::json!({ "body": body }))
    }

    /// GitHub documents PATCH for edits (octocrab's `update_comment` sends POST).
    fn update(&self, id: u64, body: &str) -> Result<Comment, GitHubError> {
        self.send(http::Method::PATCH, &self.route(&format!("/issues/comments/{id}")), &serde_json::json!({ "body": body }))
    }
}

/// `<prefix>3/4 …` -> 3.
fn part_number(body: &str, prefix: &str) -> Option<usize> {
    body.strip_prefix(prefix)?.split('/').next()?.parse().ok()
}
