//! The built-in steps compiled ahead of time and carried at the end of the
//! `ferry` executable, so that a first run on a fresh machine (every CI job)
//! maps machine code instead of running cranelift: 0.6 s and ~100 MiB per
//! step otherwise.
//!
//! `ferry steps precompile` writes a copy of the running executable with a
//! bundle appended. The operating system's loader reads an ELF or Mach-O
//! file by its headers and ignores bytes after its last section, so the
//! binary runs as before; ferry finds the bundle by the trailer at the very
//! end of its own file:
//!
//! ```text
//! [executable] [entry 1] … [entry n] [index] [index length: u64 LE] [bundle length: u64 LE] [MAGIC]
//! ```
//!
//! The index is text, one line per entry: `<component sha256> <offset> <length>`
//! (the offset from the bundle's start), after a first line naming the ferry
//! version that wrote it. A bundle of another version is ignored as a whole;
//! wasmtime checks each entry against the loading engine as it loads it.
//!
//! Trust: the bundle is part of the executable file. The release archive's
//! sha256 (pinned in `dist/releases.json`, checked before ferry runs) covers
//! it, and whoever can change it can change the code around it. ferry never
//! writes it at run time, and only components whose sha256 is in the index
//! are looked up in it: the built-in steps embedded in the same binary.
//!
//! The code is compiled for the target's baseline CPU (no feature of the
//! machine that ran the precompile), so a bundle made on one runner loads on
//! any machine of the same architecture; wasmtime refuses an entry that needs
//! a CPU feature the host lacks, and that step is then compiled as usual.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use crate::error::RuntimeError;

/// The last bytes of an executable that carries a bundle.
const MAGIC: &[u8; 8] = b"ferrypc1";
/// The trailer: index length, bundle length, magic.
const TRAILER_BYTES: u64 = 8 + 8 + 8;
/// The largest index read (a line per built-in step).
const MAX_INDEX_BYTES: u64 = 64 << 10;

/// The precompiled steps found at the end of an executable.
#[derive(Debug)]
pub(crate) struct Precompiled {
    path: PathBuf,
    /// sha256 → (offset in the file, length).
    entries: HashMap<String, (u64, u64)>,
}

impl Precompiled {
    /// The bundle at the end of `exe` when it has one written by this ferry
    /// version; `None` otherwise (a plain build, a bundle of another ferry).
    pub(crate) fn open(exe: &Path) -> Option<Self> {
        match read_index(exe) {
            Ok(Some((engine_line, entries))) if engine_line == engine_name() => Some(Precompiled { path: exe.to_path_buf(), entries }),
            Ok(Some((engine_line, _))) => {
                tracing::debug!("ignoring the precompiled steps in {}: compiled for {engine_line}", exe.display());
                None
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!("ignoring the precompiled steps in {}: {e}", exe.display());
                None
            }
        }
    }

    /// The component with `sha256`, when the bundle holds it and wasmtime
    /// accepts it on this host.
    pub(crate) fn get(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let &(offset, len) = self.entries.get(sha256)?;
        let read = || -> std::io::Result<Vec<u8>> {
            let mut file = File::open(&self.path)?;
            file.seek(SeekFrom::Start(offset))?;
            let mut bytes = vec![0; usize::try_from(len).map_err(std::io::Error::other)?];
            file.read_exact(&mut bytes)?;
            Ok(bytes)
        };
        let bytes = match read() {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!("cannot read the precompiled step {sha256} in {}: {e}", self.path.display());
                return None;
            }
        };
        // SAFETY: the bytes are part of ferry's own executable, written by
        // `ferry steps precompile` of this ferry version (the index names it)
        // and covered by the same checksum as the code that runs
        // this line; see the module's "Trust". wasmtime checks the version,
        // settings and CPU features each entry was compiled for.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize(engine, &bytes) };
        match loaded {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::debug!("not using the precompiled step {sha256}: {e:#}");
                None
            }
        }
    }
}

/// The ferry a bundle is for. Not the engine's compatibility hash, which
/// covers the CPU features of the machine that computes it: the bundle is
/// compiled without any, and wasmtime checks each entry against the loading
/// engine (version, settings, features the host must have) anyway.
fn engine_name() -> String {
    format!("ferry {}", env!("CARGO_PKG_VERSION"))
}

/// The engine's configuration with the target named, which turns off every
/// CPU feature of the machine compiling: the code runs on any host of the
/// architecture.
fn portable_config() -> Result<Config, RuntimeError> {
    let mut cfg = crate::engine::engine_config();
    cfg.target(&target_triple()).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
    Ok(cfg)
}

fn target_triple() -> String {
    let arch = std::env::consts::ARCH;
    match std::env::consts::OS {
        "linux" => format!("{arch}-unknown-linux-gnu"),
        "macos" => format!("{arch}-apple-darwin"),
        other => format!("{arch}-unknown-{other}"),
    }
}

