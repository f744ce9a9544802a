//! `--similarity-matrix`: the cosine similarity of every shared same-shape tensor, and the 2 × 2
//! matrix of the two models' cosine over all shared parameters (more models need a directory of
//! checkpoints, which this flag does not read yet).

use super::tensors::{entries, old_norms_sq, Entry, Match};
use super::{Analysis, Field, Finding, Input};

pub struct Similarity;

impl Analysis for Similarity {
    fn name(&self) -> &'static str {
        "similarity_matrix"
    }

    fn flag(&self) -> &'static str {
        "similarity-matrix"
    }

    fn help(&self) -> &'static str {
        "cosine similarity per shared tensor and of the whole models over their shared parameters"
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
