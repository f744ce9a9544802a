//! The statistics kernel: one fused, chunked, parallel pass per tensor (pair).
//!
//! Work is cut into fixed chunks of [`CHUNK_ELEMS`] elements over all tensors at once, so one huge
//! tensor still uses every core. Chunk boundaries never depend on the thread count and chunk
//! results merge in chunk order, so every number is bit-identical at any thread count.

pub mod decode;
pub mod fused;
pub mod kernel;

use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use serde::Serialize;

use crate::tensor::{dense_strides, ByteSource, DType, Tensor};
pub use kernel::Tolerance;
use kernel::{pair_block_complex, pair_masked, side_block, side_masked, PairAcc, SideAcc, BLOCK};

/// Elements per unit of parallel work (256 KiB of f32): large enough to amortise scheduling,
/// small enough that a single 1 GB tensor splits into thousands of pieces.
pub const CHUNK_ELEMS: u64 = 1 << 16;

/// Chunks scheduled together before their results are merged: 4096 × 64 Ki elements is 1 GiB of
/// f32 per batch, with about 2 MB of chunk results in memory.
const CHUNKS_PER_BATCH: usize = 4096;

/// Bytes per unit of parallel work when checking two tensors for byte identity.
const IDENTITY_CHUNK_BYTES: usize = 4 << 20;

/// Below this rate (bytes of input per second of work) a window is taken to have come from disk:
/// the page cache delivers 10 GB/s and more on one core, disks a few GB/s at most.
const COLD_BYTES_PER_SEC: f64 = 3e9;

/// Identity chunks compared together while the next window is read ahead: 64 × 4 MiB, 256 MiB
/// of each side, about a quarter of a second of a fast disk.
const IDENTITY_WINDOW: usize = 64;

/// Runs `work` over `items` a window of `window` at a time, in order. When a window was read
/// slower than [`COLD_BYTES_PER_SEC`] (its pages came from disk), a helper thread runs
/// `read_ahead` on the next window while the current one is worked on, so a cold file streams
/// from disk instead of being read page fault by page fault; from the page cache nothing extra
/// is done (asking the kernel about gigabytes of resident pages costs more than it saves).
/// After a cold window, `release` lets go of its pages (see [`ByteSource::release`]).
///
/// [`ByteSource::release`]: crate::tensor::ByteSource::release
fn with_read_ahead<T: Sync>(
    items: &[T],
    window: usize,
    bytes: impl Fn(&[T]) -> u64,
    read_ahead: impl Fn(&[T]) + Sync,
    release: impl Fn(&[T]),
    mut work: impl FnMut(&[T]),
) {
    let windows: Vec<&[T]> = items.chunks(window.max(1)).collect();
    let mut cold = false;
    for (k, current) in windows.iter().enumerate() {
        let started = std::time::Instant::now();
        std::thread::scope(|scope| {
            if let (true, Some(next)) = (cold, windows.get(k + 1)) {
                let read_ahead = &read_ahead;
                scope.spawn(move || read_ahead(next));
            }
            work(current);
        });
        let secs = started.elapsed().as_secs_f64();
        cold = (bytes(current) as f64) < COLD_BYTES_PER_SEC * secs;
        if cold {
            release(current);
        }
    }
}

/// Statistics of one tensor over its finite elements; NaN and Inf are counted, not folded in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideStats {
    pub numel: u64,
    pub finite: u64,
    /// Mean of the finite elements (of the modulus for complex tensors); `None` without any.
    pub mean: Option<f64>,
    /// Population standard deviation (ddof = 0) of the finite elements.
    pub std: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub nan: u64,
    pub inf: u64,
    pub zero: u64,
    /// L2 norm over the finite elements.
    pub norm: f64,
    /// For complex tensors: statistics of the real and imaginary parts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real: Option<PartStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imag: Option<PartStats>,
}

/// Mean, std, min and max of one component of a complex tensor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartStats {
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// Pairwise metrics of two same-shape tensors, over positions where both are finite
/// (`changed` counts every position, see ANALYSES.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairMetrics {
    /// Positions where both sides are finite.
    pub pairs: u64,
    pub max_abs: f64,
    pub mean_abs: Option<f64>,
    pub norm_old: f64,
    pub norm_new: f64,
    pub norm_diff: f64,
    /// `‖new-old‖ / ‖old‖`; infinite when `‖old‖ = 0 < ‖new-old‖`, 0 when both are 0.
    pub rel_l2: f64,
    pub cosine: Option<f64>,
    /// `1 - cosine`, computed as `(‖d‖² - (‖o‖-‖n‖)²) / (2‖o‖‖n‖)` to keep precision near 1.
    pub one_minus_cos: Option<f64>,
    pub changed: u64,
    /// `changed / numel`; `None` for an empty tensor.
    pub changed_fraction: Option<f64>,
}

/// What to compute for one tensor or tensor pair.
#[derive(Debug, Clone, Copy)]
pub enum Job<'a> {
    Single(&'a Tensor),
    Pair(&'a Tensor, &'a Tensor),
}

/// The result of a [`Job`]. Outcomes live briefly in one vector, so the size gap between
/// variants costs nothing worth an allocation per tensor.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Single(SideStats),
    Pair {
        old: SideStats,
        new: SideStats,
        metrics: PairMetrics,
    },
    /// The dtype cannot be decoded; the reason says why.
    Unsupported(String),
}

/// Work done so far, in bytes read, for a progress display. Each phase adds its bytes to `total`
/// when it starts, so `done <= total` always holds. Only ever added to.
#[derive(Debug, Default)]
pub struct Progress {
    pub total: AtomicU64,
    pub done: AtomicU64,
}

