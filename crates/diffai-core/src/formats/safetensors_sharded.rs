//! Sharded safetensors models: `model.safetensors.index.json` (or a directory holding it) whose
//! `weight_map` names the shard of every tensor. Read as one flat model whose `__metadata__` is
//! the shards' metadata (first shard first) plus the index's, less its derived `total_size`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::artifact::Artifact;
use crate::error::{Error, Result};
use crate::formats::{map_file, safetensors, Reader};
use crate::value::{natural_cmp, Map, Value};

/// The index file name Hugging Face writes beside the shards.
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// Largest index file accepted, in bytes: real indexes are a few MB even for 400B-parameter models.
const MAX_INDEX_BYTES: u64 = 256 * 1024 * 1024;

pub struct ShardedSafetensorsReader;

impl Reader for ShardedSafetensorsReader {
    fn name(&self) -> &'static str {
        "safetensors-sharded"
    }

    fn extensions(&self) -> &'static [&'static str] {
        &[".safetensors.index.json"]
    }

    fn sniff(&self, path: &Path, head: &[u8]) -> bool {
        let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase());
        name.is_some_and(|n| n.ends_with(".index.json"))
            && head.windows(12).any(|w| w == b"\"weight_map\"")
    }

    fn sniff_dir(&self, dir: &Path) -> bool {
        dir.join(INDEX_FILE).is_file()
    }

    fn read(&self, path: &Path) -> Result<Artifact> {
        let index_path = if path.is_dir() {
            path.join(INDEX_FILE)
        } else {
            path.to_path_buf()
        };
        let dir = index_path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let index = read_index(&index_path)?;

        // Each shard once, in natural name order; tensors keep the index's assignment.
        let mut by_shard: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (tensor, shard) in &index.weight_map {
            by_shard
                .entry(shard.clone())
                .or_default()
                .push(tensor.clone());
        }
        let mut shards: Vec<&String> = by_shard.keys().collect();
        shards.sort_by(|a, b| natural_cmp(a, b));

        let mut tensors: Vec<(String, Value)> = Vec::new();
        let mut metadata = Map::new();
        let mut files = Vec::new();
        let mut file_size = 0u64;
        for shard in shards {
            let shard_path = shard_path(&index_path, &dir, shard)?;
            let map = map_file(&shard_path)?;
            file_size += map.len() as u64;
            let mut content: HashMap<String, Value> =
                safetensors::parse(&shard_path, &map)?.into_iter().collect();
            for name in &by_shard[shard] {
                let value = content.remove(name).ok_or_else(|| {
                    Error::file(
                        &shard_path,
                        format!(
                            "tensor '{name}' listed in {} is missing from this shard",
                            index_path.display()
                        ),
                    )
                })?;
                tensors.push((name.clone(), value));
            }
            if let Some(Value::Map(meta)) = content.remove("__metadata__") {
                merge_absent(&mut metadata, meta);
            }
            files.push(shard_path);
        }
        tensors.sort_by(|a, b| natural_cmp(&a.0, &b.0));
        let mut root: Map = Map::new();
        for (name, value) in tensors {
            root.push(name, value);
        }
        if let Some(Value::Map(mut meta)) = index.metadata.map(Value::from_json) {
            // The index's byte count is a fact about the sharding, not metadata the model carries
            // (a single-file save of the same weights has none): the report gives tensor bytes.
            meta.retain(|k, _| k != "total_size");
            merge_absent(&mut metadata, meta);
        }
        if !metadata.is_empty() {
            root.push("__metadata__".to_string(), Value::Map(metadata));
        }
        Ok(Artifact {
            path: path.to_path_buf(),
            format: self.name(),
            file_size,
            files,
            root: Value::Map(root),
            findings: Vec::new(),
        })
    }
}

struct Index {
    weight_map: Vec<(String, String)>,
    metadata: Option<serde_json::Value>,
}

fn read_index(path: &Path) -> Result<Index> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, &e))?;
    if meta.len() > MAX_INDEX_BYTES {
        return Err(Error::file(
            path,
            format!(
                "index file of {} bytes exceeds the limit of {MAX_INDEX_BYTES} bytes",
                meta.len()
            ),
        ));
    }
    let text = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
    let json: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| Error::file(path, format!("invalid sharded-model index JSON: {e}")))?;
    let weight_map = json
        .get("weight_map")
        .and_then(|w| w.as_object())
        .ok_or_else(|| Error::file(path, "sharded-model index has no 'weight_map' object"))?;
    let weight_map = weight_map
        .iter()
        .map(|(k, v)| {
            v.as_str()
                .map(|s| (k.clone(), s.to_string()))
                .ok_or_else(|| {
                    Error::file(path, format!("weight_map entry '{k}' is not a file name"))
                })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Index {
        weight_map,
        metadata: json.get("metadata").cloned(),
    })
}

/// A shard must be a plain file name beside the index: no directories, no escaping the folder.
fn shard_path(index: &Path, dir: &Path, shard: &str) -> Result<PathBuf> {
    let plain = Path::new(shard);
    if plain.components().count() != 1 || shard == ".." || shard == "." {
        return Err(Error::file(
            index,
            format!("weight_map names '{shard}', which is not a plain file name beside the index"),
        ));
    }
    Ok(dir.join(plain))
}

/// Adds the entries of `more` whose keys `into` does not have yet (shards normally repeat the
/// same metadata; the first shard's value wins).
fn merge_absent(into: &mut Map, more: Map) {
    for (k, v) in more {
        if into.get(&k).is_none() {
            into.push(k, v);
        }
    }
}
