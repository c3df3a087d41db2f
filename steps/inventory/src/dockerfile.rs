//! What a Dockerfile says about the image it builds: stages, the final
//! stage's base image, exposed ports, start command, user, volumes,
//! health check and build arguments.
//!
//! The image's config is inherited along `FROM <stage>` chains, so the final
//! stage's EXPOSE/CMD/… are looked up through the stages it derives from.
//! A Dockerfile is read leniently: a line that cannot be understood is a
//! warning, never a failure of the inventory.

use ferry_step_sdk::types::Dockerfile;

use crate::findings::{Findings, Spot};
use crate::node::Pos;

/// One instruction, continuation lines joined.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
    line: u32,
}

#[derive(Debug, Default)]
struct Stage {
    name: Option<String>,
    /// The image or stage it starts from, variables expanded.
    from: String,
    /// Variables in scope: the stage's ARGs and ENV, in order.
    vars: Vec<(String, String)>,
    /// ENV alone: what a stage built `FROM` this one inherits.
    env: Vec<(String, String)>,
    args: Vec<(String, Option<String>)>,
    expose: Vec<u16>,
    cmd: Option<String>,
    entrypoint: Option<String>,
    user: Option<String>,
    volumes: Vec<String>,
    healthcheck: Option<String>,
}

/// Reads the Dockerfile at `path` (for findings), building `target` (or the
/// last stage).
pub fn read(path: &str, text: &str, target: Option<&str>, findings: &mut Findings) -> Dockerfile {
    let instructions = instructions(text);
    let mut global_args: Vec<(String, Option<String>)> = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for ins in &instructions {
        let spot = Spot::new(Some(Pos { line: ins.line, column: 1 }), ins.keyword.clone());
        match (ins.keyword.as_str(), stages.last_mut()) {
            ("ARG", None) => {
                // A default may use the ARGs declared before it.
                for (name, default) in arg(&ins.args) {
                    let known: Vec<(String, String)> = global_args.iter().filter_map(|(k, v)| Some((k.clone(), v.clone()?))).collect();
                    global_args.push((name, default.map(|d| expand(&d, &known))));
                }
            }
            ("FROM", _) => {
                let mut stage = from(&ins.args, &global_args, spot, findings);
                // ENV is inherited from a parent stage (ARG is not).
                if let Some(parent) = stages.iter().enumerate().rev().find(|(i, s)| stage_name(s, *i) == stage.from) {
                    stage.env = parent.1.env.clone();
                    stage.vars = parent.1.env.clone();
                }
                stages.push(stage);
            }
            (_, None) => findings.warn("dockerfile-syntax", format!("{} before the first FROM", ins.keyword), spot),
            (keyword, Some(stage)) => instruction(stage, keyword, &ins.args, &global_args, spot, findings),
        }
    }
    let names: Vec<String> = stages.iter().enumerate().map(|(i, s)| stage_name(s, i)).collect();
    let final_index = match target {
        Some(t) => names.iter().position(|n| n == t).unwrap_or_else(|| {
            findings.warn("dockerfile-target", format!("build target `{t}` is not a stage of {path} (stages: {})", names.join(", ")), Spot::default());
            stages.len().saturating_sub(1)
        }),
        None => stages.len().saturating_sub(1),
    };
    let chain = chain(&stages, &names, final_index);
    let first = |f: fn(&Stage) -> Option<&String>| chain.iter().find_map(|s| f(s).cloned());
    let mut exposed: Vec<u16> = chain.iter().flat_map(|s| s.expose.iter().copied()).collect();
    exposed.sort_unstable();
    exposed.dedup();
    let mut args = global_args;
    if let Some(stage) = stages.get(final_index) {
        args.extend(stage.args.iter().cloned());
    }
    Dockerfile {
        path: path.to_string(),
        stages: names,
        base_image: chain.last().map(|s| s.from.clone()),
        exposed_ports: exposed,
        cmd: first(|s| s.cmd.as_ref()),
        entrypoint: first(|s| s.entrypoint.as_ref()),
        user: first(|s| s.user.as_ref()),
        volumes: chain.iter().flat_map(|s| s.volumes.iter().cloned()).collect(),
        healthcheck: first(|s| s.healthcheck.as_ref()),
        args,
    }
}

