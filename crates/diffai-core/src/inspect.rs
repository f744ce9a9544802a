//! `diffai inspect FILE`: one artifact's leaves with per-tensor statistics.

use serde::Serialize;

use crate::artifact::Artifact;
use crate::diff::file_info;
use crate::report::{Fallback, FileInfo, Scalar, Side, Stats, TensorSide};
use crate::stats::{self, Job, Outcome, Progress};
use crate::value::Value;

/// Version tag of the inspect JSON/YAML layout.
pub const INSPECT_SCHEMA: &str = "diffai-inspect/1";

#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub schema: &'static str,
    pub file: FileInfo,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub path: String,
    #[serde(flatten)]
    pub side: Side,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
}

pub fn inspect(a: &Artifact, progress: Option<&Progress>) -> Inspection {
    let leaves = a.root.leaves();
    let jobs: Vec<Job> = leaves
        .iter()
        .filter_map(|(_, v)| match v {
            Value::Tensor(t) => Some(Job::Single(t)),
            _ => None,
        })
        .collect();
    let mut outcomes = stats::compute(&jobs, Default::default(), progress).into_iter();
    let entries = leaves
        .into_iter()
        .map(|(path, v)| match v {
            Value::Tensor(t) => {
                let (stats, fallback) = match outcomes.next() {
                    Some(Outcome::Single(s)) => (Some(Box::new(Stats(s))), None),
                    Some(Outcome::Unsupported(reason)) => (None, Some(Fallback { reason })),
                    _ => (None, None),
                };
                Entry {
                    path,
                    side: Side::Tensor(TensorSide {
                        dtype: t.dtype.name(),
                        shape: t.shape.clone(),
                        bytes: t.byte_len(),
                        stats,
                    }),
                    fallback,
                }
            }
            other => Entry {
                path,
                side: Side::Value {
                    value: Scalar::of(other).unwrap_or(Scalar::Null),
                },
                fallback: None,
            },
        })
        .collect();
    Inspection {
        schema: INSPECT_SCHEMA,
        file: file_info(a),
        entries,
    }
}
