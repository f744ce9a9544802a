//! Structured data: JSON, YAML, TOML, XML, INI and CSV read into the same [`Value`] tree as every
//! other format, so one diff serves configs, metric files and datasets beside the models.
//! The mapping of each format is documented in the README ("Structured data") and in its file.
//!
//! Every reader reads the whole file into memory (the tree is built from it anyway), takes UTF-8
//! (a leading byte-order mark is skipped), and reports malformed input as one line naming the line
//! and column: `line 3, column 14: expected ',' or '}' after an object entry, found '"'`. Lines
//! and columns count from 1; columns count characters, not bytes.

use std::path::Path;

use crate::artifact::Artifact;
use crate::error::{Error, Result};
use crate::formats::{Reader, READERS};
use crate::value::Value;

pub mod csv;
pub mod ini;
pub mod json;
pub mod toml;
pub mod xml;
pub mod yaml;

/// Deepest nesting of lists and maps accepted, in levels. Every tree walk downstream (pairing,
/// dropping, cloning the tree) recurses once per level, so a hostile `[[[[…` must stop well
/// before it could exhaust a 2 MiB thread stack; real configs and metric files nest a few
/// dozen levels at most. The same cap as the pickle reader's. TOML stops earlier, at the 80
/// levels its parser allows.
pub const MAX_DEPTH: usize = 1000;

/// The message for input nested deeper than [`MAX_DEPTH`].
pub fn too_deep() -> String {
    format!("nested deeper than {MAX_DEPTH} levels (the limit against hostile input)")
}

/// The file's text: UTF-8 without its byte-order mark, or an error naming the first bad byte.
pub fn text(bytes: &[u8]) -> std::result::Result<&str, String> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if bytes.starts_with(b"\xff\xfe") || bytes.starts_with(b"\xfe\xff") {
        return Err("UTF-16 text is not read; convert the file to UTF-8".into());
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let good = std::str::from_utf8(&bytes[..at]).expect("valid up to here");
        at_offset(good, at, "invalid UTF-8 (the file must be UTF-8 text)")
    })
}

/// 1-based line and column (in characters) of byte `offset` of `text`. An offset inside a
/// character or past the end is clamped to the character's start or the end.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    (line, before[line_start..].chars().count() + 1)
}

/// `line L, column C: message` for byte `offset` of `text`.
pub fn at_offset(text: &str, offset: usize, message: impl std::fmt::Display) -> String {
    let (line, column) = line_col(text, offset);
    at(line, column, message)
}

/// `line L, column C: message`, on one line whatever the message quotes from the input.
pub fn at(line: usize, column: usize, message: impl std::fmt::Display) -> String {
    one_line(&format!("line {line}, column {column}: {message}"))
}

/// `text` with control characters (line breaks, tabs, …) escaped as `\n`, `\t`, `\u{1b}`.
pub fn one_line(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Whether some reader (this one included) claims `path` by its extension. Structured readers
/// sniff content only for files no extension claims, so `config.yaml` starting with `{` stays
/// YAML and `model.safetensors.index.json` stays a sharded model.
fn claimed_by_extension(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    READERS
        .iter()
        .any(|r| r.extensions().iter().any(|ext| name.ends_with(ext)))
}

/// The head of a file after a byte-order mark and leading whitespace.
fn content_start(head: &[u8]) -> &[u8] {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let skip = head.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &head[skip..]
}

/// Reads `path` whole and parses it with `parse`, naming the file in any error.
fn read_with(
    path: &Path,
    format: &'static str,
    parse: impl FnOnce(&[u8]) -> std::result::Result<Value, String>,
) -> Result<Artifact> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, &e))?;
    if meta.is_dir() {
        return Err(Error::file(path, "is a directory, expected a file"));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
    let root = parse(&bytes).map_err(|m| Error::file(path, m))?;
    Ok(Artifact::from_file(
        path,
        format,
        bytes.len() as u64,
        root,
        Vec::new(),
    ))
}

pub struct JsonReader;

impl Reader for JsonReader {
    fn holds_weights(&self) -> bool {
        false
    }

    fn name(&self) -> &'static str {
        "json"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &[".json", ".ipynb"]
    }

    /// A file no extension claims whose text starts with `{`, or `[` followed by a JSON value
    /// (not an INI section name).
    fn sniff(&self, path: &Path, head: &[u8]) -> bool {
        if claimed_by_extension(path) {
            return false;
        }
        match content_start(head) {
            [b'{', ..] => true,
            [b'[', rest @ ..] => matches!(
                content_start(rest).first(),
                Some(b'{' | b'[' | b']' | b'"' | b'-' | b'0'..=b'9')
            ),
            _ => false,
        }
    }

    fn read(&self, path: &Path) -> Result<Artifact> {
        read_with(path, self.name(), json::parse)
    }
}

