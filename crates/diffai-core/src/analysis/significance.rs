//! `--statistical-significance`: only where the metric files hold samples — a list of numbers
//! under the same path in both (per-seed scores): Welch's t-test (two-sided p-value) and Cohen's
//! d; two equally long lists of 0/1 or booleans (per-example correctness): McNemar's test with
//! continuity correction. Otherwise it says it needs samples.

use super::{Analysis, Field, Finding, Input, Row};
use crate::value::Value;

pub struct Significance;

/// Samples of one path: numbers, and whether every one is 0 or 1 (correctness).
fn samples(v: &Value) -> Vec<(String, Vec<f64>, bool)> {
    let mut out = Vec::new();
    walk(v, &mut String::new(), &mut out);
    out
}

fn walk(v: &Value, path: &mut String, out: &mut Vec<(String, Vec<f64>, bool)>) {
    match v {
        Value::Map(m) => {
            for (k, c) in m.iter() {
                let len = path.len();
                crate::value::push_key(path, k);
                walk(c, path, out);
                path.truncate(len);
            }
        }
        Value::List(items) if items.len() >= 2 => {
            let nums: Option<Vec<(f64, bool)>> = items
                .iter()
                .map(|x| match x {
                    Value::Int(i) => Some((*i as f64, *i == 0 || *i == 1)),
                    Value::Float(f) => Some((*f, false)),
                    Value::Bool(b) => Some((f64::from(u8::from(*b)), true)),
                    _ => None,
                })
                .collect();
            if let Some(n) = nums {
                let binary = n.iter().all(|(_, b)| *b);
                out.push((
                    path.clone(),
                    n.into_iter().map(|(x, _)| x).collect(),
                    binary,
                ));
            }
        }
        _ => {}
    }
}

impl Analysis for Significance {
    fn name(&self) -> &'static str {
        "statistical_significance"
    }
    fn flag(&self) -> &'static str {
        "statistical-significance"
    }
    fn help(&self) -> &'static str {
        "with per-seed or per-example samples in the --metrics files: Welch's t-test and Cohen's d, or McNemar's test"
    }
    fn run(&self, input: &Input) -> Finding {
        let (Some(o), Some(n)) = (&input.settings.metrics_old, &input.settings.metrics_new) else {
            return Finding::default().field("significance", Field::Missing("not computable: needs samples in two metric files (--metrics OLD --metrics NEW)".into()));
        };
        let (a, b) = (samples(o), samples(n));
        let mut rows: Vec<Row> = Vec::new();
        for (path, x, xb) in &a {
            let Some((_, y, yb)) = b.iter().find(|(p, _, _)| p == path) else {
                continue;
            };
            let mut row = vec![
                ("metric", Field::Text(path.clone())),
                ("n_old", Field::from(x.len())),
                ("n_new", Field::from(y.len())),
            ];
            if *xb && *yb && x.len() == y.len() {
                let b01 = x
                    .iter()
                    .zip(y)
                    .filter(|(p, q)| **p == 1.0 && **q == 0.0)
                    .count() as f64;
                let c10 = x
                    .iter()
                    .zip(y)
                    .filter(|(p, q)| **p == 0.0 && **q == 1.0)
                    .count() as f64;
                row.push(("test", Field::from("mcnemar")));
                if b01 + c10 > 0.0 {
                    let chi2 = ((b01 - c10).abs() - 1.0).max(0.0).powi(2) / (b01 + c10);
                    row.push(("statistic", Field::Num(chi2)));
                    row.push(("p_value", Field::Num(erfc((chi2 / 2.0).sqrt()))));
                } else {
                    row.push(("p_value", Field::Missing("no discordant pairs".into())));
                }
            } else {
                let (mx, vx) = mean_var(x);
                let (my, vy) = (mean_var(y).0, mean_var(y).1);
                let (nx, ny) = (x.len() as f64, y.len() as f64);
                let se2 = vx / nx + vy / ny;
                row.push(("test", Field::from("welch_t")));
                if se2 > 0.0 {
                    let t = (my - mx) / se2.sqrt();
                    let df = se2 * se2
                        / ((vx / nx).powi(2) / (nx - 1.0) + (vy / ny).powi(2) / (ny - 1.0));
                    let p = incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
                    let pooled = (((nx - 1.0) * vx + (ny - 1.0) * vy) / (nx + ny - 2.0)).sqrt();
                    row.push(("statistic", Field::Num(t)));
                    row.push(("df", Field::Num(df)));
                    row.push(("p_value", Field::Num(p)));
                    row.push((
                        "cohens_d",
                        if pooled > 0.0 {
                            Field::Num((my - mx) / pooled)
                        } else {
                            Field::Missing("no spread".into())
                        },
                    ));
                } else {
                    row.push((
                        "p_value",
                        Field::Missing("no spread in either sample".into()),
                    ));
                }
            }
            rows.push(row);
        }
        if rows.is_empty() {
            return Finding::default().field("significance", Field::Missing("not computable: needs samples (lists of numbers under the same path in both metric files)".into()));
        }
        let tested = rows.len();
        Finding {
            rows,
            ..Finding::default()
        }
        .field("tested", tested)
    }
}

