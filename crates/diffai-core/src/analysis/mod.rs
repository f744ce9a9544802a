//! Analyses (`--show-structure`, `--quantization-analysis`, …): each one file behind the
//! [`Analysis`] trait, registered in [`ANALYSES`] in the order reports list them. Every number
//! comes from the inputs through the formula in ANALYSES.md; where the inputs lack what an
//! analysis needs, it says what is missing instead of a number.

pub mod anomaly;
pub mod architecture;
pub mod attention;
pub mod change_summary;
mod clustering;
pub mod distribution;
pub mod embedding;
pub mod gates;
pub mod gradient;
pub mod hyperparameters;
pub mod inference_speed;
mod layer_impact;
pub mod learning_progress;
pub mod learning_rate;
mod linalg;
pub mod low_rank;
mod memory;
pub mod metadata;
mod metrics;
mod param_efficiency;
mod performance_impact;
pub mod quantization;
mod show_size_reduction;
mod show_structure;
mod significance;
pub mod similarity;
pub mod tensors;
pub mod weights;

use std::sync::OnceLock;

use rayon::prelude::*;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::artifact::Artifact;
use crate::diff::Options;
use crate::report::{json_f64, Report};
use crate::value::Value;

/// What an analysis reads: both artifacts, the options of the diff (its filters apply to the
/// analyses too) and the finished diff.
pub struct Input<'a> {
    pub old: &'a Artifact,
    pub new: &'a Artifact,
    pub options: &'a Options,
    pub report: &'a Report,
    pub settings: &'a Settings,
    /// What several analyses start from, derived on first use and then shared: each analysis
    /// walking a large tree again cost as much as the diff (a 23 MB JSON pair: 4.7 s for all
    /// analyses vs 0.8 s plain).
    derived: Derived<'a>,
}

#[derive(Default)]
struct Derived<'a> {
    entries: OnceLock<Vec<tensors::Entry<'a>>>,
    leaves: [OnceLock<Vec<(String, &'a Value)>>; 2],
}

impl<'a> Input<'a> {
    pub fn new(
        old: &'a Artifact,
        new: &'a Artifact,
        options: &'a Options,
        report: &'a Report,
        settings: &'a Settings,
    ) -> Self {
        Input {
            old,
            new,
            options,
            report,
            settings,
            derived: Derived::default(),
        }
    }

    /// Every leaf of the old (`true`) or new artifact with its path, in tree order.
    pub fn leaves(&self, old: bool) -> &[(String, &'a Value)] {
        let (cell, a) = if old {
            (&self.derived.leaves[0], self.old)
        } else {
            (&self.derived.leaves[1], self.new)
        };
        cell.get_or_init(|| a.root.leaves())
    }
}

/// What the analyses take from the command line: gate thresholds, the head count, metric side
/// files and which metrics are better higher or lower.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest global `rel_l2` of the model weights a gate accepts (0.1: a tenth of the weights'
    /// norm, far beyond a fine-tune step, well within a retraining).
    pub max_rel_l2: f64,
    /// Largest relative change of the parameter count (0: the architecture must not change).
    pub max_param_change: f64,
    /// Largest relative growth of the file size (0.1: ten percent).
    pub max_size_growth: f64,
    /// `--param-efficiency-analysis` counts weights with `|w| < τ·std(w)` as near zero (0.01: a
    /// hundredth of the tensor's spread, where pruning studies find weights removable).
    pub small_weight_tau: f64,
    /// Most elements `--low-rank-analysis` sketches in one run (`--low-rank-max-elements`; 0: no
    /// limit), so its time stays bounded on any model: matrices are taken most-changed first.
    pub low_rank_max_elements: u64,
    /// Attention heads (`--num-heads`); else read from the inputs' metadata, never guessed.
    pub num_heads: Option<usize>,
    /// `--metrics FILE` side files (JSON/YAML, e.g. a `trainer_state.json`) for old and new.
    pub metrics_old: Option<crate::value::Value>,
    pub metrics_new: Option<crate::value::Value>,
    /// Metric names (substrings of their paths) that are better higher / lower.
    pub higher_is_better: Vec<String>,
    pub lower_is_better: Vec<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            max_rel_l2: 0.1,
            max_param_change: 0.0,
            max_size_growth: 0.1,
            small_weight_tau: 0.01,
            low_rank_max_elements: low_rank::MAX_ELEMENTS,
            num_heads: None,
            metrics_old: None,
            metrics_new: None,
            higher_is_better: Vec::new(),
            lower_is_better: Vec::new(),
        }
    }
}

/// One analysis.
pub trait Analysis: Sync {
    /// Its key under `analyses` and the start of its text line (`show_size_reduction`).
    fn name(&self) -> &'static str;
    /// The command-line flag that asks for it, without dashes (`show-size-reduction`).
    fn flag(&self) -> &'static str;
    /// One line of what it computes, for `--help`.
    fn help(&self) -> &'static str;
    fn run(&self, input: &Input) -> Finding;
}

