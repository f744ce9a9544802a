//! safetensors: an 8-byte little-endian header length, a JSON header, then raw tensor bytes.
//! Tensors become zero-copy slices of the memory map; `__metadata__` becomes a subtree.

use std::path::Path;

use crate::artifact::Artifact;
use crate::error::{Error, Result};
use crate::formats::{map_file, Reader};
use crate::tensor::{Buffer, ByteSource, DType, Tensor};
use crate::value::{natural_cmp, Map, Value};

/// Largest header accepted, in bytes: the limit of the reference implementation
/// (`safetensors` crate, 100 MB), so anything it writes is readable and a hostile length is refused.
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// The metadata key safetensors' framework bindings set to the writing framework (`pt`, `np`,
/// `tf`, …): it says which library wrote the file, not what the model holds, so it is left out
/// and a `.pt` and its `.safetensors` conversion compare as identical.
pub const WRITER_TAG: &str = "format";

/// Length of the header-size prefix, in bytes.
const PREFIX_BYTES: u64 = 8;

pub struct SafetensorsReader;

impl Reader for SafetensorsReader {
    fn name(&self) -> &'static str {
        "safetensors"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &[".safetensors"]
    }

    fn sniff(&self, _path: &Path, head: &[u8]) -> bool {
        if head.len() < 10 {
            return false;
        }
        let n = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        (2..=MAX_HEADER_BYTES).contains(&n) && head[8] == b'{'
    }

    fn read(&self, path: &Path) -> Result<Artifact> {
        let map = map_file(path)?;
        let root = parse(path, &map)?;
        Ok(Artifact::from_file(
            path,
            self.name(),
            map.len() as u64,
            Value::Map(root),
            Vec::new(),
        ))
    }
}

/// Parses a whole safetensors file into a map of tensors (natural name order) followed by
/// `__metadata__` when present. `path` only names the input in errors.
pub fn parse(path: &Path, map: &Buffer) -> Result<Map> {
    let file_len = map.len() as u64;
    let err = |msg: String| Error::file(path, msg);
    if file_len < PREFIX_BYTES {
        return Err(err(format!(
            "truncated safetensors file: {file_len} bytes, shorter than the 8-byte header length"
        )));
    }
    let header_len = u64::from_le_bytes(map[..8].try_into().expect("8 bytes"));
    if header_len > MAX_HEADER_BYTES {
        return Err(err(format!(
            "safetensors header length {header_len} bytes exceeds the limit of {MAX_HEADER_BYTES} bytes"
        )));
    }
    if PREFIX_BYTES + header_len > file_len {
        return Err(err(format!(
            "truncated safetensors file: header length {header_len} bytes is larger than the {} bytes after the length prefix",
            file_len - PREFIX_BYTES
        )));
    }
    let data_start = PREFIX_BYTES + header_len;
    let data_len = file_len - data_start;
    let header = &map[8..data_start as usize];
    let entries: HeaderEntries = serde_json::from_slice(header)
        .map_err(|e| err(format!("invalid safetensors header JSON: {e}")))?;

    let mut tensors: Vec<(String, Tensor, u64, u64)> = Vec::new();
    let mut metadata = None;
    for (name, info) in entries.0 {
        if name == "__metadata__" {
            metadata = Some(Value::from_json(info));
            continue;
        }
        let (dtype, shape, begin, end) =
            tensor_info(&info).map_err(|m| err(format!("tensor '{name}': {m}")))?;
        if end > data_len {
            return Err(err(format!(
                "tensor '{name}': data_offsets [{begin}, {end}] run past the end of the data section ({data_len} bytes); the file is truncated or corrupt"
            )));
        }
        let numel = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
        let needed = numel.and_then(|n| dtype.bytes_for(n)).ok_or_else(|| {
            err(format!(
                "tensor '{name}': shape {shape:?} has more elements than can be addressed"
            ))
        })?;
        if needed != end - begin {
            return Err(err(format!(
                "tensor '{name}': shape {shape:?} of {dtype} needs {needed} bytes but data_offsets [{begin}, {end}] span {}",
                end - begin
            )));
        }
        let source = ByteSource::new(
            map.clone(),
            (data_start + begin) as usize,
            (end - begin) as usize,
        )
        .ok_or_else(|| {
            err(format!(
                "tensor '{name}': data range does not fit in the file"
            ))
        })?;
        tensors.push((name, Tensor::dense(dtype, shape, source), begin, end));
    }

    check_overlaps(&tensors).map_err(err)?;
    tensors.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    let mut root = Map::new();
    for (name, tensor, _, _) in tensors {
        root.push(name, Value::Tensor(Box::new(tensor)));
    }
    match metadata {
        Some(Value::Map(mut meta)) => {
            meta.retain(|k, _| k != WRITER_TAG);
            if !meta.is_empty() {
                root.push("__metadata__".to_string(), Value::Map(meta));
            }
        }
        Some(other) => root.push("__metadata__".to_string(), other),
        None => {}
    }
    Ok(root)
}

