//! Tensor bytes inside a deflate stream (a compressed `.npz` member, a MATLAB `miCOMPRESSED`
//! variable), read by inflating the stream again, window by window, whenever they are needed:
//! memory stays bounded whatever the size of the array.
//!
//! The whole stream is inflated once when the file is read ([`Deflated::check`],
//! [`Deflated::checked`]), so a corrupt or short stream is a read error naming the file, as for
//! any other malformed input; the checksum of a tensor's bytes found then tells two different
//! tensors apart without inflating them again.

use std::sync::OnceLock;

use flate2::{Crc, Decompress, FlushDecompress, Status};

use crate::tensor::{Buffer, ByteSource};

/// Bytes inflated per call into the decompressor while skipping or checking (64 KiB: large enough
/// that call overhead is negligible, small enough to stay in cache).
const STEP_BYTES: usize = 64 << 10;

/// How the compressed bytes are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Raw deflate (zip members).
    Raw,
    /// A zlib stream (MATLAB `miCOMPRESSED`).
    Zlib,
}

/// Bytes `skip..skip + len` of what `compressed` inflates to.
pub struct Deflated {
    compressed: ByteSource,
    framing: Framing,
    skip: u64,
    len: u64,
    /// What the whole stream should inflate to, as its container announces it (zip members:
    /// length and CRC-32); confirmed by [`Deflated::checked`].
    announced: Option<(u64, u32)>,
    /// CRC-32 of these `len` bytes, once checked.
    crc: Option<u32>,
    /// The bytes inflated whole, for callers that need random access (kept once made).
    whole: OnceLock<Buffer>,
}

impl Deflated {
    /// A zip member not inflated yet: `len` bytes with CRC-32 `crc`, as its directory says.
    /// Slices of it read the bytes they need; [`Deflated::checked`] confirms the whole.
    pub fn announced(compressed: ByteSource, framing: Framing, len: u64, crc: u32) -> Deflated {
        Deflated {
            compressed,
            framing,
            skip: 0,
            len,
            announced: Some((len, crc)),
            crc: None,
            whole: OnceLock::new(),
        }
    }

    /// Inflates a whole stream of unknown length once, checking that it is intact, and returns
    /// all its bytes.
    pub fn check(compressed: ByteSource, framing: Framing) -> Result<Deflated, String> {
        let mut d = Deflated {
            compressed,
            framing,
            skip: 0,
            len: u64::MAX,
            announced: None,
            crc: None,
            whole: OnceLock::new(),
        };
        let (total, crc, _) = d.scan()?;
        d.len = total;
        d.crc = Some(crc);
        Ok(d)
    }

    /// These bytes, after inflating the whole stream they belong to once: it must be intact,
    /// hold them, and match what its container announced. The result knows its CRC-32, so two
    /// checked ranges that differ are told apart without inflating them again.
    pub fn checked(&self) -> Result<Deflated, String> {
        let (total, whole_crc, crc) = self.scan()?;
        if let Some((len, want)) = self.announced {
            if total != len {
                return Err(format!(
                    "compressed data does not inflate to the {len} bytes announced"
                ));
            }
            if whole_crc != want {
                return Err(format!(
                    "compressed data fails its CRC-32 check ({whole_crc:08x} instead of {want:08x})"
                ));
            }
        }
        if self.skip.saturating_add(self.len) > total {
            return Err(format!(
                "compressed data ends after {total} bytes, inside the array it should hold"
            ));
        }
        Ok(Deflated {
            crc: Some(crc),
            ..self.slice(0, self.len)
        })
    }

