//! Training metadata in the inputs: numbers stored beside the weights (a checkpoint's `epoch`,
//! `loss`, optimizer `param_groups[i].lr`, scheduler `_last_lr`, safetensors `__metadata__`).

use crate::value::Value;

use super::tensors::{unmeasured_norm_sq, Entry, Match};

/// The number under a key named `key` (the last path component), the shallowest one when several
/// hold it; numeric text (safetensors metadata is text) counts too.
pub fn number(leaves: &[(String, &Value)], key: &str) -> Option<f64> {
    leaves
        .iter()
        .filter(|(p, _)| last(p) == key)
        .min_by_key(|(p, _)| p.matches(['.', '[']).count())
        .and_then(|(_, v)| as_number(v))
}

/// Every number whose path matches `pred`, with its path, in tree order.
pub fn numbers(leaves: &[(String, &Value)], pred: impl Fn(&str) -> bool) -> Vec<(String, f64)> {
    leaves
        .iter()
        .filter(|(p, _)| pred(p))
        .filter_map(|(p, v)| as_number(v).map(|x| (p.clone(), x)))
        .collect()
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The last component of a display path (`a.b[0].lr` → `lr`).
fn last(path: &str) -> &str {
    path.rsplit(['.', ']'])
        .find(|s| !s.is_empty())
        .unwrap_or(path)
}

/// The models' global relative change `sqrt(Σ‖d‖² / Σ‖o‖²)` over shared same-shape parameters
/// (optimizer state excluded), or `None` without any.
pub fn global_rel_l2(entries: &[Entry]) -> Option<f64> {
    let shared: Vec<&Entry> = entries
        .iter()
        .filter(|e| matches!(e.kind, Match::Changed | Match::Unchanged) && is_model_weight(&e.path))
        .collect();
    if shared.is_empty() {
        return None;
    }
    let mut old_sq = unmeasured_norm_sq(&shared);
    let mut diff_sq = 0.0;
    for e in &shared {
        if let Some(m) = e.metrics {
            old_sq += m.norm_old * m.norm_old;
            diff_sq += m.norm_diff * m.norm_diff;
        }
    }
    Some(if old_sq > 0.0 {
        (diff_sq / old_sq).sqrt()
    } else if diff_sq > 0.0 {
        f64::INFINITY
    } else {
        0.0
    })
}

/// The update norm ‖d‖ over shared model parameters.
pub fn update_norm(entries: &[Entry]) -> f64 {
    entries
        .iter()
        .filter(|e| is_model_weight(&e.path))
        .filter_map(|e| e.metrics.map(|m| m.norm_diff * m.norm_diff))
        .sum::<f64>()
        .sqrt()
}

/// Not optimizer or scheduler state, not a recognised buffer.
pub fn is_model_weight(path: &str) -> bool {
    let top = path.split(['.', '[']).next().unwrap_or(path);
    !top.contains("optimizer") && !top.contains("scheduler") && !crate::report::is_buffer(path)
}
