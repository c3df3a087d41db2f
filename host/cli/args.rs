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
  ferry apply --plan-hash 3f96cc6067a6    apply exactly the reviewed plan, journaled
  ferry status                            where the latest run stands
  ferry abort                             undo everything the latest run did
  ferry deploy --image registry.fly.io/app:v2   deploy to Fly Machines, with a rollback
  ferry steps                             the steps a workflow runs and what each may read
  ferry migrate create --to my-app-v2     move the app to a new app, in reviewed phases

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
    /// Compile step components on every run: neither the compile cache nor the steps
    /// precompiled into a release binary. (`deploy --no-cache` is `fly deploy`'s: no build cache.)
    #[arg(long, global = true)]
    pub no_step_cache: bool,
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
    /// Apply the plan: re-plan, check it against the reviewed hash, run every action, journaling each.
    #[command(after_help = "The plan is computed again and must match --plan-hash (the hash printed by `ferry plan` \
and posted in the PR): anything else is refused, with what changed. Each action is journaled before and after it runs; \
when one fails, the phase's completed actions are undone in reverse (unless --no-rollback). Running `ferry apply` again \
after a crash or a failure resumes where the journal stands; no action's effect happens twice. Exit codes: 0 applied \
(or waiting for an approval), 1 failed or refused.")]
    Apply(ApplyArgs),
    /// Undo everything a run did, newest action first, after showing what each undo does.
    #[command(after_help = "Shows each undo first, newest first, rated by what the undo does (deleting a volume a \
deploy created is destructive), with a hash. Then it undoes them if --plan-hash names that hash, if --yes is given, or \
if you confirm on a terminal; otherwise it changes nothing and prints the command that would. Without --run it aborts \
the newest run that has something left to undo, and says which.")]
    Abort(AbortArgs),
    /// Show where a run stands: each phase and each action's state.
    Status(StatusArgs),
    /// Remove an app's lock (only when the run holding it is gone).
    Unlock(UnlockArgs),
    /// Run as a GitHub Actions step: plan on pull requests, apply or abort on `/ferry` comments
    /// and dispatches, deploy on push; results in the PR comment, job summary and step outputs.
    #[command(after_help = "Reads GITHUB_EVENT_NAME and GITHUB_EVENT_PATH. pull_request: plan, posted as a sticky \
comment. issue_comment: `/ferry plan`, `/ferry apply`, `/ferry approve` (apply past approval gates) or `/ferry abort`, \
from users with write permission only; apply runs the plan hash in ferry's plan comment and refuses if the PR has new \
commits since. workflow_dispatch: inputs command, phase, plan-hash, run. push: apply the fresh plan (deploy on merge). \
Fork pull requests get a plan in the job summary, never an apply.")]
    Ci(CiArgs),
    /// List the workflow's steps: version, origin, sha256 and the imports each is granted.
    Steps(StepsArgs),
    /// Deploy a release to Fly Machines, in place of `fly deploy`: plan, then apply with a rollback.
    #[command(after_help = "Runs parse-config and the deploy step (plus any steps of DIR/ferry.toml), prints the \
plan, then applies it: the release command in a temporary machine first (a non-zero exit stops the deploy before any \
machine changes, with its last log lines), then machines created, updated and destroyed per process group with the \
strategy's batches, each machine under a lease and health-gated on its checks. A machine that crashes fails the deploy \
at once. When anything fails, every machine already changed gets its previous config and image back (any strategy), \
unless --no-rollback. Re-running after a killed job resumes from the journal; nothing is created twice.

Without --image (or [build].image in fly.toml, or an image param in ferry.toml), ferry builds the checkout's \
Dockerfile as `fly deploy` does (BuildKit where Docker has it, else buildah, else Docker's classic builder; the plan \
says which and why), pushes it to registry.fly.io/<app>:deployment-<ULID> with FLY_API_TOKEN (FLY_REGISTRY_HOST \
names another registry), and deploys it pinned by digest: the plan's hash covers the image's bytes, and \
--plan-only prints an apply command that deploys that digest without building again.