pub struct YamlReader;

impl Reader for YamlReader {
    fn holds_weights(&self) -> bool {
        false
    }

    fn name(&self) -> &'static str {
        "yaml"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &[".yaml", ".yml"]
    }

    /// A file no extension claims that starts with a `%YAML` directive or a `---` marker.
    fn sniff(&self, path: &Path, head: &[u8]) -> bool {
        let start = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
        !claimed_by_extension(path)
            && (start.starts_with(b"%YAML")
                || start.starts_with(b"---\n")
                || start.starts_with(b"---\r\n")
                || start.starts_with(b"--- "))
    }

    fn read(&self, path: &Path) -> Result<Artifact> {
        read_with(path, self.name(), yaml::parse)
    }
}

pub struct TomlReader;

impl Reader for TomlReader {
    fn holds_weights(&self) -> bool {
        false
    }

    fn name(&self) -> &'static str {
        "toml"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &[".toml"]
    }

    /// Never by content: a TOML file looks like an INI file.
    fn sniff(&self, _path: &Path, _head: &[u8]) -> bool {
        false
    }

    fn read(&self, path: &Path) -> Result<Artifact> {
        read_with(path, self.name(), toml::parse)
    }
}

pub struct XmlReader;

impl Reader for XmlReader {
    fn holds_weights(&self) -> bool {
        false
    }

    fn name(&self) -> &'static str {
        "xml"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &[".xml"]
    }

    /// A file no extension claims that starts with `<?xml`, or with `<` and an element name.
    fn sniff(&self, path: &Path, head: &[u8]) -> bool {
        if claimed_by_extension(path) {
            return false;
        }
        let start = content_start(head);
        start.starts_with(b"<?xml")
            || matches!(start, [b'<', c, ..] if c.is_ascii_alphabetic() || *c == b'_')
    }

    fn read(&self, path: &Path) -> Result<Artifact> {
        read_with(path, self.name(), xml::parse)
    }
}

pub struct IniReader;

impl Reader for IniReader {
    fn holds_weights(&self) -> bool {
        false
    }

    fn name(&self) -> &'static str {
        "ini"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &[".ini", ".cfg"]
    }

    /// Never by content: too many formats look like INI.
    fn sniff(&self, _path: &Path, _head: &[u8]) -> bool {
        false
    }

    fn read(&self, path: &Path) -> Result<Artifact> {
        read_with(path, self.name(), ini::parse)
    }
}

pub struct CsvReader;

impl Reader for CsvReader {
    fn holds_weights(&self) -> bool {
        false
    }

    fn name(&self) -> &'static str {
        "csv"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &[".csv", ".tsv"]
    }

    /// Never by content: almost any text is a one-column CSV.
    fn sniff(&self, _path: &Path, _head: &[u8]) -> bool {
        false
    }

    fn read(&self, path: &Path) -> Result<Artifact> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let tab = name.ends_with(".tsv") || name.ends_with(".tab");
        read_with(path, self.name(), |bytes| {
            let delimiter = if tab {
                b'\t'
            } else {
                csv::guess_delimiter(bytes)
            };
            csv::parse(bytes, delimiter)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_count_characters() {
        let t = "ab\ncé{x\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 3), (2, 1));
        assert_eq!(line_col(t, 6), (2, 3)); // after "cé" (3 bytes)
        assert_eq!(line_col(t, 5), (2, 2)); // inside 'é': clamped to its start
        assert_eq!(line_col(t, 100), (3, 1));
    }

    #[test]
    fn messages_are_one_line() {
        assert_eq!(
            at(1, 2, "entity '&a\nb;'"),
            "line 1, column 2: entity '&a\\nb;'"
        );
        assert_eq!(one_line("a\tb\u{1b}"), "a\\tb\\u{1b}");
    }

    #[test]
    fn bad_utf8_is_located() {
        let e = text(b"ok\nab\xffc").unwrap_err();
        assert_eq!(
            e,
            "line 2, column 3: invalid UTF-8 (the file must be UTF-8 text)"
        );
        assert_eq!(text(b"\xef\xbb\xbfhi").unwrap(), "hi");
    }
}