/// A stage's name, or its index for an unnamed stage (`FROM 0` works too).
fn stage_name(stage: &Stage, index: usize) -> String {
    stage.name.clone().unwrap_or_else(|| index.to_string())
}

/// The stage and the stages it derives from, nearest first.
fn chain<'s>(stages: &'s [Stage], names: &[String], start: usize) -> Vec<&'s Stage> {
    let mut out = Vec::new();
    let mut i = Some(start);
    while let Some(index) = i {
        let Some(stage) = stages.get(index) else { break };
        if out.len() > stages.len() {
            break;
        }
        out.push(stage);
        i = names[..index].iter().position(|n| *n == stage.from);
    }
    out
}

fn from(args: &str, global: &[(String, Option<String>)], spot: Spot, findings: &mut Findings) -> Stage {
    let words: Vec<&str> = args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
    let vars: Vec<(String, String)> = global.iter().filter_map(|(k, v)| Some((k.clone(), v.clone()?))).collect();
    let (image, name) = match words.as_slice() {
        [image] => (*image, None),
        [image, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => (*image, Some(name.to_string())),
        _ => {
            findings.warn("dockerfile-syntax", format!("FROM {args}: expected `FROM image [AS name]`"), spot);
            (words.first().copied().unwrap_or(""), None)
        }
    };
    Stage { name, from: expand(image, &vars), ..Stage::default() }
}

fn instruction(stage: &mut Stage, keyword: &str, args: &str, global: &[(String, Option<String>)], spot: Spot, findings: &mut Findings) {
    match keyword {
        "ARG" => {
            for (name, default) in arg(args) {
                // An ARG re-declared in a stage takes the global default unless given one.
                let default = default.map(|d| expand(&d, &stage.vars)).or_else(|| global.iter().find(|(k, _)| *k == name).and_then(|(_, v)| v.clone()));
                if let Some(d) = &default {
                    stage.vars.push((name.clone(), d.clone()));
                }
                stage.args.push((name, default));
            }
        }
        "ENV" => {
            for (k, v) in env_pairs(args) {
                let v = expand(&v, &stage.vars);
                stage.env.push((k.clone(), v.clone()));
                stage.vars.push((k, v));
            }
        }
        "EXPOSE" => {
            for word in args.split_whitespace() {
                let expanded = expand(word, &stage.vars);
                let port = expanded.split('/').next().unwrap_or_default();
                let (lo, hi) = port.split_once('-').unwrap_or((port, port));
                match (lo.parse::<u16>(), hi.parse::<u16>()) {
                    (Ok(lo), Ok(hi)) if lo <= hi && hi - lo <= 1024 => stage.expose.extend(lo..=hi),
                    _ => findings.warn("dockerfile-syntax", format!("EXPOSE {word}: not a port"), spot.clone()),
                }
            }
        }
        "CMD" => stage.cmd = Some(args.trim().to_string()),
        "ENTRYPOINT" => stage.entrypoint = Some(args.trim().to_string()),
        "USER" => stage.user = Some(expand(args.trim(), &stage.vars)),
        "VOLUME" => stage.volumes.extend(json_or_words(args).into_iter().map(|v| expand(&v, &stage.vars))),
        "HEALTHCHECK" => stage.healthcheck = Some(args.trim().to_string()),
        _ => {}
    }
}

/// `ARG a=1 b` -> [("a", Some("1")), ("b", None)].
fn arg(args: &str) -> Vec<(String, Option<String>)> {
    words(args)
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (w, None),
        })
        .collect()
}