Examples:
  ferry deploy                                 build the Dockerfile, push it, deploy it
  ferry deploy --build-secret NPM_TOKEN        with FERRY_SECRET_NPM_TOKEN mounted into RUN --mount=type=secret,id=NPM_TOKEN
  ferry deploy --build-only --push             build and push only; prints the pinned reference
  ferry deploy --image registry.fly.io/my-app:$GITHUB_SHA
  ferry deploy --strategy bluegreen --wait-timeout 10m
  ferry deploy --process-groups web --max-unavailable 2
  ferry deploy --regions ams,fra -e LOG_LEVEL=debug --file-secret /etc/tls/key.pem=TLS_KEY
  ferry deploy --wait-timeout none --release-command-timeout none --deploy-retries 2
  ferry deploy --plan-only --format md > plan.md
  ferry deploy --target vm --provision        once per host: Docker, nginx, env, network, Postgres
  ferry deploy --target vm                    build on the host, start beside the serving release, switch nginx
  ferry deploy --target vm --image app:$SHA --load   ship CI's image without a registry
  ferry deploy --target vm --rollback         back to the previous release (its container, or its image)
  ferry deploy --target vm --tls-certificate /etc/letsencrypt/live/app/fullchain.pem --tls-key …/privkey.pem

--target vm deploys to [targets.vm.<name>] of ferry.toml over SSH (key and pinned host keys from the environment variables it names) under a host lock that a killed run leaves stale, not stuck. Secrets go into the host's env file by name from FERRY_SECRET_<NAME>. Otherwise, needs FLY_API_TOKEN (a deploy token for the app is enough; FLY_FLAPS_BASE_URL points it elsewhere). With --format json, \
or as step outputs inside GitHub Actions: the release id and version, the image, and the app's machine ids.
Exit codes: 0 deployed (or nothing to deploy), 1 failed (rolled back unless --no-rollback), 2 usage error.")]
    Deploy(DeployArgs),
    /// Move the app to a new Fly app (another name, org or region) in reviewed, reversible phases.
    #[command(after_help = "A migration is create, then prepare, data and finalize, each planned for review and then \
applied with --apply; `abort` undoes every applied phase in reverse and restarts the source as it was; `decommission` \
deletes the source once you are sure. Every command prints the migration id and the next command.

  create        preflight checks (source, token scope, name, region, images, volumes, secrets, certificates, services);
                records the migration and prints its id
  prepare       the new app beside the source: fly.toml's app and primary_region edited in place, secrets by name,
                addresses, certificates, fresh volumes (nothing on the source changes)
  data          stops the source and carries each mounted volume over by snapshot
  finalize      the new app's first deploy, health-gated (two machines per group with services, restart `always`
                for groups without), then DNS moved (with --dns-zone) while the source stays, stopped
  decommission  deletes the source app, after an approval
  abort         undoes every applied phase, newest first
  status        the migration and each phase's actions

Examples:
  ferry migrate create --to shop-v2 --org acme --region ams --dns-zone example.com
  ferry migrate prepare --id mig-3f9a2c1b                  # the plan, for review
  ferry migrate prepare --id mig-3f9a2c1b --apply --plan-hash 5e0c1d2a9b7f
  ferry migrate abort --id mig-3f9a2c1b
  ferry migrate create --to vm:prod --dns-zone example.com  # off Fly, to [targets.vm.prod] of ferry.toml

Off Fly (--to vm:<name>): create checks the host (SSH with its pinned key, disk, ports 80/443), the zone and every \
secret; prepare provisions the host, deploys the app there beside Fly with a certificate from [targets.vm.<name>.acme] \
and rewrites the workflows' `fly deploy`; data copies the volumes and Fly Postgres from inside Fly (a temporary machine \
in the app pushes to the host over SSH with a one-time key) around the freeze; finalize moves DNS to the host after a \
TLS check against it; decommission (with --approve) archives the volumes on the host and deletes the Fly app (and \
--postgres-app, when create named it); abort, until then, makes Fly serve again and removes what ferry put on the host.

