//! `--low-rank-analysis` (beyond the seeds): the rank structure of each 2-D weight update
//! `d = new − old`, by randomized SVD in two streaming passes over the rows (memory O((m+n)·k),
//! never the whole matrix): the effective rank keeping 90 % and 99 % of ‖d‖², so a LoRA-style
//! fine-tune of rank r reads `rank ≈ r`.

use super::tensors::{entries, Entry, Match};
use super::{Analysis, Field, Finding, Input};
use rayon::prelude::*;

use crate::stats::visit_pair_f64;

pub struct LowRank;

/// Rank of the sketch: singular values beyond it are not resolved (an update of higher effective
/// rank reads "> 64"). 64 covers the LoRA ranks in use (4–64).
pub const SKETCH_RANK: usize = 64;
/// Extra sketch columns that make the top-`SKETCH_RANK` subspace accurate (Halko et al. 2011).
pub const OVERSAMPLING: usize = 8;
/// Seed of the Gaussian test matrix: results are the same on every run.
const SEED: u64 = 0x005e_edd1_ffa1;

impl Analysis for LowRank {
    fn name(&self) -> &'static str {
        "low_rank_analysis"
    }

    fn flag(&self) -> &'static str {
        "low-rank-analysis"
    }

    fn help(&self) -> &'static str {
        "effective rank of each 2-D weight update keeping 90%/99% of its energy (randomized SVD), LoRA-style updates read rank r"
    }

    fn run(&self, input: &Input) -> Finding {
        let all = entries(input);
        let mats: Vec<&Entry> = all
            .iter()
            .filter(|e| e.kind == Match::Changed && e.old.is_some_and(|t| t.shape.len() == 2))
            .collect();
        let results: Vec<_> = mats
            .par_iter()
            .map(|e| {
                let (o, n) = (e.old.expect("shared"), e.new.expect("shared"));
                let (m, cols) = (o.shape[0] as usize, o.shape[1] as usize);
                (m, cols, singular_values(o, n, m, cols))
            })
            .collect();
        let mut rows = Vec::new();
        let mut ranks = Vec::new();
        for (e, (m, cols, result)) in mats.iter().zip(results) {
            let mut row = vec![
                ("path", Field::Text(e.path.clone())),
                ("shape", Field::Text(format!("[{m}, {cols}]"))),
            ];
            match result {
                Ok((sv, energy)) => {
                    let r90 = effective_rank(&sv, energy, 0.90);
                    let r99 = effective_rank(&sv, energy, 0.99);
                    if let Field::Int(r) = r99 {
                        ranks.push(r);
                    }
                    row.push(("rank90", r90));
                    row.push(("rank99", r99));
                    row.push((
                        "top_singular",
                        Field::List(sv.iter().take(4).map(|s| format!("{s}")).collect()),
                    ));
                }
                Err(why) => row.push(("rank99", Field::Missing(why))),
            }
            rows.push(row);
        }
        ranks.sort();
        Finding {
            rows,
            ..Finding::default()
        }
        .field("matrices", mats.len())
        .field(
            "median_rank99",
            if ranks.is_empty() {
                Field::Missing("no changed 2-D weight of finite rank".into())
            } else {
                Field::Int(ranks[ranks.len() / 2])
            },
        )
    }
}

/// The smallest r whose top singular values hold `share` of the energy ‖d‖²; beyond the sketch,
/// "> k".
fn effective_rank(sv: &[f64], energy: f64, share: f64) -> Field {
    if energy == 0.0 {
        return Field::Int(0);
    }
    let mut acc = 0.0;
    for (i, s) in sv.iter().enumerate() {
        acc += s * s;
        if acc >= share * energy {
            return Field::Int(i as i128 + 1);
        }
    }
    Field::Text(format!("> {}", sv.len()))
}

