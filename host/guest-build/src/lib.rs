//! Builds ferry's WebAssembly guests from a build script.
//!
//! Steps compile for `wasm32-unknown-unknown` (no WASI: a step can reach
//! nothing the host does not hand it) and become components with
//! `wit-component`. Two toolchains can do that, and this crate picks one by
//! itself so nobody has to guess:
//!
//! 1. **rustup's wasm32 target** (`rustup target add wasm32-unknown-unknown`,
//!    as on GitHub-hosted runners): a plain `cargo build --target …`.
//! 2. **Debian's `rustc-web`** (`rustc-web cargo-web rust-web-src lld-22`),
//!    for machines whose rustup cannot download the wasm32 std: the same build
//!    with `-Zbuild-std`, linked by `rust-lld` or `wasm-ld-22`.
//!
//! With neither, the build fails with the exact commands that fix it.
//! `FERRY_WASM_TOOLCHAIN=rustup|debian` forces a choice.

mod toolchain;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use toolchain::{Probe, Toolchain, ToolchainError};

/// The target every guest is built for.
pub const TARGET: &str = "wasm32-unknown-unknown";

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Toolchain(#[from] ToolchainError),
    #[error("could not run {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("building the guests in {workspace} failed ({status}); the compiler output is above")]
    Cargo { workspace: String, status: std::process::ExitStatus },
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("writing {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("turning {path} into a component: {message}")]
    Componentize { path: String, message: String },
}

/// One guest crate turned into a component.
#[derive(Debug, Clone)]
pub struct BuiltComponent {
    /// The package name, e.g. `parse-config`.
    pub package: String,
    /// The component file.
    pub path: PathBuf,
}

/// Builds `packages` of the guest workspace at `workspace` into components
/// under `target_dir/components/`. Cargo's own incremental build makes an
/// unchanged guest cost a no-op; a component is rewritten only when its core
/// module changed.
pub fn build_components(workspace: &Path, packages: &[&str], target_dir: &Path) -> Result<Vec<BuiltComponent>, BuildError> {
    let toolchain = Toolchain::detect()?;
    run_cargo(&toolchain, workspace, packages, target_dir)?;
    let out_dir = target_dir.join("components");
    std::fs::create_dir_all(&out_dir).map_err(|source| write_err(&out_dir, source))?;
    packages
        .iter()
        .map(|package| {
            let core = target_dir.join(TARGET).join("release").join(format!("{}.wasm", package.replace('-', "_")));
            let path = out_dir.join(format!("{package}.wasm"));
            componentize_if_newer(&core, &path)?;
            Ok(BuiltComponent { package: package.to_string(), path })
        })
        .collect()
}

fn run_cargo(toolchain: &Toolchain, workspace: &Path, packages: &[&str], target_dir: &Path) -> Result<(), BuildError> {
    let mut cmd = toolchain.cargo_command();
    cmd.current_dir(workspace)
        // --locked: the guests build from the versions their Cargo.lock
        // pins, as the host does (CI and the action build with --locked).
        .args(["build", "--release", "--locked", "--target", TARGET])
        .arg("--target-dir")
        .arg(target_dir);
    for p in packages {
        cmd.args(["-p", p]);
    }
    // Build-script stdout is parsed by the outer cargo: send everything to stderr.
    cmd.stdout(Stdio::from(std::io::stderr())).stderr(Stdio::inherit());
    let program = format!("{cmd:?}");
    let status = cmd.status().map_err(|source| BuildError::Spawn { program, source })?;
    if !status.success() {
        return Err(BuildError::Cargo { workspace: workspace.display().to_string(), status });
    }
    Ok(())
}

fn componentize_if_newer(core: &Path, component: &Path) -> Result<(), BuildError> {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(c), Some(o)) = (modified(core), modified(component))
        && o >= c
    {
        return Ok(());
    }
    let bytes = std::fs::read(core).map_err(|source| BuildError::Read { path: core.display().to_string(), source })?;
    let encoded = componentize(&bytes).map_err(|message| BuildError::Componentize { path: core.display().to_string(), message })?;
    let tmp = component.with_extension("wasm.tmp");
    std::fs::write(&tmp, encoded).map_err(|source| write_err(&tmp, source))?;
    std::fs::rename(&tmp, component).map_err(|source| write_err(component, source))
}

/// Turns a core module carrying wit-bindgen's `component-type` section into a component.
pub fn componentize(core_module: &[u8]) -> Result<Vec<u8>, String> {
    wit_component::ComponentEncoder::default().module(core_module).and_then(|e| e.validate(true).encode()).map_err(|e| format!("{e:#}"))
}

fn write_err(path: &Path, source: std::io::Error) -> BuildError {
    BuildError::Write { path: path.display().to_string(), source }
}

/// The cargo target directory of the build running this build script: the
/// nearest ancestor of `OUT_DIR` holding cargo's `CACHEDIR.TAG`. Guests share
/// `<target>/wasm-guests` so the wasm std and dependencies compile once.
pub fn guest_target_dir(out_dir: &Path) -> PathBuf {
    out_dir.ancestors().find(|dir| dir.join("CACHEDIR.TAG").is_file()).map(|target| target.join("wasm-guests")).unwrap_or_else(|| out_dir.join("wasm-guests"))
}

/// Tells cargo to re-run the build script when guest sources or the WIT change.
pub fn rerun_if_changed(paths: &[&Path]) {
    for p in paths {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    println!("cargo:rerun-if-env-changed=FERRY_WASM_TOOLCHAIN");
}

/// Runs `cmd` with the environment a nested cargo needs and nothing of the
/// outer build's (`CARGO_*`, `RUSTFLAGS`, `TARGET`…), which would otherwise
/// leak host flags into the wasm build.
pub(crate) fn clean_env(cmd: &mut Command) {
    cmd.env_clear();
    for key in ["PATH", "HOME", "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "TMPDIR", "CARGO_NET_OFFLINE", "CARGO_REGISTRIES_CRATES_IO_PROTOCOL"] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    // Keep guests byte-reproducible and their panic messages free of home paths.
    cmd.env("CARGO_TERM_COLOR", "never");
}
