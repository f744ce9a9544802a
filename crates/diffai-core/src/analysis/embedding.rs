//! `--embedding-analysis`: how far each row of an embedding table moved. Per row, the drift
//! `1 − cos(old_row, new_row)` (computed as `(‖d‖² − (‖o‖ − ‖n‖)²) / (2‖o‖‖n‖)`, which keeps
//! precision near 0): mean, p95 and max over rows, the most drifted row ids, the change of the
//! table's norm, and rows added or removed when the vocabulary changed.

use super::tensors::{entries, Entry};
use super::weights::embedding_tables;
use super::{Analysis, Field, Finding, Input};
use multiversion::multiversion;

use crate::stats::{par_ranges, random_access, visit_pair_range_f64};

pub struct Embedding;

/// Most drifted rows listed per table.
pub const TOP_ROWS: usize = 5;

impl Analysis for Embedding {
    fn name(&self) -> &'static str {
        "embedding_analysis"
    }

    fn flag(&self) -> &'static str {
        "embedding-analysis"
    }

    fn help(&self) -> &'static str {
        "per embedding row drift 1-cos (mean, p95, max, top rows), norm change, rows added/removed"
    }

    fn run(&self, input: &Input) -> Finding {
        let all = entries(input);
        let tables: Vec<&Entry> = embedding_tables(all);
        if tables.is_empty() {
            return Finding::default().field(
                "tables",
                Field::Missing("no embedding table in both files (names with embed, wte, wpe, word_embeddings, embed_tokens, or 16x more rows than columns)".into()),
            );
        }
        let mut rows = Vec::new();
        let (mut all_drift, mut top_overall): (Vec<f64>, Vec<(f64, String)>) =
            (Vec::new(), Vec::new());
        for e in &tables {
            let (o, n) = (e.old.expect("both"), e.new.expect("both"));
            let cols = o.shape[1];
            let shared_rows = o.shape[0].min(n.shape[0]);
            // Rows of no columns have no direction, and may be as many as a u64 counts (the
            // table holds no element): said, rather than a per-row buffer of that length.
            let computed = if cols == 0 {
                Err("the table has no columns".to_string())
            } else {
                drift_per_row(o, n, shared_rows, cols)
            };
            let row = match computed {
                Ok(d) => d,
                Err(why) => {
                    rows.push(vec![
                        ("table", Field::Text(e.path.clone())),
                        ("drift", Field::Missing(why)),
                    ]);
                    continue;
                }
            };
            let mut ranked: Vec<(usize, f64)> = row.drift.iter().copied().enumerate().collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let moved: Vec<String> = ranked
                .iter()
                .take_while(|(_, d)| *d > 0.0)
                .take(TOP_ROWS)
                .map(|(i, _)| i.to_string())
                .collect();
            for (i, d) in ranked.iter().take(TOP_ROWS).filter(|(_, d)| *d > 0.0) {
                top_overall.push((*d, format!("{}[{i}]", e.path)));
            }
            let (mean, p95, max) = summary(&row.drift);
            rows.push(vec![
                ("table", Field::Text(e.path.clone())),
                ("rows", Field::from(shared_rows)),
                ("rows_changed", Field::from(row.changed)),
                ("drift_mean", Field::Num(mean)),
                ("drift_p95", Field::Num(p95)),
                ("drift_max", Field::Num(max)),
                ("top_rows", Field::List(moved)),
                (
                    "norm_ratio",
                    if row.old_sq > 0.0 {
                        Field::Num((row.new_sq / row.old_sq).sqrt())
                    } else {
                        Field::Missing("zero table".into())
                    },
                ),
                (
                    "rows_added",
                    Field::from(n.shape[0].saturating_sub(o.shape[0])),
                ),
                (
                    "rows_removed",
                    Field::from(o.shape[0].saturating_sub(n.shape[0])),
                ),
            ]);
            all_drift.extend(row.drift);
        }
        top_overall.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let (mean, p95, max) = summary(&all_drift);
        Finding {
            rows,
            ..Finding::default()
        }
        .field("tables", tables.len())
        .field("drift_mean", mean)
        .field("drift_p95", p95)
        .field("drift_max", max)
        .field(
            "top_rows",
            Field::List(
                top_overall
                    .into_iter()
                    .take(TOP_ROWS)
                    .map(|(_, r)| r)
                    .collect(),
            ),
        )
    }
}

/// Per-row drift and the tables' squared norms over the shared rows.
struct RowDrift {
    drift: Vec<f64>,
    /// Rows with any element changed (a row scaled without turning has drift 0 but changed).
    changed: usize,
    old_sq: f64,
    new_sq: f64,
}

