//! `--show-structure`: whether names, shapes and dtypes all match; parameters old→new; the share
//! of shared parameters whose value changed.

use super::tensors::{entries, Match};
use super::{relative_change, Analysis, Field, Finding, Input};
use crate::tensor::format_shape;

pub struct ShowStructure;

impl Analysis for ShowStructure {
    fn name(&self) -> &'static str {
        "show_structure"
    }

    fn flag(&self) -> &'static str {
        "show-structure"
    }

    fn help(&self) -> &'static str {
        "structure unchanged or the structural differences; parameters old->new; share of parameters modified"
    }

    fn run(&self, input: &Input) -> Finding {
        let all = entries(input);
        let mut rows = Vec::new();
        let (mut params_old, mut params_new) = (0u64, 0u64);
        let (mut shared, mut modified) = (0u64, 0u64);
        for e in all {
            if e.is_parameter() {
                params_old += e.old.map_or(0, |t| t.numel());
                params_new += e.new.map_or(0, |t| t.numel());
                if matches!(e.kind, Match::Changed | Match::Unchanged) {
                    shared += e.old.map_or(0, |t| t.numel());
                    modified += e.metrics.map_or(0, |m| m.changed);
                }
            }
            let kind = match e.kind {
                Match::Added => "added",
                Match::Removed => "removed",
                Match::Reshaped => "reshaped",
                Match::Retyped => "retyped",
                Match::Changed | Match::Unchanged => continue,
            };
            let mut row = vec![
                ("path", Field::Text(e.path.clone())),
                ("change", Field::from(kind)),
            ];
            for (side, t) in [("old", e.old), ("new", e.new)] {
                if let Some(t) = t {
                    row.push((
                        side,
                        Field::Text(format!("{} {}", t.dtype, format_shape(&t.shape))),
                    ));
                }
            }
            rows.push(row);
        }
        let structure = if rows.is_empty() {
            "unchanged"
        } else {
            "changed"
        };
        let change = relative_change(params_old as f64, params_new as f64).map_or(
            Field::Missing("no parameters in old".into()),
            Field::Percent,
        );
        let updates = if shared > 0 {
            Field::Percent(modified as f64 / shared as f64)
        } else {
            Field::Missing("no shared parameters of equal shape".into())
        };
        Finding {
            rows,
            ..Finding::default()
        }
        .field("structure", structure)
        .field(
            "structural_changes",
            all.iter()
                .filter(|e| !matches!(e.kind, Match::Changed | Match::Unchanged))
                .count(),
        )
        .field("parameters_old", params_old)
        .field("parameters_new", params_new)
        .field("parameter_change", change)
        .field("weight_updates", updates)
    }
}
