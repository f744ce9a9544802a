//! JSON (RFC 8259), with a parser of its own rather than serde_json's: integers must stay exact
//! up to i128 (serde_json turns anything past u64 into a float unless its `arbitrary_precision`
//! feature is on, and that feature changes how every `serde_json::Value` in the workspace
//! serializes), objects must keep file order, and nesting is capped without recursion.
//!
//! Mapping: objects → maps in file order (a repeated key keeps its first position and takes the
//! last value, as Python's `json` and JavaScript do); arrays → lists; a number without fraction
//! or exponent → `Int` when it fits i128 (exactly), else `Float`; other numbers → `Float`; strings
//! → `Str`; `true`/`false` → `Bool`; `null` → `Null`. Python's `json` writes `NaN`, `Infinity`
//! and `-Infinity` for non-finite floats: they are accepted as those floats.

use crate::value::{Map, Value};

use super::{at_offset, text, too_deep, MAX_DEPTH};

/// Parses a whole JSON document.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    let text = text(bytes)?;
    let mut p = Parser {
        text,
        s: text.as_bytes(),
        pos: 0,
    };
    let v = p.document()?;
    p.skip_ws();
    if p.pos < p.s.len() {
        return Err(p.error("unexpected text after the JSON value"));
    }
    Ok(v)
}

struct Parser<'a> {
    text: &'a str,
    s: &'a [u8],
    pos: usize,
}

/// An open container while parsing.
enum Frame {
    List(Vec<Value>),
    /// The map so far and the key whose value is being parsed.
    Map(Map, String),
}

