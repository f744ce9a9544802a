//! `--anomaly-detection`: values no healthy weight tensor holds (NaN, Inf, all zero, constant,
//! dead units, huge magnitudes) on either side, and changes between the sides that no healthy
//! update makes (norm exploding or collapsing, an update larger than the weights).

use std::collections::HashMap;

use super::tensors::{entries, Entry, Match};
use super::{Analysis, Field, Finding, Input};
use crate::report::Side;
use crate::stats::{self, visit_f64, Job, Outcome, SideStats};
use crate::tensor::Tensor;

pub struct Anomaly;

/// Largest |w| a healthy weight holds: trained weights and their norms sit near 1 (initialised
/// at ~1/√fan_in); 1000 is three orders of magnitude beyond.
pub const MAX_ABS_LIMIT: f64 = 1e3;
/// ‖new‖/‖old‖ above this is a weight explosion, below [`COLLAPSE_RATIO`] a collapse: a
/// fine-tune moves norms by percents, not by an order of magnitude.
pub const EXPLOSION_RATIO: f64 = 10.0;
pub const COLLAPSE_RATIO: f64 = 0.1;
/// `rel_l2` above this is an update larger than the weights themselves.
pub const UPDATE_EXPLOSION_REL_L2: f64 = 1.0;

impl Analysis for Anomaly {
    fn name(&self) -> &'static str {
        "anomaly_detection"
    }

    fn flag(&self) -> &'static str {
        "anomaly-detection"
    }

    fn help(&self) -> &'static str {
        "NaN/Inf (critical), all-zero, constant, dead rows, |w| > 1e3, norm ratio > 10 or < 0.1, rel_l2 > 1"
    }

    fn run(&self, input: &Input) -> Finding {
        let all = entries(input);
        let stats = side_stats(input, all);
        let mut rows = Vec::new();
        let mut affected = std::collections::BTreeSet::new();
        let mut critical = false;
        let mut flag = |e: &Entry, side: &'static str, kind: &'static str, detail: String| {
            critical |= matches!(kind, "nan" | "inf");
            affected.insert(e.path.clone());
            rows.push(vec![
                ("path", Field::Text(e.path.clone())),
                ("side", Field::from(side)),
                ("type", Field::from(kind)),
                ("detail", Field::Text(detail)),
            ]);
        };
        for (i, e) in all.iter().enumerate() {
            for (side, t, s) in [("old", e.old, &stats[i].0), ("new", e.new, &stats[i].1)] {
                let (Some(t), Some(s)) = (t, s) else { continue };
                if s.nan > 0 {
                    flag(e, side, "nan", format!("{} NaN of {}", s.nan, s.numel));
                }
                if s.inf > 0 {
                    flag(e, side, "inf", format!("{} Inf of {}", s.inf, s.numel));
                }
                if s.numel > 0 && s.zero == s.numel {
                    flag(e, side, "all_zero", format!("{} elements", s.numel));
                } else if s.numel > 1 && s.finite == s.numel && s.min == s.max {
                    flag(
                        e,
                        side,
                        "constant",
                        format!("every element {}", s.min.unwrap_or(0.0)),
                    );
                }
                let peak = s.min.unwrap_or(0.0).abs().max(s.max.unwrap_or(0.0).abs());
                if peak > MAX_ABS_LIMIT {
                    flag(e, side, "huge_values", format!("|w|max = {peak}"));
                }
                if let Some(dead) = dead_rows(t, s) {
                    if dead > 0 {
                        flag(
                            e,
                            side,
                            "dead_units",
                            format!("{dead} of {} rows all zero", t.shape[0]),
                        );
                    }
                }
            }
            if let (Some(o), Some(n)) = (&stats[i].0, &stats[i].1) {
                if matches!(e.kind, Match::Changed) && o.norm > 0.0 {
                    let ratio = n.norm / o.norm;
                    if ratio > EXPLOSION_RATIO {
                        flag(e, "both", "weight_explosion", format!("norm ratio {ratio}"));
                    } else if ratio < COLLAPSE_RATIO {
                        flag(e, "both", "weight_collapse", format!("norm ratio {ratio}"));
                    }
                }
            }
            if let Some(m) = e.metrics {
                if m.rel_l2 > UPDATE_EXPLOSION_REL_L2 {
                    flag(
                        e,
                        "both",
                        "update_explosion",
                        format!("rel_l2 {}", m.rel_l2),
                    );
                }
            }
        }
        let mut types: Vec<String> = rows
            .iter()
            .filter_map(|r| match &r[2].1 {
                Field::Text(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        types.sort();
        types.dedup();
        let severity = if critical {
            "critical"
        } else if rows.is_empty() {
            "none"
        } else {
            "warning"
        };
        Finding {
            rows,
            ..Finding::default()
        }
        .field("severity", severity)
        .field("types", Field::List(types))
        .field("affected", affected.len())
        .field("tensors_checked", all.len())
    }
}

/// Statistics of each entry's sides: from the diff where it computed them, else computed here
/// (a byte-identical pair once, for both sides).
pub(super) fn side_stats(
    input: &Input,
    all: &[Entry],
) -> Vec<(Option<SideStats>, Option<SideStats>)> {
    let known: HashMap<&str, (Option<&SideStats>, Option<&SideStats>)> = input
        .report
        .changes
        .iter()
        .map(|c| {
            (
                c.path.as_str(),
                (
                    c.old.as_ref().and_then(Side::stats),
                    c.new.as_ref().and_then(Side::stats),
                ),
            )
        })
        .collect();
    let mut out: Vec<(Option<SideStats>, Option<SideStats>)> = all
        .iter()
        .map(|e| {
            let k = known.get(e.path.as_str());
            (k.and_then(|k| k.0.cloned()), k.and_then(|k| k.1.cloned()))
        })
        .collect();
    let mut jobs: Vec<Job> = Vec::new();
    let mut slots: Vec<(usize, u8)> = Vec::new();
    for (i, e) in all.iter().enumerate() {
        let identical = e.kind == Match::Unchanged && e.metrics.is_none();
        if let (Some(t), None) = (e.old, &out[i].0) {
            jobs.push(Job::Single(t));
            slots.push((i, if identical { 2 } else { 0 }));
        }
        if let (Some(t), None, false) = (e.new, &out[i].1, identical) {
            jobs.push(Job::Single(t));
            slots.push((i, 1));
        }
    }
    for ((i, which), o) in slots
        .into_iter()
        .zip(stats::compute(&jobs, Default::default(), None))
    {
        let Outcome::Single(s) = o else { continue };
        match which {
            0 => out[i].0 = Some(s),
            1 => out[i].1 = Some(s),
            _ => out[i] = (Some(s.clone()), Some(s)),
        }
    }
    out
}

/// Rows (first dimension) of a weight of rank ≥ 2 whose elements are all zero; `None` when not
/// applicable or unreadable. Skips the scan when there are too few zeros for a whole row.
pub(super) fn dead_rows(t: &Tensor, s: &SideStats) -> Option<u64> {
    if t.shape.len() < 2 || t.shape[0] == 0 || t.dtype.is_complex() {
        return None;
    }
    let row = t.numel() / t.shape[0];
    if row == 0 || s.zero < row {
        return Some(0);
    }
    let (mut dead, mut at, mut row_zero) = (0u64, 0u64, true);
    visit_f64(t, |block| {
        for &v in block {
            row_zero &= v == 0.0;
            at += 1;
            if at % row == 0 {
                dead += row_zero as u64;
                row_zero = true;
            }
        }
    })
    .ok()?;
    Some(dead)
}
