//! The diff engine: pairs the paths of two value trees, classifies each pair and runs the
//! statistics kernel on tensor pairs (byte-identical tensors are detected first and cost nothing
//! more unless statistics of unchanged tensors are asked for).

use std::collections::{HashMap, HashSet};

use regex::Regex;

use crate::artifact::Artifact;
use crate::report::{
    is_buffer, Change, ChangeKind, Fallback, FileInfo, Metrics, OldNew, Report, ReportOptions,
    Scalar, Side, Stats, Summary, TensorSide, SCHEMA,
};
use crate::stats::{self, Job, Outcome, Progress, Tolerance};
use crate::tensor::Tensor;
use crate::value::{push_index, push_key, Map, Value};

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
    let mut pairings = Vec::new();
    walk(
        Some(&old.root),
        Some(&new.root),
        &mut String::new(),
        opts,
        &mut pairings,
    );
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
            Pairing::Both(Value::Tensor(o), Value::Tensor(n)) => (o, n),
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

fn keep_path(path: &str, opts: &Options) -> bool {
    opts.filter.as_ref().is_none_or(|re| re.is_match(path))
        && opts.path.as_ref().is_none_or(|p| path.contains(p.as_str()))
}

fn walk<'a>(
    old: Option<&'a Value>,
    new: Option<&'a Value>,
    path: &mut String,
    opts: &Options,
    out: &mut Vec<(String, Pairing<'a>)>,
) {
    match (old, new) {
        (Some(Value::Map(a)), Some(Value::Map(b))) => {
            for key in merged_keys(a, b) {
                if opts.ignore_keys.as_ref().is_some_and(|re| re.is_match(key)) {
                    continue;
                }
                let len = path.len();
                push_key(path, key);
                walk(a.get(key), b.get(key), path, opts, out);
                path.truncate(len);
            }
        }
        (Some(Value::List(a)), Some(Value::List(b))) => {
            for i in 0..a.len().max(b.len()) {
                let len = path.len();
                push_index(path, i);
                walk(a.get(i), b.get(i), path, opts, out);
                path.truncate(len);
            }
        }
        (Some(o), Some(n)) if is_container(o) || is_container(n) => {
            // A container on one side only: its leaves are removed or added one by one.
            walk(Some(o), None, path, opts, out);
            walk(None, Some(n), path, opts, out);
        }
        (Some(o), Some(n)) => out.push((path.clone(), Pairing::Both(o, n))),
        (Some(v), None) | (None, Some(v)) if is_container(v) => {
            let is_old = old.is_some();
            let mut each = |child: &'a Value, path: &mut String| {
                if is_old {
                    walk(Some(child), None, path, opts, out)
                } else {
                    walk(None, Some(child), path, opts, out)
                }
            };
            match v {
                Value::Map(m) => {
                    for (k, child) in m.iter() {
                        if opts.ignore_keys.as_ref().is_some_and(|re| re.is_match(k)) {
                            continue;
                        }
                        let len = path.len();
                        push_key(path, k);
                        each(child, path);
                        path.truncate(len);
                    }
                }
                Value::List(items) => {
                    for (i, child) in items.iter().enumerate() {
                        let len = path.len();
                        push_index(path, i);
                        each(child, path);
                        path.truncate(len);
                    }
                }
                _ => unreachable!("is_container"),
            }
        }
        (Some(o), None) => out.push((path.clone(), Pairing::Old(o))),
        (None, Some(n)) => out.push((path.clone(), Pairing::New(n))),
        (None, None) => {}
    }
}

/// A non-empty map or list (empty ones are compared as leaves).
fn is_container(v: &Value) -> bool {
    match v {
        Value::Map(m) => !m.is_empty(),
        Value::List(l) => !l.is_empty(),
        _ => false,
    }
}

/// Keys of both maps: old's order, each key only in new placed after the shared key that
/// precedes it in new (or first).
fn merged_keys<'a>(a: &'a Map, b: &'a Map) -> Vec<&'a str> {
    let in_old: HashSet<&str> = a.iter().map(|(k, _)| k.as_str()).collect();
    let mut after: HashMap<Option<&str>, Vec<&str>> = HashMap::new();
    let mut anchor: Option<&str> = None;
    for (k, _) in b.iter() {
        if in_old.contains(k.as_str()) {
            anchor = Some(k);
        } else {
            after.entry(anchor).or_default().push(k);
        }
    }
    let mut keys: Vec<&str> = after.remove(&None).unwrap_or_default();
    for (k, _) in a.iter() {
        keys.push(k);
        if let Some(extra) = after.remove(&Some(k.as_str())) {
            keys.extend(extra);
        }
    }
    keys
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
        (Value::Int(a), Value::Int(b)) if a == b => true,
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
