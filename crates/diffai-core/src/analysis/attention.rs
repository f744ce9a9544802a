//! Attention analyses from the projection weights. The head count comes from `--num-heads` or
//! the inputs' metadata (`num_attention_heads`, `n_head`, `num_heads`) — never guessed.
//! Projections are found by name: `q_proj`/`k_proj`/`v_proj`/`o_proj` (also `query`/`key`/`value`
//! and `out_proj`), PyTorch's packed `in_proj_weight` `[3E, E]` split in three, GPT-2's Conv1D
//! `attn.c_attn` `[E, 3E]` and `attn.c_proj` (stored in × out) transposed first. Head h owns rows
//! `h·d … (h+1)·d` of Q (d = Q's rows / heads) and the same columns of the output projection.
//! K and V hold the same d-row heads, or fewer shared evenly (grouped-query attention, Llama 3,
//! Mistral; one for multi-query): query head h reads K/V head `h / (heads / kv_heads)`, with
//! kv_heads from K's rows — `W_K^h`, `W_V^h` below are that head's rows.
//!
//! - `--attention-analysis`: per head, the weight norm of its Q, K, V rows old and new and their
//!   relative change.
//! - `--head-importance`: per head, the proxy `‖W_O^h W_V^h‖_F` (labelled a proxy: importance
//!   proper needs data).
//! - `--attention-pattern-diff`: per head, the cosine between old and new `W_Q^hᵀ W_K^h`, the
//!   bilinear form the attention scores use (patterns themselves need inputs).

use std::borrow::Cow;
use std::collections::BTreeMap;

use rayon::prelude::*;

use super::linalg::{add_product, product, View};
use super::metadata::number;
use super::tensors::{entries, Entry};
use super::{Analysis, Field, Finding, Input, Row};
use crate::stats::{random_access, visit_f64, visit_range_f64};
use crate::tensor::Tensor;

pub struct AttentionAnalysis;
pub struct HeadImportance;
pub struct AttentionPatternDiff;

/// Largest projection read whole into memory (16 Mi elements: a 4096 × 4096 matrix, 128 MiB
/// of f64). Only GPT-2's Conv1D layout and compressed sources are read whole; a projection in
/// a file that can be read anywhere (safetensors, torch zip, .npy) is read a head at a time.
pub const MAX_PROJECTION: u64 = 16 << 20;

/// Elements of the output projection read per block while its per-head Gram matrices are
/// accumulated (1 Mi elements, 8 MiB of f64).
const O_BLOCK_ELEMS: usize = 1 << 20;

/// A projection matrix `rows × cols` in the Linear layout (out × in).
struct Matrix<'a> {
    rows: usize,
    cols: usize,
    data: Data<'a>,
}

enum Data<'a> {
    /// Read whole (a transposed Conv1D weight, a compressed source).
    Loaded(Vec<f64>),
    /// Left in the file: rows `first_row …` of the tensor, read when needed.
    InFile { t: &'a Tensor, first_row: usize },
}

impl Matrix<'_> {
    /// Rows `r0 … r0 + n`, row-major.
    fn rows(&self, r0: usize, n: usize) -> Result<Cow<'_, [f64]>, String> {
        let c = self.cols;
        match &self.data {
            Data::Loaded(m) => Ok(Cow::Borrowed(&m[r0 * c..(r0 + n) * c])),
            Data::InFile { t, first_row } => {
                let start = ((first_row + r0) * c) as u64;
                let mut v = Vec::with_capacity(n * c);
                visit_range_f64(t, start, start + (n * c) as u64, |b| v.extend_from_slice(b))?;
                Ok(Cow::Owned(v))
            }
        }
    }
}

