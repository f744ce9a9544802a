//! YAML through serde-saphyr, with YAML 1.2 core-schema scalars (`yes`, `on` and `off` stay
//! strings; `0o17` is octal, `017` decimal) and anchors, aliases and merge keys (`<<`) resolved.
//!
//! Mapping: mappings → maps in file order (a repeated key keeps its first position and takes the
//! last value, as PyYAML does); sequences → lists; integers → `Int` (exact within the i64/u64
//! range; serde-saphyr infers larger ones as floats); floats (`.nan`, `.inf` included) →
//! `Float`; `null`/`~`/empty → `Null`; `!!binary` → `Bytes`; everything else → `Str`. Scalar keys
//! become text (`1: a` has the key `"1"`); a mapping or sequence used as a key is an error. A file
//! of several documents (`---`) is a list of them; an empty file is `Null`.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Budget, DuplicateKeyPolicy, NonFiniteFloatPolicy, Options};

use crate::value::{Map, Value};

use super::{at, one_line, text, too_deep, MAX_DEPTH};

/// Stack of the thread that parses: serde-saphyr recurses a few times per nesting level, up to
/// 16 KiB per level in an unoptimised build, so [`MAX_DEPTH`] levels need more than the 2 MiB
/// of a rayon or test thread. Only the pages touched are ever committed.
const PARSE_STACK_BYTES: usize = 64 << 20;

/// Parses every document of a YAML file (on a thread of its own, see [`PARSE_STACK_BYTES`]).
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    let text = text(bytes)?;
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("diffai-yaml".into())
            .stack_size(PARSE_STACK_BYTES)
            .spawn_scoped(scope, || parse_text(text))
            .map_err(|e| format!("cannot start a thread to parse YAML: {e}"))?
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn parse_text(text: &str) -> Result<Value, String> {
    let mut options = Options::default();
    options.strict_booleans = true;
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    options.non_finite_float_policy = NonFiniteFloatPolicy::PassThrough;
    options.legacy_octal_numbers = false;
    options.underscored_numbers_as_strings = true;
    options.with_snippet = false;
    options.crop_radius = 0;
    // The default budget stops at 64 levels and 250,000 nodes, less than real data files hold.
    // Without aliases a node needs at least one byte of input, so budgets proportional to the
    // input bound the work linearly; alias expansion keeps serde-saphyr's own limits.
    let scale = text.len().saturating_mul(2);
    let mut budget = Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    budget.max_events = budget.max_events.max(scale);
    budget.max_nodes = budget.max_nodes.max(scale);
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(scale);
    options.budget = Some(budget);
    let docs: Vec<Node> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|e| message(&e))?;
    let mut docs: Vec<Value> = docs.into_iter().map(|n| n.0).collect();
    Ok(match docs.len() {
        0 => Value::Null,
        1 => docs.pop().expect("one document"),
        _ => Value::List(docs),
    })
}

/// One line, `line L, column C: what`, from serde-saphyr's error.
fn message(e: &serde_saphyr::Error) -> String {
    let plain = e.without_snippet().to_string();
    let first = plain.lines().next().unwrap_or("malformed YAML").trim();
    // serde-saphyr appends " at line L, column C" itself; say it first, as every reader does.
    let what = first
        .rfind(" at line ")
        .map_or(first, |i| &first[..i])
        .trim_end_matches(':');
    let what = if what.contains("recursion limit") || what.contains("Depth {") {
        too_deep()
    } else if let Some(i) = what.find("budget breached: ") {
        // `budget breached: Nodes { nodes: 250001 }`: the input expands (through aliases) past
        // one of the budgets set above.
        let which = what[i + "budget breached: ".len()..]
            .split(|c: char| !c.is_alphanumeric())
            .next()
            .unwrap_or("")
            .to_lowercase();
        format!(
            "the document expands past the limit on {which} (twice the input's bytes, at least serde-saphyr's default); aliases referenced many times (a \"billion laughs\" file)?"
        )
    } else {
        what.to_string()
    };
    match e.location() {
        Some(loc) if loc.line() > 0 => at(loc.line() as usize, loc.column() as usize, what),
        _ => one_line(&what),
    }
}

/// A value deserialized by [`NodeVisitor`].
struct Node(Value);

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor).map(Node)
    }
}

