//! A format-independent tree of a config file, with the position of every
//! value, so that every later error can name the file, line and key.

use toml_edit::{Item, Value as TomlValue};

/// 1-based line and column in the source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

#[derive(Clone, Debug)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A TOML datetime, kept as written.
    Datetime(String),
    Array(Vec<Node>),
    /// Keys in file order.
    Table(Vec<(String, Node)>),
}

#[derive(Clone, Debug)]
pub struct Node {
    pub value: Value,
    pub pos: Option<Pos>,
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Table(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short description of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
            Value::Datetime(_) => "a datetime",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

/// Maps byte offsets to line and column.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    pub fn pos(&self, text: &str, offset: usize) -> Pos {
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = text.get(start..offset.min(text.len())).map_or(1, |s| s.chars().count() + 1);
        Pos { line: to_u32(line), column: to_u32(column) }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A TOML syntax error with its position.
pub struct SyntaxError {
    pub message: String,
    pub pos: Option<Pos>,
}

/// Parses TOML into a [`Node`] tree.
pub fn parse_toml(text: &str) -> Result<Node, SyntaxError> {
    let index = LineIndex::new(text);
    let doc = toml_edit::Document::parse(text).map_err(|e| SyntaxError {
        message: e.message().trim().to_string(),
        pos: e.span().map(|s| index.pos(text, s.start)),
    })?;
    let conv = Converter { text, index: &index };
    Ok(conv.table(doc.as_table(), Some(Pos { line: 1, column: 1 })))
}

struct Converter<'a> {
    text: &'a str,
    index: &'a LineIndex,
}

impl Converter<'_> {
    fn pos(&self, span: Option<std::ops::Range<usize>>) -> Option<Pos> {
        span.map(|s| self.index.pos(self.text, s.start))
    }

    fn table(&self, t: &toml_edit::Table, fallback: Option<Pos>) -> Node {
        let entries = t
            .iter()
            .filter_map(|(key, item)| {
                let key_pos = self.pos(t.key(key).and_then(|k| k.span()));
                Some((key.to_string(), self.item(item, key_pos)?))
            })
            .collect();
        Node { value: Value::Table(entries), pos: self.pos(t.span()).or(fallback) }
    }

    fn inline_table(&self, t: &toml_edit::InlineTable, fallback: Option<Pos>) -> Node {
        let entries = t
            .iter()
            .map(|(key, value)| {
                let key_pos = self.pos(t.key(key).and_then(|k| k.span()));
                (key.to_string(), self.value(value, key_pos))
            })
            .collect();
        Node { value: Value::Table(entries), pos: self.pos(t.span()).or(fallback) }
    }

    fn item(&self, item: &Item, key_pos: Option<Pos>) -> Option<Node> {
        Some(match item {
            Item::None => return None,
            Item::Value(v) => self.value(v, key_pos),
            Item::Table(t) => self.table(t, key_pos),
            Item::ArrayOfTables(a) => Node {
                value: Value::Array(a.iter().map(|t| self.table(t, key_pos)).collect()),
                pos: self.pos(a.span()).or(key_pos),
            },
        })
    }

    fn value(&self, v: &TomlValue, key_pos: Option<Pos>) -> Node {
        let pos = self.pos(v.span()).or(key_pos);
        let value = match v {
            TomlValue::String(s) => Value::Str(s.value().clone()),
            TomlValue::Integer(i) => Value::Int(*i.value()),
            TomlValue::Float(f) => Value::Float(*f.value()),
            TomlValue::Boolean(b) => Value::Bool(*b.value()),
            TomlValue::Datetime(d) => Value::Datetime(d.value().to_string()),
            TomlValue::Array(a) => Value::Array(a.iter().map(|v| self.value(v, pos)).collect()),
            TomlValue::InlineTable(t) => return self.inline_table(t, pos),
        };
        Node { value, pos }
    }
}
