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
            Value::Array(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, node)| At { node, path: format!("{}[{i}]", self.path) })
                .collect()),
            Value::Table(_) => Ok(vec![self.clone()]),
            _ => Err(self.wrong("an array of tables")),
        }
    }

    /// Key/value pairs of a table, in file order.
    pub fn entries(&self) -> Result<Vec<(&'a str, At<'a>)>, Problem> {
        match &self.node.value {
            Value::Table(entries) => Ok(entries
                .iter()
                .map(|(k, node)| (k.as_str(), At { node, path: self.child_path(k) }))
                .collect()),
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

    /// A port number; flyctl also accepts it as a numeric string (`"8080"`).
    pub fn port(&self) -> Result<u16, Problem> {
        let n = match &self.node.value {
            Value::Int(i) => Some(*i),
            Value::Str(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        n.and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| self.wrong("a port number (0-65535)"))
    }

    pub fn number(&self) -> Result<f64, Problem> {
        match self.node.value {
            Value::Int(i) => Ok(i as f64),
            Value::Float(f) => Ok(f),
            _ => Err(self.wrong("a number")),
        }
    }

    pub fn u32(&self) -> Result<u32, Problem> {
        match self.node.value {
            Value::Int(i) => u32::try_from(i).map_err(|_| self.wrong("a non-negative integer")),
            _ => Err(self.wrong("a non-negative integer")),
        }
    }

    /// A list of strings; a single string counts as a one-element list.
    pub fn str_list(&self) -> Result<Vec<String>, Problem> {
        match &self.node.value {
            Value::Str(s) => Ok(vec![s.clone()]),
            Value::Array(_) => self.items()?.iter().map(At::str).collect(),
            _ => Err(self.wrong("a list of strings")),
        }
    }
}

/// `Ok(None)` when the key is absent, else the typed read.
pub fn optional<'a, T>(
    parent: &At<'a>,
    key: &str,
    read: impl FnOnce(&At<'a>) -> Result<T, Problem>,
) -> Result<Option<T>, Problem> {
    parent.get(key).map(|at| read(&at)).transpose()
}
