//! Reports people read: Markdown (`-o markdown`, `--markdown-output`), the `--review-friendly`
//! summary, and `--generate-report`. Snapshots live in `tests/snapshots/`; regenerate them with
//! `UPDATE_SNAPSHOTS=1 cargo test -p diffai --test reports` and review the diff.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_diffai");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs diffai from the repository root (so paths in reports are relative and stable).
fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(root())
        .env_remove("NO_COLOR")
        .output()
        .expect("run diffai")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

/// Compares `got` with the committed snapshot `name`, or rewrites it under UPDATE_SNAPSHOTS.
fn snapshot(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 writes it)", path.display()));
    if want != got {
        let line = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(got.lines().count()));
        panic!(
            "{name} differs from its snapshot at line {}:\n want: {:?}\n  got: {:?}",
            line + 1,
            want.lines().nth(line),
            got.lines().nth(line)
        );
    }
}

const E5: &str = "tests/fixtures/pytorch/checkpoint_e5.pt";
const E6: &str = "tests/fixtures/pytorch/checkpoint_e6.pt";

#[test]
fn markdown_report_of_a_checkpoint_pair() {
    let args = [
        E5,
        E6,
        "-o",
        "markdown",
        "--review-friendly",
        "--show-layer-impact",
        "--regression-test",
    ];
    let o = run(&args);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let md = stdout(&o);
    // 35 changes: more than a screen, so collapsed; paths verbatim in code spans.
    assert!(md.contains("<details><summary>35 changed entries</summary>"));
    assert!(
        md.contains("| changed | `optimizer_state_dict.param_groups[0].lr` | `0.001 -> 0.0005` |")
    );
    assert!(md.contains("### regression_test — passed"));
    snapshot("checkpoint.md", &md);
    // --markdown-output is the same document.
    let mut alias: Vec<&str> = args.to_vec();
    alias.splice(2..4, ["--markdown-output"]);
    assert_eq!(stdout(&run(&alias)), md);
}

