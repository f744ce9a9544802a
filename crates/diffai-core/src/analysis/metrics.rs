//! Analyses of metric side files (`--metrics OLD --metrics NEW`, JSON or YAML):
//! `--metric-comparison` compares their numeric leaves; `--learning-curve-analysis` reads a
//! Hugging Face `log_history` (a list of `{epoch, step, loss, eval_loss, …}` records).

use super::{Analysis, Field, Finding, Input, Row};
use crate::value::Value;

pub struct MetricComparison;
pub struct LearningCurve;

/// Points of the curve the final slope is fitted over.
pub const LAST_K: usize = 5;

fn numbers(v: &Value) -> Vec<(String, f64)> {
    v.leaves()
        .into_iter()
        .filter_map(|(p, v)| match v {
            Value::Int(i) => Some((p, *i as f64)),
            Value::Float(f) => Some((p, *f)),
            _ => None,
        })
        .collect()
}

/// `better`/`worse` from the user's lists, else the rule "loss or error: lower is better".
fn verdict(input: &Input, path: &str, delta: f64) -> Field {
    let s = input.settings;
    let has = |names: &[String]| names.iter().any(|n| path.contains(n.as_str()));
    let lower = if has(&s.higher_is_better) {
        false
    } else if has(&s.lower_is_better) || path.contains("loss") || path.contains("error") {
        true
    } else {
        return Field::Missing("direction unknown (--higher-is-better / --lower-is-better)".into());
    };
    Field::from(match (delta == 0.0, (delta < 0.0) == lower) {
        (true, _) => "same",
        (false, true) => "better",
        (false, false) => "worse",
    })
}

impl Analysis for MetricComparison {
    fn name(&self) -> &'static str {
        "metric_comparison"
    }
    fn flag(&self) -> &'static str {
        "metric-comparison"
    }
    fn help(&self) -> &'static str {
        "numeric leaves of two --metrics files: delta, relative delta, better/worse by --higher-is-better/--lower-is-better or loss/error lower"
    }
    fn run(&self, input: &Input) -> Finding {
        let (Some(o), Some(n)) = (&input.settings.metrics_old, &input.settings.metrics_new) else {
            return Finding::default().field(
                "metrics",
                Field::Missing("needs two metric files: --metrics OLD --metrics NEW".into()),
            );
        };
        let (a, b) = (numbers(o), numbers(n));
        let mut rows: Vec<Row> = Vec::new();
        let (mut better, mut worse) = (0usize, 0usize);
        for (p, x) in &a {
            let Some((_, y)) = b.iter().find(|(q, _)| q == p) else {
                continue;
            };
            let v = verdict(input, p, y - x);
            better += usize::from(v == Field::from("better"));
            worse += usize::from(v == Field::from("worse"));
            rows.push(vec![
                ("metric", Field::Text(p.clone())),
                ("old", Field::Num(*x)),
                ("new", Field::Num(*y)),
                ("delta", Field::Num(y - x)),
                (
                    "relative",
                    if *x != 0.0 {
                        Field::Percent((y - x) / x.abs())
                    } else {
                        Field::Missing("old is 0".into())
                    },
                ),
                ("verdict", v),
            ]);
        }
        let compared = rows.len();
        Finding {
            rows,
            ..Finding::default()
        }
        .field("compared", compared)
        .field("better", better)
        .field("worse", worse)
    }
}

impl Analysis for LearningCurve {
    fn name(&self) -> &'static str {
        "learning_curve_analysis"
    }
    fn flag(&self) -> &'static str {
        "learning-curve-analysis"
    }
    fn help(&self) -> &'static str {
        "from a --metrics log_history: best epoch, slope of the last 5 points, train - validation gap"
    }
    fn run(&self, input: &Input) -> Finding {
        let Some(m) = input
            .settings
            .metrics_new
            .as_ref()
            .or(input.settings.metrics_old.as_ref())
        else {
            return Finding::default().field(
                "curve",
                Field::Missing("needs a metrics file with a log_history: --metrics FILE".into()),
            );
        };
        let Some(Value::List(history)) = find(m, "log_history") else {
            return Finding::default().field(
                "curve",
                Field::Missing("the metrics file has no log_history list".into()),
            );
        };
        let get = |r: &Value, k: &str| match r {
            Value::Map(m) => match m.get(k) {
                Some(Value::Int(i)) => Some(*i as f64),
                Some(Value::Float(f)) => Some(*f),
                _ => None,
            },
            _ => None,
        };
        let x_of = |r: &Value| get(r, "step").or_else(|| get(r, "epoch"));
        let train: Vec<(f64, f64)> = history
            .iter()
            .filter_map(|r| Some((x_of(r)?, get(r, "loss")?)))
            .collect();
        let eval: Vec<(f64, f64, Option<f64>)> = history
            .iter()
            .filter_map(|r| Some((x_of(r)?, get(r, "eval_loss")?, get(r, "epoch"))))
            .collect();
        let best = eval.iter().min_by(|a, b| a.1.total_cmp(&b.1)).map_or(
            Field::Missing("no eval_loss recorded".into()),
            |(x, _, epoch)| Field::Num(epoch.unwrap_or(*x)),
        );
        let curve = if train.is_empty() {
            &eval.iter().map(|(x, y, _)| (*x, *y)).collect::<Vec<_>>()
        } else {
            &train
        };
        let slope = slope(&curve[curve.len().saturating_sub(LAST_K)..]);
        let gap = match (train.last(), eval.last()) {
            (Some(t), Some(v)) => Field::Num(v.1 - t.1),
            _ => Field::Missing("needs both loss and eval_loss".into()),
        };
        Finding::default()
            .field("points", curve.len())
            .field("best_epoch", best)
            .field(
                "last_k_slope",
                slope.map_or(Field::Missing("fewer than 2 points".into()), Field::Num),
            )
            .field("train_val_gap", gap)
    }
}

/// The first value under a key named `key`, at any depth.
fn find<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Map(m) => m
            .get(key)
            .or_else(|| m.iter().find_map(|(_, c)| find(c, key))),
        _ => None,
    }
}

/// Least-squares slope of y over x.
fn slope(p: &[(f64, f64)]) -> Option<f64> {
    if p.len() < 2 {
        return None;
    }
    let n = p.len() as f64;
    let (mx, my) = (
        p.iter().map(|q| q.0).sum::<f64>() / n,
        p.iter().map(|q| q.1).sum::<f64>() / n,
    );
    let sxx: f64 = p.iter().map(|q| (q.0 - mx).powi(2)).sum();
    let sxy: f64 = p.iter().map(|q| (q.0 - mx) * (q.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}
