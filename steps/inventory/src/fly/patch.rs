//! flyctl's `patches.go`, on the position-carrying tree: the legacy (V1 and
//! older flyctl) forms it accepts, rewritten to the current shape before the
//! typed read. Each rewrite is reported as a `legacy-form` finding (flyctl
//! is silent about them), and a form flyctl cannot patch is an error at the
//! key that holds it, as it makes flyctl reject the whole file.

use crate::findings::{Findings, Spot};
use crate::node::{Node, Value};
use crate::read::Problem;

type Patch = fn(&mut Node, &mut Findings) -> Result<(), Problem>;

/// Applies every patch, in flyctl's order. A section flyctl cannot patch is
/// reported (flyctl then rejects the file) and left out of the inventory.
pub fn normalize(root: &mut Node, findings: &mut Findings) {
    let patches: [(&[&str], Patch); 8] = [
        (&["env"], env),
        (&["services"], services),
        (&["processes"], processes),
        (&["experimental"], experimental),
        (&["checks"], top_level_checks),
        (&["compute", "computes", "vm"], |r, f| merge_sections(r, &["compute", "computes", "vm"], "vm", f)),
        (&["mount", "mounts"], |r, f| merge_sections(r, &["mount", "mounts"], "mounts", f)),
        (&["metric", "metrics"], |r, f| merge_sections(r, &["metric", "metrics"], "metrics", f)),
    ];
    for (keys, patch) in patches {
        if let Err(p) = patch(root, findings) {
            findings.problem(p);
            for key in keys {
                root.take(key);
            }
        }
    }
    build(root, findings);
}

fn problem(node: &Node, key: &str, message: impl Into<String>) -> Problem {
    Problem { message: message.into(), key: key.to_string(), pos: node.pos }
}

fn legacy(findings: &mut Findings, node: &Node, key: &str, message: impl Into<String>) {
    findings.info("legacy-form", message, Spot::new(node.pos, key));
}

/// `[[env]]` lists merge into one table; non-string values are formatted as Go's `%v`.
fn env(root: &mut Node, findings: &mut Findings) -> Result<(), Problem> {
    let Some(env) = root.get_mut("env") else { return Ok(()) };
    let merged = flatten_env(env)?;
    if matches!(env.value, Value::Array(_)) {
        legacy(findings, env, "env", "`[[env]]` is a legacy list form: flyctl merges its tables into one [env]");
    }
    env.value = Value::Table(merged);
    Ok(())
}

fn flatten_env(env: &Node) -> Result<Vec<(String, Node)>, Problem> {
    let mut out: Vec<(String, Node)> = Vec::new();
    match &env.value {
        Value::Array(items) => {
            for item in items {
                for (k, v) in flatten_env(item)? {
                    match out.iter_mut().find(|(n, _)| *n == k) {
                        Some(slot) => slot.1 = v,
                        None => out.push((k, v)),
                    }
                }
            }
        }
        Value::Table(entries) => {
            for (k, v) in entries {
                out.push((k.clone(), Node::new(Value::Str(go_text(v)), v.pos)));
            }
        }
        _ => return Err(problem(env, "env", format!("[env] must be a table of NAME = \"value\", found {}", env.type_name()))),
    }
    Ok(out)
}

/// A value as Go's `fmt.Sprintf("%v", v)` prints it, which is how flyctl
/// turns a non-string env value or process name into a string.
pub fn go_text(node: &Node) -> String {
    match &node.value {
        Value::Str(s) | Value::Datetime(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => go_float(*f),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => format!("[{}]", items.iter().map(go_text).collect::<Vec<_>>().join(" ")),
        Value::Table(entries) => {
            let mut pairs: Vec<String> = entries.iter().map(|(k, v)| format!("{k}:{}", go_text(v))).collect();
            pairs.sort();
            format!("map[{}]", pairs.join(" "))
        }
    }
}

/// Go's `%v` for a float64: `%g` with the shortest digits, which switches
/// to exponent form below 1e-4 and from 1e6 (`1e+06`).
fn go_float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) { format!("{f}") } else { format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs()) }
}

