//! `--change-summary`: tensor counts by kind of change, parameters old→new, the share of
//! parameters changed, the global relative L2 change and the most changed tensors.

use super::tensors::{entries, parameters, unmeasured_norm_sq, Match};
use super::{relative_change, Analysis, Field, Finding, Input};

pub struct ChangeSummary;

/// Most changed tensors listed (by `rel_l2`).
pub const TOP_K: usize = 5;

impl Analysis for ChangeSummary {
    fn name(&self) -> &'static str {
        "change_summary"
    }

    fn flag(&self) -> &'static str {
        "change-summary"
    }

    fn help(&self) -> &'static str {
        "tensors added/removed/reshaped/retyped/changed/unchanged, parameters, % changed, global rel_l2, top changes"
    }

    fn run(&self, input: &Input) -> Finding {
        let all = entries(input);
        let count = |k: Match| all.iter().filter(|e| e.kind == k).count();
        let (params_old, params_new) = (parameters(all, true), parameters(all, false));
        // Global rel_l2 = sqrt(Σ‖d‖²) / sqrt(Σ‖o‖²) over shared same-shape tensors: the norms of
        // unchanged tensors (which the diff does not compute) are computed here.
        let shared: Vec<_> = all
            .iter()
            .filter(|e| matches!(e.kind, Match::Changed | Match::Unchanged))
            .collect();
        let mut sq_old = unmeasured_norm_sq(&shared);
        let (mut sq_diff, mut changed_elems, mut shared_elems) = (0.0, 0u64, 0u64);
        for e in &shared {
            shared_elems += e.old.map_or(0, |t| t.numel());
            if let Some(m) = e.metrics {
                sq_old += m.norm_old * m.norm_old;
                sq_diff += m.norm_diff * m.norm_diff;
                changed_elems += m.changed;
            }
        }
        let global = if sq_old > 0.0 {
            Field::Num((sq_diff / sq_old).sqrt())
        } else if sq_diff > 0.0 {
            Field::Num(f64::INFINITY)
        } else if shared.is_empty() {
            Field::Missing("no shared tensors of equal shape".into())
        } else {
            Field::Num(0.0)
        };
        let mut ranked: Vec<(&str, f64)> = shared
            .iter()
            .filter_map(|e| e.metrics.map(|m| (e.path.as_str(), m.rel_l2)))
            .filter(|(_, r)| *r > 0.0)
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let rows = ranked
            .iter()
            .take(TOP_K)
            .map(|(p, r)| vec![("path", Field::from(*p)), ("rel_l2", Field::Num(*r))])
            .collect();
        let fraction = if shared_elems > 0 {
            Field::Percent(changed_elems as f64 / shared_elems as f64)
        } else {
            Field::Missing("no shared tensors of equal shape".into())
        };
        Finding {
            rows,
            ..Finding::default()
        }
        .field("added", count(Match::Added))
        .field("removed", count(Match::Removed))
        .field("reshaped", count(Match::Reshaped))
        .field("retyped", count(Match::Retyped))
        .field("changed", count(Match::Changed))
        .field("unchanged", count(Match::Unchanged))
        .field("parameters_old", params_old)
        .field("parameters_new", params_new)
        .field(
            "parameter_change",
            relative_change(params_old as f64, params_new as f64).map_or(
                Field::Missing("no parameters in old".into()),
                Field::Percent,
            ),
        )
        .field("elements_changed", fraction)
        .field("global_rel_l2", global)
        .field(
            "top_changes",
            Field::List(
                ranked
                    .iter()
                    .take(TOP_K)
                    .map(|(p, _)| p.to_string())
                    .collect(),
            ),
        )
    }
}
