//! HTML: one self-contained HTML5 document per report. All CSS and JavaScript are inline, charts
//! are inline SVG drawn here from the report's numbers, and nothing is fetched from the network
//! (a Content-Security-Policy forbids it). Without JavaScript everything shows; the small inline
//! script only adds sorting (click a column header) and filtering (the path box).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use diffai_core::analysis::similarity::ModelMatrix;
use diffai_core::analysis::weights::layer_of;
use diffai_core::analysis::{Field, Finding, Row};
use diffai_core::diff::dir::{DirReport, FileEntry};
use diffai_core::inspect::Inspection;
use diffai_core::report::{Change, ChangeKind, FileInfo, Side, TensorSide};
use diffai_core::stats::SideStats;
use diffai_core::tensor::format_shape;
use diffai_core::Report;

use crate::numfmt::{num, opt, percent, size, thousands};
use crate::text::scalar_text;
use crate::{RenderOptions, Renderer};

pub struct Html;

/// Rows of one analysis table that are written (200: enough to read, and it keeps the page of a
/// 1 GB model with every analysis far under 2 MB); the rest are counted in a note.
pub const MAX_ANALYSIS_ROWS: usize = 200;
/// Detail tables longer than this many rows start collapsed in a `<details>`.
const COLLAPSE_ROWS: usize = 20;
/// Histograms drawn: those of the most changed tensors (6 fit two rows of a laptop screen).
pub const MAX_HISTOGRAMS: usize = 6;
/// Bars of the per-layer chart (40 bars at [`BAR_PX`] are about one screen high).
pub const MAX_LAYER_BARS: usize = 40;
/// Tensors in the per-tensor similarity strip: the least similar first.
pub const MAX_SIMILARITY_CELLS: usize = 40;
/// Characters of a chart label before it is shortened (the full name stays in its `<title>`).
const LABEL_CHARS: usize = 34;

/// SVG geometry, in CSS pixels.
const CHART_PX: f64 = 720.0;
const LABEL_PX: f64 = 230.0;
const VALUE_PX: f64 = 90.0;
const BAR_PX: f64 = 18.0;
const GAP_PX: f64 = 4.0;
const HIST_W_PX: f64 = 320.0;
const HIST_H_PX: f64 = 150.0;
const CELL_PX: f64 = 70.0;

/// Colours of the old and the new side in every chart.
const OLD_COLOUR: &str = "#4c78a8";
const NEW_COLOUR: &str = "#f58518";

