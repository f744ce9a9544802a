//! `--inference-speed-estimate`: multiply-accumulates per forward position counted from the
//! weight shapes, and weight bytes, both sides and their ratios. A theoretical proxy: no latency.

use super::tensors::{entries, Entry};
use super::weights::macs;
use super::{Analysis, Field, Finding, Input};

pub struct InferenceSpeed;

/// MACs and weight bytes of one side.
pub fn cost(all: &[Entry], old: bool) -> (u64, u64) {
    all.iter()
        .filter_map(|e| e.side(old).map(|t| (macs(&e.path, t), t.byte_len())))
        .fold((0, 0), |(m, b), (x, y)| {
            (m.saturating_add(x), b.saturating_add(y))
        })
}

/// `new / old`, or what is missing.
pub fn ratio(new: u64, old: u64) -> Field {
    if old == 0 {
        Field::Missing("zero in old".into())
    } else {
        Field::Num(new as f64 / old as f64)
    }
}

impl Analysis for InferenceSpeed {
    fn name(&self) -> &'static str {
        "inference_speed_estimate"
    }

    fn flag(&self) -> &'static str {
        "inference-speed-estimate"
    }

    fn help(&self) -> &'static str {
        "multiply-accumulates per forward position from weight shapes (a theoretical proxy, not a latency) and weight bytes"
    }

    fn run(&self, input: &Input) -> Finding {
        let all = entries(input);
        let (macs_old, bytes_old) = cost(all, true);
        let (macs_new, bytes_new) = cost(all, false);
        Finding::default()
            .field("macs_old", macs_old)
            .field("macs_new", macs_new)
            .field("macs_ratio", ratio(macs_new, macs_old))
            .field("weight_bytes_ratio", ratio(bytes_new, bytes_old))
            .field(
                "note",
                "theoretical proxy from shapes, not a measured latency",
            )
    }
}
