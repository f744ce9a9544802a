//! The value tree every reader produces and the diff engine walks.

use std::collections::HashMap;

use crate::tensor::Tensor;

/// One node of an artifact. Maps keep insertion order.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    /// Integers of any source width (i64 and u64 both fit).
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Map(Map),
    /// Boxed: a tensor leaf is large and rare beside scalars, so every other value stays small.
    Tensor(Box<Tensor>),
}

impl Value {
    /// The kind name used in messages and type-change reports.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Tensor(_) => "tensor",
        }
    }

    /// Converts parsed JSON (headers, index files) into a value tree.
    pub fn from_json(v: serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i as i128)
                } else if let Some(u) = n.as_u64() {
                    Value::Int(u as i128)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Value::Str(s),
            serde_json::Value::Array(items) => {
                Value::List(items.into_iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(obj) => Value::Map(
                obj.into_iter()
                    .map(|(k, v)| (k, Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The node at a display path (`model_state_dict`, `optimizer.param_groups[0]`); map keys may
    /// themselves contain dots, so the longest key matching the path's start wins.
    pub fn subtree(&self, path: &str) -> Option<&Value> {
        if path.is_empty() {
            return Some(self);
        }
        match self {
            Value::Map(m) => m
                .iter()
                .filter(|(k, _)| {
                    path == k.as_str()
                        || (path.starts_with(k.as_str())
                            && matches!(path.as_bytes().get(k.len()), Some(b'.') | Some(b'[')))
                })
                .max_by_key(|(k, _)| k.len())
                .and_then(|(k, v)| v.subtree(path[k.len()..].trim_start_matches('.'))),
            Value::List(items) => {
                let rest = path.strip_prefix('[')?;
                let close = rest.find(']')?;
                let index: usize = rest[..close].parse().ok()?;
                items
                    .get(index)?
                    .subtree(rest[close + 1..].trim_start_matches('.'))
            }
            _ => None,
        }
    }

    /// Every tensor in the tree with its path, in tree order.
    pub fn tensors(&self) -> Vec<(String, &Tensor)> {
        self.leaves()
            .into_iter()
            .filter_map(|(p, v)| match v {
                Value::Tensor(t) => Some((p, &**t)),
                _ => None,
            })
            .collect()
    }

    /// Every leaf (tensor, scalar or empty container) with its path, in tree order.
    pub fn leaves(&self) -> Vec<(String, &Value)> {
        self.leaves_except(&|_| false)
    }

    /// Like [`Value::leaves`], skipping map entries whose key `skip` accepts (at any depth).
    pub fn leaves_except(&self, skip: &dyn Fn(&str) -> bool) -> Vec<(String, &Value)> {
        self.leaves_with(skip, None)
    }

    /// Like [`Value::leaves_except`]; with `id_key`, the elements of a list of maps that all hold
    /// a scalar under that key are named by it (`items[id=7].score`) instead of by position, so
    /// reordering such a list changes no path.
    pub fn leaves_with(
        &self,
        skip: &dyn Fn(&str) -> bool,
        id_key: Option<&str>,
    ) -> Vec<(String, &Value)> {
        let mut out = Vec::new();
        self.walk_leaves(&mut String::new(), skip, id_key, &mut out);
        out
    }

    fn walk_leaves<'a>(
        &'a self,
        path: &mut String,
        skip: &dyn Fn(&str) -> bool,
        id_key: Option<&str>,
        out: &mut Vec<(String, &'a Value)>,
    ) {
        match self {
            Value::Map(m) if !m.is_empty() => {
                for (k, v) in m.iter() {
                    if skip(k) {
                        continue;
                    }
                    let len = path.len();
                    push_key(path, k);
                    v.walk_leaves(path, skip, id_key, out);
                    path.truncate(len);
                }
            }
            Value::List(items) if !items.is_empty() => {
                let ids: Option<Vec<String>> =
                    id_key.and_then(|k| items.iter().map(|v| element_id(v, k)).collect());
                for (i, v) in items.iter().enumerate() {
                    let len = path.len();
                    match (&ids, id_key) {
                        (Some(ids), Some(k)) => {
                            path.push_str(&format!("[{k}={}]", ids[i]));
                        }
                        _ => push_index(path, i),
                    }
                    v.walk_leaves(path, skip, id_key, out);
                    path.truncate(len);
                }
            }
            leaf => out.push((path.clone(), leaf)),
        }
    }
}

/// The identity of a list element for `--array-id-key`: its scalar value under `key`.
fn element_id(v: &Value, key: &str) -> Option<String> {
    let Value::Map(m) = v else { return None };
    match m.get(key)? {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Appends a map key to a display path: `a` + `b` → `a.b`.
pub fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

/// Appends a list index to a display path: `a` + 0 → `a[0]`.
pub fn push_index(path: &mut String, index: usize) {
    path.push('[');
    path.push_str(&index.to_string());
    path.push(']');
}

/// An insertion-ordered map with string keys. Maps of [`INDEX_FROM`] entries or more also keep a
/// hash index, so building or querying a large map (a JSON object of 100,000 keys) stays linear.
#[derive(Debug, Clone, Default)]
pub struct Map {
    entries: Vec<(String, Value)>,
    /// Position of each key in `entries`; none until the map reaches [`INDEX_FROM`] entries
    /// (boxed, so a small map costs one pointer for it).
    #[allow(clippy::box_collection)] // the point: one pointer inline instead of 48 bytes
    index: Option<Box<HashMap<String, usize>>>,
}

/// Entries from which a map keeps a hash index: below it, a scan of a few keys is as fast as
/// hashing and costs no memory.
pub const INDEX_FROM: usize = 16;

impl Map {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an entry; a repeated key replaces the earlier value in place.
    pub fn insert(&mut self, key: String, value: Value) {
        match self.position(&key) {
            Some(at) => self.entries[at].1 = value,
            None => self.push(key, value),
        }
    }

    /// Appends without checking for a repeated key (callers that know keys are unique).
    pub fn push(&mut self, key: String, value: Value) {
        if let Some(index) = &mut self.index {
            index.entry(key.clone()).or_insert(self.entries.len());
        }
        self.entries.push((key, value));
        if self.entries.len() == INDEX_FROM {
            self.reindex();
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).map(|at| &self.entries[at].1)
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            None => self.entries.iter().position(|(k, _)| k == key),
            Some(index) => index.get(key).copied(),
        }
    }

    /// Rebuilds the index (the first position of each key) when the map is large enough.
    fn reindex(&mut self) {
        self.index = (self.entries.len() >= INDEX_FROM).then(|| {
            let mut index = HashMap::with_capacity(self.entries.len());
            for (at, (k, _)) in self.entries.iter().enumerate() {
                index.entry(k.clone()).or_insert(at);
            }
            Box::new(index)
        });
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str, &Value) -> bool) {
        self.entries.retain(|(k, v)| keep(k, v));
        self.reindex();
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}

impl IntoIterator for Map {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl FromIterator<(String, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        let mut m = Map::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

/// Orders names so that embedded numbers compare by value: `layers.2` before `layers.10`.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (na, nb) = (&a[..da], &b[..db]);
                let ta = trim_zeros(na);
                let tb = trim_zeros(nb);
                let ord = ta
                    .len()
                    .cmp(&tb.len())
                    .then_with(|| ta.cmp(tb))
                    .then_with(|| da.cmp(&db));
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[da..];
                b = &b[db..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let start = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_keep_order_and_replace_repeated_keys_at_any_size() {
        for n in [3usize, INDEX_FROM - 1, INDEX_FROM, 1000] {
            let mut m = Map::new();
            for i in 0..n {
                m.insert(format!("k{i}"), Value::Int(i as i128));
            }
            m.insert("k1".into(), Value::Int(-1));
            assert_eq!(m.len(), n, "{n}");
            assert!(matches!(m.get("k1"), Some(Value::Int(-1))), "{n}");
            assert!(matches!(m.get(&format!("k{}", n - 1)), Some(Value::Int(_))));
            assert!(m.get("absent").is_none());
            m.retain(|k, _| k != "k0");
            assert!(m.get("k0").is_none(), "{n}");
            assert!(
                matches!(m.get("k2"), Some(Value::Int(2))),
                "{n} after retain"
            );
            let keys: Vec<&String> = m.iter().map(|(k, _)| k).collect();
            assert_eq!(keys[0], "k1");
        }
    }

    #[test]
    fn natural_order_compares_numbers_by_value() {
        let mut names = vec![
            "layers.10.w",
            "layers.2.w",
            "layers.1.w",
            "emb",
            "layers.02.w",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            vec![
                "emb",
                "layers.1.w",
                "layers.2.w",
                "layers.02.w",
                "layers.10.w"
            ]
        );
    }

    #[test]
    fn subtrees_by_path() {
        let mut inner = Map::new();
        inner.push("fc1.weight".into(), Value::Int(1));
        let mut root = Map::new();
        root.push("model".into(), Value::Map(inner));
        root.push(
            "groups".into(),
            Value::List(vec![Value::Int(7), Value::Int(8)]),
        );
        let root = Value::Map(root);
        assert!(matches!(
            root.subtree("model.fc1.weight"),
            Some(Value::Int(1))
        ));
        assert!(matches!(root.subtree("model"), Some(Value::Map(_))));
        assert!(matches!(root.subtree("groups[1]"), Some(Value::Int(8))));
        assert!(root.subtree("model.fc2").is_none());
        assert!(root.subtree("groups[2]").is_none());
    }

    #[test]
    fn map_insert_replaces_in_place() {
        let mut m = Map::new();
        m.insert("a".into(), Value::Int(1));
        m.insert("b".into(), Value::Int(2));
        m.insert("a".into(), Value::Int(3));
        let keys: Vec<_> = m.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys, vec!["a", "b"]);
        assert!(matches!(m.get("a"), Some(Value::Int(3))));
    }
}
