//! Input formats: one file per format behind the [`Reader`] trait, registered in [`READERS`].

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;

use crate::artifact::Artifact;
use crate::error::{Error, Result};
use crate::tensor::Buffer;

pub mod matlab;
pub mod numpy;
pub mod pytorch;
pub mod safetensors;
pub mod safetensors_sharded;
pub mod structured;
pub mod zipfile;

/// How many leading bytes detection looks at (magic numbers and short headers).
const SNIFF_BYTES: usize = 4096;

/// A reader of one input format.
pub trait Reader: Sync {
    /// The name `--format` accepts and reports show.
    fn name(&self) -> &'static str;
    /// File name endings that select this reader when no magic bytes matched (lower case).
    fn extensions(&self) -> &'static [&'static str];
    /// Whether the leading bytes of `path` are this format's (magic bytes, header shape).
    fn sniff(&self, path: &Path, head: &[u8]) -> bool;
    /// Whether a directory is one artifact of this format (a sharded model folder).
    fn sniff_dir(&self, _dir: &Path) -> bool {
        false
    }
    fn read(&self, path: &Path) -> Result<Artifact>;
    /// Whether this format holds a model or arrays (a checkpoint), not configuration or text:
    /// `--similarity-matrix DIR` compares the files of such formats.
    fn holds_weights(&self) -> bool {
        true
    }
}

/// Every reader, in detection order.
pub static READERS: &[&dyn Reader] = &[
    &safetensors_sharded::ShardedSafetensorsReader,
    &safetensors::SafetensorsReader,
    &pytorch::PytorchReader,
    &numpy::NpyReader,
    &numpy::NpzReader,
    &matlab::MatReader,
    // Text formats last: they claim a file by extension, or by content only when no reader
    // claims its extension (see `structured`).
    &structured::JsonReader,
    &structured::YamlReader,
    &structured::TomlReader,
    &structured::XmlReader,
    &structured::IniReader,
    &structured::CsvReader,
];

/// The names `--format` accepts.
pub fn format_names() -> Vec<&'static str> {
    READERS.iter().map(|r| r.name()).collect()
}

/// Picks the reader for `path`: `forced` (a `--format` name) > magic bytes > extension.
pub fn detect(path: &Path, forced: Option<&str>) -> Result<&'static dyn Reader> {
    if let Some(name) = forced {
        return READERS
            .iter()
            .copied()
            .find(|r| r.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                Error::usage(format!(
                    "unknown input format '{name}' (known: {})",
                    format_names().join(", ")
                ))
            });
    }
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, &e))?;
    if meta.is_dir() {
        return READERS
            .iter()
            .copied()
            .find(|r| r.sniff_dir(path))
            .ok_or_else(|| {
                Error::file(
                    path,
                    "is a directory that holds no sharded model index (compare two directories file by file with -r/--recursive)",
                )
            });
    }
    recognise(path)?.ok_or_else(|| {
        Error::file(
            path,
            format!(
                "unrecognised file format (no known magic bytes or extension); force one with --format ({})",
                format_names().join(", ")
            ),
        )
    })
}

/// The reader a regular file's magic bytes, else its extension, point to; `None` when neither
/// does.
pub fn recognise(path: &Path) -> Result<Option<&'static dyn Reader>> {
    let head = read_head(path)?;
    if let Some(r) = READERS.iter().copied().find(|r| r.sniff(path, &head)) {
        return Ok(Some(r));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    Ok(READERS
        .iter()
        .copied()
        .find(|r| r.extensions().iter().any(|ext| name.ends_with(ext))))
}

/// Detects and reads one input.
pub fn read(path: &Path, forced: Option<&str>) -> Result<Artifact> {
    let read = detect(path, forced)?.read(path);
    // `-f json` is often meant as an output format (`-o json`): say so when it fails.
    match (read, forced.map(str::to_ascii_lowercase).as_deref()) {
        (Err(mut e), Some("json" | "yaml" | "yml")) => {
            e.message.push_str(
                " (-f/--format forces the input format; the output format is -o/--output)",
            );
            Err(e)
        }
        (read, _) => read,
    }
}

/// Reads two inputs at the same time (reading can inflate compressed data to check it); an
/// error in the old one is reported first.
pub fn read_pair(old: &Path, new: &Path, forced: Option<&str>) -> Result<(Artifact, Artifact)> {
    let (old, new) = rayon::join(|| read(old, forced), || read(new, forced));
    Ok((old?, new?))
}

fn read_head(path: &Path) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|e| Error::io(path, &e))?;
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    file.take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, &e))?;
    Ok(head)
}

/// Memory-maps a regular file read-only. Empty files and directories are errors.
pub fn map_file(path: &Path) -> Result<Buffer> {
    let file = File::open(path).map_err(|e| Error::io(path, &e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, &e))?;
    if meta.is_dir() {
        return Err(Error::file(path, "is a directory, expected a file"));
    }
    if meta.len() == 0 {
        return Err(Error::file(path, "empty file"));
    }
    // SAFETY: the map is read-only. A file truncated by another process while mapped raises
    // SIGBUS on the next read of a vanished page; the mapping is registered so the binary's
    // handler can name the file in its error (see `mapped`).
    let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, &e))?;
    crate::mapped::register(map.as_ptr(), map.len(), path);
    crate::mapped::remember(path, &meta);
    #[cfg(unix)]
    {
        let _ = map.advise(memmap2::Advice::Sequential);
    }
    Ok(Buffer::Mapped(Arc::new(map)))
}
