//! PyTorch files: the zip format (torch >= 1.6, also TorchScript archives), the legacy format
//! (magic number, system info, pickle, storages appended), and plain pickles. Nothing is ever
//! executed: pickles are interpreted by [`pickle`] and only [`host`]'s allow-list builds values.

pub mod convert;
pub mod host;
pub mod pickle;

use std::path::Path;

use crate::artifact::Artifact;
use crate::error::{Error, Result};
use crate::formats::zipfile::ZipRecords;
use crate::formats::{map_file, Reader};
use crate::tensor::{Buffer, ByteSource, DType};
use crate::value::Value;
use host::{StorageSource, TorchHost};
use pickle::Pv;

/// The first bytes of a legacy torch file: the pickled magic number 0x1950a86a20f9469cfc6c.
const LEGACY_MAGIC: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
/// The protocol version a legacy file records after its magic number.
const LEGACY_PROTOCOL: i128 = 1001;

pub struct PytorchReader;

impl Reader for PytorchReader {
    fn name(&self) -> &'static str {
        "pytorch"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &[".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle", ".jit"]
    }

    fn sniff(&self, _path: &Path, head: &[u8]) -> bool {
        let zip_with_pickle = head.starts_with(b"PK\x03\x04")
            && head
                .windows(8)
                .any(|w| w == b"data.pkl" || w == b"ants.pkl");
        zip_with_pickle || head.starts_with(LEGACY_MAGIC)
    }

    fn read(&self, path: &Path) -> Result<Artifact> {
        let buf = map_file(path)?;
        let (root, findings, format) = read_bytes(&buf).map_err(|m| Error::file(path, m))?;
        Ok(Artifact::from_file(
            path,
            format,
            buf.len() as u64,
            root,
            findings,
        ))
    }
}

/// Reads any torch file from its bytes: the value tree, the security findings, the format name.
pub fn read_bytes(buf: &Buffer) -> std::result::Result<(Value, Vec<String>, &'static str), String> {
    if buf.starts_with(b"PK\x03\x04") {
        read_zip(buf)
    } else if buf.starts_with(LEGACY_MAGIC) {
        read_legacy(buf)
    } else {
        let mut none = NoStorages;
        let mut host = TorchHost::new(&mut none, false);
        let (value, findings) = evaluate(buf, &mut host)?;
        Ok((value, findings, "pickle"))
    }
}

/// Runs one pickle and converts its value: the tree and the security findings.
fn evaluate(
    data: &[u8],
    host: &mut TorchHost,
) -> std::result::Result<(Value, Vec<String>), String> {
    let loaded = pickle::load(data, host)?;
    let value = convert::Converter::new().value(&loaded.value)?;
    let findings = loaded
        .dangerous
        .iter()
        .map(|d| format!("pickle calls {d}, which would run code when loaded by Python (not executed by diffai)"))
        .collect();
    Ok((value, findings))
}

/// A plain pickle has no storages to refer to.
struct NoStorages;

impl StorageSource for NoStorages {
    fn storage(&mut self, key: &str) -> std::result::Result<ByteSource, String> {
        Err(format!(
            "pickle refers to storage '{key}' but is not inside a torch archive"
        ))
    }
}

/// The records of a torch zip archive.
struct ZipStorages {
    archive: ZipRecords,
    prefix: String,
    dir: &'static str,
}

impl ZipStorages {
    fn record(&mut self, name: &str) -> std::result::Result<Option<ByteSource>, String> {
        self.archive.record(name)
    }
}

impl StorageSource for ZipStorages {
    fn storage(&mut self, key: &str) -> std::result::Result<ByteSource, String> {
        if key.contains('/') || key.contains("..") {
            return Err(format!("storage key '{key}' is not a plain name"));
        }
        let name = format!("{}{}/{key}", self.prefix, self.dir);
        self.record(&name)?.ok_or_else(|| {
            format!("storage '{key}' is missing from the archive (no record {name})")
        })
    }
}

fn read_zip(buf: &Buffer) -> std::result::Result<(Value, Vec<String>, &'static str), String> {
    let archive = ZipRecords::open(buf)?;
    let pickle_name = archive
        .names()
        .into_iter()
        .filter(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1)
        .min()
        .ok_or("zip archive holds no <name>/data.pkl record: not a torch checkpoint")?;
    let prefix = pickle_name.trim_end_matches("data.pkl").to_string();
    let torchscript = archive.contains(&format!("{prefix}constants.pkl"));
    let mut storages = ZipStorages {
        archive,
        prefix: prefix.clone(),
        dir: "data",
    };
    let big_endian = match storages.record(&format!("{prefix}byteorder"))? {
        Some(b) => match b.bytes_in_memory()? {
            b"big" => true,
            b"little" => false,
            other => {
                return Err(format!(
                    "byteorder record says '{}'",
                    String::from_utf8_lossy(other)
                ))
            }
        },
        None => false,
    };
    let data = storages.record(&pickle_name)?.ok_or("data.pkl vanished")?;
    let data = data
        .bytes_in_memory()
        .map_err(|e| format!("{pickle_name}: {e}"))?
        .to_vec();
    let mut host = TorchHost::new(&mut storages, big_endian);
    let (value, findings) = evaluate(&data, &mut host)?;
    let format = if torchscript {
        "torchscript"
    } else {
        "pytorch"
    };
    Ok((value, findings, format))
}