/// Every analysis, in report order.
pub static ANALYSES: &[&dyn Analysis] = &[
    &show_structure::ShowStructure,
    &change_summary::ChangeSummary,
    &layer_impact::LayerImpact,
    &distribution::Distribution,
    &show_size_reduction::ShowSizeReduction,
    &memory::Memory,
    &param_efficiency::ParamEfficiency,
    &quantization::Quantization,
    &anomaly::Anomaly,
    &architecture::Architecture,
    &inference_speed::InferenceSpeed,
    &performance_impact::PerformanceImpact,
    &similarity::Similarity,
    &gradient::Gradient,
    &embedding::Embedding,
    &clustering::ClusteringChange,
    &low_rank::LowRank,
    &attention::AttentionAnalysis,
    &attention::HeadImportance,
    &attention::AttentionPatternDiff,
    &learning_progress::LearningProgress,
    &learning_progress::Convergence,
    &learning_rate::LearningRate,
    &metrics::LearningCurve,
    &metrics::MetricComparison,
    &significance::Significance,
    &hyperparameters::HyperparameterComparison,
    &hyperparameters::HyperparameterImpact,
    &gates::RegressionTest,
    &gates::AlertOnDegradation,
    &gates::DeploymentReadiness,
    &gates::RiskAssessment,
];

/// The analysis a flag names.
pub fn by_flag(flag: &str) -> Option<&'static dyn Analysis> {
    ANALYSES.iter().copied().find(|a| a.flag() == flag)
}

/// Runs the analyses whose flags are given, side by side on the thread pool (most of them are
/// single-threaded), their results in registry order (rayon's collect keeps it); their working
/// memory adds up instead of only the largest one's counting.
pub fn run(flags: &[&str], input: &Input) -> Analyses {
    Analyses(
        ANALYSES
            .par_iter()
            .filter(|a| flags.contains(&a.flag()))
            .map(|a| (a.name(), a.run(input)))
            .collect(),
    )
}

/// The results of the analyses that ran, in registry order; a JSON object keyed by name.
#[derive(Debug, Clone, Default)]
pub struct Analyses(pub Vec<(&'static str, Finding)>);

impl Analyses {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Analyses {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (name, finding) in &self.0 {
            m.serialize_entry(name, finding)?;
        }
        m.end()
    }
}

/// One row of a finding's detail: named values.
pub type Row = Vec<(&'static str, Field)>;

/// What an analysis found: the named values of its text line, in order, and optionally more
/// detail (tables) for JSON/YAML and the detailed text view.
#[derive(Debug, Clone, Default)]
pub struct Finding {
    pub fields: Vec<(&'static str, Field)>,
    /// A gate's verdict: `Some(false)` when one of its checks failed (the run exits 3).
    pub passed: Option<bool>,
    /// Rows of detail (per tensor, per layer…), each a list of named values.
    pub rows: Vec<Row>,
}

impl Finding {
    pub fn field(mut self, name: &'static str, value: impl Into<Field>) -> Finding {
        self.fields.push((name, value.into()));
        self
    }
}

/// One named value of a finding.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Int(i128),
    Num(f64),
    /// A fraction shown as a percentage in text (`0.25` → `25.00%`), kept as the fraction in JSON.
    Percent(f64),
    Text(String),
    /// A list of names (paths, tensor names).
    List(Vec<String>),
    /// What is missing for this value to be computed.
    Missing(String),
}

impl From<u64> for Field {
    fn from(v: u64) -> Field {
        Field::Int(v as i128)
    }
}

impl From<usize> for Field {
    fn from(v: usize) -> Field {
        Field::Int(v as i128)
    }
}

impl From<f64> for Field {
    fn from(v: f64) -> Field {
        Field::Num(v)
    }
}

impl From<&str> for Field {
    fn from(v: &str) -> Field {
        Field::Text(v.to_string())
    }
}

impl From<String> for Field {
    fn from(v: String) -> Field {
        Field::Text(v)
    }
}

impl Serialize for Field {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Int(i) => match i64::try_from(*i) {
                Ok(small) => s.serialize_i64(small),
                Err(_) => s.serialize_i128(*i),
            },
            Field::Num(v) | Field::Percent(v) => json_f64(v, s),
            Field::Text(t) => s.serialize_str(t),
            Field::List(l) => l.serialize(s),
            Field::Missing(why) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("missing", why)?;
                m.end()
            }
        }
    }
}

/// A finding is an object of its fields (then `rows`, when there are any).
impl Serialize for Finding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Row<'a>(&'a [(&'static str, Field)]);
        impl Serialize for Row<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        let extra = usize::from(!self.rows.is_empty());
        let mut m = s.serialize_map(Some(self.fields.len() + extra))?;
        for (k, v) in &self.fields {
            m.serialize_entry(k, v)?;
        }
        if !self.rows.is_empty() {
            let rows: Vec<Row> = self.rows.iter().map(|r| Row(r)).collect();
            m.serialize_entry("rows", &rows)?;
        }
        m.end()
    }
}

/// `new / old - 1` as a fraction, `None` when `old` is 0.
pub fn relative_change(old: f64, new: f64) -> Option<f64> {
    (old != 0.0).then(|| new / old - 1.0)
}