impl Parser<'_> {
    fn error(&self, message: impl std::fmt::Display) -> String {
        at_offset(self.text, self.pos, message)
    }

    /// What is at the current position, for messages: `'x'` or `end of input`.
    fn found(&self) -> String {
        match self.text[self.pos.min(self.text.len())..].chars().next() {
            Some(c) if c.is_control() => format!("{:?}", c),
            Some(c) => format!("'{c}'"),
            None => "end of input".into(),
        }
    }

    fn expected(&self, what: &str) -> String {
        self.error(format!("expected {what}, found {}", self.found()))
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// One value with everything nested in it, iteratively (an explicit stack of open
    /// containers), so depth costs heap, not stack.
    fn document(&mut self) -> Result<Value, String> {
        let mut stack: Vec<Frame> = Vec::new();
        'value: loop {
            self.skip_ws();
            let mut v = match self.peek() {
                Some(b'{') => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(self.error(too_deep()));
                    }
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        Value::Map(Map::new())
                    } else {
                        let key = self.key()?;
                        stack.push(Frame::Map(Map::new(), key));
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(self.error(too_deep()));
                    }
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        Value::List(Vec::new())
                    } else {
                        stack.push(Frame::List(Vec::new()));
                        continue 'value;
                    }
                }
                Some(b'"') => Value::Str(self.string()?),
                Some(b't') => self.literal("true", Value::Bool(true))?,
                Some(b'f') => self.literal("false", Value::Bool(false))?,
                Some(b'n') => self.literal("null", Value::Null)?,
                Some(b'N') => self.literal("NaN", Value::Float(f64::NAN))?,
                Some(b'I') => self.literal("Infinity", Value::Float(f64::INFINITY))?,
                Some(b'-') if self.s[self.pos..].starts_with(b"-Infinity") => {
                    self.literal("-Infinity", Value::Float(f64::NEG_INFINITY))?
                }
                Some(b'-' | b'0'..=b'9') => self.number()?,
                _ => return Err(self.expected("a JSON value")),
            };
            // A value is complete: hand it to the open containers, closing those that end here.
            loop {
                match stack.last_mut() {
                    None => return Ok(v),
                    Some(Frame::List(items)) => {
                        items.push(v);
                        self.skip_ws();
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                continue 'value;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                let Some(Frame::List(items)) = stack.pop() else {
                                    unreachable!("top frame is a list")
                                };
                                v = Value::List(items);
                            }
                            _ => return Err(self.expected("',' or ']' after an array element")),
                        }
                    }
                    Some(Frame::Map(map, key)) => {
                        map.insert(std::mem::take(key), v);
                        self.skip_ws();
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                *key = self.key()?;
                                continue 'value;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                let Some(Frame::Map(map, _)) = stack.pop() else {
                                    unreachable!("top frame is a map")
                                };
                                v = Value::Map(map);
                            }
                            _ => return Err(self.expected("',' or '}' after an object entry")),
                        }
                    }
                }
            }
        }
    }

    /// An object key and the `:` after it.
    fn key(&mut self) -> Result<String, String> {
        if self.peek() != Some(b'"') {
            return Err(self.expected("'\"' to start an object key"));
        }
        let key = self.string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.expected("':' after an object key"));
        }
        self.pos += 1;
        Ok(key)
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, String> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.expected("a JSON value"))
        }
    }

    /// A string starting at its opening quote.
    fn string(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(&b) = self.s.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // Positions at ASCII bytes are character boundaries.
            out.push_str(&self.text[start..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(_) => return Err(self.error("control character in a string (escape it)")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    /// One escape sequence starting at its backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), String> {
        self.pos += 1;
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let high = self.hex4()?;
                let c = if (0xD800..0xDC00).contains(&high) {
                    if !self.s[self.pos..].starts_with(b"\\u") {
                        return Err(self.error("unpaired surrogate in a \\u escape"));
                    }
                    self.pos += 2;
                    let low = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&low) {
                        self.pos -= 6;
                        return Err(self.error("unpaired surrogate in a \\u escape"));
                    }
                    0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..0xE000).contains(&high) {
                    self.pos -= 6;
                    return Err(self.error("unpaired surrogate in a \\u escape"));
                } else {
                    high
                };
                out.push(char::from_u32(c).expect("surrogates handled"));
                return Ok(());
            }
            _ => return Err(self.expected("an escape character after '\\'")),
        };
        self.pos += 1;
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self.s.get(self.pos..self.pos + 4);
        let v = digits
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
            .and_then(|d| u32::from_str_radix(std::str::from_utf8(d).ok()?, 16).ok());
        match v {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(self.error("expected four hex digits after '\\u'")),
        }
    }

    /// A number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let from = p.pos;
            while p.peek().is_some_and(|b| b.is_ascii_digit()) {
                p.pos += 1;
            }
            p.pos - from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    return Err(self.error("leading zeros are not allowed in a number"));
                }
            }
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.expected("a digit")),
        }
        let mut integral = true;
        if self.peek() == Some(b'.') {
            integral = false;
            self.pos += 1;
            if digits(self) == 0 {
                return Err(self.expected("a digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            integral = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.expected("a digit in the exponent"));
            }
        }
        let literal = &self.text[start..self.pos];
        if integral {
            if let Ok(i) = literal.parse::<i128>() {
                return Ok(Value::Int(i));
            }
        }
        // Rust's parser rounds correctly; a magnitude past f64's range becomes an infinity,
        // as in Python.
        literal
            .parse::<f64>()
            .map(Value::Float)
            .map_err(|e| at_offset(self.text, start, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Value {
        parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn e(s: &str) -> String {
        parse(s.as_bytes()).unwrap_err()
    }

    #[test]
    fn scalars() {
        assert!(matches!(p("null"), Value::Null));
        assert!(matches!(p(" true "), Value::Bool(true)));
        assert!(matches!(p("-0"), Value::Int(0)));
        assert!(matches!(p("12"), Value::Int(12)));
        assert!(matches!(p("1.0"), Value::Float(f) if f == 1.0));
        assert!(matches!(p("1e2"), Value::Float(f) if f == 100.0));
        assert!(matches!(p("-2.5E-3"), Value::Float(f) if f == -0.0025));
        assert!(matches!(
            p("9007199254740993"),
            Value::Int(9007199254740993)
        ));
        assert!(matches!(
            p("-170141183460469231731687303715884105728"),
            Value::Int(i128::MIN)
        ));
        assert!(
            matches!(p("170141183460469231731687303715884105728"), Value::Float(f) if f == 2f64.powi(127))
        );
        assert!(matches!(p("1e400"), Value::Float(f) if f == f64::INFINITY));
        assert!(matches!(p("NaN"), Value::Float(f) if f.is_nan()));
        assert!(matches!(p("-Infinity"), Value::Float(f) if f == f64::NEG_INFINITY));
        assert!(matches!(p(r#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#),
            Value::Str(s) if s == "a\"\\/\u{8}\u{c}\n\r\té😀"));
    }

    #[test]
    fn containers_keep_order_and_last_duplicate_wins() {
        let Value::Map(m) = p(r#"{"b": 1, "a": [], "b": {"x": [1, [2]]}, "c": {}}"#) else {
            panic!()
        };
        let keys: Vec<&String> = m.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["b", "a", "c"]);
        assert!(matches!(m.get("b"), Some(Value::Map(_))));
    }

    #[test]
    fn errors_name_line_and_column() {
        assert_eq!(
            e("{\n  \"a\": 1\n  \"b\": 2}"),
            "line 3, column 3: expected ',' or '}' after an object entry, found '\"'"
        );
        assert_eq!(
            e("[1, 2"),
            "line 1, column 6: expected ',' or ']' after an array element, found end of input"
        );
        assert_eq!(
            e(""),
            "line 1, column 1: expected a JSON value, found end of input"
        );
        assert_eq!(
            e("{\"a\" 1}"),
            "line 1, column 6: expected ':' after an object key, found '1'"
        );
        assert_eq!(
            e("{a: 1}"),
            "line 1, column 2: expected '\"' to start an object key, found 'a'"
        );
        assert_eq!(
            e("[01]"),
            "line 1, column 3: leading zeros are not allowed in a number"
        );
        assert_eq!(
            e("[1.]"),
            "line 1, column 4: expected a digit after '.', found ']'"
        );
        assert_eq!(e("\"abc"), "line 1, column 5: unterminated string");
        assert_eq!(
            e("\"a\nb\""),
            "line 1, column 3: control character in a string (escape it)"
        );
        assert_eq!(
            e("[tru]"),
            "line 1, column 2: expected a JSON value, found 't'"
        );
        assert_eq!(
            e("{} x"),
            "line 1, column 4: unexpected text after the JSON value"
        );
        assert_eq!(
            e("\"\\ud800x\""),
            "line 1, column 8: unpaired surrogate in a \\u escape"
        );
        assert_eq!(
            e("\"\\x\""),
            "line 1, column 3: expected an escape character after '\\', found 'x'"
        );
        assert_eq!(
            e("\"\\u12\""),
            "line 1, column 4: expected four hex digits after '\\u'"
        );
    }

    #[test]
    fn depth_is_capped() {
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(
            e(&deep).contains("nested deeper than 1000 levels"),
            "{}",
            e(&deep)
        );
        let hostile = "[".repeat(10_000_000);
        assert!(e(&hostile).starts_with("line 1, column 1001: nested deeper"));
    }
}
