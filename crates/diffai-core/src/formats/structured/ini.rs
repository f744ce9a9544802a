//! INI, with a small parser of its own that follows Python's `configparser` (what writes and
//! reads most `.ini`/`.cfg` files around models) rather than rust-ini, which unescapes `\` and
//! strips quotes by default and keeps repeated sections apart.
//!
//! Mapping: the root is a map; keys before any section are root entries; each `[section]` is a
//! map of its keys in file order (a section without keys is an empty map). Values stay strings,
//! as written: no type guessing (`1` and `1.0` differ), no `%(name)s` interpolation, `DEFAULT` is
//! an ordinary section. Syntax as `configparser`'s defaults: `key = value` or `key: value` (the
//! first `=` or `:` splits; key and value are trimmed), whole-line comments starting with `#` or
//! `;`, values continued on more-indented lines (joined with `\n`, blank lines inside kept). Unlike
//! `configparser`: key case is kept (it lowercases keys), a key without `=` or `:` is `Null`
//! (its `allow_no_value`), and a repeated section or key merges into the first one with the last
//! value winning (its `strict=False`).

use crate::value::{Map, Value};

use super::{at, text};

/// Parses a whole INI file.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    let text = text(bytes)?;
    // Keys before any section, then sections in order of first appearance.
    let mut root: Vec<(String, Value)> = Vec::new();
    let mut sections: Vec<(String, Vec<(String, Value)>)> = Vec::new();
    let mut current: Option<usize> = None;
    // The key whose value continuation lines extend, with its line's indentation.
    let mut open: Option<usize> = None;
    let mut open_indent = 0usize;
    for (n, raw) in text.split('\n').enumerate() {
        let line_no = n + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim();
        let indent = line.chars().take_while(|c| c.is_whitespace()).count();
        let entries = match current {
            Some(i) => &mut sections[i].1,
            None => &mut root,
        };
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.is_empty() {
            // A blank line may sit inside a multi-line value; trailing ones are trimmed below.
            if let Some(k) = open {
                if let Value::Str(v) = &mut entries[k].1 {
                    v.push('\n');
                }
            }
            continue;
        }
        if let Some(k) = open.filter(|_| indent > open_indent) {
            if let Value::Str(v) = &mut entries[k].1 {
                v.push('\n');
                v.push_str(trimmed);
                continue;
            }
        }
        close_value(entries, open.take());
        if let Some(rest) = trimmed.strip_prefix('[') {
            let column = indent + 1;
            let Some(end) = rest.rfind(']') else {
                return Err(at(
                    line_no,
                    column,
                    format!("section header '{trimmed}' has no closing ']'"),
                ));
            };
            let after = rest[end + 1..].trim();
            if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
                let offset = after.as_ptr() as usize - line.as_ptr() as usize;
                let col = line[..offset].chars().count() + 1;
                return Err(at(
                    line_no,
                    col,
                    format!("unexpected text after the section header: '{after}'"),
                ));
            }
            let name = rest[..end].trim();
            if name.is_empty() {
                return Err(at(line_no, column, "empty section name '[]'"));
            }
            if root.iter().any(|(k, _)| k == name) {
                return Err(at(
                    line_no,
                    column,
                    format!("section [{name}] has the name of a key before the first section"),
                ));
            }
            current = Some(match sections.iter().position(|(s, _)| s == name) {
                Some(i) => i,
                None => {
                    sections.push((name.to_string(), Vec::new()));
                    sections.len() - 1
                }
            });
            continue;
        }
        let (key, value) = match trimmed.find(['=', ':']) {
            Some(i) => (
                trimmed[..i].trim_end(),
                Value::Str(trimmed[i + 1..].trim_start().to_string()),
            ),
            None => (trimmed, Value::Null),
        };
        if key.is_empty() {
            return Err(at(
                line_no,
                indent + 1,
                format!("a value without a key: '{trimmed}'"),
            ));
        }
        let is_str = matches!(value, Value::Str(_));
        let at_index = match entries.iter().position(|(k, _)| k == key) {
            Some(i) => {
                entries[i].1 = value;
                i
            }
            None => {
                entries.push((key.to_string(), value));
                entries.len() - 1
            }
        };
        if is_str {
            open = Some(at_index);
            open_indent = indent;
        }
    }
    let entries = match current {
        Some(i) => &mut sections[i].1,
        None => &mut root,
    };
    close_value(entries, open);

    let mut map = Map::new();
    for (k, v) in root {
        map.push(k, v);
    }
    for (name, entries) in sections {
        map.push(name, Value::Map(entries.into_iter().collect()));
    }
    Ok(Value::Map(map))
}

/// A multi-line value ends: blank lines at its end are not part of it.
fn close_value(entries: &mut [(String, Value)], open: Option<usize>) {
    if let Some(Value::Str(v)) = open.map(|k| &mut entries[k].1) {
        let keep = v.trim_end_matches('\n').len();
        v.truncate(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Map {
        match parse(s.as_bytes()) {
            Ok(Value::Map(m)) => m,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn s(m: &Map, k: &str) -> String {
        match m.get(k) {
            Some(Value::Str(s)) => s.clone(),
            other => panic!("{k}: {other:?}"),
        }
    }

    #[test]
    fn sections_keys_and_values() {
        let m = p("top = 1\n; c\n[Main]\nName = a = b\npath: C:\\x\nflag\n  # indented comment\nlong = one\n  two\n\n  three\n\n[empty]\n[Main]\nName = last\n");
        let keys: Vec<&String> = m.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["top", "Main", "empty"]);
        assert_eq!(s(&m, "top"), "1");
        let Some(Value::Map(main)) = m.get("Main") else {
            panic!()
        };
        assert_eq!(s(main, "Name"), "last");
        assert_eq!(s(main, "path"), "C:\\x");
        assert!(matches!(main.get("flag"), Some(Value::Null)));
        assert_eq!(s(main, "long"), "one\ntwo\n\nthree");
        assert!(matches!(m.get("empty"), Some(Value::Map(e)) if e.is_empty()));
    }

    #[test]
    fn errors_are_located() {
        for (text, want) in [
            (
                "[a]\n  [b\n",
                "line 2, column 3: section header '[b' has no closing ']'",
            ),
            (
                "[a] x\n",
                "line 1, column 5: unexpected text after the section header: 'x'",
            ),
            ("= v\n", "line 1, column 1: a value without a key: '= v'"),
            ("[]\n", "line 1, column 1: empty section name '[]'"),
            (
                "a = 1\n[a]\n",
                "line 2, column 1: section [a] has the name of a key before the first section",
            ),
        ] {
            assert_eq!(parse(text.as_bytes()).unwrap_err(), want, "{text:?}");
        }
    }
}