/// No two tensors may share bytes.
fn check_overlaps(tensors: &[(String, Tensor, u64, u64)]) -> std::result::Result<(), String> {
    let mut ranges: Vec<(u64, u64, &str)> = tensors
        .iter()
        .filter(|t| t.3 > t.2)
        .map(|t| (t.2, t.3, t.0.as_str()))
        .collect();
    ranges.sort_unstable();
    for pair in ranges.windows(2) {
        let ((b0, e0, n0), (b1, e1, n1)) = (pair[0], pair[1]);
        if b1 < e0 {
            return Err(format!(
                "tensors '{n0}' [{b0}, {e0}] and '{n1}' [{b1}, {e1}] have overlapping data_offsets"
            ));
        }
    }
    Ok(())
}

fn tensor_info(
    info: &serde_json::Value,
) -> std::result::Result<(DType, Vec<u64>, u64, u64), String> {
    let obj = info
        .as_object()
        .ok_or("entry is not an object with dtype, shape and data_offsets")?;
    let dtype_name = obj
        .get("dtype")
        .and_then(|d| d.as_str())
        .ok_or("missing or non-string 'dtype'")?;
    let dtype =
        dtype_from_name(dtype_name).ok_or_else(|| format!("unknown dtype '{dtype_name}'"))?;
    let shape = obj
        .get("shape")
        .and_then(|s| s.as_array())
        .ok_or("missing or non-array 'shape'")?
        .iter()
        .map(|d| d.as_u64())
        .collect::<Option<Vec<u64>>>()
        .ok_or("'shape' holds a value that is not a non-negative integer")?;
    let offsets = obj
        .get("data_offsets")
        .and_then(|s| s.as_array())
        .ok_or("missing or non-array 'data_offsets'")?;
    let (begin, end) = match offsets.as_slice() {
        [b, e] => (
            b.as_u64()
                .ok_or("'data_offsets' begin is not a non-negative integer")?,
            e.as_u64()
                .ok_or("'data_offsets' end is not a non-negative integer")?,
        ),
        _ => return Err("'data_offsets' must hold exactly two integers".into()),
    };
    if begin > end {
        return Err(format!("data_offsets begin {begin} is after end {end}"));
    }
    Ok((dtype, shape, begin, end))
}

/// The safetensors dtype strings.
pub fn dtype_from_name(name: &str) -> Option<DType> {
    use DType::*;
    Some(match name {
        "BOOL" => Bool,
        "U8" => U8,
        "I8" => I8,
        "U16" => U16,
        "I16" => I16,
        "U32" => U32,
        "I32" => I32,
        "U64" => U64,
        "I64" => I64,
        "F16" => F16,
        "BF16" => BF16,
        "F32" => F32,
        "F64" => F64,
        "F8_E4M3" => F8E4M3,
        "F8_E5M2" => F8E5M2,
        "F8_E4M3FNUZ" => F8E4M3Fnuz,
        "F8_E5M2FNUZ" => F8E5M2Fnuz,
        "F8_E8M0" => F8E8M0,
        "F4" => F4,
        "F6_E2M3" => F6E2M3,
        "F6_E3M2" => F6E3M2,
        "C64" => C64,
        _ => return None,
    })
}

/// Header entries in file order; a repeated name is an error rather than silently dropped.
struct HeaderEntries(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for HeaderEntries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = HeaderEntries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a JSON object mapping tensor names to their dtype, shape and data_offsets",
                )
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> std::result::Result<HeaderEntries, A::Error> {
                let mut out: Vec<(String, serde_json::Value)> = Vec::new();
                let mut seen = std::collections::HashSet::new();
                while let Some((k, v)) = access.next_entry::<String, serde_json::Value>()? {
                    if !seen.insert(k.clone()) {
                        return Err(serde::de::Error::custom(format!("duplicate entry '{k}'")));
                    }
                    out.push((k, v));
                }
                Ok(HeaderEntries(out))
            }
        }
        d.deserialize_map(V)
    }
}
