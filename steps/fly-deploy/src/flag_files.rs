//! `--file-local`, `--file-literal` and `--file-secret GUEST=VALUE`
//! (each repeatable): files written into every machine of this deploy.
//!
//! flyctl turns each into a machine file (`FilesFromCommand`,
//! `flyctl:internal/command/command_run.go:300-370`): a local file's bytes
//! and a literal's text as base64 `raw_value`, a secret by `secret_name`.
//! The guest path must be absolute; an empty VALUE means "no file here".
//! The flag files are then merged over fly.toml's `[[files]]` by guest path
//! (`Config.MergeFiles`, `appconfig/config.go:426-449`, and fly-go's
//! `MergeFiles`, `fly.go:8-24`): a flag file replaces fly.toml's of the same
//! path, a flag file with no source deletes it, any other is appended. The
//! merged list goes to every machine of every group and to the release
//! command machine (`deploy/machines.go:849-853`).
//!
//! Local paths are read from the checkout (flyctl reads them relative to
//! `fly deploy`'s working directory, which `--dir` is to ferry) through the
//! step's `checkout` import, so a path outside the checkout is refused.
//!
//! One deliberate difference: flyctl appends a no-source flag file whose
//! path fly.toml does not have as `{guest_path}` alone, an entry the
//! Machines API documents as invalid ("one of RawValue or SecretName must
//! be set", fly-go `machine_types.go:914`); ferry sends nothing for it.
//!
//! Each step parameter holds one `GUEST=VALUE` per line, or a JSON list of
//! them (what the CLI passes, so a literal may span lines).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ferry_step_sdk::params::{Params, invalid, precondition};
use ferry_step_sdk::types::StepError;
use serde_json::{Value, json};

/// Where a flag file's contents come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileFrom {
    /// `--file-local`: a checkout path, not read yet.
    Local(String),
    /// `--file-local` once read: the file's bytes, base64.
    Read(String),
    /// `--file-literal`: the text itself.
    Literal(String),
    /// `--file-secret`: the app secret's name.
    Secret(String),
    /// An empty VALUE: no file at this path.
    Nothing,
}

/// One `GUEST=VALUE` flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlagFile {
    pub guest_path: String,
    pub from: FileFrom,
}

/// The three parameters, in flyctl's order: local, then literal, then
/// secret files (a later one of the same path wins when merged).
pub fn from_params(p: &Params<'_>) -> Result<Vec<FlagFile>, StepError> {
    let mut files = Vec::new();
    type Source = fn(String) -> FileFrom;
    let kinds: [(&str, Source); 3] = [("file-local", FileFrom::Local), ("file-literal", FileFrom::Literal), ("file-secret", FileFrom::Secret)];
    for (name, source) in kinds {
        for entry in crate::options::entries(p, name)? {
            files.push(parse_one(name, &entry, source)?);
        }
    }
    Ok(files)
}

fn parse_one(name: &str, line: &str, source: fn(String) -> FileFrom) -> Result<FlagFile, StepError> {
    let (guest_path, value) = line.split_once('=').ok_or_else(|| invalid(format!("{name} `{line}` must be in the format /path/in/machine=VALUE")))?;
    if !guest_path.starts_with('/') {
        return Err(invalid(format!("{name} `{line}`: the guest path `{guest_path}` must be absolute")));
    }
    let from = if value.is_empty() { FileFrom::Nothing } else { source(value.to_string()) };
    Ok(FlagFile { guest_path: guest_path.to_string(), from })
}

/// Reads every `--file-local` file with `read` (the checkout import in the
/// step; a map in tests). The error names the flag, the guest path and the
/// file.
pub fn read_local(files: &mut [FlagFile], mut read: impl FnMut(&str) -> Result<Vec<u8>, String>) -> Result<(), StepError> {
    for file in files.iter_mut() {
        if let FileFrom::Local(path) = &file.from {
            let bytes = read(path).map_err(|e| invalid(format!("file-local {}={path}: {e}", file.guest_path)))?;
            file.from = FileFrom::Read(STANDARD.encode(bytes));
        }
    }
    Ok(())
}

/// Refuses to plan with a `--file-local` file that was not read: its
/// contents would be missing from every machine.
pub fn ensure_read(files: &[FlagFile]) -> Result<(), StepError> {
    match files.iter().find(|f| matches!(f.from, FileFrom::Local(_))) {
        Some(f) => Err(precondition(format!("file-local {}: the file was not read from the checkout", f.guest_path))),
        None => Ok(()),
    }
}

impl FlagFile {
    /// The Machines API file entry, or `None` for a no-source flag.
    fn machine_file(&self) -> Option<Value> {
        let guest_path = &self.guest_path;
        match &self.from {
            FileFrom::Read(encoded) => Some(json!({"guest_path": guest_path, "raw_value": encoded})),
            FileFrom::Literal(text) => Some(json!({"guest_path": guest_path, "raw_value": STANDARD.encode(text)})),
            FileFrom::Secret(name) => Some(json!({"guest_path": guest_path, "secret_name": name})),
            FileFrom::Nothing => None,
            FileFrom::Local(path) => unreachable!("file-local {guest_path}={path} is read before configs are built (ensure_read)"),
        }
    }
}

