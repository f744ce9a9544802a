//! Decoding stored elements (little-endian, any dtype) into f64 blocks for the kernels.

use std::sync::LazyLock;

use half::slice::HalfFloatSliceExt;
use multiversion::multiversion;

use crate::tensor::DType;

/// Decodes `out.len()` elements of a real dtype from `bytes` (exactly `out.len()` × element size).
/// Complex dtypes decode their real part here; see [`decode_complex`].
pub fn decode(dtype: DType, bytes: &[u8], out: &mut [f64]) {
    use DType::*;
    match dtype {
        Bool => {
            for (o, &b) in out.iter_mut().zip(bytes) {
                *o = (b != 0) as u8 as f64;
            }
        }
        U8 => ints::<1>(bytes, out, |b| b[0] as f64),
        I8 => ints::<1>(bytes, out, |b| b[0] as i8 as f64),
        U16 => ints::<2>(bytes, out, |b| u16::from_le_bytes(b) as f64),
        I16 => ints::<2>(bytes, out, |b| i16::from_le_bytes(b) as f64),
        U32 => ints::<4>(bytes, out, |b| u32::from_le_bytes(b) as f64),
        I32 => ints::<4>(bytes, out, |b| i32::from_le_bytes(b) as f64),
        U64 => ints::<8>(bytes, out, |b| u64::from_le_bytes(b) as f64),
        I64 => ints::<8>(bytes, out, |b| i64::from_le_bytes(b) as f64),
        F16 => decode_f16(bytes, out),
        BF16 => decode_bf16(bytes, out),
        F32 => decode_f32(bytes, out),
        F64 => decode_f64(bytes, out),
        F8E4M3 => lut(&F8_E4M3_LUT, bytes, out),
        F8E5M2 => lut(&F8_E5M2_LUT, bytes, out),
        F8E4M3Fnuz => lut(&F8_E4M3FNUZ_LUT, bytes, out),
        F8E5M2Fnuz => lut(&F8_E5M2FNUZ_LUT, bytes, out),
        F8E8M0 => lut(&F8_E8M0_LUT, bytes, out),
        C32 | C64 | C128 => unreachable!("complex tensors decode through decode_complex"),
        F4 => decode_f4(bytes, out),
        F6E2M3 | F6E3M2 => unreachable!("6-bit floats are not decoded"),
    }
}

/// Decodes complex elements (real, imaginary interleaved) into two blocks. A real dtype decodes
/// into `re` with `im` zero, so a real tensor can be compared with a complex one.
pub fn decode_complex(dtype: DType, bytes: &[u8], re: &mut [f64], im: &mut [f64]) {
    match dtype {
        DType::C32 => {
            for ((r, i), b) in re.iter_mut().zip(im.iter_mut()).zip(bytes.chunks_exact(4)) {
                *r = half::f16::from_le_bytes([b[0], b[1]]).to_f64();
                *i = half::f16::from_le_bytes([b[2], b[3]]).to_f64();
            }
        }
        DType::C64 => {
            for ((r, i), b) in re.iter_mut().zip(im.iter_mut()).zip(bytes.chunks_exact(8)) {
                *r = f32::from_le_bytes(b[..4].try_into().expect("4 bytes")) as f64;
                *i = f32::from_le_bytes(b[4..].try_into().expect("4 bytes")) as f64;
            }
        }
        DType::C128 => {
            for ((r, i), b) in re.iter_mut().zip(im.iter_mut()).zip(bytes.chunks_exact(16)) {
                *r = f64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
                *i = f64::from_le_bytes(b[8..].try_into().expect("8 bytes"));
            }
        }
        real => {
            decode(real, bytes, re);
            im.fill(0.0);
        }
    }
}

#[inline(always)]
fn ints<const N: usize>(bytes: &[u8], out: &mut [f64], f: impl Fn([u8; N]) -> f64) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(N)) {
        *o = f(b.try_into().expect("N bytes"));
    }
}

#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
fn decode_f32(bytes: &[u8], out: &mut [f64]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *o = f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64;
    }
}

#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
fn decode_f64(bytes: &[u8], out: &mut [f64]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        *o = f64::from_le_bytes(b.try_into().expect("8 bytes"));
    }
}

#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
fn decode_bf16(bytes: &[u8], out: &mut [f64]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let bits = u16::from_le_bytes(b.try_into().expect("2 bytes")) as u32;
        *o = f32::from_bits(bits << 16) as f64;
    }
}

/// Elements per f16 conversion batch: the bytes are copied to an aligned `u16` buffer first.
const F16_BATCH: usize = 256;

fn decode_f16(bytes: &[u8], out: &mut [f64]) {
    let mut bits = [half::f16::ZERO; F16_BATCH];
    for (o, b) in out.chunks_mut(F16_BATCH).zip(bytes.chunks(F16_BATCH * 2)) {
        let bits = &mut bits[..o.len()];
        for (h, pair) in bits.iter_mut().zip(b.chunks_exact(2)) {
            *h = half::f16::from_bits(u16::from_le_bytes(pair.try_into().expect("2 bytes")));
        }
        // Uses F16C when the CPU has it (detected at run time by `half`).
        bits.convert_to_f64_slice(o);
    }
}

/// E2M1 magnitudes by the low three bits (OCP MX specification); bit 3 is the sign.
const F4_E2M1: [f64; 8] = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0];

/// Two elements per byte, the first in the low nibble (PyTorch's `float4_e2m1fn_x2`).
/// `bytes` starts at an even element.
fn decode_f4(bytes: &[u8], out: &mut [f64]) {
    for (i, o) in out.iter_mut().enumerate() {
        let byte = bytes[i / 2];
        let nibble = if i % 2 == 0 { byte & 0x0F } else { byte >> 4 };
        let magnitude = F4_E2M1[(nibble & 0x7) as usize];
        *o = if nibble & 0x8 != 0 {
            -magnitude
        } else {
            magnitude
        };
    }
}

