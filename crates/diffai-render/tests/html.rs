//! The HTML renderer on reports the core library computes from the committed fixtures: what the
//! page shows is checked against the report's own numbers, and the whole page against a snapshot
//! (`UPDATE_SNAPSHOTS=1 cargo test -p diffai-render --test html` rewrites it).

use std::path::{Path, PathBuf};

use diffai_core::analysis::{self, Field, Finding, Input};
use diffai_core::diff::dir::{DirReport, DirSummary, FileEntry, FileStatus};
use diffai_core::diff::{self, Options};
use diffai_core::{formats, inspect, Report};
use diffai_render::html::{Html, MAX_ANALYSIS_ROWS, MAX_HISTOGRAMS};
use diffai_render::numfmt::num;
use diffai_render::{RenderOptions, Renderer};

/// The analyses every chart draws from, by flag.
const CHART_FLAGS: &[&str] = &[
    "show-layer-impact",
    "show-distribution",
    "similarity-matrix",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/analyses")
}

/// The simplenet pair diffed with `flags`; paths made relative so the page is the same on every
/// machine.
fn simplenet(flags: &[&str]) -> Report {
    let dir = fixtures();
    let old = formats::read(&dir.join("simplenet_old.safetensors"), None).unwrap();
    let new = formats::read(&dir.join("simplenet_new.safetensors"), None).unwrap();
    let opts = Options::default();
    let mut report = diff::diff(&old, &new, &opts, None);
    let settings = analysis::Settings::default();
    let input = Input::new(&old, &new, &opts, &report, &settings);
    report.analyses = analysis::run(flags, &input);
    report.old.path = "tests/fixtures/analyses/simplenet_old.safetensors".into();
    report.new.path = "tests/fixtures/analyses/simplenet_new.safetensors".into();
    report
}

fn charts() -> RenderOptions {
    RenderOptions {
        include_charts: true,
        ..RenderOptions::default()
    }
}

fn page(report: &Report, opts: &RenderOptions) -> String {
    let mut out = Vec::new();
    Html.render(report, opts, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The element starting at the first `start` (which must occur) up to the next `end`.
fn section<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let at = html
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in page"));
    let len = html[at..].find(end).expect("element closed");
    &html[at..at + len + end.len()]
}

fn finding<'a>(report: &'a Report, name: &str) -> &'a Finding {
    &report
        .analyses
        .0
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("{name} ran"))
        .1
}

