//! Entry points shared by the fuzz targets (`fuzz/`) and the tests that replay their corpora:
//! each parses arbitrary bytes and, when that succeeds, runs everything downstream: statistics
//! of every tensor, a diff of the artifact against itself, against an empty artifact (both ways)
//! and against a changed and a reshaped copy, every registered analysis over those pairs, and
//! the JSON rendering of each report. Any panic is a bug.

use std::path::Path;

use crate::analysis::{self, Input, Settings, ANALYSES};
use crate::artifact::Artifact;
use crate::diff::{self, Options};
use crate::formats::safetensors;
use crate::inspect;
use crate::tensor::{ByteSource, Tensor};
use crate::value::{Map, Value};

/// The name inputs carry in error messages.
const FUZZ_PATH: &str = "fuzz-input";

/// Most tensor elements (summed over the artifact) for which the comparisons with other
/// artifacts and the analyses run (1 Mi elements, 8 MiB as f64): past it they take seconds in a
/// debug build, so a fuzz run would spend its time there instead of on new inputs. Parsing,
/// inspection and the diff against itself run at any size.
const MAX_EXERCISED_ELEMENTS: u64 = 1 << 20;

/// Parses `data` as safetensors and, if it is valid, computes everything over it.
pub fn safetensors(data: &[u8]) {
    on_this_thread(|| {
        let Ok(root) = safetensors::parse(Path::new(FUZZ_PATH), &data.to_vec().into()) else {
            return;
        };
        exercise(data, "safetensors", Value::Map(root), Vec::new());
    })
}

/// Parses `data` as a PyTorch file (zip, legacy or plain pickle) and computes everything over it.
pub fn pytorch(data: &[u8]) {
    on_this_thread(|| {
        let Ok((root, findings, format)) =
            crate::formats::pytorch::read_bytes(&data.to_vec().into())
        else {
            return;
        };
        exercise(data, format, root, findings);
    })
}

/// Parses `data` as a `.npy` file, and as an `.npz` archive, computing everything over each.
pub fn numpy(data: &[u8]) {
    on_this_thread(|| {
        let buf: crate::tensor::Buffer = data.to_vec().into();
        let mut roots = Vec::new();
        if let Ok(v) =
            crate::formats::numpy::parse(&crate::tensor::ByteSource::owned(data.to_vec()))
        {
            roots.push((
                "npy",
                Value::Map([("data".to_string(), v)].into_iter().collect()),
            ));
        }
        if let Ok(m) = crate::formats::numpy::parse_npz(&buf) {
            roots.push(("npz", Value::Map(m)));
        }
        for (format, root) in roots {
            exercise(data, format, root, Vec::new());
        }
    })
}

/// Parses `data` as a MAT file (level 5, else level 4) and computes everything over it.
pub fn matlab(data: &[u8]) {
    on_this_thread(|| {
        let source = crate::tensor::ByteSource::owned(data.to_vec());
        let (parsed, _) = crate::formats::matlab::parse(&source);
        if let Ok(root) = parsed {
            exercise(data, "matlab", Value::Map(root), Vec::new());
        }
    })
}

