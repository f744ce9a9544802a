//! Statistics against the float64 numpy reference written by tests/fixtures/generate.py:
//! 1e-9 relative for means, stds and norms; exact for min, max and counts; every dtype.

use std::path::{Path, PathBuf};

use diffai_core::diff::{self, Options};
use diffai_core::report::{Change, Side};
use diffai_core::stats::{PairMetrics, SideStats, Tolerance};
use diffai_core::{formats, Report};
use serde_json::Value as Json;

/// Relative agreement required for sums-based statistics (mean, std, norms, ratios).
const RTOL: f64 = 1e-9;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/safetensors")
}

fn reference() -> Json {
    let text = std::fs::read_to_string(fixtures().join("reference.json")).expect("reference.json");
    serde_json::from_str(&text).expect("valid reference JSON")
}

/// A reference number: JSON number, "NaN"/"inf"/"-inf", or null.
fn num(v: &Json) -> Option<f64> {
    match v {
        Json::Null => None,
        Json::String(s) => Some(match s.as_str() {
            "NaN" => f64::NAN,
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            other => panic!("unexpected reference string {other}"),
        }),
        n => Some(n.as_f64().expect("number")),
    }
}

fn close(what: &str, got: Option<f64>, want: Option<f64>, rtol: f64) {
    match (got, want) {
        (None, None) => {}
        (Some(g), Some(w)) if g.is_nan() && w.is_nan() => {}
        (Some(g), Some(w)) if g == w => {}
        (Some(g), Some(w)) => {
            let err = (g - w).abs() / w.abs().max(f64::MIN_POSITIVE);
            assert!(
                err <= rtol,
                "{what}: got {g:e}, want {w:e} (relative error {err:e})"
            );
        }
        _ => panic!("{what}: got {got:?}, want {want:?}"),
    }
}

fn exact(what: &str, got: Option<f64>, want: Option<f64>) {
    close(what, got, want, 0.0)
}

fn count(what: &str, got: u64, want: &Json) {
    assert_eq!(Some(got), want.as_u64(), "{what}");
}

fn check_side(what: &str, s: &SideStats, r: &Json) {
    count(&format!("{what} numel"), s.numel, &r["numel"]);
    count(&format!("{what} finite"), s.finite, &r["finite"]);
    count(&format!("{what} nan"), s.nan, &r["nan"]);
    count(&format!("{what} inf"), s.inf, &r["inf"]);
    count(&format!("{what} zero"), s.zero, &r["zero"]);
    close(&format!("{what} mean"), s.mean, num(&r["mean"]), RTOL);
    close(&format!("{what} std"), s.std, num(&r["std"]), RTOL);
    exact(&format!("{what} min"), s.min, num(&r["min"]));
    exact(&format!("{what} max"), s.max, num(&r["max"]));
    for (part, got) in [("real", &s.real), ("imag", &s.imag)] {
        if r.get(part).is_some() {
            let p = got
                .as_ref()
                .unwrap_or_else(|| panic!("{what}: no {part} stats"));
            let rp = &r[part];
            close(
                &format!("{what} {part} mean"),
                p.mean,
                num(&rp["mean"]),
                RTOL,
            );
            close(&format!("{what} {part} std"), p.std, num(&rp["std"]), RTOL);
            exact(&format!("{what} {part} min"), p.min, num(&rp["min"]));
            exact(&format!("{what} {part} max"), p.max, num(&rp["max"]));
        }
    }
}

/// Moduli of complex numbers come from `hypot`, whose last bit differs between libm and numpy.
const HYPOT_RTOL: f64 = 4.0 * f64::EPSILON;

fn check_pair(what: &str, m: &PairMetrics, r: &Json, complex: bool) {
    count(&format!("{what} pairs"), m.pairs, &r["pairs"]);
    count(&format!("{what} changed"), m.changed, &r["changed"]);
    let max_abs_rtol = if complex { HYPOT_RTOL } else { 0.0 };
    close(
        &format!("{what} max_abs"),
        Some(m.max_abs),
        num(&r["max_abs"]),
        max_abs_rtol,
    );
    close(
        &format!("{what} mean_abs"),
        m.mean_abs,
        num(&r["mean_abs"]),
        RTOL,
    );
    close(
        &format!("{what} norm_old"),
        Some(m.norm_old),
        num(&r["norm_old"]),
        RTOL,
    );
    close(
        &format!("{what} norm_new"),
        Some(m.norm_new),
        num(&r["norm_new"]),
        RTOL,
    );
    close(
        &format!("{what} norm_diff"),
        Some(m.norm_diff),
        num(&r["norm_diff"]),
        RTOL,
    );
    close(
        &format!("{what} rel_l2"),
        Some(m.rel_l2),
        num(&r["rel_l2"]),
        RTOL,
    );
    close(&format!("{what} cosine"), m.cosine, num(&r["cosine"]), RTOL);
    close(
        &format!("{what} 1-cos"),
        m.one_minus_cos,
        num(&r["one_minus_cos"]),
        RTOL,
    );
    close(
        &format!("{what} changed_fraction"),
        m.changed_fraction,
        num(&r["changed_fraction"]),
        RTOL,
    );
}

fn stats_of(side: &Option<Side>) -> Option<&SideStats> {
    match side {
        Some(Side::Tensor(t)) => t.stats.as_ref().map(|s| &s.0),
        _ => None,
    }
}

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
