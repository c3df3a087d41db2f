//! The compile cache: a second process maps the compiled component from
//! disk instead of compiling it again. (Tampered entries: `hostile::sandbox`.)

use ferry_runtime::{CompiledFrom, Grants, Limits, Runtime, RuntimeConfig};

/// A cache in `dir/cache`, its key in `dir/key`.
fn config(dir: &std::path::Path) -> RuntimeConfig {
    RuntimeConfig { cache_dir: Some(dir.join("cache")), cache_key_file: Some(dir.join("key")), ..Default::default() }
}

fn load(rt: &Runtime) -> CompiledFrom {
    let step = ferry_steps::find("parse-config").unwrap();
    rt.load(step.name, step.component, Grants::parse(step.grants).unwrap(), Limits::default()).unwrap().compiled_from()
}

#[test]
fn a_second_runtime_loads_from_disk_and_a_third_from_memory() {
    let cache = tempfile::tempdir().unwrap();
    let config = config(cache.path());
    assert_eq!(load(&Runtime::new(config.clone()).unwrap()), CompiledFrom::Compiler);
    let entries: Vec<_> = walk(cache.path());
    assert_eq!(entries.len(), 1, "one cached component: {entries:?}");
    let name = entries[0].file_name().unwrap().to_string_lossy().to_string();
    let sha = crate::support::sha256_hex(ferry_steps::find("parse-config").unwrap().component);
    assert_eq!(name, format!("{sha}.cwasm"), "keyed by the component's sha256");
    assert!(entries[0].parent().unwrap().file_name().unwrap().to_string_lossy().starts_with("engine-"));

    let warm = Runtime::new(config).unwrap();
    assert_eq!(load(&warm), CompiledFrom::DiskCache);
    assert_eq!(load(&warm), CompiledFrom::Memory);
}

#[test]
fn a_corrupt_cache_entry_is_recompiled() {
    let cache = tempfile::tempdir().unwrap();
    let config = config(cache.path());
    load(&Runtime::new(config.clone()).unwrap());
    let entry = walk(cache.path()).pop().unwrap();
    std::fs::write(&entry, b"not a compiled component").unwrap();
    assert_eq!(load(&Runtime::new(config.clone()).unwrap()), CompiledFrom::Compiler);
    assert_eq!(load(&Runtime::new(config).unwrap()), CompiledFrom::DiskCache, "the entry was rewritten");
}

#[test]
fn without_a_cache_dir_nothing_is_written() {
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    assert_eq!(load(&rt), CompiledFrom::Compiler);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else if p.extension().is_some_and(|x| x == "cwasm") {
            out.push(p)
        }
    }
    out
}