/// `[[services]]`: a lone table is a list; empty services are dropped; old
/// `"soft,hard"` concurrency strings, string ports, ms check durations and
/// header lists are rewritten.
fn services(root: &mut Node, findings: &mut Findings) -> Result<(), Problem> {
    let Some(services) = root.get_mut("services") else { return Ok(()) };
    let list = as_list(services, "services")?;
    let mut kept = Vec::new();
    for (i, mut svc) in list.into_iter().enumerate() {
        let key = format!("services[{i}]");
        if svc.entries().is_some_and(|e| e.is_empty()) {
            continue;
        }
        service(&mut svc, &key, findings)?;
        kept.push(svc);
    }
    services.value = Value::Array(kept);
    Ok(())
}

fn service(svc: &mut Node, key: &str, findings: &mut Findings) -> Result<(), Problem> {
    if let Some(conc) = svc.get_mut("concurrency") {
        concurrency(conc, &format!("{key}.concurrency"), findings)?;
    }
    if let Some(ports) = svc.get_mut("ports") {
        let mut list = as_list(ports, &format!("{key}.ports"))?;
        for (j, port) in list.iter_mut().enumerate() {
            if let Some(n) = port.get_mut("port") {
                cast_int(n, &format!("{key}.ports[{j}].port"), findings)?;
            }
        }
        ports.value = Value::Array(list);
    }
    for kind in ["tcp_checks", "http_checks"] {
        let Some(checks) = svc.get_mut(kind) else { continue };
        let mut list = as_list(checks, &format!("{key}.{kind}"))?;
        for (j, check) in list.iter_mut().enumerate() {
            patch_check(check, &format!("{key}.{kind}[{j}]"), findings)?;
        }
        if list.is_empty() {
            svc.take(kind);
        } else {
            checks.value = Value::Array(list);
        }
    }
    if let Some(port) = svc.get_mut("internal_port") {
        cast_int(port, &format!("{key}.internal_port"), findings)?;
    }
    Ok(())
}

fn concurrency(conc: &mut Node, key: &str, findings: &mut Findings) -> Result<(), Problem> {
    match &conc.value {
        Value::Table(_) => Ok(()),
        Value::Str(s) => {
            let parsed = s.split_once(',').and_then(|(a, b)| Some((a.parse::<i64>().ok()?, b.parse::<i64>().ok()?)));
            let Some((soft, hard)) = parsed else {
                return Err(problem(conc, key, format!("`{key}` = \"{s}\" is not the legacy \"soft,hard\" form flyctl accepts")));
            };
            legacy(findings, conc, key, format!("`{key}` = \"{s}\" is the legacy form of {{type = \"requests\", soft_limit = {soft}, hard_limit = {hard}}}"));
            let pos = conc.pos;
            conc.value = Value::Table(vec![
                ("type".into(), Node::new(Value::Str("requests".into()), pos)),
                ("hard_limit".into(), Node::new(Value::Int(hard), pos)),
                ("soft_limit".into(), Node::new(Value::Int(soft), pos)),
            ]);
            Ok(())
        }
        _ => Err(problem(
            conc,
            key,
            format!(
                "`{key}` must be a table such as {{type = \"connections\", hard_limit = 25, soft_limit = 20}}, found {}; flyctl rejects the whole file",
                conc.type_name()
            ),
        )),
    }
}

/// flyctl's `castToInt`: a numeric string or a float becomes an integer.
fn cast_int(n: &mut Node, key: &str, findings: &mut Findings) -> Result<(), Problem> {
    match &n.value {
        Value::Int(_) => Ok(()),
        Value::Str(s) => match s.parse::<i64>() {
            Ok(i) => {
                legacy(findings, n, key, format!("`{key}` is the string \"{s}\"; flyctl reads it as the number {i}"));
                n.value = Value::Int(i);
                Ok(())
            }
            Err(_) => Err(problem(n, key, format!("`{key}` must be a number, found the string \"{s}\""))),
        },
        Value::Float(f) => {
            n.value = Value::Int(*f as i64);
            Ok(())
        }
        _ => Err(problem(n, key, format!("`{key}` must be a number, found {}", n.type_name()))),
    }
}

/// Check durations written as numbers are milliseconds; header lists become maps.
fn patch_check(check: &mut Node, key: &str, findings: &mut Findings) -> Result<(), Problem> {
    for attr in ["interval", "timeout", "grace_period"] {
        if let Some(d) = check.get_mut(attr) {
            duration_number(d, &format!("{key}.{attr}"), 1, findings);
        }
    }
    if let Some(headers) = check.get_mut("headers") {
        let hkey = format!("{key}.headers");
        let map = header_map(headers, &hkey, findings)?;
        if map.is_empty() {
            check.take("headers");
        } else {
            headers.value = Value::Table(map);
        }
    }
    Ok(())
}

