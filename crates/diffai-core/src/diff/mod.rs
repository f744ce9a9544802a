//! The diff engine: pairs the paths of two value trees, classifies each pair and runs the
//! statistics kernel on tensor pairs (byte-identical tensors are detected first and cost nothing
//! more unless statistics of unchanged tensors are asked for).

pub mod dir;

use std::collections::{HashMap, HashSet, VecDeque};

use regex::Regex;

use crate::artifact::Artifact;
use crate::report::{
    is_buffer, Change, ChangeKind, Fallback, FileInfo, Metrics, OldNew, Report, ReportOptions,
    Scalar, SecurityFinding, Side, Stats, Summary, TensorSide, SCHEMA,
};
use crate::stats::{self, Job, Outcome, Progress, Tolerance};
use crate::tensor::Tensor;
use crate::value::Value;

/// What to compare and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub tolerance: Tolerance,
    /// Keep only paths this regex matches (anywhere in the path).
    pub filter: Option<Regex>,
    /// Keep only paths containing this substring.
    pub path: Option<String>,
    /// Drop map keys this regex matches, at any depth, before diffing.
    pub ignore_keys: Option<Regex>,
    /// Name the elements of lists of maps by their value under this key (`--array-id-key`), so
    /// reordering such a list is not a change.
    pub array_id_key: Option<String>,
    /// List unchanged entries too, with full statistics.
    pub include_unchanged: bool,
    /// Compute statistics of tensors present on one side only (added, removed, reshaped).
    pub one_sided_stats: bool,
}

/// One leaf-level pairing found by the walk.
enum Pairing<'a> {
    Both(&'a Value, &'a Value),
    Old(&'a Value),
    New(&'a Value),
}

/// Compares two artifacts.
pub fn diff(old: &Artifact, new: &Artifact, opts: &Options, progress: Option<&Progress>) -> Report {
    let mut pairings = pair_leaves(&old.root, &new.root, opts);
    pairings.retain(|(path, _)| keep_path(path, opts));

    // Tensor pairs of equal dtype and shape: byte identity first.
    let candidates: Vec<usize> = pairings
        .iter()
        .enumerate()
        .filter_map(|(i, (_, p))| match p {
            Pairing::Both(Value::Tensor(o), Value::Tensor(n))
                if o.dtype == n.dtype && o.shape == n.shape =>
            {
                Some(i)
            }
            _ => None,
        })
        .collect();
    let candidate_pairs: Vec<(&Tensor, &Tensor)> = candidates
        .iter()
        .map(|&i| match &pairings[i].1 {
            Pairing::Both(Value::Tensor(o), Value::Tensor(n)) => (&**o, &**n),
            _ => unreachable!("candidates are tensor pairs"),
        })
        .collect();
    let same = stats::identical(&candidate_pairs, progress);
    let identical: HashSet<usize> = candidates
        .iter()
        .zip(&same)
        .filter(|(_, &s)| s)
        .map(|(&i, _)| i)
        .collect();

    // Every statistics job, then one parallel pass over all of them.
    let mut jobs: Vec<Job> = Vec::new();
    let mut job_of: HashMap<(usize, u8), usize> = HashMap::new();
    fn add_job<'t>(
        job_of: &mut HashMap<(usize, u8), usize>,
        key: (usize, u8),
        job: Job<'t>,
        jobs: &mut Vec<Job<'t>>,
    ) {
        job_of.insert(key, jobs.len());
        jobs.push(job);
    }
    const PAIR: u8 = 0;
    const OLD: u8 = 1;
    const NEW: u8 = 2;
    for (i, (_, p)) in pairings.iter().enumerate() {
        match p {
            Pairing::Both(Value::Tensor(o), Value::Tensor(n)) => {
                if o.shape == n.shape {
                    if !identical.contains(&i) || opts.include_unchanged {
                        add_job(&mut job_of, (i, PAIR), Job::Pair(o, n), &mut jobs);
                    }
                } else if opts.one_sided_stats {
                    add_job(&mut job_of, (i, OLD), Job::Single(o), &mut jobs);
                    add_job(&mut job_of, (i, NEW), Job::Single(n), &mut jobs);
                }
            }
            Pairing::Old(Value::Tensor(t)) if opts.one_sided_stats => {
                add_job(&mut job_of, (i, OLD), Job::Single(t), &mut jobs)
            }
            Pairing::New(Value::Tensor(t)) if opts.one_sided_stats => {
                add_job(&mut job_of, (i, NEW), Job::Single(t), &mut jobs)
            }
            _ => {}
        }
    }
    let outcomes = stats::compute(&jobs, opts.tolerance, progress);
    let outcome = |i: usize, which: u8| job_of.get(&(i, which)).map(|&j| &outcomes[j]);

    let mut summary = Summary::default();
    let mut changes = Vec::new();
    for (i, (path, p)) in pairings.iter().enumerate() {
        // An unchanged scalar that is not listed costs only its count (configs hold millions).
        if let Pairing::Both(o, n) = p {
            let scalar = !matches!(o, Value::Tensor(_)) || !matches!(n, Value::Tensor(_));
            if scalar
                && !opts.include_unchanged
                && scalars_equal(o, n, opts.tolerance) == Some(true)
            {
                summary.count(ChangeKind::Unchanged);
                continue;
            }
        }
        let change = match p {
            Pairing::Both(Value::Tensor(o), Value::Tensor(n)) => tensor_pair(
                path,
                o,
                n,
                identical.contains(&i),
                outcome(i, PAIR),
                outcome(i, OLD),
                outcome(i, NEW),
            ),
            Pairing::Both(o, n) => value_pair(path, o, n, opts.tolerance),
            Pairing::Old(v) => one_sided(path, v, ChangeKind::Removed, outcome(i, OLD)),
            Pairing::New(v) => one_sided(path, v, ChangeKind::Added, outcome(i, NEW)),
        };
        summary.count(change.kind);
        if change.fallback.is_some() {
            summary.fallbacks += 1;
        }
        if change.kind != ChangeKind::Unchanged || opts.include_unchanged {
            changes.push(change);
        }
    }

    let security = [("old", old), ("new", new)]
        .iter()
        .flat_map(|(side, a)| {
            a.findings.iter().map(|f| SecurityFinding {
                side,
                finding: f.clone(),
            })
        })
        .collect();
    let (old, new) = (file_info(old), file_info(new));
    summary.parameters = OldNew {
        old: old.parameters,
        new: new.parameters,
    };
    Report {
        schema: SCHEMA,
        old,
        new,
        options: ReportOptions {
            epsilon: opts.tolerance.epsilon,
            rtol: opts.tolerance.rtol,
        },
        summary,
        changes,
        security,
        analyses: Default::default(),
    }
}

