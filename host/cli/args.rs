//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "ferry",
    version,
    about = "Plan, review and apply deploys and migrations of Fly.io apps from CI",
    long_about = "ferry reads your app's fly.toml (and Dockerfile, Procfile…), runs a workflow of \
sandboxed WebAssembly steps that each propose typed actions, and prints the plan for review. \
Steps never change anything themselves: only ferry does, after the plan is approved.",
    after_help = "Examples:
  ferry plan                              plan the app in the current directory
  ferry plan --dir examples/hello-fly     plan another checkout
  ferry plan --format md > plan.md        Markdown for a pull-request comment
  ferry plan --format json | jq .plan.app the inventory, for scripts
  ferry inventory -c fly.production.toml  what the app is made of, and what to watch for
  ferry steps                             the steps a workflow runs and what each may read

Exit codes: 0 success, 1 failure (bad config, failed step), 2 usage error.
Logs go to stderr (-v for more, -q for less, FERRY_LOG=debug to filter); results go to stdout."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// More log output on stderr (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Where compiled step components are cached [default: $XDG_CACHE_HOME/ferry or ~/.cache/ferry].
    #[arg(long, global = true, env = "FERRY_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile step components on every run instead of caching them.
    #[arg(long, global = true)]
    pub no_cache: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the workflow's steps and print the plan they propose.
    #[command(after_help = "The workflow is ferry.toml at the checkout root; without one, ferry runs \
the built-in parse-config step. The plan hash printed at the end identifies exactly what was reviewed.")]
    Plan(PlanArgs),
    /// Print the app's inventory: processes, services, ports, checks, mounts, env, secrets (names), findings.
    #[command(after_help = "Reads fly.toml (or fly.json / fly.yaml, or a Heroku Procfile and app.json) and its \
Dockerfile, the way flyctl reads them, and reports what a migration needs to know. With FLY_API_TOKEN set it \
also asks Fly for the app's regions, volumes and secret names. Exits 1 when the config has errors flyctl would refuse.")]
    Inventory(InventoryArgs),
    /// List the workflow's steps: version, origin, sha256 and the imports each is granted.
    Steps(StepsArgs),
}

#[derive(Debug, Args)]
pub struct Checkout {
    /// The app's checkout (where fly.toml is).
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,
    /// The workflow file [default: DIR/ferry.toml if present, else the built-in workflow].
    #[arg(long, value_name = "FILE")]
    pub workflow: Option<PathBuf>,
    /// The Fly config file, relative to DIR [default: fly.toml, fly.json or fly.yaml].
    #[arg(short = 'c', long, value_name = "FILE")]
    pub config: Option<String>,
}

#[derive(Debug, Args)]
pub struct InventoryArgs {
    #[command(flatten)]
    pub checkout: Checkout,
    /// Output format: md (a PR comment), json (for scripts) or text (a terminal).
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub checkout: Checkout,
    /// The phase to plan (deploy, or a migration phase such as prepare).
    #[arg(long, default_value = "deploy")]
    pub phase: String,
    /// Output format: md (a PR comment), json (for scripts) or text (a terminal).
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
pub struct StepsArgs {
    #[command(flatten)]
    pub checkout: Checkout,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    #[value(alias = "markdown")]
    Md,
    Json,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Json,
    Text,
}