Secret values come from FERRY_SECRET_<NAME> in ferry's environment (in GitHub Actions, `env:` from `secrets`), never \
from Fly; they appear in no plan, journal or log. Needs FLY_API_TOKEN with access to the organization (an org token: a \
deploy token cannot create apps).")]
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub command: MigrateCommand,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Run the preflight checks and record a new migration.
    Create(MigrateCreateArgs),
    /// Plan (or with --apply, apply) the new app beside the source.
    Prepare(MigratePhaseArgs),
    /// Plan (or apply) stopping the source and copying its volumes.
    Data(MigratePhaseArgs),
    /// Plan (or apply) the new app's first deploy and the traffic switch.
    Finalize(MigratePhaseArgs),
    /// Plan (or apply) deleting the source app.
    Decommission(MigratePhaseArgs),
    /// Undo every applied phase, newest first; the source restarts as it was.
    Abort(MigrateIdArgs),
    /// Show the migration and each applied phase.
    Status(MigrateIdArgs),
}

#[derive(Debug, Args)]
pub struct MigrateCreateArgs {
    #[command(flatten)]
    pub checkout: Checkout,
    #[command(flatten)]
    pub state: State,
    /// The new app's name (unique across Fly.io), or `vm:<name>` to move off Fly to [targets.vm.<name>] of ferry.toml.
    #[arg(long, value_name = "APP")]
    pub to: String,
    /// The source app [default: `app` in fly.toml].
    #[arg(long, value_name = "APP")]
    pub from: Option<String>,
    /// The organization the new app is created in.
    #[arg(long, default_value = "personal", value_name = "SLUG")]
    pub org: String,
    /// The new app's primary region [default: fly.toml's primary_region, else the source machines' region].
    #[arg(long)]
    pub region: Option<String>,
    /// Regions to spread machines of groups with services across (comma-separated).
    #[arg(long, value_name = "REGIONS")]
    pub regions: Option<String>,
    /// The image the new app runs [default: the one the source runs].
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// The zone (ferry.toml's [dns.zones]) whose records finalize switches to the new app.
    #[arg(long, value_name = "ZONE")]
    pub dns_zone: Option<String>,
    /// Moving to a server (`--to vm:<target>`): the app's Fly Postgres app,
    /// which decommission deletes with the app (only if nothing else uses it).
    /// Without it, decommission leaves it for you to delete.
    #[arg(long, value_name = "APP")]
    pub postgres_app: Option<String>,
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
pub struct MigratePhaseArgs {
    #[command(flatten)]
    pub checkout: Checkout,
    #[command(flatten)]
    pub state: State,
    /// The migration (printed by `ferry migrate create`).
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// Apply the phase (after its plan was reviewed) instead of only planning it.
    #[arg(long)]
    pub apply: bool,
    /// With --apply: apply only if the plan still has this hash (the reviewed one).
    #[arg(long, value_name = "HASH", requires = "apply", value_parser = plan_hash)]
    pub plan_hash: Option<String>,
    /// With --apply: pass the plan's approval gates (decommission has one).
    #[arg(long, requires = "apply")]
    pub approve: bool,
    /// With --apply: leave a failed phase as it is instead of undoing its completed actions.
    #[arg(long, requires = "apply")]
    pub no_rollback: bool,
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
pub struct MigrateIdArgs {
    #[command(flatten)]
    pub checkout: Checkout,
    #[command(flatten)]
    pub state: State,
    /// The migration.
    #[arg(long, value_name = "ID")]
    pub id: String,
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub checkout: Checkout,
    #[command(flatten)]
    pub state: State,
    /// The Fly app [default: `app` in fly.toml].
    #[arg(short, long, env = "FLY_APP")]
    pub app: Option<String>,
    /// The image to deploy, built and pushed by CI [default: [build].image].
    #[arg(short, long, value_name = "REF")]
    pub image: Option<String>,
    /// rolling, immediate, canary or bluegreen [default: [deploy].strategy, else rolling].
    #[arg(long, value_parser = ["rolling", "immediate", "canary", "bluegreen"])]
    pub strategy: Option<String>,
    /// Machines of a group updated at once: a count (>= 1) or a fraction (< 1) [default: 0.33].
    #[arg(long, value_name = "N")]
    pub max_unavailable: Option<String>,
    /// How long each machine may take to start and pass its checks: seconds, a duration (90s, 5m) or `none`
    /// (no limit of ferry's own: it waits until the machine is healthy, fails at once if it crashes, and
    /// leaves a wait that never ends to the CI job's timeout) [default: [deploy].wait_timeout, else 5m].
    #[arg(long, value_name = "DURATION")]
    pub wait_timeout: Option<String>,
    /// How long the release command may run: seconds, a duration or `none` (until it exits)
    /// [default: [deploy].release_command_timeout, else 5m].
    #[arg(long, value_name = "DURATION")]
    pub release_command_timeout: Option<String>,
    /// Do not wait for machines to pass their health checks.
    #[arg(long)]
    pub detach: bool,
    /// Do not run [deploy].release_command.
    #[arg(long)]
    pub skip_release_command: bool,
    /// Only these process groups (comma-separated) change.
    #[arg(long, value_name = "GROUPS")]
    pub process_groups: Option<String>,
    /// Create two machines for a new process group with services (one with a volume, one without services).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub ha: bool,
    /// bluegreen: how long traffic drains before blues are cordoned, and again before they stop [default: 10s].
    #[arg(long, value_name = "DURATION")]
    pub bluegreen_drain: Option<String>,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub plan_only: bool,
    /// Apply only if the plan still has this hash (the reviewed one: 12 or more hex digits).
    #[arg(long, value_name = "HASH", value_parser = plan_hash)]
    pub plan_hash: Option<String>,
    /// Leave a failed deploy as it is instead of restoring the machines it changed.
    #[arg(long)]
    pub no_rollback: bool,
    /// Output format: text, md or json (the result with release, image and machine ids).
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Where to deploy: Fly Machines, or a Docker host over SSH ([targets.vm.<name>] in ferry.toml).
    #[arg(long, value_enum, default_value_t = DeployTarget::Fly)]
    pub target: DeployTarget,
    /// vm: which [targets.vm.<name>] [default: the only one].
    #[arg(long, value_name = "NAME")]
    pub vm: Option<String>,
    /// vm: prepare the host instead of deploying (Docker and nginx if missing, directories, env file, network; a Postgres container on 127.0.0.1 when DATABASE_URL is a Fly secret without FERRY_SECRET_DATABASE_URL).
    #[arg(long)]
    pub provision: bool,
    /// vm: start the release before the serving one again and switch nginx back to it.
    #[arg(long)]
    pub rollback: bool,
    /// vm: ship --image from this machine's Docker (docker save | ssh docker load) instead of pulling it on the host.
    #[arg(long, requires = "image")]
    pub load: bool,
    /// vm: where the image is built when nothing names one: `here` (this machine's Docker, then shipped
    /// unless the host has it) or `host` (the context streamed to the host's Docker) [default: here when a
    /// Docker engine answers on this machine, else host].
    #[arg(long, value_enum, value_name = "WHERE", conflicts_with = "image")]
    pub build_on: Option<BuildOn>,
    /// vm: server names of the nginx site (comma-separated) [default: any].
    #[arg(long, value_name = "NAMES")]
    pub hostnames: Option<String>,
    /// vm: also serve 443 with this certificate (full chain, a path on the host, e.g. from certbot).
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub tls_certificate: Option<String>,
    /// vm: the certificate's private key (a path on the host).
    #[arg(long, value_name = "PATH", requires = "tls_certificate")]
    pub tls_key: Option<String>,
    #[command(flatten)]
    pub build: BuildFlags,
    /// Last: its help heading applies to every flag after it.
    #[command(flatten)]
    pub machines: MachineFlags,
}

/// `fly deploy`'s build flags: used when nothing names an image (`--image`,
/// the deploy step's `image`, fly.toml `[build].image`), and then ferry
/// builds the checkout and pushes it to the Fly registry before it plans.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Build (as `fly deploy`; when no image is given)")]
pub struct BuildFlags {
    /// Build and stop: nothing is deployed (the image stays on this machine unless --push).
    #[arg(long)]
    pub build_only: bool,
    /// With --build-only: push the image too, and print its digest-pinned reference.
    #[arg(long, requires = "build_only")]
    pub push: bool,
    /// Build with this machine's engine. ferry always does (it has no remote builder); accepted so
    /// `fly deploy` command lines work unchanged.
    #[arg(long)]
    pub local_only: bool,
    /// The Dockerfile, relative to where ferry runs [default: [build].dockerfile, relative to fly.toml, else Dockerfile].
    #[arg(long, value_name = "PATH")]
    pub dockerfile: Option<PathBuf>,
    /// A build argument NAME=VALUE over [build.args] (repeatable). Visible in the image's history:
    /// use --build-secret for credentials.
    #[arg(long, value_name = "NAME=VALUE", value_parser = env_pair)]
    pub build_arg: Vec<String>,
    /// A build secret by NAME (repeatable): its value comes from FERRY_SECRET_<NAME>, and is mounted
    /// only into `RUN --mount=type=secret,id=<NAME>`, never into a layer or the history.
    #[arg(long, value_name = "NAME", value_parser = secret_name)]
    pub build_secret: Vec<String>,
    /// The Dockerfile stage to build [default: [build].build-target].
    #[arg(long, value_name = "STAGE")]
    pub build_target: Option<String>,
    /// The build context's exclusions, relative to where ferry runs [default: [build].ignorefile, relative to
    /// fly.toml, else the context's own .dockerignore].
    #[arg(long, value_name = "PATH")]
    pub ignorefile: Option<PathBuf>,
    /// Build every layer again, using no build cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Where built layers are kept for the next build: `registry` reads and writes them in the app's repository
    /// with the push's login (a CI runner starts every job with an empty engine), `local` keeps them in this
    /// machine's engine only [default: registry inside GitHub Actions when pushing, else local].
    #[arg(long, value_enum, value_name = "WHERE")]
    pub layer_cache: Option<LayerCacheAt>,
    /// The tag to push as, instead of deployment-<ULID>.
    #[arg(long, value_name = "TAG")]
    pub image_label: Option<String>,
    /// An image label KEY=VALUE (repeatable). Inside GitHub Actions ferry adds GH_SHA, GH_ACTION_NAME,
    /// GH_REPO and GH_EVENT_NAME, as flyctl does.
    #[arg(long, value_name = "KEY=VALUE", value_parser = env_pair)]
    pub label: Vec<String>,
}

impl BuildFlags {
    /// The flags given that only a build reads, by name.
    pub fn given(&self) -> Vec<&'static str> {
        let set = [
            ("--build-only", self.build_only),
            ("--dockerfile", self.dockerfile.is_some()),
            ("--build-arg", !self.build_arg.is_empty()),
            ("--build-secret", !self.build_secret.is_empty()),
            ("--build-target", self.build_target.is_some()),
            ("--ignorefile", self.ignorefile.is_some()),
            ("--no-cache", self.no_cache),
            ("--layer-cache", self.layer_cache.is_some()),
            ("--image-label", self.image_label.is_some()),
            ("--label", !self.label.is_empty()),
        ];
        set.into_iter().filter(|(_, given)| *given).map(|(flag, _)| flag).collect()
    }
}

/// `--build-on`: where `ferry deploy --target vm` builds the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BuildOn {
    /// This machine's Docker engine; the image is shipped with docker save | ssh docker load.
    Here,
    /// The host's Docker engine, from the checkout streamed as a tar.
    Host,
}

