//! `--clustering-change`: whether embedding rows keep their neighbourhoods. For a seeded sample
//! of rows of each embedding table, the k nearest neighbours by cosine among a seeded candidate
//! sample, old and new; the mean Jaccard overlap of the two neighbour sets (1 = the same clusters).
//! Labelled sampled and approximate: neighbours are searched among the candidates only.

use super::tensors::{entries, Entry};
use super::weights::embedding_tables;
use super::{Analysis, Field, Finding, Input};
use crate::stats::visit_f64;

pub struct ClusteringChange;

/// Neighbours compared per row.
pub const K: usize = 10;
/// Rows whose neighbourhoods are compared, and rows searched as neighbours (seeded samples).
pub const QUERIES: usize = 256;
pub const CANDIDATES: usize = 4096;
/// Largest table read into memory (16 Mi elements per side).
pub const MAX_TABLE: u64 = 16 << 20;

impl Analysis for ClusteringChange {
    fn name(&self) -> &'static str {
        "clustering_change"
    }

    fn flag(&self) -> &'static str {
        "clustering-change"
    }

    fn help(&self) -> &'static str {
        "embedding rows: mean Jaccard@10 of nearest-neighbour sets old vs new over a seeded sample (approximate)"
    }

    fn run(&self, input: &Input) -> Finding {
        let all = entries(input);
        let tables: Vec<&Entry> = embedding_tables(&all);
        let mut rows = Vec::new();
        let mut all_j = Vec::new();
        for e in &tables {
            let (o, n) = (e.old.expect("both"), e.new.expect("both"));
            // rows pair by index: a grown vocabulary compares its first rows
            let (r, c) = (o.shape[0].min(n.shape[0]) as usize, o.shape[1] as usize);
            // A table of no columns (which may count up to u64::MAX rows) has no neighbours.
            let jaccard = if c == 0 {
                Field::Missing("the table has no columns".into())
            } else if o.numel() > MAX_TABLE || r <= K {
                Field::Missing(format!(
                    "table of {r} rows x {c} is outside the sampled range"
                ))
            } else {
                match (load(o), load(n)) {
                    (Some(a), Some(b)) => {
                        let cand = sample(r, CANDIDATES, 0x9e37_79b9);
                        let queries = sample(r, QUERIES, 0x85eb_ca6b);
                        let js: Vec<f64> = queries
                            .iter()
                            .map(|&q| {
                                let na = neighbours(&a, c, q, &cand);
                                let nb = neighbours(&b, c, q, &cand);
                                let inter = na.iter().filter(|x| nb.contains(x)).count();
                                inter as f64 / (na.len() + nb.len() - inter).max(1) as f64
                            })
                            .collect();
                        let mean = js.iter().sum::<f64>() / js.len() as f64;
                        all_j.push(mean);
                        Field::Num(mean)
                    }
                    _ => Field::Missing("values not decodable as real numbers".into()),
                }
            };
            rows.push(vec![
                ("table", Field::Text(e.path.clone())),
                ("jaccard_at_10", jaccard),
            ]);
        }
        if tables.is_empty() {
            return Finding::default().field(
                "tables",
                Field::Missing("no embedding table in both files with the same width".into()),
            );
        }
        Finding {
            rows,
            ..Finding::default()
        }
        .field("tables", tables.len())
        .field(
            "jaccard_at_10",
            if all_j.is_empty() {
                Field::Missing("no table sampled".into())
            } else {
                Field::Num(all_j.iter().sum::<f64>() / all_j.len() as f64)
            },
        )
        .field(
            "note",
            "sampled and approximate: 256 query rows, neighbours among 4096 seeded candidates",
        )
    }
}

fn load(t: &crate::tensor::Tensor) -> Option<Vec<f64>> {
    let mut v = Vec::with_capacity(t.numel() as usize);
    visit_f64(t, |b| v.extend_from_slice(b)).ok()?;
    Some(v)
}

/// Up to `n` distinct row ids of `rows`, in a seeded order (all rows when there are fewer).
fn sample(rows: usize, n: usize, seed: u64) -> Vec<usize> {
    if rows <= n {
        return (0..rows).collect();
    }
    // A full-period linear congruential walk over 0..rows (odd multiplier, rows a power of two
    // is not required: reject values out of range).
    let m = rows.next_power_of_two() as u64;
    let (mut x, a, inc) = (seed % m, 5u64, 2 * (seed | 1) + 1);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        x = (a.wrapping_mul(x).wrapping_add(inc)) % m;
        if (x as usize) < rows {
            out.push(x as usize);
        }
    }
    out
}

/// The `K` candidates most similar (cosine) to row `q`, excluding itself, ties by id.
fn neighbours(m: &[f64], cols: usize, q: usize, cand: &[usize]) -> Vec<usize> {
    let row = |i: usize| &m[i * cols..(i + 1) * cols];
    let nq = row(q).iter().map(|x| x * x).sum::<f64>().sqrt();
    let mut sims: Vec<(f64, usize)> = cand
        .iter()
        .filter(|&&i| i != q)
        .map(|&i| {
            let (a, b) = (row(q), row(i));
            let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
            (
                if nq > 0.0 && nb > 0.0 {
                    dot / (nq * nb)
                } else {
                    0.0
                },
                i,
            )
        })
        .collect();
    sims.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    sims.into_iter().take(K).map(|(_, i)| i).collect()
}
