//! MATLAB `.mat` files: level 4 ([`v4`]), level 5 / v6 / v7 ([`v5`]) and v7.3, which is HDF5
//! ([`v73`]). Variables keep the class MATLAB gives them (a `double` stored on disk as uint8 is
//! still a double), their shape as MATLAB shows it (`[rows, cols]`, column-major data), cells as
//! lists, structs as maps, whatever the version.

pub mod v4;
pub mod v5;
pub mod v73;

use std::path::Path;

use crate::artifact::Artifact;
use crate::error::{Error, Result};
use crate::formats::{map_file, Reader};
use crate::stats::decode;
use crate::tensor::{fortran_strides, ByteSource, DType, Tensor};
use crate::value::{Map, Value};

/// Most elements a sparse matrix may expand to (its statistics count the implicit zeros, so it
/// becomes dense): 16 Mi elements, 128 MiB of doubles.
pub const MAX_SPARSE_DENSE: u64 = 16 << 20;

/// The HDF5 signature v7.3 files carry after their 512-byte MATLAB header.
const HDF5_MAGIC: &[u8] = b"\x89HDF\r\n\x1a\n";

pub struct MatReader;

impl Reader for MatReader {
    fn name(&self) -> &'static str {
        "matlab"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &[".mat"]
    }

    fn sniff(&self, _path: &Path, head: &[u8]) -> bool {
        head.starts_with(b"MATLAB") && v5::sniff(head).is_some()
    }

    fn read(&self, path: &Path) -> Result<Artifact> {
        let buf = map_file(path)?;
        let (root, format) = parse(&ByteSource::whole(buf.clone()));
        let root = root.map_err(|m| Error::file(path, m))?;
        Ok(Artifact::from_file(
            path,
            format,
            buf.len() as u64,
            Value::Map(root),
            Vec::new(),
        ))
    }
}

/// The variables of a MAT file of any version, and the version's name: v7.3 (HDF5 behind the
/// 512-byte header), level 5 (`IM`/`MI` at bytes 126-127), else level 4 (no header).
pub fn parse(source: &ByteSource) -> (std::result::Result<Map, String>, &'static str) {
    let buf = source.bytes();
    if buf.get(512..520) == Some(HDF5_MAGIC) {
        (v73::parse(source), "matlab-v7.3")
    } else if buf.starts_with(b"MATLAB") && v5::sniff(buf).is_some() {
        (v5::parse(source), "matlab-v5")
    } else {
        (v4::parse(source), "matlab-v4")
    }
}

/// MATLAB's numeric and logical classes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Class {
    Double,
    Single,
    Int8,
    UInt8,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    UInt64,
    Logical,
}

impl Class {
    /// From a level-5 class code (mxDOUBLE_CLASS = 6 … mxUINT64_CLASS = 15).
    pub fn from_code(code: u32, logical: bool) -> Option<Class> {
        use Class::*;
        if logical {
            return Some(Logical);
        }
        Some(match code {
            6 => Double,
            7 => Single,
            8 => Int8,
            9 => UInt8,
            10 => Int16,
            11 => UInt16,
            12 => Int32,
            13 => UInt32,
            14 => Int64,
            15 => UInt64,
            _ => return None,
        })
    }

    fn dtype(self, complex: bool) -> DType {
        use Class::*;
        match (self, complex) {
            (Double, false) => DType::F64,
            (Double, true) => DType::C128,
            (Single, false) => DType::F32,
            (Single, true) => DType::C64,
            (Int8, _) => DType::I8,
            (UInt8, _) => DType::U8,
            (Int16, _) => DType::I16,
            (UInt16, _) => DType::U16,
            (Int32, _) => DType::I32,
            (UInt32, _) => DType::U32,
            (Int64, _) => DType::I64,
            (UInt64, _) => DType::U64,
            (Logical, _) => DType::Bool,
        }
    }
}

/// One part (real or imaginary) of a numeric variable as stored: the on-disk type may be
/// smaller than the class (MATLAB stores integer-valued doubles as uint8, say).
pub struct Numeric {
    pub stored: DType,
    pub bytes: ByteSource,
    pub big_endian: bool,
}

/// Decodes every element of a plain or big-endian dense tensor to f64.
pub fn decode_all(t: &Tensor, out: &mut [f64]) {
    if t.big_endian {
        let size = (t.dtype.bits() / 8) as usize;
        let swapped: Vec<u8> = t
            .bytes()
            .chunks_exact(size)
            .flat_map(|c| c.iter().rev().copied())
            .collect();
        decode::decode(t.dtype, &swapped, out);
    } else {
        decode::decode(t.dtype, t.bytes(), out);
    }
}

/// A numeric/logical variable of `class`: zero copy when stored in its class type, else
/// converted; column-major layout.
pub fn class_value(
    class: Class,
    shape: &[u64],
    numel: u64,
    real: Numeric,
    imag: Option<Numeric>,
) -> std::result::Result<Value, String> {
    let dtype = class.dtype(imag.is_some());
    for part in std::iter::once(&real).chain(imag.as_ref()) {
        let have = part.bytes.len() as u64 / (part.stored.bits() / 8);
        if have != numel {
            return Err(format!(
                "a {shape:?} variable stores {have} elements instead of {numel}"
            ));
        }
    }
    let plain = imag.is_none() && real.stored == dtype;
    let source = if plain {
        real.bytes.clone()
    } else {
        let values = |p: &Numeric| {
            let mut v = vec![0.0; numel as usize];
            let t = Tensor {
                big_endian: p.big_endian,
                ..Tensor::dense(p.stored, vec![numel], p.bytes.clone())
            };
            decode_all(&t, &mut v);
            v
        };
        let re = values(&real);
        let im = imag.as_ref().map(values);
        ByteSource::owned(encode(dtype, &re, im.as_deref()))
    };
    let mut t = Tensor::dense(dtype, shape.to_vec(), source);
    t.big_endian = plain && real.big_endian && dtype.bits() > 8;
    t.strides = fortran_strides(shape);
    Ok(Value::Tensor(Box::new(t)))
}

