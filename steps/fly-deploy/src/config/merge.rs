//! `machine_config` JSON applied the way flyctl applies it: Go's
//! `json.Unmarshal` into the (cloned) current `MachineConfig`, before any
//! fly.toml field is set (`machines.go` `updateMachineConfig`).
//!
//! Go decodes into what is there: a struct (or a pointer to one that is
//! set) keeps the fields the JSON does not name; a map keeps its other
//! keys but each named entry is decoded afresh; a slice is decoded element
//! by element into the elements already there, then cut to the JSON's
//! length; a scalar is replaced. So `{"dns": {"nameservers": [..]}}` adds
//! name servers to a machine's `dns` and keeps its `skip_registration`.
//!
//! ferry holds configs as JSON, not typed structs, so two things differ
//! from Go: a key fly-go does not know is kept (Go drops it), and `null`
//! removes a key (Go leaves a non-pointer field as it was).

use serde_json::Value;

/// Fields that are Go maps: their entries are replaced, not merged.
const MAPS: [&str; 3] = ["env", "metadata", "checks"];

/// Decodes `patch` into `config` with Go's rules.
pub fn unmarshal_into(config: &mut Value, patch: &Value) {
    decode(config, patch, Kind::Struct);
}

#[derive(Clone, Copy)]
enum Kind {
    Struct,
    Map,
}

fn decode(target: &mut Value, patch: &Value, kind: Kind) {
    match (target, patch) {
        (Value::Object(existing), Value::Object(fields)) => {
            for (key, value) in fields {
                if value.is_null() {
                    existing.remove(key);
                    continue;
                }
                match kind {
                    // A map entry is a fresh value each time.
                    Kind::Map => {
                        existing.insert(key.clone(), value.clone());
                    }
                    Kind::Struct => {
                        let child = if MAPS.contains(&key.as_str()) { Kind::Map } else { Kind::Struct };
                        match existing.get_mut(key) {
                            Some(slot) if slot.is_object() || slot.is_array() => decode(slot, value, child),
                            _ => {
                                existing.insert(key.clone(), fresh(value, child));
                            }
                        }
                    }
                }
            }
        }
        (Value::Array(existing), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match existing.get_mut(i) {
                    Some(slot) if slot.is_object() && item.is_object() => decode(slot, item, Kind::Struct),
                    Some(slot) => *slot = item.clone(),
                    None => existing.push(item.clone()),
                }
            }
            existing.truncate(items.len());
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// A value decoded into a zero value: what the JSON says, nulls dropped.
fn fresh(value: &Value, kind: Kind) -> Value {
    let mut zero = match value {
        Value::Object(_) => Value::Object(Default::default()),
        Value::Array(_) => Value::Array(Vec::new()),
        other => return other.clone(),
    };
    decode(&mut zero, value, kind);
    zero
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn structs_merge_maps_replace_entries_slices_decode_in_place() {
        let mut config = json!({
            "dns": {"skip_registration": true},
            "env": {"A": "1", "B": "2"},
            "checks": {"alive": {"type": "tcp", "port": 80}},
            "processes": [{"cmd": ["a"], "user": "root"}, {"cmd": ["b"]}],
            "schedule": "daily",
        });
        let patch = json!({
            "dns": {"nameservers": ["1.2.3.4"]},
            "env": {"B": "3"},
            "checks": {"alive": {"type": "http"}},
            "processes": [{"cmd": ["c"]}],
            "schedule": null,
            "auto_destroy": true,
        });
        unmarshal_into(&mut config, &patch);
        assert_eq!(
            config,
            json!({
                "dns": {"skip_registration": true, "nameservers": ["1.2.3.4"]},
                "env": {"A": "1", "B": "3"},
                "checks": {"alive": {"type": "http"}},
                "processes": [{"cmd": ["c"], "user": "root"}],
                "auto_destroy": true,
            })
        );
    }
}