/// The projections of one attention module, one side.
#[derive(Default)]
struct Projections<'a> {
    q: Option<Matrix<'a>>,
    k: Option<Matrix<'a>>,
    v: Option<Matrix<'a>>,
    o: Option<Matrix<'a>>,
    /// Per head h, `W_O^hᵀ W_O^h` (d × d), when the analysis needs the output projection.
    o_grams: Vec<Vec<f64>>,
    /// Query heads per K/V head: 1, or more under grouped-query attention (set with the head
    /// count, by [`fit_kv`]).
    group: usize,
    /// Why projections the file holds were left out, for the output.
    left_out: Vec<String>,
}

impl<'a> Projections<'a> {
    /// Embedding width E (columns of Q).
    fn width(&self) -> usize {
        self.q.as_ref().map_or(0, |q| q.cols)
    }

    /// Rows of Q (heads · d).
    fn query_rows(&self) -> usize {
        self.q.as_ref().map_or(0, |q| q.rows)
    }

    /// Drops what does not fit Q `[heads·d, E]`: K and V of another width, and an output
    /// projection whose columns are not Q's rows.
    fn keep_fitting(&mut self) {
        let (width, rows) = (self.width(), self.query_rows());
        for (p, why) in [
            (&mut self.k, "k not of q's width"),
            (&mut self.v, "v not of q's width"),
        ] {
            if p.as_ref().is_some_and(|m| m.cols != width || m.rows == 0) {
                *p = None;
                self.left_out.push(why.into());
            }
        }
        if self.o.as_ref().is_some_and(|o| o.cols != rows || rows == 0) {
            self.o = None;
            self.left_out.push("o: its columns are not q's rows".into());
        }
    }

    /// Query head `h`'s rows of Q, and of the K or V head it reads (`None` when the module has
    /// no such projection or it cannot be read).
    fn q_head(&self, d: usize, h: usize) -> Option<Cow<'_, [f64]>> {
        self.q.as_ref()?.rows(h * d, d).ok()
    }
    fn k_head(&self, d: usize, h: usize) -> Option<Cow<'_, [f64]>> {
        self.k.as_ref()?.rows(h / self.group.max(1) * d, d).ok()
    }
    fn v_head(&self, d: usize, h: usize) -> Option<Cow<'_, [f64]>> {
        self.v.as_ref()?.rows(h / self.group.max(1) * d, d).ok()
    }

    /// Finds one side's projections (`roles` of q, k, v, o: what the analysis reads), reading
    /// whole only what cannot be read a head at a time, and keeps what fits Q.
    fn read(sources: &[Source<'a>], roles: &[&str]) -> Projections<'a> {
        let mut p = Projections::default();
        for s in sources {
            let t = s.tensor;
            let wanted = |r: &str| roles.contains(&r) || r == "q";
            if !(wanted(s.role) || s.role == "qkv") {
                continue;
            }
            let m = match matrix(t, s.conv1d) {
                Ok(m) => m,
                Err(why) => {
                    p.left_out.push(format!("{}: {why}", s.role));
                    continue;
                }
            };
            match s.role {
                "q" => p.q = Some(m),
                "k" => p.k = Some(m),
                "v" => p.v = Some(m),
                "o" => p.o = Some(m),
                _ => {
                    // Q, K and V are three equal blocks of rows (after any transpose).
                    if !m.rows.is_multiple_of(3) {
                        p.left_out
                            .push("qkv: rows do not split into three equal blocks".into());
                        continue;
                    }
                    let (rows, cols) = (m.rows / 3, m.cols);
                    let third = |i: usize| {
                        let data = match &m.data {
                            Data::Loaded(v) => {
                                Data::Loaded(v[i * rows * cols..(i + 1) * rows * cols].to_vec())
                            }
                            Data::InFile { t, first_row } => Data::InFile {
                                t,
                                first_row: first_row + i * rows,
                            },
                        };
                        Matrix { rows, cols, data }
                    };
                    p.q = Some(third(0));
                    p.k = wanted("k").then(|| third(1));
                    p.v = wanted("v").then(|| third(2));
                }
            }
        }
        p.keep_fitting();
        p
    }

    /// `W_O^hᵀ W_O^h` of every head, from one pass over the output projection in blocks of
    /// rows (heads in parallel). Without an output projection, or when it cannot be read, none.
    fn gram_of_o(&mut self, heads: usize, d: usize) {
        let Some(o) = &self.o else { return };
        let mut grams = vec![vec![0.0; d * d]; heads];
        let step = (O_BLOCK_ELEMS / o.cols.max(1)).max(1);
        for r0 in (0..o.rows).step_by(step) {
            let n = step.min(o.rows - r0);
            let Ok(block) = o.rows(r0, n) else {
                self.o = None;
                self.left_out.push("o: not decodable".into());
                return;
            };
            grams.par_iter_mut().enumerate().for_each(|(h, g)| {
                // W_O^h: columns h·d…(h+1)·d of the block's rows.
                let wo = View {
                    data: &block[h * d..],
                    rows: n,
                    cols: d,
                    row_stride: o.cols,
                    col_stride: 1,
                };
                add_product(wo.t(), wo, g);
            });
        }
        self.o_grams = grams;
    }

    /// Whether `self` and `other` have Q of the same shape, with rows: head h of one side is
    /// head h of the other.
    fn pairs_with(&self, other: &Projections) -> bool {
        self.q.is_some()
            && self.width() > 0
            && self.query_rows() > 0
            && self.width() == other.width()
            && self.query_rows() == other.query_rows()
    }
}

/// A projection tensor of a module, not yet read.
struct Source<'a> {
    /// `q`, `k`, `v`, `o`, or `qkv` (the three packed).
    role: &'static str,
    tensor: &'a Tensor,
    /// GPT-2's Conv1D layout (in × out), transposed when read.
    conv1d: bool,
}

