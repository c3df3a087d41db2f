//! `ferry ci`: ferry as a GitHub Actions step.

use std::process::ExitCode;

use ferry_engine::apply::{self, Outcome};
use ferry_github::{CommentMode, GitHub};
use ferry_render::Format;
use ferry_render::comment::{self, Marker};
use serde_json::Value;

use crate::args::{ApplyArgs, CiArgs, CommentModeArg, Global, PlanFormat};
use crate::context::state_store;
use crate::exit;
use crate::runner::{Runner, github_from_env};

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
    let github = github_from_env();
    let request = request(&runner, github.as_ref().ok())?;
    tracing::info!("{}: {request:?}", runner.event_name);
    let phase = args.phase.clone().or_else(|| input(&runner, "phase")).unwrap_or_else(|| "deploy".into());
    let ci = Ci { global, args, runner: &runner, github: github.ok(), phase };
    match request {
        Request::Ignore(why) => {
            tracing::info!("nothing to do: {why}");
            Ok(exit::OK)
        }
        Request::Plan { pr } => ci.plan(pr),
        Request::Apply { pr, plan_hash, approve, run } => ci.apply(pr, plan_hash, approve, run),
        Request::Abort { pr, run } => ci.abort(pr, run),
    }
}

/// A `workflow_dispatch` input (all inputs arrive as strings).
fn input(runner: &Runner, name: &str) -> Option<String> {
    runner.event["inputs"][name].as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

fn request(runner: &Runner, github: Option<&GitHub>) -> anyhow::Result<Request> {
    let event = &runner.event;
    Ok(match runner.event_name.as_str() {
        "pull_request" | "pull_request_target" => {
            if event["action"] == "closed" {
                return Ok(Request::Ignore("the pull request was closed".into()));
            }
            Request::Plan { pr: event["number"].as_u64() }
        }
        "issue_comment" => return comment_request(event, github),
        "workflow_dispatch" => {
            let command = input(runner, "command").unwrap_or_else(|| "plan".into());
            let run = input(runner, "run").or_else(|| input(runner, "migration"));
            match command.as_str() {
                "plan" => Request::Plan { pr: None },
                "apply" => Request::Apply {
                    pr: None,
                    plan_hash: input(runner, "plan-hash"),
                    approve: input(runner, "approve").is_some_and(|v| v == "true"),
                    run,
                },
                "abort" => Request::Abort { pr: None, run },
                other => anyhow::bail!("workflow_dispatch input `command` is `{other}`; expected plan, apply or abort"),
            }
        }
        "push" => Request::Apply { pr: None, plan_hash: None, approve: false, run: None },
        other => Request::Ignore(format!("ferry does nothing on `{other}` events")),
    })
}

/// `/ferry plan|apply|approve|abort` on a pull request, from a user who may write.
fn comment_request(event: &Value, github: Option<&GitHub>) -> anyhow::Result<Request> {
    if event["action"] != "created" {
        return Ok(Request::Ignore("only new comments are commands".into()));
    }
    if event["issue"]["pull_request"].is_null() {
        return Ok(Request::Ignore("the comment is on an issue, not a pull request".into()));
    }
    let body = event["comment"]["body"].as_str().unwrap_or_default();
    let Some(command) = body.lines().next().and_then(|l| l.trim().strip_prefix("/ferry")).map(str::trim) else {
        return Ok(Request::Ignore("the comment is not a /ferry command".into()));
    };
    if event["comment"]["user"]["type"] == "Bot" {
        return Ok(Request::Ignore("comments by bots are not commands".into()));
    }
    let user = event["comment"]["user"]["login"].as_str().unwrap_or_default();
    let pr = event["issue"]["number"].as_u64();
    let github = github.ok_or_else(|| anyhow::anyhow!("a /ferry command needs GITHUB_TOKEN to check who wrote it"))?;
    let allowed = match github.can_write(user) {
        Ok(allowed) => allowed,
        Err(e) if e.is_forbidden() || e.status() == Some(404) => false,
        Err(e) => return Err(e.into()),
    };
    if !allowed {
        return Ok(Request::Ignore(format!("{user} may not run /ferry commands: that needs write permission on the repository")));
    }
    if let Some(id) = event["comment"]["id"].as_u64() {
        let _ = github.react(id, "eyes");
    }
    Ok(match command.split_whitespace().next().unwrap_or("") {
        "plan" => Request::Plan { pr },
        "apply" => Request::Apply { pr, plan_hash: None, approve: false, run: None },
        "approve" => Request::Apply { pr, plan_hash: None, approve: true, run: None },
        "abort" => Request::Abort { pr, run: None },
        other => Request::Ignore(format!("unknown /ferry command `{other}` (plan, apply, approve, abort)")),
    })
}

struct Ci<'a> {
    global: &'a Global,
    args: &'a CiArgs,
    runner: &'a Runner,
    github: Option<GitHub>,
    phase: String,
}

