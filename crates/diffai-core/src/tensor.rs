//! Tensor leaves: element types, shapes and the bytes behind them.

use std::fmt;
use std::sync::Arc;

use memmap2::Mmap;

use crate::deflated::Deflated;
use serde::Serialize;

/// Most bytes of a compressed record inflated whole into memory when it cannot be streamed
/// (see [`ByteSource::bytes_in_memory`]): 4 GiB. Sizes come from the file, and a zip bomb
/// inflates a thousandfold, so without a bound a small hostile file could exhaust memory.
pub const MAX_INFLATED_BYTES: u64 = 4 << 30;
/// Every element type diffai knows, named the way numpy/torch name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DType {
    Bool,
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F16,
    BF16,
    F32,
    F64,
    /// OCP FP8 E4M3 "fn": no infinities, NaN = S.1111.111, bias 7.
    F8E4M3,
    /// OCP FP8 E5M2: IEEE-like, bias 15.
    F8E5M2,
    /// FNUZ variant of E4M3 (bias 8, single NaN 0x80, no negative zero).
    F8E4M3Fnuz,
    /// FNUZ variant of E5M2 (bias 16, single NaN 0x80, no negative zero).
    F8E5M2Fnuz,
    /// MX scale type: 8-bit exponent only, value 2^(e-127), 0xFF = NaN.
    F8E8M0,
    /// Packed 4-bit float (E2M1), two per byte, the first element in the low nibble.
    F4,
    /// Packed 6-bit floats: reported, compared byte for byte, not decoded.
    F6E2M3,
    F6E3M2,
    /// Complex of two f16 (torch's `complex32`).
    C32,
    /// Complex of two f32 (real, imaginary).
    C64,
    /// Complex of two f64.
    C128,
}

impl DType {
    /// Storage size in bits of one element.
    pub fn bits(self) -> u64 {
        use DType::*;
        match self {
            F4 => 4,
            F6E2M3 | F6E3M2 => 6,
            Bool | U8 | I8 | F8E4M3 | F8E5M2 | F8E4M3Fnuz | F8E5M2Fnuz | F8E8M0 => 8,
            U16 | I16 | F16 | BF16 => 16,
            U32 | I32 | F32 | C32 => 32,
            U64 | I64 | F64 | C64 => 64,
            C128 => 128,
        }
    }

    /// Bytes needed for `numel` elements, `None` on overflow. Sub-byte types pack densely.
    pub fn bytes_for(self, numel: u64) -> Option<u64> {
        let bits = numel.checked_mul(self.bits())?;
        Some(bits.div_ceil(8))
    }

    /// The canonical lower-case name used in every output (numpy/torch style).
    pub fn name(self) -> &'static str {
        use DType::*;
        match self {
            Bool => "bool",
            U8 => "uint8",
            I8 => "int8",
            U16 => "uint16",
            I16 => "int16",
            U32 => "uint32",
            I32 => "int32",
            U64 => "uint64",
            I64 => "int64",
            F16 => "float16",
            BF16 => "bfloat16",
            F32 => "float32",
            F64 => "float64",
            F8E4M3 => "float8_e4m3fn",
            F8E5M2 => "float8_e5m2",
            F8E4M3Fnuz => "float8_e4m3fnuz",
            F8E5M2Fnuz => "float8_e5m2fnuz",
            F8E8M0 => "float8_e8m0fnu",
            F4 => "float4_e2m1fn",
            F6E2M3 => "float6_e2m3fn",
            F6E3M2 => "float6_e3m2fn",
            C32 => "complex32",
            C64 => "complex64",
            C128 => "complex128",
        }
    }

    pub fn is_complex(self) -> bool {
        matches!(self, DType::C32 | DType::C64 | DType::C128)
    }

    /// Why the statistics kernel cannot decode this type, if it cannot.
    pub fn undecodable_reason(self) -> Option<&'static str> {
        match self {
            DType::F6E2M3 | DType::F6E3M2 => Some(
                "packed 6-bit float: the element packing order is not specified by the format; compared byte for byte only",
            ),
            _ => None,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A whole input held for reading: a read-only memory map, or bytes in memory (tests, fuzzing,
/// decompressed data). Clones are cheap (reference counted).
#[derive(Clone)]
pub enum Buffer {
    Mapped(Arc<Mmap>),
    Owned(Arc<[u8]>),
}

impl std::ops::Deref for Buffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Buffer::Mapped(m) => m,
            Buffer::Owned(b) => b,
        }
    }
}

impl AsRef<[u8]> for Buffer {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<Vec<u8>> for Buffer {
    fn from(v: Vec<u8>) -> Self {
        Buffer::Owned(v.into())
    }
}

/// Where a tensor's bytes live: a range of a [`Buffer`] (zero copy), or a range of what a
/// deflate stream inflates to ([`Deflated`], read window by window).
#[derive(Clone)]
pub struct ByteSource {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Range {
        buffer: Buffer,
        offset: usize,
        len: usize,
    },
    Deflated(Arc<Deflated>),
}

impl ByteSource {
    /// The range `offset..offset + len` of `buffer`; `None` if it does not fit.
    pub fn new(buffer: Buffer, offset: usize, len: usize) -> Option<ByteSource> {
        let end = offset.checked_add(len)?;
        (end <= buffer.len()).then_some(ByteSource {
            repr: Repr::Range {
                buffer,
                offset,
                len,
            },
        })
    }