impl Progress {
    fn add_done(&self, bytes: u64) {
        self.done.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Accumulators of one chunk: value (or modulus), real part, imaginary part, for each side.
#[derive(Clone, Copy, Default)]
struct ChunkAcc {
    old: [SideAcc; 3],
    new: [SideAcc; 3],
    pair: PairAcc,
}

impl ChunkAcc {
    fn merge(mut self, o: &ChunkAcc) -> ChunkAcc {
        for i in 0..3 {
            self.old[i] = self.old[i].merge(o.old[i]);
            self.new[i] = self.new[i].merge(o.new[i]);
        }
        self.pair = self.pair.merge(o.pair);
        self
    }
}

/// Runs every job, in parallel over fixed chunks of all of them, and returns outcomes in order.
pub fn compute(jobs: &[Job], tol: Tolerance, progress: Option<&Progress>) -> Vec<Outcome> {
    // Jobs whose elements pair up position for position in storage order are read in storage
    // order (a column-major array is not gathered element by element into C order).
    let flat: Vec<Vec<Tensor>> = jobs.iter().map(flatten).collect();
    let jobs: Vec<Job> = jobs
        .iter()
        .zip(&flat)
        .map(|(job, flat)| match (job, flat.as_slice()) {
            (Job::Single(_), [t]) => Job::Single(t),
            (Job::Pair(..), [o, n]) => Job::Pair(o, n),
            _ => *job,
        })
        .collect();
    let jobs = jobs.as_slice();
    let unsupported: Vec<Option<String>> = jobs.iter().map(|j| unsupported_reason(j)).collect();
    if let Some(p) = progress {
        let bytes: u64 = jobs
            .iter()
            .map(|j| match j {
                Job::Single(t) => t.byte_len(),
                Job::Pair(o, n) => o.byte_len() + n.byte_len(),
            })
            .sum();
        p.total.fetch_add(bytes, Ordering::Relaxed);
    }
    // Chunks are produced and merged a batch at a time, in order: memory stays bounded however
    // large the model, and the merge order (hence every bit of the result) never depends on
    // which thread ran what.
    let mut merged: Vec<ChunkAcc> = vec![ChunkAcc::default(); jobs.len()];
    let mut unsupported = unsupported;
    let mut streamed_acc = Vec::new();
    let mut chunks: Vec<(usize, u64, u64)> = Vec::new();
    for (j, job) in jobs.iter().enumerate() {
        if unsupported[j].is_some() {
            continue;
        }
        if !flat[j].is_empty() && job_tensors(job).any(|t| t.source.as_deflated().is_some()) {
            streamed_acc.push((j, streamed(job, tol, progress)));
            continue;
        }
        let numel = job_numel(job);
        // (an empty tensor is one empty chunk)
        chunks.extend(
            (0..numel.max(1))
                .step_by(CHUNK_ELEMS as usize)
                .map(|start| (j, start.min(numel), (start + CHUNK_ELEMS).min(numel))),
        );
    }
    // In the order of the bytes in memory, so each file is read front to back (a tensor's chunks
    // keep their order, so the merge order does not change); the next batch's bytes are read
    // ahead while one batch is computed.
    chunks.sort_by_key(|&(j, start, _)| {
        let t = job_tensors(&jobs[j]).next().expect("a job has a tensor");
        t.source.address().map_or(usize::MAX, |a| {
            a.saturating_add((start * t.dtype.bits() / 8) as usize)
        })
    });
    // Calls `f` with each plain tensor's source and byte range (start, length) in `batch`.
    let ranges = |batch: &[(usize, u64, u64)], f: &dyn Fn(&ByteSource, usize, usize)| {
        for &(j, start, end) in batch {
            for t in job_tensors(&jobs[j]).filter(|t| t.is_plain()) {
                let bits = t.dtype.bits();
                let from = (start * bits / 8) as usize;
                f(&t.source, from, ((end * bits).div_ceil(8)) as usize - from);
            }
        }
    };
    let read_ahead =
        |batch: &[(usize, u64, u64)]| ranges(batch, &|s, from, len| s.will_need(from, len));
    let release = |batch: &[(usize, u64, u64)]| ranges(batch, &|s, from, len| s.release(from, len));
    let bytes = |batch: &[(usize, u64, u64)]| -> u64 {
        batch
            .iter()
            .map(|&(j, s, e)| chunk_bytes(&jobs[j], s, e))
            .sum()
    };
    with_read_ahead(
        &chunks,
        CHUNKS_PER_BATCH,
        bytes,
        read_ahead,
        release,
        |batch| {
            let results: Vec<ChunkAcc> = batch
                .par_iter()
                .map(|&(j, start, end)| {
                    let acc = chunk(&jobs[j], start, end, tol);
                    if let Some(p) = progress {
                        p.add_done(chunk_bytes(&jobs[j], start, end));
                    }
                    acc
                })
                .collect();
            for (&(j, _, _), acc) in batch.iter().zip(&results) {
                merged[j] = merged[j].merge(acc);
            }
        },
    );
    for (j, result) in streamed_acc {
        match result {
            Ok(acc) => merged[j] = acc,
            Err(e) => unsupported[j] = Some(e),
        }
    }
    jobs.iter()
        .zip(merged)
        .zip(unsupported)
        .map(|((job, acc), why)| match (why, job) {
            (Some(reason), _) => Outcome::Unsupported(reason),
            (None, Job::Single(t)) => Outcome::Single(finish_side(&acc.old, t)),
            (None, Job::Pair(o, n)) => Outcome::Pair {
                old: finish_side(&acc.old, o),
                new: finish_side(&acc.new, n),
                metrics: finish_pair(&acc.pair, o.numel()),
            },
        })
        .collect()
}

/// Whether each pair of tensors holds exactly the same elements, judged by their stored bytes
/// (checked in parallel chunks). Views compare equal only with views of the same layout.
pub fn identical(pairs: &[(&Tensor, &Tensor)], progress: Option<&Progress>) -> Vec<bool> {
    let comparable = |o: &Tensor, n: &Tensor| {
        o.dtype == n.dtype
            && o.shape == n.shape
            && o.strides == n.strides
            && o.big_endian == n.big_endian
            && o.source.len() == n.source.len()
    };
    let mut out: Vec<bool> = pairs.iter().map(|(o, n)| comparable(o, n)).collect();
    let compressed = |i: usize| {
        let (o, n) = pairs[i];
        o.source.as_deflated().is_some() || n.source.as_deflated().is_some()
    };
    // Compressed pairs are compared window by window (their own parallelism is across pairs).
    let streamed: Vec<usize> = (0..pairs.len())
        .filter(|&i| out[i] && compressed(i))
        .collect();
    let results: Vec<bool> = streamed
        .par_iter()
        .map(|&i| same_stream(pairs[i].0, pairs[i].1, progress))
        .collect();
    for (&i, same) in streamed.iter().zip(results) {
        out[i] = same;
    }
    let mut items = Vec::new();
    for (i, (o, n)) in pairs.iter().enumerate() {
        if !comparable(o, n) || compressed(i) {
            continue;
        }
        let len = o.source.len();
        let mut start = 0;
        while start < len {
            let end = (start + IDENTITY_CHUNK_BYTES).min(len);
            items.push((i, start, end));
            start = end;
        }
    }
    // File order (see `compute`).
    items.sort_by_key(|&(i, s, _)| pairs[i].0.source.address().map_or(usize::MAX, |a| a + s));
    if let Some(p) = progress {
        let bytes: usize = items.iter().map(|(_, s, e)| 2 * (e - s)).sum();
        p.total.fetch_add(bytes as u64, Ordering::Relaxed);
    }
    // A pair found to differ is not read further: its values are read once more by the
    // statistics anyway, and on a model larger than RAM every byte read twice is read from disk.
    let differs: Vec<std::sync::atomic::AtomicBool> = (0..pairs.len())
        .map(|_| std::sync::atomic::AtomicBool::new(false))
        .collect();
    let mut same: Vec<bool> = Vec::with_capacity(items.len());
    let read_ahead = |window: &[(usize, usize, usize)]| {
        for &(i, s, e) in window {
            if !differs[i].load(Ordering::Relaxed) {
                pairs[i].0.source.will_need(s, e - s);
                pairs[i].1.source.will_need(s, e - s);
            }
        }
    };
    let bytes = |window: &[(usize, usize, usize)]| -> u64 {
        window.iter().map(|&(_, s, e)| 2 * (e - s) as u64).sum()
    };
    let release = |window: &[(usize, usize, usize)]| {
        for &(i, s, e) in window {
            pairs[i].0.source.release(s, e - s);
            pairs[i].1.source.release(s, e - s);
        }
    };
    with_read_ahead(
        &items,
        IDENTITY_WINDOW,
        bytes,
        read_ahead,
        release,
        |window| {
            same.par_extend(window.par_iter().map(|&(i, s, e)| {
                let (o, n) = pairs[i];
                let eq = !differs[i].load(Ordering::Relaxed) && o.bytes()[s..e] == n.bytes()[s..e];
                if !eq {
                    differs[i].store(true, Ordering::Relaxed);
                }
                if let Some(p) = progress {
                    p.add_done(2 * (e - s) as u64);
                }
                eq
            }));
        },
    );
    for (&(i, _, _), eq) in items.iter().zip(same) {
        out[i] &= eq;
    }
    out
}

/// Whether two tensors of which at least one is compressed hold the same bytes: at once when
/// their checksums differ or they are the same part of the same compressed bytes, else by
/// inflating both window by window up to the first difference.
fn same_stream(o: &Tensor, n: &Tensor, progress: Option<&Progress>) -> bool {
    if let (Some(a), Some(b)) = (o.source.as_deflated(), n.source.as_deflated()) {
        if let Some(known) = a.known_equal(b) {
            return known;
        }
    }
    let len = o.source.len() as u64;
    if let Some(p) = progress {
        p.total.fetch_add(2 * len, Ordering::Relaxed);
    }
    let (mut wo, mut wn) = (
        o.source.windows(IDENTITY_CHUNK_BYTES),
        n.source.windows(IDENTITY_CHUNK_BYTES),
    );
    loop {
        let (a, b) = rayon::join(|| wo.next_window(), || wn.next_window());
        match (a, b) {
            (Ok(Some(a)), Ok(Some(b))) => {
                if let Some(p) = progress {
                    p.add_done(2 * a.len() as u64);
                }
                if a.bytes() != b.bytes() {
                    return false;
                }
            }
            (Ok(None), Ok(None)) => return true,
            // A stream that fails now changed on disk since it was read: not the same.
            _ => return false,
        }
    }
}

/// Elements per window when a job reads a compressed tensor: 16 chunks, at most 16 MiB of
/// complex128 per side in memory at once.
const WINDOW_ELEMS: u64 = 16 * CHUNK_ELEMS;

/// A job over compressed tensors: windows inflated in order (the next pair of windows while the
/// current one is computed), each window's chunks in parallel, merged in order — the same chunk
/// boundaries and merge order as an uncompressed tensor, so the same bits.
fn streamed(job: &Job, tol: Tolerance, progress: Option<&Progress>) -> Result<ChunkAcc, String> {
    let tensors: Vec<&Tensor> = job_tensors(job).collect();
    let window_bytes = |t: &Tensor| (WINDOW_ELEMS * t.dtype.bits() / 8) as usize;
    let mut readers: Vec<_> = tensors
        .iter()
        .map(|t| t.source.windows(window_bytes(t)))
        .collect();
    let numel = job_numel(job);
    let next =
        |readers: &mut Vec<crate::tensor::SourceWindows>| -> Result<Vec<ByteSource>, String> {
            let got: Vec<_> = readers.par_iter_mut().map(|r| r.next_window()).collect();
            got.into_iter()
                .map(|w| w?.ok_or_else(|| "compressed data ended early".to_string()))
                .collect()
        };
    let mut acc = ChunkAcc::default();
    let mut start = 0;
    let mut current = if numel > 0 {
        Some(next(&mut readers)?)
    } else {
        None
    };
    while let Some(windows) = current.take() {
        let end = (start + WINDOW_ELEMS).min(numel);
        let part: Vec<Tensor> = tensors
            .iter()
            .zip(windows)
            .map(|(t, w)| Tensor {
                shape: vec![end - start],
                source: w,
                ..(*t).clone()
            })
            .collect();
        let window_job = match part.as_slice() {
            [t] => Job::Single(t),
            [o, n] => Job::Pair(o, n),
            _ => unreachable!("a job has one or two tensors"),
        };
        let (following, results) = rayon::join(
            || (end < numel).then(|| next(&mut readers)).transpose(),
            || {
                let chunks: Vec<(u64, u64)> = (0..end - start)
                    .step_by(CHUNK_ELEMS as usize)
                    .map(|s| (s, (s + CHUNK_ELEMS).min(end - start)))
                    .collect();
                chunks
                    .par_iter()
                    .map(|&(s, e)| {
                        let acc = chunk(&window_job, s, e, tol);
                        if let Some(p) = progress {
                            p.add_done(chunk_bytes(&window_job, s, e));
                        }
                        acc
                    })
                    .collect::<Vec<ChunkAcc>>()
            },
        );
        for r in &results {
            acc = acc.merge(r);
        }
        current = following?;
        start = end;
    }
    Ok(acc)
}

/// The job's tensors as flat dense vectors when its elements can be read in storage order:
/// a tensor dense in some order of its dimensions, paired (if at all) with one of the same
/// layout. Empty when they cannot.
fn flatten(job: &Job) -> Vec<Tensor> {
    let layout_free = |t: &Tensor| match &t.strides {
        None => true,
        Some(s) => is_dense_permutation(&t.shape, s),
    };
    let ok = match job {
        Job::Single(t) => layout_free(t),
        Job::Pair(o, n) => o.strides == n.strides && o.shape == n.shape && layout_free(o),
    };
    if !ok {
        return Vec::new();
    }
    job_tensors(job)
        .map(|t| Tensor {
            shape: vec![t.numel()],
            strides: None,
            ..t.clone()
        })
        .collect()
}

/// Whether element `strides` lay `shape` out densely, dimensions in some order (C order,
/// column-major, any permutation).
fn is_dense_permutation(shape: &[u64], strides: &[u64]) -> bool {
    let mut dims: Vec<(u64, u64)> = shape
        .iter()
        .zip(strides)
        .filter(|(&d, _)| d != 1)
        .map(|(&d, &s)| (s, d))
        .collect();
    dims.sort_unstable();
    let mut expect = 1u64;
    for (s, d) in dims {
        if s != expect {
            return false;
        }
        expect = match expect.checked_mul(d) {
            Some(e) => e,
            None => return false,
        };
    }
    true
}

fn job_tensors<'a>(job: &Job<'a>) -> impl Iterator<Item = &'a Tensor> {
    let (a, b) = match *job {
        Job::Single(t) => (t, None),
        Job::Pair(o, n) => (o, Some(n)),
    };
    std::iter::once(a).chain(b)
}

