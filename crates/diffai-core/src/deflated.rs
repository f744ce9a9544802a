//! Tensor bytes inside a deflate stream (a compressed `.npz` member, a MATLAB `miCOMPRESSED`
//! variable), read by inflating the stream again, window by window, whenever they are needed:
//! memory stays bounded whatever the size of the array.
//!
//! The whole stream is inflated once when the file is read ([`Deflated::check`]), so a corrupt or
//! short stream is a read error naming the file, as for any other malformed input.

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
    /// The bytes inflated whole, for callers that need random access (kept once made).
    whole: OnceLock<Buffer>,
}

impl Deflated {
    /// Inflates the whole stream once, checking that it is intact, that it is `expect_len` bytes
    /// long and (zip members) that its CRC-32 is `expect_crc`, and returns all its bytes.
    pub fn check(
        compressed: ByteSource,
        framing: Framing,
        expect_len: Option<u64>,
        expect_crc: Option<u32>,
    ) -> Result<Deflated, String> {
        let mut crc = Crc::new();
        let mut d = Deflated {
            compressed,
            framing,
            skip: 0,
            len: 0,
            whole: OnceLock::new(),
        };
        let mut stream = d.stream();
        let mut buf = Vec::with_capacity(STEP_BYTES);
        let mut total = 0u64;
        loop {
            stream.fill(&mut buf, STEP_BYTES)?;
            crc.update(&buf);
            total += buf.len() as u64;
            if buf.len() < STEP_BYTES || expect_len.is_some_and(|w| total > w) {
                break;
            }
        }
        if let Some(want) = expect_len.filter(|&w| w != total) {
            return Err(format!(
                "compressed data does not inflate to the {want} bytes announced"
            ));
        }
        if let Some(want) = expect_crc.filter(|&w| w != crc.sum()) {
            return Err(format!(
                "compressed data fails its CRC-32 check ({:08x} instead of {want:08x})",
                crc.sum()
            ));
        }
        d.len = total;
        Ok(d)
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A sub-range of these bytes, sharing the compressed stream (no check: the parent was
    /// checked; no checksum).
    pub fn slice(&self, start: u64, len: u64) -> Deflated {
        Deflated {
            compressed: self.compressed.clone(),
            framing: self.framing,
            skip: self.skip + start,
            len,
            whole: OnceLock::new(),
        }
    }

    /// Whether both are the same bytes of the same compressed stream (then they are equal
    /// without inflating anything); `false` says nothing.
    pub fn same_stream(&self, other: &Deflated) -> bool {
        self.framing == other.framing
            && self.skip == other.skip
            && self.len == other.len
            && self.compressed.bytes() == other.compressed.bytes()
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

    #[test]
    fn windows_and_slices_give_the_bytes() {
        let data = data();
        for framing in [Framing::Raw, Framing::Zlib] {
            let crc = {
                let mut c = Crc::new();
                c.update(&data);
                c.sum()
            };
            let d = Deflated::check(compress(&data, framing), framing, Some(300_000), Some(crc))
                .unwrap();
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
    fn damage_is_caught_by_the_check() {
        let data = data();
        let good = compress(&data, Framing::Raw).bytes().to_vec();
        let check = |bytes: Vec<u8>, len, crc| {
            Deflated::check(ByteSource::owned(bytes), Framing::Raw, len, crc)
                .err()
                .unwrap_or_default()
        };
        let short = check(good[..good.len() / 2].to_vec(), None, None);
        assert!(short.contains("truncated"), "{short}");
        let mut flipped = good.clone();
        for b in &mut flipped[good.len() / 3..good.len() / 3 + 8] {
            *b ^= 0x5a;
        }
        let corrupt = check(flipped, Some(300_000), None);
        assert!(!corrupt.is_empty(), "a damaged stream passed");
        let length = check(good.clone(), Some(300_001), None);
        assert!(length.contains("300001 bytes announced"), "{length}");
        let crc = check(good, Some(300_000), Some(7));
        assert!(crc.contains("CRC-32"), "{crc}");
    }
}