const CSS: &str = r#"
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--head:#f6f8fa;--add:#1a7f37;--del:#cf222e;--chg:#9a6700;--shape:#8250df}
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg);line-height:1.45}
.wrap{max-width:1200px;margin:0 auto;padding:1rem 1.25rem 3rem}
h1{font-size:1.4rem;margin:.5rem 0 1rem}h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid var(--line);padding-bottom:.25rem}h3{font-size:1.05rem;margin:1.25rem 0 .4rem}
code,.mono,td.path{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.88rem;margin:.25rem 0 .75rem}
th,td{border:1px solid var(--line);padding:.2rem .45rem;text-align:left;vertical-align:top}
th{background:var(--head);white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th[data-sort]{cursor:pointer}th[aria-sort=ascending]::after{content:" \25B2"}th[aria-sort=descending]::after{content:" \25BC"}
tr.added td.kind{color:var(--add)}tr.removed td.kind{color:var(--del)}tr.changed td.kind{color:var(--chg)}
tr.reshaped td.kind,tr.retyped td.kind,tr.type_changed td.kind{color:var(--shape)}
.security{border:2px solid var(--del);padding:.5rem 1rem;background:#fff5f5}
.pass{color:var(--add);font-weight:600}.fail{color:var(--del);font-weight:600}
.note{color:var(--muted);font-size:.88rem}
.filter{margin:.25rem 0;padding:.3rem .5rem;width:min(28rem,100%);font:inherit}
figure{margin:1rem 0}figcaption{color:var(--muted);font-size:.88rem;margin-bottom:.25rem}
svg{max-width:100%;height:auto;font-family:inherit}svg text{font-size:11px;fill:var(--fg)}
.hists{display:flex;flex-wrap:wrap;gap:.5rem}
.legend span{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 .8em;vertical-align:middle}
@media print{.filter{display:none}.wrap{max-width:none;padding:0}.scroll{overflow:visible}
details>*{display:block}details:not([open])>summary~*{display:block}tr,figure{break-inside:avoid}a{color:inherit}}
"#;

const SCRIPT: &str = r#"
(function(){
function key(cell,numeric){
  var v=cell.getAttribute('data-value');
  if(numeric){return v===null||v===''?NaN:parseFloat(v);}
  return (v!==null?v:cell.textContent).toLowerCase();
}
function sortBy(th){
  var table=th.closest('table'),body=table.tBodies[0];
  var idx=Array.prototype.indexOf.call(th.parentNode.children,th);
  var numeric=th.getAttribute('data-sort')==='num';
  var dir=th.getAttribute('aria-sort')==='ascending'?-1:1;
  Array.prototype.forEach.call(th.parentNode.children,function(h){h.removeAttribute('aria-sort');});
  th.setAttribute('aria-sort',dir===1?'ascending':'descending');
  var rows=Array.prototype.slice.call(body.rows);
  rows.sort(function(a,b){
    var x=key(a.cells[idx],numeric),y=key(b.cells[idx],numeric);
    if(numeric){
      if(isNaN(x)||isNaN(y)){return isNaN(x)-isNaN(y);}
      return x===y?0:(x<y?-dir:dir);
    }
    return x===y?0:(x<y?-dir:dir);
  });
  rows.forEach(function(r){body.appendChild(r);});
}
Array.prototype.forEach.call(document.querySelectorAll('th[data-sort]'),function(th){
  th.tabIndex=0;
  th.addEventListener('click',function(){sortBy(th);});
  th.addEventListener('keydown',function(e){if(e.key==='Enter'){sortBy(th);}});
});
Array.prototype.forEach.call(document.querySelectorAll('input.filter'),function(box){
  var table=document.getElementById(box.getAttribute('data-table'));
  if(!table){return;}
  box.hidden=false;
  box.addEventListener('input',function(){
    var q=box.value.toLowerCase();
    Array.prototype.forEach.call(table.tBodies[0].rows,function(r){
      r.hidden=q!==''&&(r.getAttribute('data-path')||'').toLowerCase().indexOf(q)<0;
    });
  });
});
window.addEventListener('beforeprint',function(){
  Array.prototype.forEach.call(document.querySelectorAll('details'),function(d){d.open=true;});
});
})();
"#;

impl Renderer for Html {
    fn name(&self) -> &'static str {
        "html"
    }

    fn render(&self, report: &Report, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
        let title = format!("diffai: {} → {}", report.old.path, report.new.path);
        let mut body = String::new();
        let _ = write!(body, "<h1>{}</h1>", esc(&title));
        report_body(&mut body, report, opts, "");
        document(&title, &body, out)
    }

    fn render_matrix(
        &self,
        m: &ModelMatrix,
        _: &RenderOptions,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let title = format!("diffai: similarity of {} models", m.models.len());
        let mut body = String::new();
        let _ = write!(body, "<h1>{}</h1>", esc(&title));
        matrix_body(&mut body, m);
        document(&title, &body, out)
    }

    fn render_inspection(
        &self,
        inspection: &Inspection,
        _: &RenderOptions,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let title = format!("diffai inspect: {}", inspection.file.path);
        let mut body = String::new();
        let _ = write!(body, "<h1>{}</h1>", esc(&title));
        inspection_body(&mut body, inspection);
        document(&title, &body, out)
    }

    fn render_dir(
        &self,
        report: &DirReport,
        opts: &RenderOptions,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let title = format!("diffai: {} → {}", report.old, report.new);
        let mut body = String::new();
        let _ = write!(body, "<h1>{}</h1>", esc(&title));
        dir_body(&mut body, report, opts);
        document(&title, &body, out)
    }
}

/// `--similarity-matrix` over several models: the matrix as a table, each cell shaded from white
/// (cosine 1) to red (the lowest cosine of the matrix), with the exact value in its `data-value`.
fn matrix_body(out: &mut String, m: &ModelMatrix) {
    out.push_str("<h2>Cosine similarity over shared parameters</h2>\n");
    out.push_str("<div class=\"scroll\"><table id=\"model-matrix\"><thead><tr><th></th>");
    for (i, _) in m.models.iter().enumerate() {
        let _ = write!(out, "<th>{}</th>", i + 1);
    }
    out.push_str("</tr></thead><tbody>\n");
    let low = m
        .cosine
        .iter()
        .flatten()
        .flatten()
        .fold(1.0f64, |a, b| a.min(*b));
    for (i, row) in m.cosine.iter().enumerate() {
        let _ = write!(out, "<tr><th>{} {}</th>", i + 1, esc(&m.models[i]));
        for c in row {
            match c {
                Some(c) => {
                    let t = if low < 1.0 {
                        (1.0 - c) / (1.0 - low)
                    } else {
                        0.0
                    };
                    let _ = write!(
                        out,
                        "<td class=\"num\" data-value=\"{c}\" style=\"background:{}\">{}</td>",
                        heat(t),
                        crate::numfmt::cosine(*c)
                    );
                }
                None => out.push_str("<td>n/a</td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

/// The page around `body`: head, inline CSS, inline script.
fn document(title: &str, body: &str, out: &mut dyn Write) -> io::Result<()> {
    let mut page = String::with_capacity(body.len() + CSS.len() + SCRIPT.len() + 512);
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // Nothing may be loaded from anywhere: only the inline style and script run.
    page.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n",
    );
    let _ = writeln!(page, "<title>{}</title>", esc(title));
    let _ = writeln!(
        page,
        "<style>{CSS}</style>\n</head>\n<body>\n<main class=\"wrap\">"
    );
    page.push_str(body);
    let _ = write!(
        page,
        "\n</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    );
    out.write_all(page.as_bytes())
}

/// Text made safe for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number for a `data-value` attribute: what JavaScript's `parseFloat` reads back exactly.
fn data_num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{v}")
    }
}

/// The id of an element of one report: `chart-layers`, or `chart-layers-f3` in a directory page.
fn id(base: &str, suffix: &str) -> String {
    format!("{base}{suffix}")
}

// ---------------------------------------------------------------------------------------------
// Tables

/// A column of a sortable table: its header and whether it sorts as numbers.
struct Col<'a> {
    name: &'a str,
    numeric: bool,
}

fn col(name: &str, numeric: bool) -> Col<'_> {
    Col { name, numeric }
}

fn table_head(out: &mut String, table_id: Option<&str>, cols: &[Col]) {
    out.push_str("<div class=\"scroll\"><table class=\"sortable\"");
    if let Some(i) = table_id {
        let _ = write!(out, " id=\"{}\"", esc(i));
    }
    out.push_str("><thead><tr>");
    for c in cols {
        let kind = if c.numeric { "num" } else { "text" };
        let _ = write!(out, "<th data-sort=\"{kind}\">{}</th>", esc(c.name));
    }
    out.push_str("</tr></thead><tbody>\n");
}

fn table_end(out: &mut String) {
    out.push_str("</tbody></table></div>\n");
}

/// A text cell.
fn td(out: &mut String, text: &str) {
    let _ = write!(out, "<td>{}</td>", esc(text));
}

/// A numeric cell: `text` shown, `value` sorted by (none: sorts last).
fn td_num(out: &mut String, text: &str, value: Option<f64>) {
    let v = value.map(data_num).unwrap_or_default();
    let _ = write!(
        out,
        "<td class=\"num\" data-value=\"{v}\">{}</td>",
        esc(text)
    );
}

/// `a → b` (statistics: both shown even when they print alike), or the one that exists.
fn arrow(a: Option<String>, b: Option<String>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{a} → {b}"),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => String::new(),
    }
}

/// `a → b`, or one of them when they are equal or only one exists.
fn old_new(a: Option<String>, b: Option<String>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if a == b => a,
        (Some(a), Some(b)) => format!("{a} → {b}"),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// A diff report

fn report_body(out: &mut String, report: &Report, opts: &RenderOptions, suffix: &str) {
    if opts.review_friendly {
        review_summary(out, &crate::review::sentences(report));
    }
    files_table(out, &report.old, &report.new);
    summary_table(out, report);
    security(out, report);
    // Charts before the long table: the overview first, the rows to sort and filter after.
    if opts.include_charts {
        charts(out, report, suffix);
    }
    tensor_table(out, report, suffix);
    for (name, finding) in &report.analyses.0 {
        analysis(out, name, finding, suffix);
    }
}

/// The plain-language sentences `--review-friendly` puts first (from [`crate::review`]).
fn review_summary(out: &mut String, sentences: &[String]) {
    out.push_str("<h2>Review summary</h2>\n<ul class=\"review\">\n");
    for s in sentences {
        let _ = writeln!(out, "<li>{}</li>", esc(s));
    }
    out.push_str("</ul>\n");
}

fn files_table(out: &mut String, old: &FileInfo, new: &FileInfo) {
    out.push_str("<h2>Files</h2>\n<div class=\"scroll\"><table class=\"files\"><thead><tr>");
    for h in [
        "",
        "path",
        "format",
        "size",
        "files",
        "tensors",
        "parameters",
    ] {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr></thead><tbody>\n");
    for (side, f) in [("old", old), ("new", new)] {
        let _ = write!(out, "<tr><th>{side}</th>");
        let _ = write!(out, "<td class=\"path\">{}</td>", esc(&f.path));
        td(out, f.format);
        td_num(out, &size(f.bytes), Some(f.bytes as f64));
        td_num(out, &f.files.to_string(), Some(f.files as f64));
        td_num(out, &f.tensors.to_string(), Some(f.tensors as f64));
        td_num(out, &thousands(f.parameters), Some(f.parameters as f64));
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

fn summary_table(out: &mut String, report: &Report) {
    let s = &report.summary;
    out.push_str("<h2>Summary</h2>\n<div class=\"scroll\"><table class=\"summary\"><tr>");
    let counts = [
        ("added", s.added),
        ("removed", s.removed),
        ("changed", s.changed),
        ("reshaped", s.reshaped),
        ("retyped", s.retyped),
        ("type changed", s.type_changed),
        ("unchanged", s.unchanged),
        ("fallbacks", s.fallbacks),
    ];
    for (k, _) in counts {
        let _ = write!(out, "<th>{k}</th>");
    }
    out.push_str("</tr><tr>");
    for (k, v) in counts {
        let _ = write!(out, "<td class=\"num\" data-count=\"{k}\">{v}</td>");
    }
    out.push_str("</tr></table></div>\n");
    let _ = writeln!(
        out,
        "<p class=\"note\">{} differences; parameters {} → {}; epsilon={}, rtol={}.</p>",
        s.differences(),
        thousands(s.parameters.old),
        thousands(s.parameters.new),
        num(report.options.epsilon),
        num(report.options.rtol)
    );
}

fn security(out: &mut String, report: &Report) {
    if report.security.is_empty() {
        return;
    }
    out.push_str("<section class=\"security\"><h2>Security findings</h2><ul>\n");
    for f in &report.security {
        let _ = writeln!(out, "<li><b>{}</b>: {}</li>", esc(f.side), esc(&f.finding));
    }
    out.push_str("</ul></section>\n");
}

fn tensor(side: Option<&Side>) -> Option<&TensorSide> {
    match side {
        Some(Side::Tensor(t)) => Some(t),
        _ => None,
    }
}

fn side_stats(side: &Option<Side>) -> Option<&SideStats> {
    side.as_ref().and_then(Side::stats)
}

/// The kind of change as the JSON report spells it (`type_changed`).
fn kind_name(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Added => "added",
        ChangeKind::Removed => "removed",
        ChangeKind::Changed => "changed",
        ChangeKind::Reshaped => "reshaped",
        ChangeKind::Retyped => "retyped",
        ChangeKind::TypeChanged => "type_changed",
        ChangeKind::Unchanged => "unchanged",
    }
}

/// A side's shape (a tensor) or its value (a plain leaf).
fn shape_or_value(side: Option<&Side>) -> Option<String> {
    match side? {
        Side::Tensor(t) => Some(format_shape(&t.shape)),
        Side::Value { value } => Some(scalar_text(value)),
    }
}

const TENSOR_COLUMNS: [(&str, bool); 11] = [
    ("path", false),
    ("change", false),
    ("shape / value", false),
    ("dtype", false),
    ("mean", true),
    ("std", true),
    ("rel_l2", true),
    ("cosine", true),
    ("max_abs", true),
    ("changed fraction", true),
    ("note", false),
];

fn tensor_table(out: &mut String, report: &Report, suffix: &str) {
    let table_id = id("tensors", suffix);
    let _ = writeln!(out, "<h2>Changes ({})</h2>", report.changes.len());
    if report.changes.is_empty() {
        out.push_str("<p class=\"note\">No differences listed.</p>\n");
        return;
    }
    let _ = writeln!(
        out,
        "<input class=\"filter\" type=\"search\" placeholder=\"filter by path\" \
         aria-label=\"filter by path\" data-table=\"{table_id}\" hidden>"
    );
    let cols: Vec<Col> = TENSOR_COLUMNS.iter().map(|(n, k)| col(n, *k)).collect();
    table_head(out, Some(&table_id), &cols);
    for c in &report.changes {
        tensor_row(out, c);
    }
    table_end(out);
}

fn tensor_row(out: &mut String, c: &Change) {
    let kind = kind_name(c.kind);
    let _ = write!(
        out,
        "<tr class=\"{kind}\" data-path=\"{}\"><td class=\"path\">{}</td><td class=\"kind\">{kind}</td>",
        esc(&c.path),
        esc(&c.path)
    );
    td(
        out,
        &old_new(
            shape_or_value(c.old.as_ref()),
            shape_or_value(c.new.as_ref()),
        ),
    );
    let dtype = |s: &Option<Side>| tensor(s.as_ref()).map(|t| t.dtype.to_string());
    td(out, &old_new(dtype(&c.old), dtype(&c.new)));
    let (a, b) = (side_stats(&c.old), side_stats(&c.new));
    for f in [|s: &SideStats| s.mean, |s: &SideStats| s.std] {
        let text = arrow(a.map(|s| opt(f(s))), b.map(|s| opt(f(s))));
        td_num(out, &text, b.or(a).and_then(f));
    }
    match &c.metrics {
        Some(m) => {
            let m = &m.0;
            td_num(out, &num(m.rel_l2), Some(m.rel_l2));
            td_num(out, &opt(m.cosine), m.cosine);
            td_num(out, &num(m.max_abs), Some(m.max_abs));
            let frac = m.changed_fraction.map_or("n/a".into(), percent);
            td_num(out, &frac, m.changed_fraction);
        }
        None => {
            for _ in 0..4 {
                td_num(out, "", None);
            }
        }
    }
    let note = c
        .fallback
        .as_ref()
        .map(|f| format!("statistics unavailable: {}", f.reason));
    td(out, note.as_deref().unwrap_or(""));
    out.push_str("</tr>\n");
}

// ---------------------------------------------------------------------------------------------
// Analyses

/// A field's text as the text renderer shows it (`n/a (reason)` for a missing value).
fn field_text(f: &Field) -> String {
    match f {
        Field::Int(i) => i.to_string(),
        Field::Num(v) => num(*v),
        Field::Percent(v) => percent(*v),
        Field::Text(t) => t.clone(),
        Field::List(items) => items.join(", "),
        Field::Missing(why) => format!("n/a ({why})"),
    }
}

/// The number a field sorts by, if it is one.
fn field_num(f: &Field) -> Option<f64> {
    match f {
        Field::Int(i) => Some(*i as f64),
        Field::Num(v) | Field::Percent(v) => Some(*v),
        _ => None,
    }
}

fn field_cell(out: &mut String, f: &Field) {
    match f {
        Field::Int(_) | Field::Num(_) | Field::Percent(_) => {
            td_num(out, &field_text(f), field_num(f))
        }
        Field::Missing(_) => {
            let _ = write!(
                out,
                "<td class=\"missing\" data-value=\"\">{}</td>",
                esc(&field_text(f))
            );
        }
        _ => td(out, &field_text(f)),
    }
}

fn analysis(out: &mut String, name: &str, finding: &Finding, suffix: &str) {
    let _ = writeln!(
        out,
        "<section class=\"analysis\" id=\"{}\"><h3>{}</h3>",
        esc(&id(&format!("analysis-{name}"), suffix)),
        esc(name)
    );
    match finding.passed {
        Some(true) => out.push_str("<p class=\"pass\">passed</p>\n"),
        Some(false) => out.push_str("<p class=\"fail\">failed</p>\n"),
        None => {}
    }
    if !finding.fields.is_empty() {
        out.push_str("<div class=\"scroll\"><table class=\"fields\"><tbody>\n");
        for (k, v) in &finding.fields {
            let _ = write!(out, "<tr><th>{}</th>", esc(k));
            field_cell(out, v);
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table></div>\n");
    }
    if !finding.rows.is_empty() {
        detail_rows(out, &finding.rows);
    }
    out.push_str("</section>\n");
}

/// The column names of detail rows, in order of first appearance (rows may differ).
fn row_columns(rows: &[Row]) -> Vec<(&'static str, bool)> {
    let mut cols: Vec<(&'static str, bool)> = Vec::new();
    for row in rows {
        for (k, v) in row {
            match cols.iter_mut().find(|(c, _)| c == k) {
                Some(c) => c.1 |= field_num(v).is_some(),
                None => cols.push((k, field_num(v).is_some())),
            }
        }
    }
    cols
}

fn detail_rows(out: &mut String, rows: &[Row]) {
    let collapsed = rows.len() > COLLAPSE_ROWS;
    if collapsed {
        let _ = writeln!(out, "<details><summary>{} rows</summary>", rows.len());
    }
    let cols = row_columns(rows);
    let heads: Vec<Col> = cols.iter().map(|(n, k)| col(n, *k)).collect();
    table_head(out, None, &heads);
    for row in rows.iter().take(MAX_ANALYSIS_ROWS) {
        out.push_str("<tr>");
        for (name, _) in &cols {
            match row.iter().find(|(k, _)| k == name) {
                Some((_, f)) => field_cell(out, f),
                None => td(out, ""),
            }
        }
        out.push_str("</tr>\n");
    }
    table_end(out);
    if rows.len() > MAX_ANALYSIS_ROWS {
        let _ = writeln!(
            out,
            "<p class=\"note\">Showing the first {MAX_ANALYSIS_ROWS} of {} rows; {} left out \
             (the JSON output has them all).</p>",
            rows.len(),
            rows.len() - MAX_ANALYSIS_ROWS
        );
    }
    if collapsed {
        out.push_str("</details>\n");
    }
}

/// The finding of the analysis called `name`, if it ran.
fn finding<'a>(report: &'a Report, name: &str) -> Option<&'a Finding> {
    report
        .analyses
        .0
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| f)
}

fn cell<'a>(row: &'a Row, name: &str) -> Option<&'a Field> {
    row.iter().find(|(k, _)| *k == name).map(|(_, f)| f)
}

// ---------------------------------------------------------------------------------------------
// Charts

fn charts(out: &mut String, report: &Report, suffix: &str) {
    out.push_str("<h2>Charts</h2>\n");
    layer_chart(out, report, suffix);
    histogram_chart(out, report, suffix);
    similarity_chart(out, report, suffix);
    size_chart(out, report, suffix);
}

/// A chart that cannot be drawn: which flag provides its data.
fn chart_note(out: &mut String, chart_id: &str, text: &str) {
    let _ = writeln!(
        out,
        "<p class=\"note chart-missing\" id=\"{chart_id}\">{}</p>",
        esc(text)
    );
}

/// A label short enough for the chart's label column (its end kept: it names the tensor).
fn short(label: &str) -> String {
    let n = label.chars().count();
    if n <= LABEL_CHARS {
        return label.to_string();
    }
    let tail: String = label.chars().skip(n - (LABEL_CHARS - 1)).collect();
    format!("…{tail}")
}

/// Per-layer `rel_l2`: from `--show-layer-impact` when it ran, else aggregated here over the
/// changed tensors (`sqrt(Σ‖d‖² / Σ‖o‖²)` per layer, the same formula). The bool says which.
fn layer_values(report: &Report) -> (Vec<(String, f64)>, bool) {
    if let Some(f) = finding(report, "show_layer_impact") {
        let bars = f
            .rows
            .iter()
            .filter_map(|r| {
                let layer = match cell(r, "layer")? {
                    Field::Text(t) => t.clone(),
                    _ => return None,
                };
                Some((layer, field_num(cell(r, "rel_l2")?)?))
            })
            .collect();
        return (bars, true);
    }
    let mut sums: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for c in &report.changes {
        if let (ChangeKind::Changed, Some(m)) = (c.kind, &c.metrics) {
            let s = sums.entry(layer_of(&c.path)).or_default();
            s.0 += m.0.norm_diff * m.0.norm_diff;
            s.1 += m.0.norm_old * m.0.norm_old;
        }
    }
    let mut bars: Vec<(String, f64)> = sums
        .into_iter()
        .map(|(layer, (d2, o2))| {
            let rel = if o2 > 0.0 {
                (d2 / o2).sqrt()
            } else if d2 > 0.0 {
                f64::INFINITY
            } else {
                0.0
            };
            (layer.to_string(), rel)
        })
        .collect();
    bars.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    (bars, false)
}

fn layer_chart(out: &mut String, report: &Report, suffix: &str) {
    let chart_id = id("chart-layers", suffix);
    let (bars, from_analysis) = layer_values(report);
    if bars.is_empty() {
        chart_note(
            out,
            &chart_id,
            "Per-layer change: no changed tensors with metrics (--show-layer-impact gives per-layer numbers).",
        );
        return;
    }
    let source = if from_analysis {
        "rel_l2 per layer from --show-layer-impact, ranked by share of the change"
    } else {
        "rel_l2 per layer aggregated here from the changed tensors (sqrt(Σ‖d‖²/Σ‖o‖²) over a path \
         minus its last component); --show-layer-impact gives the analysis"
    };
    let shown = &bars[..bars.len().min(MAX_LAYER_BARS)];
    let _ = write!(
        out,
        "<figure id=\"{chart_id}\" data-source=\"{}\"><figcaption>Per-layer change: {}{}.</figcaption>",
        if from_analysis { "show_layer_impact" } else { "aggregated" },
        esc(source),
        layer_caption_notes(&bars, shown.len())
    );
    hbar_svg(out, shown, "rel_l2");
    out.push_str("</figure>\n");
}

/// What the per-layer caption adds: how many layers are drawn, what an infinite bar means.
fn layer_caption_notes(bars: &[(String, f64)], shown: usize) -> String {
    let mut notes = String::new();
    if bars.len() > shown {
        let _ = write!(notes, " (the first {shown} of {} layers)", bars.len());
    }
    if bars[..shown].iter().any(|b| b.1.is_infinite()) {
        notes.push_str("; a full bar marked inf: the layer was all zero before");
    }
    notes
}

/// Horizontal bars scaled to the largest finite value; an infinite value fills the bar area.
fn hbar_svg(out: &mut String, bars: &[(String, f64)], what: &str) {
    let max = bars
        .iter()
        .map(|b| b.1)
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let area = CHART_PX - LABEL_PX - VALUE_PX;
    let height = bars.len() as f64 * (BAR_PX + GAP_PX) + GAP_PX;
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {CHART_PX} {height}\" \
         width=\"{CHART_PX}\" height=\"{height}\" role=\"img\">"
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = GAP_PX + i as f64 * (BAR_PX + GAP_PX);
        let w = if v.is_infinite() && *v > 0.0 {
            area
        } else if max > 0.0 && v.is_finite() {
            (v / max).max(0.0) * area
        } else {
            0.0
        };
        let _ = write!(
            out,
            "<g class=\"bar\" data-label=\"{l}\" data-value=\"{d}\"><title>{l}: {what}={n}</title>\
             <text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{s}</text>\
             <rect x=\"{LABEL_PX}\" y=\"{y}\" width=\"{w:.1}\" height=\"{BAR_PX}\" fill=\"{NEW_COLOUR}\"/>\
             <text x=\"{vx:.1}\" y=\"{ty}\">{n}</text></g>",
            l = esc(label),
            d = data_num(*v),
            n = num(*v),
            tx = LABEL_PX - 6.0,
            ty = y + BAR_PX * 0.72,
            s = esc(&short(label)),
            vx = LABEL_PX + w + 4.0,
        );
    }
    out.push_str("</svg>");
}

