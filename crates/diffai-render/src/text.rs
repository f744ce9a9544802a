//! Text: the product documents' line format, `  ~ fc1.bias: mean=0.0018->0.0017, std=0.0518->0.0647`.
//!
//! `+` added, `-` removed, `~` changed, `!` reshaped/retyped/type changed; unchanged entries (only
//! listed with `--tensor-details`) have a blank symbol.

use std::io::{self, Write};

use diffai_core::analysis::similarity::ModelMatrix;
use diffai_core::analysis::Field;
use diffai_core::diff::dir::{DirReport, FileStatus};
use diffai_core::inspect::{Entry as InspectedEntry, Inspection};
use diffai_core::report::{Change, ChangeKind, Scalar, Side, TensorSide};
use diffai_core::stats::{PairMetrics, SideStats};
use diffai_core::tensor::format_shape;
use diffai_core::Report;

use crate::numfmt::{num, opt, percent, size, thousands};
use crate::{review, RenderOptions, Renderer};

pub struct Text;

/// Indentation of the `--tensor-details` lines under a change line.
const DETAIL_INDENT: &str = "      ";

impl Renderer for Text {
    fn name(&self) -> &'static str {
        "text"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["cli"]
    }

    fn render(&self, report: &Report, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
        if opts.review_friendly {
            for s in review::sentences(report) {
                writeln!(out, "review: {s}")?;
            }
        }
        for f in &report.security {
            let line = format!("  ! security ({}): {}", f.side, f.finding);
            if opts.color {
                writeln!(out, "\x1b[1;31m{line}\x1b[0m")?;
            } else {
                writeln!(out, "{line}")?;
            }
        }
        let style = LineStyle::of(report);
        for change in &report.changes {
            let mut lines = vec![format!(
                "  {} {}: {}",
                change.kind.symbol(),
                change.path,
                headline(change, style)
            )];
            if opts.tensor_details {
                lines.extend(
                    details(change)
                        .into_iter()
                        .map(|l| format!("{DETAIL_INDENT}{l}")),
                );
            }
            for line in lines {
                if opts.color {
                    writeln!(out, "{}{line}\x1b[0m", color(change.kind))?;
                } else {
                    writeln!(out, "{line}")?;
                }
            }
        }
        for (name, finding) in &report.analyses.0 {
            writeln!(out, "{name}: {}", fields_text(&finding.fields))?;
            if opts.tensor_details {
                for row in &finding.rows {
                    writeln!(out, "{DETAIL_INDENT}{}", fields_text(row))?;
                }
            }
        }
        Ok(())
    }

    /// `models:` with a number per model, then the matrix of cosines by those numbers.
    fn render_matrix(
        &self,
        m: &ModelMatrix,
        _: &RenderOptions,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        writeln!(out, "similarity_matrix: models={}", m.models.len())?;
        for (i, path) in m.models.iter().enumerate() {
            writeln!(out, "  [{}] {path}", i + 1)?;
        }
        for (i, row) in m.cosine.iter().enumerate() {
            let cells: Vec<String> = row
                .iter()
                .map(|c| c.map_or("n/a".into(), crate::numfmt::cosine))
                .map(|c| format!("{c:>10}"))
                .collect();
            writeln!(out, "  [{}] {}", i + 1, cells.join(" "))?;
        }
        Ok(())
    }

    /// One line per file that differs (`~ config.yaml`, `+ new.json`, `- old.csv`,
    /// `! bad.json: <error>`), each changed file followed by its own change lines; identical
    /// files only with `--tensor-details`.
    fn render_dir(
        &self,
        report: &DirReport,
        opts: &RenderOptions,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        if opts.review_friendly {
            for s in review::dir_sentences(report) {
                writeln!(out, "review: {s}")?;
            }
        }
        let opts = &RenderOptions {
            review_friendly: false,
            ..*opts
        };
        for f in &report.files {
            if f.status == FileStatus::Identical && !opts.tensor_details {
                continue;
            }
            let mut line = format!("{} {}", f.status.symbol(), f.path);
            if let Some(e) = &f.error {
                line.push_str(&format!(": {e}"));
            }
            if let Some(note) = f.note {
                line.push_str(&format!(" ({note})"));
            }
            if opts.color {
                writeln!(out, "\x1b[1m{}{line}\x1b[0m", file_color(f.status))?;
            } else {
                writeln!(out, "{line}")?;
            }
            if let Some(r) = &f.report {
                self.render(r, opts, out)?;
            }
        }
        Ok(())
    }

    fn render_inspection(
        &self,
        inspection: &Inspection,
        _: &RenderOptions,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let f = &inspection.file;
        writeln!(
            out,
            "{}: format={}, size={}, tensors={}, parameters={}",
            f.path,
            f.format,
            size(f.bytes),
            f.tensors,
            thousands(f.parameters)
        )?;
        for e in &inspection.entries {
            writeln!(out, "  {}: {}", e.path, entry_text(e))?;
        }
        Ok(())
    }
}

