//! MAT-file level 5 (MATLAB v5/v6/v7, Octave `-v6`/`-v7`): a 128-byte header, then data
//! elements; `miMATRIX` elements are variables, `miCOMPRESSED` ones zlib streams holding one.
//!
//! A compressed variable is checked (inflated once) when the file is read. A large numeric one
//! stored in its own class is then left compressed and streamed whenever its values are read;
//! any other is inflated into memory.

use std::borrow::Cow;

use super::{class_value, Class, Numeric};
use crate::deflated::{Deflated, Framing};
use crate::tensor::{ByteSource, DType};
use crate::value::{Map, Value};

/// Bytes of the header (116 text, 8 subsystem offset, 2 version, 2 endian indicator).
const HEADER_BYTES: usize = 128;
/// Deepest nesting of cells and structs accepted (each level costs a little stack).
const MAX_DEPTH: usize = 256;
/// Compressed variables up to this size (16 MiB inflated) are inflated whole: cheap to keep, and
/// their sub-elements are then read at any offset; larger numeric ones are streamed.
const INFLATE_WHOLE_BYTES: u64 = 16 << 20;
/// Bytes inflated up front from a streamed variable to read its tags, flags, dimensions and name
/// (a name is at most a few KiB; anything past this is read by inflating up to it).
const HEAD_BYTES: u64 = 64 << 10;

// Data types (MAT-File Format, table 1-1).
const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const MI_UTF8: u32 = 16;
const MI_UTF16: u32 = 17;
const MI_UTF32: u32 = 18;

/// Reads one stored integer (bytes, big-endian?) as i64.
type IntDecoder = fn(&[u8], bool) -> i64;

/// Whether a header is a level-5 MAT file, and its byte order (`true` = big-endian).
pub fn sniff(head: &[u8]) -> Option<bool> {
    match head.get(126..128)? {
        b"IM" => Some(false),
        b"MI" => Some(true),
        _ => None,
    }
}

struct Reader {
    /// The bytes data elements are sliced from (zero copy for uncompressed files; a compressed
    /// stream for a streamed variable).
    source: ByteSource,
    /// The first bytes of `source` in memory: all of them unless `source` is compressed.
    head: ByteSource,
    big: bool,
}

/// One data element: its type and bytes.
struct Element {
    ty: u32,
    data: ByteSource,
}

pub fn parse(source: &ByteSource) -> Result<Map, String> {
    let big = sniff(source.bytes()).ok_or("not a level-5 MAT file (no IM/MI endian indicator)")?;
    let mut root = Map::new();
    let mut pos = HEADER_BYTES;
    let r = Reader::new(source.clone(), big);
    let len = source.len();
    while pos < len {
        if len - pos < 8 {
            break; // trailing padding
        }
        let (el, next) = r.element(pos)?;
        pos = next;
        let (name, value) = match el.ty {
            MI_MATRIX => r.matrix(&el.data, 0)?,
            MI_COMPRESSED => {
                let inner = Reader::new(inflate(&el.data, big)?, big);
                let el = inner.compressed_content()?;
                inner.matrix(&el.data, 0)?
            }
            t => {
                return Err(format!(
                    "unexpected MAT data element type {t} at offset {}: variables are miMATRIX or miCOMPRESSED",
                    pos - 8
                ))
            }
        };
        root.insert(name, value);
    }
    Ok(root)
}

/// The checked content of a miCOMPRESSED element: left compressed when it is a large real
/// numeric matrix, else inflated into memory.
fn inflate(compressed: &ByteSource, big: bool) -> Result<ByteSource, String> {
    let d = Deflated::check(compressed.clone(), Framing::Zlib)
        .map_err(|e| format!("corrupt compressed variable (zlib: {e})"))?;
    let total = d.len();
    let stream = ByteSource::deflated(d);
    if total > INFLATE_WHOLE_BYTES {
        // miMATRIX tag (8 bytes), then the array-flags element (tag 8, flags 4): class in the
        // low byte, complex bit 0x0800.
        let head = Reader::new(stream.clone(), big);
        let flags = head.u32_at(16)?;
        let class = flags & 0xFF;
        if (6..=15).contains(&class) && flags & 0x0800 == 0 {
            return Ok(stream);
        }
    }
    Ok(ByteSource::owned(stream.bytes_in_memory()?.to_vec()))
}