fn unsupported_reason(job: &Job) -> Option<String> {
    let (a, b) = match job {
        Job::Single(t) => (t.dtype, t.dtype),
        Job::Pair(o, n) => {
            if o.shape != n.shape {
                return Some("shapes differ: pairwise metrics need equal shapes".into());
            }
            (o.dtype, n.dtype)
        }
    };
    a.undecodable_reason().or(b.undecodable_reason()).map(|r| {
        format!(
            "{}: {r}",
            if a.undecodable_reason().is_some() {
                a
            } else {
                b
            }
        )
    })
}

fn job_numel(job: &Job) -> u64 {
    match job {
        Job::Single(t) | Job::Pair(t, _) => t.numel(),
    }
}

fn chunk_bytes(job: &Job, start: u64, end: u64) -> u64 {
    let bytes = |t: &Tensor| ((end - start) * t.dtype.bits()).div_ceil(8);
    match job {
        Job::Single(t) => bytes(t),
        Job::Pair(o, n) => bytes(o) + bytes(n),
    }
}

/// Calls `f` with the elements of a real tensor decoded to f64, in C order, up to
/// [`CHUNK_ELEMS`] at a time (a compressed source is read window by window). Complex and
/// undecodable dtypes are refused with the reason.
pub fn visit_f64(t: &Tensor, f: impl FnMut(&[f64])) -> Result<(), String> {
    visit_range_f64(t, 0, t.numel(), f)
}