/// `--layer-cache`: where a build's layers are kept for the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LayerCacheAt {
    /// The app's repository in the registry the image is pushed to.
    Registry,
    /// This machine's engine.
    Local,
}

/// `--build-secret NAME`: a name, not flyctl's NAME=VALUE, so no value is
/// ever on a command line (where process listings and CI logs show it).
fn secret_name(text: &str) -> Result<String, String> {
    match text.split_once('=') {
        Some((name, _)) => Err(format!(
            "takes the secret's name only: put the value in FERRY_SECRET_{name} (a CI secret) and pass --build-secret {name}; \
             a value on the command line shows in process listings and logs"
        )),
        None if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => Ok(text.to_string()),
        None => Err("must be a name of letters, digits and _ (its value comes from FERRY_SECRET_<NAME>)".into()),
    }
}

/// `fly deploy`'s flags for which machines change and what they get, taken
/// as flyctl takes them (each is the deploy step's parameter of the same
/// name). Fly Machines only.
#[derive(Debug, Args)]
#[command(next_help_heading = "Machines (as `fly deploy`; Fly only)")]
pub struct MachineFlags {
    /// Override fly.toml's primary_region for this deploy: PRIMARY_REGION on every machine, and where new
    /// machines and the release command run.
    #[arg(long, value_name = "REGION")]
    pub primary_region: Option<String>,
    /// Deploy only the machines in these regions (comma-separated or repeated); the others keep their release.
    /// New machines still go to primary_region.
    #[arg(long, visible_alias = "only-regions", value_name = "REGIONS", value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Leave the machines in these regions as they are (comma-separated or repeated).
    #[arg(long, value_name = "REGIONS", value_delimiter = ',')]
    pub exclude_regions: Vec<String>,
    /// Deploy only these machines (ids, comma-separated or repeated).
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub only_machines: Vec<String>,
    /// Leave these machines as they are (ids, comma-separated or repeated).
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub exclude_machines: Vec<String>,
    /// Set NAME=VALUE in the environment of every machine and of the release command, over fly.toml's [env]
    /// (repeatable). Not for secrets: the value is in the plan.
    #[arg(short = 'e', long = "env", value_name = "NAME=VALUE", value_parser = env_pair)]
    pub env: Vec<String>,
    /// Write a checkout file into every machine: /path/in/machine=path/in/checkout (repeatable; an empty path
    /// removes fly.toml's file at that guest path).
    #[arg(long, value_name = "GUEST=PATH", value_parser = guest_file)]
    pub file_local: Vec<String>,
    /// Write VALUE into every machine: /path/in/machine=VALUE (repeatable). The value is in the plan.
    #[arg(long, value_name = "GUEST=VALUE", value_parser = guest_file)]
    pub file_literal: Vec<String>,
    /// Write the app secret SECRET into every machine: /path/in/machine=SECRET (repeatable).
    #[arg(long, value_name = "GUEST=SECRET", value_parser = guest_file)]
    pub file_secret: Vec<String>,
    /// Size of the machines this deploy creates (new groups, HA spares, the release command when no machine
    /// runs yet): shared-cpu-1x … performance-16x. Existing machines keep their size. [default: shared-cpu-1x]
    #[arg(long, value_name = "SIZE")]
    pub vm_size: Option<String>,
    /// CPUs of the machines this deploy creates.
    #[arg(long, visible_alias = "cpus", value_name = "N")]
    pub vm_cpus: Option<String>,
    /// Memory of the machines this deploy creates: megabytes, or with a unit (1gb).
    #[arg(long, visible_alias = "memory", value_name = "SIZE")]
    pub vm_memory: Option<String>,
    /// CPU kind of the machines this deploy creates.
    #[arg(long, visible_alias = "vm-cpukind", value_name = "KIND", value_parser = ["shared", "performance"])]
    pub vm_cpu_kind: Option<String>,
    /// Maximum memory of the machines this deploy creates.
    #[arg(long, hide = true, value_name = "SIZE")]
    pub vm_max_memory: Option<String>,
    /// Dedicated hosts of your organization for the machines this deploy creates.
    #[arg(long, value_name = "ID")]
    pub host_dedication_id: Option<String>,
    /// Refused, as flyctl refuses it: GPU machines are no longer supported.
    #[arg(long, hide = true, value_name = "N")]
    pub vm_gpus: Option<String>,
    /// Refused, as flyctl refuses it: GPU machines are no longer supported.
    #[arg(long, hide = true, alias = "vm-gpukind", value_name = "KIND")]
    pub vm_gpu_kind: Option<String>,
    /// First deploy: allocate no public IP addresses.
    #[arg(long)]
    pub no_public_ips: bool,
    /// First deploy: allocate a private (Flycast) IPv6 address instead of public ones.
    #[arg(long)]
    pub flycast: bool,
    /// How often a machine whose update or health wait failed is updated again from where it stands before
    /// the deploy fails and rolls back: a number, or `auto` (0). A lease held by someone else is not retried.
    #[arg(long, value_name = "N|auto")]
    pub deploy_retries: Option<String>,
    /// Watch each changed machine for 10 s after it is up: a crash then fails the deploy (flyctl's smoke
    /// checks; skipped with --detach and the immediate strategy).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub smoke_checks: bool,
    /// Create no machines for process groups that have none.
    #[arg(long)]
    pub update_only: bool,
    /// Size in GB of volumes this deploy creates when fly.toml's [mounts] sets no initial_size [default: 1].
    #[arg(long, value_name = "GB")]
    pub volume_initial_size: Option<String>,
    /// Accepted for `fly deploy` command lines; no effect: ferry runs no post-deploy DNS check.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub dns_checks: bool,
    /// Apply a destructive plan without asking on a terminal (ferry asks only there, and only
    /// when no --plan-hash names the reviewed plan).
    #[arg(short = 'y', long, visible_alias = "auto-confirm")]
    pub yes: bool,
    /// Accepted for `fly deploy` command lines; no effect: ferry never prompts.
    #[arg(long)]
    pub now: bool,
    /// Accepted for `fly deploy` command lines; no effect, as in flyctl, which never reads it
    /// (`deploy.go:88-93`).
    #[arg(long, hide = true)]
    pub force_machines: bool,
}

