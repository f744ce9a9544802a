//! `--review-friendly`: a few plain-language sentences for a reviewer — what changed, how much,
//! anything alarming — built only from the report's computed numbers. Every renderer that shows
//! the summary takes its sentences from here.

use diffai_core::analysis::Field;
use diffai_core::diff::dir::{DirReport, FileStatus};
use diffai_core::report::{ChangeKind, Side};
use diffai_core::Report;

use crate::numfmt::{num, thousands};

/// A tensor whose relative L2 change exceeds this is called a large change: a tenth of its
/// norm, the same line `--max-rel-l2` draws by default for the whole model.
pub const LARGE_REL_L2: f64 = 0.1;

/// Tensors named as the largest changes.
const LARGEST: usize = 3;

/// The sentences, in reading order.
pub fn sentences(report: &Report) -> Vec<String> {
    let s = &report.summary;
    let mut out = Vec::new();
    if s.differences() == 0 {
        out.push(format!(
            "No differences: {} compared entries are the same.",
            thousands(s.unchanged)
        ));
    } else {
        let parts: Vec<String> = [
            (s.changed, "changed"),
            (s.added, "added"),
            (s.removed, "removed"),
            (s.reshaped, "reshaped"),
            (s.retyped, "changed dtype"),
            (s.type_changed, "changed kind"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{} {what}", thousands(*n)))
        .collect();
        out.push(format!(
            "{} of {} compared entries differ: {}.",
            thousands(s.differences()),
            thousands(s.differences() + s.unchanged),
            parts.join(", ")
        ));
    }
    let p = &s.parameters;
    if p.old != p.new {
        let pct = if p.old > 0 {
            format!(
                " ({:+.2} %)",
                100.0 * (p.new as f64 - p.old as f64) / p.old as f64
            )
        } else {
            String::new()
        };
        out.push(format!(
            "Parameters: {} -> {}{pct}.",
            thousands(p.old),
            thousands(p.new)
        ));
    }
    let mut measured: Vec<(&str, f64)> = report
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Changed)
        .filter_map(|c| Some((c.path.as_str(), c.rel_l2()?)))
        .filter(|(_, r)| !r.is_nan())
        .collect();
    measured.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    if !measured.is_empty() {
        let named: Vec<String> = measured
            .iter()
            .take(LARGEST)
            .map(|(p, r)| format!("{p} (rel_l2 {})", num(*r)))
            .collect();
        let large = measured.iter().filter(|(_, r)| *r > LARGE_REL_L2).count();
        out.push(format!(
            "Largest changes: {}; {large} of {} changed tensors moved by more than {} of their norm.",
            named.join(", "),
            measured.len(),
            LARGE_REL_L2
        ));
    }
    out.extend(alarms(report));
    out
}

/// What a reviewer must not miss: security findings, NaN/Inf that appeared, failed gates and
/// the anomaly analysis's findings.
fn alarms(report: &Report) -> Vec<String> {
    let mut out = Vec::new();
    for f in &report.security {
        out.push(format!("Security ({}): {}", f.side, f.finding));
    }
    let non_finite: Vec<&str> = report
        .changes
        .iter()
        .filter(|c| {
            let bad = |s: &Option<Side>| match s {
                Some(Side::Tensor(t)) => t.stats.as_ref().map_or(0, |s| s.0.nan + s.0.inf),
                _ => 0,
            };
            bad(&c.new) > bad(&c.old)
        })
        .map(|c| c.path.as_str())
        .collect();
    if !non_finite.is_empty() {
        out.push(format!(
            "Alarm: NaN or Inf appeared in {} tensor(s): {}.",
            non_finite.len(),
            non_finite.join(", ")
        ));
    }
    for (name, finding) in &report.analyses.0 {
        if finding.passed == Some(false) {
            let failed = match finding.fields.iter().find(|(k, _)| *k == "failed") {
                Some((_, Field::List(checks))) => checks.join(", "),
                _ => String::from("see its checks"),
            };
            out.push(format!("Gate {name} failed: {failed}."));
        }
        if *name == "anomaly_detection" {
            if let Some((_, Field::Int(n))) = finding.fields.iter().find(|(k, _)| *k == "affected")
            {
                if *n > 0 {
                    out.push(format!("Anomaly detection flagged {n} tensor(s)."));
                }
            }
        }
    }
    out
}

/// The sentences for a directory comparison: counts of files, then each differing file's own.
pub fn dir_sentences(report: &DirReport) -> Vec<String> {
    let count = |st: FileStatus| report.files.iter().filter(|f| f.status == st).count();
    let mut out = vec![format!(
        "{} files compared: {} changed, {} added, {} removed, {} failed, {} identical.",
        report.files.len(),
        count(FileStatus::Changed),
        count(FileStatus::Added),
        count(FileStatus::Removed),
        count(FileStatus::Failed),
        count(FileStatus::Identical)
    )];
    for f in &report.files {
        if let (Some(r), FileStatus::Changed) = (&f.report, f.status) {
            for s in sentences(r) {
                out.push(format!("{}: {s}", f.path));
            }
        }
    }
    out
}
