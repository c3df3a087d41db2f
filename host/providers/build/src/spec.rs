//! What a build is asked to make, before any engine is chosen.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::BuildError;

/// Fly Machines run `linux/amd64` only; flyctl sets it on every build
/// (`dockerfile_builder.go`), so an arm runner does not build the wrong image.
pub const PLATFORM: &str = "linux/amd64";

/// Where the engine finds a build secret's value: `FERRY_SECRET_<NAME>`, the
/// same variables the rest of ferry reads secrets from.
pub use ferry_secrets::SECRET_PREFIX as SECRET_VAR_PREFIX;

/// One image build: fly.toml's `[build]` and `fly deploy`'s build flags,
/// resolved (a flag over fly.toml, as flyctl does for args).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildSpec {
    /// The build context: the checkout, or the directory fly.toml names.
    pub context: PathBuf,
    /// `[build].dockerfile` / `--dockerfile`; the engine's default
    /// (`<context>/Dockerfile`) when absent.
    pub dockerfile: Option<PathBuf>,
    /// `[build].build-target` / `--build-target`.
    pub target: Option<String>,
    /// `[build.args]` and `--build-arg`. Visible in the image's history, as
    /// with any builder: secrets go in `secrets`.
    pub args: BTreeMap<String, String>,
    /// `--build-secret` names; each value is read by the engine from
    /// `FERRY_SECRET_<NAME>` and mounted only into the `RUN` steps that ask
    /// for it (`RUN --mount=type=secret,id=<NAME>`).
    pub secrets: Vec<String>,
    /// `--label` and the labels ferry adds (`GH_SHA`…).
    pub labels: BTreeMap<String, String>,
    /// `[build].ignorefile` / `--ignorefile`: the context's exclusions when
    /// they are not the context's own `.dockerignore` (which every engine
    /// reads by itself).
    pub ignorefile: Option<PathBuf>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// Layers from earlier builds, kept in a registry: a CI runner starts
    /// every job with an empty engine, so without it every build runs every
    /// step again.
    pub cache: Option<LayerCache>,
    /// The image's name on this machine once built: the deployment tag.
    pub tag: String,
    /// Where the engine writes the built image's id.
    pub iidfile: PathBuf,
}

/// Where a build reads and writes its layer cache.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LayerCache {
    /// The app's repository (`registry.fly.io/<app>`): buildah reads and
    /// pushes one image per cached step there, tagged by the step's key.
    pub repository: String,
    /// The image the app runs (pushed by an earlier build with its cache
    /// inline): BuildKit reads its layers' cache from it. `None` for a new app.
    pub from: Option<String>,
    /// A directory holding the registry login as `config.json`
    /// ([`crate::commands::auth_config`]), read by the engine itself and
    /// never mounted into a `RUN`.
    pub auth_dir: PathBuf,
}

impl BuildSpec {
    /// Refuses what would not survive the command line: a build arg, label
    /// or secret name an engine would split or misread. Values may hold
    /// anything; each is one argument.
    pub fn check(&self) -> Result<(), BuildError> {
        for name in self.args.keys() {
            check_name("build arg", name, |c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')?;
        }
        for name in self.labels.keys() {
            check_name("label", name, |c| c.is_ascii_alphanumeric() || "_-./".contains(c))?;
        }
        for name in &self.secrets {
            // It becomes an environment variable's name and BuildKit's secret id.
            check_name("build secret", name, |c| c.is_ascii_alphanumeric() || c == '_')?;
            if name.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(BuildError::Invalid { what: "build secret", value: name.clone(), why: "starts with a digit; an environment variable cannot" });
            }
        }
        if let Some(target) = &self.target {
            check_name("build target", target, |c| c.is_ascii_alphanumeric() || "_-.".contains(c))?;
        }
        Ok(())
    }
}

fn check_name(what: &'static str, name: &str, allowed: impl Fn(char) -> bool) -> Result<(), BuildError> {
    if name.is_empty() {
        return Err(BuildError::Invalid { what, value: name.into(), why: "is empty" });
    }
    if !name.chars().all(allowed) {
        return Err(BuildError::Invalid { what, value: name.into(), why: "has a character engines split on or misread (use letters, digits, `_`, `-`, `.`)" });
    }
    Ok(())
}
