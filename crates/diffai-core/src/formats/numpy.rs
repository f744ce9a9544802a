//! NumPy `.npy`: the `\x93NUMPY` magic, a version, a Python-literal header dict
//! (`{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`), then the raw array.
//! Numeric arrays become zero-copy tensors (either byte order, C or Fortran order); string arrays
//! become text leaves; object arrays (pickles) are not decoded and say so.

use std::path::Path;

use rayon::prelude::*;

use crate::artifact::Artifact;
use crate::error::{Error, Result};
use crate::formats::{map_file, Reader};
use crate::tensor::{fortran_strides, ByteSource, DType, Tensor};
use crate::value::{Map, Value};

/// The six magic bytes of every `.npy` file.
pub const MAGIC: &[u8] = b"\x93NUMPY";
/// Largest header accepted, in bytes: numpy itself refuses headers over 10 000 bytes by default
/// (`max_header_size`); structured dtypes can be longer, so allow ten times that.
const MAX_HEADER_BYTES: usize = 100_000;
/// Most string elements turned into text leaves; larger string arrays are summarised.
const MAX_TEXT_ELEMENTS: u64 = 100_000;

/// The path of a `.npy` file's array.
pub const ARRAY_KEY: &str = "data";

pub struct NpyReader;

impl Reader for NpyReader {
    fn name(&self) -> &'static str {
        "npy"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &[".npy"]
    }

    fn sniff(&self, _path: &Path, head: &[u8]) -> bool {
        head.starts_with(MAGIC)
    }

    fn read(&self, path: &Path) -> Result<Artifact> {
        let buf = map_file(path)?;
        let whole = ByteSource::whole(buf.clone());
        let value = parse(&whole).map_err(|m| Error::file(path, m))?;
        // A .npy holds one unnamed array: it is `data` whatever the file is called, so two
        // files pair up (the product documents show `~ data: shape=[1000, 256], …`).
        let mut root = Map::new();
        root.push(ARRAY_KEY.into(), value);
        Ok(Artifact::from_file(
            path,
            self.name(),
            buf.len() as u64,
            Value::Map(root),
            Vec::new(),
        ))
    }
}

/// NumPy `.npz`: a zip archive of `.npy` members, one array per name. Stored members (`np.savez`)
/// are read zero-copy; compressed ones (`np.savez_compressed`) are streamed (see
/// [`ZipRecords::record`](crate::formats::zipfile::ZipRecords::record)).
pub struct NpzReader;

impl Reader for NpzReader {
    fn name(&self) -> &'static str {
        "npz"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &[".npz"]
    }

    fn sniff(&self, _path: &Path, head: &[u8]) -> bool {
        head.starts_with(b"PK\x03\x04") && head.windows(4).any(|w| w == b".npy")
    }

    fn read(&self, path: &Path) -> Result<Artifact> {
        let buf = map_file(path)?;
        let root = parse_npz(&buf).map_err(|m| Error::file(path, m))?;
        Ok(Artifact::from_file(
            path,
            self.name(),
            buf.len() as u64,
            Value::Map(root),
            Vec::new(),
        ))
    }
}

/// Every `.npy` member of an archive, by its name without `.npy`, in archive order.
pub fn parse_npz(buf: &crate::tensor::Buffer) -> std::result::Result<Map, String> {
    let mut archive = crate::formats::zipfile::ZipRecords::open(buf)?;
    let mut members = Vec::new();
    for name in archive.names() {
        if name.ends_with(".npy") {
            let record = archive
                .record_unchecked(&name)?
                .ok_or_else(|| format!("member {name} vanished"))?;
            members.push((name, record));
        }
    }
    // Parsing checks compressed members (inflates each once): in parallel.
    let values: Vec<std::result::Result<Value, String>> = members
        .par_iter()
        .map(|(name, record)| parse(record).map_err(|m| format!("member {name}: {m}")))
        .collect();
    let mut root = Map::new();
    for ((name, _), value) in members.iter().zip(values) {
        let key = name.strip_suffix(".npy").expect("selected by suffix");
        root.insert(key.to_string(), value?);
    }
    Ok(root)
}