fn heads(input: &Input) -> Option<usize> {
    input.settings.num_heads.or_else(|| {
        ["num_attention_heads", "n_head", "num_heads"]
            .iter()
            .find_map(|k| number(input.leaves(false), k).or_else(|| number(input.leaves(true), k)))
            .filter(|h| *h >= 1.0)
            .map(|h| h as usize)
    })
}

/// A 2-D tensor as a projection in the Linear layout: left in the file when it can be read
/// a head at a time, else read whole (GPT-2's Conv1D transposed), or why it is not used.
fn matrix(t: &Tensor, conv1d: bool) -> Result<Matrix<'_>, String> {
    let [r, c] = t.shape[..] else {
        return Err("not a matrix".into());
    };
    let (rows, cols) = (r as usize, c as usize);
    let in_place = !conv1d && random_access(t) && (c * t.dtype.bits()).is_multiple_of(8);
    if in_place {
        // One row read decodes, or the projection is not used.
        let probe = cols.min(t.numel() as usize) as u64;
        visit_range_f64(t, 0, probe, |_| {}).map_err(|e| format!("not decodable ({e})"))?;
        return Ok(Matrix {
            rows,
            cols,
            data: Data::InFile { t, first_row: 0 },
        });
    }
    if t.numel() > MAX_PROJECTION {
        let why = if conv1d {
            "Conv1D layout"
        } else if !random_access(t) {
            "compressed"
        } else {
            "packed elements whose rows do not start on a byte"
        };
        return Err(format!(
            "larger than 16 Mi elements and not readable a head at a time ({why})"
        ));
    }
    let mut v = Vec::with_capacity(t.numel() as usize);
    visit_f64(t, |b| v.extend_from_slice(b)).map_err(|e| format!("not decodable ({e})"))?;
    Ok(if conv1d {
        Matrix {
            rows: cols,
            cols: rows,
            data: Data::Loaded(transpose(&v, rows, cols)),
        }
    } else {
        Matrix {
            rows,
            cols,
            data: Data::Loaded(v),
        }
    })
}