/// Orders changes for `--sort-by-change-magnitude`: added, removed, reshaped, retyped and type
/// changes first, then by `rel_l2` descending; ties by path.
pub fn sort_by_change_magnitude(changes: &mut [Change]) {
    let structural = |c: &Change| !matches!(c.kind, ChangeKind::Changed | ChangeKind::Unchanged);
    changes.sort_by(|a, b| {
        structural(b)
            .cmp(&structural(a))
            .then_with(|| {
                let (x, y) = (a.rel_l2().unwrap_or(0.0), b.rel_l2().unwrap_or(0.0));
                y.total_cmp(&x)
            })
            .then_with(|| a.path.cmp(&b.path))
    });
}

/// Whether `--filter` and `--path` keep a path.
pub fn keep_path(path: &str, opts: &Options) -> bool {
    opts.filter.as_ref().is_none_or(|re| re.is_match(path))
        && opts.path.as_ref().is_none_or(|p| path.contains(p.as_str()))
}

/// Pairs the leaves of both trees by their display path, so a flat state dict (`"fc1.weight"`)
/// and a nested module (`fc1` → `weight`) line up. Order: old's, with each path only in new
/// placed after the shared path that precedes it in new.
fn pair_leaves<'a>(old: &'a Value, new: &'a Value, opts: &Options) -> Vec<(String, Pairing<'a>)> {
    let skip = |k: &str| opts.ignore_keys.as_ref().is_some_and(|re| re.is_match(k));
    let id_key = opts.array_id_key.as_deref();
    let old_leaves = old.leaves_with(&skip, id_key);
    let new_leaves = new.leaves_with(&skip, id_key);
    // Trees mostly share their order: pair the common prefix and suffix in lockstep and hash
    // only the paths in between.
    let common = |a: &[(String, &Value)], b: &[(String, &Value)], rev: bool| {
        let n = a.len().min(b.len());
        (0..n)
            .take_while(|&i| {
                let (x, y) = if rev {
                    (&a[a.len() - 1 - i], &b[b.len() - 1 - i])
                } else {
                    (&a[i], &b[i])
                };
                x.0 == y.0
            })
            .count()
    };
    let prefix = common(&old_leaves, &new_leaves, false);
    let suffix = common(&old_leaves[prefix..], &new_leaves[prefix..], true);
    let (old_len, new_len) = (old_leaves.len(), new_leaves.len());
    let mut out = Vec::with_capacity(old_len.max(new_len));
    let mut old_iter = old_leaves.into_iter();
    let mut new_iter = new_leaves.into_iter();
    // Paths move into the pairing (no copy of millions of strings).
    for ((p, o), (_, n)) in old_iter
        .by_ref()
        .take(prefix)
        .zip(new_iter.by_ref().take(prefix))
    {
        out.push((p, Pairing::Both(o, n)));
    }
    let old_mid: Vec<_> = old_iter.by_ref().take(old_len - prefix - suffix).collect();
    let new_mid: Vec<_> = new_iter.by_ref().take(new_len - prefix - suffix).collect();
    pair_by_path(&old_mid, &new_mid, &mut out);
    for ((p, o), (_, n)) in old_iter.zip(new_iter) {
        out.push((p, Pairing::Both(o, n)));
    }
    out
}

