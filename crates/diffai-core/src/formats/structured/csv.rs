//! CSV (RFC 4180) and TSV, with a small parser of its own: whether a field was quoted decides
//! whether it may be a number, and the `csv` crate does not say.
//!
//! Layout: the first record is the header (required). The tree is
//! - `rows`: a list with one map per record, column name → cell, in column order;
//! - `columns`: for every column whose non-empty cells are all numbers (and that has at least
//!   one), a 1-D float64 tensor of its cells in row order, an empty cell being NaN, so the
//!   statistics of the column (mean, std, min, max old → new) come with the diff. Left out when
//!   no column is numeric.
//!
//! Cells: an empty unquoted cell → `Null`; an unquoted integer (`-12`) → `Int` (exact within
//! i128); an unquoted decimal number (`1.5`, `.5`, `1e-3`, `nan`, `inf`, `-Infinity`, any case)
//! → `Float`; anything else, and every quoted cell (`"42"`), → `Str` as written. Numbers may have
//! spaces around them. Quoted fields hold delimiters, doubled quotes (`""`) and line breaks;
//! text after a closing quote is kept (`"a"b` is `ab`, as Python's `csv` reads it). Records end
//! at `\n`, `\r\n` or `\r`; empty lines are skipped. A repeated column name gets a suffix (`x`,
//! `x.1`, `x.2`) and an empty one is `Unnamed: <index>`, as pandas names them. A record with more
//! or fewer fields than the header is an error naming its line.

use crate::tensor::{ByteSource, DType, Tensor};
use crate::value::{Map, Value};

use super::{at_offset, text};

/// `,` unless the header line has tabs and no commas.
pub fn guess_delimiter(bytes: &[u8]) -> u8 {
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    if !first.contains(&b',') && first.contains(&b'\t') {
        b'\t'
    } else {
        b','
    }
}

/// One field as read: its text and whether it was quoted.
struct Field {
    text: String,
    quoted: bool,
    /// Byte offset of the field's first character, for messages.
    start: usize,
}

/// Parses a whole CSV file with the given delimiter (`,` or `\t`).
pub fn parse(bytes: &[u8], delimiter: u8) -> Result<Value, String> {
    let text = text(bytes)?;
    let mut reader = Records {
        text,
        s: text.as_bytes(),
        pos: 0,
        delimiter,
    };
    let Some((_, header)) = reader.next_record()? else {
        return Err(at_offset(text, 0, "no header row (a CSV file needs one)"));
    };
    let names = column_names(&header);
    let mut rows = Vec::new();
    let mut numeric: Vec<Option<Vec<f64>>> = vec![Some(Vec::new()); names.len()];
    let mut seen_number = vec![false; names.len()];
    while let Some((start, fields)) = reader.next_record()? {
        if fields.len() != names.len() {
            let offset = fields.get(names.len()).map_or(start, |f| f.start);
            return Err(at_offset(
                text,
                offset,
                format!(
                    "a record of {} field{}, but the header has {}",
                    fields.len(),
                    if fields.len() == 1 { "" } else { "s" },
                    names.len()
                ),
            ));
        }
        let mut row = Map::new();
        for (i, field) in fields.into_iter().enumerate() {
            let value = cell(field.text, field.quoted);
            if let Some(col) = &mut numeric[i] {
                match value {
                    Value::Int(v) => {
                        col.push(v as f64);
                        seen_number[i] = true;
                    }
                    Value::Float(v) => {
                        col.push(v);
                        seen_number[i] = true;
                    }
                    Value::Null => col.push(f64::NAN),
                    _ => numeric[i] = None,
                }
            }
            row.push(names[i].clone(), value);
        }
        rows.push(Value::Map(row));
    }
    let mut columns = Map::new();
    for ((name, col), seen) in names.iter().zip(numeric).zip(seen_number) {
        if let (Some(col), true) = (col, seen) {
            let n = col.len() as u64;
            let bytes: Vec<u8> = col.iter().flat_map(|v| v.to_le_bytes()).collect();
            columns.push(
                name.clone(),
                Value::Tensor(Box::new(Tensor::dense(
                    DType::F64,
                    vec![n],
                    ByteSource::owned(bytes),
                ))),
            );
        }
    }
    let mut root = Map::new();
    root.push("rows".into(), Value::List(rows));
    if !columns.is_empty() {
        root.push("columns".into(), Value::Map(columns));
    }
    Ok(Value::Map(root))
}