/// Top singular values of `d = n − o` (descending) and ‖d‖², by a randomized range finder:
/// Y = dΩ (pass 1), Q = orth(Y), B = Qᵀd (pass 2), σ(B) from the eigenvalues of BBᵀ.
fn singular_values(
    o: &crate::tensor::Tensor,
    n: &crate::tensor::Tensor,
    m: usize,
    cols: usize,
) -> Result<(Vec<f64>, f64), String> {
    let k = (SKETCH_RANK + OVERSAMPLING).min(m).min(cols);
    if k == 0 {
        return Ok((Vec::new(), 0.0));
    }
    let omega = gaussian(cols * k);
    // pass 1: Y (m × k) = d Ω, and ‖d‖², a row of d at a time
    let mut y = vec![0.0; m * k];
    let mut energy = 0.0;
    each_row(o, n, m, cols, |r, d| {
        energy += d.iter().map(|x| x * x).sum::<f64>();
        let yr = &mut y[r * k..(r + 1) * k];
        for (c, &dc) in d.iter().enumerate() {
            if dc != 0.0 {
                let om = &omega[c * k..(c + 1) * k];
                yr.iter_mut().zip(om).for_each(|(acc, w)| *acc += dc * w);
            }
        }
    })?;
    let q = orthonormal_columns(&y, m, k);
    let kk = q.len();
    // pass 2: B (kk × cols) = Qᵀ d, a row of d at a time
    let mut bmat = vec![0.0; kk * cols];
    each_row(o, n, m, cols, |r, d| {
        for (j, qj) in q.iter().enumerate() {
            let w = qj[r];
            if w != 0.0 {
                let bj = &mut bmat[j * cols..(j + 1) * cols];
                bj.iter_mut().zip(d).for_each(|(acc, dc)| *acc += w * dc);
            }
        }
    })?;
    // BBᵀ (kk × kk), its eigenvalues are σ²
    let mut g = vec![0.0; kk * kk];
    for i in 0..kk {
        for j in i..kk {
            let s: f64 = (0..cols)
                .map(|c| bmat[i * cols + c] * bmat[j * cols + c])
                .sum();
            g[i * kk + j] = s;
            g[j * kk + i] = s;
        }
    }
    let mut sv: Vec<f64> = jacobi_eigenvalues(&mut g, kk)
        .into_iter()
        .map(|l| l.max(0.0).sqrt())
        .collect();
    sv.sort_by(|a, b| b.total_cmp(a));
    Ok((sv, energy))
}

/// Calls `f(row, d_row)` for each row of `d = n − o` (non-finite differences read as 0).
fn each_row(
    o: &crate::tensor::Tensor,
    n: &crate::tensor::Tensor,
    m: usize,
    cols: usize,
    mut f: impl FnMut(usize, &[f64]),
) -> Result<(), String> {
    let mut row = Vec::with_capacity(cols);
    let mut r = 0usize;
    visit_pair_f64(o, n, (m * cols) as u64, |a, b| {
        for (x, z) in a.iter().zip(b) {
            row.push(if x.is_finite() && z.is_finite() {
                z - x
            } else {
                0.0
            });
            if row.len() == cols {
                f(r, &row);
                row.clear();
                r += 1;
            }
        }
    })
}

/// Orthonormalises the columns of `y` (m × k, row-major) by modified Gram–Schmidt, twice for
/// stability; columns that vanish (the range has lower rank) are dropped. Returns the columns.
fn orthonormal_columns(y: &[f64], m: usize, k: usize) -> Vec<Vec<f64>> {
    let scale: f64 = y.iter().map(|v| v * v).sum::<f64>().sqrt();
    let mut q: Vec<Vec<f64>> = Vec::new();
    for j in 0..k {
        let mut v: Vec<f64> = (0..m).map(|r| y[r * k + j]).collect();
        for _ in 0..2 {
            for u in &q {
                let dot: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(u).for_each(|(x, a)| *x -= dot * a);
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        // A column this small relative to the sketch is numerical noise of a lower-rank range.
        if norm > 1e-12 * scale.max(f64::MIN_POSITIVE) {
            v.iter_mut().for_each(|x| *x /= norm);
            q.push(v);
        }
    }
    q
}

/// Eigenvalues of a symmetric matrix by cyclic Jacobi rotations.
fn jacobi_eigenvalues(a: &mut [f64], n: usize) -> Vec<f64> {
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        let diag: f64 = (0..n).map(|i| a[i * n + i].powi(2)).sum();
        if off <= 1e-30 * diag.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for r in 0..n {
                    let (arp, arq) = (a[r * n + p], a[r * n + q]);
                    a[r * n + p] = c * arp - s * arq;
                    a[r * n + q] = s * arp + c * arq;
                }
                for r in 0..n {
                    let (apr, aqr) = (a[p * n + r], a[q * n + r]);
                    a[p * n + r] = c * apr - s * aqr;
                    a[q * n + r] = s * apr + c * aqr;
                }
            }
        }
    }
    (0..n).map(|i| a[i * n + i]).collect()
}

/// `len` standard normal numbers from a fixed seed (xorshift64* and Box–Muller).
fn gaussian(len: usize) -> Vec<f64> {
    let mut state = SEED;
    let mut uniform = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        ((state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..len)
        .map(|_| (-2.0 * uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * uniform()).cos())
        .collect()
}
