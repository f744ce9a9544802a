//! MATLAB files written by scipy, GNU Octave and hdf5storage (tests/fixtures/generate_matlab.py):
//! every variable against the float64 reference, the same workspace in every format, malformed
//! files.

mod common;

use std::path::PathBuf;

use common::{check_pair, check_side};
use diffai_core::diff::{self, Options};
use diffai_core::report::Side;
use diffai_core::{formats, inspect, Report, Value};
use serde_json::Value as Json;

fn fx(name: &str) -> PathBuf {
    common::fixtures("matlab").join(name)
}

fn diff(old: &str, new: &str, opts: &Options) -> Report {
    let old = formats::read(&fx(old), None).unwrap_or_else(|e| panic!("{e}"));
    let new = formats::read(&fx(new), None).unwrap_or_else(|e| panic!("{e}"));
    diff::diff(&old, &new, opts, None)
}

/// The dtype diffai gives a MATLAB class.
fn dtype_of(class: &str, complex: bool) -> &'static str {
    match (class, complex) {
        ("double" | "sparse", false) => "float64",
        ("double" | "sparse", true) => "complex128",
        ("single", false) => "float32",
        ("single", true) => "complex64",
        ("logical", _) => "bool",
        ("int8", _) => "int8",
        ("uint8", _) => "uint8",
        ("int16", _) => "int16",
        ("uint16", _) => "uint16",
        ("int32", _) => "int32",
        ("uint32", _) => "uint32",
        ("int64", _) => "int64",
        ("uint64", _) => "uint64",
        other => panic!("no dtype for {other:?}"),
    }
}