impl Ci<'_> {
    fn store(&self) -> anyhow::Result<Box<dyn ferry_state::StateStore>> {
        state_store(&self.args.state, &self.args.checkout.dir)
    }

    /// The pull request, and whether it comes from a fork.
    fn pull(&self, pr: Option<u64>) -> anyhow::Result<Option<(ferry_github::Pull, bool)>> {
        let (Some(n), Some(github)) = (pr, &self.github) else { return Ok(None) };
        let pull = github.pull(n)?;
        let fork = pull.head_repo != self.runner.repository;
        Ok(Some((pull, fork)))
    }

    fn plan(&self, pr: Option<u64>) -> anyhow::Result<ExitCode> {
        let plan = super::plan::compute(self.global, &self.args.checkout, &self.phase)?;
        let app = apply::app_key(&plan);
        let hash = plan.hash();
        let pull = self.pull(pr)?;
        let fork = pull.as_ref().is_some_and(|(_, fork)| *fork);
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
        if let Some((pull, fork)) = pull {
            let next = if fork {
                vec!["This pull request comes from a fork: ferry plans it, but never applies it.".to_string()]
            } else if plan.has_changes() {
                vec![format!("To apply this plan ({}), comment `/ferry apply`.", &hash[..12])]
            } else {
                Vec::new()
            };
            let marker = Marker::new("plan", &app).with("hash", &hash).with("sha", &pull.head_sha);
            self.comment(pull.number, &marker, &markdown, &next, fork)?;
        }
        crate::context::fail_on_config_errors(plan.app.as_ref())?;
        Ok(exit::OK)
    }

    fn apply(&self, pr: Option<u64>, plan_hash: Option<String>, approve: bool, run: Option<String>) -> anyhow::Result<ExitCode> {
        let pull = self.pull(pr)?;
        let mut plan_hash = plan_hash;
        if let Some((pull, fork)) = &pull {
            if *fork {
                let md = "**ferry does not apply pull requests from forks.** Merge it, or apply from a branch of this repository.";
                self.runner.summary(md)?;
                self.comment(pull.number, &Marker::new("apply", "app"), md, &[], false)?;
                anyhow::bail!("refusing to apply a pull request from a fork ({})", pull.head_repo);
            }
            plan_hash = Some(self.reviewed_hash(pull)?);
        }
        let store = self.store()?;
        let args = ApplyArgs {
            checkout: self.args.checkout.clone(),
            state: self.args.state.clone(),
            phase: self.phase.clone(),
            plan_hash,
            no_rollback: false,
            approve,
            run,
            format: PlanFormat::Md,
        };
        let report = super::apply::apply(self.global, &args, &*store)?;
        let mut markdown = ferry_render::apply_result(&report.app, &report.run, &report.outcome, &report.phase, Format::Markdown);
        if let Some(deploy) = super::deploy::DeployResult::of(&report) {
            markdown.push_str(&format!("\n{}\n", ferry_render::markdown_text(&deploy.sentence(&report.outcome))));
            deploy.set_outputs(self.runner)?;
        }
        self.runner.summary(&markdown)?;
        self.runner.output("outcome", outcome_name(&report.outcome))?;
        self.runner.output("plan-hash", &report.phase.plan_hash)?;
        if pull.is_none() && self.runner.event_name == "push" {
            self.commit_comment(&report.app, &markdown)?;
        }
        if let Some((pull, _)) = &pull {
            let next = match &report.outcome {
                Outcome::WaitingApproval { .. } => vec!["To continue past the approval gate, comment `/ferry approve`.".to_string()],
                Outcome::RolledBack { .. } | Outcome::Failed { .. } => {
                    vec!["Fix the cause and comment `/ferry apply` to resume, or `/ferry abort` to undo the run.".to_string()]
                }
                _ => Vec::new(),
            };
            self.comment(pull.number, &Marker::new("apply", &report.app), &markdown, &next, false)?;
        }
        Ok(super::apply::exit_code(&report.outcome))
    }

    /// The plan hash of ferry's plan comment on the PR, which must be for
    /// the PR's current head: a plan of older commits is not applied.
    fn reviewed_hash(&self, pull: &ferry_github::Pull) -> anyhow::Result<String> {
        let github = self.github.as_ref().ok_or_else(|| anyhow::anyhow!("applying from a pull request needs GITHUB_TOKEN"))?;
        let plan = super::plan::compute(self.global, &self.args.checkout, &self.phase)?;
        let app = apply::app_key(&plan);
        let me = github.identity()?;
        let body = github
            .find_own_comment(pull.number, &Marker::new("plan", &app).prefix(), &me)?
            .ok_or_else(|| anyhow::anyhow!("there is no ferry plan for {app} on #{}: comment `/ferry plan` first", pull.number))?;
        let sha = Marker::field(&body, "sha").unwrap_or_default();
        if sha != pull.head_sha {
            anyhow::bail!(
                "#{} has new commits since its plan (planned {}, head {}): comment `/ferry plan` and review the new plan",
                pull.number,
                &sha[..sha.len().min(12)],
                &pull.head_sha[..pull.head_sha.len().min(12)]
            );
        }
        Marker::field(&body, "hash").ok_or_else(|| anyhow::anyhow!("ferry's plan comment on #{} has no plan hash", pull.number))
    }

    fn abort(&self, pr: Option<u64>, run: Option<String>) -> anyhow::Result<ExitCode> {
        let store = self.store()?;
        let plan = super::plan::compute(self.global, &self.args.checkout, &self.phase)?;
        let app = apply::app_key(&plan);
        let journal = apply::abort(&*store, &crate::context::providers(&self.args.checkout)?, &app, run.as_deref(), &crate::context::owner(), crate::context::LOCK_TTL_MS)?;
        let markdown = ferry_render::journal(&journal, Format::Markdown);
        self.runner.summary(&markdown)?;
        self.runner.output("outcome", "aborted")?;
        if let Some((pull, _)) = self.pull(pr)? {
            self.comment(pull.number, &Marker::new("apply", &app), &markdown, &[], false)?;
        }
        Ok(exit::OK)
    }

    /// Reports a push's apply on its commit, where the people who merged see it.
    fn commit_comment(&self, app: &str, markdown: &str) -> anyhow::Result<()> {
        let (Some(github), Some(sha)) = (&self.github, self.runner.event["after"].as_str().or(self.runner.sha.as_deref())) else {
            return Ok(());
        };
        let masker = crate::mask::Masker::global();
        let parts: Vec<String> = comment::comment(&Marker::new("apply", app), markdown, self.runner.run_url.as_deref(), &[])
            .iter()
            .map(|p| masker.mask(p))
            .collect();
        match github.commit_comment(sha, &parts) {
            Ok(url) => self.runner.output("comment-url", &url),
            Err(e) if e.is_forbidden() => {
                self.runner.warning("could not comment on the commit (the token needs `contents: write`); the results are in the job summary");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Posts (or updates) ferry's comment; a read-only token (a fork's PR)
    /// is not a failure: the job summary has everything.
    fn comment(&self, pr: u64, marker: &Marker, markdown: &str, next: &[String], fork: bool) -> anyhow::Result<()> {
        let Some(github) = &self.github else {
            self.runner.warning("no GITHUB_TOKEN: the results are in the job summary only");
            return Ok(());
        };
        let masker = crate::mask::Masker::global();
        let parts: Vec<String> =
            comment::comment(marker, markdown, self.runner.run_url.as_deref(), next).iter().map(|p| masker.mask(p)).collect();
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
                let why = if fork { "this pull request comes from a fork, whose token is read-only" } else { "the token may not write comments (add `pull-requests: write` to the workflow's permissions)" };
                self.runner.warning(&format!("could not comment on #{pr}: {why}; the results are in the job summary"));
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
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