/// [`visit_f64`] over the elements `[start, end)` only. A start past 0 needs random access
/// (see [`random_access`]) and, for packed sub-byte types, a whole byte (a multiple of 8
/// elements).
pub fn visit_range_f64(
    t: &Tensor,
    start: u64,
    end: u64,
    mut f: impl FnMut(&[f64]),
) -> Result<(), String> {
    let mut blocks = Blocks::new(t, start, end)?;
    while let Some(b) = blocks.next_block()? {
        f(b);
    }
    Ok(())
}

/// Calls `f` with aligned blocks of the first `numel` elements of two real tensors, decoded to
/// f64 in C order (the same element indices in both blocks).
pub fn visit_pair_f64(
    o: &Tensor,
    n: &Tensor,
    numel: u64,
    f: impl FnMut(&[f64], &[f64]),
) -> Result<(), String> {
    visit_pair_range_f64(o, n, 0, numel, f)
}

/// [`visit_pair_f64`] over the elements `[start, end)` (the conditions of [`visit_range_f64`]).
pub fn visit_pair_range_f64(
    o: &Tensor,
    n: &Tensor,
    start: u64,
    end: u64,
    mut f: impl FnMut(&[f64], &[f64]),
) -> Result<(), String> {
    let (mut a, mut b) = (Blocks::new(o, start, end)?, Blocks::new(n, start, end)?);
    loop {
        match (a.next_block()?, b.next_block()?) {
            (Some(x), Some(y)) => f(x, y),
            (None, None) => return Ok(()),
            _ => return Err("the tensors ended at different elements".into()),
        }
    }
}

/// Whether a tensor's elements can be read from any index: not a compressed stream, which is
/// read from its start.
pub fn random_access(t: &Tensor) -> bool {
    t.source.as_deflated().is_none()
}

/// Elements per range of [`par_ranges`] (16 chunks): a few milliseconds of work, so a large
/// tensor spreads over every core while the per-range results stay few.
pub const RANGE_ELEMS: u64 = 16 * CHUNK_ELEMS;

