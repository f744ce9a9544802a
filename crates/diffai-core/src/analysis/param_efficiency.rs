//! `--param-efficiency-analysis`: how much of each model's parameters carry weight. Per side:
//! parameters per family of tensor (by shape), the exact-zero fraction, the fraction with
//! `|w| < τ·std(w)` (τ from [`Settings`](super::Settings)), dead units (all-zero rows of weights of
//! rank ≥ 2), and the parameter ratio new/old.

use std::collections::BTreeMap;

use super::anomaly::{dead_rows, side_stats};
use super::tensors::entries;
use super::weights::is_embedding;
use super::{Analysis, Field, Finding, Input};
use crate::stats::count_f64;
use crate::tensor::Tensor;
use rayon::prelude::*;

pub struct ParamEfficiency;

/// The family of a parameter tensor, from its shape (and name, for embeddings).
fn family(path: &str, t: &Tensor) -> &'static str {
    match t.shape.len() {
        4 => "conv",
        2 if is_embedding(path, t) => "embedding",
        2 => "linear",
        1 => "vector (bias, norm)",
        0 => "scalar",
        _ => "other",
    }
}

impl Analysis for ParamEfficiency {
    fn name(&self) -> &'static str {
        "param_efficiency_analysis"
    }

    fn flag(&self) -> &'static str {
        "param-efficiency-analysis"
    }

    fn help(&self) -> &'static str {
        "parameters per tensor family, exact-zero and near-zero (|w| < tau*std) fractions, dead units, ratio new/old"
    }

    fn run(&self, input: &Input) -> Finding {
        let all = entries(input);
        let stats = side_stats(input, all);
        let tau = input.settings.small_weight_tau;
        // per side: numel, zeros, small, dead rows; per family: parameters old, new
        // Near-zero counts of every parameter tensor, both sides, in parallel (most tensors are
        // smaller than one parallel range, so counting them one after another used one core).
        let small: Vec<[Option<u64>; 2]> = all
            .par_iter()
            .zip(&stats)
            .map(|(e, (so, sn))| {
                let count = |t: Option<&Tensor>, s: &Option<crate::stats::SideStats>| {
                    let limit = tau * s.as_ref()?.std.unwrap_or(0.0);
                    if !e.is_parameter() || limit <= 0.0 {
                        return None;
                    }
                    count_f64(t?, |v| v.abs() < limit).ok()
                };
                [count(e.old, so), count(e.new, sn)]
            })
            .collect();
        let mut totals = [[0u64; 4]; 2];
        let mut families: BTreeMap<&str, [u64; 2]> = BTreeMap::new();
        for (i, e) in all.iter().enumerate() {
            if !e.is_parameter() {
                continue;
            }
            for (side, (t, s)) in [(e.old, &stats[i].0), (e.new, &stats[i].1)]
                .into_iter()
                .enumerate()
            {
                let (Some(t), Some(s)) = (t, s) else { continue };
                families.entry(family(&e.path, t)).or_default()[side] += t.numel();
                let tot = &mut totals[side];
                tot[0] += t.numel();
                tot[1] += s.zero;
                tot[2] += small[i][side].unwrap_or(0);
                tot[3] += dead_rows(t, s).unwrap_or(0);
            }
        }
        let frac = |a: u64, b: u64| {
            if b > 0 {
                Field::Percent(a as f64 / b as f64)
            } else {
                Field::Missing("no parameters".into())
            }
        };
        let rows = families
            .iter()
            .map(|(f, [o, n])| {
                vec![
                    ("family", Field::from(*f)),
                    ("parameters_old", Field::from(*o)),
                    ("parameters_new", Field::from(*n)),
                ]
            })
            .collect();
        let [o, n] = totals;
        Finding {
            rows,
            ..Finding::default()
        }
        .field("parameters_old", o[0])
        .field("parameters_new", n[0])
        .field(
            "ratio",
            if o[0] > 0 {
                Field::Num(n[0] as f64 / o[0] as f64)
            } else {
                Field::Missing("no parameters in old".into())
            },
        )
        .field("zero_old", frac(o[1], o[0]))
        .field("zero_new", frac(n[1], n[0]))
        .field("near_zero_old", frac(o[2], o[0]))
        .field("near_zero_new", frac(n[2], n[0]))
        .field("dead_units_old", o[3])
        .field("dead_units_new", n[3])
    }
}
