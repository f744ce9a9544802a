//! NumPy files written by numpy (tests/fixtures/generate_numpy.py): every array against the
//! float64 reference, layouts and byte orders that must read as the same values, malformed files.

mod common;

use std::path::PathBuf;

use common::{check_pair, check_side};
use diffai_core::diff::{self, Options};
use diffai_core::report::Side;
use diffai_core::stats::Tolerance;
use diffai_core::{formats, inspect, Report, Value};

fn fx(name: &str) -> PathBuf {
    common::fixtures("numpy").join(name)
}

fn diff(old: &str, new: &str, opts: &Options) -> Report {
    let old = formats::read(&fx(old), None).unwrap_or_else(|e| panic!("{e}"));
    let new = formats::read(&fx(new), None).unwrap_or_else(|e| panic!("{e}"));
    diff::diff(&old, &new, opts, None)
}

#[test]
fn every_array_matches_the_reference() {
    let reference = common::reference("numpy");
    let mut checked = 0;
    for (file, arrays) in reference["files"].as_object().unwrap() {
        let artifact = formats::read(&fx(file), None).unwrap_or_else(|e| panic!("{file}: {e}"));
        let inspection = inspect::inspect(&artifact, None);
        for (name, want) in arrays.as_object().unwrap() {
            if want.get("decoded") == Some(&serde_json::Value::Bool(false)) {
                continue; // see `undecoded_arrays_say_why`
            }
            let entry = inspection
                .entries
                .iter()
                .find(|e| e.path == *name)
                .unwrap_or_else(|| panic!("{file}: no array {name}"));
            let Side::Tensor(t) = &entry.side else {
                panic!("{file} {name}: not a tensor")
            };
            assert_eq!(t.dtype, want["dtype"].as_str().unwrap(), "{file} {name}");
            let shape: Vec<u64> = serde_json::from_value(want["shape"].clone()).unwrap();
            assert_eq!(t.shape, shape, "{file} {name}");
            check_side(
                &format!("{file} {name}"),
                &t.stats.as_ref().unwrap().0,
                want,
            );
            checked += 1;
        }
    }
    assert!(checked > 60, "only {checked} arrays checked");
}

#[test]
fn pairs_match_the_reference() {
    let reference = common::reference("numpy");
    for pair in reference["pairs"].as_array().unwrap() {
        let (old, new) = (pair["old"].as_str().unwrap(), pair["new"].as_str().unwrap());
        let opts = Options {
            tolerance: Tolerance {
                epsilon: pair["epsilon"].as_f64().unwrap(),
                rtol: pair["rtol"].as_f64().unwrap_or(0.0),
            },
            include_unchanged: true,
            ..Default::default()
        };
        let report = diff(old, new, &opts);
        for (name, want) in pair["tensors"].as_object().unwrap() {
            let c = report
                .changes
                .iter()
                .find(|c| c.path == *name)
                .unwrap_or_else(|| panic!("{name}"));
            let m = &c
                .metrics
                .as_ref()
                .unwrap_or_else(|| panic!("{old} {name}: no metrics"))
                .0;
            check_pair(
                &format!("{old} vs {new} {name}"),
                m,
                want,
                name.contains("complex"),
            );
        }
    }
}

/// Header versions, Python 2 headers, Fortran order and big-endian data all hold the same values.
#[test]
fn layouts_and_headers_read_as_the_same_array() {
    for other in [
        "v2.npy",
        "v3.npy",
        "py2_header.npy",
        "fortran.npy",
        "big_endian.npy",
    ] {
        let report = diff("v1.npy", other, &Options::default());
        assert!(
            report.changes.is_empty(),
            "v1.npy vs {other}: {:?}",
            report.changes
        );
        assert_eq!(report.summary.unchanged, 1);
    }
    let changed = diff("v1.npy", "changed.npy", &Options::default());
    assert_eq!(changed.changes.len(), 1);
    assert_eq!(changed.changes[0].path, "data");
    // Inside the archives, each big-endian twin equals its little-endian array.
    let a = formats::read(&fx("dtypes_old.npz"), None).unwrap();
    let Value::Map(m) = &a.root else { panic!() };
    let pairs: Vec<(String, String)> = m
        .iter()
        .filter_map(|(k, _)| k.strip_suffix("_be").map(|le| (le.to_string(), k.clone())))
        .collect();
    assert!(pairs.len() >= 10);
    let inspection = inspect::inspect(&a, None);
    let stats = |p: &str| match &inspection
        .entries
        .iter()
        .find(|e| e.path == p)
        .unwrap()
        .side
    {
        Side::Tensor(t) => t.stats.as_ref().unwrap().0.clone(),
        _ => panic!(),
    };
    for (le, be) in pairs {
        assert_eq!(stats(&le), stats(&be), "{le} vs {be}");
    }
}

