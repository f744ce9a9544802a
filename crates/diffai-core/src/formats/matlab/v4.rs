//! MAT-file level 4: a sequence of matrices, each a 20-byte header (type MOPT, rows, columns,
//! imaginary flag, name length), the name, then the real and imaginary parts column-major.
//! The M digit gives the byte order (0 little-endian, 1 big-endian); P the stored type; T full
//! (0), text (1) or sparse (2). Every numeric v4 variable is of class double.

use super::{char_value, class_value, sparse_value, Class, Numeric};
use crate::tensor::{ByteSource, DType, Tensor};
use crate::value::Map;

/// Longest variable name accepted (MATLAB's limit is 63 characters; v4 files rarely exceed it).
const MAX_NAME_BYTES: u64 = 4096;

pub fn parse(source: &ByteSource) -> Result<Map, String> {
    let data = source.bytes();
    let mut root = Map::new();
    let mut pos = 0usize;
    while pos < data.len() {
        let header = data
            .get(pos..pos + 20)
            .ok_or("truncated MAT v4 file: a matrix header is cut short")?;
        let le = |i: usize| u32::from_le_bytes(header[i * 4..i * 4 + 4].try_into().expect("4"));
        let be = |i: usize| u32::from_be_bytes(header[i * 4..i * 4 + 4].try_into().expect("4"));
        let big = if le(0) < 1000 {
            false
        } else if (1000..2000).contains(&be(0)) {
            true
        } else {
            return Err(format!(
                "not a MAT v4 file (matrix type {} at offset {pos})",
                le(0)
            ));
        };
        let word = |i: usize| if big { be(i) } else { le(i) } as u64;
        let (mopt, rows, cols, imag, namelen) = (word(0), word(1), word(2), word(3), word(4));
        let (o, p, t) = ((mopt / 100) % 10, (mopt / 10) % 10, mopt % 10);
        if o != 0 || t > 2 {
            return Err(format!("unsupported MAT v4 matrix type {mopt}"));
        }
        let stored = match p {
            0 => DType::F64,
            1 => DType::F32,
            2 => DType::I32,
            3 => DType::I16,
            4 => DType::U16,
            5 => DType::U8,
            _ => return Err(format!("unknown MAT v4 precision {p}")),
        };
        if namelen == 0 || namelen > MAX_NAME_BYTES {
            return Err(format!(
                "MAT v4 name length {namelen} is outside 1..={MAX_NAME_BYTES} bytes"
            ));
        }
        pos += 20;
        let name_bytes = data
            .get(pos..pos + namelen as usize)
            .ok_or("truncated MAT v4 file inside a variable name")?;
        let end = name_bytes
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(name_bytes.len());
        let name = String::from_utf8_lossy(&name_bytes[..end]).into_owned();
        pos += namelen as usize;
        let numel = rows.checked_mul(cols).ok_or("MAT v4 dimensions overflow")?;
        let part_bytes = numel
            .checked_mul(stored.bits() / 8)
            .ok_or("MAT v4 matrix size overflows")?;
        let parts = if imag != 0 { 2 } else { 1 };
        let total = part_bytes
            .checked_mul(parts)
            .ok_or("MAT v4 matrix size overflows")?;
        if pos as u64 + total > data.len() as u64 {
            return Err(format!(
                "truncated MAT v4 file: variable '{name}' needs {total} bytes but {} remain",
                data.len() - pos
            ));
        }
        let part = |k: u64| Numeric {
            stored,
            bytes: source
                .slice(pos as u64 + k * part_bytes, part_bytes)
                .expect("checked"),
            big_endian: big,
        };
        let shape = [rows, cols];
        let value = match t {
            0 => class_value(
                Class::Double,
                &shape,
                numel,
                part(0),
                (imag != 0).then(|| part(1)),
            )?,
            1 => {
                let mut codes = vec![0.0; numel as usize];
                super::decode_all(&as_tensor(&part(0), numel), &mut codes);
                let text: String = codes
                    .iter()
                    .map(|&c| char::from_u32(c as u32).unwrap_or('\u{FFFD}'))
                    .collect();
                char_value(&text, &shape)?
            }
            _ => sparse(&part(0), rows, cols, numel)?,
        };
        root.insert(name, value);
        pos += total as usize;
    }
    Ok(root)
}

fn as_tensor(p: &Numeric, numel: u64) -> Tensor {
    Tensor {
        big_endian: p.big_endian,
        ..Tensor::dense(p.stored, vec![numel], p.bytes.clone())
    }
}

/// A v4 sparse matrix is an N×3 (or N×4, complex) matrix of 1-based (row, column, real[, imag])
/// triplets whose last row holds the dimensions.
fn sparse(p: &Numeric, rows: u64, cols: u64, numel: u64) -> Result<crate::value::Value, String> {
    if cols != 3 && cols != 4 {
        return Err("MAT v4 sparse matrix is not N×3 or N×4".into());
    }
    let mut v = vec![0.0; numel as usize];
    super::decode_all(&as_tensor(p, numel), &mut v);
    let n = rows as usize;
    if n == 0 {
        return Err("MAT v4 sparse matrix without its dimension row".into());
    }
    let col = |c: usize| &v[c * n..(c + 1) * n];
    let (ri, ci, re) = (col(0), col(1), col(2));
    let (m, k) = (ri[n - 1], ci[n - 1]);
    if !(m >= 0.0 && k >= 0.0 && m.fract() == 0.0 && k.fract() == 0.0) {
        return Err("MAT v4 sparse dimensions are not counts".into());
    }
    let (m, k) = (m as u64, k as u64);
    let limit = super::MAX_SPARSE_DENSE;
    if m > limit || k > limit || m.checked_mul(k).is_none_or(|e| e > limit) {
        return Ok(super::opaque("sparse", &[m, k]));
    }
    // Triplets are sorted by column: build compressed columns from 1-based indices.
    let index = |x: f64, limit: u64| -> Result<i64, String> {
        if x.fract() == 0.0 && x >= 1.0 && x <= limit as f64 {
            Ok(x as i64 - 1)
        } else {
            Err(format!("MAT v4 sparse index {x} is outside 1..={limit}"))
        }
    };
    let mut jc = vec![0i64; k as usize + 1];
    let mut ir = Vec::with_capacity(n - 1);
    for i in 0..n - 1 {
        let (r, c) = (index(ri[i], m)?, index(ci[i], k)?);
        jc[c as usize + 1] += 1;
        ir.push(r);
    }
    for c in 0..k as usize {
        jc[c + 1] += jc[c];
    }
    let im = (cols == 4).then(|| &col(3)[..n - 1]);
    sparse_value(m, k, &ir, &jc, &re[..n - 1], im, false)
}