/// `ENV a=1 b="x y"` or the old `ENV a 1 2` (the rest of the line is the value).
fn env_pairs(args: &str) -> Vec<(String, String)> {
    let trimmed = args.trim();
    let first = trimmed.split(char::is_whitespace).next().unwrap_or_default();
    if first.is_empty() {
        return Vec::new();
    }
    if !first.contains('=') {
        // `first` is a prefix of `trimmed`, so this slice is on a char boundary.
        let key = words(first).into_iter().next().unwrap_or_default();
        return vec![(key, trimmed[first.len()..].trim().to_string())];
    }
    words(args).into_iter().filter_map(|w| w.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))).collect()
}

/// Shell-like words with quotes removed (a lenient shlex: never fails).
fn words(args: &str) -> Vec<String> {
    shlex::split(args).unwrap_or_else(|| args.split_whitespace().map(str::to_string).collect())
}

/// A JSON array (`["/data", "/logs"]`) or whitespace-separated words.
fn json_or_words(args: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(args.trim()).unwrap_or_else(|_| words(args))
}

/// Expands `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alt}`; unknown
/// variables become empty, as in Docker.
pub fn expand(text: &str, vars: &[(String, String)]) -> String {
    let lookup = |name: &str| vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(body) = rest.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                out.push_str("${");
                rest = body;
                continue;
            };
            let expr = &body[..end];
            rest = &body[end + 1..];
            let value = if let Some((name, default)) = expr.split_once(":-") {
                lookup(name).filter(|v| !v.is_empty()).unwrap_or(default).to_string()
            } else if let Some((name, alt)) = expr.split_once(":+") {
                if lookup(name).is_some_and(|v| !v.is_empty()) { alt.to_string() } else { String::new() }
            } else {
                lookup(expr).unwrap_or_default().to_string()
            };
            out.push_str(&value);
        } else {
            let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            if len == 0 {
                out.push('$');
            } else {
                out.push_str(lookup(&rest[..len]).unwrap_or_default());
            }
            rest = &rest[len..];
        }
    }
    out.push_str(rest);
    out
}

/// Splits a Dockerfile into instructions: comments dropped, continuation
/// lines joined (with the `# escape=` directive honoured), heredoc bodies
/// skipped.
fn instructions(text: &str) -> Vec<Instruction> {
    let escape = escape_char(text);
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut joined = String::new();
        let mut current = line.trim_end().to_string();
        loop {
            match current.strip_suffix(escape) {
                Some(head) => {
                    joined.push_str(head);
                    joined.push(' ');
                    // Comment and blank lines inside a continuation are skipped.
                    let next = loop {
                        match lines.next() {
                            Some((_, l)) if l.trim().is_empty() || l.trim_start().starts_with('#') => continue,
                            other => break other,
                        }
                    };
                    match next {
                        Some((_, l)) => current = l.trim_end().to_string(),
                        None => break,
                    }
                }
                None => {
                    joined.push_str(&current);
                    break;
                }
            }
        }
        skip_heredocs(&joined, &mut lines);
        let joined = joined.trim();
        let (keyword, args) = joined.split_once(char::is_whitespace).unwrap_or((joined, ""));
        out.push(Instruction { keyword: keyword.to_ascii_uppercase(), args: args.trim().to_string(), line: n as u32 + 1 });
    }
    out
}

/// Consumes the bodies of `<<EOF` heredocs an instruction opened.
fn skip_heredocs<'a>(instruction: &str, lines: &mut std::iter::Peekable<impl Iterator<Item = (usize, &'a str)>>) {
    for delimiter in heredoc_delimiters(instruction) {
        for (_, line) in lines.by_ref() {
            if line.trim() == delimiter {
                break;
            }
        }
    }
}

fn heredoc_delimiters(instruction: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = instruction;
    while let Some(i) = rest.find("<<") {
        rest = &rest[i + 2..];
        let body = rest.strip_prefix('-').unwrap_or(rest);
        let body = body.trim_start_matches(['"', '\'']);
        let len = body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(body.len());
        if len > 0 && body[..len].chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
            out.push(body[..len].to_string());
        }
    }
    out
}

