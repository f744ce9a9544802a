//! `--similarity-matrix`: the cosine similarity of every shared same-shape tensor, and the 2 × 2
//! matrix of the two models' cosine over all shared parameters; with several models
//! ([`model_matrix`]: three or more files, or a directory of checkpoints) the model × model
//! matrix, each entry the same two-model cosine.

use serde::Serialize;

use super::tensors::{entries, old_norms_sq, Entry, Match};
use super::{Analysis, Field, Finding, Input, Settings};
use crate::artifact::Artifact;
use crate::diff::{self, Options};

pub struct Similarity;

impl Analysis for Similarity {
    fn name(&self) -> &'static str {
        "similarity_matrix"
    }

    fn flag(&self) -> &'static str {
        "similarity-matrix"
    }

    fn help(&self) -> &'static str {
        "cosine similarity per shared tensor and of the whole models over their shared parameters; with 3+ models or a directory, the model x model matrix"
    }

    fn run(&self, input: &Input) -> Finding {
        let all = entries(input);
        let shared: Vec<&Entry> = all
            .iter()
            .filter(|e| matches!(e.kind, Match::Changed | Match::Unchanged))
            .collect();
        // o·n = (‖o‖² + ‖n‖² − ‖d‖²) / 2; an identical tensor has o·n = ‖o‖² = ‖n‖².
        let (mut dot, mut oo, mut nn) = (0.0, 0.0, 0.0);
        let mut rows = Vec::new();
        for (e, o2) in shared.iter().zip(old_norms_sq(&shared)) {
            let (n2, d2) = match e.metrics {
                Some(m) => (m.norm_new.powi(2), m.norm_diff.powi(2)),
                None => (o2, 0.0),
            };
            dot += (o2 + n2 - d2) / 2.0;
            oo += o2;
            nn += n2;
            let cos = match e.metrics {
                Some(m) => m
                    .cosine
                    .map_or(Field::Missing("a zero tensor".into()), Field::Num),
                None if o2 > 0.0 => Field::Num(1.0),
                None => Field::Missing("a zero tensor".into()),
            };
            rows.push(vec![("path", Field::Text(e.path.clone())), ("cosine", cos)]);
        }
        let overall = if oo > 0.0 && nn > 0.0 {
            Field::Num((dot / (oo.sqrt() * nn.sqrt())).clamp(-1.0, 1.0))
        } else {
            Field::Missing("no shared non-zero tensors".into())
        };
        let matrix = match &overall {
            Field::Num(c) => Field::List(vec![format!("[1, {c}]"), format!("[{c}, 1]")]),
            other => other.clone(),
        };
        Finding {
            rows,
            ..Finding::default()
        }
        .field("models", 2usize)
        .field("cosine", overall)
        .field("matrix", matrix)
        .field("tensors", shared.len())
    }
}

/// The cosine of every pair of several models over the parameters each pair shares.
#[derive(Debug, Clone, Serialize)]
pub struct ModelMatrix {
    pub schema: &'static str,
    /// Always `similarity`: tells this object from a [`crate::Report`].
    pub kind: &'static str,
    /// The models' paths, in the order given.
    pub models: Vec<String>,
    /// `cosine[i][j]`: 1 on the diagonal; `None` where two models share no non-zero tensor.
    pub cosine: Vec<Vec<Option<f64>>>,
    /// `shared[i][j]`: tensors the two models share (same path and shape); `shared[i][i]`: the
    /// model's tensors.
    pub shared: Vec<Vec<u64>>,
    /// Whether any two models differ (the exit status).
    pub differ: bool,
}

/// Diffs every pair of `models` (i < j) with `opts` and takes the two-model cosine of
/// `--similarity-matrix` from each diff.
pub fn model_matrix(models: &[Artifact], opts: &Options) -> ModelMatrix {
    let n = models.len();
    let mut cosine = vec![vec![Some(1.0); n]; n];
    let mut shared = vec![vec![0u64; n]; n];
    let mut differ = false;
    let settings = Settings::default();
    for i in 0..n {
        for j in i + 1..n {
            let report = diff::diff(&models[i], &models[j], opts, None);
            differ |= report.summary.differences() > 0;
            let input = Input::new(&models[i], &models[j], opts, &report, &settings);
            let f = Similarity.run(&input);
            let c = f.fields.iter().find_map(|(k, v)| match (k, v) {
                (&"cosine", Field::Num(c)) => Some(*c),
                _ => None,
            });
            let t = f.fields.iter().find_map(|(k, v)| match (k, v) {
                (&"tensors", Field::Int(t)) => Some(*t as u64),
                _ => None,
            });
            (cosine[i][j], cosine[j][i]) = (c, c);
            (shared[i][j], shared[j][i]) = (t.unwrap_or(0), t.unwrap_or(0));
            (shared[i][i], shared[j][j]) = (report.old.tensors, report.new.tensors);
        }
    }
    ModelMatrix {
        schema: crate::report::SCHEMA,
        kind: "similarity",
        models: models
            .iter()
            .map(|m| m.path.display().to_string())
            .collect(),
        cosine,
        shared,
        differ,
    }
}