/// Parses `data` with every structured-data reader (JSON, YAML, TOML, XML, INI, CSV and TSV),
/// computing everything over each tree that parses.
pub fn structured(data: &[u8]) {
    on_this_thread(|| {
        use crate::formats::structured::{csv, ini, json, toml, xml, yaml};
        type Parse<'a> = &'a dyn Fn(&[u8]) -> Result<Value, String>;
        let parsers: [(&'static str, Parse); 7] = [
            ("json", &json::parse),
            ("yaml", &yaml::parse),
            ("toml", &toml::parse),
            ("xml", &xml::parse),
            ("ini", &ini::parse),
            ("csv", &|d| csv::parse(d, b',')),
            ("csv", &|d| csv::parse(d, b'\t')),
        ];
        for (format, parse) in parsers {
            match parse(data) {
                Ok(root) => exercise(data, format, root, Vec::new()),
                // Errors are one line naming where the input went wrong.
                Err(message) => assert!(!message.contains('\n'), "{format}: {message:?}"),
            }
        }
    })
}

/// Runs `f` with rayon confined to the calling thread, the only worker of a pool of its own.
/// With worker threads, which thread runs which half of a `join` and how long an idle worker
/// spins before it sleeps change from run to run, and libFuzzer counts those scheduler paths
/// (rayon, crossbeam) as coverage: a campaign then never plateaus and keeps inputs for their
/// timing alone. On one thread a `join` runs both halves in order, so an input's coverage
/// depends on the input only. Rayon never frees a pool that uses the current thread, so there
/// is one per thread, built on first use and kept.
fn on_this_thread(f: impl FnOnce() + Send) {
    thread_local! {
        static POOL: Option<rayon::ThreadPool> = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .use_current_thread()
            .build()
            .ok();
    }
    POOL.with(|pool| match pool {
        Some(pool) => pool.install(f),
        // The thread is already a worker of another pool: run there.
        None => f(),
    });
}

/// Computes everything over the artifact that `data` parsed into (`root`, read as `format`).
fn exercise(data: &[u8], format: &'static str, root: Value, findings: Vec<String>) {
    let a = Artifact::from_file(
        Path::new(FUZZ_PATH),
        format,
        data.len() as u64,
        root,
        findings,
    );
    let inspection = inspect::inspect(&a, None);
    rendered(&inspection);
    let opts = Options {
        include_unchanged: true,
        one_sided_stats: true,
        ..Default::default()
    };
    let report = diff::diff(&a, &a, &opts, None);
    assert_eq!(report.summary.differences(), 0, "an artifact equals itself");
    rendered(&report);

    let tensors = a.root.tensors();
    let elements = tensors
        .iter()
        .fold(0u64, |sum, (_, t)| sum.saturating_add(t.numel()));
    if elements > MAX_EXERCISED_ELEMENTS {
        return;
    }
    let empty = Artifact {
        root: Value::Map(Map::new()),
        findings: Vec::new(),
        ..a.clone()
    };
    // Without tensors the changed and reshaped copies would be the artifact itself.
    let copy = |tensor: &dyn Fn(&Tensor) -> Tensor| Artifact {
        root: rebuilt(&a.root, tensor),
        ..a.clone()
    };
    let copies = (!tensors.is_empty()).then(|| [copy(&changed_tensor), copy(&reshaped_tensor)]);
    // The head count comes from the input's size, so the fuzzer reaches both sources of it
    // (`--num-heads`, else the artifact's metadata).
    let settings = Settings {
        num_heads: [None, Some(1), Some(2), Some(3)][(a.file_size % 4) as usize],
        ..Settings::default()
    };
    let flags: Vec<&str> = ANALYSES.iter().map(|x| x.flag()).collect();
    let mut pairs = vec![(&a, &empty), (&empty, &a)];
    match &copies {
        Some([changed, reshaped]) => pairs.extend([(&a, changed), (&a, reshaped)]),
        None => pairs.push((&a, &a)),
    }
    for (old, new) in pairs {
        let mut report = diff::diff(old, new, &opts, None);
        let input = Input::new(old, new, &opts, &report, &settings);
        report.analyses = analysis::run(&flags, &input);
        diff::sort_by_change_magnitude(&mut report.changes);
        rendered(&report);
    }
}

/// The JSON of a report, which must serialise and read back as JSON.
fn rendered(value: &impl serde::Serialize) {
    let json = serde_json::to_vec(value).expect("a report serialises");
    // Checked without building the tree (IgnoredAny): a quarter of the fuzzer's time otherwise.
    serde_json::from_slice::<serde::de::IgnoredAny>(&json).expect("a report is valid JSON");
}

/// `v` with every tensor replaced by `tensor(t)`.
fn rebuilt(v: &Value, tensor: &dyn Fn(&Tensor) -> Tensor) -> Value {
    match v {
        Value::Map(m) => {
            let mut out = Map::new();
            for (k, v) in m.iter() {
                out.push(k.clone(), rebuilt(v, tensor));
            }
            Value::Map(out)
        }
        Value::List(items) => Value::List(items.iter().map(|v| rebuilt(v, tensor)).collect()),
        Value::Tensor(t) => Value::Tensor(Box::new(tensor(t))),
        other => other.clone(),
    }
}

/// The same tensor with its bytes rotated by one and the first flipped: other values, some of
/// them NaN or infinite, in the same layout. Compressed sources are kept as they are.
fn changed_tensor(t: &Tensor) -> Tensor {
    let mut t = t.clone();
    if t.source.as_deflated().is_none() && !t.source.is_empty() {
        let mut bytes = t.source.bytes().to_vec();
        bytes.rotate_left(1);
        bytes[0] ^= 0xff;
        t.source = ByteSource::owned(bytes);
    }
    t
}

/// The same bytes read under the reversed shape (`[r, c]` → `[c, r]`), for dense tensors; views
/// (strided) are kept, as their strides belong to their shape.
fn reshaped_tensor(t: &Tensor) -> Tensor {
    let mut t = t.clone();
    if t.strides.is_none() {
        t.shape.reverse();
    }
    t
}

#[cfg(test)]
mod tests {
    use super::on_this_thread;
    use rayon::prelude::*;

    #[test]
    fn rayon_work_stays_on_the_calling_thread() {
        let caller = std::thread::current().id();
        for _ in 0..2 {
            on_this_thread(move || {
                assert_eq!(rayon::current_num_threads(), 1);
                let here = || std::thread::current().id();
                assert_eq!(rayon::join(here, here), (caller, caller));
                let ids: Vec<_> = (0..64).into_par_iter().map(|_| here()).collect();
                assert!(ids.iter().all(|&id| id == caller));
            });
        }
    }
}