/// flyctl's `_castDuration`: a number becomes a duration in `unit_ms` units;
/// an empty string or another type is dropped (silently, by flyctl).
fn duration_number(d: &mut Node, key: &str, unit_ms: i64, findings: &mut Findings) {
    let ms = match &d.value {
        Value::Str(s) if s.is_empty() => None,
        Value::Str(_) => return,
        Value::Int(i) => Some(i.saturating_mul(unit_ms)),
        Value::Float(f) => Some((*f * unit_ms as f64) as i64),
        _ => None,
    };
    match ms {
        Some(ms) => {
            let unit = if unit_ms == 1 { "milliseconds" } else { "seconds" };
            legacy(findings, d, key, format!("`{key}` is a bare number, read as {unit} ({ms}ms); write e.g. \"{}s\"", ms as f64 / 1000.0));
            d.value = Value::Str(format!("{ms}ms"));
        }
        None => {
            findings.warn("ignored-value", format!("`{key}` is {}; flyctl ignores it", d.type_name()), Spot::new(d.pos, key));
            d.value = Value::Str(String::new());
        }
    }
}

fn header_map(headers: &Node, key: &str, findings: &mut Findings) -> Result<Vec<(String, Node)>, Problem> {
    match &headers.value {
        Value::Table(entries) => Ok(entries.iter().map(|(k, v)| (k.clone(), Node::new(Value::Str(go_text(v)), v.pos))).collect()),
        Value::Array(items) => {
            if !items.is_empty() {
                legacy(findings, headers, key, format!("`{key}` is a legacy list of {{name, value}}: read as a table"));
            }
            items
                .iter()
                .map(|item| {
                    let name = item.get("name").ok_or_else(|| problem(item, key, format!("each entry of `{key}` needs `name`")))?;
                    let value = item.get("value").map(go_text).unwrap_or_default();
                    Ok((go_text(name), Node::new(Value::Str(value), item.pos)))
                })
                .collect()
        }
        _ => Err(problem(headers, key, format!("`{key}` must be a table of header = \"value\", found {}", headers.type_name()))),
    }
}

/// `[[processes]]` (a list of `{name, command}`) becomes the `[processes]`
/// map; an empty list (V1 API output) is dropped.
fn processes(root: &mut Node, findings: &mut Findings) -> Result<(), Problem> {
    let Some(procs) = root.get_mut("processes") else { return Ok(()) };
    match &procs.value {
        Value::Table(_) => Ok(()),
        Value::Array(items) => {
            let map: Vec<(String, Node)> = items
                .iter()
                .filter(|item| item.is_table())
                .filter_map(|item| {
                    let name = go_text(item.get("name")?);
                    let command = item.get("command").map(go_text).unwrap_or_default();
                    Some((name, Node::new(Value::Str(command), item.pos)))
                })
                .collect();
            if map.is_empty() {
                legacy(findings, procs, "processes", "`processes = []` (V1 API output) means no process groups");
                root.take("processes");
            } else {
                legacy(findings, procs, "processes", "`[[processes]]` is a legacy list of {name, command}: read as [processes]");
                procs.value = Value::Table(map);
            }
            Ok(())
        }
        _ => Err(problem(procs, "processes", format!("[processes] must be a table of group = \"command\", found {}", procs.type_name()))),
    }
}