#[test]
fn markdown_of_directories_lists_every_file() {
    let o = run(&[
        "tests/fixtures/analyses",
        "tests/fixtures/analyses",
        "-r",
        "-o",
        "md",
        "--review-friendly",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let md = stdout(&o);
    assert!(md.starts_with("# diffai report: directories\n"));
    assert!(
        md.contains("| `lowrank_old.safetensors` | identical |"),
        "{md}"
    );
    assert!(md.contains("files compared: 0 changed, 0 added, 0 removed, 0 failed"));
}

/// The review sentences carry the report's own numbers.
#[test]
fn review_summary_comes_from_the_computed_results() {
    let json: serde_json::Value =
        serde_json::from_slice(&run(&[E5, E6, "-o", "json"]).stdout).unwrap();
    let text = stdout(&run(&[E5, E6, "--review-friendly"]));
    let review: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("review: "))
        .collect();
    let s = &json["summary"];
    let differ = [
        "added",
        "removed",
        "changed",
        "reshaped",
        "retyped",
        "type_changed",
    ]
    .iter()
    .map(|k| s[k].as_u64().unwrap())
    .sum::<u64>();
    let total = differ + s["unchanged"].as_u64().unwrap();
    assert!(review[0].starts_with(&format!("{differ} of {total} compared entries differ")));
    // The largest rel_l2 among changed tensors, named first.
    let (path, rel) = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| Some((c["path"].as_str()?, c["metrics"]["rel_l2"].as_f64()?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    assert!(
        review[1].starts_with(&format!("Largest changes: {path} (rel_l2 {rel:.4})")),
        "{review:?}"
    );
    let same = stdout(&run(&[E5, E5, "--review-friendly"]));
    assert!(same.starts_with("review: No differences:"), "{same}");
}

/// An injected NaN and a failed gate are named in the summary.
#[test]
fn review_summary_names_alarms() {
    let dir = "tests/fixtures/analyses";
    let o = run(&[
        &format!("{dir}/anomaly_old.safetensors"),
        &format!("{dir}/anomaly_new.safetensors"),
        "--review-friendly",
        "--anomaly-detection",
        "--regression-test",
    ]);
    let text = stdout(&o);
    assert!(
        text.contains("review: Alarm: NaN or Inf appeared in"),
        "{text}"
    );
    assert!(
        text.contains("review: Gate regression_test failed: "),
        "{text}"
    );
    assert!(text.contains("review: Anomaly detection flagged"), "{text}");
}

#[test]
fn generate_report_writes_the_page_and_keeps_stdout() {
    let page = std::env::temp_dir().join(format!("diffai-report-{}.html", std::process::id()));
    let page_arg = page.display().to_string();
    let with = run(&[E5, E6, "--generate-report", &page_arg, "--include-charts"]);
    let without = run(&[E5, E6, "--include-charts"]);
    assert_eq!(with.status.code(), Some(1));
    assert_eq!(stdout(&with), stdout(&without));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("id=\"chart-layers\""));
    std::fs::remove_file(&page).unwrap();
    // -o html is the same page on stdout.
    assert_eq!(
        stdout(&run(&[E5, E6, "-o", "html", "--include-charts"])),
        html
    );
}

#[test]
fn an_unwritable_report_is_a_clear_error() {
    let o = run(&[E5, E6, "--generate-report", "/nonexistent-dir/report.html"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("/nonexistent-dir/report.html: writing the report"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
}

const SN_OLD: &str = "tests/fixtures/analyses/simplenet_old.safetensors";
const SN_NEW: &str = "tests/fixtures/analyses/simplenet_new.safetensors";

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// Three models: each entry is the two-model cosine `--similarity-matrix` reports for that pair.
#[test]
fn similarity_matrix_of_several_models() {
    let pair = json(&run(&[SN_OLD, SN_NEW, "--similarity-matrix", "-o", "json"]));
    let want = pair["analyses"]["similarity_matrix"]["cosine"]
        .as_f64()
        .unwrap();
    let o = run(&[SN_OLD, SN_NEW, SN_OLD, "--similarity-matrix", "-o", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let m = json(&o);
    assert_eq!(m["kind"], "similarity");
    assert_eq!(m["models"].as_array().unwrap().len(), 3);
    let c = |i: usize, j: usize| m["cosine"][i][j].as_f64().unwrap();
    for i in 0..3 {
        assert_eq!(c(i, i), 1.0);
        for j in 0..3 {
            assert_eq!(c(i, j), c(j, i));
        }
    }
    assert_eq!(c(0, 1), want);
    assert_eq!(c(1, 2), want);
    assert_eq!(c(0, 2), 1.0);
    assert_eq!(m["shared"][0][1], 6);
    // Text: the models numbered, the matrix by those numbers; HTML: a shaded table.
    let text = stdout(&run(&[SN_OLD, SN_NEW, SN_OLD, "--similarity-matrix"]));
    assert!(text.starts_with(
        "similarity_matrix: models=3\n  [1] tests/fixtures/analyses/simplenet_old.safetensors\n"
    ));
    assert!(
        text.contains("  [1]      1.000   1−5.1e-5      1.000\n"),
        "{text}"
    );
    let html = stdout(&run(&[
        SN_OLD,
        SN_NEW,
        SN_OLD,
        "--similarity-matrix",
        "-o",
        "html",
    ]));
    assert!(html.contains("<table id=\"model-matrix\">"));
    assert!(html.contains(&format!("data-value=\"{want}\"")));
    let md = stdout(&run(&[
        SN_OLD,
        SN_NEW,
        SN_OLD,
        "--similarity-matrix",
        "-o",
        "md",
    ]));
    assert!(md.contains("| 2 `tests/fixtures/analyses/simplenet_new.safetensors` | 1−5.1e-5 | 1.000 | 1−5.1e-5 |"), "{md}");
}

/// A directory of checkpoints: its model files in name order, other files left out.
#[test]
fn similarity_matrix_of_a_directory() {
    let dir = std::env::temp_dir().join(format!("diffai-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (from, to) in [(SN_OLD, "a.safetensors"), (SN_NEW, "b.safetensors")] {
        std::fs::copy(root().join(from), dir.join(to)).unwrap();
    }
    std::fs::write(dir.join("config.json"), "{\"n_head\": 4}").unwrap();
    let d = dir.display().to_string();
    let m = json(&run(&[&d, "--similarity-matrix", "-o", "json"]));
    let names: Vec<&str> = m["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert_eq!(names, ["a.safetensors", "b.safetensors"]);
    let pair = json(&run(&[SN_OLD, SN_NEW, "--similarity-matrix", "-o", "json"]));
    assert_eq!(
        m["cosine"][0][1],
        pair["analyses"]["similarity_matrix"]["cosine"]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn more_than_two_inputs_need_the_similarity_matrix() {
    let o = run(&[SN_OLD, SN_NEW, SN_OLD]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("3 inputs: only --similarity-matrix compares more than two"));
    let one = run(&[SN_OLD, "--similarity-matrix"]);
    assert_eq!(one.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&one.stderr).contains("needs a directory of checkpoints"));
}