/// Header names made unique the way pandas does it.
fn column_names(header: &[Field]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(header.len());
    for (i, f) in header.iter().enumerate() {
        let base = if f.text.is_empty() {
            format!("Unnamed: {i}")
        } else {
            f.text.clone()
        };
        let mut name = base.clone();
        let mut k = 0;
        while names.contains(&name) {
            k += 1;
            name = format!("{base}.{k}");
        }
        names.push(name);
    }
    names
}

/// The value of one cell (see the module documentation).
fn cell(text: String, quoted: bool) -> Value {
    if quoted {
        return Value::Str(text);
    }
    if text.is_empty() {
        return Value::Null;
    }
    let t = text.trim_matches(' ');
    if is_integer(t) {
        if let Ok(i) = t.parse::<i128>() {
            return Value::Int(i);
        }
    }
    if is_integer(t) || is_decimal(t) {
        if let Ok(f) = t.parse::<f64>() {
            return Value::Float(f);
        }
    }
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if ["nan", "inf", "infinity"]
        .iter()
        .any(|w| unsigned.eq_ignore_ascii_case(w))
    {
        let f = if unsigned.eq_ignore_ascii_case("nan") {
            f64::NAN
        } else if t.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
        return Value::Float(f);
    }
    Value::Str(text)
}

/// `[+-]?[0-9]+`
fn is_integer(t: &str) -> bool {
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `[+-]?(d+ | d+.d* | .d+)([eE][+-]?d+)?`
fn is_decimal(t: &str) -> bool {
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((a, b)) => (a, b),
        None => (mantissa, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = all_digits(int) && all_digits(frac) && !(int.is_empty() && frac.is_empty());
    let exponent_ok = exponent.is_none_or(is_integer);
    mantissa_ok && exponent_ok
}

struct Records<'a> {
    text: &'a str,
    s: &'a [u8],
    pos: usize,
    delimiter: u8,
}

impl Records<'_> {
    /// The next non-empty record with its starting offset, or `None` at the end.
    fn next_record(&mut self) -> Result<Option<(usize, Vec<Field>)>, String> {
        // Empty lines are not records.
        while let Some(b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos += 1;
        }
        if self.pos >= self.s.len() {
            return Ok(None);
        }
        let start = self.pos;
        let mut fields = Vec::new();
        loop {
            let (field, end) = self.field()?;
            fields.push(field);
            match end {
                End::Delimiter => continue,
                End::Record => return Ok(Some((start, fields))),
            }
        }
    }

    /// One field and what ended it; the position moves past the delimiter or line break.
    fn field(&mut self) -> Result<(Field, End), String> {
        let start = self.pos;
        let mut text = String::new();
        let quoted = self.s.get(self.pos) == Some(&b'"');
        if quoted {
            self.pos += 1;
            loop {
                let from = self.pos;
                while self.s.get(self.pos).is_some_and(|&b| b != b'"') {
                    self.pos += 1;
                }
                text.push_str(&self.text[from..self.pos]);
                if self.pos >= self.s.len() {
                    return Err(at_offset(
                        self.text,
                        start,
                        "a quoted field is not closed before the end of the file",
                    ));
                }
                self.pos += 1; // the quote
                if self.s.get(self.pos) == Some(&b'"') {
                    text.push('"');
                    self.pos += 1;
                } else {
                    break;
                }
            }
        }
        // Unquoted text, or what follows a closing quote, up to the delimiter or line end.
        let from = self.pos;
        while self
            .s
            .get(self.pos)
            .is_some_and(|&b| b != self.delimiter && b != b'\n' && b != b'\r')
        {
            self.pos += 1;
        }
        text.push_str(&self.text[from..self.pos]);
        let end = match self.s.get(self.pos) {
            Some(&b) if b == self.delimiter => {
                self.pos += 1;
                End::Delimiter
            }
            Some(b'\r') => {
                self.pos += 1;
                if self.s.get(self.pos) == Some(&b'\n') {
                    self.pos += 1;
                }
                End::Record
            }
            Some(_) => {
                self.pos += 1;
                End::Record
            }
            None => End::Record,
        };
        Ok((
            Field {
                text,
                quoted,
                start,
            },
            end,
        ))
    }
}