/// A mapping key: any scalar, as text.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match d.deserialize_any(NodeVisitor)? {
            Value::Str(s) => Ok(Key(s)),
            Value::Int(i) => Ok(Key(i.to_string())),
            Value::Float(f) => Ok(Key(format_float(f))),
            Value::Bool(b) => Ok(Key(b.to_string())),
            Value::Null => Ok(Key("null".into())),
            Value::Bytes(b) => Ok(Key(String::from_utf8_lossy(&b).into_owned())),
            other => Err(de::Error::custom(format!(
                "a {} as a mapping key is not supported (keys must be scalars)",
                other.kind_name()
            ))),
        }
    }
}

/// A float key as YAML writes it (`.inf`, `.nan`, `1.5`).
fn format_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { ".inf" } else { "-.inf" }.into()
    } else {
        format!("{f:?}")
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(i128::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(NodeVisitor)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Node(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some((Key(k), Node(v))) = access.next_entry()? {
            map.insert(k, v);
        }
        Ok(Value::Map(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Value {
        parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn scalars_follow_yaml_1_2() {
        let Value::Map(m) = p("a: yes\nb: true\nc: 0o17\nd: 017\ne: .nan\nf: ~\ng: 1.5\nh: '1'\ni: 18446744073709551615\nj: -9223372036854775808\nk: 1_000\nl: 1e-3\nm: 2024-01-01\n") else {
            panic!()
        };
        assert!(matches!(m.get("a"), Some(Value::Str(s)) if s == "yes"));
        assert!(matches!(m.get("b"), Some(Value::Bool(true))));
        assert!(matches!(m.get("c"), Some(Value::Int(15))));
        assert!(matches!(m.get("d"), Some(Value::Float(f)) if *f == 17.0));
        assert!(matches!(m.get("e"), Some(Value::Float(f)) if f.is_nan()));
        assert!(matches!(m.get("f"), Some(Value::Null)));
        assert!(matches!(m.get("g"), Some(Value::Float(f)) if *f == 1.5));
        assert!(matches!(m.get("h"), Some(Value::Str(s)) if s == "1"));
        assert!(matches!(m.get("i"), Some(Value::Int(i)) if *i == u64::MAX as i128));
        assert!(matches!(m.get("j"), Some(Value::Int(i)) if *i == i64::MIN as i128));
        assert!(matches!(m.get("k"), Some(Value::Str(s)) if s == "1_000"));
        assert!(matches!(m.get("l"), Some(Value::Float(f)) if *f == 1e-3));
        assert!(matches!(m.get("m"), Some(Value::Str(s)) if s == "2024-01-01"));
    }

    #[test]
    fn anchors_merges_and_duplicates() {
        let Value::Map(m) = p("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\nk: 1\nk: 2\n1: one\n")
        else {
            panic!()
        };
        let Some(Value::Map(d)) = m.get("d") else {
            panic!()
        };
        assert!(matches!(d.get("x"), Some(Value::Int(1))));
        assert!(matches!(d.get("y"), Some(Value::Int(3))));
        assert!(matches!(m.get("k"), Some(Value::Int(2))));
        assert!(matches!(m.get("1"), Some(Value::Str(_))));
        let keys: Vec<&String> = m.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["base", "d", "k", "1"]);
    }

    #[test]
    fn documents() {
        assert!(matches!(p(""), Value::Null));
        assert!(matches!(p("a: 1\n---\nb: 2\n"), Value::List(l) if l.len() == 2));
    }

    #[test]
    fn errors_are_one_located_line() {
        for (text, want) in [
            ("a: [1, 2\nb: 3\n", "line "),
            ("a: 1\n b: 2\n", "line 2"),
            ("? [1]\n: x\n", "line "),
            ("a: *nope\n", "line 1"),
        ] {
            let e = parse(text.as_bytes()).unwrap_err();
            assert!(e.starts_with(want), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{text:?}: {e}");
        }
    }

    #[test]
    fn depth_is_capped() {
        // At the limit, on a test thread's 2 MiB stack: flow and block nesting.
        let flow = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(flow.as_bytes()).is_ok());
        let block = "- ".repeat(MAX_DEPTH) + "1\n";
        assert!(parse(block.as_bytes()).is_ok());
        for deep in [
            "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1),
            "- ".repeat(MAX_DEPTH + 1) + "1\n",
            "[".repeat(10_000_000),
        ] {
            let e = parse(deep.as_bytes()).unwrap_err();
            assert!(e.contains("nested deeper than 1000 levels"), "{e}");
        }
    }
}