impl MachineFlags {
    /// The flags given that only a Fly deploy reads, by name.
    pub fn given(&self) -> Vec<&'static str> {
        let set = [
            ("--primary-region", self.primary_region.is_some()),
            ("--regions", !self.regions.is_empty()),
            ("--exclude-regions", !self.exclude_regions.is_empty()),
            ("--only-machines", !self.only_machines.is_empty()),
            ("--exclude-machines", !self.exclude_machines.is_empty()),
            ("--env", !self.env.is_empty()),
            ("--file-local", !self.file_local.is_empty()),
            ("--file-literal", !self.file_literal.is_empty()),
            ("--file-secret", !self.file_secret.is_empty()),
            ("--vm-size", self.vm_size.is_some()),
            ("--vm-cpus", self.vm_cpus.is_some()),
            ("--vm-memory", self.vm_memory.is_some()),
            ("--vm-cpu-kind", self.vm_cpu_kind.is_some()),
            ("--vm-max-memory", self.vm_max_memory.is_some()),
            ("--host-dedication-id", self.host_dedication_id.is_some()),
            ("--no-public-ips", self.no_public_ips),
            ("--flycast", self.flycast),
            ("--deploy-retries", self.deploy_retries.is_some()),
            ("--smoke-checks", !self.smoke_checks),
            ("--update-only", self.update_only),
            ("--volume-initial-size", self.volume_initial_size.is_some()),
        ];
        set.into_iter().filter(|(_, given)| *given).map(|(flag, _)| flag).collect()
    }
}

