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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Toolchain {
    /// The building rustc has the wasm32 std installed (rustup target).
    Rustup { cargo: PathBuf, rustc: PathBuf },
    /// Debian's `rustc-web`: build std from `rust-web-src` with `-Zbuild-std`.
    Debian { cargo: PathBuf, rustc: PathBuf, linker: PathBuf },
}

/// What detection looks at; [`Probe::from_env`] reads this machine.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The rustc and cargo building the host (`$RUSTC`, `$CARGO` in a build script).
    pub rustc: PathBuf,
    pub cargo: PathBuf,
    /// Where Debian's rustc-web lives (`/usr`).
    pub debian_prefix: PathBuf,
    /// Directories searched for `rust-lld` / `wasm-ld-NN`.
    pub path: Vec<PathBuf>,
    /// `FERRY_WASM_TOOLCHAIN`, if set.
    pub forced: Option<String>,
}

impl Probe {
    pub fn from_env() -> Self {
        Probe {
            rustc: std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()).into(),
            cargo: std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()).into(),
            debian_prefix: PathBuf::from("/usr"),
            path: std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default(),
            forced: std::env::var("FERRY_WASM_TOOLCHAIN").ok().filter(|v| !v.is_empty()),
        }
    }
}

impl Toolchain {
    /// Picks rustup's target when installed, else Debian's rustc-web.
    pub fn detect() -> Result<Self, ToolchainError> {
        Self::detect_with(&Probe::from_env())
    }

    pub fn detect_with(probe: &Probe) -> Result<Self, ToolchainError> {
        let forced = |name: &str, r: Result<Self, String>| r.map_err(|why| ToolchainError::Forced(name.into(), why));
        match probe.forced.as_deref() {
            Some("rustup") => forced("rustup", Self::rustup(probe)),
            Some("debian") => forced("debian", Self::debian(probe)),
            Some(other) => Err(ToolchainError::Forced(other.into(), "expected `rustup` or `debian`".into())),
            None => Self::rustup(probe).or_else(|_| Self::debian(probe)).map_err(|_| ToolchainError::Missing),
        }
    }

    fn rustup(probe: &Probe) -> Result<Self, String> {
        let sysroot = sysroot(&probe.rustc).ok_or_else(|| format!("`{} --print sysroot` failed", probe.rustc.display()))?;
        let std_dir = sysroot.join("lib/rustlib").join(TARGET).join("lib");
        if !std_dir.is_dir() {
            return Err(format!("{} has no {TARGET} std ({} is missing)", probe.rustc.display(), std_dir.display()));
        }
        Ok(Toolchain::Rustup { cargo: probe.cargo.clone(), rustc: probe.rustc.clone() })
    }

    fn debian(probe: &Probe) -> Result<Self, String> {
        let rustc = probe.debian_prefix.join("bin/rustc");
        let cargo = probe.debian_prefix.join("bin/cargo");
        if !rustc.is_file() || !cargo.is_file() {
            return Err(format!("{} or {} is missing (packages rustc-web, cargo-web)", rustc.display(), cargo.display()));
        }
        let sysroot = sysroot(&rustc).ok_or_else(|| format!("`{} --print sysroot` failed", rustc.display()))?;
        let src = sysroot.join("lib/rustlib/src/rust/library/std");
        if !src.is_dir() {
            return Err(format!("{} is missing (package rust-web-src)", src.display()));
        }
        let linker = find_wasm_linker(&probe.path).ok_or("no rust-lld or wasm-ld on PATH (package lld-22)")?;
        Ok(Toolchain::Debian { cargo, rustc, linker })
    }

    /// A `cargo` command set up for this toolchain, with a clean environment.
    pub(crate) fn cargo_command(&self) -> Command {
        let (cargo, rustc) = match self {
            Toolchain::Rustup { cargo, rustc } | Toolchain::Debian { cargo, rustc, .. } => (cargo, rustc),
        };
        let mut cmd = Command::new(cargo);
        clean_env(&mut cmd);
        cmd.env("RUSTC", rustc);
        if let Toolchain::Debian { linker, .. } = self {
            cmd.env("RUSTC_BOOTSTRAP", "1").env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", linker).arg("-Zbuild-std=std,panic_abort");
        }
        cmd
    }
}

