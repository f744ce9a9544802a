//! One input as read: where it came from, which format, and its value tree.

use std::path::{Path, PathBuf};

use crate::value::Value;

#[derive(Debug, Clone)]
pub struct Artifact {
    /// The path the user named.
    pub path: PathBuf,
    /// The reader's format name (`safetensors`, `safetensors-sharded`, …).
    pub format: &'static str,
    /// Bytes on disk over every file the artifact spans (all shards of a sharded model).
    pub file_size: u64,
    /// The files read (one, or each shard).
    pub files: Vec<PathBuf>,
    pub root: Value,
    /// Security findings met while reading (a pickle naming code that Python would run).
    pub findings: Vec<String>,
}

impl Artifact {
    /// An artifact read from one file.
    pub fn from_file(
        path: &Path,
        format: &'static str,
        file_size: u64,
        root: Value,
        findings: Vec<String>,
    ) -> Artifact {
        Artifact {
            path: path.to_path_buf(),
            format,
            file_size,
            files: vec![path.to_path_buf()],
            root,
            findings,
        }
    }
}