/// `--env NAME=VALUE`: split at the first `=`, as flyctl's
/// `ParseKVStringsToMap`; the name must not be empty.
fn env_pair(text: &str) -> Result<String, String> {
    match text.split_once('=') {
        Some((name, _)) if !name.trim().is_empty() => Ok(text.to_string()),
        _ => Err("must be in the format NAME=VALUE".into()),
    }
}

/// `--file-* /path/in/machine=VALUE`: flyctl's `parseFiles` checks.
fn guest_file(text: &str) -> Result<String, String> {
    match text.split_once('=') {
        None => Err("must be in the format /path/in/machine=VALUE".into()),
        Some((guest, _)) if !guest.starts_with('/') => Err(format!("the guest path `{guest}` must be absolute")),
        Some(_) => Ok(text.to_string()),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeployTarget {
    Fly,
    Vm,
}

#[derive(Debug, Args)]
pub struct CiArgs {
    #[command(flatten)]
    pub checkout: Checkout,
    #[command(flatten)]
    pub state: State,
    /// The phase when the event does not say [default: deploy].
    #[arg(long)]
    pub phase: Option<String>,
    /// `sticky` updates ferry's comment in place; `new` posts a new one each time.
    #[arg(long, value_enum, default_value_t = CommentModeArg::Sticky, env = "FERRY_COMMENT_MODE")]
    pub comment_mode: CommentModeArg,
    /// A `/ferry apply` (or approve) needs an approving review of the pull request's head commit by
    /// someone other than its author, as Atlantis's `approved` requirement.
    #[arg(long)]
    pub require_approval: bool,
    /// A push or dispatch may apply a plan nobody reviewed on a pull request. Without it, a push
    /// applies only the plan ferry posted on the merged pull request, and a dispatch only the
    /// `plan-hash` it names.
    #[arg(long)]
    pub allow_unreviewed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CommentModeArg {
    Sticky,
    New,
}

#[derive(Debug, Clone, Args)]
pub struct State {
    /// Where journals, locks and reviewed plans live: a directory, or `github` for a branch of
    /// the repository (needs GITHUB_TOKEN) [default: `github` inside GitHub Actions, else DIR/.ferry].
    #[arg(long, env = "FERRY_STATE", value_name = "DIR|github")]
    pub state: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub checkout: Checkout,
    #[command(flatten)]
    pub state: State,
    /// The phase to apply.
    #[arg(long, default_value = "deploy")]
    pub phase: String,
    /// The hash of the reviewed plan (12 or more hex digits); a different plan is refused.
    #[arg(long, value_name = "HASH", value_parser = plan_hash)]
    pub plan_hash: Option<String>,
    /// Leave a failed phase as it is instead of undoing its completed actions.
    #[arg(long)]
    pub no_rollback: bool,
    /// Pass the plan's approval gates.
    #[arg(long)]
    pub approve: bool,
    /// Apply a destructive plan without asking on a terminal (ferry asks only there, and only
    /// when no --plan-hash names the reviewed plan).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// The run to apply into (e.g. a migration id) [default: <phase>-<plan hash>].
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// Output format for the results.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub checkout: Checkout,
    #[command(flatten)]
    pub state: State,
    /// The run [default: the app's latest].
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// The app [default: `app` of the checkout's fly.toml].
    #[arg(long)]
    pub app: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
pub struct AbortArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Undo only if what the abort would undo still has this hash (printed by `ferry abort`).
    #[arg(long, value_name = "HASH", value_parser = plan_hash)]
    pub plan_hash: Option<String>,
    /// Undo without asking (scripts); the undos are still printed first.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The app whose lock to remove.
    #[arg(long)]
    pub app: String,
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub state: State,
}

#[derive(Debug, Clone, Args)]
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
    /// The ferry.toml that decides where credentials may go: its [dns], [data] and [targets]
    /// must equal the workflow's, or ferry plans without reading any credential and says why
    /// [default: the workflow itself; `ferry ci` uses the default branch's].
    #[arg(long, value_name = "FILE")]
    pub trusted_workflow: Option<PathBuf>,
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
    #[command(flatten)]
    pub state: State,
    /// The phase to plan (deploy, or a migration phase such as prepare).
    #[arg(long, default_value = "deploy")]
    pub phase: String,
    /// Output format: md (a PR comment), json (for scripts) or text (a terminal).
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct StepsArgs {
    #[command(subcommand)]
    pub action: Option<StepsAction>,
    #[command(flatten)]
    pub checkout: Checkout,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(Debug, Subcommand)]
pub enum StepsAction {
    /// Write a copy of this ferry with its built-in steps compiled ahead of time, for release.
    #[command(after_help = "The compiled steps are appended to the executable (the loader ignores them; ferry \
finds them at its own file's end), so a first plan on a fresh machine maps machine code instead of compiling each \
step (0.6 s and about 100 MiB each). The code is built for this machine's architecture without any CPU feature \
beyond the baseline, so it runs on every host of the architecture. Run it after `strip`, which would drop them.

Example:
  ferry steps precompile --out dist/ferry     # OUT may be this ferry itself")]
    Precompile(PrecompileArgs),
}

#[derive(Debug, Args)]
pub struct PrecompileArgs {
    /// Where to write the executable (replaced atomically; may be the running ferry).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
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

/// `--plan-hash`: at least 12 hex digits, never empty (an unset variable in
/// a script must not mean "whatever the plan is now").
fn plan_hash(text: &str) -> Result<String, String> {
    ferry_engine::apply::reviewed_hash(text).map_err(|e| e.to_string())
}