/// Attention modules (by path prefix) with their projection tensors, both sides. Nothing is
/// read here: modules are read one at a time, so memory holds one module's projections.
fn modules<'a>(all: &[Entry<'a>]) -> BTreeMap<String, [Vec<Source<'a>>; 2]> {
    let mut out: BTreeMap<String, [Vec<Source<'a>>; 2]> = BTreeMap::new();
    for e in all {
        let Some((module, name)) = e.path.strip_suffix(".weight").map_or_else(
            || {
                e.path
                    .rsplit_once('.')
                    .filter(|(_, n)| *n == "in_proj_weight")
            },
            |p| p.rsplit_once('.'),
        ) else {
            continue;
        };
        let role = match name {
            "q_proj" | "query" => "q",
            "k_proj" | "key" => "k",
            "v_proj" | "value" => "v",
            "o_proj" | "out_proj" => "o",
            "in_proj_weight" => "qkv",
            // GPT-2's Conv1D weights are stored (in, out): transposed into the Linear layout.
            "c_attn" => "qkv",
            "c_proj" if module.ends_with("attn") => "o",
            _ => continue,
        };
        let conv1d = matches!(name, "c_attn" | "c_proj");
        for (side, t) in [e.old, e.new].into_iter().enumerate() {
            if let Some(tensor) = t {
                out.entry(module.to_string()).or_default()[side].push(Source {
                    role,
                    tensor,
                    conv1d,
                });
            }
        }
    }
    out
}

/// The transpose of a row-major `rows × cols` matrix.
fn transpose(m: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut t = vec![0.0; m.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = m[r * cols + c];
        }
    }
    t
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// `X Yᵀ` of two `d × cols` row-major blocks (a `d × d` matrix).
fn gram(x: &[f64], y: &[f64], d: usize, cols: usize) -> Vec<f64> {
    let mut g = vec![0.0; d * d];
    product(View::rows(x, d, cols), View::rows(y, d, cols).t(), &mut g);
    g
}

/// `trace(A B)` of two `d × d` matrices.
fn trace_product(a: &[f64], b: &[f64], d: usize) -> f64 {
    (0..d)
        .map(|i| (0..d).map(|k| a[i * d + k] * b[k * d + i]).sum::<f64>())
        .sum()
}

/// Pairs the K and V heads of both sides with the query heads: K and V must hold the same
/// whole number of heads of `d` rows on both sides, dividing the query heads evenly (a K/V head
/// serves `heads / kv_heads` consecutive query heads: grouped-query attention, or multi-query
/// with one). What does not is dropped from both sides with the reason. Returns the K/V heads.
fn fit_kv<'a>(
    old: &mut Projections<'a>,
    new: &mut Projections<'a>,
    heads: usize,
    d: usize,
) -> Option<usize> {
    let mut kv_heads = None;
    for role in ["k", "v"] {
        let rows = |p: &Projections| {
            let m = if role == "k" { &p.k } else { &p.v };
            m.as_ref().map(|m| m.rows)
        };
        let (a, b) = (rows(old), rows(new));
        let why = match (a, b) {
            (None, _) | (_, None) => continue,
            (Some(a), Some(b)) if a != b => {
                format!("{role} not of one shape in both files")
            }
            (Some(rows), _)
                if rows < d || !rows.is_multiple_of(d) || !heads.is_multiple_of(rows / d) =>
            {
                format!("{role}: {rows} rows are not K/V heads of {d} rows shared evenly by {heads} query heads")
            }
            (Some(rows), _) if kv_heads.is_some_and(|kv| kv != rows / d) => {
                "k and v hold different head counts".to_string()
            }
            (Some(rows), _) => {
                kv_heads = Some(rows / d);
                continue;
            }
        };
        for p in [&mut *old, &mut *new] {
            if role == "k" {
                p.k = None;
            } else {
                p.v = None;
            }
            p.left_out.push(why.clone());
        }
    }
    let group = kv_heads.map_or(1, |kv| heads / kv);
    old.group = group;
    new.group = group;
    kv_heads
}

