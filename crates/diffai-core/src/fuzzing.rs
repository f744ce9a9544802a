//! Entry points shared by the fuzz targets (`fuzz/`) and the tests that replay their corpora:
//! each parses arbitrary bytes and, when that succeeds, runs everything downstream (statistics
//! of every tensor, a diff of the artifact against itself). Any panic is a bug.

use std::path::Path;

use crate::artifact::Artifact;
use crate::diff::{self, Options};
use crate::formats::safetensors;
use crate::inspect;
use crate::value::Value;

/// The name inputs carry in error messages.
const FUZZ_PATH: &str = "fuzz-input";

/// Parses `data` as safetensors and, if it is valid, computes everything over it.
pub fn safetensors(data: &[u8]) {
    let path = Path::new(FUZZ_PATH);
    let Ok(root) = safetensors::parse(path, &data.to_vec().into()) else {
        return;
    };
    exercise(Artifact::from_file(
        path,
        "safetensors",
        data.len() as u64,
        Value::Map(root),
        Vec::new(),
    ));
}

/// Parses `data` as a PyTorch file (zip, legacy or plain pickle) and computes everything over it.
pub fn pytorch(data: &[u8]) {
    let path = Path::new(FUZZ_PATH);
    let Ok((root, findings, format)) = crate::formats::pytorch::read_bytes(&data.to_vec().into())
    else {
        return;
    };
    exercise(Artifact::from_file(
        path,
        format,
        data.len() as u64,
        root,
        findings,
    ));
}

/// Parses `data` as a `.npy` file, and as an `.npz` archive, computing everything over each.
pub fn numpy(data: &[u8]) {
    let path = Path::new(FUZZ_PATH);
    let buf: crate::tensor::Buffer = data.to_vec().into();
    let mut roots = Vec::new();
    if let Ok(v) = crate::formats::numpy::parse(&crate::tensor::ByteSource::owned(data.to_vec())) {
        roots.push((
            "npy",
            Value::Map([("data".to_string(), v)].into_iter().collect()),
        ));
    }
    if let Ok(m) = crate::formats::numpy::parse_npz(&buf) {
        roots.push(("npz", Value::Map(m)));
    }
    for (format, root) in roots {
        exercise(Artifact::from_file(
            path,
            format,
            data.len() as u64,
            root,
            Vec::new(),
        ));
    }
}

/// Parses `data` as a MAT file (level 5, else level 4) and computes everything over it.
pub fn matlab(data: &[u8]) {
    let path = Path::new(FUZZ_PATH);
    let source = crate::tensor::ByteSource::owned(data.to_vec());
    let (parsed, _) = crate::formats::matlab::parse(&source);
    if let Ok(root) = parsed {
        exercise(Artifact::from_file(
            path,
            "matlab",
            data.len() as u64,
            Value::Map(root),
            Vec::new(),
        ));
    }
}

/// Parses `data` with every structured-data reader (JSON, YAML, TOML, XML, INI, CSV and TSV),
/// computing everything over each tree that parses.
pub fn structured(data: &[u8]) {
    use crate::formats::structured::{csv, ini, json, toml, xml, yaml};
    let path = Path::new(FUZZ_PATH);
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
            Ok(root) => exercise(Artifact::from_file(
                path,
                format,
                data.len() as u64,
                root,
                Vec::new(),
            )),
            // Errors are one line naming where the input went wrong.
            Err(message) => assert!(!message.contains('\n'), "{format}: {message:?}"),
        }
    }
}

fn exercise(a: Artifact) {
    let _ = inspect::inspect(&a, None);
    let opts = Options {
        include_unchanged: true,
        one_sided_stats: true,
        ..Default::default()
    };
    let report = diff::diff(&a, &a, &opts, None);
    assert_eq!(report.summary.differences(), 0, "an artifact equals itself");
}