/// Splits `[0, numel)` into ranges of [`RANGE_ELEMS`] elements rounded up to a multiple of
/// `align` (a row, a byte of packed elements), computes `map(start, end)` for them in parallel
/// when `parallel` (else one range), and folds the results into `acc` with `combine` in range
/// order. Ranges never depend on the thread count and are combined in order, so the result is
/// bit-identical at any thread count; at most a few ranges' results are held at once.
pub fn par_ranges<A: Send, R>(
    numel: u64,
    align: u64,
    parallel: bool,
    mut acc: R,
    map: impl Fn(u64, u64) -> Result<A, String> + Sync,
    mut combine: impl FnMut(&mut R, A),
) -> Result<R, String> {
    let align = align.max(1);
    let len = if parallel {
        RANGE_ELEMS.div_ceil(align) * align
    } else {
        numel.max(1)
    };
    let starts: Vec<u64> = (0..numel).step_by(len as usize).collect();
    let wave = 2 * rayon::current_num_threads();
    for group in starts.chunks(wave) {
        let results: Vec<Result<A, String>> = group
            .par_iter()
            .map(|&s| map(s, (s + len).min(numel)))
            .collect();
        for r in results {
            combine(&mut acc, r?);
        }
    }
    Ok(acc)
}

/// How many elements of a real tensor satisfy `pred` (decoded to f64), counted in parallel
/// ranges.
pub fn count_f64(t: &Tensor, pred: impl Fn(f64) -> bool + Sync) -> Result<u64, String> {
    par_ranges(
        t.numel(),
        8,
        random_access(t),
        0u64,
        |start, end| {
            if t.dtype == DType::F32 && t.is_plain() && random_access(t) {
                // Straight from the bytes: half the memory traffic of decoding into a buffer.
                let bytes = &t.bytes()[start as usize * 4..end as usize * 4];
                return Ok(count_f32(bytes, &pred));
            }
            let mut count = 0;
            visit_range_f64(t, start, end, |b| {
                count += b.iter().filter(|v| pred(**v)).count() as u64
            })?;
            Ok(count)
        },
        |acc, c| *acc += c,
    )
}

#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn count_f32(bytes: &[u8], pred: &(impl Fn(f64) -> bool + Sync)) -> u64 {
    bytes
        .chunks_exact(4)
        .filter(|b| pred(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64))
        .count() as u64
}

thread_local! {
    /// Decode buffers of finished [`Blocks`], kept for the next on this thread: the analyses
    /// visit thousands of ranges, and fresh 512 KiB buffers would be zeroed by the kernel page by
    /// page each time (a fifth of their run time on the 1 GB benchmark).
    static SPARE_BLOCKS: std::cell::RefCell<Vec<Vec<f64>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Buffers kept per thread: a pair visit holds two at once.
const SPARE_BLOCKS_MAX: usize = 2;

impl Drop for Blocks<'_> {
    fn drop(&mut self) {
        let out = std::mem::take(&mut self.out);
        SPARE_BLOCKS.with_borrow_mut(|spare| {
            if spare.len() < SPARE_BLOCKS_MAX {
                spare.push(out);
            }
        });
    }
}

/// Successive blocks of up to [`CHUNK_ELEMS`] elements of a real tensor, decoded to f64.
struct Blocks<'a> {
    t: &'a Tensor,
    numel: u64,
    start: u64,
    out: Vec<f64>,
    scratch: Vec<u8>,
    /// Plain tensors read their source in windows (a compressed one inflates as it goes).
    windows: Option<crate::tensor::SourceWindows<'a>>,
}

