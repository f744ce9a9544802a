//! `--performance-impact-estimate`: the relative changes of parameters, weight bytes and
//! multiply-accumulates. No latency, throughput or cost numbers: weights alone cannot give them.

use super::inference_speed::cost;
use super::tensors::{entries, parameters};
use super::{relative_change, Analysis, Field, Finding, Input};

pub struct PerformanceImpact;

impl Analysis for PerformanceImpact {
    fn name(&self) -> &'static str {
        "performance_impact_estimate"
    }

    fn flag(&self) -> &'static str {
        "performance-impact-estimate"
    }

    fn help(&self) -> &'static str {
        "relative change of parameters, weight bytes and multiply-accumulates (no latency or cost claims)"
    }

    fn run(&self, input: &Input) -> Finding {
        let all = entries(input);
        let (macs_old, bytes_old) = cost(all, true);
        let (macs_new, bytes_new) = cost(all, false);
        let change = |o: u64, n: u64| {
            relative_change(o as f64, n as f64)
                .map_or(Field::Missing("zero in old".into()), Field::Percent)
        };
        Finding::default()
            .field(
                "parameters_change",
                change(parameters(all, true), parameters(all, false)),
            )
            .field("weight_bytes_change", change(bytes_old, bytes_new))
            .field("macs_change", change(macs_old, macs_new))
    }
}