/// One `.npy` array from its bytes (a whole file, or an `.npz` member).
pub fn parse(src: &ByteSource) -> std::result::Result<Value, String> {
    // The header lies within the first bytes; a compressed member inflates only those here.
    let head = src
        .slice(0, src.len().min(12 + MAX_HEADER_BYTES) as u64)
        .expect("a prefix fits");
    let buf = head.bytes();
    if !buf.starts_with(MAGIC) {
        return Err("not a .npy file (no \\x93NUMPY magic)".into());
    }
    let version = buf.get(6..8).ok_or("truncated .npy file: no version")?;
    let (header_len, header_start) = match version[0] {
        1 => (
            u16::from_le_bytes(
                buf.get(8..10)
                    .ok_or("truncated .npy header length")?
                    .try_into()
                    .expect("2"),
            ) as usize,
            10,
        ),
        2 | 3 => (
            u32::from_le_bytes(
                buf.get(8..12)
                    .ok_or("truncated .npy header length")?
                    .try_into()
                    .expect("4"),
            ) as usize,
            12,
        ),
        v => {
            return Err(format!(
                "unsupported .npy format version {v}.{}",
                version[1]
            ))
        }
    };
    if header_len > MAX_HEADER_BYTES {
        return Err(format!(
            "npy header of {header_len} bytes exceeds the limit of {MAX_HEADER_BYTES} bytes"
        ));
    }
    let data_start = header_start + header_len;
    let header = buf
        .get(header_start..data_start)
        .ok_or_else(|| format!("truncated .npy file: the header needs {header_len} bytes"))?;
    let header = std::str::from_utf8(header).map_err(|_| "npy header is not text")?;
    let dict = match Literal::parse(header)? {
        Literal::Dict(d) => d,
        _ => return Err("npy header is not a dict".into()),
    };
    // Exactly these keys, as numpy's own reader requires.
    let mut keys: Vec<&str> = dict.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    if keys != ["descr", "fortran_order", "shape"] {
        return Err(format!(
            "npy header has the keys {keys:?}, not exactly 'descr', 'fortran_order' and 'shape'"
        ));
    }
    let field = |k: &str| dict.iter().find(|(key, _)| key == k).map(|(_, v)| v);
    let descr = field("descr").ok_or("npy header has no 'descr'")?;
    let fortran = match field("fortran_order") {
        Some(Literal::Bool(b)) => *b,
        _ => return Err("npy 'fortran_order' is not True or False".into()),
    };
    let shape: Vec<u64> = match field("shape").ok_or("npy header has no 'shape'")? {
        Literal::Tuple(items) => items
            .iter()
            .map(|i| match i {
                Literal::Int(n) if *n >= 0 => Ok(*n as u64),
                _ => Err("npy shape holds a value that is not a non-negative integer".to_string()),
            })
            .collect::<std::result::Result<_, _>>()?,
        _ => return Err("npy 'shape' is not a tuple".into()),
    };
    let numel = shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or("npy shape has more elements than can be addressed")?;
    let data_len = (src.len() - data_start.min(src.len())) as u64;
    let mut data = src
        .slice(data_start as u64, data_len)
        .ok_or("npy data out of range")?;
    // A compressed member is checked now (inflated once), which also gives its data a checksum.
    if let Some(d) = data.as_deflated() {
        data = ByteSource::deflated(d.checked()?);
    }
    let Literal::Str(descr) = descr else {
        return structured(descr, data.bytes_in_memory()?, &shape, numel, fortran);
    };
    simple_array(descr, data, &shape, fortran)
}

/// An array of one simple dtype (`'<f8'`, `'|b1'`, `'<U7'`…) whose elements start `data`.
fn simple_array(
    descr: &str,
    data: ByteSource,
    shape: &[u64],
    fortran: bool,
) -> std::result::Result<Value, String> {
    let numel = shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or("npy shape has more elements than can be addressed")?;
    let data_len = data.len() as u64;
    let (order, kind, count) = split_descr(descr)?;
    // Item size in bytes: `U` counts UTF-32 characters.
    let size = if kind == 'U' {
        count.checked_mul(4).ok_or("npy item size overflows")?
    } else {
        count
    };
    if kind == 'O' {
        return Ok(fallback(
            "object arrays hold pickled Python objects, which are not decoded",
            shape,
        ));
    }
    let bytes = numel.checked_mul(size).ok_or("npy array size overflows")?;
    if bytes > data_len {
        return Err(format!(
            "truncated .npy file: {numel} elements of '{descr}' need {bytes} bytes but {data_len} follow the header"
        ));
    }
    let source = data.slice(0, bytes).ok_or("npy data out of range")?;
    if kind == 'U' || kind == 'S' {
        return Ok(text(
            source.bytes_in_memory()?,
            kind,
            size as usize,
            order == '>',
            shape,
            numel,
        ));
    }
    let dtype = numeric_dtype(kind, size).ok_or_else(|| match (kind, size) {
        ('f', 12 | 16) => "long double arrays (float96/float128) are not decoded".to_string(),
        _ => format!("unsupported npy dtype '{descr}'"),
    });
    let dtype = match dtype {
        Ok(d) => d,
        Err(reason) => return Ok(fallback(&reason, shape)),
    };
    let mut t = Tensor::dense(dtype, shape.to_vec(), source);
    t.big_endian = order == '>' && size > 1;
    if fortran {
        t.strides = fortran_strides(shape);
    }
    Ok(Value::Tensor(Box::new(t)))
}