/// One histogram of `--show-distribution`: shared bin range and the two sides' counts.
struct Hist<'a> {
    path: &'a str,
    range: &'a str,
    lo: f64,
    hi: f64,
    old: Vec<u64>,
    new: Vec<u64>,
}

fn parse_hist(row: &Row) -> Option<Hist<'_>> {
    let text = |k: &str| match cell(row, k)? {
        Field::Text(t) => Some(t.as_str()),
        _ => None,
    };
    let counts = |k: &str| match cell(row, k)? {
        Field::List(l) => l
            .iter()
            .map(|c| c.parse().ok())
            .collect::<Option<Vec<u64>>>(),
        _ => None,
    };
    let range = text("hist_range")?;
    let (lo, hi) = range
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split_once(',')?;
    Some(Hist {
        path: text("path")?,
        range,
        lo: lo.trim().parse().ok()?,
        hi: hi.trim().parse().ok()?,
        old: counts("hist_old")?,
        new: counts("hist_new")?,
    })
}

/// The histograms of the most changed tensors: largest `rel_l2` first (ties: report order).
fn top_histograms<'a>(report: &Report, f: &'a Finding) -> Vec<Hist<'a>> {
    let rel = |path: &str| {
        report
            .changes
            .iter()
            .find(|c| c.path == path)
            .and_then(Change::rel_l2)
            .filter(|r| !r.is_nan())
            .unwrap_or(f64::NEG_INFINITY)
    };
    let mut hists: Vec<(f64, Hist)> = f
        .rows
        .iter()
        .filter_map(parse_hist)
        .map(|h| (rel(h.path), h))
        .collect();
    hists.sort_by(|a, b| b.0.total_cmp(&a.0));
    hists
        .into_iter()
        .take(MAX_HISTOGRAMS)
        .map(|(_, h)| h)
        .collect()
}