/// Mean and unbiased variance.
fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    (
        m,
        x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0),
    )
}

/// Complementary error function (for the χ²₁ tail: P(χ² > x) = erfc(√(x/2))), from the
/// regularized incomplete gamma: erfc(z) = Q(1/2, z²).
fn erfc(z: f64) -> f64 {
    upper_gamma_half(z * z)
}

/// Q(1/2, x) by the continued fraction (x > 1.5) or the series.
fn upper_gamma_half(x: f64) -> f64 {
    let a = 0.5;
    let ln_gamma_a = 0.5 * std::f64::consts::PI.ln();
    if x <= 0.0 {
        return 1.0;
    }
    if x < a + 1.0 {
        let (mut sum, mut term, mut n) = (1.0 / a, 1.0 / a, a);
        for _ in 0..500 {
            n += 1.0;
            term *= x / n;
            sum += term;
            if term.abs() < sum.abs() * 1e-17 {
                break;
            }
        }
        1.0 - sum * (-x + a * x.ln() - ln_gamma_a).exp()
    } else {
        let (mut b, mut c, mut d) = (x + 1.0 - a, 1.0 / f64::MIN_POSITIVE, 1.0 / (x + 1.0 - a));
        let mut h = d;
        for i in 1..500 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            d = if d.abs() < f64::MIN_POSITIVE {
                f64::MIN_POSITIVE
            } else {
                d
            };
            c = b + an / c;
            c = if c.abs() < f64::MIN_POSITIVE {
                f64::MIN_POSITIVE
            } else {
                c
            };
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-17 {
                break;
            }
        }
        (-x + a * x.ln() - ln_gamma_a).exp() * h
    }
}

/// Regularized incomplete beta I_x(a, b), by Lentz's continued fraction.
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - incomplete_beta(b, a, 1.0 - x);
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let tiny = 1e-300;
    let (mut c, mut d) = (1.0, 1.0 - (a + b) * x / (a + 1.0));
    d = if d.abs() < tiny { tiny } else { d };
    d = 1.0 / d;
    let mut f = d;
    for m in 1..1000 {
        let m = m as f64;
        for num in [
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)),
        ] {
            d = 1.0 + num * d;
            d = if d.abs() < tiny { tiny } else { d };
            c = 1.0 + num / c;
            c = if c.abs() < tiny { tiny } else { c };
            d = 1.0 / d;
            f *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-16 {
            break;
        }
    }
    ln_front.exp() * f / a
}

/// ln Γ(x) by the Lanczos approximation (g = 7, 9 terms; ~1e-15 relative).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let s = G[1..]
        .iter()
        .enumerate()
        .fold(G[0], |s, (i, g)| s + g / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + s.ln()
}