    /// All of a buffer.
    pub fn whole(buffer: Buffer) -> ByteSource {
        let len = buffer.len();
        ByteSource {
            repr: Repr::Range {
                buffer,
                offset: 0,
                len,
            },
        }
    }

    /// All of `bytes`, owned.
    pub fn owned(bytes: Vec<u8>) -> ByteSource {
        ByteSource::whole(bytes.into())
    }

    /// Bytes inside a compressed stream.
    pub fn deflated(d: Deflated) -> ByteSource {
        ByteSource {
            repr: Repr::Deflated(Arc::new(d)),
        }
    }

    /// The compressed stream these bytes come from, if they are compressed.
    pub fn as_deflated(&self) -> Option<&Deflated> {
        match &self.repr {
            Repr::Deflated(d) => Some(d),
            Repr::Range { .. } => None,
        }
    }

    /// All the bytes, for a reader that needs a whole record in memory (a pickle, a structured
    /// or text array, a compressed MAT cell): a compressed source that would inflate beyond
    /// [`MAX_INFLATED_BYTES`] is refused instead of allocated.
    pub fn bytes_in_memory(&self) -> Result<&[u8], String> {
        match self.as_deflated() {
            Some(d) if d.len() > MAX_INFLATED_BYTES => Err(format!(
                "a compressed record inflates to {} bytes, more than the {MAX_INFLATED_BYTES} bytes diffai inflates into memory",
                d.len()
            )),
            _ => Ok(self.bytes()),
        }
    }

    /// Where these bytes start in memory (in a file's map or an owned buffer), `None` when they
    /// are compressed. Work ordered by it reads each file front to back, whatever order the
    /// tensors are named in (a torch checkpoint stores `layers.2` before `layers.10`).
    pub fn address(&self) -> Option<usize> {
        match &self.repr {
            Repr::Range { .. } => Some(self.bytes().as_ptr() as usize),
            Repr::Deflated(_) => None,
        }
    }

    /// All the bytes. A compressed source is inflated whole on first use and kept, so code
    /// that reads large tensors goes through [`ByteSource::windows`] instead.
    pub fn bytes(&self) -> &[u8] {
        match &self.repr {
            Repr::Range {
                buffer,
                offset,
                len,
            } => &buffer[*offset..*offset + *len],
            Repr::Deflated(d) => d.whole(),
        }
    }

    /// The map and the range of it (offset, length) that bytes `start..start + len` of a
    /// memory-mapped source occupy; `None` for other sources.
    #[cfg(unix)]
    fn mapped_range(&self, start: usize, len: usize) -> Option<(&Mmap, usize, usize)> {
        let Repr::Range {
            buffer: Buffer::Mapped(map),
            offset,
            len: total,
        } = &self.repr
        else {
            return None;
        };
        let from = offset + start.min(*total);
        let end = offset + start.saturating_add(len).min(*total);
        (end > from).then_some((&**map, from, end - from))
    }

    /// Asks the OS to start reading bytes `start..start + len` of a memory-mapped source into
    /// the page cache, without waiting (a no-op for other sources): on a cold file, the next
    /// stretch arrives while the current one is computed on.
    pub fn will_need(&self, start: usize, len: usize) {
        #[cfg(unix)]
        if let Some((map, from, len)) = self.mapped_range(start, len) {
            let _ = map.advise_range(memmap2::Advice::WillNeed, from, len);
        }
        #[cfg(not(unix))]
        let _ = (start, len);
    }

    /// Tells the OS this process is done with bytes `start..start + len` of a memory-mapped
    /// source for now: their pages are unmapped from the process (they stay in the page cache
    /// and are mapped again if read again). On a file larger than the page cache, pages that
    /// are no longer mapped are cheap to reclaim, while reclaiming mapped ones made each read
    /// wait on unmapping (2 cores busy at 0.45 GB/s in a 28 GB diff).
    pub fn release(&self, start: usize, len: usize) {
        #[cfg(unix)]
        if let Some((map, from, len)) = self.mapped_range(start, len) {
            // SAFETY: the map is read-only and file-backed, so MADV_DONTNEED only drops this
            // process's page table entries; a later read maps the same file bytes again. No
            // reference into the map is invalidated.
            let _ = unsafe {
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, len)
            };
        }
        #[cfg(not(unix))]
        let _ = (start, len);
    }