impl Reader {
    fn new(source: ByteSource, big: bool) -> Reader {
        let head = match source.as_deflated() {
            Some(_) => {
                let n = (source.len() as u64).min(HEAD_BYTES);
                ByteSource::owned(source.slice(0, n).expect("a prefix fits").bytes().to_vec())
            }
            None => source.clone(),
        };
        Reader { source, head, big }
    }

    /// `len` bytes at `at`: from the head in memory, or by inflating up to them.
    fn bytes_at(&self, at: usize, len: usize) -> Option<Cow<'_, [u8]>> {
        let end = at.checked_add(len)?;
        if let Some(b) = self.head.bytes().get(at..end) {
            return Some(Cow::Borrowed(b));
        }
        let s = self.source.slice(at as u64, len as u64)?;
        Some(Cow::Owned(s.bytes().to_vec()))
    }

    fn u32_at(&self, at: usize) -> Result<u32, String> {
        let b: [u8; 4] = self
            .bytes_at(at, 4)
            .ok_or("truncated MAT file: a data element tag runs past the end")?
            .as_ref()
            .try_into()
            .expect("4");
        Ok(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    /// The element at `pos` and where the next one starts (elements are 8-byte aligned; small
    /// elements pack type, size and up to 4 bytes of data into 8 bytes).
    fn element(&self, pos: usize) -> Result<(Element, usize), String> {
        let first = self.u32_at(pos)?;
        let small_size = (first >> 16) as usize;
        if small_size != 0 {
            if small_size > 4 {
                return Err(format!("malformed small data element at offset {pos}"));
            }
            let data = self
                .slice(pos + 4, small_size)
                .ok_or("truncated MAT file inside a small data element")?;
            return Ok((
                Element {
                    ty: first & 0xFFFF,
                    data,
                },
                pos + 8,
            ));
        }
        let size = self.u32_at(pos + 4)? as usize;
        let start = pos + 8;
        let data = self.slice(start, size).ok_or_else(|| {
            format!(
                "truncated or corrupt MAT file: a data element of {size} bytes at offset {pos} runs past the end ({} bytes)",
                self.source.len()
            )
        })?;
        let padded = if first == MI_COMPRESSED {
            size
        } else {
            size.div_ceil(8) * 8
        };
        Ok((Element { ty: first, data }, start.saturating_add(padded)))
    }

    /// The one matrix element an inflated miCOMPRESSED stream holds. Octave declares 4 bytes too
    /// many for objects with short class names; MATLAB, scipy and Octave read such streams, so
    /// a declared size that overruns the stream by less than one 8-byte unit is taken as the
    /// stream's end.
    fn compressed_content(&self) -> Result<Element, String> {
        let ty = self.u32_at(0)?;
        if ty != MI_MATRIX {
            return Err(format!(
                "a compressed variable holds data type {ty}, not a matrix"
            ));
        }
        let declared = self.u32_at(4)? as usize;
        let available = self.source.len().saturating_sub(8);
        let len = if declared > available && declared - available < 8 {
            available
        } else {
            declared
        };
        let data = self
            .slice(8, len)
            .ok_or("a compressed variable declares more bytes than its stream holds")?;
        Ok(Element { ty, data })
    }

    fn slice(&self, at: usize, len: usize) -> Option<ByteSource> {
        self.source.slice(at as u64, len as u64)
    }

    /// The sub-elements of a matrix element, in order.
    fn children(&self, m: &ByteSource) -> Result<Vec<Element>, String> {
        let inner = Reader::new(m.clone(), self.big);
        let mut out = Vec::new();
        let mut pos = 0;
        while pos + 8 <= m.len() {
            let (el, next) = inner.element(pos)?;
            out.push(el);
            pos = next;
        }
        Ok(out)
    }

    fn ints(&self, el: &Element) -> Result<Vec<i64>, String> {
        let b = el.data.bytes();
        let (size, f): (usize, IntDecoder) = match el.ty {
            MI_INT32 => (4, |c, big| if big { i32::from_be_bytes(c.try_into().unwrap()) } else { i32::from_le_bytes(c.try_into().unwrap()) } as i64),
            MI_UINT32 => (4, |c, big| if big { u32::from_be_bytes(c.try_into().unwrap()) } else { u32::from_le_bytes(c.try_into().unwrap()) } as i64),
            MI_INT8 | MI_UINT8 => (1, |c, _| c[0] as i64),
            MI_INT16 => (2, |c, big| if big { i16::from_be_bytes(c.try_into().unwrap()) } else { i16::from_le_bytes(c.try_into().unwrap()) } as i64),
            MI_UINT16 => (2, |c, big| if big { u16::from_be_bytes(c.try_into().unwrap()) } else { u16::from_le_bytes(c.try_into().unwrap()) } as i64),
            MI_INT64 | MI_UINT64 => (8, |c, big| if big { i64::from_be_bytes(c.try_into().unwrap()) } else { i64::from_le_bytes(c.try_into().unwrap()) }),
            t => return Err(format!("expected integers, found MAT data type {t}")),
        };
        Ok(b.chunks_exact(size).map(|c| f(c, self.big)).collect())
    }

    /// A variable (or a cell/struct element): its name and value.
    fn matrix(&self, m: &ByteSource, depth: usize) -> Result<(String, Value), String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "cells and structs nest deeper than {MAX_DEPTH} levels"
            ));
        }
        if m.is_empty() {
            return Ok((String::new(), Value::List(Vec::new()))); // an empty cell element
        }
        let els = self.children(m)?;
        let [flags, dims, name, rest @ ..] = els.as_slice() else {
            return Err("a matrix lacks its flags, dimensions or name".into());
        };
        let f = self.ints(flags)?;
        let word = *f.first().ok_or("empty array flags")? as u32;
        let class_code = word & 0xFF;
        let complex = word & 0x0800 != 0;
        let logical = word & 0x0200 != 0;
        let shape: Vec<u64> = self
            .ints(dims)?
            .into_iter()
            .map(|d| u64::try_from(d).map_err(|_| "negative dimension".to_string()))
            .collect::<Result<_, _>>()?;
        let numel = shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or("matrix dimensions overflow")?;
        let name = String::from_utf8_lossy(name.data.bytes()).into_owned();
        let value = match class_code {
            1 => {
                // cell: one matrix element per cell, in column-major order
                let items = rest
                    .iter()
                    .map(|e| self.matrix(&e.data, depth + 1).map(|(_, v)| v))
                    .collect::<Result<Vec<_>, _>>()?;
                Value::List(items)
            }
            2 | 3 => {
                let (class, rest) = if class_code == 3 {
                    let (c, r) = rest.split_first().ok_or("object without a class name")?;
                    (
                        Some(String::from_utf8_lossy(c.data.bytes()).into_owned()),
                        r,
                    )
                } else {
                    (None, rest)
                };
                let [len_el, names_el, fields @ ..] = rest else {
                    return Err("struct without field names".into());
                };
                let len = *self
                    .ints(len_el)?
                    .first()
                    .ok_or("struct field-name length missing")? as usize;
                if len == 0 {
                    return Err("struct field-name length is zero".into());
                }
                let names: Vec<String> = names_el
                    .data
                    .bytes()
                    .chunks(len)
                    .map(|c| {
                        let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
                        String::from_utf8_lossy(&c[..end]).into_owned()
                    })
                    .filter(|n| !n.is_empty())
                    .collect();
                let per = names.len().max(1);
                let mut elements = Vec::new();
                for chunk in fields.chunks(per) {
                    let mut m = Map::new();
                    if let Some(c) = &class {
                        m.push("__class__".into(), Value::Str(c.clone()));
                    }
                    for (n, e) in names.iter().zip(chunk) {
                        m.insert(n.clone(), self.matrix(&e.data, depth + 1)?.1);
                    }
                    elements.push(Value::Map(m));
                }
                if numel == 1 && elements.len() == 1 {
                    elements.pop().expect("one")
                } else {
                    Value::List(elements)
                }
            }
            4 => {
                let text = rest
                    .first()
                    .map(|e| self.text(e))
                    .transpose()?
                    .unwrap_or_default();
                super::char_value(&text, &shape)?
            }
            5 => self.sparse(rest, &shape, complex, logical)?,
            6..=15 => {
                let class = Class::from_code(class_code, logical).ok_or("unknown numeric class")?;
                let real = rest.first().ok_or("numeric matrix without data")?;
                let imag = if complex { rest.get(1) } else { None };
                let part = |e: &Element| -> Result<Numeric, String> {
                    Ok(Numeric {
                        stored: stored_dtype(e.ty)?,
                        bytes: e.data.clone(),
                        big_endian: self.big,
                    })
                };
                class_value(
                    class,
                    &shape,
                    numel,
                    part(real)?,
                    imag.map(part).transpose()?,
                )?
            }
            16 => super::opaque("function_handle", &shape),
            17 => super::opaque("opaque", &shape),
            c => super::opaque(&format!("unknown class {c}"), &shape),
        };
        Ok((name, value))
    }

    fn text(&self, e: &Element) -> Result<String, String> {
        let b = e.data.bytes();
        let units = |size: usize| -> Vec<u32> {
            b.chunks_exact(size)
                .map(|c| match (size, self.big) {
                    (2, false) => u16::from_le_bytes([c[0], c[1]]) as u32,
                    (2, true) => u16::from_be_bytes([c[0], c[1]]) as u32,
                    (4, false) => u32::from_le_bytes(c.try_into().unwrap()),
                    (4, true) => u32::from_be_bytes(c.try_into().unwrap()),
                    _ => c[0] as u32,
                })
                .collect()
        };
        Ok(match e.ty {
            MI_UTF8 => String::from_utf8_lossy(b).into_owned(),
            MI_UTF16 | MI_UINT16 | MI_INT16 => {
                char::decode_utf16(units(2).into_iter().map(|u| u as u16))
                    .map(|c| c.unwrap_or('\u{FFFD}'))
                    .collect()
            }
            MI_UTF32 | MI_UINT32 | MI_INT32 => units(4)
                .into_iter()
                .map(|u| char::from_u32(u).unwrap_or('\u{FFFD}'))
                .collect(),
            _ => units(1)
                .into_iter()
                .map(|u| char::from_u32(u).unwrap_or('\u{FFFD}'))
                .collect(),
        })
    }

    /// Sparse matrices become dense tensors (statistics then include the implicit zeros).
    fn sparse(
        &self,
        rest: &[Element],
        shape: &[u64],
        complex: bool,
        logical: bool,
    ) -> Result<Value, String> {
        let [ir, jc, pr, ..] = rest else {
            return Err("sparse matrix lacks ir, jc or pr".into());
        };
        let (rows, cols) = match shape {
            [r, c] => (*r, *c),
            _ => return Err("sparse matrix is not 2-D".into()),
        };
        let ir = self.ints(ir)?;
        let jc = self.ints(jc)?;
        let numeric = |e: &Element| -> Result<Vec<f64>, String> {
            let dtype = stored_dtype(e.ty)?;
            let n = e.data.len() / (dtype.bits() / 8) as usize;
            let mut out = vec![0.0; n];
            let t = crate::tensor::Tensor {
                big_endian: self.big,
                ..crate::tensor::Tensor::dense(dtype, vec![n as u64], e.data.clone())
            };
            super::decode_all(&t, &mut out);
            Ok(out)
        };
        let re = numeric(pr)?;
        let im = if complex {
            rest.get(3).map(numeric).transpose()?
        } else {
            None
        };
        super::sparse_value(rows, cols, &ir, &jc, &re, im.as_deref(), logical)
    }
}

fn stored_dtype(ty: u32) -> Result<DType, String> {
    use DType::*;
    Ok(match ty {
        MI_INT8 => I8,
        MI_UINT8 => U8,
        MI_INT16 => I16,
        MI_UINT16 => U16,
        MI_INT32 => I32,
        MI_UINT32 => U32,
        MI_SINGLE => F32,
        MI_DOUBLE => F64,
        MI_INT64 => I64,
        MI_UINT64 => U64,
        t => return Err(format!("MAT data type {t} cannot hold numbers")),
    })
}