fn drift_per_row(
    o: &crate::tensor::Tensor,
    n: &crate::tensor::Tensor,
    rows: u64,
    cols: u64,
) -> Result<RowDrift, String> {
    // per row: Σo², Σn², Σ(n−o)² over the finite pairs; rows in parallel ranges.
    let parallel = random_access(o) && random_access(n);
    let acc = par_ranges(
        rows * cols,
        cols,
        parallel,
        Vec::with_capacity(rows as usize),
        |start, end| {
            let mut sums = vec![[0.0f64; 3]; ((end - start) / cols) as usize];
            if let (Some(a), Some(b)) = (f32_elements(o, start, end), f32_elements(n, start, end)) {
                // float32 straight from the bytes, a row at a time
                let c = cols as usize;
                for ((s, x), y) in sums.iter_mut().zip(a.chunks(c)).zip(b.chunks(c)) {
                    *s = squares(x, y, |e| f32::from_le_bytes(e) as f64);
                }
                return Ok(sums);
            }
            let (mut row, mut col) = (0usize, 0u64);
            visit_pair_range_f64(o, n, start, end, |mut a, mut b| {
                while !a.is_empty() {
                    // the rest of the current row within this block
                    let take = ((cols - col) as usize).min(a.len());
                    let part = squares(&a[..take], &b[..take], |v| v);
                    sums[row].iter_mut().zip(part).for_each(|(s, p)| *s += p);
                    (a, b) = (&a[take..], &b[take..]);
                    col += take as u64;
                    if col == cols {
                        (row, col) = (row + 1, 0);
                    }
                }
            })?;
            Ok(sums)
        },
        |acc: &mut Vec<[f64; 3]>, part| acc.extend(part),
    )?;
    let mut out = RowDrift {
        drift: Vec::with_capacity(rows as usize),
        changed: 0,
        old_sq: 0.0,
        new_sq: 0.0,
    };
    for [oo, nn, dd] in acc {
        out.old_sq += oo;
        out.new_sq += nn;
        out.changed += usize::from(dd > 0.0);
        let (a, b) = (oo.sqrt(), nn.sqrt());
        let drift = if a > 0.0 && b > 0.0 {
            ((dd - (a - b) * (a - b)) / (2.0 * a * b)).max(0.0)
        } else if dd > 0.0 {
            1.0 // a row that became (or was) all zero has no direction left to compare
        } else {
            0.0
        };
        out.drift.push(drift);
    }
    Ok(out)
}

/// `[Σx², Σy², Σ(y−x)²]` over the pairs where both are finite, in 8 interleaved partial sums
/// (vectorised; a fixed order, so the same on every machine). `value` decodes an element.
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
fn squares<T: Copy>(a: &[T], b: &[T], value: impl Fn(T) -> f64) -> [f64; 3] {
    let (mut xx, mut yy, mut dd) = ([0.0f64; 8], [0.0f64; 8], [0.0f64; 8]);
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = ca.remainder().iter().zip(cb.remainder());
    // Rows are nearly always all finite: checked first (a branch-free pass over data already in
    // cache), so the sums themselves need no mask and vectorise cleanly.
    let finite = a.iter().zip(b).fold(true, |ok, (x, y)| {
        ok & value(*x).is_finite() & value(*y).is_finite()
    });
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            let (x, y) = (value(x[i]), value(y[i]));
            let (x, y) = if finite || (x.is_finite() && y.is_finite()) {
                (x, y)
            } else {
                (0.0, 0.0)
            };
            xx[i] += x * x;
            yy[i] += y * y;
            dd[i] += (y - x) * (y - x);
        }
    }
    let mut out = [xx, yy, dd].map(|lanes| lanes.iter().sum::<f64>());
    for (x, y) in tail.map(|(x, y)| (value(*x), value(*y))) {
        if x.is_finite() && y.is_finite() {
            out[0] += x * x;
            out[1] += y * y;
            out[2] += (y - x) * (y - x);
        }
    }
    out
}

/// Elements `[start, end)` of a plain little-endian float32 tensor in memory, as 4-byte groups.
fn f32_elements(t: &crate::tensor::Tensor, start: u64, end: u64) -> Option<&[[u8; 4]]> {
    let plain = t.dtype == crate::tensor::DType::F32 && t.is_plain() && random_access(t);
    plain.then(|| {
        t.bytes()[start as usize * 4..end as usize * 4]
            .as_chunks::<4>()
            .0
    })
}

/// Mean, 95th percentile (nearest rank) and max.
fn summary(v: &[f64]) -> (f64, f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((0.95 * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
    (
        s.iter().sum::<f64>() / s.len() as f64,
        s[rank],
        s[s.len() - 1],
    )
}
