//! Zip archives as torch checkpoints and `.npz` files use them: stored records are sliced
//! zero-copy from the memory map; a small deflated record is inflated into memory, a large one is
//! checked once and then read by inflating it again window by window ([`Deflated`]).

use std::io::Cursor;

use crate::deflated::{Deflated, Framing};
use crate::tensor::{Buffer, ByteSource};

/// Largest deflated record inflated whole into memory (16 MiB): below it, keeping the bytes
/// costs little and saves inflating them again for every pass; above it, memory stays bounded
/// by reading the record as a stream.
pub const INFLATE_WHOLE_BYTES: u64 = 16 << 20;

pub struct ZipRecords {
    archive: zip::ZipArchive<Cursor<Buffer>>,
    buf: Buffer,
}

impl ZipRecords {
    pub fn open(buf: &Buffer) -> Result<ZipRecords, String> {
        let archive = zip::ZipArchive::new(Cursor::new(buf.clone()))
            .map_err(|e| format!("not a readable zip archive: {e}"))?;
        Ok(ZipRecords {
            archive,
            buf: buf.clone(),
        })
    }

    /// Record names, in the archive's order.
    pub fn names(&self) -> Vec<String> {
        self.archive
            .file_names()
            .filter_map(|n| n.ok().map(|n| n.to_string()))
            .collect()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.archive.index_for_name(name).is_some()
    }

    /// The bytes of record `name`, or `None` when there is no such record.
    pub fn record(&mut self, name: &str) -> Result<Option<ByteSource>, String> {
        let Some(index) = self.archive.index_for_name(name) else {
            return Ok(None);
        };
        let raw = self
            .archive
            .by_index_raw(index)
            .map_err(|e| format!("zip record {name}: {e}"))?;
        if raw.compression() == zip::CompressionMethod::Stored {
            let start = raw
                .data_start()
                .ok_or_else(|| format!("zip record {name}: no data offset"))?;
            let len = raw.compressed_size();
            return ByteSource::new(self.buf.clone(), start as usize, len as usize)
                .map(Some)
                .ok_or_else(|| format!("zip record {name} runs past the end of the file"));
        }
        let (size, crc) = (raw.size(), raw.crc32());
        if raw.compression() != zip::CompressionMethod::Deflated {
            return Err(format!(
                "zip record {name} is compressed with {:?}, which diffai does not read",
                raw.compression()
            ));
        }
        let start = raw
            .data_start()
            .ok_or_else(|| format!("zip record {name}: no data offset"))?;
        let compressed = ByteSource::new(
            self.buf.clone(),
            start as usize,
            raw.compressed_size() as usize,
        )
        .ok_or_else(|| format!("zip record {name} runs past the end of the file"))?;
        drop(raw);
        let deflated = Deflated::check(compressed, Framing::Raw, Some(size), Some(crc))
            .map_err(|e| format!("zip record {name}: {e}"))?;
        let source = ByteSource::deflated(deflated);
        if size <= INFLATE_WHOLE_BYTES {
            return Ok(Some(ByteSource::owned(source.bytes().to_vec())));
        }
        Ok(Some(source))
    }
}
