//! `--hyperparameter-comparison` and `--hyperparameter-impact`: the hyperparameters recorded in
//! the inputs — optimizer `param_groups` (less their `params` lists), Lightning
//! `hyper_parameters`/`hparams`, `config`, `args` — compared key by key, beside the weights' global
//! change. No causal scores: two checkpoints cannot say which setting caused what.

use super::metadata::global_rel_l2;
use super::tensors::entries;
use super::{Analysis, Field, Finding, Input};
use crate::report::Scalar;
use crate::value::Value;

pub struct HyperparameterComparison;
pub struct HyperparameterImpact;

/// Top-level or nested keys whose subtrees hold hyperparameters.
pub const HYPERPARAMETER_KEYS: &[&str] = &[
    "param_groups",
    "hyper_parameters",
    "hparams",
    "config",
    "args",
];

fn is_hyperparameter(path: &str) -> bool {
    let parts: Vec<&str> = path.split(['.', '[']).collect();
    parts.iter().any(|p| HYPERPARAMETER_KEYS.contains(p)) && !parts.contains(&"params")
}

fn scalars(leaves: &[(String, &Value)]) -> Vec<(String, Scalar)> {
    leaves
        .iter()
        .filter(|(p, v)| is_hyperparameter(p) && !matches!(v, Value::Tensor(_)))
        .filter_map(|(p, v)| Scalar::of(v).map(|s| (p.clone(), s)))
        .collect()
}

fn compare(input: &Input) -> Finding {
    let (old, new) = (scalars(input.leaves(true)), scalars(input.leaves(false)));
    if old.is_empty() && new.is_empty() {
        return Finding::default().field(
            "hyperparameters",
            Field::Missing("not recorded in either file (no param_groups, hyper_parameters, hparams, config or args)".into()),
        );
    }
    let show = |s: &Scalar| serde_json::to_string(s).unwrap_or_default();
    let mut rows = Vec::new();
    let mut changed = 0usize;
    for (p, o) in &old {
        match new.iter().find(|(q, _)| q == p) {
            Some((_, n)) if n == o => {}
            Some((_, n)) => {
                changed += 1;
                rows.push(vec![
                    ("path", Field::Text(p.clone())),
                    ("old", Field::Text(show(o))),
                    ("new", Field::Text(show(n))),
                ]);
            }
            None => {
                changed += 1;
                rows.push(vec![
                    ("path", Field::Text(p.clone())),
                    ("old", Field::Text(show(o))),
                    ("new", Field::Missing("absent".into())),
                ]);
            }
        }
    }
    for (p, n) in &new {
        if !old.iter().any(|(q, _)| q == p) {
            changed += 1;
            rows.push(vec![
                ("path", Field::Text(p.clone())),
                ("old", Field::Missing("absent".into())),
                ("new", Field::Text(show(n))),
            ]);
        }
    }
    let changed_keys: Vec<String> = rows
        .iter()
        .filter_map(|r| match &r[0].1 {
            Field::Text(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    Finding {
        rows,
        ..Finding::default()
    }
    .field("compared", old.len().max(new.len()))
    .field("changed", changed)
    .field("keys", Field::List(changed_keys))
    .field(
        "weight_rel_l2",
        global_rel_l2(entries(input))
            .map_or(Field::Missing("no shared model tensors".into()), Field::Num),
    )
}

impl Analysis for HyperparameterComparison {
    fn name(&self) -> &'static str {
        "hyperparameter_comparison"
    }
    fn flag(&self) -> &'static str {
        "hyperparameter-comparison"
    }
    fn help(&self) -> &'static str {
        "recorded hyperparameters (optimizer groups, hyper_parameters, hparams, config, args) old->new, key by key"
    }
    fn run(&self, input: &Input) -> Finding {
        compare(input)
    }
}

impl Analysis for HyperparameterImpact {
    fn name(&self) -> &'static str {
        "hyperparameter_impact"
    }
    fn flag(&self) -> &'static str {
        "hyperparameter-impact"
    }
    fn help(&self) -> &'static str {
        "the hyperparameters that changed beside the weights' global rel_l2 (no causal scores)"
    }
    fn run(&self, input: &Input) -> Finding {
        compare(input)
    }
}
