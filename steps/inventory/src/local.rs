//! What fly.toml makes flyctl read from disk while it deploys, read here
//! from the checkout instead, so the app-spec carries it and the plan is
//! complete: `[[files]] local_path`, and `machine_config` (inline JSON or a
//! `.json` file, with `local_path` files of its own).
//!
//! flyctl reads these paths relative to its working directory; ferry reads
//! them relative to the config file's directory (what Fly's docs promise,
//! and what flyctl does when run beside fly.toml, the usual case). A path
//! outside the checkout is refused by the host.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ferry_step_sdk::types::{File, FileSource};
use serde_json::{Map, Value};

use crate::Files;
use crate::findings::{Findings, Spot};

/// Reads every `local_path` file into its entry's `base64`. A file that
/// cannot be read is an error naming it (flyctl aborts the deploy: "could
/// not read file").
pub fn read_files(files: &dyn Files, dir: &str, entries: &mut [File], spots: &[Spot], findings: &mut Findings) {
    for (i, entry) in entries.iter_mut().enumerate() {
        let FileSource::LocalPath(local) = &mut entry.source else { continue };
        let spot = spots.get(i).cloned().unwrap_or_default();
        match read(files, dir, &local.path) {
            Ok(bytes) => local.base64 = STANDARD.encode(bytes),
            Err(why) => findings.error("file-source", format!("file `{}`: {why}", entry.guest_path), spot),
        }
    }
}

/// A checkout file as bytes, relative to `dir`.
fn read(files: &dyn Files, dir: &str, path: &str) -> Result<Vec<u8>, String> {
    if path.starts_with('/') {
        return Err(format!("local_path `{path}` is absolute; ferry reads files from the checkout, relative to the config file"));
    }
    let full = crate::join(dir, path);
    match files.read_bytes(&full) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(format!("could not read local_path `{path}`: {full} is not in the checkout")),
        Err(e) => Err(format!("could not read local_path `{path}`: {e}")),
    }
}

/// `machine_config` as compact JSON, ready to merge under fly.toml's
/// settings: a `.json` file read, `local_path` files read into
/// `raw_value`, and the container that runs the deployed image (`container`,
/// else `app`, else the first) given the image `.` (flyctl's
/// `ParseContainerConfig`). Problems are error findings; `None` then.
pub fn machine_config(files: &dyn Files, dir: &str, source: &str, container: Option<&str>, spot: &Spot, findings: &mut Findings) -> Option<String> {
    let mut fail = |message: String| {
        findings.error("invalid-machine-config", message, spot.clone());
        None
    };
    let text = if source.starts_with('{') {
        source.to_string()
    } else if source.ends_with(".json") {
        match read(files, dir, source).map(String::from_utf8) {
            Ok(Ok(text)) => text,
            Ok(Err(_)) => return fail(format!("machine_config `{source}` is not UTF-8 text")),
            Err(why) => return fail(format!("machine_config: {why}")),
        }
    } else {
        return fail(format!("machine_config must be inline JSON (starting with `{{`) or a path ending in .json, not `{source}`"));
    };
    let mut config = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return fail("machine_config must be a JSON object (a Machines API MachineConfig)".into()),
        Err(e) => return fail(format!("machine_config is not valid JSON: {e}")),
    };
    let mut problems = Vec::new();
    read_config_files(files, dir, config.get_mut("files"), &mut problems);
    if let Some(Value::Array(containers)) = config.get_mut("containers") {
        for c in containers.iter_mut() {
            read_config_files(files, dir, c.get_mut("files"), &mut problems);
        }
        if let Err(why) = select_container(containers, container) {
            problems.push(why);
        }
    }
    if !problems.is_empty() {
        return fail(format!("machine_config: {}", problems.join("; ")));
    }
    Some(Value::Object(config).to_string())
}

/// flyctl's `readLocalFiles`: a file with neither `raw_value` nor
/// `secret_name` and a `local_path` gets the file's contents.
fn read_config_files(files: &dyn Files, dir: &str, list: Option<&mut Value>, problems: &mut Vec<String>) {
    let Some(Value::Array(list)) = list else { return };
    for file in list.iter_mut().filter_map(Value::as_object_mut) {
        let given = |m: &Map<String, Value>, k: &str| m.get(k).is_some_and(|v| !v.is_null());
        let local = file.remove("local_path");
        if given(file, "raw_value") || given(file, "secret_name") {
            continue;
        }
        if let Some(path) = local.as_ref().and_then(Value::as_str).filter(|p| !p.is_empty()) {
            match read(files, dir, path) {
                Ok(bytes) => {
                    file.insert("raw_value".into(), Value::String(STANDARD.encode(bytes)));
                }
                Err(why) => problems.push(why),
            }
        }
    }
}

fn select_container(containers: &mut [Value], named: Option<&str>) -> Result<(), String> {
    if containers.is_empty() {
        return Ok(());
    }
    let wanted = named.unwrap_or("app");
    let name_of = |c: &Value| c.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    let selected = match containers.iter().position(|c| name_of(c) == wanted) {
        Some(i) => i,
        None if named.is_some() => return Err(format!("container \"{wanted}\" (from `container`) is not one of its containers")),
        None => 0,
    };
    for (i, c) in containers.iter_mut().enumerate() {
        let name = name_of(c);
        let Some(map) = c.as_object_mut() else { return Err("each container must be a JSON object".into()) };
        if i == selected {
            map.insert("image".into(), Value::String(".".into()));
        } else if map.get("image").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(format!("container \"{name}\" must have an image"));
        }
    }
    Ok(())
}