fn lut(table: &[f64; 256], bytes: &[u8], out: &mut [f64]) {
    for (o, &b) in out.iter_mut().zip(bytes) {
        *o = table[b as usize];
    }
}

/// How a minifloat spells its special values.
#[derive(Clone, Copy)]
enum Specials {
    /// OCP "fn": no infinities; only all-ones exponent and mantissa is NaN.
    FiniteNanAllOnes,
    /// IEEE: all-ones exponent is Inf (mantissa 0) or NaN.
    Ieee,
    /// "fnuz": the byte 0x80 (negative zero) is the only NaN; no infinities.
    Fnuz,
}

/// Value of an 8-bit float with `e_bits` exponent and `m_bits` mantissa bits, sign bit on top.
fn minifloat(byte: u8, e_bits: u32, m_bits: u32, bias: i32, specials: Specials) -> f64 {
    let sign = if byte & 0x80 != 0 { -1.0 } else { 1.0 };
    let e = ((byte >> m_bits) & ((1u8 << e_bits) - 1)) as i32;
    let m = (byte & ((1u8 << m_bits) - 1)) as i32;
    let e_max = (1i32 << e_bits) - 1;
    let m_max = (1i32 << m_bits) - 1;
    match specials {
        Specials::FiniteNanAllOnes if e == e_max && m == m_max => return f64::NAN,
        Specials::Ieee if e == e_max => {
            return if m == 0 {
                sign * f64::INFINITY
            } else {
                f64::NAN
            };
        }
        Specials::Fnuz if byte == 0x80 => return f64::NAN,
        _ => {}
    }
    let scale = (1i32 << m_bits) as f64;
    let magnitude = if e == 0 {
        (m as f64 / scale) * 2f64.powi(1 - bias)
    } else {
        (1.0 + m as f64 / scale) * 2f64.powi(e - bias)
    };
    sign * magnitude
}

fn table(f: impl Fn(u8) -> f64) -> [f64; 256] {
    std::array::from_fn(|i| f(i as u8))
}

static F8_E4M3_LUT: LazyLock<[f64; 256]> =
    LazyLock::new(|| table(|b| minifloat(b, 4, 3, 7, Specials::FiniteNanAllOnes)));
static F8_E5M2_LUT: LazyLock<[f64; 256]> =
    LazyLock::new(|| table(|b| minifloat(b, 5, 2, 15, Specials::Ieee)));
static F8_E4M3FNUZ_LUT: LazyLock<[f64; 256]> =
    LazyLock::new(|| table(|b| minifloat(b, 4, 3, 8, Specials::Fnuz)));
static F8_E5M2FNUZ_LUT: LazyLock<[f64; 256]> =
    LazyLock::new(|| table(|b| minifloat(b, 5, 2, 16, Specials::Fnuz)));
/// E8M0 (MX block scale): unsigned, 2^(e-127); 0xFF is NaN.
static F8_E8M0_LUT: LazyLock<[f64; 256]> = LazyLock::new(|| {
    table(|b| {
        if b == 0xFF {
            f64::NAN
        } else {
            2f64.powi(b as i32 - 127)
        }
    })
});

#[cfg(test)]
mod tests {
    use super::*;

    fn one(dtype: DType, bytes: &[u8]) -> f64 {
        let mut out = [0.0];
        decode(dtype, bytes, &mut out);
        out[0]
    }

    #[test]
    fn float8_known_values() {
        // Values from the OCP FP8 specification tables.
        assert_eq!(one(DType::F8E4M3, &[0x7E]), 448.0); // max normal
        assert!(one(DType::F8E4M3, &[0x7F]).is_nan());
        assert_eq!(one(DType::F8E4M3, &[0x01]), 2f64.powi(-9)); // min subnormal
        assert_eq!(one(DType::F8E5M2, &[0x7B]), 57344.0);
        assert_eq!(one(DType::F8E5M2, &[0x7C]), f64::INFINITY);
        assert_eq!(one(DType::F8E5M2, &[0xFC]), f64::NEG_INFINITY);
        assert!(one(DType::F8E5M2, &[0x7D]).is_nan());
        assert!(one(DType::F8E4M3Fnuz, &[0x80]).is_nan());
        assert_eq!(one(DType::F8E4M3Fnuz, &[0x7F]), 240.0);
        assert_eq!(one(DType::F8E5M2Fnuz, &[0x7F]), 57344.0);
        assert_eq!(one(DType::F8E8M0, &[127]), 1.0);
        assert!(one(DType::F8E8M0, &[0xFF]).is_nan());
    }

    #[test]
    fn halves_and_ints() {
        assert_eq!(one(DType::BF16, &0x3F80u16.to_le_bytes()), 1.0);
        assert_eq!(one(DType::F16, &0x3C00u16.to_le_bytes()), 1.0);
        assert_eq!(one(DType::F16, &0xFC00u16.to_le_bytes()), f64::NEG_INFINITY);
        assert_eq!(one(DType::I16, &(-2i16).to_le_bytes()), -2.0);
        assert_eq!(one(DType::U64, &u64::MAX.to_le_bytes()), u64::MAX as f64);
        assert_eq!(one(DType::Bool, &[2]), 1.0);
        let mut two = [0.0; 2];
        decode(DType::F4, &[0xA7], &mut two); // low nibble 0x7 = 6.0, high 0xA = -1.0
        assert_eq!(two, [6.0, -1.0]);
    }
}