/// Runs `per_head(h, d, old, new)` over every module and head (heads in parallel), or says
/// what is missing. Modules are read one at a time.
fn each_head(
    input: &Input,
    roles: &[&str],
    per_head: impl Fn(usize, usize, &Projections, &Projections) -> Option<Row> + Sync,
) -> Finding {
    let Some(heads) = heads(input) else {
        return Finding::default().field(
            "heads",
            Field::Missing("no head count: give --num-heads or record num_attention_heads".into()),
        );
    };
    let mut rows = Vec::new();
    let mut analysed = 0usize;
    // What the files hold but these analyses could not use, per module.
    let mut left_out = Vec::new();
    // K/V head counts of the modules under grouped-query attention.
    let mut grouped = Vec::new();
    for (name, [old, new]) in &modules(entries(input)) {
        let (mut old, mut new) = (Projections::read(old, roles), Projections::read(new, roles));
        let paired = old.pairs_with(&new);
        let rows_q = old.query_rows();
        if paired && (heads == 0 || rows_q % heads != 0) {
            return Finding::default().field(
                "heads",
                Field::Missing(format!(
                    "{rows_q} query rows do not split into {heads} heads"
                )),
            );
        }
        let d = if paired { rows_q / heads } else { 0 };
        if paired {
            if let Some(kv) = fit_kv(&mut old, &mut new, heads, d) {
                if kv != heads {
                    grouped.push(kv);
                }
            }
            old.gram_of_o(heads, d);
            new.gram_of_o(heads, d);
        }
        let mut why: Vec<&str> = old
            .left_out
            .iter()
            .chain(&new.left_out)
            .map(String::as_str)
            .collect();
        why.sort_unstable();
        why.dedup();
        if !paired {
            why.insert(0, "not analysed: q not of one shape in both files");
        }
        if !why.is_empty() {
            left_out.push(format!("{name}: {}", why.join(", ")));
        }
        if !paired {
            continue;
        }
        analysed += 1;
        let per: Vec<Option<Row>> = (0..heads)
            .into_par_iter()
            .map(|h| per_head(h, d, &old, &new))
            .collect();
        for (h, row) in per.into_iter().enumerate() {
            if let Some(mut row) = row {
                row.insert(0, ("module", Field::Text(name.clone())));
                row.insert(1, ("head", Field::from(h)));
                rows.push(row);
            }
        }
    }
    let f = if analysed == 0 {
        Finding::default().field("modules", Field::Missing("no attention projections (q_proj/k_proj/v_proj/o_proj, query/key/value, in_proj_weight, c_attn) of the same shape in both files".into()))
    } else {
        Finding {
            rows,
            ..Finding::default()
        }
        .field("heads", heads)
        .field("modules", analysed)
    };
    grouped.sort_unstable();
    grouped.dedup();
    let f = match grouped[..] {
        [] => f,
        [kv] => f.field("kv_heads", kv),
        _ => f.field(
            "kv_heads",
            Field::Text(
                grouped
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ),
    };
    if left_out.is_empty() {
        f
    } else {
        f.field("left_out", Field::Text(left_out.join("; ")))
    }
}

impl Analysis for AttentionAnalysis {
    fn name(&self) -> &'static str {
        "attention_analysis"
    }
    fn flag(&self) -> &'static str {
        "attention-analysis"
    }
    fn help(&self) -> &'static str {
        "per attention head: Q/K/V weight norms old->new and relative change (head count from --num-heads or metadata)"
    }
    fn run(&self, input: &Input) -> Finding {
        each_head(input, &["q", "k", "v"], |h, d, old, new| {
            let mut row = Vec::new();
            for (name, x, y) in [
                ("q", old.q_head(d, h), new.q_head(d, h)),
                ("k", old.k_head(d, h), new.k_head(d, h)),
                ("v", old.v_head(d, h), new.v_head(d, h)),
            ] {
                let (Some(x), Some(y)) = (x, y) else { continue };
                let (x, y) = (&*x, &*y);
                let diff: Vec<f64> = x.iter().zip(y).map(|(p, q)| q - p).collect();
                let (no, nd) = (norm(x), norm(&diff));
                row.push((
                    match name {
                        "q" => "q_norm_old",
                        "k" => "k_norm_old",
                        _ => "v_norm_old",
                    },
                    Field::Num(no),
                ));
                row.push((
                    match name {
                        "q" => "q_norm_new",
                        "k" => "k_norm_new",
                        _ => "v_norm_new",
                    },
                    Field::Num(norm(y)),
                ));
                row.push((
                    match name {
                        "q" => "q_rel_l2",
                        "k" => "k_rel_l2",
                        _ => "v_rel_l2",
                    },
                    if no > 0.0 {
                        Field::Num(nd / no)
                    } else {
                        Field::Missing("zero".into())
                    },
                ));
            }
            Some(row)
        })
    }
}