/// Storages of a legacy file: the byte ranges found after the pickles.
struct LegacyStorages {
    ranges: std::collections::HashMap<String, ByteSource>,
}

impl StorageSource for LegacyStorages {
    fn storage(&mut self, key: &str) -> std::result::Result<ByteSource, String> {
        self.ranges
            .get(key)
            .cloned()
            .ok_or_else(|| format!("storage '{key}' is not among the file's storages"))
    }
}

/// Records storage references while the main pickle is walked once to find where it ends.
struct Recorder {
    dtypes: std::collections::HashMap<String, DType>,
}

impl pickle::Host for Recorder {
    fn persistent_load(&mut self, pid: Pv) -> std::result::Result<Pv, String> {
        if let Pv::Tuple(t) = &pid {
            if let (Some(Pv::Global(g)), Some(key)) = (t.get(1), t.get(2)) {
                let key = match key {
                    Pv::Str(s) => s.to_string(),
                    Pv::Int(i) => i.to_string(),
                    _ => return Err("storage key is not a string".into()),
                };
                let dtype = host::storage_dtype(&g.name)
                    .ok_or_else(|| format!("unknown storage type {}", g.path()))?;
                self.dtypes.insert(key, dtype);
            }
        }
        Ok(Pv::None)
    }

    fn call(&mut self, _: &pickle::Global, _: &Pv) -> Option<std::result::Result<Pv, String>> {
        None
    }
}

fn read_legacy(buf: &Buffer) -> std::result::Result<(Value, Vec<String>, &'static str), String> {
    let mut none = NoStorages;
    let mut pos = 0usize;
    // Each record is one pickle; its containers live as long as the `Loaded` that holds them.
    let mut next = |pos: &mut usize| -> std::result::Result<pickle::Loaded, String> {
        let mut host = TorchHost::new(&mut none, false);
        let l = pickle::load(&buf[*pos..], &mut host)?;
        *pos += l.consumed;
        Ok(l)
    };
    next(&mut pos)?; // magic number, checked by the caller's sniff
    match next(&mut pos)?.value {
        Pv::Int(LEGACY_PROTOCOL) => {}
        _ => {
            return Err(format!(
                "legacy torch file with an unknown protocol version (expected {LEGACY_PROTOCOL})"
            ))
        }
    }
    let big_endian = match &next(&mut pos)?.value {
        Pv::Dict(d) => d.borrow().iter().any(
            |(k, v)| matches!((k, v), (Pv::Str(k), Pv::Bool(false)) if &**k == "little_endian"),
        ),
        _ => return Err("legacy torch file without its system-info record".into()),
    };
    let main_start = pos;
    // First walk: where the main pickle ends and which storages it names (with their types).
    let mut recorder = Recorder {
        dtypes: Default::default(),
    };
    let l = pickle::load(&buf[main_start..], &mut recorder)?;
    pos += l.consumed;
    drop(l);
    let keys: Vec<String> = match &next(&mut pos)?.value {
        Pv::List(l) => l
            .borrow()
            .iter()
            .map(|k| match k {
                Pv::Str(s) => Ok(s.to_string()),
                _ => Err("legacy storage key is not a string".to_string()),
            })
            .collect::<std::result::Result<_, _>>()?,
        _ => return Err("legacy torch file without its list of storage keys".into()),
    };
    let mut ranges = std::collections::HashMap::new();
    for key in keys {
        let dtype = *recorder
            .dtypes
            .get(&key)
            .ok_or_else(|| format!("storage '{key}' is listed but never referenced"))?;
        let size_bytes = buf
            .get(pos..pos + 8)
            .ok_or_else(|| format!("legacy torch file truncated before storage '{key}'"))?;
        let size = size_bytes.try_into().expect("8 bytes");
        let numel = if big_endian {
            u64::from_be_bytes(size)
        } else {
            u64::from_le_bytes(size)
        };
        pos += 8;
        let len = dtype.bytes_for(numel).ok_or("storage size overflows")?;
        let source = ByteSource::new(buf.clone(), pos, len as usize).ok_or_else(|| {
            format!(
                "legacy torch file truncated inside storage '{key}' ({numel} elements of {dtype})"
            )
        })?;
        pos += len as usize;
        ranges.insert(key, source);
    }
    let mut storages = LegacyStorages { ranges };
    let mut host = TorchHost::new(&mut storages, big_endian);
    let (value, findings) = evaluate(&buf[main_start..], &mut host)?;
    Ok((value, findings, "pytorch-legacy"))
}
