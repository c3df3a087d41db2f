//! One wasmtime `Engine` per process, its epoch ticker, and loading steps.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Linker};
use wasmtime::{Config, Engine, EngineWeak};

use crate::cache::CompileCache;
use crate::call::CallState;
use crate::precompiled::Precompiled;
use crate::{Grants, Limits, RuntimeError, capabilities};

/// The `ferry:step` version this host implements. Guests of any 0.1.x run.
pub(crate) const WIT_VERSION: &str = "0.1.0";

/// How often the epoch advances; deadlines are measured in these ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// True for an interface version this host serves: `0.1.*`.
pub(crate) fn version_compatible(version: &str) -> bool {
    version.split('.').take(2).eq(WIT_VERSION.split('.').take(2))
}

/// The largest component ferry compiles, built-in or custom. Epoch
/// interruption stops a running step, but nothing stops cranelift once it
/// compiles an untrusted component: its size is the only bound on the time
/// and memory compilation takes. ferry's largest step is under 1 MiB.
pub const MAX_COMPONENT_BYTES: u64 = 32 << 20;

#[derive(Clone, Debug, Default)]
pub struct RuntimeConfig {
    /// Where compiled components are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// The file holding the key that authenticates every cache entry
    /// (created on first use, mode 0600; see [`Self::default_cache_key_file`]).
    /// It must live outside `cache_dir`, which CI restores from a cache that
    /// other jobs may have written. Without a usable key there is no disk
    /// cache: compiled code is native code, and ferry maps none it cannot
    /// authenticate.
    pub cache_key_file: Option<PathBuf>,
    /// An executable carrying precompiled built-in steps at its end (ferry's
    /// own, see [`crate::precompiled`]), looked up before the cache.
    pub precompiled: Option<PathBuf>,
}

impl RuntimeConfig {
    /// `$XDG_CONFIG_HOME/ferry/cache-key`, else `~/.config/ferry/cache-key`:
    /// the user's configuration, which no CI cache restores, beside no
    /// cache entry.
    pub fn default_cache_key_file() -> Option<PathBuf> {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".config")))?;
        Some(config.join("ferry").join("cache-key"))
    }
}

/// Loads and calls steps. Cheap to share: calls take `&self`.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    cache: Option<CompileCache>,
    precompiled: Option<Precompiled>,
    /// Components compiled in this process, by sha256.
    compiled: Mutex<HashMap<String, Component>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("cache", &self.cache).finish_non_exhaustive()
    }
}

/// Where a loaded component's machine code came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompiledFrom {
    /// Compiled by cranelift in this load.
    Compiler,
    /// Mapped from the on-disk cache.
    DiskCache,
    /// Loaded from the steps precompiled into ferry's executable.
    Precompiled,
    /// Already loaded by this process.
    Memory,
}

/// A step ready to call: compiled, import-checked and pre-linked.
#[derive(Clone)]
pub struct LoadedStep {
    pub(crate) name: String,
    pub(crate) sha256: String,
    pub(crate) grants: Grants,
    pub(crate) limits: Limits,
    pub(crate) imports: Vec<String>,
    pub(crate) compiled_from: CompiledFrom,
    pub(crate) pre: InstancePre<CallState>,
    pub(crate) describe: ComponentExportIndex,
    pub(crate) plan: ComponentExportIndex,
}

impl std::fmt::Debug for LoadedStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedStep")
            .field("name", &self.name)
            .field("sha256", &self.sha256)
            .field("grants", &self.grants)
            .field("imports", &self.imports)
            .finish_non_exhaustive()
    }
}

impl LoadedStep {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
    pub fn grants(&self) -> &Grants {
        &self.grants
    }
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    /// The component's imports, as versioned interface names.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }
    pub fn compiled_from(&self) -> CompiledFrom {
        self.compiled_from
    }
}