impl Analysis for HeadImportance {
    fn name(&self) -> &'static str {
        "head_importance"
    }
    fn flag(&self) -> &'static str {
        "head-importance"
    }
    fn help(&self) -> &'static str {
        "per head the weight-norm proxy ||W_O^h W_V^h||_F old->new (a proxy: true importance needs data)"
    }
    fn run(&self, input: &Input) -> Finding {
        let f = each_head(input, &["v", "o"], |h, d, old, new| {
            let proxy = |p: &Projections| -> Option<f64> {
                let (wv, go) = (p.v_head(d, h)?, p.o_grams.get(h)?);
                // ‖W_O^h W_V^h‖² = trace((W_O^hᵀ W_O^h)(W_V^h W_V^hᵀ))
                let gv = gram(&wv, &wv, d, p.width());
                Some(trace_product(go, &gv, d).max(0.0).sqrt())
            };
            let (a, b) = (proxy(old)?, proxy(new)?);
            Some(vec![
                ("proxy_old", Field::Num(a)),
                ("proxy_new", Field::Num(b)),
            ])
        });
        f.field("note", "weight-norm proxy; importance proper needs data")
    }
}

impl Analysis for AttentionPatternDiff {
    fn name(&self) -> &'static str {
        "attention_pattern_diff"
    }
    fn flag(&self) -> &'static str {
        "attention-pattern-diff"
    }
    fn help(&self) -> &'static str {
        "per head the cosine between old and new W_Q^hT W_K^h (the score bilinear form; patterns need inputs)"
    }
    fn run(&self, input: &Input) -> Finding {
        let f = each_head(input, &["k"], |h, d, old, new| {
            let e = old.width();
            let (q1, k1) = (old.q_head(d, h)?, old.k_head(d, h)?);
            let (q2, k2) = (new.q_head(d, h)?, new.k_head(d, h)?);
            let (q1, k1, q2, k2) = (&*q1, &*k1, &*q2, &*k2);
            // <Q1ᵀK1, Q2ᵀK2>_F = trace((Q1 Q2ᵀ)(K2 K1ᵀ)); ‖QᵀK‖² = trace((Q Qᵀ)(K Kᵀ))
            let inner = |qa: &[f64], ka: &[f64], qb: &[f64], kb: &[f64]| {
                trace_product(&gram(qa, qb, d, e), &gram(kb, ka, d, e), d)
            };
            let (n1, n2) = (inner(q1, k1, q1, k1), inner(q2, k2, q2, k2));
            let cos = if n1 > 0.0 && n2 > 0.0 {
                Field::Num(inner(q1, k1, q2, k2) / (n1.sqrt() * n2.sqrt()))
            } else {
                Field::Missing("a zero projection".into())
            };
            Some(vec![("cosine", cos)])
        });
        f.field(
            "note",
            "compares the weights' score form; attention patterns themselves need inputs",
        )
    }
}
