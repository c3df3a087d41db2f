//! A format-independent tree of a config file, with the position of every
//! value, so that every later error can name the file, line and key.
//!
//! flyctl reads fly.toml as TOML, or as JSON or YAML by the file's suffix;
//! all three become the same [`Node`] tree here. JSON carries no positions
//! past its syntax errors (serde_json keeps none); TOML and YAML do.

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
    pub fn new(value: Value, pos: Option<Pos>) -> Self {
        Node { value, pos }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Table(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.value {
            Value::Table(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Removes `key` from a table, returning its value.
    pub fn take(&mut self, key: &str) -> Option<Node> {
        match &mut self.value {
            Value::Table(entries) => {
                let i = entries.iter().position(|(k, _)| k == key)?;
                Some(entries.remove(i).1)
            }
            _ => None,
        }
    }

    /// Sets `key` in a table, replacing any value it had.
    pub fn set(&mut self, key: &str, node: Node) {
        if let Value::Table(entries) = &mut self.value {
            match entries.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = node,
                None => entries.push((key.to_string(), node)),
            }
        }
    }

    pub fn is_table(&self) -> bool {
        matches!(self.value, Value::Table(_))
    }

    /// A table's entries, if it is one.
    pub fn entries(&self) -> Option<&[(String, Node)]> {
        match &self.value {
            Value::Table(e) => Some(e),
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
    let doc = toml_edit::Document::parse(text)
        .map_err(|e| SyntaxError { message: e.message().trim().to_string(), pos: e.span().map(|s| index.pos(text, s.start)) })?;
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
            Item::ArrayOfTables(a) => Node { value: Value::Array(a.iter().map(|t| self.table(t, key_pos)).collect()), pos: self.pos(a.span()).or(key_pos) },
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

/// Parses JSON into a [`Node`] tree. `null` values are dropped, as Go's
/// unmarshalling leaves such fields at their zero value.
pub fn parse_json(text: &str) -> Result<Node, SyntaxError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| SyntaxError { message: strip_position(&e.to_string()), pos: Some(Pos { line: to_u32(e.line()), column: to_u32(e.column()) }) })?;
    Ok(from_json(value))
}

/// serde_json appends " at line L column C"; the position is reported apart.
fn strip_position(message: &str) -> String {
    message.split(" at line ").next().unwrap_or(message).to_string()
}

fn from_json(value: serde_json::Value) -> Node {
    use serde_json::Value as J;
    let value = match value {
        J::Null => Value::Table(Vec::new()),
        J::Bool(b) => Value::Bool(b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::Str(s),
        J::Array(items) => Value::Array(items.into_iter().map(from_json).collect()),
        J::Object(map) => Value::Table(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, from_json(v))).collect()),
    };
    Node { value, pos: None }
}

/// A node as JSON, the way flyctl sees fly.toml after its TOML -> JSON
/// round trip (a datetime becomes its text).
pub fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &node.value {
        Value::Str(s) | Value::Datetime(s) => J::String(s.clone()),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
        Value::Bool(b) => J::Bool(*b),
        Value::Array(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Table(entries) => J::Object(entries.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

/// Parses YAML into a [`Node`] tree (the first document).
pub fn parse_yaml(text: &str) -> Result<Node, SyntaxError> {
    use saphyr::{LoadableYamlNode, MarkedYaml};
    let docs = MarkedYaml::load_from_str(text).map_err(|e| SyntaxError { message: e.info().to_string(), pos: Some(marker_pos(e.marker())) })?;
    match docs.into_iter().next() {
        Some(doc) => from_yaml(&doc),
        None => Ok(Node { value: Value::Table(Vec::new()), pos: Some(Pos { line: 1, column: 1 }) }),
    }
}

fn marker_pos(m: &saphyr::Marker) -> Pos {
    Pos { line: to_u32(m.line()), column: to_u32(m.col() + 1) }
}

fn from_yaml(node: &saphyr::MarkedYaml<'_>) -> Result<Node, SyntaxError> {
    use saphyr::{Scalar, YamlData};
    let pos = Some(marker_pos(&node.span.start));
    let value = match &node.data {
        YamlData::Value(Scalar::Null) => Value::Table(Vec::new()),
        YamlData::Value(Scalar::Boolean(b)) => Value::Bool(*b),
        YamlData::Value(Scalar::Integer(i)) => Value::Int(*i),
        YamlData::Value(Scalar::FloatingPoint(f)) => Value::Float(f.into_inner()),
        YamlData::Value(Scalar::String(s)) => Value::Str(s.to_string()),
        YamlData::Representation(s, _, _) => Value::Str(s.to_string()),
        YamlData::Sequence(items) => Value::Array(items.iter().map(from_yaml).collect::<Result<_, _>>()?),
        YamlData::Mapping(map) => {
            let mut entries = Vec::with_capacity(map.len());
            for (k, v) in map.iter() {
                let key = match &k.data {
                    YamlData::Value(Scalar::String(s)) => s.to_string(),
                    YamlData::Value(other) => yaml_scalar_text(other),
                    _ => return Err(SyntaxError { message: "mapping keys must be scalars".into(), pos: Some(marker_pos(&k.span.start)) }),
                };
                if matches!(v.data, YamlData::Value(Scalar::Null)) {
                    continue;
                }
                entries.push((key, from_yaml(v)?));
            }
            Value::Table(entries)
        }
        YamlData::Tagged(_, inner) => return from_yaml(inner),
        YamlData::Alias(_) => return Err(SyntaxError { message: "YAML aliases are not supported in fly.yaml".into(), pos }),
        YamlData::BadValue => return Err(SyntaxError { message: "invalid YAML value".into(), pos }),
    };
    Ok(Node { value, pos })
}

fn yaml_scalar_text(s: &saphyr::Scalar<'_>) -> String {
    use saphyr::Scalar;
    match s {
        Scalar::Null => "null".into(),
        Scalar::Boolean(b) => b.to_string(),
        Scalar::Integer(i) => i.to_string(),
        Scalar::FloatingPoint(f) => f.to_string(),
        Scalar::String(s) => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(node: &Node) -> String {
        match &node.value {
            Value::Str(s) => format!("{s:?}"),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Datetime(d) => d.clone(),
            Value::Array(items) => format!("[{}]", items.iter().map(shape).collect::<Vec<_>>().join(",")),
            Value::Table(e) => format!("{{{}}}", e.iter().map(|(k, v)| format!("{k}={}", shape(v))).collect::<Vec<_>>().join(",")),
        }
    }

    #[test]
    fn the_three_formats_give_the_same_tree() {
        let toml = parse_toml("app = \"a\"\n[[services]]\ninternal_port = 8080\nports = [{port = 80}]\n").ok().unwrap();
        let json = parse_json(r#"{"app": "a", "services": [{"internal_port": 8080, "ports": [{"port": 80}]}]}"#).ok().unwrap();
        let yaml = parse_yaml("app: a\nservices:\n  - internal_port: 8080\n    ports:\n      - port: 80\n").ok().unwrap();
        assert_eq!(shape(&toml), shape(&json));
        assert_eq!(shape(&toml), shape(&yaml));
    }

    #[test]
    fn positions_are_one_based() {
        let yaml = parse_yaml("app: a\nservices:\n  - internal_port: 8080\n").ok().unwrap();
        let svc = &yaml.get("services").unwrap();
        let Value::Array(items) = &svc.value else { panic!() };
        assert_eq!(items[0].get("internal_port").unwrap().pos, Some(Pos { line: 3, column: 20 }));
        let toml = parse_toml("\n\napp = 'x'\n").ok().unwrap();
        assert_eq!(toml.get("app").unwrap().pos, Some(Pos { line: 3, column: 7 }));
    }

    #[test]
    fn syntax_errors_carry_positions() {
        let e = parse_json("{\n  \"app\": \n}").err().unwrap();
        assert_eq!(e.pos.map(|p| p.line), Some(3));
        assert!(!e.message.contains(" at line "), "{}", e.message);
        let e = parse_yaml("app: [a\n").err().unwrap();
        assert!(e.pos.is_some());
    }
}
