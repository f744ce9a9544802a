//! Checks against the float64 references written by the fixture generators (shared by the
//! reference tests of every format).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use diffai_core::report::Side;
use diffai_core::stats::{PairMetrics, SideStats};
use serde_json::Value as Json;

/// Relative agreement required for sums-based statistics (mean, std, norms, ratios).
pub const RTOL: f64 = 1e-9;

/// The fixture folder of one format: `tests/fixtures/<format>`.
pub fn fixtures(format: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(format)
}

/// That folder's `reference.json`.
pub fn reference(format: &str) -> Json {
    let text =
        std::fs::read_to_string(fixtures(format).join("reference.json")).expect("reference.json");
    serde_json::from_str(&text).expect("valid reference JSON")
}

/// A reference number: JSON number, "NaN"/"inf"/"-inf", or null.
pub fn num(v: &Json) -> Option<f64> {
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

pub fn close(what: &str, got: Option<f64>, want: Option<f64>, rtol: f64) {
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

pub fn exact(what: &str, got: Option<f64>, want: Option<f64>) {
    close(what, got, want, 0.0)
}

pub fn count(what: &str, got: u64, want: &Json) {
    assert_eq!(Some(got), want.as_u64(), "{what}");
}

pub fn check_side(what: &str, s: &SideStats, r: &Json) {
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
pub const HYPOT_RTOL: f64 = 4.0 * f64::EPSILON;

pub fn check_pair(what: &str, m: &PairMetrics, r: &Json, complex: bool) {
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

pub fn stats_of(side: &Option<Side>) -> Option<&SideStats> {
    match side {
        Some(Side::Tensor(t)) => t.stats.as_ref().map(|s| &s.0),
        _ => None,
    }
}

/// Checks every compressed (streamed) tensor of two files: its statistics, alone and paired with
/// the other file's tensor of the same path, equal bit for bit those of the same bytes inflated
/// into memory, and byte identity agrees. Returns how many tensor pairs were streamed.
pub fn streams_like_memory(old: &Path, new: &Path) -> usize {
    use diffai_core::formats;
    use diffai_core::stats::{self, Job};
    use diffai_core::tensor::{ByteSource, Tensor};
    let tensors = |file: &Path| -> Vec<(String, Tensor)> {
        let a = formats::read(file, None).unwrap_or_else(|e| panic!("{e}"));
        a.root
            .tensors()
            .into_iter()
            .map(|(p, t)| (p, t.clone()))
            .collect()
    };
    let (old, new) = (tensors(old), tensors(new));
    let in_memory = |t: &Tensor| Tensor {
        source: ByteSource::owned(t.source.bytes().to_vec()),
        ..t.clone()
    };
    let mut streamed = 0;
    for (name, o) in &old {
        let Some((_, n)) = new.iter().find(|(p, _)| p == name) else {
            continue;
        };
        if o.source.as_deflated().is_none() || n.source.as_deflated().is_none() {
            continue;
        }
        streamed += 1;
        let (om, nm) = (in_memory(o), in_memory(n));
        let from_stream = stats::compute(
            &[Job::Pair(o, n), Job::Single(o), Job::Pair(o, &nm)],
            Default::default(),
            None,
        );
        let from_memory = stats::compute(
            &[Job::Pair(&om, &nm), Job::Single(&om), Job::Pair(&om, &nm)],
            Default::default(),
            None,
        );
        assert_eq!(from_stream, from_memory, "{name}");
        let same = stats::identical(&[(o, n), (o, &om), (o, o), (&om, n)], None);
        let differ = om.source.bytes() != nm.source.bytes();
        assert_eq!(same, vec![!differ, true, true, !differ], "{name}");
    }
    streamed
}