#[test]
fn every_variable_matches_the_reference() {
    let reference = common::reference("matlab");
    let mut checked = 0;
    for (file, r) in reference["files"].as_object().unwrap() {
        let artifact = formats::read(&fx(file), None).unwrap_or_else(|e| panic!("{file}: {e}"));
        let inspection = inspect::inspect(&artifact, None);
        let leaves = artifact.root.leaves();
        for (path, want) in r["variables"].as_object().unwrap() {
            let class = want["class"].as_str().unwrap();
            match class {
                "char" => {
                    let rows: Vec<&str> = want["rows"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s.as_str().unwrap())
                        .collect();
                    let got: Vec<String> = leaves
                        .iter()
                        .filter(|(p, _)| p == path || p.starts_with(&format!("{path}[")))
                        .filter_map(|(_, v)| match v {
                            Value::Str(s) => Some(s.clone()),
                            _ => None,
                        })
                        .collect();
                    assert_eq!(got, rows, "{file} {path}");
                }
                "cell" | "struct" | "object" | "function_handle" => {}
                _ if want.get("mean").is_none() => {}
                _ => {
                    let entry = inspection
                        .entries
                        .iter()
                        .find(|e| e.path == *path)
                        .unwrap_or_else(|| panic!("{file}: no variable {path}"));
                    let Side::Tensor(t) = &entry.side else {
                        panic!("{file} {path}: not a tensor")
                    };
                    let complex = want["complex"].as_bool().unwrap_or(false);
                    let class = want
                        .get("element_class")
                        .and_then(Json::as_str)
                        .unwrap_or(class);
                    assert_eq!(t.dtype, dtype_of(class, complex), "{file} {path}");
                    let shape: Vec<u64> = serde_json::from_value(want["shape"].clone()).unwrap();
                    assert_eq!(t.shape, shape, "{file} {path}");
                    check_side(
                        &format!("{file} {path}"),
                        &t.stats.as_ref().unwrap().0,
                        want,
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 150, "only {checked} variables checked");
}

#[test]
fn pairs_match_the_reference() {
    let reference = common::reference("matlab");
    let mut checked = 0;
    for pair in reference["pairs"].as_array().unwrap() {
        let (old, new) = (pair["old"].as_str().unwrap(), pair["new"].as_str().unwrap());
        let report = diff(
            old,
            new,
            &Options {
                include_unchanged: true,
                ..Default::default()
            },
        );
        for (path, want) in pair["variables"]
            .as_object()
            .or(pair["tensors"].as_object())
            .unwrap()
        {
            let c = report
                .changes
                .iter()
                .find(|c| c.path == *path)
                .unwrap_or_else(|| panic!("{path}"));
            let Some(m) = &c.metrics else { continue };
            check_pair(
                &format!("{old} vs {new} {path}"),
                &m.0,
                want,
                path.starts_with('z'),
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} pairs checked");
}

/// The same workspace written by scipy and Octave, compressed or not, in either byte order, or
/// stored the way MATLAB stores it (integer-valued doubles as uint8) compares as identical.
#[test]
fn the_same_workspace_in_every_format_is_identical() {
    for other in [
        "ws_scipy_v5c.mat",
        "ws_octave_v6.mat",
        "ws_octave_v7.mat",
        "big_endian_v5.mat",
        "ws_matlabstyle_v5.mat",
        "ws_v73.mat",
    ] {
        let report = diff("ws_scipy_v5.mat", other, &Options::default());
        assert!(
            report.changes.is_empty(),
            "ws_scipy_v5.mat vs {other}: {:?}",
            report.changes.iter().map(|c| &c.path).collect::<Vec<_>>()
        );
    }
    let report = diff("ws_scipy_v4.mat", "big_endian_v4.mat", &Options::default());
    assert!(
        report.changes.is_empty(),
        "{:?}",
        report.changes.iter().map(|c| &c.path).collect::<Vec<_>>()
    );
    // Octave's -v4 refuses integer and logical variables, and writes text as its UTF-8 bytes;
    // everything else equals scipy's v4 file.
    let report = diff("ws_scipy_v4.mat", "ws_octave_v4.mat", &Options::default());
    for c in &report.changes {
        let refused = [
            "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "flag", "name",
        ];
        assert!(
            refused.contains(&c.path.as_str()),
            "unexpected difference {}",
            c.path
        );
    }
    for (old, new) in [
        ("ws_scipy_v5.mat", "changed_v5.mat"),
        ("ws_octave_v7.mat", "changed_v7.mat"),
    ] {
        let report = diff(old, new, &Options::default());
        let paths: Vec<&str> = report.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, vec!["results"], "{old} vs {new}");
    }
}

#[test]
fn objects_and_function_handles_are_opaque() {
    for file in ["objects_v7.mat", "funchandle_v7.mat"] {
        let a = formats::read(&fx(file), None).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(
            a.root
                .leaves()
                .iter()
                .any(|(p, _)| p.ends_with("__class__")),
            "{file}"
        );
    }
}

/// MAT v7.3 (HDF5, written by hdf5storage and h5py) reads as the very same tree as the level-5
/// files: also a change against it shows as the one changed variable.
#[test]
fn v73_reads_as_the_same_variables() {
    let a = formats::read(&fx("ws_v73.mat"), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.format, "matlab-v7.3");
    let names: Vec<&str> = match &a.root {
        Value::Map(m) => m.iter().map(|(k, _)| k.as_str()).collect(),
        other => panic!("{other:?}"),
    };
    let reference = common::reference("matlab");
    let order: Vec<&str> = reference["files"]["ws_v73.mat"]["variable_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut sorted = order.clone();
    sorted.sort_by(|x, y| diffai_core::value::natural_cmp(x, y));
    assert_eq!(names, sorted);
    let report = diff("ws_v73.mat", "changed_v5.mat", &Options::default());
    let paths: Vec<&str> = report.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, vec!["results"]);
}

#[test]
fn malformed_files_are_clear_errors() {
    for (file, needle) in [
        ("wrong_magic.mat", "MAT"),
        ("truncated_v5.mat", "truncated"),
        ("corrupt_compressed_v7.mat", "zlib"),
        ("absurd_dims_v5.mat", "overflow"),
        ("bad_tag_v5.mat", "runs past the end"),
        ("truncated_v4.mat", "truncated"),
        ("octave_v4_header_only.mat", ""),
        ("octave_v6_object_length.mat", ""),
        ("broken_ref_v73.mat", "0xdeadbeef00"),
        ("huge_chunked_v73.mat", "more than the 4294967296 bytes"),
        (
            "unwritten_chunks_v73.mat",
            "more than 1032 times the file's 2576 bytes",
        ),
        ("ref_cycle_v73.mat", "reference cycle"),
        ("shared_cells_v73.mat", "reached twice"),
    ] {
        let err = formats::read(&fx(&format!("bad/{file}")), None)
            .expect_err(file)
            .to_string();
        assert!(err.contains(file) && err.contains(needle), "{file}: {err}");
        assert!(!err.contains('\n'));
    }
}

/// Large compressed variables are streamed, with the numbers the same bytes give from memory.
#[test]
fn large_compressed_variables_stream_with_the_same_numbers() {
    let streamed = common::streams_like_memory(&fx("stream_old_v7.mat"), &fx("stream_new_v7.mat"));
    assert_eq!(streamed, 2, "big and wide");
}
