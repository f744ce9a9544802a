//! The tensors of both sides, matched by path: what several analyses start from.

use std::collections::HashMap;

use crate::diff::keep_path;
use crate::report::{is_buffer, ChangeKind, Report};
use crate::stats::PairMetrics;
use crate::tensor::Tensor;

use super::Input;

/// How one path's tensors compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    Added,
    Removed,
    Reshaped,
    Retyped,
    Changed,
    /// Same dtype and shape, no element changed beyond the tolerance.
    Unchanged,
}

/// One tensor path of either side.
pub struct Entry<'a> {
    pub path: String,
    pub old: Option<&'a Tensor>,
    pub new: Option<&'a Tensor>,
    pub kind: Match,
    /// The diff's pairwise metrics, for changed pairs.
    pub metrics: Option<&'a PairMetrics>,
}

impl<'a> Entry<'a> {
    /// The old (`true`) or new tensor.
    pub fn side(&self, old: bool) -> Option<&'a Tensor> {
        if old {
            self.old
        } else {
            self.new
        }
    }

    /// Not a recognised buffer (`running_mean`, …): counts as parameters.
    pub fn is_parameter(&self) -> bool {
        !is_buffer(&self.path)
    }
}

/// Parameters (elements of tensors that are not recognised buffers) of the old (`true`) or new side.
pub fn parameters(all: &[Entry], old: bool) -> u64 {
    all.iter()
        .filter(|e| e.is_parameter())
        .filter_map(|e| e.side(old))
        .map(|t| t.numel())
        .sum()
}

/// Every tensor path of both sides that the diff's filters keep, old's order first, then
/// new-only paths (found once per input, on first use).
pub fn entries<'b, 'a>(input: &'b Input<'a>) -> &'b [Entry<'a>] {
    input.derived.entries.get_or_init(|| find_entries(input))
}

fn find_entries<'a>(input: &Input<'a>) -> Vec<Entry<'a>> {
    let report: &'a Report = input.report;
    let metrics: HashMap<&str, (&PairMetrics, ChangeKind)> = report
        .changes
        .iter()
        .filter_map(|c| {
            c.metrics
                .as_ref()
                .map(|m| (c.path.as_str(), (&m.0, c.kind)))
        })
        .collect();
    let opts = input.options;
    let skip = |k: &str| opts.ignore_keys.as_ref().is_some_and(|re| re.is_match(k));
    let tensors = |a: &'a crate::artifact::Artifact| -> Vec<(String, &'a Tensor)> {
        a.root
            .leaves_with(&skip, opts.array_id_key.as_deref())
            .into_iter()
            .filter(|(p, _)| keep_path(p, opts))
            .filter_map(|(p, v)| match v {
                crate::value::Value::Tensor(t) => Some((p, &**t)),
                _ => None,
            })
            .collect()
    };
    let old = tensors(input.old);
    let new = tensors(input.new);
    let new_by_path: HashMap<&str, &Tensor> = new.iter().map(|(p, t)| (p.as_str(), *t)).collect();
    let old_paths: std::collections::HashSet<&str> = old.iter().map(|(p, _)| p.as_str()).collect();
    let mut out = Vec::with_capacity(old.len() + new.len());
    for (path, o) in &old {
        let n = new_by_path.get(path.as_str()).copied();
        let m = metrics.get(path.as_str());
        let kind = match n {
            None => Match::Removed,
            Some(n) if n.shape != o.shape => Match::Reshaped,
            Some(n) if n.dtype != o.dtype => Match::Retyped,
            Some(_) if m.is_some_and(|(_, k)| *k == ChangeKind::Changed) => Match::Changed,
            Some(_) => Match::Unchanged,
        };
        out.push(Entry {
            path: path.clone(),
            old: Some(o),
            new: n,
            kind,
            metrics: m.map(|(m, _)| *m),
        });
    }
    for (path, n) in &new {
        if !old_paths.contains(path.as_str()) {
            out.push(Entry {
                path: path.clone(),
                old: None,
                new: Some(n),
                kind: Match::Added,
                metrics: None,
            });
        }
    }
    out
}

/// ‖old‖² of each entry: from the diff's metrics where it measured them, else (byte-identical
/// tensors) computed here, all in one parallel pass.
pub fn old_norms_sq(shared: &[&Entry]) -> Vec<f64> {
    let unmeasured: Vec<usize> = (0..shared.len())
        .filter(|&i| shared[i].metrics.is_none() && shared[i].old.is_some())
        .collect();
    let jobs: Vec<crate::stats::Job> = unmeasured
        .iter()
        .map(|&i| crate::stats::Job::Single(shared[i].old.expect("filtered")))
        .collect();
    let mut out: Vec<f64> = shared
        .iter()
        .map(|e| e.metrics.map_or(0.0, |m| m.norm_old * m.norm_old))
        .collect();
    for (i, o) in unmeasured
        .into_iter()
        .zip(crate::stats::compute(&jobs, Default::default(), None))
    {
        if let crate::stats::Outcome::Single(s) = o {
            out[i] = s.norm * s.norm;
        }
    }
    out
}

/// Σ‖old‖² over shared entries the diff computed no metrics for (byte-identical tensors).
pub fn unmeasured_norm_sq(shared: &[&Entry]) -> f64 {
    shared
        .iter()
        .zip(old_norms_sq(shared))
        .filter(|(e, _)| e.metrics.is_none())
        .map(|(_, n)| n)
        .sum()
}

/// One layer's sums over its shared same-shape tensors.
pub struct LayerSums<'a> {
    pub layer: &'a str,
    pub parameters: u64,
    /// Σ‖new − old‖²
    pub diff_sq: f64,
    /// Σ‖old‖²
    pub old_sq: f64,
}

/// Per layer (a path minus its last component), in order of first appearance: parameters and the
/// squared norms of the change and of the old weights.
pub fn layer_sums<'a>(all: &'a [Entry<'a>]) -> Vec<LayerSums<'a>> {
    let mut order: Vec<LayerSums> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    let shared: Vec<&Entry> = all
        .iter()
        .filter(|e| matches!(e.kind, Match::Changed | Match::Unchanged))
        .collect();
    for (e, old_sq) in shared.iter().zip(old_norms_sq(&shared)) {
        let layer = super::weights::layer_of(&e.path);
        let i = *at.entry(layer).or_insert_with(|| {
            order.push(LayerSums {
                layer,
                parameters: 0,
                diff_sq: 0.0,
                old_sq: 0.0,
            });
            order.len() - 1
        });
        let l = &mut order[i];
        if e.is_parameter() {
            l.parameters += e.old.map_or(0, |t| t.numel());
        }
        l.old_sq += old_sq;
        l.diff_sq += e.metrics.map_or(0.0, |m| m.norm_diff * m.norm_diff);
    }
    order
}
