//! `--show-layer-impact`: how the change splits over layers. Per layer (a tensor path minus its
//! last component): parameters, ‖d_layer‖, its share of the total squared change (shares sum
//! to 1) and `rel_l2 = ‖d_layer‖ / ‖o_layer‖`; ranked by share.

use super::tensors::{entries, layer_sums};
use super::{Analysis, Field, Finding, Input};

pub struct LayerImpact;

impl Analysis for LayerImpact {
    fn name(&self) -> &'static str {
        "show_layer_impact"
    }

    fn flag(&self) -> &'static str {
        "show-layer-impact"
    }

    fn help(&self) -> &'static str {
        "per layer: parameters, norm of the change, share of the total squared change, rel_l2; ranked"
    }

    fn run(&self, input: &Input) -> Finding {
        let all = entries(input);
        let layers: Vec<(&str, (u64, f64, f64))> = layer_sums(all)
            .into_iter()
            .map(|l| (l.layer, (l.parameters, l.diff_sq, l.old_sq)))
            .collect();
        let total: f64 = layers.iter().map(|(_, l)| l.1).sum();
        let mut ranked = layers;
        ranked.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1).then_with(|| a.0.cmp(b.0)));
        let rows = ranked
            .iter()
            .map(|(layer, (params, d2, o2))| {
                vec![
                    ("layer", Field::from(*layer)),
                    ("parameters", Field::from(*params)),
                    ("norm_diff", Field::Num(d2.sqrt())),
                    (
                        "share",
                        if total > 0.0 {
                            Field::Percent(d2 / total)
                        } else {
                            Field::Num(0.0)
                        },
                    ),
                    ("rel_l2", rel(*d2, *o2)),
                ]
            })
            .collect();
        let top = ranked.first().filter(|_| total > 0.0);
        Finding {
            rows,
            ..Finding::default()
        }
        .field("layers", ranked.len())
        .field(
            "layers_changed",
            ranked.iter().filter(|(_, l)| l.1 > 0.0).count(),
        )
        .field(
            "top_layer",
            top.map_or(Field::Missing("nothing changed".into()), |(l, _)| {
                Field::from(*l)
            }),
        )
        .field(
            "top_share",
            top.map_or(Field::Missing("nothing changed".into()), |(_, l)| {
                Field::Percent(l.1 / total)
            }),
        )
        .field(
            "top_rel_l2",
            top.map_or(Field::Missing("nothing changed".into()), |(_, l)| {
                rel(l.1, l.2)
            }),
        )
    }
}

/// `sqrt(d² / o²)`: infinite when only the change is non-zero.
fn rel(d2: f64, o2: f64) -> Field {
    if o2 > 0.0 {
        Field::Num((d2 / o2).sqrt())
    } else if d2 > 0.0 {
        Field::Num(f64::INFINITY)
    } else {
        Field::Num(0.0)
    }
}