fn sysroot(rustc: &Path) -> Option<PathBuf> {
    let mut cmd = Command::new(rustc);
    clean_env(&mut cmd);
    let out = cmd.args(["--print", "sysroot"]).output().ok()?;
    out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// `rust-lld` if present, else the newest `wasm-ld-NN`, else `wasm-ld`.
fn find_wasm_linker(dirs: &[PathBuf]) -> Option<PathBuf> {
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
            let version = e.file_name().to_str()?.strip_prefix("wasm-ld-")?.parse().ok()?;
            Some((version, e.path()))
        })
        .collect();
    versioned.sort();
    versioned.pop().map(|(_, p)| p).or_else(|| find("wasm-ld"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake `rustc` that prints `sysroot` for `--print sysroot`.
    fn fake_rustc(dir: &Path, sysroot: &Path) -> PathBuf {
        let path = dir.join("rustc");
        ferry_test_support::write_executable(&path, &format!("#!/bin/sh\necho {}\n", sysroot.display()));
        path
    }

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }

    struct Machine {
        root: tempfile::TempDir,
    }

    impl Machine {
        fn new() -> Self {
            Machine { root: tempfile::tempdir().unwrap() }
        }
        fn dir(&self, p: &str) -> PathBuf {
            let d = self.root.path().join(p);
            std::fs::create_dir_all(&d).unwrap();
            d
        }
        fn probe(&self) -> Probe {
            let rustup_sysroot = self.dir("rustup");
            Probe {
                rustc: fake_rustc(&self.dir("rustup/bin"), &rustup_sysroot),
                cargo: self.dir("rustup/bin").join("cargo"),
                debian_prefix: self.dir("usr"),
                path: vec![self.dir("bin")],
                forced: None,
            }
        }
        fn install_rustup_target(&self) {
            self.dir(&format!("rustup/lib/rustlib/{TARGET}/lib"));
        }
        fn install_debian(&self, linker: &str) {
            let usr = self.dir("usr");
            fake_rustc(&self.dir("usr/bin"), &usr);
            touch(&usr.join("bin/cargo"));
            self.dir("usr/lib/rustlib/src/rust/library/std");
            touch(&self.dir("bin").join(linker));
        }
    }

    #[test]
    fn with_neither_toolchain_the_error_says_what_to_install() {
        let m = Machine::new();
        let err = Toolchain::detect_with(&m.probe()).unwrap_err().to_string();
        assert!(err.contains("rustup target add wasm32-unknown-unknown"), "{err}");
        assert!(err.contains("sudo apt-get install rustc-web cargo-web rust-web-src lld-22"), "{err}");
    }

    #[test]
    fn rustups_target_wins_when_installed() {
        let m = Machine::new();
        m.install_rustup_target();
        m.install_debian("wasm-ld-22");
        assert!(matches!(Toolchain::detect_with(&m.probe()), Ok(Toolchain::Rustup { .. })));
    }

    #[test]
    fn debian_rustc_web_is_used_with_the_newest_wasm_ld() {
        let m = Machine::new();
        m.install_debian("wasm-ld-19");
        touch(&m.dir("bin").join("wasm-ld-22"));
        match Toolchain::detect_with(&m.probe()).unwrap() {
            Toolchain::Debian { linker, .. } => assert!(linker.ends_with("wasm-ld-22"), "{linker:?}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debian_without_a_linker_is_missing_lld() {
        let m = Machine::new();
        m.install_debian("unrelated");
        let probe = Probe { forced: Some("debian".into()), ..m.probe() };
        let err = Toolchain::detect_with(&probe).unwrap_err().to_string();
        assert!(err.contains("FERRY_WASM_TOOLCHAIN=debian is not usable here: no rust-lld or wasm-ld on PATH (package lld-22)"), "{err}");
    }

    #[test]
    fn forcing_rustup_without_the_target_explains_why() {
        let m = Machine::new();
        m.install_debian("wasm-ld-22");
        let probe = Probe { forced: Some("rustup".into()), ..m.probe() };
        let err = Toolchain::detect_with(&probe).unwrap_err().to_string();
        assert!(err.contains("has no wasm32-unknown-unknown std"), "{err}");
    }
}
