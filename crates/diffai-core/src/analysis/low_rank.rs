//! `--low-rank-analysis` (beyond the seeds): the rank structure of each 2-D weight update
//! `d = new − old`, by a single-pass randomized SVD over the rows (memory O((m+n)·k), never the
//! whole matrix; rows in parallel): the effective rank keeping 90 % and 99 % of ‖d‖², so a
//! LoRA-style fine-tune of rank r reads `rank ≈ r`.

use multiversion::multiversion;
use rayon::prelude::*;

use super::linalg::{self, product, View};
use super::tensors::{entries, Entry, Match};
use super::{Analysis, Field, Finding, Input};
use crate::stats::{par_ranges, random_access, visit_pair_range_f64};
use crate::tensor::Tensor;

pub struct LowRank;

/// Rank of the sketch: singular values beyond it are not resolved (an update of higher effective
/// rank reads "> 64"). 64 covers the LoRA ranks in use (4–64).
pub const SKETCH_RANK: usize = 64;
/// Default of `--low-rank-max-elements`: 2^24 elements (64 MiB of f32 per side, one 4096 × 4096
/// matrix) sketched per run, about 0.1 s on two cores, so all the weight analyses together stay
/// near 3× a plain diff of a 1 GB model (bench). The most-changed matrix is always analysed,
/// then the next most changed while the total fits.
pub const MAX_ELEMENTS: u64 = 1 << 24;
/// Extra sketch columns that make the top-`SKETCH_RANK` subspace accurate (Halko et al. 2011).
pub const OVERSAMPLING: usize = 8;
/// Nonzeros (±1) per row of the test matrix Ω: a sparse sign map with 8 nonzeros per row finds
/// the range as well as a Gaussian one in practice (Tropp et al. 2019, §3.3), at 8 operations
/// per element instead of k.
pub const NONZEROS: usize = 8;
/// Rows of d handled together: 8 f64 fill one AVX-512 register when sketching the range, and
/// B is read and written once per 8 rows when projecting.
const TILE: usize = 8;
/// Seed of Ω: results are the same on every run.
const OMEGA_SEED: u64 = 0x005e_edd1_ffa1;
/// 2^64 / φ: spreads consecutive row and column numbers over the seeds (splitmix64's step).
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

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
        // Within the work budget, most-changed matrices first (relative L2 change, then path).
        let mut order: Vec<usize> = (0..mats.len()).collect();
        let change = |e: &Entry| e.metrics.map_or(f64::INFINITY, |m| m.rel_l2);
        order.sort_by(|&a, &b| {
            change(mats[b])
                .total_cmp(&change(mats[a]))
                .then_with(|| mats[a].path.cmp(&mats[b].path))
        });
        let limit = match input.settings.low_rank_max_elements {
            0 => u64::MAX,
            n => n,
        };
        let mut chosen = vec![false; mats.len()];
        let mut spent = 0u64;
        for (rank, i) in order.into_iter().enumerate() {
            let numel = mats[i].old.map_or(0, Tensor::numel);
            // The most-changed matrix always, so no model is left without an answer.
            if rank == 0 || spent + numel <= limit {
                spent += numel;
                chosen[i] = true;
            }
        }
        let results: Vec<_> = mats
            .par_iter()
            .zip(&chosen)
            .map(|(e, &chosen)| {
                let (o, n) = (e.old.expect("shared"), e.new.expect("shared"));
                let (m, cols) = (o.shape[0] as usize, o.shape[1] as usize);
                let result = if chosen {
                    singular_values(o, n, m, cols)
                } else {
                    Err(format!(
                        "not analysed: over the budget of {limit} elements (--low-rank-max-elements; 0 lifts it)"
                    ))
                };
                (m, cols, result)
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
        .field("analysed", chosen.iter().filter(|c| **c).count())
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

/// Top singular values of `d = n − o` (descending) and ‖d‖², by a randomized range finder
/// (Halko, Martinsson and Tropp 2011) in two passes over the rows: `Y = dΩ` with a sparse sign
/// Ω and ‖d‖² (pass 1), `Q = orth(Y)`, `B = Qᵀd` (pass 2), σ(B) from the eigenvalues of BBᵀ.
/// σ(B) never exceed σ(d) and equal them when d has rank ≤ k.
fn singular_values(
    o: &Tensor,
    n: &Tensor,
    m: usize,
    cols: usize,
) -> Result<(Vec<f64>, f64), String> {
    let k = (SKETCH_RANK + OVERSAMPLING).min(m).min(cols);
    if k == 0 {
        return Ok((Vec::new(), 0.0));
    }
    let omega = Signs::new(cols, k, OMEGA_SEED);
    let parallel = random_access(o) && random_access(n);
    // Ranges of whole tiles, long enough that adding a range's share of B (k × n) costs at most
    // a quarter of an addition per element.
    let align = ((4 * k).div_ceil(TILE) * TILE * cols) as u64;
    let numel = (m * cols) as u64;
    let rows = |start: u64, end: u64| (start as usize / cols, end as usize / cols);
    // Buffers handed from the ranges to the ordered combination and back: fresh memory would be
    // zeroed page by page by the kernel, a fifth of the time.
    let pool = Pool::default();
    let (columns, energy) = par_ranges(
        numel,
        align,
        parallel,
        (vec![vec![0.0; m]; k], 0.0),
        |start, end| {
            let (r0, r1) = rows(start, end);
            let mut y = pool.take((r1 - r0) * k);
            let mut yt = [0.0; (SKETCH_RANK + OVERSAMPLING) * TILE];
            let yt = &mut yt[..k * TILE];
            let mut transposed = vec![0.0; TILE * cols];
            let energy = with_differences(o, n, r0, r1, cols, |d| {
                for (at, tile) in d.chunks(TILE * cols).enumerate() {
                    let count = tile.len() / cols;
                    transposed.iter_mut().for_each(|v| *v = 0.0);
                    for (t, row) in tile.chunks_exact(cols).enumerate() {
                        for (c, v) in row.iter().enumerate() {
                            transposed[c * TILE + t] = *v;
                        }
                    }
                    yt.iter_mut().for_each(|v| *v = 0.0);
                    range_tile(&transposed, &omega.index, &omega.sign, yt);
                    for t in 0..count {
                        for j in 0..k {
                            y[(at * TILE + t) * k + j] = yt[j * TILE + t];
                        }
                    }
                }
                linalg::dot(d, d)
            })?;
            Ok((r0, y, energy))
        },
        |(columns, energy), (r0, part, e)| {
            for (i, row) in part.chunks_exact(k).enumerate() {
                for (column, v) in columns.iter_mut().zip(row) {
                    column[r0 + i] = *v;
                }
            }
            *energy += e;
            pool.give(part);
        },
    )?;
    let (q, _) = linalg::orthonormal_columns(columns);
    let kk = q.len();
    if kk == 0 {
        return Ok((Vec::new(), energy));
    }
    let b = par_ranges(
        numel,
        align,
        parallel,
        vec![0.0; kk * cols],
        |start, end| {
            let (r0, r1) = rows(start, end);
            // Q's rows r0..r1, row-major (rows × kk).
            let mut qr = pool.take((r1 - r0) * kk);
            for (row, r) in qr.chunks_exact_mut(kk).zip(r0..r1) {
                for (v, qj) in row.iter_mut().zip(&q) {
                    *v = qj[r];
                }
            }
            let mut b = pool.take(kk * cols);
            with_differences(o, n, r0, r1, cols, |d| {
                project(&qr, d, r1 - r0, kk, cols, &mut b)
            })?;
            pool.give(qr);
            Ok(b)
        },
        |b, part| {
            linalg::axpy(b, 1.0, &part);
            pool.give(part);
        },
    )?;
    // BBᵀ (kk × kk): its eigenvalues are σ².
    let mut g = vec![0.0; kk * kk];
    for i in 0..kk {
        for j in i..kk {
            let s = linalg::dot(&b[i * cols..(i + 1) * cols], &b[j * cols..(j + 1) * cols]);
            g[i * kk + j] = s;
            g[j * kk + i] = s;
        }
    }
    let mut sv: Vec<f64> = linalg::symmetric_eigenvalues(&mut g, kk)
        .into_iter()
        .map(|v| v.max(0.0).sqrt())
        .collect();
    sv.sort_by(|a, b| b.total_cmp(a));
    Ok((sv, energy))
}

/// Calls `f` with rows `[r0, r1)` of d, row-major, non-finite differences read as 0, in a
/// buffer each thread keeps for the next range.
fn with_differences<R>(
    o: &Tensor,
    n: &Tensor,
    r0: usize,
    r1: usize,
    cols: usize,
    f: impl FnOnce(&[f64]) -> R,
) -> Result<R, String> {
    thread_local! {
        static ROWS: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    ROWS.with_borrow_mut(|d| {
        d.clear();
        visit_pair_range_f64(o, n, (r0 * cols) as u64, (r1 * cols) as u64, |a, b| {
            d.extend(a.iter().zip(b).map(|(x, z)| {
                if x.is_finite() && z.is_finite() {
                    z - x
                } else {
                    0.0
                }
            }))
        })?;
        Ok(f(d))
    })
}

/// Zeroed `Vec<f64>`s, recycled.
#[derive(Default)]
struct Pool(std::sync::Mutex<Vec<Vec<f64>>>);

impl Pool {
    fn take(&self, len: usize) -> Vec<f64> {
        let mut v = self.0.lock().expect("pool").pop().unwrap_or_default();
        v.clear();
        v.resize(len, 0.0);
        v
    }

    fn give(&self, v: Vec<f64>) {
        self.0.lock().expect("pool").push(v);
    }
}

/// `B = Q_rᵀ D_r` for a range of `rows` rows: `qr` is rows × kk and `d` rows × cols (both
/// row-major), B is kk × cols.
fn project(qr: &[f64], d: &[f64], rows: usize, kk: usize, cols: usize, b: &mut [f64]) {
    product(View::rows(qr, rows, kk).t(), View::rows(d, rows, cols), b);
}

/// `Yᵀ_tile += Ωᵀ D_tileᵀ`: for each column c of the tile (its [`TILE`] rows side by side) and
/// each nonzero `(j, s)` of Ω's row c, `yt[j] += s · column`.
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
fn range_tile(transposed: &[f64], index: &[u32], sign: &[f64], yt: &mut [f64]) {
    let per = index.len() / (transposed.len() / TILE);
    for ((column, idx), sg) in transposed
        .chunks_exact(TILE)
        .zip(index.chunks_exact(per))
        .zip(sign.chunks_exact(per))
    {
        if column.iter().all(|v| *v == 0.0) {
            continue;
        }
        for (&j, &s) in idx.iter().zip(sg) {
            let y = &mut yt[j as usize * TILE..(j as usize + 1) * TILE];
            for t in 0..TILE {
                y[t] += s * column[t];
            }
        }
    }
}

/// A sparse sign matrix of `rows` rows, each with [`NONZEROS`] (at most `width`) entries ±1 in
/// distinct columns of `0..width`, drawn from a fixed seed.
struct Signs {
    index: Vec<u32>,
    sign: Vec<f64>,
}

impl Signs {
    fn new(rows: usize, width: usize, seed: u64) -> Signs {
        let (mut index, mut sign) = (Vec::new(), Vec::new());
        for r in 0..rows {
            for (j, s) in nonzeros(seed ^ (r as u64).wrapping_mul(GOLDEN), width) {
                index.push(j as u32);
                sign.push(s);
            }
        }
        Signs { index, sign }
    }
}

/// `min(NONZEROS, width)` distinct positions in `0..width` with random signs (splitmix64).
fn nonzeros(seed: u64, width: usize) -> impl Iterator<Item = (usize, f64)> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(GOLDEN);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let want = NONZEROS.min(width);
    let mut picked = [usize::MAX; NONZEROS];
    let mut count = 0;
    while count < want {
        let v = next();
        let j = (v >> 1) as usize % width;
        if !picked[..count].contains(&j) {
            picked[count] = j;
            count += 1;
        }
    }
    let mut signs = next();
    picked.into_iter().take(want).map(move |j| {
        let s = if signs & 1 == 1 { 1.0 } else { -1.0 };
        signs >>= 1;
        (j, s)
    })
}
