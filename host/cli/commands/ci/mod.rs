//! `ferry ci`: ferry as a GitHub Actions step.
//!
//! What a job may do depends on who asked and on what the job holds:
//! - **Who.** A `/ferry` comment counts only from someone with write
//!   permission (asked of the API, whatever the payload's
//!   `author_association` says), and never from a bot.
//! - **Which code.** A pull request from a fork is never fetched into a job
//!   that holds secrets (a comment's or `pull_request_target`'s). Otherwise
//!   ferry fetches the pull request's head *by its SHA* into a worktree of
//!   its own, after the checks above, and records that exact commit in its
//!   plan comment; an apply fetches it again and refuses any other.
//! - **Where credentials go.** Endpoints and the variables credentials come
//!   from are read from the default branch's ferry.toml; a pull request that
//!   changes them is planned without credentials and never applied from a
//!   comment (see `--trusted-workflow`).
//! - **Which plan.** A comment applies the plan ferry posted for the PR's
//!   head (and, with `--require-approval`, only once someone other than its
//!   author approved that head). A push applies only the plan reviewed on
//!   the merged pull request, a dispatch only the `plan-hash` it names,
//!   unless `--allow-unreviewed`. Both run on the default branch only.

mod git;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use ferry_engine::apply::{self, Outcome};
use ferry_github::events::Event;
use ferry_github::{CommentMode, GitHub, PullRequest};
use ferry_render::Format;
use ferry_render::comment::{self, Marker};

use super::build;
use crate::args::{ApplyArgs, BuildFlags, Checkout, CiArgs, CommentModeArg, Global, PlanFormat};
use crate::context::{Session, state_store};
use crate::exit;
use crate::runner::{Runner, github_from_env};
use git::{Repo, Worktree};

/// What the event asks ferry to do.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    Plan { pr: Option<u64> },
    Apply { pr: Option<u64>, plan_hash: Option<String>, approve: bool, run: Option<String> },
    Abort { pr: Option<u64>, run: Option<String> },
    Ignore(String),
}

pub fn run(global: &Global, args: &CiArgs) -> anyhow::Result<ExitCode> {
    let runner = Runner::from_env()?;
    let event = Event::parse(&runner.event_name, &runner.event).with_context(|| format!("reading the `{}` event's payload", runner.event_name))?;
    let github = github_from_env();
    let ci = Ci { global, args, runner: &runner, github: github.as_ref().ok(), event: &event };
    let request = ci.request()?;
    tracing::info!("{}: {request:?}", runner.event_name);
    let from_comment = matches!(event, Event::IssueComment(_));
    let result = match request {
        Request::Ignore(why) => {
            tracing::info!("nothing to do: {why}");
            return Ok(exit::OK);
        }
        Request::Plan { pr } => ci.plan(pr),
        Request::Apply { pr, plan_hash, approve, run } => ci.apply(pr, plan_hash, approve, run),
        Request::Abort { pr, run } => ci.abort(pr, run),
    };
    // A command from a comment is answered on the pull request, refusals
    // included: the person who asked reads the PR, not the job log.
    if let (Err(e), true, Event::IssueComment(c)) = (&result, from_comment, &event) {
        ci.answer(c.issue.number, &format!("@{}: ferry did not do that: {}", c.comment.user.login, error_text(e)));
    }
    result
}

/// An error and its causes, on one line each.
fn error_text(e: &anyhow::Error) -> String {
    e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join("\n  caused by: ")
}

struct Ci<'a> {
    global: &'a Global,
    args: &'a CiArgs,
    runner: &'a Runner,
    github: Option<&'a GitHub>,
    event: &'a Event,
}

/// The commit ferry plans and the configuration that vouches for it.
struct Content {
    checkout: Checkout,
    /// The commit checked out: what the plan comment records.
    head: String,
    _worktree: Option<Worktree>,
    _trusted: tempfile::TempDir,
}