    /// Inflates the whole stream: its length and CRC-32, and the CRC-32 of this range. Stops
    /// past an announced length (a hostile stream may inflate far beyond it).
    fn scan(&self) -> Result<(u64, u32, u32), String> {
        let (mut whole, mut range) = (Crc::new(), Crc::new());
        let (start, end) = (self.skip, self.skip.saturating_add(self.len));
        let limit = self.announced.map_or(u64::MAX, |(len, _)| len);
        let mut stream = self.stream();
        let mut buf = Vec::with_capacity(STEP_BYTES);
        let mut at = 0u64;
        loop {
            stream.fill(&mut buf, STEP_BYTES)?;
            whole.update(&buf);
            let next = at + buf.len() as u64;
            let (a, b) = (start.clamp(at, next), end.clamp(at, next));
            range.update(&buf[(a - at) as usize..(b - at) as usize]);
            at = next;
            if buf.len() < STEP_BYTES || at > limit {
                break;
            }
        }
        Ok((at, whole.sum(), range.sum()))
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A sub-range of these bytes, sharing the compressed stream (and what its container
    /// announced; the range's own checksum is unknown).
    pub fn slice(&self, start: u64, len: u64) -> Deflated {
        Deflated {
            compressed: self.compressed.clone(),
            framing: self.framing,
            skip: self.skip + start,
            len,
            announced: self.announced,
            crc: None,
            whole: OnceLock::new(),
        }
    }

    /// `Some(false)` when their checksums differ, `Some(true)` when both are the same bytes of
    /// the same compressed stream, `None` when only inflating them can tell.
    pub fn known_equal(&self, other: &Deflated) -> Option<bool> {
        if self.len != other.len {
            return Some(false);
        }
        if let (Some(a), Some(b)) = (self.crc, other.crc) {
            if a != b {
                return Some(false);
            }
        }
        let same = self.framing == other.framing
            && self.skip == other.skip
            && self.compressed.bytes() == other.compressed.bytes();
        same.then_some(true)
    }

    /// All the bytes, inflated on first use and kept: only for small tensors and layouts that
    /// need random access. The stream was checked when the file was read, so inflating it again
    /// can only fail if the file changed on disk since; the bytes it could not inflate read as
    /// zero then.
    pub fn whole(&self) -> &Buffer {
        self.whole.get_or_init(|| {
            let mut out = Vec::new();
            let mut stream = self.stream();
            if stream.skip(self.skip).is_ok() {
                let _ = stream.fill(&mut out, self.len as usize);
            }
            out.resize(self.len as usize, 0);
            out.into()
        })
    }

    /// A reader that inflates the bytes from the start, window by window.
    pub fn windows(&self, window: usize) -> Windows<'_> {
        Windows {
            stream: self.stream(),
            skip: self.skip,
            left: self.len,
            window: window.max(1),
        }
    }

    fn stream(&self) -> Stream<'_> {
        Stream {
            input: self.compressed.bytes(),
            inflater: Decompress::new(self.framing == Framing::Zlib),
            done: false,
        }
    }
}

/// Successive windows of a [`Deflated`] range, each inflated into fresh memory.
pub struct Windows<'a> {
    stream: Stream<'a>,
    skip: u64,
    left: u64,
    window: usize,
}

impl Windows<'_> {
    /// The next window of at most `window` bytes; `Ok(None)` at the end.
    pub fn next_window(&mut self) -> Result<Option<ByteSource>, String> {
        if self.skip > 0 {
            self.stream.skip(std::mem::take(&mut self.skip))?;
        }
        if self.left == 0 {
            return Ok(None);
        }
        let want = self.left.min(self.window as u64) as usize;
        let mut out = Vec::with_capacity(want);
        self.stream.fill(&mut out, want)?;
        if out.len() < want {
            return Err("compressed data ended early (did the file change?)".into());
        }
        self.left -= want as u64;
        Ok(Some(ByteSource::owned(out)))
    }
}

/// A decompressor over a compressed byte slice.
struct Stream<'a> {
    input: &'a [u8],
    inflater: Decompress,
    done: bool,
}

