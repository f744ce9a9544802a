//! `--quantization-analysis`: what a change of element type did to the weights. Compression from
//! the bytes, the error from the pairwise sums: RMSE, max abs error, SQNR and the relative L2
//! error, per tensor and overall; a float tensor on few distinct values reads as a grid.

use std::collections::HashSet;

use super::tensors::{entries, unmeasured_norm_sq, Entry, Match};
use super::{Analysis, Field, Finding, Input};
use crate::stats::{visit_range_f64, CHUNK_ELEMS};

pub struct Quantization;

/// Suitability bands on the overall SQNR (dB): each 6 dB is about one bit of precision, so 40 dB
/// keeps ~6.6 bits of the weights' dynamic range (excellent), 30 dB ~5 bits (good), 20 dB ~3.3
/// bits (fair); below is poor.
pub const SQNR_BANDS_DB: [(f64, &str); 3] = [(40.0, "excellent"), (30.0, "good"), (20.0, "fair")];

/// A float tensor with at most this many distinct values sits on an 8-bit grid.
pub const GRID_LEVELS: usize = 256;

impl Analysis for Quantization {
    fn name(&self) -> &'static str {
        "quantization_analysis"
    }

    fn flag(&self) -> &'static str {
        "quantization-analysis"
    }

    fn help(&self) -> &'static str {
        "compression = bytes new/old, bits per parameter, RMSE, max abs error, SQNR dB, precision loss, int8-grid detection"
    }

    fn run(&self, input: &Input) -> Finding {
        let all = entries(input);
        // Paths on both sides (any shape) for the bytes; same-shape pairs for the error.
        let both: Vec<&Entry> = all
            .iter()
            .filter(|e| e.old.is_some() && e.new.is_some())
            .collect();
        // Σ over the paths on both sides of a per-tensor count, old (true) or new side.
        let total = |old: bool, count: fn(&crate::tensor::Tensor) -> u64| -> u64 {
            both.iter().filter_map(|e| e.side(old)).map(count).sum()
        };
        let (bytes_old, bytes_new) = (
            total(true, |t| t.byte_len()),
            total(false, |t| t.byte_len()),
        );
        let (numel_old, numel_new) = (total(true, |t| t.numel()), total(false, |t| t.numel()));
        let paired: Vec<&Entry> = both
            .iter()
            .copied()
            .filter(|e| matches!(e.kind, Match::Changed | Match::Unchanged | Match::Retyped))
            .collect();
        let mut sig = unmeasured_norm_sq(&paired);
        let (mut noise, mut pairs, mut max_abs) = (0.0, 0u64, 0.0f64);
        let mut rows = Vec::new();
        for e in &paired {
            let (o, n) = (e.old.expect("paired"), e.new.expect("paired"));
            let mut row = vec![
                ("path", Field::Text(e.path.clone())),
                ("dtype_old", Field::from(o.dtype.name())),
                ("dtype_new", Field::from(n.dtype.name())),
            ];
            match e.metrics {
                Some(m) => {
                    sig += m.norm_old * m.norm_old;
                    noise += m.norm_diff * m.norm_diff;
                    pairs += m.pairs;
                    max_abs = max_abs.max(m.max_abs);
                    row.push((
                        "sqnr_db",
                        sqnr(m.norm_old * m.norm_old, m.norm_diff * m.norm_diff),
                    ));
                    row.push(("max_abs_error", Field::Num(m.max_abs)));
                }
                None => {
                    pairs += o.numel();
                    row.push(("sqnr_db", Field::Num(f64::INFINITY)));
                    row.push(("max_abs_error", Field::Num(0.0)));
                }
            }
            row.push(("distinct_new", distinct(n)));
            rows.push(row);
        }
        let overall = sqnr(sig, noise);
        let suitability = match overall {
            Field::Num(db) => SQNR_BANDS_DB
                .iter()
                .find(|(min, _)| db >= *min)
                .map_or("poor", |(_, name)| name)
                .into(),
            _ => Field::Missing("no tensor pairs of equal shape".into()),
        };
        let ratio = |a: u64, b: u64, why: &str| {
            if b == 0 {
                Field::Missing(why.into())
            } else {
                Field::Num(a as f64 / b as f64)
            }
        };
        let compression = ratio(bytes_new, bytes_old, "no tensor bytes in old");
        let reduction = match compression {
            Field::Num(c) => Field::Percent(1.0 - c),
            ref other => other.clone(),
        };
        Finding {
            rows,
            ..Finding::default()
        }
        .field("compression", compression)
        .field("reduction", reduction)
        .field(
            "bits_per_param_old",
            ratio(8 * bytes_old, numel_old, "no elements in old"),
        )
        .field(
            "bits_per_param_new",
            ratio(8 * bytes_new, numel_new, "no elements in new"),
        )
        .field(
            "rmse",
            if pairs > 0 {
                Field::Num((noise / pairs as f64).sqrt())
            } else {
                Field::Missing("no tensor pairs of equal shape".into())
            },
        )
        .field("max_abs_error", Field::Num(max_abs))
        .field("sqnr_db", overall)
        .field(
            "precision_loss",
            if sig > 0.0 {
                Field::Percent((noise / sig).sqrt())
            } else {
                Field::Missing("the old weights are all zero".into())
            },
        )
        .field("suitability", suitability)
    }
}

/// `10 log10(signal / noise)`; infinite without noise.
fn sqnr(signal: f64, noise: f64) -> Field {
    if signal == 0.0 && noise == 0.0 {
        Field::Missing("the old weights are all zero".into())
    } else if noise == 0.0 {
        Field::Num(f64::INFINITY)
    } else {
        Field::Num(10.0 * (signal / noise).log10())
    }
}

/// Distinct values of a real tensor, counted up to one past [`GRID_LEVELS`] (then "more"),
/// a chunk at a time: a float tensor off any grid stops after its first chunk.
fn distinct(t: &crate::tensor::Tensor) -> Field {
    let mut seen: HashSet<u64> = HashSet::new();
    let mut start = 0;
    while start < t.numel() && seen.len() <= GRID_LEVELS {
        let end = (start + CHUNK_ELEMS).min(t.numel());
        if let Err(why) = visit_range_f64(t, start, end, |block| {
            for v in block {
                if seen.len() > GRID_LEVELS {
                    break;
                }
                seen.insert(if *v == 0.0 { 0 } else { v.to_bits() });
            }
        }) {
            return Field::Missing(why);
        }
        start = end;
    }
    if seen.len() > GRID_LEVELS {
        Field::Text(format!("more than {GRID_LEVELS}"))
    } else {
        Field::from(seen.len())
    }
}