impl Runtime {
    /// The engine, its epoch ticker, the linked capabilities and the disk
    /// cache. Fails rather than return a runtime whose deadlines cannot fire.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let engine = Engine::new(&engine_config()).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        start_epoch_ticker(engine.weak(), std::thread::Builder::new())?;
        let mut linker = Linker::new(&engine);
        capabilities::add_to_linker(&mut linker).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let cache = match (config.cache_dir, config.cache_key_file) {
            (Some(dir), Some(key_file)) => CompileCache::open(dir, &key_file, &engine),
            (Some(dir), None) => {
                tracing::warn!("not caching compiled steps in {}: no key file to authenticate them", dir.display());
                None
            }
            (None, _) => None,
        };
        let precompiled = config.precompiled.as_deref().and_then(Precompiled::open);
        Ok(Runtime { engine, linker, cache, precompiled, compiled: Mutex::new(HashMap::new()) })
    }

    /// Compiles (or fetches from the cache), checks imports against `grants`,
    /// and pre-links a step. Nothing of the step runs here.
    ///
    /// A component over [`MAX_COMPONENT_BYTES`] is refused before it is
    /// compiled.
    pub fn load(&self, name: &str, bytes: &[u8], grants: Grants, limits: Limits) -> Result<LoadedStep, RuntimeError> {
        let size = bytes.len() as u64;
        if size > MAX_COMPONENT_BYTES {
            return Err(RuntimeError::ComponentTooLarge { step: name.into(), size, max: MAX_COMPONENT_BYTES });
        }
        let sha256 = hex::encode(Sha256::digest(bytes));
        let (component, compiled_from) = self.compile(name, &sha256, bytes)?;
        let ty = component.component_type();
        let imports: Vec<String> = ty.imports(&self.engine).map(|(n, _)| n.to_string()).collect();
        for import in &imports {
            grants.check_import(name, import)?;
        }
        let export = |iface: Option<&ComponentExportIndex>, export: &str| {
            component.get_export_index(iface, export).ok_or_else(|| RuntimeError::MissingExport {
                step: name.into(),
                export: export.into(),
                message: format!("a step must export `ferry:step/step@{WIT_VERSION}`"),
            })
        };
        let step_iface = export(None, &format!("ferry:step/step@{WIT_VERSION}"))?;
        let describe = export(Some(&step_iface), "describe")?;
        let plan = export(Some(&step_iface), "plan")?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| RuntimeError::InvalidComponent { step: name.into(), message: format!("{e:#}") })?;
        Ok(LoadedStep { name: name.into(), sha256, grants, limits, imports, compiled_from, pre, describe, plan })
    }

    fn compile(&self, name: &str, sha256: &str, bytes: &[u8]) -> Result<(Component, CompiledFrom), RuntimeError> {
        let mut compiled = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = compiled.get(sha256) {
            return Ok((c.clone(), CompiledFrom::Memory));
        }
        let shipped = self.precompiled.as_ref().and_then(|p| p.get(&self.engine, sha256)).map(|c| (c, CompiledFrom::Precompiled));
        let cached = || self.cache.as_ref().and_then(|c| c.get(&self.engine, sha256)).map(|c| (c, CompiledFrom::DiskCache));
        let (component, from) = match shipped.or_else(cached) {
            Some(found) => found,
            None => {
                // Cranelift cannot be interrupted: `load`'s size cap is what
                // bounds this for an untrusted component.
                let started = std::time::Instant::now();
                let c = Component::new(&self.engine, bytes).map_err(|e| RuntimeError::InvalidComponent { step: name.into(), message: format!("{e:#}") })?;
                tracing::debug!(step = name, ms = started.elapsed().as_millis() as u64, "compiled component");
                if let Some(cache) = &self.cache {
                    cache.put(sha256, &c);
                }
                (c, CompiledFrom::Compiler)
            }
        };
        tracing::debug!(step = name, from = ?from, "loaded component");
        compiled.insert(sha256.to_string(), component.clone());
        Ok((component, from))
    }
}

/// wasmtime's settings for ferry. Besides the epoch deadline and the stack
/// cap, multi-memory is off (wasmtime 48 turns it on): no step needs it
/// (rustc emits one memory per module), and without it a core module cannot
/// declare a thousand memories. The store's limiter caps the bytes of all
/// memories either way; this shrinks what a hostile module can ask of the
/// compiler and the allocator.
pub(crate) fn engine_config() -> Config {
    let mut cfg = Config::new();
    cfg.epoch_interruption(true).max_wasm_stack(1 << 20).wasm_component_model(true).wasm_multi_memory(false);
    cfg
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is
/// dropped. Epoch interruption stops even a tight loop with no host calls;
/// without this thread no deadline would ever fire, so failing to start it
/// is an error rather than a warning.
fn start_epoch_ticker(engine: EngineWeak, thread: std::thread::Builder) -> Result<(), RuntimeError> {
    let spawned = thread.name("ferry-epoch".into()).spawn(move || {
        while let Some(engine) = engine.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(EPOCH_TICK);
        }
    });
    match spawned {
        Ok(_) => Ok(()),
        Err(e) => Err(RuntimeError::Engine(format!("could not start the thread that enforces step deadlines ({e}); refusing to run steps without them"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticker_that_cannot_start_is_an_error() {
        let engine = Engine::new(&engine_config()).unwrap();
        // No system maps a thread stack of 2^62 bytes.
        let err = start_epoch_ticker(engine.weak(), std::thread::Builder::new().stack_size(1 << 62)).unwrap_err();
        assert!(err.to_string().contains("could not start the thread that enforces step deadlines"), "{err}");
    }
}
