//! The report: plain data, the only thing renderers see.

use serde::{Serialize, Serializer};

use crate::stats::{PairMetrics, SideStats};
use crate::value::Value;

/// Version tag of the JSON/YAML report layout.
pub const SCHEMA: &str = "diffai/1";

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub old: FileInfo,
    pub new: FileInfo,
    pub options: ReportOptions,
    pub summary: Summary,
    pub changes: Vec<Change>,
    /// Security findings in either input (a pickle naming code Python would run on load).
    pub security: Vec<SecurityFinding>,
    /// Results of the analyses that ran, by name, in registry order (empty unless asked for).
    pub analyses: crate::analysis::Analyses,
}

/// Something in an input that would be dangerous to load with its native library.
#[derive(Debug, Clone, Serialize)]
pub struct SecurityFinding {
    /// `old` or `new`.
    pub side: &'static str,
    pub finding: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    pub path: String,
    pub format: &'static str,
    /// Bytes on disk (over all shards of a sharded model).
    pub bytes: u64,
    /// Files read: 1, or the number of shards.
    pub files: usize,
    pub tensors: u64,
    /// Elements of all tensors except recognised buffers (see [`is_buffer`]).
    pub parameters: u64,
    /// Bytes of tensor data.
    pub tensor_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportOptions {
    #[serde(serialize_with = "json_f64")]
    pub epsilon: f64,
    #[serde(serialize_with = "json_f64")]
    pub rtol: f64,
}

/// Counts over every compared path (after filters), whether or not it is listed in `changes`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    pub reshaped: u64,
    pub retyped: u64,
    pub type_changed: u64,
    pub unchanged: u64,
    /// Entries whose values could not be decoded (see each change's `fallback`).
    pub fallbacks: u64,
    /// Parameter totals of the whole artifacts (as in `old.parameters` and `new.parameters`).
    pub parameters: OldNew,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct OldNew {
    pub old: u64,
    pub new: u64,
}

impl Summary {
    /// Number of differences: everything but `unchanged`.
    pub fn differences(&self) -> u64 {
        self.added + self.removed + self.changed + self.reshaped + self.retyped + self.type_changed
    }

    pub fn count(&mut self, kind: ChangeKind) {
        match kind {
            ChangeKind::Added => self.added += 1,
            ChangeKind::Removed => self.removed += 1,
            ChangeKind::Changed => self.changed += 1,
            ChangeKind::Reshaped => self.reshaped += 1,
            ChangeKind::Retyped => self.retyped += 1,
            ChangeKind::TypeChanged => self.type_changed += 1,
            ChangeKind::Unchanged => self.unchanged += 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    /// Same dtype and shape, values differ beyond the tolerance.
    Changed,
    /// Shape differs (the dtype may differ too).
    Reshaped,
    /// Same shape, different dtype.
    Retyped,
    /// A value changed kind (a number became a string, a tensor a map, …).
    TypeChanged,
    Unchanged,
}

impl ChangeKind {
    /// The text symbol: `+`, `-`, `~`, `!`, or a space for unchanged.
    pub fn symbol(self) -> char {
        match self {
            ChangeKind::Added => '+',
            ChangeKind::Removed => '-',
            ChangeKind::Changed => '~',
            ChangeKind::Reshaped | ChangeKind::Retyped | ChangeKind::TypeChanged => '!',
            ChangeKind::Unchanged => ' ',
        }
    }
}

/// One compared path.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Side>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Side>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    /// Set when something could not be computed, with the reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
}

impl Change {
    /// The number `--sort-by-change-magnitude` orders by.
    pub fn rel_l2(&self) -> Option<f64> {
        self.metrics.as_ref().map(|m| m.0.rel_l2)
    }
}

/// One side of a change: a tensor's description and statistics, or a plain value.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Side {
    Tensor(TensorSide),
    Value { value: Scalar },
}

impl Side {
    /// The statistics of a tensor side, when they were computed.
    pub fn stats(&self) -> Option<&SideStats> {
        match self {
            Side::Tensor(t) => t.stats.as_ref().map(|s| &s.0),
            Side::Value { .. } => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TensorSide {
    pub dtype: &'static str,
    pub shape: Vec<u64>,
    pub bytes: u64,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub stats: Option<Box<Stats>>,
}

/// Side statistics, serialised with non-finite numbers spelled as strings.
#[derive(Debug, Clone)]
pub struct Stats(pub SideStats);

/// Pair metrics, serialised with non-finite numbers spelled as strings.
#[derive(Debug, Clone)]
pub struct Metrics(pub PairMetrics);

#[derive(Debug, Clone, Serialize)]
pub struct Fallback {
    pub reason: String,
}

/// A leaf value as reports show it.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    /// Raw bytes, shown by length.
    Bytes(usize),
    /// An empty container, shown as `{}` or `[]`.
    EmptyMap,
    EmptyList,
}

impl Scalar {
    /// The report form of a leaf (`None` for tensors and non-empty containers).
    pub fn of(v: &Value) -> Option<Scalar> {
        Some(match v {
            Value::Null => Scalar::Null,
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Int(i) => Scalar::Int(*i),
            Value::Float(f) => Scalar::Float(*f),
            Value::Str(s) => Scalar::Str(s.clone()),
            Value::Bytes(b) => Scalar::Bytes(b.len()),
            Value::Map(m) if m.is_empty() => Scalar::EmptyMap,
            Value::List(l) if l.is_empty() => Scalar::EmptyList,
            _ => return None,
        })
    }
}

impl Serialize for Scalar {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Scalar::Null => s.serialize_unit(),
            Scalar::Bool(b) => s.serialize_bool(*b),
            Scalar::Int(i) => match i64::try_from(*i) {
                Ok(small) => s.serialize_i64(small),
                Err(_) => s.serialize_i128(*i),
            },
            Scalar::Float(f) => json_f64(f, s),
            Scalar::Str(t) => s.serialize_str(t),
            Scalar::Bytes(n) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("bytes", n)?;
                m.end()
            }
            Scalar::EmptyMap => s.serialize_map(Some(0))?.end(),
            Scalar::EmptyList => {
                use serde::ser::SerializeSeq;
                s.serialize_seq(Some(0))?.end()
            }
        }
    }
}