/// One field of a structured dtype: name, type (a descr string, or a nested list of fields),
/// sub-array shape, byte offset, byte size.
struct Field {
    name: String,
    descr: Literal,
    subshape: Vec<u64>,
    offset: usize,
    size: usize,
}

/// The fields of a structured descr and the record size; `None` when a field has a title
/// (`(('title', 'name'), '<f8')`), which is not decoded.
fn fields_of(items: &[Literal]) -> std::result::Result<Option<(Vec<Field>, usize)>, String> {
    let mut fields = Vec::new();
    let mut offset = 0usize;
    for item in items {
        let Literal::Tuple(parts) = item else {
            return Err("npy structured field is not a tuple".into());
        };
        let (name, ty, sub) = match parts.as_slice() {
            [Literal::Str(n), t] => (n.clone(), t, Vec::new()),
            [Literal::Str(n), t, Literal::Tuple(dims)] => {
                let dims = dims
                    .iter()
                    .map(|d| match d {
                        Literal::Int(i) if *i >= 0 => Ok(*i as u64),
                        _ => Err("npy field shape is not non-negative integers".to_string()),
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                (n.clone(), t, dims)
            }
            _ => return Ok(None),
        };
        let item = match ty {
            Literal::Str(t) => {
                let (_, kind, count) = split_descr(t)?;
                if kind == 'U' {
                    count.saturating_mul(4)
                } else {
                    count
                }
            }
            Literal::List(nested) => match fields_of(nested)? {
                Some((_, size)) => size as u64,
                None => return Ok(None),
            },
            _ => return Err(format!("npy field {name} has no type")),
        };
        let elems: u64 = sub
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or("npy field shape overflows")?;
        let size = item
            .checked_mul(elems)
            .filter(|&s| s <= u32::MAX as u64)
            .ok_or("npy field too large")? as usize;
        fields.push(Field {
            name,
            descr: ty.clone(),
            subshape: sub,
            offset,
            size,
        });
        offset = offset
            .checked_add(size)
            .ok_or("npy record size overflows")?;
    }
    Ok(Some((fields, offset)))
}

/// A structured array (`[('x', '<f8'), ('y', '<i4', (2,))]`) as a map of its fields, each an
/// array of the record shape (plus the field's sub-array shape); a nested structured field is a
/// map of its own fields. Fields are gathered out of the records into their own buffers; padding
/// fields (empty names) are skipped; titled fields are listed as not decoded.
fn structured(
    descr: &Literal,
    data: &[u8],
    shape: &[u64],
    numel: u64,
    fortran: bool,
) -> std::result::Result<Value, String> {
    let Literal::List(items) = descr else {
        return Err("npy descr is neither a type string nor a list of fields".into());
    };
    let Some((fields, record)) = fields_of(items)? else {
        return Ok(fallback(
            "structured dtypes with titled fields are not decoded",
            shape,
        ));
    };
    let needed = numel
        .checked_mul(record as u64)
        .ok_or("npy array size overflows")?;
    if needed > data.len() as u64 {
        return Err(format!(
            "truncated .npy file: {numel} records of {record} bytes need {needed} bytes but {} follow the header",
            data.len()
        ));
    }
    let mut m = Map::new();
    for f in fields.iter().filter(|f| !f.name.is_empty()) {
        let mut bytes = Vec::with_capacity(numel as usize * f.size);
        for r in 0..numel as usize {
            let at = r * record + f.offset;
            bytes.extend_from_slice(&data[at..at + f.size]);
        }
        let mut field_shape = shape.to_vec();
        field_shape.extend(&f.subshape);
        let field_fortran = fortran && f.subshape.is_empty();
        let value = match &f.descr {
            // The field alone is a plain npy array: header-less, so parse it by its descr.
            Literal::Str(d) => {
                simple_array(d, ByteSource::owned(bytes), &field_shape, field_fortran)?
            }
            nested => {
                let count = field_shape.iter().product();
                structured(nested, &bytes, &field_shape, count, field_fortran)?
            }
        };
        m.insert(f.name.clone(), value);
    }
    Ok(Value::Map(m))
}

/// `'<f8'` → ('<', 'f', 8). `'|'` (not applicable) reads as little-endian.
fn split_descr(descr: &str) -> std::result::Result<(char, char, u64), String> {
    let mut chars = descr.chars();
    let order = chars.next().ok_or("empty npy descr")?;
    let (order, rest) = if matches!(order, '<' | '>' | '|' | '=') {
        (order, chars.as_str())
    } else {
        ('=', descr)
    };
    let kind = rest
        .chars()
        .next()
        .ok_or_else(|| format!("npy descr '{descr}' has no type"))?;
    if !kind.is_ascii_alphabetic() {
        return Err(format!("npy descr '{descr}' has no type letter"));
    }
    let size: u64 = if kind == 'O' {
        8
    } else {
        rest[1..]
            .parse()
            .map_err(|_| format!("npy descr '{descr}' has no item size"))?
    };
    // '=' is native: every platform diffai runs on is little-endian.
    Ok((if order == '>' { '>' } else { '<' }, kind, size))
}

fn numeric_dtype(kind: char, size: u64) -> Option<DType> {
    use DType::*;
    Some(match (kind, size) {
        ('b', 1) => Bool,
        ('u', 1) => U8,
        ('u', 2) => U16,
        ('u', 4) => U32,
        ('u', 8) => U64,
        ('i', 1) => I8,
        ('i', 2) => I16,
        ('i', 4) => I32,
        ('i', 8) => I64,
        ('f', 2) => F16,
        ('f', 4) => F32,
        ('f', 8) => F64,
        ('c', 8) => C64,
        ('c', 16) => C128,
        _ => return None,
    })
}

/// An array that is listed but not decoded: its shape and the reason.
fn fallback(reason: &str, shape: &[u64]) -> Value {
    let mut m = Map::new();
    m.push(
        "shape".into(),
        Value::List(shape.iter().map(|&d| Value::Int(d as i128)).collect()),
    );
    m.push("fallback".into(), Value::Str(reason.to_string()));
    Value::Map(m)
}

/// `U` (UTF-32 code units) and `S` (bytes) arrays as text, nested by the shape.
fn text(
    bytes: &[u8],
    kind: char,
    size: usize,
    big_endian: bool,
    shape: &[u64],
    numel: u64,
) -> Value {
    if numel > MAX_TEXT_ELEMENTS {
        return fallback(
            &format!("string arrays over {MAX_TEXT_ELEMENTS} elements are not listed"),
            shape,
        );
    }
    let decode = |b: &[u8]| -> String {
        if kind == 'S' {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            String::from_utf8_lossy(&b[..end]).into_owned()
        } else {
            b.chunks_exact(4)
                .map(|c| {
                    let arr: [u8; 4] = c.try_into().expect("4");
                    if big_endian {
                        u32::from_be_bytes(arr)
                    } else {
                        u32::from_le_bytes(arr)
                    }
                })
                .take_while(|&u| u != 0)
                .map(|u| char::from_u32(u).unwrap_or('\u{FFFD}'))
                .collect()
        }
    };
    let items: Vec<Value> = bytes
        .chunks_exact(size.max(1))
        .take(numel as usize)
        .map(|b| Value::Str(decode(b)))
        .collect();
    nest(items, shape)
}

/// Splits a flat C-order list into nested lists by `shape` (a 0-d array is its only element).
fn nest(items: Vec<Value>, shape: &[u64]) -> Value {
    match shape {
        [] => items.into_iter().next().unwrap_or(Value::Null),
        [_] => Value::List(items),
        [first, rest @ ..] => {
            let inner: u64 = rest.iter().product();
            let mut it = items.into_iter();
            Value::List(
                (0..*first)
                    .map(|_| nest(it.by_ref().take(inner as usize).collect(), rest))
                    .collect(),
            )
        }
    }
}

/// The Python literals an npy header uses: dicts, tuples, lists, strings, integers (Python 2's
/// `3L` too), booleans and None.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Dict(Vec<(String, Literal)>),
    Tuple(Vec<Literal>),
    List(Vec<Literal>),
    Str(String),
    Int(i64),
    Bool(bool),
    None,
}

/// Deepest nesting of header literals (structured dtypes nest a few levels).
const MAX_LITERAL_DEPTH: usize = 64;

impl Literal {
    pub fn parse(text: &str) -> std::result::Result<Literal, String> {
        let mut p = LiteralParser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value(0)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("npy header has trailing text at byte {}", p.i));
        }
        Ok(v)
    }
}

