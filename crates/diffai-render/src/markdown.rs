//! Markdown: a document that reads well as a GitHub pull-request comment — the files, a summary,
//! the changed entries in a table (collapsed when long), every analysis that ran.

use std::io::{self, Write};

use diffai_core::analysis::similarity::ModelMatrix;
use diffai_core::analysis::{Field, Finding};
use diffai_core::diff::dir::{DirReport, FileStatus};
use diffai_core::inspect::Inspection;
use diffai_core::report::{ChangeKind, FileInfo};
use diffai_core::Report;

use crate::numfmt::{num, size, thousands};
use crate::text::{entry_text, field_text, headline, LineStyle};
use crate::{review, RenderOptions, Renderer};

pub struct Markdown;

/// Tables longer than this many rows go inside a collapsed `<details>` block, so a pull-request
/// comment stays short (GitHub shows about this many rows on a screen).
pub const COLLAPSE_ROWS: usize = 20;

impl Renderer for Markdown {
    fn name(&self) -> &'static str {
        "markdown"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["md"]
    }

    fn render(&self, report: &Report, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "# diffai report\n")?;
        body(report, opts, "##", out)
    }

    fn render_dir(
        &self,
        report: &DirReport,
        opts: &RenderOptions,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        writeln!(out, "# diffai report: directories\n")?;
        writeln!(
            out,
            "**old:** {}  \n**new:** {}\n",
            cell(&report.old),
            cell(&report.new)
        )?;
        if opts.review_friendly {
            writeln!(out, "## Review summary\n")?;
            for s in review::dir_sentences(report) {
                writeln!(out, "- {}", cell(&s))?;
            }
            writeln!(out)?;
        }
        writeln!(out, "## Files\n")?;
        let rows: Vec<Vec<String>> = report
            .files
            .iter()
            .map(|f| {
                let detail = match (&f.report, &f.error, f.note) {
                    (Some(r), _, _) => format!("{} differences", r.summary.differences()),
                    (None, Some(e), _) => e.clone(),
                    (None, None, Some(note)) => note.to_string(),
                    _ => String::new(),
                };
                vec![code(&f.path), status_name(f.status).into(), cell(&detail)]
            })
            .collect();
        table(out, &["file", "status", "detail"], &rows, "files")?;
        for f in &report.files {
            if let (Some(r), FileStatus::Changed) = (&f.report, f.status) {
                writeln!(out, "## {}\n", cell(&f.path))?;
                let inner = RenderOptions {
                    review_friendly: false,
                    ..*opts
                };
                body(r, &inner, "###", out)?;
            }
        }
        Ok(())
    }

    fn render_matrix(
        &self,
        m: &ModelMatrix,
        _: &RenderOptions,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        writeln!(out, "# diffai: cosine similarity over shared parameters\n")?;
        let mut header = vec!["model".to_string()];
        header.extend((1..=m.models.len()).map(|i| i.to_string()));
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let rows: Vec<Vec<String>> = m
            .cosine
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let mut r = vec![format!("{} {}", i + 1, code(&m.models[i]))];
                r.extend(
                    row.iter()
                        .map(|c| c.map_or("n/a".into(), crate::numfmt::cosine)),
                );
                r
            })
            .collect();
        table(out, &header, &rows, "models")
    }

    fn render_inspection(
        &self,
        inspection: &Inspection,
        _: &RenderOptions,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        writeln!(out, "# diffai inspect\n")?;
        writeln!(out, "{}\n", file_line(&inspection.file))?;
        let rows: Vec<Vec<String>> = inspection
            .entries
            .iter()
            .map(|e| vec![code(&e.path), code(&entry_text(e))])
            .collect();
        table(out, &["path", "entry"], &rows, "entries")
    }
}

/// One report under headings of level `h` (`##`).
fn body(report: &Report, opts: &RenderOptions, h: &str, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "**old:** {}  \n**new:** {}\n",
        file_line(&report.old),
        file_line(&report.new)
    )?;
    if opts.review_friendly {
        writeln!(out, "{h} Review summary\n")?;
        for s in review::sentences(report) {
            writeln!(out, "- {}", cell(&s))?;
        }
        writeln!(out)?;
    }
    let s = &report.summary;
    writeln!(out, "{h} Summary\n")?;
    let counts = [
        s.added,
        s.removed,
        s.changed,
        s.reshaped,
        s.retyped,
        s.type_changed,
        s.unchanged,
    ];
    table(
        out,
        &[
            "added",
            "removed",
            "changed",
            "reshaped",
            "retyped",
            "type changed",
            "unchanged",
        ],
        &[counts.iter().map(|n| thousands(*n)).collect()],
        "counts",
    )?;
    if !report.security.is_empty() {
        writeln!(out, "{h} Security\n")?;
        for f in &report.security {
            writeln!(out, "- **{}:** {}", f.side, cell(&f.finding))?;
        }
        writeln!(out)?;
    }
    writeln!(out, "{h} Changes\n")?;
    if report.changes.is_empty() {
        writeln!(out, "No differences.\n")?;
    } else {
        let style = LineStyle::of(report);
        let rows: Vec<Vec<String>> = report
            .changes
            .iter()
            .map(|c| {
                let m = c.metrics.as_ref().map(|m| &m.0);
                vec![
                    kind_name(c.kind).into(),
                    code(&c.path),
                    code(&headline(c, style)),
                    m.map_or(String::new(), |m| num(m.rel_l2)),
                    m.and_then(|m| m.cosine).map_or(String::new(), num),
                ]
            })
            .collect();
        table(
            out,
            &["kind", "path", "change", "rel_l2", "cosine"],
            &rows,
            "changed entries",
        )?;
    }
    if !report.analyses.0.is_empty() {
        writeln!(out, "{h} Analyses\n")?;
        for (name, finding) in &report.analyses.0 {
            analysis(name, finding, h, out)?;
        }
    }
    Ok(())
}