/// `[experimental]`: `kill_timeout` moves to the top level, `metrics_port`
/// and `metrics_path` to `[metrics]` (when those are not set).
fn experimental(root: &mut Node, findings: &mut Findings) -> Result<(), Problem> {
    let Some(exp) = root.get("experimental") else { return Ok(()) };
    if !exp.is_table() {
        return Err(problem(exp, "experimental", format!("[experimental] must be a table, found {}", exp.type_name())));
    }
    let exp = exp.clone();
    if let Some(kt) = exp.get("kill_timeout").cloned()
        && root.get("kill_timeout").is_none()
    {
        legacy(findings, &kt, "experimental.kill_timeout", "`experimental.kill_timeout` is read as the top-level kill_timeout");
        root.set("kill_timeout", kt);
    }
    let mut metrics = Vec::new();
    for (from, to) in [("metrics_port", "port"), ("metrics_path", "path")] {
        if let Some(v) = exp.get(from) {
            legacy(findings, v, &format!("experimental.{from}"), format!("`experimental.{from}` is read as [metrics] {to}"));
            metrics.push((to.to_string(), v.clone()));
        }
    }
    // flyctl only looks at `metrics` here; a `[metric]` table merges later.
    if !metrics.is_empty() && root.get("metrics").is_none() {
        let pos = metrics[0].1.pos;
        root.set("metrics", Node::new(Value::Table(metrics), pos));
    }
    if let Some(e) = root.get_mut("experimental") {
        for moved in ["kill_timeout", "metrics_port", "metrics_path"] {
            e.take(moved);
        }
    }
    Ok(())
}

/// Top-level `[checks]` as a list of `{name = …}` becomes a map by name.
fn top_level_checks(root: &mut Node, findings: &mut Findings) -> Result<(), Problem> {
    let Some(checks) = root.get_mut("checks") else { return Ok(()) };
    if let Value::Array(items) = &checks.value {
        legacy(findings, checks, "checks", "`[[checks]]` with `name` keys is a legacy list: read as [checks.<name>]");
        let mut map = Vec::new();
        for item in items {
            let Some(Value::Str(name)) = item.get("name").map(|n| &n.value) else {
                return Err(problem(item, "checks", "each [[checks]] entry needs a string `name`"));
            };
            let mut item = item.clone();
            item.take("name");
            map.push((name.clone(), item));
        }
        checks.value = Value::Table(map);
    }
    let Value::Table(entries) = &mut checks.value else {
        return Err(problem(checks, "checks", format!("[checks] must be a table of named checks, found {}", checks.type_name())));
    };
    for (name, check) in entries.iter_mut() {
        let key = format!("checks.{name}");
        if !check.is_table() {
            return Err(problem(check, &key, format!("`{key}` must be a table, found {}", check.type_name())));
        }
        patch_check(check, &key, findings)?;
    }
    if entries.is_empty() {
        root.take("checks");
    }
    Ok(())
}

/// Several spellings of one list section (`[mount]`, `[mounts]`,
/// `[[mounts]]`…) become one list under `to`, in flyctl's order.
fn merge_sections(root: &mut Node, from: &[&str], to: &str, findings: &mut Findings) -> Result<(), Problem> {
    let mut merged = Vec::new();
    let mut pos = None;
    for key in from {
        let Some(section) = root.take(key) else { continue };
        pos = pos.or(section.pos);
        if *key != to {
            legacy(findings, &section, key, format!("`[{key}]` is read as `[[{to}]]`"));
        }
        merged.extend(as_list(&section, key)?);
    }
    if pos.is_some() {
        if to == "vm" || to == "mounts" {
            // flyctl stringifies `memory` and `initial_size` numbers.
            for item in merged.iter_mut() {
                let field = if to == "vm" { "memory" } else { "initial_size" };
                if let Some(v) = item.get_mut(field)
                    && matches!(v.value, Value::Int(_) | Value::Float(_))
                {
                    v.value = Value::Str(go_text(v));
                }
            }
        }
        root.set(to, Node::new(Value::Array(merged), pos));
    }
    Ok(())
}

/// `build_target` is read as `build-target`.
fn build(root: &mut Node, findings: &mut Findings) {
    let Some(build) = root.get_mut("build") else { return };
    if let Some(target) = build.take("build_target") {
        legacy(findings, &target, "build.build_target", "`build_target` is read as `build-target`");
        build.set("build-target", target);
    }
}

/// flyctl's `ensureArrayOfMap`: a list of tables, or one table as a list of one.
fn as_list(node: &Node, key: &str) -> Result<Vec<Node>, Problem> {
    match &node.value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if !item.is_table() {
                    return Err(problem(item, &format!("{key}[{i}]"), format!("`{key}[{i}]` must be a table, found {}", item.type_name())));
                }
            }
            Ok(items.clone())
        }
        Value::Table(_) => Ok(vec![node.clone()]),
        _ => Err(problem(node, key, format!("`{key}` must be a table or a list of tables, found {}", node.type_name()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_formatting() {
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(100000.0), "100000");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(8080.0), "8080");
    }
}
