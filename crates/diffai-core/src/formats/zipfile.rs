//! Zip archives as torch checkpoints and `.npz` files use them: stored records are sliced
//! zero-copy from the memory map; a deflated record is checked once and then read by inflating
//! it again window by window ([`Deflated`]), so memory stays bounded.

use std::io::Cursor;

use crate::deflated::{Deflated, Framing};
use crate::tensor::{Buffer, ByteSource};

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

    /// The bytes of record `name`, or `None` when there is no such record. A deflated record is
    /// checked (inflated once) and then read as a stream.
    pub fn record(&mut self, name: &str) -> Result<Option<ByteSource>, String> {
        let Some(source) = self.record_unchecked(name)? else {
            return Ok(None);
        };
        match source.as_deflated() {
            Some(d) => d
                .checked()
                .map(|d| Some(ByteSource::deflated(d)))
                .map_err(|e| format!("zip record {name}: {e}")),
            None => Ok(Some(source)),
        }
    }

    /// Like [`ZipRecords::record`], but a deflated record is not inflated yet: the caller
    /// reads what it needs (a header) and checks the range it keeps with
    /// [`Deflated::checked`](crate::deflated::Deflated::checked).
    pub fn record_unchecked(&mut self, name: &str) -> Result<Option<ByteSource>, String> {
        let Some(index) = self.archive.index_for_name(name) else {
            return Ok(None);
        };
        let raw = self
            .archive
            .by_index_raw(index)
            .map_err(|e| format!("zip record {name}: {e}"))?;
        let start = raw
            .data_start()
            .ok_or_else(|| format!("zip record {name}: no data offset"))?;
        let stored = ByteSource::new(
            self.buf.clone(),
            start as usize,
            raw.compressed_size() as usize,
        )
        .ok_or_else(|| format!("zip record {name} runs past the end of the file"))?;
        match raw.compression() {
            zip::CompressionMethod::Stored => Ok(Some(stored)),
            zip::CompressionMethod::Deflated => Ok(Some(ByteSource::deflated(
                Deflated::announced(stored, Framing::Raw, raw.size(), raw.crc32()),
            ))),
            other => Err(format!(
                "zip record {name} is compressed with {other:?}, which diffai does not read"
            )),
        }
    }
}