/// One analysis: its fields as a two-column table, then its detail rows.
fn analysis(name: &str, f: &Finding, h: &str, out: &mut dyn Write) -> io::Result<()> {
    let verdict = match f.passed {
        Some(true) => " — passed",
        Some(false) => " — **failed**",
        None => "",
    };
    writeln!(out, "{h}# {name}{verdict}\n")?;
    let fields: Vec<Vec<String>> = f
        .fields
        .iter()
        .map(|(k, v)| vec![k.to_string(), cell(&field_text(v))])
        .collect();
    table(out, &["field", "value"], &fields, "fields")?;
    if f.rows.is_empty() {
        return Ok(());
    }
    // Columns: every key of any row, in order of first appearance.
    let mut keys: Vec<&str> = Vec::new();
    for row in &f.rows {
        for (k, _) in row {
            if !keys.contains(k) {
                keys.push(k);
            }
        }
    }
    let rows: Vec<Vec<String>> = f
        .rows
        .iter()
        .map(|row| {
            keys.iter()
                .map(|k| {
                    row.iter()
                        .find(|(name, _)| name == k)
                        .map_or(String::new(), |(_, v): &(_, Field)| cell(&field_text(v)))
                })
                .collect()
        })
        .collect();
    table(out, &keys, &rows, "rows")
}

/// A GitHub table, inside a collapsed `<details>` block when it has more than
/// [`COLLAPSE_ROWS`] rows (`what` names them in the summary line).
fn table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>], what: &str) -> io::Result<()> {
    let collapse = rows.len() > COLLAPSE_ROWS;
    if collapse {
        writeln!(
            out,
            "<details><summary>{} {what}</summary>\n",
            thousands(rows.len() as u64)
        )?;
    }
    writeln!(out, "| {} |", header.join(" | "))?;
    writeln!(out, "|{}", "---|".repeat(header.len()))?;
    for r in rows {
        writeln!(out, "| {} |", r.join(" | "))?;
    }
    writeln!(out)?;
    if collapse {
        writeln!(out, "</details>\n")?;
    }
    Ok(())
}

/// `path (format, size, N parameters)`.
fn file_line(f: &FileInfo) -> String {
    format!(
        "{} ({}, {}, {} parameters)",
        cell(&f.path),
        f.format,
        size(f.bytes),
        thousands(f.parameters)
    )
}

fn kind_name(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::Added => "added",
        ChangeKind::Removed => "removed",
        ChangeKind::Changed => "changed",
        ChangeKind::Reshaped => "reshaped",
        ChangeKind::Retyped => "retyped",
        ChangeKind::TypeChanged => "type changed",
        ChangeKind::Unchanged => "unchanged",
    }
}

fn status_name(s: FileStatus) -> &'static str {
    match s {
        FileStatus::Added => "added",
        FileStatus::Removed => "removed",
        FileStatus::Changed => "changed",
        FileStatus::Failed => "failed",
        FileStatus::Identical => "identical",
    }
}

/// A code span (paths, change lines): shown verbatim, only `|` escaped for the table.
pub fn code(s: &str) -> String {
    let s = s.replace('|', "\\|").replace(['\n', '\r'], " ");
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

/// Text safe in a table cell and in running Markdown: characters that would start markup are
/// escaped with a backslash, HTML's as entities, line breaks become spaces.
pub fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(ch);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_code_spans_escape_what_would_become_markup() {
        assert_eq!(cell("a|b_c*<d>&"), "a\\|b\\_c\\*&lt;d&gt;&amp;");
        assert_eq!(cell("two\nlines"), "two lines");
        assert_eq!(code("layers.0|x"), "`layers.0\\|x`");
        assert_eq!(code("a`b"), "`` a`b ``");
    }

    #[test]
    fn long_tables_collapse() {
        let rows: Vec<Vec<String>> = (0..=COLLAPSE_ROWS).map(|i| vec![i.to_string()]).collect();
        let mut out = Vec::new();
        table(&mut out, &["n"], &rows[..COLLAPSE_ROWS], "rows").unwrap();
        assert!(!String::from_utf8(out).unwrap().contains("<details>"));
        let mut out = Vec::new();
        table(&mut out, &["n"], &rows, "rows").unwrap();
        let md = String::from_utf8(out).unwrap();
        assert!(md.starts_with("<details><summary>21 rows</summary>\n\n| n |\n|---|\n| 0 |"));
        assert!(md.ends_with("</details>\n\n"));
    }
}
