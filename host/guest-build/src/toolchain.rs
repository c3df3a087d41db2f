//! Which Rust toolchain can build `wasm32-unknown-unknown` on this machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{TARGET, clean_env};

const FIX: &str = "ferry's steps are WebAssembly components, and this machine has no Rust std for \
wasm32-unknown-unknown. Install one of:\n\
  - with rustup:        rustup target add wasm32-unknown-unknown\n\
  - on Debian/Ubuntu:   sudo apt-get install rustc-web cargo-web rust-web-src lld-22\n\
then build again. (FERRY_WASM_TOOLCHAIN=rustup|debian forces one.)";

#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    #[error("{FIX}")]
    Missing,
    #[error("FERRY_WASM_TOOLCHAIN={0} is not usable here: {1}\n{FIX}")]
    Forced(String, String),
}

/// A way to build guests.
#[derive(Debug, Clone)]
pub enum Toolchain {
    /// The building rustc has the wasm32 std installed (rustup target).
    Rustup { cargo: PathBuf, rustc: PathBuf },
    /// Debian's `rustc-web`: build std from `rust-web-src` with `-Zbuild-std`.
    Debian { cargo: PathBuf, rustc: PathBuf, linker: PathBuf },
}

impl Toolchain {
    /// Picks rustup's target when installed, else Debian's rustc-web.
    pub fn detect() -> Result<Self, ToolchainError> {
        match std::env::var("FERRY_WASM_TOOLCHAIN").ok().as_deref() {
            Some("rustup") => Self::rustup().map_err(|why| ToolchainError::Forced("rustup".into(), why)),
            Some("debian") => Self::debian().map_err(|why| ToolchainError::Forced("debian".into(), why)),
            _ => Self::rustup().or_else(|_| Self::debian()).map_err(|_| ToolchainError::Missing),
        }
    }

    fn rustup() -> Result<Self, String> {
        let rustc = PathBuf::from(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()));
        let cargo = PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        let sysroot = sysroot(&rustc).ok_or("rustc --print sysroot failed")?;
        let std_dir = sysroot.join("lib/rustlib").join(TARGET).join("lib");
        if !std_dir.is_dir() {
            return Err(format!("{} has no {TARGET} std ({} is missing)", rustc.display(), std_dir.display()));
        }
        Ok(Toolchain::Rustup { cargo, rustc })
    }

    fn debian() -> Result<Self, String> {
        let rustc = PathBuf::from("/usr/bin/rustc");
        let cargo = PathBuf::from("/usr/bin/cargo");
        if !rustc.is_file() || !cargo.is_file() {
            return Err("/usr/bin/rustc or /usr/bin/cargo is missing (packages rustc-web, cargo-web)".into());
        }
        let sysroot = sysroot(&rustc).ok_or("/usr/bin/rustc --print sysroot failed")?;
        let src = sysroot.join("lib/rustlib/src/rust/library/std");
        if !src.is_dir() {
            return Err(format!("{} is missing (package rust-web-src)", src.display()));
        }
        let linker = find_wasm_linker().ok_or("no rust-lld or wasm-ld on PATH (package lld-22)")?;
        Ok(Toolchain::Debian { cargo, rustc, linker })
    }

    /// A `cargo` command set up for this toolchain, with a clean environment.
    pub(crate) fn cargo_command(&self) -> Command {
        match self {
            Toolchain::Rustup { cargo, rustc } => {
                let mut cmd = Command::new(cargo);
                clean_env(&mut cmd);
                cmd.env("RUSTC", rustc);
                cmd
            }
            Toolchain::Debian { cargo, rustc, linker } => {
                let mut cmd = Command::new(cargo);
                clean_env(&mut cmd);
                cmd.env("RUSTC", rustc)
                    .env("RUSTC_BOOTSTRAP", "1")
                    .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", linker)
                    .args(["-Zbuild-std=std,panic_abort"]);
                cmd
            }
        }
    }
}

fn sysroot(rustc: &Path) -> Option<PathBuf> {
    let mut cmd = Command::new(rustc);
    clean_env(&mut cmd);
    let out = cmd.args(["--print", "sysroot"]).output().ok()?;
    out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// `rust-lld` if present, else the newest `wasm-ld-NN`, else `wasm-ld`.
fn find_wasm_linker() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    let find = |name: &str| dirs.iter().map(|d| d.join(name)).find(|p| p.is_file());
    if let Some(p) = find("rust-lld") {
        return Some(p);
    }
    let mut versioned: Vec<(u32, PathBuf)> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            let version = name.strip_prefix("wasm-ld-")?.parse().ok()?;
            Some((version, e.path()))
        })
        .collect();
    versioned.sort();
    versioned.pop().map(|(_, p)| p).or_else(|| find("wasm-ld"))
}