/// Pairs leaves by path through a hash map. Order: old's, with each path only in new placed
/// after the shared path that precedes it in new.
fn pair_by_path<'a>(
    old_leaves: &[(String, &'a Value)],
    new_leaves: &[(String, &'a Value)],
    out: &mut Vec<(String, Pairing<'a>)>,
) {
    // A path repeated on one side (a key "a.b" beside a nested a → b) pairs in order of
    // appearance; the extra ones stand alone.
    let mut in_new: HashMap<&str, VecDeque<usize>> = HashMap::new();
    for (i, (p, _)) in new_leaves.iter().enumerate() {
        in_new.entry(p.as_str()).or_default().push_back(i);
    }
    let mut partner_of_new: Vec<Option<usize>> = vec![None; new_leaves.len()];
    let mut partner_of_old: Vec<Option<usize>> = vec![None; old_leaves.len()];
    for (i, (p, _)) in old_leaves.iter().enumerate() {
        if let Some(j) = in_new.get_mut(p.as_str()).and_then(|q| q.pop_front()) {
            partner_of_old[i] = Some(j);
            partner_of_new[j] = Some(i);
        }
    }
    // New-only leaves, grouped after the old index of the shared leaf before them in new.
    let mut after: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    let mut anchor = None;
    for (j, partner) in partner_of_new.iter().enumerate() {
        match partner {
            Some(i) => anchor = Some(*i),
            None => after.entry(anchor).or_default().push(j),
        }
    }
    let push_new = |out: &mut Vec<(String, Pairing<'a>)>, js: Option<Vec<usize>>| {
        for j in js.unwrap_or_default() {
            out.push((new_leaves[j].0.clone(), Pairing::New(new_leaves[j].1)));
        }
    };
    push_new(out, after.remove(&None));
    for (i, (p, v)) in old_leaves.iter().enumerate() {
        match partner_of_old[i] {
            Some(j) => out.push((p.clone(), Pairing::Both(v, new_leaves[j].1))),
            None => out.push((p.clone(), Pairing::Old(v))),
        }
        push_new(out, after.remove(&Some(i)));
    }
}

fn tensor_side(t: &Tensor, stats: Option<&Outcome>) -> (Side, Option<Fallback>) {
    let (stats, fallback) = match stats {
        Some(Outcome::Single(s)) => (Some(Box::new(Stats(s.clone()))), None),
        Some(Outcome::Unsupported(r)) => (None, Some(Fallback { reason: r.clone() })),
        _ => (None, None),
    };
    (
        Side::Tensor(TensorSide {
            dtype: t.dtype.name(),
            shape: t.shape.clone(),
            bytes: t.byte_len(),
            stats,
        }),
        fallback,
    )
}

fn tensor_pair(
    path: &str,
    o: &Tensor,
    n: &Tensor,
    identical: bool,
    pair: Option<&Outcome>,
    old_single: Option<&Outcome>,
    new_single: Option<&Outcome>,
) -> Change {
    let bare = |t: &Tensor| TensorSide {
        dtype: t.dtype.name(),
        shape: t.shape.clone(),
        bytes: t.byte_len(),
        stats: None,
    };
    if o.shape != n.shape {
        let (old, f1) = tensor_side(o, old_single);
        let (new, f2) = tensor_side(n, new_single);
        return Change {
            path: path.to_string(),
            kind: ChangeKind::Reshaped,
            old: Some(old),
            new: Some(new),
            metrics: None,
            fallback: f1.or(f2),
        };
    }
    let mut change = Change {
        path: path.to_string(),
        kind: if o.dtype != n.dtype {
            ChangeKind::Retyped
        } else if identical {
            ChangeKind::Unchanged
        } else {
            ChangeKind::Changed
        },
        old: Some(Side::Tensor(bare(o))),
        new: Some(Side::Tensor(bare(n))),
        metrics: None,
        fallback: None,
    };
    match pair {
        Some(Outcome::Pair { old, new, metrics }) => {
            if let Some(Side::Tensor(s)) = &mut change.old {
                s.stats = Some(Box::new(Stats(old.clone())));
            }
            if let Some(Side::Tensor(s)) = &mut change.new {
                s.stats = Some(Box::new(Stats(new.clone())));
            }
            if change.kind == ChangeKind::Changed && metrics.changed == 0 {
                // Bytes differ but every element is within the tolerance (or -0 vs +0).
                change.kind = ChangeKind::Unchanged;
            }
            change.metrics = Some(Metrics(metrics.clone()));
        }
        Some(Outcome::Unsupported(reason)) => {
            change.fallback = Some(Fallback {
                reason: reason.clone(),
            })
        }
        _ => {}
    }
    change
}

fn one_sided(path: &str, v: &Value, kind: ChangeKind, stats: Option<&Outcome>) -> Change {
    let (side, fallback) = match v {
        Value::Tensor(t) => tensor_side(t, stats),
        other => (
            Side::Value {
                value: Scalar::of(other).unwrap_or(Scalar::Null),
            },
            None,
        ),
    };
    let (old, new) = if kind == ChangeKind::Removed {
        (Some(side), None)
    } else {
        (None, Some(side))
    };
    Change {
        path: path.to_string(),
        kind,
        old,
        new,
        metrics: None,
        fallback,
    }
}

fn value_pair(path: &str, o: &Value, n: &Value, tol: Tolerance) -> Change {
    let side = |v: &Value| match v {
        Value::Tensor(t) => tensor_side(t, None).0,
        other => Side::Value {
            value: Scalar::of(other).unwrap_or(Scalar::Null),
        },
    };
    let kind = match scalars_equal(o, n, tol) {
        Some(true) => ChangeKind::Unchanged,
        Some(false) => ChangeKind::Changed,
        None => ChangeKind::TypeChanged,
    };
    Change {
        path: path.to_string(),
        kind,
        old: Some(side(o)),
        new: Some(side(n)),
        metrics: None,
        fallback: None,
    }
}

/// Equality of two leaves: `None` when their kinds cannot be compared (a type change).
/// Numbers compare by value within the tolerance, ints and floats alike; NaN equals NaN.
fn scalars_equal(o: &Value, n: &Value, tol: Tolerance) -> Option<bool> {
    let num = |v: &Value| match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    Some(match (o, n) {
        // Integers compare exactly (beyond 2^53 too): the difference is taken in i128 first.
        (Value::Int(a), Value::Int(b)) => {
            let d = b
                .checked_sub(*a)
                .map_or(f64::INFINITY, |d| d.unsigned_abs() as f64);
            a == b || d <= tol.epsilon + tol.rtol * (*a as f64).abs()
        }
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Str(a), Value::Str(b)) => a == b,
        (Value::Bytes(a), Value::Bytes(b)) => a == b,
        (Value::Map(a), Value::Map(b)) => a.is_empty() && b.is_empty(),
        (Value::List(a), Value::List(b)) => a.is_empty() && b.is_empty(),
        _ => {
            let (a, b) = (num(o)?, num(n)?);
            (a.is_nan() && b.is_nan())
                || a == b
                || (b - a).abs() <= tol.epsilon + tol.rtol * a.abs()
        }
    })
}

/// File-level facts of one artifact.
pub fn file_info(a: &Artifact) -> FileInfo {
    let tensors = a.root.tensors();
    FileInfo {
        path: a.path.display().to_string(),
        format: a.format,
        bytes: a.file_size,
        files: a.files.len(),
        tensors: tensors.len() as u64,
        parameters: tensors
            .iter()
            .filter(|(p, _)| !is_buffer(p))
            .map(|(_, t)| t.numel())
            .sum(),
        tensor_bytes: tensors.iter().map(|(_, t)| t.byte_len()).sum(),
    }
}