/// What `diffai inspect` says about one entry after its path.
pub(crate) fn entry_text(e: &InspectedEntry) -> String {
    let mut line = side_text(&e.side);
    if let Side::Tensor(t) = &e.side {
        line = describe_tensor(t, LineStyle::Model);
        if let Some(s) = stats(Some(t)) {
            line.push_str(&format!(
                ", mean={}, std={}, min={}, max={}, nan={}, inf={}, zero={}",
                opt(s.mean),
                opt(s.std),
                opt(s.min),
                opt(s.max),
                s.nan,
                s.inf,
                s.zero
            ));
        }
    }
    if let Some(fb) = &e.fallback {
        line.push_str(&format!(" (statistics unavailable: {})", fb.reason));
    }
    line
}

/// `key=value, key=value`: the text form of an analysis line (no `+`/`~` prefix).
fn fields_text(fields: &[(&'static str, Field)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Field::Text(t) if t.contains([' ', ',', '=']) => format!("{t:?}"),
                other => field_text(other),
            };
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One analysis value as the human-readable renderers print it.
pub(crate) fn field_text(f: &Field) -> String {
    match f {
        Field::Int(i) => i.to_string(),
        Field::Num(v) => num(*v),
        Field::Percent(v) => percent(*v),
        Field::Text(t) => t.clone(),
        Field::List(items) => format!("[{}]", items.join(", ")),
        Field::Missing(why) => format!("n/a ({why})"),
    }
}

/// ANSI colour of a change kind.
fn color(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Added => "\x1b[32m",
        ChangeKind::Removed => "\x1b[31m",
        ChangeKind::Changed => "\x1b[33m",
        ChangeKind::Reshaped | ChangeKind::Retyped | ChangeKind::TypeChanged => "\x1b[35m",
        ChangeKind::Unchanged => "\x1b[2m",
    }
}

/// ANSI colour of a file's status in `--recursive` output.
fn file_color(status: FileStatus) -> &'static str {
    match status {
        FileStatus::Added => color(ChangeKind::Added),
        FileStatus::Removed => color(ChangeKind::Removed),
        FileStatus::Changed => color(ChangeKind::Changed),
        FileStatus::Failed => "\x1b[31m",
        FileStatus::Identical => color(ChangeKind::Unchanged),
    }
}

fn tensor(side: &Option<Side>) -> Option<&TensorSide> {
    match side {
        Some(Side::Tensor(t)) => Some(t),
        _ => None,
    }
}

fn stats(t: Option<&TensorSide>) -> Option<&SideStats> {
    t.and_then(|t| t.stats.as_ref()).map(|s| &s.0)
}

/// The text after `path: ` on a change's first line.
/// How a changed tensor's line reads: the product documents show model files as
/// `mean=…, std=…`, NumPy arrays as `shape=[1000, 256], mean=…, std=…, dtype=float64` and MATLAB
/// variables as `var=results, shape=[500, 100], mean=…, std=…, dtype=double`.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum LineStyle {
    Model,
    Array,
    Matlab,
}

impl LineStyle {
    pub(crate) fn of(report: &Report) -> LineStyle {
        let (o, n) = (report.old.format, report.new.format);
        let array = |f: &str| matches!(f, "npy" | "npz");
        if array(o) && array(n) {
            LineStyle::Array
        } else if o.starts_with("matlab") && n.starts_with("matlab") {
            LineStyle::Matlab
        } else {
            LineStyle::Model
        }
    }

    /// The dtype as this style names it: MATLAB class names for MATLAB files.
    fn dtype(self, dtype: &str) -> &str {
        if self != LineStyle::Matlab {
            return dtype;
        }
        match dtype {
            "float64" | "complex128" => "double",
            "float32" | "complex64" => "single",
            "bool" => "logical",
            other => other,
        }
    }
}

pub(crate) fn headline(c: &Change, style: LineStyle) -> String {
    let (old, new) = (tensor(&c.old), tensor(&c.new));
    let mut parts: Vec<String> = Vec::new();
    match (old, new) {
        (Some(o), Some(n)) => {
            if o.shape != n.shape {
                parts.push(format!(
                    "shape={}->{}",
                    format_shape(&o.shape),
                    format_shape(&n.shape)
                ));
            }
            if o.dtype != n.dtype {
                parts.push(format!("dtype={}->{}", o.dtype, n.dtype));
            }
            let same_shape = o.shape == n.shape;
            // Reshaped tensors (a CSV column that gained rows) keep their statistics too.
            if let (Some(a), Some(b)) = (stats(old), stats(new)) {
                if same_shape && style == LineStyle::Matlab {
                    parts.push(format!("var={}", c.path));
                }
                if same_shape && style != LineStyle::Model {
                    parts.push(format!("shape={}", format_shape(&o.shape)));
                }
                parts.push(format!("mean={}->{}", opt(a.mean), opt(b.mean)));
                parts.push(format!("std={}->{}", opt(a.std), opt(b.std)));
                if same_shape && style != LineStyle::Model && o.dtype == n.dtype {
                    parts.push(format!("dtype={}", style.dtype(o.dtype)));
                }
                if a.nan + b.nan > 0 {
                    parts.push(format!("nan={}->{}", a.nan, b.nan));
                }
                if a.inf + b.inf > 0 {
                    parts.push(format!("inf={}->{}", a.inf, b.inf));
                }
            } else if same_shape && c.fallback.is_some() {
                parts.push(format!(
                    "dtype={}, shape={}, bytes differ",
                    o.dtype,
                    format_shape(&o.shape)
                ));
            }
        }
        (Some(t), None) | (None, Some(t)) if c.old.is_none() || c.new.is_none() => {
            if style == LineStyle::Matlab {
                parts.push(format!("var={}", c.path));
            }
            parts.push(describe_tensor(t, style));
        }
        _ => parts.push(match (&c.old, &c.new) {
            (Some(o), Some(n)) => format!("{} -> {}", side_text(o), side_text(n)),
            (Some(v), None) | (None, Some(v)) => side_text(v),
            (None, None) => String::new(),
        }),
    }
    let mut line = parts.join(", ");
    if let Some(f) = &c.fallback {
        line.push_str(&format!(" (statistics unavailable: {})", f.reason));
    }
    line
}