#[test]
fn undecoded_arrays_say_why() {
    for (file, needle) in [
        ("object.npy", "object arrays"),
        ("longdouble.npy", "long double"),
    ] {
        let a = formats::read(&fx(file), None).unwrap();
        let leaves = a.root.leaves();
        assert!(
            leaves
                .iter()
                .any(|(p, v)| p == "data.fallback"
                    && matches!(v, Value::Str(s) if s.contains(needle))),
            "{file}: {leaves:?}"
        );
    }
    let a = formats::read(&fx("strings_u.npy"), None).unwrap();
    let leaves = a.root.leaves();
    assert_eq!(leaves.len(), 6);
    assert!(leaves.iter().all(|(_, v)| matches!(v, Value::Str(_))));
}

/// Structured arrays become a map of their fields (values as numpy reads them:
/// x = [0.5, -1.25, 3.0, nan, 0.001], y = [1, -2, 2147483647, 0, -2147483648]).
#[test]
fn structured_arrays_are_maps_of_fields() {
    let a = formats::read(&fx("structured.npy"), None).unwrap();
    let inspection = inspect::inspect(&a, None);
    let stats = |p: &str| match &inspection
        .entries
        .iter()
        .find(|e| e.path == p)
        .unwrap()
        .side
    {
        Side::Tensor(t) => (
            t.dtype,
            t.shape.clone(),
            t.stats.as_ref().unwrap().0.clone(),
        ),
        _ => panic!("{p}: not a tensor"),
    };
    let (dtype, shape, x) = stats("data.x");
    assert_eq!((dtype, shape), ("float64", vec![5]));
    assert_eq!((x.min, x.max, x.nan), (Some(-1.25), Some(3.0), 1));
    assert!((x.mean.unwrap() - (0.5 - 1.25 + 3.0 + 0.001) / 4.0).abs() < 1e-15);
    let (dtype, _, y) = stats("data.y");
    assert_eq!(dtype, "int32");
    assert_eq!(
        (y.min, y.max, y.zero),
        (Some(-2147483648.0), Some(2147483647.0), 1)
    );
}

#[test]
fn malformed_files_are_clear_errors() {
    for (file, needle) in [
        ("wrong_magic.npy", "NUMPY magic"),
        ("truncated_header.npy", "truncated"),
        ("truncated_data.npy", "truncated"),
        ("header_not_dict.npy", "not a dict"),
        ("bad_descr.npy", ""),
        ("huge_shape.npy", "more elements than can be addressed"),
        ("negative_shape.npy", "non-negative"),
        ("header_too_long.npy", "exceeds the limit"),
        ("corrupt_deflate.npz", "a.npy"),
        ("truncated.npz", "zip"),
    ] {
        let path = fx(&format!("bad/{file}"));
        match formats::read(&path, None) {
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains(file) && e.contains(needle), "{file}: {e}");
                assert!(!e.contains('\n'));
            }
            // An unknown descr is listed as not decoded rather than refused.
            Ok(a) if file == "bad_descr.npy" => {
                assert!(a.root.leaves().iter().any(|(p, _)| p == "data.fallback"));
            }
            Ok(_) => panic!("{file}: read without error"),
        }
    }
}

/// Compressed members above the whole-inflate limit are read as streams, and give bit for bit
/// the numbers the same bytes give from memory (same chunks, same merge order).
#[test]
fn large_compressed_members_stream_with_the_same_numbers() {
    let streamed = common::streams_like_memory(&fx("stream_old.npz"), &fx("stream_new.npz"));
    assert_eq!(streamed, 2);
}