impl<'a> Blocks<'a> {
    fn new(t: &'a Tensor, start: u64, end: u64) -> Result<Blocks<'a>, String> {
        if let Some(why) = t.dtype.undecodable_reason() {
            return Err(format!("{}: {why}", t.dtype));
        }
        if t.dtype.is_complex() {
            return Err(format!("{} values are complex", t.dtype));
        }
        if start > 0 && !random_access(t) {
            return Err("compressed data is read from its start".into());
        }
        if !(start * t.dtype.bits()).is_multiple_of(8) {
            return Err(format!("element {start} does not start a byte"));
        }
        let window = (CHUNK_ELEMS * t.dtype.bits() / 8) as usize;
        Ok(Blocks {
            t,
            numel: end.min(t.numel()),
            start,
            out: SPARE_BLOCKS
                .with_borrow_mut(Vec::pop)
                .unwrap_or_else(|| vec![0.0; CHUNK_ELEMS as usize]),
            scratch: Vec::new(),
            windows: (t.is_plain() && start == 0).then(|| t.source.windows(window)),
        })
    }

    fn next_block(&mut self) -> Result<Option<&[f64]>, String> {
        if self.start >= self.numel {
            return Ok(None);
        }
        let end = (self.start + CHUNK_ELEMS).min(self.numel);
        let n = (end - self.start) as usize;
        let dtype = self.t.dtype;
        match &mut self.windows {
            Some(w) => {
                let Some(bytes) = w.next_window()? else {
                    return Err("the data ended early".into());
                };
                let len = (n as u64 * dtype.bits()).div_ceil(8) as usize;
                decode::decode(dtype, &bytes.bytes()[..len], &mut self.out[..n]);
            }
            None => {
                let bytes = elem_bytes(self.t, self.start, end, &mut self.scratch);
                decode::decode(dtype, bytes, &mut self.out[..n]);
            }
        }
        self.start = end;
        Ok(Some(&self.out[..n]))
    }
}

/// Bytes holding elements `[start, end)` in dense little-endian order: a slice of the source
/// when the tensor is plain, else gathered (and byte-swapped) into `scratch`. Chunks and blocks
/// start at multiples of 1024 elements, so a packed sub-byte element never straddles the start.
fn elem_bytes<'a>(t: &'a Tensor, start: u64, end: u64, scratch: &'a mut Vec<u8>) -> &'a [u8] {
    let bits = t.dtype.bits();
    if t.is_plain() {
        return &t.bytes()[(start * bits / 8) as usize..(end * bits).div_ceil(8) as usize];
    }
    let size = (bits / 8) as usize;
    // A big-endian complex element swaps each of its two parts.
    let swap = if t.dtype.is_complex() { size / 2 } else { size };
    let dense: Vec<u64>;
    let strides = match &t.strides {
        Some(s) => s,
        None => {
            dense = dense_strides(&t.shape);
            &dense
        }
    };
    scratch.clear();
    if start >= end {
        return scratch;
    }
    scratch.reserve(((end - start) as usize).saturating_mul(size));
    let src = t.bytes();
    // Rows of the innermost dimension (a scalar is one row of one element) are gathered whole;
    // the C-order index of the outer dimensions is stepped once per row (carrying outwards),
    // the offset of the row's first element kept beside it. The offset wraps back (wrapping
    // arithmetic) when a dimension restarts, so it is exact for every element the tensor holds
    // whatever the strides.
    let outer = t.shape.len().saturating_sub(1);
    let (inner, step) = match (t.shape.last(), strides.last()) {
        (Some(&n), Some(&s)) => (n, s),
        _ => (1, 0),
    };
    let mut j = start % inner;
    let mut rest = start / inner;
    let mut index = vec![0u64; outer];
    let mut row = 0u64;
    for d in (0..outer).rev() {
        index[d] = rest % t.shape[d];
        rest /= t.shape[d];
        row = row.wrapping_add(index[d].wrapping_mul(strides[d]));
    }
    let mut i = start;
    while i < end {
        let run = (inner - j).min(end - i);
        gather(
            src,
            row.wrapping_add(j.wrapping_mul(step)),
            step,
            run,
            size,
            scratch,
        );
        (i, j) = (i + run, j + run);
        if j < inner {
            continue;
        }
        j = 0;
        for d in (0..outer).rev() {
            index[d] += 1;
            row = row.wrapping_add(strides[d]);
            if index[d] < t.shape[d] {
                break;
            }
            row = row.wrapping_sub(strides[d].wrapping_mul(t.shape[d]));
            index[d] = 0;
        }
    }
    if t.big_endian && swap > 1 {
        scratch.chunks_exact_mut(swap).for_each(<[u8]>::reverse);
    }
    scratch
}

/// Appends `run` elements of `size` bytes, `step` elements apart from element `first` of `src`:
/// one copy when they are adjacent, else element by element, the common sizes as fixed-size
/// copies.
fn gather(src: &[u8], first: u64, step: u64, run: u64, size: usize, out: &mut Vec<u8>) {
    if step == 1 {
        let at = first as usize * size;
        out.extend_from_slice(&src[at..at + run as usize * size]);
        return;
    }
    match size {
        2 => gather_n::<2>(src, first, step, run, out),
        4 => gather_n::<4>(src, first, step, run, out),
        8 => gather_n::<8>(src, first, step, run, out),
        16 => gather_n::<16>(src, first, step, run, out),
        _ => {
            let mut e = first;
            for _ in 0..run {
                let at = e as usize * size;
                out.extend_from_slice(&src[at..at + size]);
                e = e.wrapping_add(step);
            }
        }
    }
}

fn gather_n<const N: usize>(src: &[u8], first: u64, step: u64, run: u64, out: &mut Vec<u8>) {
    let mut e = first;
    for _ in 0..run {
        let at = e as usize * N;
        let bytes: [u8; N] = src[at..at + N].try_into().expect("N bytes");
        out.extend_from_slice(&bytes);
        e = e.wrapping_add(step);
    }
}

/// Decoded blocks, reused across the blocks of one chunk.
struct Buffers {
    o: [f64; BLOCK],
    n: [f64; BLOCK],
    oi: [f64; BLOCK],
    ni: [f64; BLOCK],
    om: [f64; BLOCK],
    nm: [f64; BLOCK],
}

fn chunk(job: &Job, start: u64, end: u64, tol: Tolerance) -> ChunkAcc {
    let mut acc = ChunkAcc::default();
    let mut buf = Box::new(Buffers {
        o: [0.0; BLOCK],
        n: [0.0; BLOCK],
        oi: [0.0; BLOCK],
        ni: [0.0; BLOCK],
        om: [0.0; BLOCK],
        nm: [0.0; BLOCK],
    });
    let complex = match job {
        Job::Single(t) => t.dtype.is_complex(),
        Job::Pair(o, n) => o.dtype.is_complex() || n.dtype.is_complex(),
    };
    let (mut scratch_o, mut scratch_n) = (Vec::new(), Vec::new());
    let mut s = start;
    while s < end {
        let e = (s + BLOCK as u64).min(end);
        let len = (e - s) as usize;
        let b = &mut *buf;
        match (job, complex) {
            (Job::Single(t), false) => {
                let bytes = elem_bytes(t, s, e, &mut scratch_o);
                let side = single_block(t, bytes, &mut b.o[..len]);
                acc.old[0] = acc.old[0].merge(side);
            }
            (Job::Pair(o, n), false) => {
                let (ob, nb) = (
                    elem_bytes(o, s, e, &mut scratch_o),
                    elem_bytes(n, s, e, &mut scratch_n),
                );
                let (so, sn, p) = pair_block(
                    o.dtype,
                    n.dtype,
                    ob,
                    nb,
                    tol,
                    &mut b.o[..len],
                    &mut b.n[..len],
                );
                acc.old[0] = acc.old[0].merge(so);
                acc.new[0] = acc.new[0].merge(sn);
                acc.pair = acc.pair.merge(p);
            }
            (Job::Single(t), true) => {
                let bytes = elem_bytes(t, s, e, &mut scratch_o);
                complex_side(
                    t.dtype,
                    bytes,
                    len,
                    &mut b.o,
                    &mut b.oi,
                    &mut b.om,
                    &mut acc.old,
                );
            }
            (Job::Pair(o, n), true) => {
                let ob = elem_bytes(o, s, e, &mut scratch_o);
                complex_side(
                    o.dtype,
                    ob,
                    len,
                    &mut b.o,
                    &mut b.oi,
                    &mut b.om,
                    &mut acc.old,
                );
                let nb = elem_bytes(n, s, e, &mut scratch_n);
                complex_side(
                    n.dtype,
                    nb,
                    len,
                    &mut b.n,
                    &mut b.ni,
                    &mut b.nm,
                    &mut acc.new,
                );
                let pair = pair_block_complex(
                    (&b.o[..len], &b.oi[..len]),
                    (&b.n[..len], &b.ni[..len]),
                    tol,
                );
                acc.pair = acc.pair.merge(pair);
            }
        }
        s = e;
    }
    acc
}

/// One block of one real tensor: fused over the stored bytes where the dtype allows, else over
/// decoded f64; the masked path when the block holds a NaN or Inf.
fn single_block(t: &Tensor, bytes: &[u8], buf: &mut [f64]) -> SideAcc {
    let fast = match t.dtype {
        DType::F32 => fused::side_f32(bytes),
        DType::BF16 => fused::side_bf16(bytes),
        DType::F64 => fused::side_f64(bytes),
        _ => {
            decode::decode(t.dtype, bytes, buf);
            return side_block(buf);
        }
    };
    fast.unwrap_or_else(|| {
        decode::decode(t.dtype, bytes, buf);
        side_masked(buf)
    })
}

/// One block of a real tensor pair (elements `[s, e)`), like [`single_block`].
fn pair_block(
    odt: DType,
    ndt: DType,
    obytes: &[u8],
    nbytes: &[u8],
    tol: Tolerance,
    ob: &mut [f64],
    nb: &mut [f64],
) -> (SideAcc, SideAcc, PairAcc) {
    let fast = match (odt, ndt) {
        (DType::F32, DType::F32) => fused::pair_f32(obytes, nbytes, tol),
        (DType::BF16, DType::BF16) => fused::pair_bf16(obytes, nbytes, tol),
        (DType::F64, DType::F64) => fused::pair_f64(obytes, nbytes, tol),
        _ => None,
    };
    if let Some(r) = fast {
        return r;
    }
    decode::decode(odt, obytes, ob);
    decode::decode(ndt, nbytes, nb);
    fused::pair_f64(fused::f64_bytes(ob), fused::f64_bytes(nb), tol)
        .unwrap_or_else(|| (side_masked(ob), side_masked(nb), pair_masked(ob, nb, tol)))
}

/// Decodes a complex block and accumulates modulus, real and imaginary statistics. An element
/// with a NaN part counts as NaN, one with an infinite part (and no NaN) as Inf.
fn complex_side(
    dtype: DType,
    bytes: &[u8],
    len: usize,
    re: &mut [f64; BLOCK],
    im: &mut [f64; BLOCK],
    modulus: &mut [f64; BLOCK],
    acc: &mut [SideAcc; 3],
) {
    let (re, im, modulus) = (&mut re[..len], &mut im[..len], &mut modulus[..len]);
    decode::decode_complex(dtype, bytes, re, im);
    for i in 0..len {
        let (r, j) = (re[i], im[i]);
        modulus[i] = if r.is_nan() || j.is_nan() {
            f64::NAN
        } else if r.is_infinite() || j.is_infinite() {
            f64::INFINITY
        } else {
            r.hypot(j)
        };
    }
    acc[0] = acc[0].merge(side_block(modulus));
    // Parts are summarised over the elements whose modulus is finite.
    for i in 0..len {
        if !modulus[i].is_finite() {
            re[i] = f64::NAN;
            im[i] = f64::NAN;
        }
    }
    acc[1] = acc[1].merge(side_block(re));
    acc[2] = acc[2].merge(side_block(im));
}

fn finish_side(acc: &[SideAcc; 3], t: &Tensor) -> SideStats {
    let v = acc[0];
    let m = v.moments;
    let some = |x: f64| (m.n > 0).then_some(x);
    let part = |a: &SideAcc| {
        let some = |x: f64| (a.moments.n > 0).then_some(x);
        PartStats {
            mean: some(a.moments.mean),
            std: some((a.moments.m2 / a.moments.n as f64).sqrt()),
            min: some(a.min),
            max: some(a.max),
        }
    };
    SideStats {
        numel: t.numel(),
        finite: m.n,
        mean: some(m.mean),
        std: some((m.m2 / m.n as f64).sqrt()),
        min: some(v.min),
        max: some(v.max),
        nan: v.nan,
        inf: v.inf,
        zero: v.zero,
        norm: (m.m2 + m.n as f64 * m.mean * m.mean).sqrt(),
        real: t.dtype.is_complex().then(|| part(&acc[1])),
        imag: t.dtype.is_complex().then(|| part(&acc[2])),
    }
}

fn finish_pair(p: &PairAcc, numel: u64) -> PairMetrics {
    let norm_old = p.sum_o2.sqrt();
    let norm_new = p.sum_n2.sqrt();
    let norm_diff = p.sum_d2.sqrt();
    let rel_l2 = if norm_old > 0.0 {
        norm_diff / norm_old
    } else if norm_diff > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    // 1 - cos = (‖d‖² - (‖o‖-‖n‖)²) / (2‖o‖‖n‖) (DESIGN.md §4), with the gap between the norms
    // taken as (‖n‖²-‖o‖²)/(‖o‖+‖n‖) from the directly accumulated Σ d·(o+n): subtracting two
    // nearly equal norms would lose the digits that matter for a fine-tune's tiny change.
    let one_minus_cos = (norm_old > 0.0 && norm_new > 0.0).then(|| {
        let gap = p.sum_dx / (norm_old + norm_new);
        ((p.sum_d2 - gap * gap) / (2.0 * norm_old * norm_new)).clamp(0.0, 2.0)
    });
    PairMetrics {
        pairs: p.n,
        max_abs: p.max_abs,
        mean_abs: (p.n > 0).then(|| p.sum_abs / p.n as f64),
        norm_old,
        norm_new,
        norm_diff,
        rel_l2,
        cosine: one_minus_cos.map(|x| 1.0 - x),
        one_minus_cos,
        changed: p.changed,
        changed_fraction: (numel > 0).then(|| p.changed as f64 / numel as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::ByteSource;

    /// Storage offset (in elements) of the `index`-th element in C order.
    fn element_offset(mut index: u64, shape: &[u64], strides: &[u64]) -> u64 {
        let mut at = 0;
        for d in (0..shape.len()).rev() {
            at += (index % shape[d]) * strides[d];
            index /= shape[d];
        }
        at
    }

    /// A strided tensor's elements gathered in C order, from any start, are the elements at
    /// their storage offsets; big-endian elements come out byte-swapped (each part of a complex).
    #[test]
    fn strided_elements_gather_in_c_order_from_any_start() {
        // shape [3, 4, 5] stored with the dimensions reversed (Fortran order), and with the first
        // two swapped (rows of the innermost dimension adjacent): element k of storage holds k
        let shape = vec![3u64, 4, 5];
        let bytes: Vec<u8> = (0..60u16).flat_map(|v| v.to_le_bytes()).collect();
        let mut t = Tensor::dense(DType::U16, shape.clone(), ByteSource::owned(bytes));
        for strides in [vec![5u64, 15, 1], vec![1, 3, 12]] {
            t.strides = Some(strides.clone());
            for (start, end) in [(0, 60), (7, 60), (19, 20), (20, 41), (59, 60), (8, 8)] {
                let mut scratch = Vec::new();
                let got: Vec<u16> = elem_bytes(&t, start, end, &mut scratch)
                    .chunks(2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]))
                    .collect();
                let want: Vec<u16> = (start..end)
                    .map(|i| element_offset(i, &shape, &strides) as u16)
                    .collect();
                assert_eq!(got, want, "{strides:?} {start}..{end}");
            }
        }
        let want = |i: u64| element_offset(i, &shape, &[1, 3, 12]);
        // element (1, 0, 0) is stored at offset 1
        assert_eq!(want(20), 1);
        t.big_endian = true;
        let mut scratch = Vec::new();
        assert_eq!(elem_bytes(&t, 20, 21, &mut scratch), [0, 1]);
        let mut c = Tensor::dense(DType::C64, vec![2, 1], ByteSource::owned((0..16).collect()));
        c.strides = Some(vec![1, 1]);
        c.big_endian = true;
        assert_eq!(
            elem_bytes(&c, 1, 2, &mut scratch),
            [11, 10, 9, 8, 15, 14, 13, 12]
        );
        // a scalar
        let mut x = Tensor::dense(DType::F64, vec![], ByteSource::owned((0..8).collect()));
        x.strides = Some(vec![]);
        x.big_endian = true;
        assert_eq!(elem_bytes(&x, 0, 1, &mut scratch), [7, 6, 5, 4, 3, 2, 1, 0]);
    }

    /// Windows run in order, each once; the next window is read ahead, and the current one
    /// released, only after a window that ran slower than the page cache (from disk).
    #[test]
    fn read_ahead_and_release_follow_slow_windows() {
        use std::sync::Mutex;
        for slow in [false, true] {
            let items: Vec<usize> = (0..10).collect();
            let (worked, ahead, released) =
                (Mutex::new(vec![]), Mutex::new(vec![]), Mutex::new(vec![]));
            // A window "holds" 1 byte (slow: takes a millisecond) or 2^60 bytes (fast).
            let bytes = |_: &[usize]| if slow { 1 } else { 1 << 60 };
            with_read_ahead(
                &items,
                3,
                bytes,
                |w: &[usize]| ahead.lock().unwrap().push(w[0]),
                |w: &[usize]| released.lock().unwrap().push(w[0]),
                |w: &[usize]| {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    worked.lock().unwrap().extend_from_slice(w);
                },
            );
            assert_eq!(worked.into_inner().unwrap(), items);
            let (ahead, released) = (ahead.into_inner().unwrap(), released.into_inner().unwrap());
            if slow {
                // windows start at 0, 3, 6, 9: after the first, each next one is read ahead
                assert_eq!(ahead, vec![6, 9]);
                assert_eq!(released, vec![0, 3, 6, 9]);
            } else {
                assert!(
                    ahead.is_empty() && released.is_empty(),
                    "{ahead:?} {released:?}"
                );
            }
        }
    }

    /// Ranges cover every element once, in order, aligned; a range read from its middle gives
    /// the same values as the whole; the combined result is the same at any thread count.
    #[test]
    fn ranges_cover_the_tensor_in_order_at_any_thread_count() {
        let numel = 3 * RANGE_ELEMS + 12_345;
        let bytes: Vec<u8> = (0..numel).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let t = Tensor::dense(DType::F32, vec![numel], ByteSource::owned(bytes));
        let run = || {
            par_ranges(
                numel,
                1000,
                true,
                (Vec::new(), 0.0f64),
                |s, e| {
                    let mut sum = 0.0;
                    visit_range_f64(&t, s, e, |b| sum += b.iter().map(|v| v.sqrt()).sum::<f64>())?;
                    Ok((s, e, sum))
                },
                |acc, (s, e, sum)| {
                    acc.0.push((s, e));
                    acc.1 += sum;
                },
            )
            .unwrap()
        };
        let pool = |n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
        };
        let (one, two) = (pool(1).install(run), pool(2).install(run));
        assert_eq!(one.1.to_bits(), two.1.to_bits());
        assert_eq!(one.0, two.0);
        let mut at = 0;
        for &(s, e) in &one.0 {
            assert_eq!(s, at);
            assert!(s % 1000 == 0 && e > s);
            at = e;
        }
        assert_eq!(at, numel);
        let mut tail = Vec::new();
        visit_range_f64(&t, numel - 5, numel, |b| tail.extend_from_slice(b)).unwrap();
        assert_eq!(
            tail,
            (numel - 5..numel)
                .map(|i| i as f32 as f64)
                .collect::<Vec<_>>()
        );
    }