/// `shape=[100], dtype=float32, elements=100, size=0.39KB`
fn describe_tensor(t: &TensorSide, style: LineStyle) -> String {
    let numel: u64 = t.shape.iter().product();
    format!(
        "shape={}, dtype={}, elements={}, size={}",
        format_shape(&t.shape),
        style.dtype(t.dtype),
        numel,
        size(t.bytes)
    )
}

fn side_text(s: &Side) -> String {
    match s {
        Side::Tensor(t) => format!("tensor({})", describe_tensor(t, LineStyle::Model)),
        Side::Value { value } => scalar_text(value),
    }
}

/// A leaf as text: strings quoted JSON-style, numbers as written.
pub fn scalar_text(v: &Scalar) -> String {
    match v {
        Scalar::Null => "null".into(),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) if f.is_finite() => {
            let s = f.to_string();
            if s.contains(['.', 'e', 'E']) {
                s
            } else {
                format!("{s}.0")
            }
        }
        Scalar::Float(f) => num(*f),
        Scalar::Str(s) => serde_json::to_string(s).unwrap_or_default(),
        Scalar::Bytes(n) => format!("<{n} bytes>"),
        Scalar::EmptyMap => "{}".into(),
        Scalar::EmptyList => "[]".into(),
    }
}

/// The `--tensor-details` lines of a tensor change.
fn details(c: &Change) -> Vec<String> {
    let (old, new) = (tensor(&c.old), tensor(&c.new));
    let mut lines = Vec::new();
    let pair = |f: &dyn Fn(&SideStats) -> String| -> Option<String> {
        match (stats(old), stats(new)) {
            (Some(a), Some(b)) => Some(format!("{}->{}", f(a), f(b))),
            (Some(a), None) | (None, Some(a)) => Some(f(a)),
            (None, None) => None,
        }
    };
    if let (Some(t), true) = (old.or(new), old.is_some() && new.is_some()) {
        if old.map(|o| (&o.shape, o.dtype)) == new.map(|n| (&n.shape, n.dtype)) {
            lines.push(format!(
                "dtype={}, shape={}, elements={}, size={}",
                t.dtype,
                format_shape(&t.shape),
                t.shape.iter().product::<u64>(),
                size(t.bytes)
            ));
        }
    }
    if let (Some(mn), Some(mx)) = (pair(&|s| opt(s.min)), pair(&|s| opt(s.max))) {
        let one_sided = c.old.is_none() || c.new.is_none();
        let mut l = String::new();
        if one_sided {
            let s = stats(old.or(new)).expect("pair() found stats");
            l.push_str(&format!("mean={}, std={}, ", opt(s.mean), opt(s.std)));
        }
        l.push_str(&format!("min={mn}, max={mx}"));
        for (name, f) in [
            (
                "nan",
                &(|s: &SideStats| s.nan.to_string()) as &dyn Fn(&SideStats) -> String,
            ),
            ("inf", &|s: &SideStats| s.inf.to_string()),
            ("zero", &|s: &SideStats| s.zero.to_string()),
            ("norm", &|s: &SideStats| num(s.norm)),
        ] {
            if let Some(v) = pair(f) {
                l.push_str(&format!(", {name}={v}"));
            }
        }
        lines.push(l);
    }
    if let Some(m) = &c.metrics {
        lines.push(metrics_line(&m.0, stats(old).map_or(0, |s| s.numel)));
    }
    lines
}

fn metrics_line(m: &PairMetrics, numel: u64) -> String {
    format!(
        "max_abs={}, mean_abs={}, rel_l2={}, cosine={}, 1-cos={}, changed={}/{} ({})",
        num(m.max_abs),
        opt(m.mean_abs),
        num(m.rel_l2),
        opt(m.cosine),
        opt(m.one_minus_cos),
        m.changed,
        numel,
        m.changed_fraction.map_or("n/a".into(), percent)
    )
}