fn histogram_chart(out: &mut String, report: &Report, suffix: &str) {
    let chart_id = id("chart-histograms", suffix);
    let Some(f) = finding(report, "show_distribution") else {
        chart_note(
            out,
            &chart_id,
            "Histograms: run with --show-distribution to draw old and new value histograms.",
        );
        return;
    };
    let hists = top_histograms(report, f);
    if hists.is_empty() {
        chart_note(
            out,
            &chart_id,
            "Histograms: --show-distribution found no changed tensor with histograms.",
        );
        return;
    }
    let _ = write!(
        out,
        "<figure id=\"{chart_id}\"><figcaption>Value histograms, old and new over shared bins, of \
         the {} most changed tensors (by rel_l2), from --show-distribution.\
         <span class=\"legend\"><span style=\"background:{OLD_COLOUR}\"></span>old\
         <span style=\"background:{NEW_COLOUR}\"></span>new</span></figcaption><div class=\"hists\">",
        hists.len()
    );
    for h in &hists {
        histogram_svg(out, h);
    }
    out.push_str("</div></figure>\n");
}

fn join_counts(c: &[u64]) -> String {
    c.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

fn histogram_svg(out: &mut String, h: &Hist) {
    /// Space for the title line at the top and the range labels at the bottom.
    const TOP_PX: f64 = 16.0;
    const BOTTOM_PX: f64 = 16.0;
    let bins = h.old.len().max(h.new.len()).max(1);
    let peak = h
        .old
        .iter()
        .chain(&h.new)
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let plot_h = HIST_H_PX - TOP_PX - BOTTOM_PX;
    let bin_w = HIST_W_PX / bins as f64;
    let _ = write!(
        out,
        "<svg class=\"hist\" viewBox=\"0 0 {HIST_W_PX} {HIST_H_PX}\" \
         width=\"{HIST_W_PX}\" height=\"{HIST_H_PX}\" role=\"img\" data-path=\"{p}\" \
         data-range=\"{r}\" data-old=\"{o}\" data-new=\"{n}\"><title>{p}: range {r}</title>\
         <text x=\"2\" y=\"11\">{s}</text>",
        p = esc(h.path),
        r = esc(h.range),
        o = join_counts(&h.old),
        n = join_counts(&h.new),
        s = esc(&short(h.path)),
    );
    for (counts, colour, shift) in [(&h.old, OLD_COLOUR, 0.0), (&h.new, NEW_COLOUR, 0.5)] {
        for (i, c) in counts.iter().enumerate() {
            let bh = *c as f64 / peak * plot_h;
            let _ = write!(
                out,
                "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{bh:.2}\" fill=\"{colour}\"/>",
                (i as f64 + shift) * bin_w,
                TOP_PX + plot_h - bh,
                bin_w / 2.0
            );
        }
    }
    let _ = write!(
        out,
        "<text x=\"0\" y=\"{y}\">{lo}</text><text x=\"{HIST_W_PX}\" y=\"{y}\" text-anchor=\"end\">{hi}</text></svg>",
        y = HIST_H_PX - 3.0,
        lo = num(h.lo),
        hi = num(h.hi)
    );
}

/// A colour from white (no change, similarity 1) to red (the lowest similarity shown).
fn heat(t: f64) -> String {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        1.0
    };
    let g = (255.0 - 200.0 * t).round() as u8;
    format!("rgb(255,{g},{g})")
}