    fn f32s(bytes: &[u8]) -> Vec<f32> {
        bytes
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }

    #[test]
    fn views_and_big_endian_storages_are_gathered_in_c_order() {
        let base: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
        // The transpose of a 2x3 matrix: shape [3, 2], strides [1, 3].
        let t = Tensor {
            strides: Some(vec![1, 3]),
            ..Tensor::dense(DType::F32, vec![3, 2], ByteSource::owned(base.clone()))
        };
        let mut scratch = Vec::new();
        assert_eq!(
            f32s(elem_bytes(&t, 0, 6, &mut scratch)),
            [0., 3., 1., 4., 2., 5.]
        );
        assert_eq!(f32s(elem_bytes(&t, 2, 5, &mut scratch)), [1., 4., 2.]);

        let be: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_be_bytes()).collect();
        let t = Tensor {
            big_endian: true,
            ..Tensor::dense(DType::F32, vec![6], ByteSource::owned(be))
        };
        assert_eq!(
            f32s(elem_bytes(&t, 0, 6, &mut scratch)),
            [0., 1., 2., 3., 4., 5.]
        );
        let stats = compute(&[Job::Single(&t)], Tolerance::default(), None);
        match &stats[0] {
            Outcome::Single(s) => assert_eq!((s.mean, s.max), (Some(2.5), Some(5.0))),
            other => panic!("{other:?}"),
        }
    }
}
