//! Typed reads from a [`Node`] tree. Every failure names the key path and
//! the position, e.g. "services[0].internal_port must be a port number
//! (0-65535), found a string".

use crate::node::{Node, Pos, Value};

/// A problem at a key of the config file.
#[derive(Debug)]
pub struct Problem {
    pub message: String,
    pub key: String,
    pub pos: Option<Pos>,
}

/// A node and the key path that leads to it.
#[derive(Clone)]
pub struct At<'a> {
    pub node: &'a Node,
    path: String,
}

impl<'a> At<'a> {
    pub fn root(node: &'a Node) -> Self {
        At { node, path: String::new() }
    }

    /// The key path, e.g. `services[0].ports[1].port`.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_string() } else { format!("{}.{key}", self.path) }
    }

    pub fn problem(&self, message: impl Into<String>) -> Problem {
        Problem { message: message.into(), key: self.path.clone(), pos: self.node.pos }
    }

    fn wrong(&self, expected: &str) -> Problem {
        self.problem(format!("`{}` must be {expected}, found {}", self.path, self.node.type_name()))
    }

    /// The child at `key`, if present.
    pub fn get(&self, key: &str) -> Option<At<'a>> {
        self.node.get(key).map(|node| At { node, path: self.child_path(key) })
    }

    /// Elements of an array. A lone table counts as a one-element array,
    /// because flyctl accepts `[mounts]` as well as `[[mounts]]`.
    pub fn items(&self) -> Result<Vec<At<'a>>, Problem> {
        match &self.node.value {
            Value::Array(items) => Ok(items.iter().enumerate().map(|(i, node)| At { node, path: format!("{}[{i}]", self.path) }).collect()),
            Value::Table(_) => Ok(vec![self.clone()]),
            _ => Err(self.wrong("an array of tables")),
        }
    }

    /// Key/value pairs of a table, in file order.
    pub fn entries(&self) -> Result<Vec<(&'a str, At<'a>)>, Problem> {
        match &self.node.value {
            Value::Table(entries) => Ok(entries.iter().map(|(k, node)| (k.as_str(), At { node, path: self.child_path(k) })).collect()),
            _ => Err(self.wrong("a table")),
        }
    }

    pub fn str(&self) -> Result<String, Problem> {
        match &self.node.value {
            Value::Str(s) => Ok(s.clone()),
            _ => Err(self.wrong("a string")),
        }
    }

    pub fn bool(&self) -> Result<bool, Problem> {
        match self.node.value {
            Value::Bool(b) => Ok(b),
            _ => Err(self.wrong("a boolean")),
        }
    }

    /// A scalar as text: env values and sizes may be written as numbers.
    pub fn scalar_text(&self) -> Result<String, Problem> {
        match &self.node.value {
            Value::Str(s) | Value::Datetime(s) => Ok(s.clone()),
            Value::Int(i) => Ok(i.to_string()),
            Value::Float(f) => Ok(f.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(self.wrong("a string, number or boolean")),
        }
    }

    /// A port number. (The legacy numeric strings flyctl accepts for
    /// `internal_port` and `ports[].port` are rewritten before this.)
    pub fn port(&self) -> Result<u16, Problem> {
        match self.node.value {
            Value::Int(i) => u16::try_from(i).map_err(|_| self.wrong("a port number (0-65535)")),
            _ => Err(self.wrong("a port number (0-65535)")),
        }
    }

    pub fn number(&self) -> Result<f64, Problem> {
        match self.node.value {
            Value::Int(i) => Ok(i as f64),
            Value::Float(f) => Ok(f),
            _ => Err(self.wrong("a number")),
        }
    }

    /// A duration in milliseconds: a Go duration string (`"15s"`), or a
    /// number in `number_unit_ms` units (checks write ms, kill_timeout s).
    pub fn duration_ms(&self, number_unit_ms: u64) -> Result<u64, Problem> {
        let wrong = || self.wrong("a duration such as \"15s\" or a number");
        match &self.node.value {
            Value::Str(s) => crate::units::go_duration_ms(s).ok_or_else(wrong),
            Value::Int(i) => u64::try_from(*i).ok().and_then(|n| n.checked_mul(number_unit_ms)).ok_or_else(wrong),
            Value::Float(f) if *f >= 0.0 && f.is_finite() => Ok((*f * number_unit_ms as f64) as u64),
            _ => Err(wrong()),
        }
    }

    /// A memory size in MB: a number of MB or a string such as `"1gb"`.
    pub fn size_mb(&self) -> Result<u32, Problem> {
        let wrong = || self.wrong("a size such as \"512mb\" or \"1gb\"");
        let mb = match &self.node.value {
            Value::Str(s) => crate::units::size_mb(s),
            Value::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        };
        mb.and_then(|mb| u32::try_from(mb).ok()).ok_or_else(wrong)
    }

    /// True when the value is a string.
    pub fn is_str(&self) -> bool {
        matches!(self.node.value, Value::Str(_))
    }

    /// A non-negative integer.
    pub fn u32(&self) -> Result<u32, Problem> {
        match self.node.value {
            Value::Int(i) => u32::try_from(i).map_err(|_| self.wrong("a non-negative integer")),
            _ => Err(self.wrong("a non-negative integer")),
        }
    }

    /// A list of strings (flyctl rejects a lone string where it expects a list).
    pub fn str_list(&self) -> Result<Vec<String>, Problem> {
        match &self.node.value {
            Value::Array(_) => self.items_any().iter().map(At::str).collect(),
            _ => Err(self.wrong("a list of strings, such as [\"web\"]")),
        }
    }

    /// A list of strings, or one string as a list of one (`[experimental] cmd`).
    pub fn str_or_list(&self) -> Result<Vec<String>, Problem> {
        match &self.node.value {
            Value::Str(s) => Ok(vec![s.clone()]),
            _ => self.str_list(),
        }
    }

    /// Elements of an array, whatever their type.
    fn items_any(&self) -> Vec<At<'a>> {
        match &self.node.value {
            Value::Array(items) => items.iter().enumerate().map(|(i, node)| At { node, path: format!("{}[{i}]", self.path) }).collect(),
            _ => Vec::new(),
        }
    }
}

/// `Ok(None)` when the key is absent, else the typed read.
pub fn optional<'a, T>(parent: &At<'a>, key: &str, read: impl FnOnce(&At<'a>) -> Result<T, Problem>) -> Result<Option<T>, Problem> {
    parent.get(key).map(|at| read(&at)).transpose()
}
