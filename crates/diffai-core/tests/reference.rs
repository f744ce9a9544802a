//! Statistics against the float64 numpy reference written by tests/fixtures/generate.py:
//! 1e-9 relative for means, stds and norms; exact for min, max and counts; every dtype.

mod common;

use common::{check_pair, check_side, stats_of};

fn fixtures() -> std::path::PathBuf {
    common::fixtures("safetensors")
}

fn reference() -> Json {
    common::reference("safetensors")
}
use diffai_core::diff::{self, Options};
use diffai_core::report::Change;
use diffai_core::stats::Tolerance;
use diffai_core::{formats, Report};
use serde_json::Value as Json;

fn run(old: &str, new: &str, tol: Tolerance) -> Report {
    let old = formats::read(&fixtures().join(old), None).expect("old fixture");
    let new = formats::read(&fixtures().join(new), None).expect("new fixture");
    let opts = Options {
        tolerance: tol,
        include_unchanged: true,
        one_sided_stats: true,
        ..Default::default()
    };
    diff::diff(&old, &new, &opts, None)
}

fn change<'a>(report: &'a Report, path: &str) -> &'a Change {
    report
        .changes
        .iter()
        .find(|c| c.path == path)
        .unwrap_or_else(|| panic!("no change for {path}"))
}

#[test]
fn every_pair_matches_the_numpy_reference() {
    let reference = reference();
    let mut checked_pairs = 0;
    for pair in reference["pairs"].as_array().expect("pairs") {
        let (old, new) = (pair["old"].as_str().unwrap(), pair["new"].as_str().unwrap());
        let tol = Tolerance {
            epsilon: pair["epsilon"].as_f64().unwrap(),
            rtol: pair["rtol"].as_f64().unwrap(),
        };
        let report = run(old, new, tol);
        for (name, r) in pair["tensors"].as_object().expect("tensors") {
            let what = format!(
                "{old} vs {new} (eps {}, rtol {}) {name}",
                tol.epsilon, tol.rtol
            );
            let c = change(&report, name);
            let m = &c
                .metrics
                .as_ref()
                .unwrap_or_else(|| panic!("{what}: no metrics"))
                .0;
            let complex = reference["files"][old][name]["dtype"] == "C64";
            check_pair(&what, m, r, complex);
            check_side(
                &format!("{what} old"),
                stats_of(&c.old).expect("old stats"),
                &reference["files"][old][name],
            );
            check_side(
                &format!("{what} new"),
                stats_of(&c.new).expect("new stats"),
                &reference["files"][new][name],
            );
            checked_pairs += 1;
        }
    }
    assert!(
        checked_pairs > 60,
        "only {checked_pairs} tensor pairs checked"
    );
}

#[test]
fn one_sided_tensors_match_the_reference() {
    let reference = reference();
    let report = run(
        "dtypes_old.safetensors",
        "dtypes_new.safetensors",
        Tolerance::default(),
    );
    let files = &reference["files"];
    let removed = change(&report, "removed_t");
    check_side(
        "removed_t",
        stats_of(&removed.old).unwrap(),
        &files["dtypes_old.safetensors"]["removed_t"],
    );
    let added = change(&report, "added_t");
    check_side(
        "added_t",
        stats_of(&added.new).unwrap(),
        &files["dtypes_new.safetensors"]["added_t"],
    );
    let reshaped = change(&report, "reshaped_t");
    check_side(
        "reshaped_t old",
        stats_of(&reshaped.old).unwrap(),
        &files["dtypes_old.safetensors"]["reshaped_t"],
    );
    check_side(
        "reshaped_t new",
        stats_of(&reshaped.new).unwrap(),
        &files["dtypes_new.safetensors"]["reshaped_t"],
    );
}

#[test]
fn every_dtype_of_the_fixture_is_checked() {
    let reference = reference();
    let names: Vec<&String> = reference["files"]["dtypes_old.safetensors"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    for dtype in [
        "bool",
        "u8",
        "i8",
        "u16",
        "i16",
        "u32",
        "i32",
        "u64",
        "i64",
        "f16",
        "bf16",
        "f32",
        "f64",
        "f8_e4m3",
        "f8_e5m2",
        "f8_e8m0",
        "f8_e4m3fnuz",
        "f8_e5m2fnuz",
        "c64",
        "f4",
    ] {
        let name = format!("t_{dtype}");
        assert!(names.iter().any(|n| **n == name), "reference lacks {name}");
    }
}
