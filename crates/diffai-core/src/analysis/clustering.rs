//! `--clustering-change`: whether embedding rows keep their neighbourhoods. For a seeded sample
//! of rows of each embedding table, the k nearest neighbours by cosine among a seeded candidate
//! sample, old and new; the mean Jaccard overlap of the two neighbour sets (1 = the same clusters).
//! Labelled sampled and approximate: neighbours are searched among the candidates only.

use super::linalg::{dot, product, View};
use super::tensors::{entries, Entry};
use super::weights::embedding_tables;
use super::{Analysis, Field, Finding, Input};
use crate::stats::{random_access, visit_range_f64};
use crate::tensor::Tensor;

pub struct ClusteringChange;

/// Neighbours compared per row.
pub const K: usize = 10;
/// Rows whose neighbourhoods are compared, and rows searched as neighbours (seeded samples).
pub const QUERIES: usize = 256;
pub const CANDIDATES: usize = 4096;
/// Most elements of the sampled rows held in memory per side (64 Mi elements, 512 MiB of f64,
/// briefly twice while the query and candidate rows are laid out for the product):
/// the 4,352 sampled rows of tables up to 15,420 columns wide (Llama-70B's is 8,192). Only the
/// sampled rows are read, whatever the table's length.
pub const MAX_SAMPLED: u64 = 64 << 20;

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
        let tables: Vec<&Entry> = embedding_tables(all);
        let mut rows = Vec::new();
        let mut all_j = Vec::new();
        for e in &tables {
            let (o, n) = (e.old.expect("both"), e.new.expect("both"));
            // rows pair by index: a grown vocabulary compares its first rows
            let (r, c) = (o.shape[0].min(n.shape[0]) as usize, o.shape[1] as usize);
            // A table of no columns (which may count up to u64::MAX rows) has no neighbours.
            let jaccard = if c == 0 {
                Field::Missing("the table has no columns".into())
            } else if r <= K {
                Field::Missing(format!("table of {r} rows is too short for {K} neighbours"))
            } else {
                let cand = sample(r, CANDIDATES, 0x9e37_79b9);
                let queries = sample(r, QUERIES, 0x85eb_ca6b);
                // The rows read: the samples' union, in file order; `at` gives rows' places in it.
                let mut ids: Vec<usize> = cand.iter().chain(&queries).copied().collect();
                ids.sort_unstable();
                ids.dedup();
                if ids.len() as u64 * c as u64 > MAX_SAMPLED {
                    Field::Missing(format!(
                        "{} sampled rows x {c} columns exceed {MAX_SAMPLED} elements",
                        ids.len()
                    ))
                } else {
                    let at = |rows: &[usize]| -> Vec<usize> {
                        rows.iter()
                            .map(|i| ids.binary_search(i).expect("a sampled row"))
                            .collect()
                    };
                    let (cand, queries) = (at(&cand), at(&queries));
                    // One side at a time: its rows are dropped once its neighbours are known.
                    let side = |t| read_rows(t, c, &ids).map(|m| neighbours(m, c, &queries, &cand));
                    match (side(o), side(n)) {
                        (Ok(na), Ok(nb)) => {
                            let js: Vec<f64> = na
                                .iter()
                                .zip(&nb)
                                .map(|(na, nb)| {
                                    let inter = na.iter().filter(|x| nb.contains(x)).count();
                                    inter as f64 / (na.len() + nb.len() - inter).max(1) as f64
                                })
                                .collect();
                            let mean = js.iter().sum::<f64>() / js.len() as f64;
                            all_j.push(mean);
                            Field::Num(mean)
                        }
                        (Err(why), _) | (_, Err(why)) => Field::Missing(why),
                    }
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

/// Rows `ids` (sorted, distinct) of a table `cols` wide, decoded to f64 one after another:
/// each row read where it lies, or a compressed stream (or packed elements a row does not
/// start on a byte of) read once from its start, keeping those rows.
fn read_rows(t: &Tensor, cols: usize, ids: &[usize]) -> Result<Vec<f64>, String> {
    let c = cols as u64;
    let mut out = Vec::with_capacity(ids.len() * cols);
    if random_access(t) && (c * t.dtype.bits()).is_multiple_of(8) {
        for &i in ids {
            let i = i as u64;
            visit_range_f64(t, i * c, (i + 1) * c, |b| out.extend_from_slice(b))?;
        }
        return Ok(out);
    }
    streamed_rows(t, c, ids, out)
}

/// [`read_rows`] from the tensor's start, appending to `out`.
fn streamed_rows(t: &Tensor, c: u64, ids: &[usize], mut out: Vec<f64>) -> Result<Vec<f64>, String> {
    let Some(&last) = ids.last() else {
        return Ok(out);
    };
    let (mut at, mut next) = (0u64, 0usize);
    visit_range_f64(t, 0, (last as u64 + 1) * c, |b| {
        let (b0, b1) = (at, at + b.len() as u64);
        while let Some(&i) = ids.get(next) {
            let (r0, r1) = (i as u64 * c, (i as u64 + 1) * c);
            let (s, e) = (r0.max(b0), r1.min(b1));
            if s < e {
                out.extend_from_slice(&b[(s - b0) as usize..(e - b0) as usize]);
            }
            if r1 > b1 {
                break;
            }
            next += 1;
        }
        at = b1;
    })?;
    Ok(out)
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

/// For each query row, the `K` candidates most similar (cosine) to it, excluding itself, ties
/// by row. `m` holds rows `cols` wide; queries and candidates are row numbers in it. The cosines
/// are one product of the query rows with the candidate rows.
fn neighbours(m: Vec<f64>, cols: usize, queries: &[usize], cand: &[usize]) -> Vec<Vec<usize>> {
    let gather = |ids: &[usize]| -> Vec<f64> {
        ids.iter()
            .flat_map(|&i| &m[i * cols..(i + 1) * cols])
            .copied()
            .collect()
    };
    let (qm, cm) = (gather(queries), gather(cand));
    drop(m);
    let norms = |x: &[f64]| -> Vec<f64> { x.chunks(cols).map(|r| dot(r, r).sqrt()).collect() };
    let (nq, nc) = (norms(&qm), norms(&cm));
    let mut dots = vec![0.0; queries.len() * cand.len()];
    product(
        View::rows(&qm, queries.len(), cols),
        View::rows(&cm, cand.len(), cols).t(),
        &mut dots,
    );
    queries
        .iter()
        .enumerate()
        .map(|(qi, &q)| {
            let mut sims: Vec<(f64, usize)> = cand
                .iter()
                .enumerate()
                .filter(|&(_, &i)| i != q)
                .map(|(ci, &i)| {
                    let (a, b) = (nq[qi], nc[ci]);
                    let cos = if a > 0.0 && b > 0.0 {
                        dots[qi * cand.len() + ci] / (a * b)
                    } else {
                        0.0
                    };
                    (cos, i)
                })
                .collect();
            // Most similar first, ties by row: a total order, so the K selected are the K a
            // full sort would put first (only those K are sorted).
            let order =
                |a: &(f64, usize), b: &(f64, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
            if sims.len() > K {
                sims.select_nth_unstable_by(K, order);
                sims.truncate(K);
            }
            sims.sort_by(order);
            sims.into_iter().map(|(_, i)| i).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{ByteSource, DType};

    #[test]
    fn sampled_rows_read_in_place_or_streamed_are_the_rows() {
        // 5000 × 37 float32, element k = k: rows straddle the decode chunks
        let (rows, cols) = (5000u64, 37usize);
        let bytes: Vec<u8> = (0..rows * cols as u64)
            .flat_map(|k| (k as f32).to_le_bytes())
            .collect();
        let t = Tensor::dense(
            DType::F32,
            vec![rows, cols as u64],
            ByteSource::owned(bytes),
        );
        let ids = [0, 1, 7, 1771, 2048, 4999]; // row 1771 straddles element 65536
        let want: Vec<f64> = ids
            .iter()
            .flat_map(|&i| (0..cols).map(move |j| (i * cols + j) as f64))
            .collect();
        assert_eq!(read_rows(&t, cols, &ids).unwrap(), want);
        assert_eq!(
            streamed_rows(&t, cols as u64, &ids, Vec::new()).unwrap(),
            want
        );
        assert_eq!(read_rows(&t, cols, &[]).unwrap(), Vec::<f64>::new());
    }

    #[test]
    fn neighbours_are_the_most_similar_ties_by_row() {
        // 30 rows of 2 columns: rows 0..20 point along x, rows 20..30 along y. Row 25's
        // neighbours are the other y rows (cosine 1), then x rows (cosine 0) by row number;
        // row 3's are the 10 x rows of lowest number other than itself.
        let m: Vec<f64> = (0..30)
            .flat_map(|i| {
                if i < 20 {
                    [1.0 + i as f64, 0.0]
                } else {
                    [0.0, 2.0]
                }
            })
            .collect();
        let all: Vec<usize> = (0..30).collect();
        let got = neighbours(m, 2, &[25, 3], &all);
        assert_eq!(got[0], [20, 21, 22, 23, 24, 26, 27, 28, 29, 0]);
        assert_eq!(got[1], [0, 1, 2, 4, 5, 6, 7, 8, 9, 10]);
    }
}
