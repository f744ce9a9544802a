//! `--recursive`: two directories compared file by file. Files pair by their path relative to
//! each root; each pair is read with its own format and diffed like two files given on the
//! command line, pairs in parallel; files on one side only are listed as added or removed.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use rayon::prelude::*;
use serde::Serialize;

use super::{diff, Options};
use crate::error::{Error, Result};
use crate::formats;
use crate::report::{Report, SCHEMA};
use crate::stats::Progress;
use crate::value::natural_cmp;

/// Which files of the two trees take part.
#[derive(Debug, Clone, Default)]
pub struct DirOptions {
    /// Keep only files whose relative path matches one of these globs (all files when empty).
    pub include: Vec<String>,
    /// Drop files whose relative path matches one of these globs.
    pub exclude: Vec<String>,
    /// The input format to force on every file (`--format`).
    pub format: Option<String>,
}

/// The comparison of two directories.
#[derive(Debug, Clone, Serialize)]
pub struct DirReport {
    pub schema: &'static str,
    /// Always `directory`: tells this object from a single-file [`Report`].
    pub kind: &'static str,
    pub old: String,
    pub new: String,
    pub summary: DirSummary,
    /// Every file of either tree that the filters keep, in natural order of its relative path.
    pub files: Vec<FileEntry>,
}

/// File counts by status.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DirSummary {
    pub identical: u64,
    pub changed: u64,
    pub added: u64,
    pub removed: u64,
    /// Pairs that could not be compared (a file unreadable or malformed).
    pub failed: u64,
}