impl Ci<'_> {
    fn github(&self) -> anyhow::Result<&GitHub> {
        self.github.ok_or_else(|| anyhow::anyhow!("this needs GITHUB_TOKEN (the action's `github-token` input)"))
    }

    fn repository(&self) -> &str {
        self.event.repository().map(|r| r.full_name.as_str()).unwrap_or(&self.runner.repository)
    }

    fn default_branch(&self) -> anyhow::Result<&str> {
        self.event.repository().map(|r| r.default_branch.as_str()).context("the event names no repository (and so no default branch)")
    }

    /// Whether the job runs on the default branch (`GITHUB_REF`), as a
    /// comment's job always does and a push or dispatch may.
    fn on_default_branch(&self) -> anyhow::Result<bool> {
        let git_ref = std::env::var("GITHUB_REF").unwrap_or_default();
        Ok(git_ref == format!("refs/heads/{}", self.default_branch()?))
    }

    fn request(&self) -> anyhow::Result<Request> {
        Ok(match self.event {
            Event::PullRequest(e) | Event::PullRequestTarget(e) => {
                if e.action == "closed" {
                    return Ok(Request::Ignore("the pull request was closed".into()));
                }
                Request::Plan { pr: Some(e.number) }
            }
            Event::IssueComment(e) => return self.comment_request(e),
            Event::WorkflowDispatch(e) => {
                let command = e.input("command").unwrap_or_else(|| "plan".into());
                let run = e.input("run").or_else(|| e.input("migration"));
                match command.as_str() {
                    "plan" => Request::Plan { pr: None },
                    "apply" => Request::Apply { pr: None, plan_hash: e.input("plan-hash"), approve: e.input("approve").is_some_and(|v| v == "true"), run },
                    "abort" => Request::Abort { pr: None, run },
                    other => bail!("workflow_dispatch input `command` is `{other}`; expected plan, apply or abort"),
                }
            }
            Event::Push(_) => Request::Apply { pr: None, plan_hash: None, approve: false, run: None },
            Event::Other(name) => Request::Ignore(format!("ferry does nothing on `{name}` events")),
        })
    }

    /// `/ferry plan|apply [HASH]|approve [HASH]|abort` on a pull request,
    /// from a person who may write to the repository.
    fn comment_request(&self, event: &ferry_github::events::IssueCommentEvent) -> anyhow::Result<Request> {
        if event.action != "created" {
            return Ok(Request::Ignore("only new comments are commands".into()));
        }
        if event.issue.pull_request.is_none() {
            return Ok(Request::Ignore("the comment is on an issue, not a pull request".into()));
        }
        let Some(command) = event.comment.body.lines().next().and_then(|l| l.trim().strip_prefix("/ferry")).map(str::trim) else {
            return Ok(Request::Ignore("the comment is not a /ferry command".into()));
        };
        if event.comment.user.kind == "Bot" {
            return Ok(Request::Ignore("comments by bots are not commands".into()));
        }
        let user = &event.comment.user.login;
        let pr = Some(event.issue.number);
        let github = self.github().context("a /ferry command needs GITHUB_TOKEN to check who wrote it")?;
        let allowed = match github.can_write(user) {
            Ok(allowed) => allowed,
            Err(e) if e.is_forbidden() || e.status() == Some(404) => false,
            Err(e) => return Err(e.into()),
        };
        if !allowed {
            let why = format!("@{user} may not run /ferry commands: that needs write permission on the repository");
            self.answer(event.issue.number, &why);
            return Ok(Request::Ignore(why));
        }
        let _ = github.react(event.comment.id, "eyes");
        let mut words = command.split_whitespace();
        let verb = words.next().unwrap_or("");
        let hash = words.next().map(str::to_string);
        Ok(match verb {
            "plan" => Request::Plan { pr },
            "apply" => Request::Apply { pr, plan_hash: hash, approve: false, run: None },
            "approve" => Request::Apply { pr, plan_hash: hash, approve: true, run: None },
            "abort" => Request::Abort { pr, run: None },
            other => {
                let why = format!("unknown /ferry command `{other}`: use plan, apply [HASH], approve [HASH] or abort");
                self.answer(event.issue.number, &why);
                Request::Ignore(why)
            }
        })
    }

    /// Whether this job holds the repository's secrets whatever the pull
    /// request is: a comment's job and `pull_request_target` run the default
    /// branch's workflow with them (a fork's `pull_request` job gets none).
    fn holds_secrets_for_forks(&self) -> bool {
        matches!(self.event, Event::IssueComment(_) | Event::PullRequestTarget(_))
    }

    /// The pull request, from the API (its head now), or from a
    /// `pull_request` payload when there is no token.
    fn pull_request(&self, number: u64) -> anyhow::Result<PullRequest> {
        if let Some(github) = self.github {
            return Ok(github.pull_request(number)?);
        }
        match self.event {
            Event::PullRequest(e) | Event::PullRequestTarget(e) if e.number == number => Ok(PullRequest {
                number,
                state: "open".into(),
                head_sha: e.pull_request.head.sha.clone(),
                head_repo: e.pull_request.head.repo.as_ref().map(|r| r.full_name.clone()).unwrap_or_default(),
                base_ref: e.pull_request.base.name.clone(),
                author: e.pull_request.user.login.clone(),
                merged: false,
            }),
            _ => bail!("reading pull request #{number} needs GITHUB_TOKEN"),
        }
    }

    /// Refuses to go on with a fork's pull request in a job with secrets,
    /// before any of its code is fetched.
    fn refuse_fork(&self, pull: &PullRequest, what: &str) -> anyhow::Result<()> {
        if pull.is_fork_of(self.repository()) && (self.holds_secrets_for_forks() || what == "apply") {
            bail!(
                "#{} comes from a fork ({}): ferry does not {what} a fork's pull request in a job that holds the repository's \
                 secrets; its plan (made without secrets) is in the `pull_request` run's job summary, and a maintainer can merge \
                 it or push it to a branch of this repository",
                pull.number,
                if pull.head_repo.is_empty() { "deleted" } else { &pull.head_repo }
            );
        }
        Ok(())
    }

    /// The commit to plan — the pull request's head `(number, sha)` fetched
    /// into a worktree, or the job's own checkout — and the default
    /// branch's ferry.toml as the trusted workflow.
    fn content(&self, pull: Option<(u64, &str)>) -> anyhow::Result<Content> {
        let dir = self.args.checkout.dir.canonicalize().with_context(|| format!("opening {}", self.args.checkout.dir.display()))?;
        let mut repo = Repo::discover(&dir)?;
        if let (Ok(server), Ok(token)) = (std::env::var("GITHUB_SERVER_URL"), std::env::var("GITHUB_TOKEN")) {
            repo = repo.with_token(&server, &token);
        }
        let inside = |path: &std::path::Path| -> anyhow::Result<PathBuf> {
            let path = path.canonicalize().with_context(|| format!("opening {}", path.display()))?;
            Ok(path.strip_prefix(repo.root()).with_context(|| format!("{} is outside the repository {}", path.display(), repo.root().display()))?.to_path_buf())
        };
        let rel = inside(&dir)?;
        let workflow_rel = match &self.args.checkout.workflow {
            Some(w) => inside(w)?,
            None => rel.join(ferry_engine::workflow::WORKFLOW_FILE),
        };
        let (root, head, worktree) = match pull {
            Some((number, sha)) => {
                let fetched = repo.fetch(&format!("+refs/pull/{number}/head"))?;
                if fetched != sha {
                    bail!("#{number}'s head is {} now, not {}: it moved while ferry ran; comment again to use the new head", short(&fetched), short(sha));
                }
                let worktree = repo.worktree(sha)?;
                (worktree.path().to_path_buf(), sha.to_string(), Some(worktree))
            }
            None => (repo.root().to_path_buf(), Repo::head(&dir)?, None),
        };
        let trusted_dir = tempfile::Builder::new().prefix("ferry-trusted-").tempdir()?;
        let trusted = trusted_dir.path().join(ferry_engine::workflow::WORKFLOW_FILE);
        let text = if pull.is_none() && self.on_default_branch()? {
            std::fs::read_to_string(repo.root().join(&workflow_rel)).ok()
        } else {
            let branch = self.default_branch()?;
            let tip = repo.fetch(&format!("+refs/heads/{branch}"))?;
            repo.show(&tip, &workflow_rel)?
        };
        if let Some(text) = text {
            std::fs::write(&trusted, text)?;
        }
        let checkout = Checkout {
            dir: root.join(&rel),
            workflow: self.args.checkout.workflow.as_ref().map(|_| root.join(&workflow_rel)),
            config: self.args.checkout.config.clone(),
            trusted_workflow: Some(trusted),
        };
        Ok(Content { checkout, head, _worktree: worktree, _trusted: trusted_dir })
    }

    fn store(&self) -> anyhow::Result<Box<dyn ferry_state::StateStore>> {
        state_store(&self.args.state, &self.args.checkout.dir)
    }

    fn phase(&self) -> String {
        let input = match self.event {
            Event::WorkflowDispatch(e) => e.input("phase"),
            _ => None,
        };
        self.args.phase.clone().or(input).unwrap_or_else(|| "deploy".into())
    }

    fn plan(&self, pr: Option<u64>) -> anyhow::Result<ExitCode> {
        let pull = pr.map(|n| self.pull_request(n)).transpose()?;
        if let Some(pull) = &pull {
            self.refuse_fork(pull, "plan")?;
        }
        let fork = pull.as_ref().is_some_and(|p| p.is_fork_of(self.repository()));
        let content = self.content(pull.as_ref().map(|p| (p.number, p.head_sha.as_str())))?;
        // A deploy step with no image builds and pushes it now: the plan,
        // and so its hash, names the digest, and the apply deploys that.
        let planned = Session::open(self.global, &content.checkout).and_then(|mut session| {
            let built = build::build_unless_named(&mut session, &BuildFlags::default(), &content.checkout.dir, true)?;
            Ok((session.plan(&self.phase())?, session, built))
        });
        let (plan, session, built) = match planned {
            Ok(planned) => planned,
            Err(e) => {
                if let Some(pull) = &pull {
                    let text = format!("**ferry could not plan {}:**\n\n```\n{}\n```", short(&content.head), error_text(&e).replace("```", "'''"));
                    self.comment(pull.number, &Marker::new("error", "ferry"), &text, &[], fork)?;
                }
                return Err(e);
            }
        };
        let app = apply::app_key(&plan);
        let hash = plan.hash();
        match self.store() {
            Ok(store) if !fork => {
                if let Err(e) = super::plan::keep(&plan, &*store) {
                    self.runner.warning(&format!("could not keep the plan in the state store: {e}"));
                }
            }
            Ok(_) => {}
            Err(e) => self.runner.warning(&format!("no state store: {e}")),
        }
        let markdown = ferry_render::plan(&plan, Format::Markdown);
        self.runner.summary(&markdown)?;
        self.runner.annotate(&plan.findings().cloned().collect::<Vec<_>>());
        let counts = plan.counts();
        self.runner.output("plan-hash", &hash)?;
        self.runner.output("has-changes", &plan.has_changes().to_string())?;
        for risk in ferry_model::Risk::ALL {
            self.runner.output(risk.as_str(), &counts.get(risk).to_string())?;
        }
        if let Some(pull) = pull {
            let next = if fork {
                vec!["This pull request comes from a fork: ferry plans it, but never applies it.".to_string()]
            } else if withheld(&plan) {
                vec!["This pull request changes where credentials go: ferry applies it only after it is merged.".to_string()]
            } else if !session.can_act() {
                vec![format!("Merging this deploys nothing: {}.", ferry_render::markdown_text(&session.nothing_acts()))]
            } else if plan.has_changes() {
                vec![format!("To apply this plan, comment `/ferry apply {}`.", short(&hash))]
            } else {
                Vec::new()
            };
            let mut marker = Marker::new("plan", &app).with("hash", &hash).with("sha", &content.head);
            if let Some(built) = &built {
                marker = marker.with("image", &built.reference);
            }
            self.comment(pull.number, &marker, &markdown, &next, fork)?;
        }
        crate::context::fail_on_config_errors(plan.app.as_ref())?;
        Ok(exit::OK)
    }

    fn apply(&self, pr: Option<u64>, plan_hash: Option<String>, approve: bool, run: Option<String>) -> anyhow::Result<ExitCode> {
        let named = plan_hash.as_deref().map(apply::reviewed_hash).transpose()?;
        let (pull, content) = match pr {
            Some(number) => {
                let pull = self.pull_request(number)?;
                self.refuse_fork(&pull, "apply")?;
                if pull.state != "open" {
                    bail!("#{number} is {}: ferry applies an open pull request's plan, or the merge's on push", pull.state);
                }
                self.check_approval(&pull)?;
                let content = self.content(Some((number, &pull.head_sha)))?;
                (Some(pull), content)
            }
            None => {
                if !self.on_default_branch()? {
                    bail!(
                        "ferry applies a push or a dispatch on the default branch ({}) only, not on {}",
                        self.default_branch()?,
                        std::env::var("GITHUB_REF").unwrap_or_default()
                    );
                }
                (None, self.content(None)?)
            }
        };
        let mut session = Session::open(self.global, &content.checkout)?;
        self.image_to_apply(&mut session, pull.as_ref(), &content.checkout.dir)?;
        let plan = session.plan(&self.phase())?;
        if !session.can_act() {
            bail!("nothing to apply: {}", session.nothing_acts());
        }
        if withheld(&plan) {
            bail!(
                "this change moves where credentials go, so ferry planned it without them and will not apply it here: merge it, then ferry applies it from the default branch"
            );
        }
        let reviewed = match (&pull, &self.event) {
            (Some(pull), _) => Some(self.reviewed_on_pull(pull, &plan, &content.head, named.as_deref())?),
            (None, Event::Push(push)) if !self.args.allow_unreviewed => Some(self.reviewed_on_merge(&push.after, &plan)?),
            (None, Event::WorkflowDispatch(_)) if !self.args.allow_unreviewed => Some(named.clone().context(
                "a dispatch applies only the plan it names: give the `plan-hash` input (from the plan you reviewed), \
                 or set the action's `allow-unreviewed: true`",
            )?),
            (None, _) => named.clone(),
        };
        let store = self.store()?;
        let args = ApplyArgs {
            checkout: content.checkout.clone(),
            state: self.args.state.clone(),
            phase: self.phase(),
            plan_hash: reviewed,
            no_rollback: false,
            approve,
            yes: true,
            run,
            format: PlanFormat::Md,
        };
        let report = super::apply::apply_planned(&content.checkout, &plan, &super::apply::options(&args), &*store)?;
        let mut markdown = ferry_render::apply_result(&report.app, &report.run, &report.outcome, &report.phase, Format::Markdown);
        if let Some(deploy) = super::deploy::DeployResult::of(&report) {
            markdown.push_str(&format!("\n{}\n", ferry_render::markdown_text(&deploy.sentence(&report.outcome))));
            deploy.set_outputs(self.runner)?;
        }
        self.runner.summary(&markdown)?;
        if let Outcome::RolledBack { error, .. } | Outcome::Failed { error, .. } = &report.outcome {
            self.runner.error(error);
        }
        self.runner.output("outcome", outcome_name(&report.outcome))?;
        self.runner.output("plan-hash", &report.phase.plan_hash)?;
        if pull.is_none() && matches!(self.event, Event::Push(_)) {
            self.commit_comment(&report.app, &content.head, &markdown)?;
        }
        if let Some(pull) = &pull {
            let next = match &report.outcome {
                Outcome::WaitingApproval { .. } => vec!["To continue past the approval gate, comment `/ferry approve`.".to_string()],
                Outcome::RolledBack { transient: true, .. } | Outcome::Failed { transient: true, .. } => {
                    vec!["Comment `/ferry apply` to try again, or `/ferry abort` to undo the run.".to_string()]
                }
                Outcome::RolledBack { .. } | Outcome::Failed { .. } => {
                    vec!["Fix the cause and comment `/ferry apply` to resume, or `/ferry abort` to undo the run.".to_string()]
                }
                _ => Vec::new(),
            };
            self.comment(pull.number, &Marker::new("apply", &report.app), &markdown, &next, false)?;
        }
        Ok(super::apply::exit_code(&report.outcome))
    }

    /// A deploy step with no image deploys the image its reviewed plan
    /// built, which ferry's plan comment names (on the pull request, or on
    /// the one a push merged); nothing is built for an apply that has no
    /// reviewed plan to match. Built here only when none is asked for (a
    /// dispatch, or `allow-unreviewed`).
    fn image_to_apply(&self, session: &mut Session, pull: Option<&PullRequest>, checkout: &std::path::Path) -> anyhow::Result<()> {
        let build::Image::ToBuild(app) = build::image_of(session, "deploy")? else { return Ok(()) };
        let key = apply::app_key_of(Some(&app));
        let (number, body) = match (pull, &self.event) {
            (Some(pull), _) => (pull.number, self.plan_comment(pull.number, &key)?.ok_or_else(|| no_plan_on(pull.number, &key))?),
            (None, Event::Push(push)) if !self.args.allow_unreviewed => {
                self.merged_plan_comment(&push.after, &key)?.ok_or_else(|| unreviewed_push(&push.after, &key))?
            }
            (None, _) => {
                build::build_unless_named(session, &BuildFlags::default(), checkout, true)?;
                return Ok(());
            }
        };
        let image = Marker::field(&body, "image")
            .with_context(|| format!("ferry's plan on #{number} names no image it built: comment `/ferry plan` and review the new plan"))?;
        tracing::info!("deploying {image}, the image the plan reviewed on #{number} built");
        session.set_param("deploy", "image", &image);
        Ok(())
    }

    /// ferry's plan comment for `app` on pull request `number`, if any.
    fn plan_comment(&self, number: u64, app: &str) -> anyhow::Result<Option<String>> {
        let github = self.github()?;
        Ok(github.find_own_comment(number, &Marker::new("plan", app).prefix(), &github.identity()?)?)
    }

    /// The merged pull request `sha` came from that has ferry's plan for
    /// `app`, and that comment.
    fn merged_plan_comment(&self, sha: &str, app: &str) -> anyhow::Result<Option<(u64, String)>> {
        let github = self.github()?;
        let branch = self.default_branch()?;
        for pull in github.pulls_of_commit(sha)?.into_iter().filter(|p| p.merged && p.base_ref == branch) {
            if let Some(body) = self.plan_comment(pull.number, app)? {
                return Ok(Some((pull.number, body)));
            }
        }
        Ok(None)
    }

    /// With `--require-approval`: someone other than the author approved the
    /// head commit (GitHub's latest review per person counts).
    fn check_approval(&self, pull: &PullRequest) -> anyhow::Result<()> {
        if !self.args.require_approval {
            return Ok(());
        }
        let approvers = self.github()?.approvers(pull.number, &pull.head_sha, &pull.author)?;
        if approvers.is_empty() {
            bail!(
                "#{} needs an approving review of its head {} by someone other than its author (@{}) before ferry applies it",
                pull.number,
                short(&pull.head_sha),
                pull.author
            );
        }
        tracing::info!("#{} approved at {} by {}", pull.number, short(&pull.head_sha), approvers.join(", "));
        Ok(())
    }

    /// The hash of ferry's plan comment on the PR, which must be for the
    /// commit just fetched (`head`) and, when the command named a hash, for
    /// that plan.
    fn reviewed_on_pull(&self, pull: &PullRequest, plan: &ferry_model::Plan, head: &str, named: Option<&str>) -> anyhow::Result<String> {
        let app = apply::app_key(plan);
        let body = self.plan_comment(pull.number, &app)?.ok_or_else(|| no_plan_on(pull.number, &app))?;
        let sha = Marker::field(&body, "sha").unwrap_or_default();
        if sha != head {
            bail!(
                "#{} has new commits since its plan (planned {}, head {}): comment `/ferry plan` and review the new plan",
                pull.number,
                short(&sha),
                short(head)
            );
        }
        let hash = Marker::field(&body, "hash").with_context(|| format!("ferry's plan comment on #{} has no plan hash", pull.number))?;
        if let Some(named) = named
            && !hash.starts_with(named)
        {
            bail!(
                "the command names plan {named}, but ferry's plan on #{} is {} now: review it, then comment `/ferry apply {}`",
                pull.number,
                short(&hash),
                short(&hash)
            );
        }
        Ok(hash)
    }

    /// The plan reviewed on the pull request `sha` was merged from: ferry's
    /// plan comment for the app on it.
    fn reviewed_on_merge(&self, sha: &str, plan: &ferry_model::Plan) -> anyhow::Result<String> {
        let app = apply::app_key(plan);
        if let Some((number, body)) = self.merged_plan_comment(sha, &app)? {
            let hash = Marker::field(&body, "hash").with_context(|| format!("ferry's plan comment on #{number} has no plan hash"))?;
            tracing::info!("applying the plan reviewed on #{number} ({})", short(&hash));
            return Ok(hash);
        }
        Err(unreviewed_push(sha, &app))
    }

    fn abort(&self, pr: Option<u64>, run: Option<String>) -> anyhow::Result<ExitCode> {
        if let Some(number) = pr {
            let pull = self.pull_request(number)?;
            self.refuse_fork(&pull, "abort")?;
        } else if !self.on_default_branch()? {
            bail!("ferry aborts from a dispatch on the default branch ({}) only", self.default_branch()?);
        }
        // The undo runs with the default branch's configuration: nothing of
        // the pull request's is fetched.
        let content = self.content(None)?;
        let store = self.store()?;
        let plan = super::plan::compute(self.global, &content.checkout, &self.phase())?;
        let app = apply::app_key(&plan);
        let providers = crate::context::providers(&content.checkout)?;
        let journal = apply::abort(&*store, &providers, &app, run.as_deref(), None, &crate::context::owner(), crate::context::LOCK_TTL_MS)?;
        let markdown = ferry_render::journal(&journal, Format::Markdown);
        self.runner.summary(&markdown)?;
        self.runner.output("outcome", "aborted")?;
        if let Some(number) = pr {
            self.comment(number, &Marker::new("apply", &app), &markdown, &[], false)?;
        }
        Ok(exit::OK)
    }

    /// Reports a push's apply on its commit, where the people who merged see it.
    fn commit_comment(&self, app: &str, sha: &str, markdown: &str) -> anyhow::Result<()> {
        let Some(github) = self.github else { return Ok(()) };
        let masker = crate::mask::Masker::global();
        let parts: Vec<String> =
            comment::comment(&Marker::new("apply", app), markdown, self.runner.run_url.as_deref(), &[]).iter().map(|p| masker.mask(p)).collect();
        match github.commit_comment(sha, &parts) {
            Ok(url) => self.runner.output("comment-url", &url),
            Err(e) if e.is_forbidden() => {
                self.runner.warning("could not comment on the commit (the token needs `contents: write`); the results are in the job summary");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Answers a comment with a new comment (a refusal, a reason).
    /// `text` holds what others wrote (a comment's words, a step's name
    /// from the pull request's ferry.toml): it is posted as plain text, no
    /// HTML or table syntax of its own.
    fn answer(&self, pr: u64, text: &str) {
        let Some(github) = self.github else { return };
        let marker = Marker::new("answer", "ferry");
        let text = ferry_render::markdown_text(text);
        let parts: Vec<String> =
            comment::comment(&marker, &text, self.runner.run_url.as_deref(), &[]).iter().map(|p| crate::mask::Masker::global().mask(p)).collect();
        let posted = github.identity().and_then(|me| github.post_comment(pr, &marker.prefix(), &parts, &me, CommentMode::New));
        if let Err(e) = posted {
            self.runner.warning(&format!("could not answer on #{pr}: {e}"));
        }
    }

    /// Posts (or updates) ferry's comment; a read-only token (a fork's PR)
    /// is not a failure: the job summary has everything.
    fn comment(&self, pr: u64, marker: &Marker, markdown: &str, next: &[String], fork: bool) -> anyhow::Result<()> {
        let Some(github) = self.github else {
            self.runner.warning("no GITHUB_TOKEN: the results are in the job summary only");
            return Ok(());
        };
        let masker = crate::mask::Masker::global();
        let parts: Vec<String> = comment::comment(marker, markdown, self.runner.run_url.as_deref(), next).iter().map(|p| masker.mask(p)).collect();
        let mode = match self.args.comment_mode {
            CommentModeArg::Sticky => CommentMode::Sticky,
            CommentModeArg::New => CommentMode::New,
        };
        let me = github.identity()?;
        match github.post_comment(pr, &marker.prefix(), &parts, &me, mode) {
            Ok(posted) => {
                tracing::info!("comment {}: {} created, {} updated, {} deleted", posted.url, posted.created, posted.updated, posted.deleted);
                self.runner.output("comment-url", &posted.url)
            }
            Err(e) if e.is_forbidden() => {
                let why = if fork {
                    "this pull request comes from a fork, whose token is read-only"
                } else {
                    "the token may not write comments (add `pull-requests: write` to the workflow's permissions)"
                };
                self.runner.warning(&format!("could not comment on #{pr}: {why}; the results are in the job summary"));
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether the host planned without credentials (the plan changes where
/// they go).
/// Why an apply on pull request `number` has nothing reviewed to apply.
fn no_plan_on(number: u64, app: &str) -> anyhow::Error {
    anyhow::anyhow!("there is no ferry plan for {app} on #{number}: comment `/ferry plan` first")
}

/// Why a push applies nothing: no plan was reviewed for it.
fn unreviewed_push(sha: &str, app: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "no pull request merged as {} has a ferry plan for {app}, so nobody reviewed what this push would apply: merge changes \
         through pull requests that ferry plans, or set the action's `allow-unreviewed: true` to apply pushes unreviewed",
        short(sha)
    )
}

fn withheld(plan: &ferry_model::Plan) -> bool {
    plan.host_findings.iter().any(|f| f.code == "credentials-withheld")
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Applied => "applied",
        Outcome::AlreadyApplied => "already-applied",
        Outcome::WaitingApproval { .. } => "waiting-approval",
        Outcome::RolledBack { .. } => "rolled-back",
        Outcome::Failed { .. } => "failed",
    }
}
