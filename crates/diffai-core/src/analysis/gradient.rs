//! `--gradient-analysis`. Weights alone hold no gradients: with Adam optimizer state in the
//! checkpoints (`exp_avg`, the gradient's moving average) it reports that state's norm and RMS per
//! parameter old→new; otherwise it reports the *update* view, named so: per layer the update ratio
//! `‖d‖/‖o‖`, the flow health from documented bands, and the last layer's update norm over the
//! first's.

use super::tensors::{entries, layer_sums, Entry};
use super::{Analysis, Field, Finding, Input};
use crate::stats::{self, Job, Outcome};

pub struct Gradient;

/// Median per-layer update ratio below which training has stalled (updates lost in float noise)…
pub const STALLED_BELOW: f64 = 1e-6;
/// …and above which updates are large (a tenth of the weights per step between checkpoints).
pub const LARGE_ABOVE: f64 = 1e-1;

impl Analysis for Gradient {
    fn name(&self) -> &'static str {
        "gradient_analysis"
    }

    fn flag(&self) -> &'static str {
        "gradient-analysis"
    }

    fn help(&self) -> &'static str {
        "Adam gradient-EMA norms old->new when the checkpoints hold them, else the per-layer update view and flow health"
    }

    fn run(&self, input: &Input) -> Finding {
        let all = entries(input);
        let ema: Vec<&Entry> = all
            .iter()
            .filter(|e| e.path.ends_with(".exp_avg") && e.old.is_some() && e.new.is_some())
            .collect();
        if !ema.is_empty() {
            return optimizer_view(&ema);
        }
        let layers = layer_sums(all);
        let ratios: Vec<f64> = layers
            .iter()
            .filter(|l| l.old_sq > 0.0)
            .map(|l| (l.diff_sq / l.old_sq).sqrt())
            .collect();
        if ratios.is_empty() {
            return Finding::default().field("source", "weight_update").field(
                "flow_health",
                Field::Missing("no shared non-zero layers".into()),
            );
        }
        let mut sorted = ratios.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        let health = if median < STALLED_BELOW {
            "stalled"
        } else if median > LARGE_ABOVE {
            "large"
        } else {
            "healthy"
        };
        let norm: f64 = layers.iter().map(|l| l.diff_sq).sum::<f64>().sqrt();
        let (first, last) = (layers.first().expect("some"), layers.last().expect("some"));
        let ratio = if first.diff_sq > 0.0 {
            Field::Num((last.diff_sq / first.diff_sq).sqrt())
        } else {
            Field::Missing(format!("the first layer ({}) did not change", first.layer))
        };
        let rows = layers
            .iter()
            .map(|l| {
                vec![
                    ("layer", Field::from(l.layer)),
                    ("update_norm", Field::Num(l.diff_sq.sqrt())),
                    (
                        "update_ratio",
                        if l.old_sq > 0.0 {
                            Field::Num((l.diff_sq / l.old_sq).sqrt())
                        } else {
                            Field::Missing("zero weights".into())
                        },
                    ),
                ]
            })
            .collect();
        Finding {
            rows,
            ..Finding::default()
        }
        .field("source", "weight_update")
        .field("flow_health", health)
        .field("norm", norm)
        .field("ratio", ratio)
        .field("median_update_ratio", median)
    }
}

/// Norm and RMS of each `exp_avg` tensor on both sides.
fn optimizer_view(ema: &[&Entry]) -> Finding {
    let jobs: Vec<Job> = ema
        .iter()
        .flat_map(|e| {
            [
                Job::Single(e.old.expect("both")),
                Job::Single(e.new.expect("both")),
            ]
        })
        .collect();
    let out = stats::compute(&jobs, Default::default(), None);
    let norm = |o: &Outcome| match o {
        Outcome::Single(s) => Some((s.norm, s.finite)),
        _ => None,
    };
    let (mut sq_old, mut sq_new) = (0.0, 0.0);
    let mut rows = Vec::new();
    for (e, pair) in ema.iter().zip(out.chunks(2)) {
        let (Some((a, na)), Some((b, nb))) = (norm(&pair[0]), norm(&pair[1])) else {
            continue;
        };
        sq_old += a * a;
        sq_new += b * b;
        let rms = |n: f64, count: u64| {
            if count > 0 {
                Field::Num(n / (count as f64).sqrt())
            } else {
                Field::Missing("no finite values".into())
            }
        };
        rows.push(vec![
            ("path", Field::Text(e.path.clone())),
            ("norm_old", Field::Num(a)),
            ("norm_new", Field::Num(b)),
            ("rms_old", rms(a, na)),
            ("rms_new", rms(b, nb)),
        ]);
    }
    let ratio = if sq_old > 0.0 {
        Field::Num((sq_new / sq_old).sqrt())
    } else {
        Field::Missing("zero in old".into())
    };
    Finding {
        rows,
        ..Finding::default()
    }
    .field("source", "optimizer_state (Adam exp_avg)")
    .field("tensors", ema.len())
    .field("ema_norm_old", sq_old.sqrt())
    .field("ema_norm_new", sq_new.sqrt())
    .field("ema_norm_ratio", ratio)
}