impl DirSummary {
    /// Files that differ: changed, added or removed.
    pub fn differences(&self) -> u64 {
        self.changed + self.added + self.removed
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    Identical,
    Changed,
    Added,
    Removed,
    Failed,
}

impl FileStatus {
    /// The symbol of the file's line in text output.
    pub fn symbol(self) -> char {
        match self {
            FileStatus::Identical => ' ',
            FileStatus::Changed => '~',
            FileStatus::Added => '+',
            FileStatus::Removed => '-',
            FileStatus::Failed => '!',
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FileEntry {
    /// Relative to both roots, `/`-separated.
    pub path: String,
    pub status: FileStatus,
    /// The diff of the pair (files present on both sides and read without error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    /// Why the pair could not be compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How the pair was compared when not as artifacts (files of no recognised format).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

/// What [`FileEntry::note`] says of files compared byte for byte.
pub const BYTE_COMPARED: &str = "not a recognised format: compared byte for byte";

/// Bytes compared at a time for files of no recognised format.
const COMPARE_CHUNK_BYTES: usize = 1 << 20;

/// One pair of files: read and diffed as artifacts, or, when neither side is of a recognised
/// format (a log, an image), compared byte for byte.
fn compare(
    old: &Path,
    new: &Path,
    opts: &Options,
    dir: &DirOptions,
    progress: Option<&Progress>,
) -> Result<(FileStatus, Option<Report>, Option<&'static str>)> {
    if dir.format.is_none()
        && formats::recognise(old)?.is_none()
        && formats::recognise(new)?.is_none()
    {
        let status = if same_bytes(old, new)? {
            FileStatus::Identical
        } else {
            FileStatus::Changed
        };
        return Ok((status, None, Some(BYTE_COMPARED)));
    }
    let (o, n) = formats::read_pair(old, new, dir.format.as_deref())?;
    let report = diff(&o, &n, opts, progress);
    let status = if report.summary.differences() > 0 {
        FileStatus::Changed
    } else {
        FileStatus::Identical
    };
    Ok((status, Some(report), None))
}

/// Whether two files hold the same bytes, read a chunk at a time.
fn same_bytes(old: &Path, new: &Path) -> Result<bool> {
    use std::io::Read;
    let open = |p: &Path| std::fs::File::open(p).map_err(|e| Error::io(p, &e));
    let (mut a, mut b) = (open(old)?, open(new)?);
    let size =
        |f: &std::fs::File, p: &Path| f.metadata().map(|m| m.len()).map_err(|e| Error::io(p, &e));
    if size(&a, old)? != size(&b, new)? {
        return Ok(false);
    }
    let (mut x, mut y) = (vec![0; COMPARE_CHUNK_BYTES], vec![0; COMPARE_CHUNK_BYTES]);
    loop {
        let n = read_full(&mut a, &mut x).map_err(|e| Error::io(old, &e))?;
        let m = read_full(&mut b, &mut y).map_err(|e| Error::io(new, &e))?;
        if x[..n] != y[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }

    fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match f.read(&mut buf[filled..])? {
                0 => break,
                k => filled += k,
            }
        }
        Ok(filled)
    }
}

/// Compares every file under `old` with the file at the same relative path under `new`.
pub fn diff_dirs(
    old: &Path,
    new: &Path,
    opts: &Options,
    dir: &DirOptions,
    progress: Option<&Progress>,
) -> Result<DirReport> {
    let include = glob_set(&dir.include)?;
    let exclude = glob_set(&dir.exclude)?;
    let keep =
        |rel: &str| (dir.include.is_empty() || include.is_match(rel)) && !exclude.is_match(rel);
    let old_files = files_under(old, &keep)?;
    let new_files = files_under(new, &keep)?;
    let mut paths: Vec<&String> = old_files.iter().chain(&new_files).collect();
    paths.sort_by(|a, b| natural_cmp(a, b));
    paths.dedup();
    let in_old: std::collections::HashSet<&String> = old_files.iter().collect();
    let in_new: std::collections::HashSet<&String> = new_files.iter().collect();
    let files: Vec<FileEntry> = paths
        .par_iter()
        .map(|rel| {
            let entry = |status, report, error| FileEntry {
                path: rel.to_string(),
                status,
                report,
                error,
                note: None,
            };
            match (in_old.contains(rel), in_new.contains(rel)) {
                (true, false) => entry(FileStatus::Removed, None, None),
                (false, true) => entry(FileStatus::Added, None, None),
                _ => {
                    let (o, n) = (old.join(rel.as_str()), new.join(rel.as_str()));
                    match compare(&o, &n, opts, dir, progress) {
                        Ok((status, report, note)) => FileEntry {
                            note,
                            ..entry(status, report, None)
                        },
                        Err(e) => entry(FileStatus::Failed, None, Some(e.to_string())),
                    }
                }
            }
        })
        .collect();
    let mut summary = DirSummary::default();
    for f in &files {
        match f.status {
            FileStatus::Identical => summary.identical += 1,
            FileStatus::Changed => summary.changed += 1,
            FileStatus::Added => summary.added += 1,
            FileStatus::Removed => summary.removed += 1,
            FileStatus::Failed => summary.failed += 1,
        }
    }
    Ok(DirReport {
        schema: SCHEMA,
        kind: "directory",
        old: old.display().to_string(),
        new: new.display().to_string(),
        summary,
        files,
    })
}

fn glob_set(patterns: &[String]) -> Result<GlobSet> {
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        let glob = Glob::new(p)
            .map_err(|e| Error::usage(format!("--include/--exclude: bad glob {p:?}: {e}")))?;
        set.add(glob);
    }
    set.build()
        .map_err(|e| Error::usage(format!("--include/--exclude: {e}")))
}

/// Relative paths (`/`-separated) of the regular files under `root` that `keep` accepts.
/// Symbolic links are not followed (a link cycle cannot make the walk endless).
fn files_under(root: &Path, keep: &dyn Fn(&str) -> bool) -> Result<Vec<String>> {
    if !root.is_dir() {
        return Err(Error::file(
            root,
            "is not a directory (--recursive compares two directories)",
        ));
    }
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root).follow_links(false) {
        let entry = entry.map_err(|e| {
            let path = e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(root));
            Error::file(&path, e.to_string())
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(root)
            .expect("walked under root")
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if keep(&rel) {
            out.push(rel);
        }
    }
    Ok(out)
}
