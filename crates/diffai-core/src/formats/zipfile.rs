//! Zip archives as torch checkpoints and `.npz` files use them: stored records are sliced
//! zero-copy from the memory map; a deflated record is inflated into memory, up to a limit.

use std::io::{Cursor, Read};

use crate::tensor::{Buffer, ByteSource};

/// Largest record inflated into memory. torch stores records uncompressed and `np.savez` too;
/// compressed ones (`np.savez_compressed`, a re-zip) are inflated whole, so this caps what a
/// hostile archive can make diffai allocate.
pub const MAX_INFLATED_BYTES: u64 = 4 << 30;

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
        drop(raw);
        let mut file = self
            .archive
            .by_index(index)
            .map_err(|e| format!("zip record {name}: {e}"))?;
        if file.size() > MAX_INFLATED_BYTES {
            return Err(format!(
                "zip record {name} inflates to {} bytes, over the limit of {MAX_INFLATED_BYTES}",
                file.size()
            ));
        }
        let mut out = Vec::new();
        (&mut file)
            .take(MAX_INFLATED_BYTES)
            .read_to_end(&mut out)
            .map_err(|e| format!("zip record {name}: {e}"))?;
        Ok(Some(ByteSource::owned(out)))
    }
}