/// fly-go's `MergeFiles` over a machine config's `files`, in flag order.
pub fn merge(config: &mut Value, files: &[FlagFile]) {
    if files.is_empty() {
        return;
    }
    let mut merged: Vec<Value> = config.get("files").and_then(Value::as_array).cloned().unwrap_or_default();
    for file in files {
        let at = merged.iter().position(|f| f.get("guest_path").and_then(Value::as_str) == Some(file.guest_path.as_str()));
        match (at, file.machine_file()) {
            (None, Some(entry)) => merged.push(entry),
            (None, None) => {}
            (Some(i), None) => {
                merged.remove(i);
            }
            (Some(i), Some(entry)) => merged[i] = entry,
        }
    }
    match config.as_object_mut() {
        Some(object) if merged.is_empty() => {
            object.remove("files");
        }
        Some(object) => {
            object.insert("files".into(), Value::Array(merged));
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> Result<Vec<FlagFile>, StepError> {
        let params: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        from_params(&Params(&params))
    }

    fn message(e: StepError) -> String {
        match e {
            StepError::InvalidInput(p) | StepError::PreconditionFailed(p) => p.message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_become_machine_files_as_flyctl_encodes_them() {
        let mut flagged = files(&[
            ("file-secret", "/etc/key.pem=TLS_KEY"),
            ("file-literal", "/etc/motd=hello world\n/etc/empty.conf="),
            ("file-local", "/etc/app.conf=config/app.conf"),
        ])
        .unwrap();
        let order: Vec<&str> = flagged.iter().map(|f| f.guest_path.as_str()).collect();
        assert_eq!(order, ["/etc/app.conf", "/etc/motd", "/etc/empty.conf", "/etc/key.pem"], "local, literal, secret: flyctl's order");
        assert!(ensure_read(&flagged).is_err(), "a local file must be read before planning");
        read_local(&mut flagged, |path| if path == "config/app.conf" { Ok(vec![0xff, 0x00, b'x']) } else { Err("no such file".into()) }).unwrap();
        ensure_read(&flagged).unwrap();
        let mut config = json!({"image": "x"});
        merge(&mut config, &flagged);
        assert_eq!(
            config["files"],
            json!([
                {"guest_path": "/etc/app.conf", "raw_value": "/wB4"},
                {"guest_path": "/etc/motd", "raw_value": "aGVsbG8gd29ybGQ="},
                {"guest_path": "/etc/key.pem", "secret_name": "TLS_KEY"},
            ]),
            "binary bytes survive; an empty value adds nothing"
        );
    }

    #[test]
    fn flag_files_replace_and_delete_fly_toml_files_by_guest_path() {
        let mut config = json!({"files": [
            {"guest_path": "/a", "raw_value": "YQ=="},
            {"guest_path": "/b", "secret_name": "B"},
            {"guest_path": "/c", "raw_value": "Yw=="},
        ]});
        merge(&mut config, &files(&[("file-literal", "/b=bee\n/c=")]).unwrap());
        assert_eq!(config["files"], json!([{"guest_path": "/a", "raw_value": "YQ=="}, {"guest_path": "/b", "raw_value": "YmVl"}]));
        merge(&mut config, &files(&[("file-literal", "/a=\n/b=")]).unwrap());
        assert!(config.get("files").is_none(), "the last file deleted leaves no `files`: {config}");
    }

    #[test]
    fn a_json_list_carries_multi_line_literals() {
        let flagged = files(&[("file-literal", r#"["/etc/app.ini=[a]\nx = 1\n", "/etc/b=b"]"#)]).unwrap();
        let mut config = json!({});
        merge(&mut config, &flagged);
        assert_eq!(config["files"][0]["raw_value"], STANDARD.encode("[a]\nx = 1\n"));
        assert_eq!(config["files"][1]["guest_path"], "/etc/b");
        assert!(files(&[("file-literal", "[not json")]).is_err());
    }

    #[test]
    fn malformed_flags_name_the_flag() {
        assert_eq!(message(files(&[("file-literal", "/etc/motd")]).unwrap_err()), "file-literal `/etc/motd` must be in the format /path/in/machine=VALUE");
        assert_eq!(message(files(&[("file-secret", "etc/key=K")]).unwrap_err()), "file-secret `etc/key=K`: the guest path `etc/key` must be absolute");
        let mut local = files(&[("file-local", "/etc/x=missing.txt")]).unwrap();
        let e = read_local(&mut local, |p| Err(format!("{p}: no such file in the checkout"))).unwrap_err();
        assert_eq!(message(e), "file-local /etc/x=missing.txt: missing.txt: no such file in the checkout");
    }
}