/// The `# escape=` parser directive (default `\`).
fn escape_char(text: &str) -> char {
    for line in text.lines() {
        let Some(directive) = line.trim().strip_prefix('#') else { break };
        if let Some((key, value)) = directive.split_once('=')
            && key.trim().eq_ignore_ascii_case("escape")
            && let Some(c) = value.trim().chars().next()
        {
            return c;
        }
    }
    '\\'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(text: &str, target: Option<&str>) -> (Dockerfile, Vec<String>) {
        let mut findings = Findings::new("Dockerfile");
        let d = read("Dockerfile", text, target, &mut findings);
        (d, findings.into_vec().into_iter().map(|f| f.message).collect())
    }

    #[test]
    fn final_stage_inherits_through_stage_chains() {
        let (d, warnings) = read_str(
            "ARG V=3.12\nARG PY=\"${V}\"\nFROM python:${PY}-slim AS base\nEXPOSE 8080\nUSER app\n\nFROM node:20 AS assets\nRUN npm ci\n\nFROM base\nCMD [\"python\", \"-m\", \"app\"]\n",
            None,
        );
        assert_eq!(d.stages, ["base", "assets", "2"]);
        assert_eq!(d.base_image.as_deref(), Some("python:3.12-slim"));
        assert_eq!(d.exposed_ports, [8080]);
        assert_eq!(d.user.as_deref(), Some("app"));
        assert_eq!(d.cmd.as_deref(), Some("[\"python\", \"-m\", \"app\"]"));
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn build_target_selects_the_stage() {
        let (d, _) = read_str("FROM alpine AS dev\nEXPOSE 3000\nFROM debian AS prod\nEXPOSE 80\n", Some("dev"));
        assert_eq!(d.base_image.as_deref(), Some("alpine"));
        assert_eq!(d.exposed_ports, [3000]);
    }

    #[test]
    fn continuations_heredocs_comments_and_escape() {
        let text = "# escape=`\nFROM mcr.microsoft.com/windows AS w\nRUN echo a `\n  # a comment\n  && echo b\nENV PORT=9000\nEXPOSE $PORT/tcp 7000-7002\nRUN <<EOF\nEXPOSE 1\nEOF\nVOLUME [\"/data\", \"/logs\"]\nHEALTHCHECK CMD curl -f http://localhost/\n";
        let (d, warnings) = read_str(text, None);
        assert_eq!(d.exposed_ports, [7000, 7001, 7002, 9000]);
        assert_eq!(d.volumes, ["/data", "/logs"]);
        assert_eq!(d.healthcheck.as_deref(), Some("CMD curl -f http://localhost/"));
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn variables() {
        let vars = vec![("A".to_string(), "1".to_string()), ("E".to_string(), String::new())];
        assert_eq!(expand("x$A-${A}-${B:-d}-${A:+alt}-${E:-empty}-$-$", &vars), "x1-1-d-alt-empty-$-$");
    }

    #[test]
    fn env_forms() {
        assert_eq!(env_pairs("A=1 B=\"x y\""), [("A".into(), "1".into()), ("B".into(), "x y".into())]);
        assert_eq!(env_pairs("PATH /usr/bin:/bin  "), [("PATH".into(), "/usr/bin:/bin".into())]);
        // Found by the fuzzer: a quoted key followed by multi-byte text.
        assert_eq!(env_pairs("\"DATABAS--\", \"no\u{fffd}\u{fffd} x"), [("DATABAS--,".into(), "\"no\u{fffd}\u{fffd} x".into())]);
        assert!(env_pairs("   ").is_empty());
    }

    #[test]
    fn odd_lines_are_warnings_not_failures() {
        let (d, warnings) = read_str("EXPOSE 80\nFROM\nEXPOSE http\n", None);
        assert!(d.exposed_ports.is_empty());
        assert_eq!(warnings.len(), 3, "{warnings:?}");
    }
}