    /// The sub-range `start..start + len` of these bytes; `None` if it does not fit.
    pub fn slice(&self, start: u64, len: u64) -> Option<ByteSource> {
        let end = start.checked_add(len)?;
        if end > self.len() as u64 {
            return None;
        }
        let repr = match &self.repr {
            Repr::Range { buffer, offset, .. } => Repr::Range {
                buffer: buffer.clone(),
                offset: offset + start as usize,
                len: len as usize,
            },
            Repr::Deflated(d) => Repr::Deflated(Arc::new(d.slice(start, len))),
        };
        Some(ByteSource { repr })
    }

    /// The bytes in successive windows of `window` bytes (the last may be shorter): slices of
    /// the buffer, or freshly inflated memory for a compressed source.
    pub fn windows(&self, window: usize) -> SourceWindows<'_> {
        match &self.repr {
            Repr::Range { .. } => SourceWindows::Range {
                source: self,
                at: 0,
                window: window.max(1),
            },
            Repr::Deflated(d) => SourceWindows::Deflated(d.windows(window)),
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Range { len, .. } => *len,
            Repr::Deflated(d) => d.len() as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// See [`ByteSource::windows`].
pub enum SourceWindows<'a> {
    Range {
        source: &'a ByteSource,
        at: usize,
        window: usize,
    },
    Deflated(crate::deflated::Windows<'a>),
}

impl SourceWindows<'_> {
    /// The next window; `Ok(None)` at the end. Only a compressed source can fail (its file
    /// changed since it was read).
    pub fn next_window(&mut self) -> Result<Option<ByteSource>, String> {
        match self {
            SourceWindows::Range { source, at, window } => {
                let len = (*window).min(source.len() - *at);
                if len == 0 {
                    return Ok(None);
                }
                let w = source.slice(*at as u64, len as u64);
                *at += len;
                Ok(w)
            }
            SourceWindows::Deflated(w) => w.next_window(),
        }
    }
}

impl fmt::Debug for ByteSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ByteSource({} bytes)", self.len())
    }
}

/// A tensor leaf of the value tree: `shape` elements of `dtype` read from `source`, densely in C
/// order and little-endian unless `strides` or `big_endian` say otherwise.
#[derive(Debug, Clone)]
pub struct Tensor {
    pub dtype: DType,
    pub shape: Vec<u64>,
    /// Bytes from the first element on (a view's storage offset already applied).
    pub source: ByteSource,
    /// Element strides of a view that is not dense C order (torch views); `None` when dense.
    pub strides: Option<Vec<u64>>,
    /// Elements stored most significant byte first (a torch file written on a big-endian host).
    pub big_endian: bool,
}

impl Tensor {
    /// A dense, little-endian tensor (safetensors, npy, most torch tensors).
    pub fn dense(dtype: DType, shape: Vec<u64>, source: ByteSource) -> Tensor {
        Tensor {
            dtype,
            shape,
            source,
            strides: None,
            big_endian: false,
        }
    }

    /// Number of elements (the product of the shape; 1 for a 0-d tensor).
    /// Readers validate that this product fits and matches the bytes.
    pub fn numel(&self) -> u64 {
        self.shape.iter().product()
    }

    /// Whether the elements can be read straight from `source` (dense and little-endian).
    pub fn is_plain(&self) -> bool {
        self.strides.is_none() && !self.big_endian
    }

    /// The stored bytes: every element when plain, else the span a view reaches.
    pub fn bytes(&self) -> &[u8] {
        self.source.bytes()
    }

    /// Bytes of the elements themselves (`numel` × element size), whatever the layout.
    pub fn byte_len(&self) -> u64 {
        self.dtype.bytes_for(self.numel()).unwrap_or(u64::MAX)
    }
}

/// C-order element strides of a shape.
pub fn dense_strides(shape: &[u64]) -> Vec<u64> {
    let mut strides = vec![1u64; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1].saturating_mul(shape[d + 1]);
    }
    strides
}

/// Element strides of a column-major (Fortran, MATLAB) array, or `None` when that layout is
/// also C order (at most one dimension longer than 1).
pub fn fortran_strides(shape: &[u64]) -> Option<Vec<u64>> {
    if shape.iter().filter(|&&d| d > 1).count() <= 1 {
        return None;
    }
    let mut strides = vec![1u64; shape.len()];
    for d in 1..shape.len() {
        strides[d] = strides[d - 1].saturating_mul(shape[d - 1]);
    }
    Some(strides)
}

/// Bytes a view with `shape` and element `strides` reaches from its first element, `None` on
/// overflow. Zero for an empty view.
pub fn strided_span(shape: &[u64], strides: &[u64], elem_bytes: u64) -> Option<u64> {
    if shape.contains(&0) {
        return Some(0);
    }
    let last = shape.iter().zip(strides).try_fold(0u64, |acc, (&d, &s)| {
        acc.checked_add((d - 1).checked_mul(s)?)
    })?;
    last.checked_add(1)?.checked_mul(elem_bytes)
}

/// `[a, b, c]`, the way every output shows a shape.
pub fn format_shape(shape: &[u64]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}
