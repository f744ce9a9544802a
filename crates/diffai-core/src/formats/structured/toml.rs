//! TOML through the `toml` crate (TOML 1.1), tables kept in file order (its `preserve_order`).
//!
//! Mapping: tables (`[a]`, inline, dotted keys, arrays of tables) → maps in file order; arrays →
//! lists; integers → `Int` (TOML integers are 64-bit; larger ones are an error of the format);
//! floats (`nan`, `inf` included) → `Float`; booleans → `Bool`; strings → `Str`; dates and times
//! → `Str` in their RFC 3339 spelling (`1979-05-27T07:32:00Z`, `1979-05-27T00:32:00.999-07:00`,
//! local `1979-05-27T07:32:00`, `1979-05-27`, `07:32:00`). TOML has no null. A repeated key or
//! table is an error, as the format requires. The `toml` parser stops nesting at 80 levels.

use crate::value::{Map, Value};

use super::{at_offset, one_line, text, too_deep, MAX_DEPTH};

/// Parses a whole TOML document into its root table.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    let text = text(bytes)?;
    let table: ::toml::Table = ::toml::from_str(text).map_err(|e| {
        let message = e.message().trim().replace('\n', "; ");
        match e.span() {
            Some(span) => at_offset(text, span.start, message),
            None => one_line(&message),
        }
    })?;
    convert_table(table, 1)
}

fn convert_table(table: ::toml::Table, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    let mut map = Map::new();
    for (k, v) in table {
        map.push(k, convert(v, depth)?);
    }
    Ok(Value::Map(map))
}

fn convert(v: ::toml::Value, depth: usize) -> Result<Value, String> {
    use ::toml::Value as T;
    Ok(match v {
        T::String(s) => Value::Str(s),
        T::Integer(i) => Value::Int(i.into()),
        T::Float(f) => Value::Float(f),
        T::Boolean(b) => Value::Bool(b),
        T::Datetime(d) => Value::Str(d.to_string()),
        T::Array(items) => {
            if depth + 1 > MAX_DEPTH {
                return Err(too_deep());
            }
            Value::List(
                items
                    .into_iter()
                    .map(|v| convert(v, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        T::Table(t) => convert_table(t, depth + 1)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Value {
        parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn order_types_and_dates() {
        let Value::Map(m) = p("z = 1\na = 1979-05-27T07:32:00Z\nb = 1979-05-27\n[t]\ny = [1, 2.5, \"x\"]\nx = nan\n[[arr]]\nk = 1\n[[arr]]\nk = 2\n")
        else {
            panic!()
        };
        let keys: Vec<&String> = m.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["z", "a", "b", "t", "arr"]);
        assert!(matches!(m.get("a"), Some(Value::Str(s)) if s == "1979-05-27T07:32:00Z"));
        assert!(matches!(m.get("b"), Some(Value::Str(s)) if s == "1979-05-27"));
        let Some(Value::Map(t)) = m.get("t") else {
            panic!()
        };
        let keys: Vec<&String> = t.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["y", "x"]);
        assert!(matches!(m.get("arr"), Some(Value::List(l)) if l.len() == 2));
    }

    #[test]
    fn errors_are_one_located_line() {
        for (text, want) in [
            ("a = 1\na = 2\n", "line 2, column 1: "),
            ("a = [1,\nb = 2\n", "line 2"),
            ("a = 99999999999999999999\n", "line 1, column 5: "),
            (
                "[t]\nx = \"unterminated\n",
                "line 2, column 18: invalid basic string",
            ),
        ] {
            let e = parse(text.as_bytes()).unwrap_err();
            assert!(e.starts_with(want), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{text:?}: {e}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let deep = "a = ".to_string() + &"[".repeat(100_000) + &"]".repeat(100_000);
        assert!(parse(deep.as_bytes()).is_err());
    }
}