impl Stream<'_> {
    /// Replaces `out` with up to `want` next bytes (fewer only at the end of the stream).
    fn fill(&mut self, out: &mut Vec<u8>, want: usize) -> Result<(), String> {
        out.clear();
        out.resize(want, 0);
        let mut filled = 0;
        while filled < want && !self.done {
            let at = (self.inflater.total_in() as usize).min(self.input.len());
            let before = (self.inflater.total_in(), self.inflater.total_out());
            let status = self
                .inflater
                .decompress(&self.input[at..], &mut out[filled..], FlushDecompress::None)
                .map_err(|e| format!("corrupt compressed data: {e}"))?;
            filled += (self.inflater.total_out() - before.1) as usize;
            match status {
                Status::StreamEnd => self.done = true,
                Status::Ok | Status::BufError => {
                    if (self.inflater.total_in(), self.inflater.total_out()) == before {
                        return Err("compressed data is truncated".into());
                    }
                }
            }
        }
        out.truncate(filled);
        Ok(())
    }

    /// Inflates and drops `n` bytes.
    fn skip(&mut self, mut n: u64) -> Result<(), String> {
        let mut buf = Vec::with_capacity(STEP_BYTES);
        while n > 0 {
            let want = n.min(STEP_BYTES as u64) as usize;
            self.fill(&mut buf, want)?;
            if buf.len() < want {
                return Err("compressed data ends before the array it should hold".into());
            }
            n -= want as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn compress(data: &[u8], framing: Framing) -> ByteSource {
        let level = flate2::Compression::default();
        let bytes = match framing {
            Framing::Raw => {
                let mut e = flate2::write::DeflateEncoder::new(Vec::new(), level);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Framing::Zlib => {
                let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        };
        ByteSource::owned(bytes)
    }

    fn data() -> Vec<u8> {
        // Compressible but not trivial: a slowly varying byte pattern.
        (0..300_000u32)
            .map(|i| ((i / 7) ^ (i % 251)) as u8)
            .collect()
    }

    fn crc(data: &[u8]) -> u32 {
        let mut c = Crc::new();
        c.update(data);
        c.sum()
    }

    #[test]
    fn windows_and_slices_give_the_bytes() {
        let data = data();
        for framing in [Framing::Raw, Framing::Zlib] {
            let d = Deflated::check(compress(&data, framing), framing).unwrap();
            assert_eq!(d.len(), 300_000);
            let part = d.slice(123_457, 100_003);
            let mut got = Vec::new();
            let mut w = part.windows(65_536);
            while let Some(b) = w.next_window().unwrap() {
                assert!(b.len() <= 65_536);
                got.extend_from_slice(b.bytes());
            }
            assert_eq!(got, data[123_457..223_460]);
            assert_eq!(part.whole().as_ref(), &data[123_457..223_460]);
        }
    }

    #[test]
    fn checked_ranges_know_their_checksum() {
        let data = data();
        let member = |d: &[u8]| {
            Deflated::announced(compress(d, Framing::Raw), Framing::Raw, 300_000, crc(d))
        };
        let mut other = data.clone();
        other[250_000] ^= 1;
        let a = member(&data).slice(1000, 299_000).checked().unwrap();
        let b = member(&other).slice(1000, 299_000).checked().unwrap();
        let c = member(&data).slice(1000, 299_000).checked().unwrap();
        assert_eq!(a.known_equal(&b), Some(false), "checksums differ");
        assert_eq!(a.known_equal(&c), Some(true), "same stream, same range");
        assert_eq!(a.known_equal(&a.slice(0, 299_000)), Some(true));
        assert_eq!(
            a.slice(0, 100).known_equal(&b.slice(0, 100)),
            None,
            "unchecked slices: only reading tells"
        );
    }

    #[test]
    fn damage_is_caught_by_the_check() {
        let data = data();
        let good = compress(&data, Framing::Raw).bytes().to_vec();
        let announced = |bytes: Vec<u8>, len, crc| {
            Deflated::announced(ByteSource::owned(bytes), Framing::Raw, len, crc)
                .checked()
                .err()
                .unwrap_or_default()
        };
        let short = Deflated::check(
            ByteSource::owned(good[..good.len() / 2].to_vec()),
            Framing::Raw,
        )
        .err()
        .unwrap_or_default();
        assert!(short.contains("truncated"), "{short}");
        let mut flipped = good.clone();
        for b in &mut flipped[good.len() / 3..good.len() / 3 + 8] {
            *b ^= 0x5a;
        }
        let corrupt = announced(flipped, 300_000, crc(&data));
        assert!(!corrupt.is_empty(), "a damaged stream passed");
        let length = announced(good.clone(), 300_001, crc(&data));
        assert!(length.contains("300001 bytes announced"), "{length}");
        let crc = announced(good, 300_000, 7);
        assert!(crc.contains("CRC-32"), "{crc}");
        let past = Deflated::announced(
            compress(&data, Framing::Raw),
            Framing::Raw,
            300_000,
            super::tests::crc(&data),
        )
        .slice(299_000, 2000)
        .checked()
        .err()
        .unwrap_or_default();
        assert!(past.contains("inside the array"), "{past}");
    }
}