fn cell<'a>(row: &'a [(&'static str, Field)], name: &str) -> &'a Field {
    &row.iter().find(|(k, _)| *k == name).expect(name).1
}

/// How the page writes a number into a `data-value` (what `parseFloat` reads back).
fn data_num(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        format!("{v}")
    }
}

/// Tags that open and close must balance (a cheap well-formedness check).
fn assert_balanced(html: &str) {
    for tag in [
        "table", "tr", "svg", "figure", "details", "section", "g", "main", "script", "style",
    ] {
        let opens =
            html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count();
        let closes = html.matches(&format!("</{tag}>")).count();
        assert_eq!(
            opens, closes,
            "<{tag}> opened {opens} times, closed {closes}"
        );
    }
}

#[test]
fn registered_as_html_without_aliases() {
    let r = diffai_render::find("html").expect("html renderer");
    assert_eq!(r.name(), "html");
    assert!(r.aliases().is_empty());
    let names: Vec<&str> = diffai_render::RENDERERS.iter().map(|r| r.name()).collect();
    assert_eq!(names, ["text", "json", "yaml", "markdown", "html"]);
}

#[test]
fn nothing_is_loaded_from_the_network() {
    let html = page(&simplenet(CHART_FLAGS), &charts());
    assert!(html.starts_with("<!DOCTYPE html>"));
    for bad in [
        "http://", "https://", "src=", "<link", "<img", "@import", "url(",
    ] {
        assert!(!html.contains(bad), "page contains {bad:?}");
    }
    // The only href values are in-page anchors.
    for (at, _) in html.match_indices("href=\"") {
        assert!(html[at + 6..].starts_with('#'), "{}", &html[at..at + 40]);
    }
    assert!(html.contains("<style>") && html.contains("<script>"));
    assert!(html.contains("Content-Security-Policy"));
    assert_balanced(&html);
}

#[test]
fn tensor_table_lists_each_change_with_its_rel_l2_as_text_prints_it() {
    let report = simplenet(&[]);
    let html = page(&report, &RenderOptions::default());
    assert!(!report.changes.is_empty());
    for c in &report.changes {
        let row = section(
            &html,
            &format!("<tr class=\"changed\" data-path=\"{}\">", c.path),
            "</tr>",
        );
        let rel = c.rel_l2().expect("a changed tensor has metrics");
        let cell = format!(
            "<td class=\"num\" data-value=\"{}\">{}</td>",
            data_num(rel),
            num(rel)
        );
        assert!(row.contains(&cell), "{row}\nlacks {cell}");
    }
    // Sortable headers (numeric ones sort as numbers) and the filter box for the script.
    assert!(html.contains("<th data-sort=\"num\">rel_l2</th>"));
    assert!(html.contains("<th data-sort=\"text\">path</th>"));
    assert!(html.contains("class=\"filter\"") && html.contains("data-table=\"tensors\""));
    assert!(html.contains("id=\"tensors\""));
}

#[test]
fn layer_chart_draws_the_layer_impact_rows() {
    let report = simplenet(CHART_FLAGS);
    let html = page(&report, &charts());
    let chart = section(&html, "<figure id=\"chart-layers\"", "</figure>");
    assert!(chart.contains("data-source=\"show_layer_impact\""));
    let rows = &finding(&report, "show_layer_impact").rows;
    assert_eq!(chart.matches("<g class=\"bar\"").count(), rows.len());
    for row in rows {
        let (Field::Text(layer), Field::Num(rel)) = (cell(row, "layer"), cell(row, "rel_l2"))
        else {
            panic!("layer impact row {row:?}");
        };
        let bar = format!("data-label=\"{layer}\" data-value=\"{}\"", data_num(*rel));
        assert!(chart.contains(&bar), "{chart}\nlacks {bar}");
    }
}

/// Without `--show-layer-impact` the chart aggregates the tensors itself, and must agree with
/// what the analysis computes from the same report.
#[test]
fn layer_chart_aggregates_the_same_numbers_without_the_analysis() {
    let with = simplenet(&["show-layer-impact"]);
    let html = page(&simplenet(&[]), &charts());
    let chart = section(&html, "<figure id=\"chart-layers\"", "</figure>");
    assert!(chart.contains("data-source=\"aggregated\""));
    assert!(chart.contains("aggregated here"));
    for row in &finding(&with, "show_layer_impact").rows {
        let (Field::Text(layer), Field::Num(rel)) = (cell(row, "layer"), cell(row, "rel_l2"))
        else {
            panic!("layer impact row {row:?}");
        };
        let key = format!("data-label=\"{layer}\" data-value=\"");
        let at = chart
            .find(&key)
            .unwrap_or_else(|| panic!("no bar for {layer}"))
            + key.len();
        let drawn: f64 = chart[at..at + chart[at..].find('"').unwrap()]
            .parse()
            .unwrap();
        assert!(
            (drawn - rel).abs() <= 1e-12 * rel.abs(),
            "{layer}: {drawn} vs {rel}"
        );
    }
}

#[test]
fn histograms_show_the_most_changed_tensors_counts() {
    let report = simplenet(CHART_FLAGS);
    let html = page(&report, &charts());
    let chart = section(&html, "<figure id=\"chart-histograms\"", "</figure>");
    let rows = &finding(&report, "show_distribution").rows;
    let drawn = chart.matches("<svg class=\"hist\"").count();
    assert_eq!(drawn, rows.len().min(MAX_HISTOGRAMS));
    for row in rows {
        let Field::Text(path) = cell(row, "path") else {
            panic!()
        };
        let key = format!("data-path=\"{path}\"");
        if !chart.contains(&key) {
            continue; // not among the most changed
        }
        let svg = section(chart, &key, ">");
        for (name, attr) in [("hist_old", "data-old"), ("hist_new", "data-new")] {
            let Field::List(counts) = cell(row, name) else {
                panic!()
            };
            let want = format!("{attr}=\"{}\"", counts.join(","));
            assert!(svg.contains(&want), "{svg}\nlacks {want}");
        }
    }
    // The two biases (rel_l2 = inf: they were zero) are among the most changed.
    assert!(chart.contains("data-path=\"fc1.bias\""));
}

#[test]
fn similarity_heatmap_draws_the_models_cosine() {
    let report = simplenet(CHART_FLAGS);
    let html = page(&report, &charts());
    let chart = section(&html, "<figure id=\"chart-similarity\"", "</figure>");
    let f = finding(&report, "similarity_matrix");
    let Field::Num(cos) = f.fields.iter().find(|(k, _)| *k == "cosine").unwrap().1 else {
        panic!("overall cosine")
    };
    assert!(chart.contains(&format!("data-cosine=\"{}\"", data_num(cos))));
    for (r, c, v) in [
        ("old", "new", cos),
        ("new", "old", cos),
        ("old", "old", 1.0),
    ] {
        let want = format!(
            "data-row=\"{r}\" data-col=\"{c}\" data-value=\"{}\"",
            data_num(v)
        );
        assert!(chart.contains(&want), "lacks {want}");
    }
    for row in &f.rows {
        let (Field::Text(path), cosine) = (cell(row, "path"), cell(row, "cosine")) else {
            panic!()
        };
        if let Field::Num(c) = cosine {
            let want = format!(
                "data-row=\"{path}\" data-col=\"cosine\" data-value=\"{}\"",
                data_num(*c)
            );
            assert!(chart.contains(&want), "lacks {want}");
        }
    }
}

#[test]
fn size_chart_compares_bytes_and_parameters() {
    let mut report = simplenet(&[]);
    // The fixture pair has equal sizes: make each number distinct so a swap would show.
    report.new.bytes += 1000;
    report.new.parameters += 250;
    let html = page(&report, &charts());
    let chart = section(&html, "<figure id=\"chart-sizes\"", "</figure>");
    for (metric, a, b) in [
        ("bytes", report.old.bytes, report.new.bytes),
        ("parameters", report.old.parameters, report.new.parameters),
    ] {
        let want = format!("data-metric=\"{metric}\" data-old=\"{a}\" data-new=\"{b}\"");
        assert!(chart.contains(&want), "lacks {want}");
    }
}

#[test]
fn missing_chart_data_names_the_flag_that_provides_it() {
    let html = page(&simplenet(&[]), &charts());
    let note = section(&html, "id=\"chart-histograms\"", "</p>");
    assert!(note.contains("--show-distribution"), "{note}");
    let note = section(&html, "id=\"chart-similarity\"", "</p>");
    assert!(note.contains("--similarity-matrix"), "{note}");
    assert!(!html.contains("<figure id=\"chart-histograms\""));
    // And no charts at all unless asked for.
    let plain = page(&simplenet(CHART_FLAGS), &RenderOptions::default());
    assert!(!plain.contains("chart-layers") && !plain.contains("<svg"));
}

#[test]
fn html_special_characters_are_escaped() {
    let mut report = simplenet(CHART_FLAGS);
    let evil = "x<script>alert('&')</script>\"y";
    report.changes[0].path = evil.into();
    report.old.path = evil.into();
    let html = page(&report, &charts());
    assert!(!html.contains(evil));
    assert!(!html.contains("<script>alert"));
    let escaped = "x&lt;script&gt;alert(&#39;&amp;&#39;)&lt;/script&gt;&quot;y";
    assert!(html.contains(&format!("data-path=\"{escaped}\"")));
    assert!(html.contains(&format!("<td class=\"path\">{escaped}</td>")));
    assert_eq!(
        html.matches("<script>").count(),
        1,
        "only the page's own script"
    );
}

#[test]
fn analyses_show_fields_missing_values_and_capped_rows() {
    let mut report = simplenet(&["show-layer-impact"]);
    let rows: Vec<_> = (0..MAX_ANALYSIS_ROWS + 50)
        .map(|i| {
            vec![
                ("layer", Field::Text(format!("layer{i}"))),
                ("n", Field::Int(i as i128)),
            ]
        })
        .collect();
    let long = Finding {
        fields: vec![("why", Field::Missing("needs <metrics>".into()))],
        passed: Some(false),
        rows,
    };
    report.analyses.0.push(("long_one", long));
    let html = page(&report, &RenderOptions::default());
    let sec = section(
        &html,
        "<section class=\"analysis\" id=\"analysis-long_one\"",
        "</section>",
    );
    assert!(sec.contains("n/a (needs &lt;metrics&gt;)"));
    assert!(sec.contains("<p class=\"fail\">failed</p>"));
    assert!(sec.contains("<details><summary>250 rows</summary>"));
    assert!(sec.contains(&format!(
        "first {MAX_ANALYSIS_ROWS} of 250 rows; 50 left out"
    )));
    assert!(sec.contains(">layer199<") && !sec.contains(">layer200<"));
    // Short tables are not collapsed; the layer impact fields are all shown.
    let impact = section(&html, "id=\"analysis-show_layer_impact\"", "</section>");
    assert!(!impact.contains("<details>"));
    for k in [
        "layers",
        "layers_changed",
        "top_layer",
        "top_share",
        "top_rel_l2",
    ] {
        assert!(impact.contains(&format!("<tr><th>{k}</th>")), "{k}");
    }
}

#[test]
fn directory_pages_list_files_and_a_section_per_report() {
    let report = simplenet(CHART_FLAGS);
    let entry = |path: &str, status, report, error: Option<&str>| FileEntry {
        path: path.into(),
        status,
        report,
        error: error.map(String::from),
        note: None,
    };
    let dir = DirReport {
        schema: "diffai/1",
        kind: "directory",
        old: "a".into(),
        new: "b".into(),
        summary: DirSummary {
            changed: 1,
            added: 1,
            failed: 1,
            ..DirSummary::default()
        },
        files: vec![
            entry("model.safetensors", FileStatus::Changed, Some(report), None),
            entry("extra.npy", FileStatus::Added, None, None),
            entry("bad.pt", FileStatus::Failed, None, Some("truncated <zip>")),
        ],
    };
    let mut out = Vec::new();
    Html.render_dir(&dir, &charts(), &mut out).unwrap();
    let html = String::from_utf8(out).unwrap();
    assert_balanced(&html);
    let table = section(
        &html,
        "<table class=\"sortable\" id=\"dir-files\"",
        "</table>",
    );
    assert!(table.contains("<a href=\"#file-f0\">model.safetensors</a>"));
    assert!(table.contains("<tr class=\"added\" data-path=\"extra.npy\">"));
    assert!(table.contains("truncated &lt;zip&gt;"));
    assert!(html.contains("<section class=\"file\" id=\"file-f0\">"));
    for chart in [
        "chart-layers-f0",
        "chart-histograms-f0",
        "chart-similarity-f0",
        "chart-sizes-f0",
    ] {
        assert!(html.contains(&format!("id=\"{chart}\"")), "{chart}");
    }
    assert!(html.contains("id=\"tensors-f0\""));
}

#[test]
fn inspection_lists_every_entry() {
    let file = fixtures().join("simplenet_old.safetensors");
    let inspection = inspect::inspect(&formats::read(&file, None).unwrap(), None);
    let mut out = Vec::new();
    Html.render_inspection(&inspection, &RenderOptions::default(), &mut out)
        .unwrap();
    let html = String::from_utf8(out).unwrap();
    assert_balanced(&html);
    assert!(!inspection.entries.is_empty());
    for e in &inspection.entries {
        assert!(
            html.contains(&format!("<tr data-path=\"{}\">", e.path)),
            "{}",
            e.path
        );
    }
}

/// The whole page, byte for byte.
#[test]
fn snapshot_of_the_simplenet_page_with_charts() {
    let html = page(&simplenet(CHART_FLAGS), &charts());
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/simplenet_charts.html");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&file, &html).unwrap();
    }
    let want = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 writes it)", file.display()));
    if html != want {
        let line = html
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(html.lines().count().min(want.lines().count()));
        panic!(
            "page differs from {} at line {} (UPDATE_SNAPSHOTS=1 rewrites it)",
            file.display(),
            line + 1
        );
    }
}

#[test]
fn review_friendly_puts_a_plain_summary_first() {
    let report = simplenet(&[]);
    let opts = RenderOptions {
        review_friendly: true,
        ..RenderOptions::default()
    };
    let html = page(&report, &opts);
    let review = section(&html, "<ul class=\"review\">", "</ul>");
    assert!(
        review.contains("<li>6 of 6 compared entries differ: 6 changed.</li>"),
        "{review}"
    );
    // a tensor that was all zeros has an infinite relative change, and leads
    assert!(review.contains("(rel_l2 inf)"), "{review}");
    assert!(html.find("<ul class=\"review\">") < html.find("<h2>Files</h2>"));
    assert!(!page(&report, &RenderOptions::default()).contains("class=\"review\""));
}
