//! `--learning-rate-analysis`: the learning rates recorded in the inputs — optimizer
//! `param_groups[i].lr` and scheduler `_last_lr[i]` — old→new with their change, and the effective
//! step ‖d‖ ÷ lr (the update norm per unit of the new learning rate).

use super::metadata::{numbers, update_norm};
use super::tensors::entries;
use super::{relative_change, Analysis, Field, Finding, Input};

pub struct LearningRate;

impl Analysis for LearningRate {
    fn name(&self) -> &'static str {
        "learning_rate_analysis"
    }

    fn flag(&self) -> &'static str {
        "learning-rate-analysis"
    }

    fn help(&self) -> &'static str {
        "optimizer param-group and scheduler learning rates old->new, change %, effective step |d|/lr"
    }

    fn run(&self, input: &Input) -> Finding {
        let is_lr = |p: &str| {
            (p.contains("param_groups[") && p.ends_with(".lr")) || p.contains("_last_lr[")
        };
        let old = numbers(input.leaves(true), is_lr);
        let new = numbers(input.leaves(false), is_lr);
        if old.is_empty() && new.is_empty() {
            return Finding::default().field(
                "lr",
                Field::Missing(
                    "not recorded in either file (no optimizer param_groups or scheduler _last_lr)"
                        .into(),
                ),
            );
        }
        let mut rows = Vec::new();
        for (path, o) in &old {
            let n = new.iter().find(|(p, _)| p == path).map(|(_, v)| *v);
            rows.push(vec![
                ("path", Field::Text(path.clone())),
                ("old", Field::Num(*o)),
                (
                    "new",
                    n.map_or(Field::Missing("absent in new".into()), Field::Num),
                ),
                (
                    "change",
                    n.and_then(|n| relative_change(*o, n))
                        .map_or(Field::Missing("no ratio".into()), Field::Percent),
                ),
            ]);
        }
        let first = |v: &[(String, f64)]| {
            v.iter()
                .find(|(p, _)| p.ends_with(".lr"))
                .or(v.first())
                .map(|(_, x)| *x)
        };
        let (lr_old, lr_new) = (first(&old), first(&new));
        let step = match lr_new {
            Some(lr) if lr > 0.0 => Field::Num(update_norm(entries(input)) / lr),
            _ => Field::Missing("no positive learning rate in new".into()),
        };
        Finding {
            rows,
            ..Finding::default()
        }
        .field(
            "lr_old",
            lr_old.map_or(Field::Missing("not recorded".into()), Field::Num),
        )
        .field(
            "lr_new",
            lr_new.map_or(Field::Missing("not recorded".into()), Field::Num),
        )
        .field(
            "change",
            match (lr_old, lr_new) {
                (Some(o), Some(n)) => relative_change(o, n)
                    .map_or(Field::Missing("lr old is 0".into()), Field::Percent),
                _ => Field::Missing("not recorded in both".into()),
            },
        )
        .field("effective_step", step)
    }
}