fn similarity_chart(out: &mut String, report: &Report, suffix: &str) {
    let chart_id = id("chart-similarity", suffix);
    let Some(f) = finding(report, "similarity_matrix") else {
        chart_note(
            out,
            &chart_id,
            "Similarity heatmap: run with --similarity-matrix to draw it.",
        );
        return;
    };
    let overall = f
        .fields
        .iter()
        .find(|(k, _)| *k == "cosine")
        .and_then(|(_, v)| field_num(v));
    let mut tensors: Vec<(&str, f64)> = f
        .rows
        .iter()
        .filter_map(
            |r| match (cell(r, "path")?, field_num(cell(r, "cosine")?)?) {
                (Field::Text(p), c) => Some((p.as_str(), c)),
                _ => None,
            },
        )
        .collect();
    tensors.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(b.0)));
    let Some(overall) = overall else {
        chart_note(
            out,
            &chart_id,
            "Similarity heatmap: --similarity-matrix found no shared non-zero tensors.",
        );
        return;
    };
    let shown = &tensors[..tensors.len().min(MAX_SIMILARITY_CELLS)];
    // The colour scale runs from the lowest cosine drawn (red) to 1 (white).
    let low = shown.iter().map(|t| t.1).fold(overall, f64::min).min(1.0);
    let scale = |c: f64| {
        if low < 1.0 {
            heat((1.0 - c) / (1.0 - low))
        } else {
            heat(0.0)
        }
    };
    let _ = write!(
        out,
        "<figure id=\"{chart_id}\" data-cosine=\"{}\" data-low=\"{}\"><figcaption>Cosine \
         similarity from --similarity-matrix: the two models over their shared parameters, and the \
         {} least similar shared tensors{}. Colour: white = 1, red = {}.</figcaption>",
        data_num(overall),
        data_num(low),
        shown.len(),
        if tensors.len() > shown.len() {
            format!(" (of {})", tensors.len())
        } else {
            String::new()
        },
        crate::numfmt::cosine(low)
    );
    matrix_svg(out, overall, &scale);
    if !shown.is_empty() {
        strip_svg(out, shown, &scale);
    }
    out.push_str("</figure>\n");
}