/// Values (already in the class's range) as little-endian bytes of `dtype`.
fn encode(dtype: DType, re: &[f64], im: Option<&[f64]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(re.len() * (dtype.bits() / 8) as usize);
    for (i, &x) in re.iter().enumerate() {
        let y = im.map_or(0.0, |im| im[i]);
        match dtype {
            DType::F64 => out.extend(x.to_le_bytes()),
            DType::F32 => out.extend((x as f32).to_le_bytes()),
            DType::C128 => {
                out.extend(x.to_le_bytes());
                out.extend(y.to_le_bytes());
            }
            DType::C64 => {
                out.extend((x as f32).to_le_bytes());
                out.extend((y as f32).to_le_bytes());
            }
            DType::I8 => out.extend((x as i8).to_le_bytes()),
            DType::U8 | DType::Bool => out.extend((x as u8).to_le_bytes()),
            DType::I16 => out.extend((x as i16).to_le_bytes()),
            DType::U16 => out.extend((x as u16).to_le_bytes()),
            DType::I32 => out.extend((x as i32).to_le_bytes()),
            DType::U32 => out.extend((x as u32).to_le_bytes()),
            DType::I64 => out.extend((x as i64).to_le_bytes()),
            DType::U64 => out.extend((x as u64).to_le_bytes()),
            other => unreachable!("MATLAB classes never map to {other}"),
        }
    }
    out
}

/// A char array: one string for a row or column, else its rows (data is column-major). The
/// characters must be as many as the dimensions say.
pub fn char_value(text: &str, shape: &[u64]) -> std::result::Result<Value, String> {
    let chars: Vec<char> = text.chars().collect();
    let numel = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    if numel != Some(chars.len() as u64) {
        return Err(format!(
            "a char array of dimensions {shape:?} holds {} characters",
            chars.len()
        ));
    }
    Ok(match shape {
        [rows, cols] if *rows > 1 && *cols > 1 => {
            let (rows, cols) = (*rows as usize, *cols as usize);
            Value::List(
                (0..rows)
                    .map(|r| {
                        Value::Str((0..cols).filter_map(|c| chars.get(c * rows + r)).collect())
                    })
                    .collect(),
            )
        }
        _ => Value::Str(chars.into_iter().collect()),
    })
}

/// Something listed with its class and shape but not decoded.
pub fn opaque(class: &str, shape: &[u64]) -> Value {
    let mut m = Map::new();
    m.push("__class__".into(), Value::Str(class.to_string()));
    m.push(
        "shape".into(),
        Value::List(shape.iter().map(|&d| Value::Int(d as i128)).collect()),
    );
    m.push(
        "fallback".into(),
        Value::Str(format!("{class} values are not decoded")),
    );
    Value::Map(m)
}

/// A sparse matrix (compressed columns: row indices `ir`, column starts `jc`) as a dense
/// column-major tensor, so its statistics include the implicit zeros.
pub fn sparse_value(
    rows: u64,
    cols: u64,
    ir: &[i64],
    jc: &[i64],
    re: &[f64],
    im: Option<&[f64]>,
    logical: bool,
) -> std::result::Result<Value, String> {
    let numel = rows.checked_mul(cols).ok_or("sparse dimensions overflow")?;
    if numel > MAX_SPARSE_DENSE || rows > MAX_SPARSE_DENSE || cols > MAX_SPARSE_DENSE {
        return Ok(opaque("sparse", &[rows, cols]));
    }
    if jc.len() as u64 != cols + 1 {
        return Err("sparse matrix column pointers do not match its columns".into());
    }
    let mut dense_re = vec![0.0; numel as usize];
    let mut dense_im = im.map(|_| vec![0.0; numel as usize]);
    for c in 0..cols as usize {
        let (start, end) = (jc[c], jc[c + 1]);
        if start < 0 || end < start || end as usize > ir.len() || end as usize > re.len() {
            return Err("sparse matrix column pointers are out of range".into());
        }
        for k in start as usize..end as usize {
            let r = ir[k];
            if r < 0 || r as u64 >= rows {
                return Err("sparse matrix row index out of range".into());
            }
            let at = c * rows as usize + r as usize;
            dense_re[at] = re[k];
            if let (Some(d), Some(im)) = (dense_im.as_mut(), im) {
                d[at] = *im.get(k).ok_or("sparse imaginary part is short")?;
            }
        }
    }
    let dtype = match (logical, im.is_some()) {
        (true, _) => DType::Bool,
        (false, true) => DType::C128,
        (false, false) => DType::F64,
    };
    let bytes = encode(dtype, &dense_re, dense_im.as_deref());
    let mut t = Tensor::dense(dtype, vec![rows, cols], ByteSource::owned(bytes));
    t.strides = fortran_strides(&[rows, cols]);
    Ok(Value::Tensor(Box::new(t)))
}