enum End {
    Delimiter,
    Record,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells() {
        let c = |s: &str| cell(s.to_string(), false);
        assert!(matches!(c(""), Value::Null));
        assert!(matches!(c("-12"), Value::Int(-12)));
        assert!(matches!(c(" 7 "), Value::Int(7)));
        assert!(matches!(
            c("9007199254740993"),
            Value::Int(9007199254740993)
        ));
        assert!(matches!(c("1.5"), Value::Float(f) if f == 1.5));
        assert!(matches!(c(".5"), Value::Float(f) if f == 0.5));
        assert!(matches!(c("5."), Value::Float(f) if f == 5.0));
        assert!(matches!(c("1e-3"), Value::Float(f) if f == 1e-3));
        assert!(matches!(c("NaN"), Value::Float(f) if f.is_nan()));
        assert!(matches!(c("-inf"), Value::Float(f) if f == f64::NEG_INFINITY));
        assert!(matches!(c("Infinity"), Value::Float(f) if f == f64::INFINITY));
        for s in [
            "1_000", "0x10", "1.2.3", "e5", ".", "-", "1e", "abc", "nanx",
        ] {
            assert!(matches!(c(s), Value::Str(_)), "{s}");
        }
        assert!(matches!(cell("42".into(), true), Value::Str(s) if s == "42"));
    }

    #[test]
    fn quoting_and_records() {
        let text = "a,b,a\r\n\"x,\"\"y\"\"\nz\",2,\n\n\"q\"r,\"\",3\r";
        let Value::Map(root) = parse(text.as_bytes(), b',').unwrap() else {
            panic!()
        };
        let Some(Value::List(rows)) = root.get("rows") else {
            panic!()
        };
        assert_eq!(rows.len(), 2);
        let Value::Map(r0) = &rows[0] else { panic!() };
        let keys: Vec<&String> = r0.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "b", "a.1"]);
        assert!(matches!(r0.get("a"), Some(Value::Str(s)) if s == "x,\"y\"\nz"));
        assert!(matches!(r0.get("a.1"), Some(Value::Null)));
        let Value::Map(r1) = &rows[1] else { panic!() };
        assert!(matches!(r1.get("a"), Some(Value::Str(s)) if s == "qr"));
        assert!(matches!(r1.get("b"), Some(Value::Str(s)) if s.is_empty()));
        let Some(Value::Map(cols)) = root.get("columns") else {
            panic!()
        };
        let keys: Vec<&String> = cols.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a.1"]);
    }

    #[test]
    fn errors_are_located() {
        for (text, want) in [
            ("", "line 1, column 1: no header row (a CSV file needs one)"),
            (
                "a,b\n1,2,3\n",
                "line 2, column 5: a record of 3 fields, but the header has 2",
            ),
            (
                "a,b\n1,2\n1\n",
                "line 3, column 1: a record of 1 field, but the header has 2",
            ),
            (
                "a,b\n1,\"2\n",
                "line 2, column 3: a quoted field is not closed before the end of the file",
            ),
        ] {
            assert_eq!(parse(text.as_bytes(), b',').unwrap_err(), want, "{text:?}");
        }
    }
}