/// The 2 × 2 matrix of the two models' cosine similarity.
fn matrix_svg(out: &mut String, cosine: f64, scale: &dyn Fn(f64) -> String) {
    const LEFT_PX: f64 = 40.0;
    const TOP_PX: f64 = 18.0;
    let names = ["old", "new"];
    let size = LEFT_PX + 2.0 * CELL_PX + 4.0;
    let _ = write!(
        out,
        "<svg class=\"matrix\" viewBox=\"0 0 {size} {h}\" \
         width=\"{size}\" height=\"{h}\" role=\"img\">",
        h = TOP_PX + 2.0 * CELL_PX + 4.0
    );
    for (j, n) in names.iter().enumerate() {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"12\" text-anchor=\"middle\">{n}</text>",
            LEFT_PX + (j as f64 + 0.5) * CELL_PX
        );
    }
    for (i, row) in names.iter().enumerate() {
        let y = TOP_PX + i as f64 * CELL_PX;
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{row}</text>",
            LEFT_PX - 4.0,
            y + CELL_PX / 2.0 + 4.0
        );
        for (j, colname) in names.iter().enumerate() {
            let v = if i == j { 1.0 } else { cosine };
            let x = LEFT_PX + j as f64 * CELL_PX;
            let _ = write!(
                out,
                "<g class=\"cell\" data-row=\"{row}\" data-col=\"{colname}\" data-value=\"{d}\">\
                 <title>{row} · {colname}: cosine={n}</title>\
                 <rect x=\"{x}\" y=\"{y}\" width=\"{CELL_PX}\" height=\"{CELL_PX}\" fill=\"{c}\" stroke=\"#d0d7de\"/>\
                 <text x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\">{s}</text></g>",
                d = data_num(v),
                n = num(v),
                c = scale(v),
                tx = x + CELL_PX / 2.0,
                ty = y + CELL_PX / 2.0 + 4.0,
                s = crate::numfmt::cosine(v),
            );
        }
    }
    out.push_str("</svg>");
}