struct LiteralParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl LiteralParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn value(&mut self, depth: usize) -> std::result::Result<Literal, String> {
        if depth > MAX_LITERAL_DEPTH {
            return Err(format!(
                "npy header nests deeper than {MAX_LITERAL_DEPTH} levels"
            ));
        }
        match self.peek().ok_or("npy header ends early")? {
            b'{' => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                        break;
                    }
                    let key = match self.value(depth + 1)? {
                        Literal::Str(s) => s,
                        _ => return Err("npy header dict key is not a string".into()),
                    };
                    if self.peek() != Some(b':') {
                        return Err("npy header dict lacks ':'".into());
                    }
                    self.i += 1;
                    items.push((key, self.value(depth + 1)?));
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {}
                        _ => return Err("npy header dict lacks ',' or '}'".into()),
                    }
                }
                Ok(Literal::Dict(items))
            }
            open @ (b'(' | b'[') => {
                self.i += 1;
                let close = if open == b'(' { b')' } else { b']' };
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(close) {
                        self.i += 1;
                        break;
                    }
                    items.push(self.value(depth + 1)?);
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(c) if c == close => {}
                        _ => return Err("npy header sequence lacks ',' or its end".into()),
                    }
                }
                Ok(if open == b'(' {
                    Literal::Tuple(items)
                } else {
                    Literal::List(items)
                })
            }
            q @ (b'\'' | b'"') => {
                self.i += 1;
                let start = self.i;
                while self.i < self.s.len() && self.s[self.i] != q {
                    if self.s[self.i] == b'\\' {
                        self.i += 1;
                    }
                    self.i += 1;
                }
                if self.i >= self.s.len() {
                    return Err("npy header string is not closed".into());
                }
                let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                Ok(Literal::Str(text))
            }
            c if c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                self.i += 1;
                while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                    self.i += 1;
                }
                let n = std::str::from_utf8(&self.s[start..self.i])
                    .ok()
                    .and_then(|t| t.parse::<i64>().ok())
                    .ok_or("npy header integer out of range")?;
                if matches!(self.s.get(self.i), Some(b'L') | Some(b'l')) {
                    self.i += 1; // Python 2 long
                }
                Ok(Literal::Int(n))
            }
            _ => {
                for (word, v) in [
                    ("True", Literal::Bool(true)),
                    ("False", Literal::Bool(false)),
                    ("None", Literal::None),
                ] {
                    if self.s[self.i..].starts_with(word.as_bytes()) {
                        self.i += word.len();
                        return Ok(v);
                    }
                }
                Err(format!("unexpected text in npy header at byte {}", self.i))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_literals() {
        let h = "{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 3), }          \n";
        let Literal::Dict(d) = Literal::parse(h).unwrap() else {
            panic!()
        };
        assert_eq!(d[0], ("descr".into(), Literal::Str("<f8".into())));
        assert_eq!(
            d[2].1,
            Literal::Tuple(vec![Literal::Int(2), Literal::Int(3)])
        );
        assert!(Literal::parse("{'a': (").is_err());
        assert!(Literal::parse(&"(".repeat(100)).is_err());
    }

    /// An .npy file of `header` (padded as numpy pads it) and 8 bytes of data.
    fn npy(header: &str) -> ByteSource {
        let mut h = header.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(&[0; 8]);
        ByteSource::owned(b)
    }

    #[test]
    fn header_keys_are_exactly_numpys() {
        assert!(parse(&npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }"
        ))
        .is_ok());
        // Found by the fuzzer: a header numpy refuses (no fortran_order, a key of garbage).
        for (header, says) in [
            ("{'descr': '<f8', 'shape': (1,), }", "not exactly"),
            (
                "{'descr': '<f8', 'x': 1, 'fortran_order': False, 'shape': (1,), }",
                "not exactly",
            ),
            (
                "{'descr': '<f8', 'fortran_order': 0, 'shape': (1,), }",
                "'fortran_order' is not True or False",
            ),
        ] {
            let e = parse(&npy(header)).unwrap_err();
            assert!(e.contains(says), "{header}: {e}");
        }
    }

    #[test]
    fn descr_parts() {
        assert_eq!(split_descr("<f8").unwrap(), ('<', 'f', 8));
        assert_eq!(split_descr(">i2").unwrap(), ('>', 'i', 2));
        assert_eq!(split_descr("|b1").unwrap(), ('<', 'b', 1));
        assert_eq!(split_descr("<U7").unwrap(), ('<', 'U', 7));
        // Found by the fuzzer: a non-ASCII type letter used to split a UTF-8 character.
        assert!(split_descr("'\u{12d}2").is_err());
        assert!(split_descr("\u{12d}2").is_err());
    }
}