/// What [`write_with_bundle`] wrote.
#[derive(Debug)]
pub struct BundleWritten {
    /// Components compiled.
    pub steps: usize,
    /// Bytes of compiled code appended.
    pub bytes: u64,
}

/// Writes `exe` (any bundle it already carries left off) to `out`, with
/// `components` compiled for this host's architecture appended. `out` is
/// written to a new file beside it and renamed into place, so it may be the
/// executable that is running.
pub fn write_with_bundle(exe: &Path, components: &[&[u8]], out: &Path) -> Result<BundleWritten, RuntimeError> {
    let io = |what: &str, e: std::io::Error| RuntimeError::Engine(format!("{what}: {e}"));
    let engine = Engine::new(&portable_config()?).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
    let mut index = format!("{}\n", engine_name());
    let mut body = Vec::new();
    for component in components {
        let compiled = engine.precompile_component(component).map_err(|e| RuntimeError::Engine(format!("precompiling a built-in step: {e:#}")))?;
        let sha256 = hex::encode(Sha256::digest(component));
        index.push_str(&format!("{sha256} {} {}\n", body.len(), compiled.len()));
        body.extend_from_slice(&compiled);
    }
    let plain = plain_length(exe).map_err(|e| io(&format!("reading {}", exe.display()), e))?;
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut from = File::open(exe)?.take(plain);
        let mut to = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        std::io::copy(&mut from, &mut to)?;
        to.write_all(&body)?;
        to.write_all(index.as_bytes())?;
        to.write_all(&(index.len() as u64).to_le_bytes())?;
        to.write_all(&((body.len() + index.len()) as u64 + TRAILER_BYTES).to_le_bytes())?;
        to.write_all(MAGIC)?;
        to.sync_all()?;
        let mode = std::fs::metadata(exe)?.permissions();
        std::fs::set_permissions(&tmp, mode)?;
        std::fs::rename(&tmp, out)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(&format!("writing {}", out.display()), e));
    }
    Ok(BundleWritten { steps: components.len(), bytes: body.len() as u64 })
}

/// The length of `exe` without a bundle at its end.
fn plain_length(exe: &Path) -> std::io::Result<u64> {
    let mut file = File::open(exe)?;
    let len = file.metadata()?.len();
    Ok(match trailer(&mut file, len)? {
        Some((_, bundle)) => len - bundle,
        None => len,
    })
}

/// `(index length, bundle length)` from the trailer, if the file ends in one.
fn trailer(file: &mut File, len: u64) -> std::io::Result<Option<(u64, u64)>> {
    if len < TRAILER_BYTES {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(len - TRAILER_BYTES))?;
    let mut bytes = [0u8; TRAILER_BYTES as usize];
    file.read_exact(&mut bytes)?;
    if &bytes[16..] != MAGIC {
        return Ok(None);
    }
    let index = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let bundle = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    if bundle > len || index > MAX_INDEX_BYTES || index + TRAILER_BYTES > bundle {
        return Err(std::io::Error::other("its trailer does not fit the file"));
    }
    Ok(Some((index, bundle)))
}

type Index = (String, HashMap<String, (u64, u64)>);

/// The engine line and the entries (at absolute offsets) of `exe`'s bundle.
fn read_index(exe: &Path) -> std::io::Result<Option<Index>> {
    let mut file = File::open(exe)?;
    let len = file.metadata()?.len();
    let Some((index_len, bundle_len)) = trailer(&mut file, len)? else { return Ok(None) };
    let start = len - bundle_len;
    let index_at = len - TRAILER_BYTES - index_len;
    file.seek(SeekFrom::Start(index_at))?;
    let mut text = String::new();
    file.take(index_len).read_to_string(&mut text)?;
    let mut lines = text.lines();
    let engine = lines.next().unwrap_or_default().to_string();
    let mut entries = HashMap::new();
    for line in lines {
        let bad = || std::io::Error::other(format!("a bad index line: {line:?}"));
        let mut parts = line.split(' ');
        let (Some(sha), Some(offset), Some(length), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
        let (offset, length): (u64, u64) = (offset.parse().map_err(|_| bad())?, length.parse().map_err(|_| bad())?);
        if offset.checked_add(length).is_none_or(|end| start + end > index_at) {
            return Err(bad());
        }
        entries.insert(sha.to_string(), (start + offset, length));
    }
    Ok(Some((engine, entries)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_a_trailer_has_no_bundle_and_keeps_its_length() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("exe");
        std::fs::write(&exe, b"\x7fELF and the rest of a binary").unwrap();
        assert!(read_index(&exe).unwrap().is_none());
        assert_eq!(plain_length(&exe).unwrap(), 29);
    }

    #[test]
    fn a_trailer_that_claims_more_than_the_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("exe");
        let mut bytes = b"binary".to_vec();
        bytes.extend_from_slice(&10u64.to_le_bytes());
        bytes.extend_from_slice(&1000u64.to_le_bytes());
        bytes.extend_from_slice(MAGIC);
        std::fs::write(&exe, bytes).unwrap();
        assert!(read_index(&exe).is_err());
    }
}