/// One cell per tensor (least similar first), labelled with its path and cosine.
fn strip_svg(out: &mut String, tensors: &[(&str, f64)], scale: &dyn Fn(f64) -> String) {
    // Label column, the cell, and room for its `1−4.9e-7` label.
    let width = LABEL_PX + CELL_PX + VALUE_PX;
    let height = tensors.len() as f64 * (BAR_PX + GAP_PX) + GAP_PX;
    let _ = write!(
        out,
        "<svg class=\"strip\" viewBox=\"0 0 {width} {height}\" \
         width=\"{width}\" height=\"{height}\" role=\"img\">"
    );
    for (i, (path, c)) in tensors.iter().enumerate() {
        let y = GAP_PX + i as f64 * (BAR_PX + GAP_PX);
        let _ = write!(
            out,
            "<g class=\"cell\" data-row=\"{p}\" data-col=\"cosine\" data-value=\"{d}\">\
             <title>{p}: cosine={n}</title>\
             <text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{s}</text>\
             <rect x=\"{LABEL_PX}\" y=\"{y}\" width=\"{CELL_PX}\" height=\"{BAR_PX}\" fill=\"{col}\" stroke=\"#d0d7de\"/>\
             <text x=\"{vx}\" y=\"{ty:.1}\">{l}</text></g>",
            p = esc(path),
            l = crate::numfmt::cosine(*c),
            d = data_num(*c),
            n = num(*c),
            tx = LABEL_PX - 6.0,
            ty = y + BAR_PX * 0.72,
            s = esc(&short(path)),
            col = scale(*c),
            vx = LABEL_PX + CELL_PX + 6.0,
        );
    }
    out.push_str("</svg>");
}