/// JSON has no NaN or infinity: they are written as the strings "NaN", "inf" and "-inf".
pub fn json_f64<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else if v.is_nan() {
        s.serialize_str("NaN")
    } else if *v > 0.0 {
        s.serialize_str("inf")
    } else {
        s.serialize_str("-inf")
    }
}

fn json_opt_f64<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) => json_f64(x, s),
        None => s.serialize_none(),
    }
}

impl Serialize for Stats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Part<'a> {
            #[serde(serialize_with = "json_opt_f64")]
            mean: &'a Option<f64>,
            #[serde(serialize_with = "json_opt_f64")]
            std: &'a Option<f64>,
            #[serde(serialize_with = "json_opt_f64")]
            min: &'a Option<f64>,
            #[serde(serialize_with = "json_opt_f64")]
            max: &'a Option<f64>,
        }
        #[derive(Serialize)]
        struct Out<'a> {
            numel: u64,
            finite: u64,
            #[serde(serialize_with = "json_opt_f64")]
            mean: &'a Option<f64>,
            #[serde(serialize_with = "json_opt_f64")]
            std: &'a Option<f64>,
            #[serde(serialize_with = "json_opt_f64")]
            min: &'a Option<f64>,
            #[serde(serialize_with = "json_opt_f64")]
            max: &'a Option<f64>,
            nan: u64,
            inf: u64,
            zero: u64,
            #[serde(serialize_with = "json_f64")]
            norm: &'a f64,
            #[serde(skip_serializing_if = "Option::is_none")]
            real: Option<Part<'a>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            imag: Option<Part<'a>>,
        }
        let st = &self.0;
        fn part(p: &crate::stats::PartStats) -> Part<'_> {
            Part {
                mean: &p.mean,
                std: &p.std,
                min: &p.min,
                max: &p.max,
            }
        }
        Out {
            numel: st.numel,
            finite: st.finite,
            mean: &st.mean,
            std: &st.std,
            min: &st.min,
            max: &st.max,
            nan: st.nan,
            inf: st.inf,
            zero: st.zero,
            norm: &st.norm,
            real: st.real.as_ref().map(part),
            imag: st.imag.as_ref().map(part),
        }
        .serialize(s)
    }
}

impl Serialize for Metrics {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            pairs: u64,
            #[serde(serialize_with = "json_f64")]
            max_abs: &'a f64,
            #[serde(serialize_with = "json_opt_f64")]
            mean_abs: &'a Option<f64>,
            #[serde(serialize_with = "json_f64")]
            norm_old: &'a f64,
            #[serde(serialize_with = "json_f64")]
            norm_new: &'a f64,
            #[serde(serialize_with = "json_f64")]
            norm_diff: &'a f64,
            #[serde(serialize_with = "json_f64")]
            rel_l2: &'a f64,
            #[serde(serialize_with = "json_opt_f64")]
            cosine: &'a Option<f64>,
            #[serde(serialize_with = "json_opt_f64")]
            one_minus_cos: &'a Option<f64>,
            changed: u64,
            #[serde(serialize_with = "json_opt_f64")]
            changed_fraction: &'a Option<f64>,
        }
        let m = &self.0;
        Out {
            pairs: m.pairs,
            max_abs: &m.max_abs,
            mean_abs: &m.mean_abs,
            norm_old: &m.norm_old,
            norm_new: &m.norm_new,
            norm_diff: &m.norm_diff,
            rel_l2: &m.rel_l2,
            cosine: &m.cosine,
            one_minus_cos: &m.one_minus_cos,
            changed: m.changed,
            changed_fraction: &m.changed_fraction,
        }
        .serialize(s)
    }
}

/// Tensor names that are buffers, not parameters (PyTorch BatchNorm running statistics).
pub const BUFFER_NAMES: &[&str] = &["running_mean", "running_var", "num_batches_tracked"];

/// Whether the last component of `path` names a buffer rather than a parameter.
pub fn is_buffer(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    BUFFER_NAMES.contains(&last)
}