fn size_chart(out: &mut String, report: &Report, suffix: &str) {
    let chart_id = id("chart-sizes", suffix);
    let (o, n) = (&report.old, &report.new);
    let metrics = [
        ("bytes", o.bytes, n.bytes, size as fn(u64) -> String),
        ("parameters", o.parameters, n.parameters, thousands),
        ("tensors", o.tensors, n.tensors, |v: u64| v.to_string()),
    ];
    let _ = write!(
        out,
        "<figure id=\"{chart_id}\"><figcaption>Size and parameters, old and new (each pair scaled \
         to its larger value).<span class=\"legend\"><span style=\"background:{OLD_COLOUR}\"></span>old\
         <span style=\"background:{NEW_COLOUR}\"></span>new</span></figcaption>"
    );
    let group_px = 2.0 * BAR_PX + 3.0 * GAP_PX;
    let height = metrics.len() as f64 * group_px + GAP_PX;
    let area = CHART_PX - LABEL_PX - VALUE_PX - 40.0;
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {CHART_PX} {height}\" \
         width=\"{CHART_PX}\" height=\"{height}\" role=\"img\">"
    );
    for (i, (name, a, b, show)) in metrics.iter().enumerate() {
        let top = GAP_PX + i as f64 * group_px;
        let peak = (*a).max(*b).max(1) as f64;
        let _ = write!(
            out,
            "<g class=\"pair\" data-metric=\"{name}\" data-old=\"{a}\" data-new=\"{b}\">\
             <text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{name}</text>",
            tx = LABEL_PX - 6.0,
            ty = top + BAR_PX + GAP_PX / 2.0 + 4.0,
        );
        for (j, (side, v, colour)) in [("old", a, OLD_COLOUR), ("new", b, NEW_COLOUR)]
            .iter()
            .enumerate()
        {
            let y = top + j as f64 * (BAR_PX + GAP_PX);
            let w = **v as f64 / peak * area;
            let _ = write!(
                out,
                "<title>{name} {side}: {t}</title><rect x=\"{LABEL_PX}\" y=\"{y}\" width=\"{w:.1}\" \
                 height=\"{BAR_PX}\" fill=\"{colour}\"/><text x=\"{vx:.1}\" y=\"{ty:.1}\">{side} {t}</text>",
                t = show(**v),
                vx = LABEL_PX + w + 4.0,
                ty = y + BAR_PX * 0.72,
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg></figure>\n");
}

// ---------------------------------------------------------------------------------------------
// Directories and inspections

fn dir_body(out: &mut String, report: &DirReport, opts: &RenderOptions) {
    if opts.review_friendly {
        review_summary(out, &crate::review::dir_sentences(report));
    }
    // Each file's own section without a second summary.
    let opts = &RenderOptions {
        review_friendly: false,
        ..*opts
    };
    let s = &report.summary;
    let _ = writeln!(
        out,
        "<p>{} identical, {} changed, {} added, {} removed, {} failed.</p>",
        s.identical, s.changed, s.added, s.removed, s.failed
    );
    out.push_str("<h2>Files</h2>\n");
    let _ = writeln!(
        out,
        "<input class=\"filter\" type=\"search\" placeholder=\"filter by path\" \
         aria-label=\"filter by path\" data-table=\"dir-files\" hidden>"
    );
    let cols = [
        col("path", false),
        col("status", false),
        col("format", false),
        col("differences", true),
        col("added", true),
        col("removed", true),
        col("changed", true),
        col("note", false),
    ];
    table_head(out, Some("dir-files"), &cols);
    for (i, f) in report.files.iter().enumerate() {
        dir_row(out, i, f);
    }
    table_end(out);
    for (i, f) in report.files.iter().enumerate() {
        if let Some(r) = &f.report {
            let suffix = format!("-f{i}");
            let _ = writeln!(
                out,
                "<section class=\"file\" id=\"file{suffix}\"><h2>{}</h2>",
                esc(&f.path)
            );
            report_body(out, r, opts, &suffix);
            out.push_str("</section>\n");
        }
    }
}

fn dir_row(out: &mut String, i: usize, f: &FileEntry) {
    let status = format!("{:?}", f.status).to_lowercase();
    let _ = write!(
        out,
        "<tr class=\"{status}\" data-path=\"{}\">",
        esc(&f.path)
    );
    if f.report.is_some() {
        let _ = write!(
            out,
            "<td class=\"path\"><a href=\"#file-f{i}\">{}</a></td>",
            esc(&f.path)
        );
    } else {
        let _ = write!(out, "<td class=\"path\">{}</td>", esc(&f.path));
    }
    td(out, &status);
    match &f.report {
        Some(r) => {
            let s = &r.summary;
            td(
                out,
                &old_new(Some(r.old.format.into()), Some(r.new.format.into())),
            );
            for v in [s.differences(), s.added, s.removed, s.changed] {
                td_num(out, &v.to_string(), Some(v as f64));
            }
        }
        None => {
            td(out, "");
            for _ in 0..4 {
                td_num(out, "", None);
            }
        }
    }
    let note = f.error.as_deref().or(f.note).unwrap_or("");
    td(out, note);
    out.push_str("</tr>\n");
}

fn inspection_body(out: &mut String, inspection: &Inspection) {
    let f = &inspection.file;
    let _ = writeln!(
        out,
        "<p>format {}, size {}, {} tensors, {} parameters.</p>",
        esc(f.format),
        size(f.bytes),
        f.tensors,
        thousands(f.parameters)
    );
    let _ = writeln!(
        out,
        "<input class=\"filter\" type=\"search\" placeholder=\"filter by path\" \
         aria-label=\"filter by path\" data-table=\"entries\" hidden>"
    );
    let cols = [
        col("path", false),
        col("shape / value", false),
        col("dtype", false),
        col("mean", true),
        col("std", true),
        col("min", true),
        col("max", true),
        col("nan", true),
        col("inf", true),
        col("zero", true),
        col("note", false),
    ];
    table_head(out, Some("entries"), &cols);
    for e in &inspection.entries {
        let _ = write!(
            out,
            "<tr data-path=\"{p}\"><td class=\"path\">{p}</td>",
            p = esc(&e.path)
        );
        td(out, &shape_or_value(Some(&e.side)).unwrap_or_default());
        td(out, tensor(Some(&e.side)).map_or("", |t| t.dtype));
        let s = e.side.stats();
        for v in [s.and_then(|s| s.mean), s.and_then(|s| s.std)] {
            td_num(out, &opt(v), v);
        }
        for v in [s.and_then(|s| s.min), s.and_then(|s| s.max)] {
            td_num(out, &opt(v), v);
        }
        for v in [s.map(|s| s.nan), s.map(|s| s.inf), s.map(|s| s.zero)] {
            td_num(
                out,
                &v.map(|v| v.to_string()).unwrap_or_default(),
                v.map(|v| v as f64),
            );
        }
        let note = e
            .fallback
            .as_ref()
            .map(|f| format!("statistics unavailable: {}", f.reason));
        td(out, note.as_deref().unwrap_or(""));
        out.push_str("</tr>\n");
    }
    table_end(out);
}
