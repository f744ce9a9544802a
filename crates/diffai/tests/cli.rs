//! The real binary: every flag, exit status, output format, colour and pipe behaviour.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_diffai");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fx(name: &str) -> String {
    root()
        .join("tests/fixtures/safetensors")
        .join(name)
        .display()
        .to_string()
}

fn example(name: &str) -> String {
    root().join("examples").join(name).display().to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run diffai")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("utf-8 stderr")
}

fn status(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn old_new() -> (String, String) {
    (fx("dtypes_old.safetensors"), fx("dtypes_new.safetensors"))
}

/// `  ~ name: mean=X->Y, std=X->Y` with numbers of four decimals (or scientific notation).
fn is_seed_line(line: &str) -> bool {
    let num = r"-?(\d+\.\d{4}|\d\.\d{4}e-?\d+)";
    let re = regex::Regex::new(&format!(
        r"^  ~ [\w.]+: mean={num}->{num}, std={num}->{num}$"
    ))
    .unwrap();
    re.is_match(line)
}

#[test]
fn examples_print_the_seed_line_format_and_exit_1() {
    let o = run(&[
        &example("simple_model_v1.safetensors"),
        &example("simple_model_v2.safetensors"),
    ]);
    assert_eq!(status(&o), 1, "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    for l in &lines {
        assert!(is_seed_line(l), "not in the seed's format: {l:?}");
    }
    assert!(lines[0].starts_with("  ~ fc1.bias: mean="));
    assert!(stderr(&o).is_empty());
    // --stats is the default view.
    let with_stats = run(&[
        &example("simple_model_v1.safetensors"),
        &example("simple_model_v2.safetensors"),
        "--stats",
    ]);
    assert_eq!(stdout(&with_stats), out);
}

#[test]
fn identical_inputs_exit_0_silently() {
    let o = run(&[&fx("single.safetensors"), &fx("single.safetensors")]);
    assert_eq!(status(&o), 0);
    assert!(stdout(&o).is_empty());
    // A sharded model against the same weights in one file (metadata ignored).
    let o = run(&[
        &fx("sharded"),
        &fx("single.safetensors"),
        "--ignore-keys-regex",
        "^__metadata__$",
    ]);
    assert_eq!(status(&o), 0, "{}", stdout(&o));
}

#[test]
fn json_and_yaml_reports_parse_back_and_agree() {
    let (a, b) = old_new();
    let j = run(&[&a, &b, "-o", "json"]);
    assert_eq!(status(&j), 1);
    let json: serde_json::Value = serde_json::from_slice(&j.stdout).expect("valid JSON");
    assert_eq!(json["schema"], "diffai/1");
    assert_eq!(json["summary"]["added"], 1);
    assert_eq!(json["summary"]["removed"], 1);
    assert_eq!(json["summary"]["reshaped"], 1);
    assert_eq!(json["summary"]["retyped"], 1);
    assert_eq!(json["old"]["format"], "safetensors");
    let big = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "big")
        .unwrap();
    assert_eq!(big["kind"], "changed");
    assert!(big["metrics"]["rel_l2"].as_f64().unwrap() > 0.0);
    assert_eq!(big["old"]["dtype"], "float32");

    let y = run(&[&a, &b, "-o", "yaml"]);
    assert_eq!(status(&y), 1);
    let yaml: serde_json::Value = serde_saphyr::from_slice(&y.stdout).expect("valid YAML");
    assert_eq!(yaml, json, "YAML and JSON carry the same report");
}

#[test]
fn cli_is_an_alias_of_text() {
    let (a, b) = old_new();
    assert_eq!(
        stdout(&run(&[&a, &b, "-o", "cli"])),
        stdout(&run(&[&a, &b]))
    );
}

#[test]
fn output_is_identical_at_any_thread_count() {
    let (a, b) = old_new();
    let one = run(&[&a, &b, "-o", "json", "--tensor-details", "--threads", "1"]);
    let two = run(&[&a, &b, "-o", "json", "--tensor-details", "--threads", "2"]);
    assert_eq!(one.stdout, two.stdout);
}

/// The AVX-512, AVX2 and portable kernels give byte-identical reports.
#[test]
fn output_is_identical_on_every_instruction_set() {
    let (a, b) = old_new();
    let with_isa = |isa: &str| {
        Command::new(BIN)
            .args([&a, &b, "-o", "json", "--tensor-details"])
            .env("DIFFAI_ISA", isa)
            .output()
            .expect("run")
            .stdout
    };
    let best = with_isa("best");
    assert_eq!(with_isa("avx2"), best);
    assert_eq!(with_isa("portable"), best);
}

#[test]
fn quiet_and_brief() {
    let (a, b) = old_new();
    let q = run(&[&a, &b, "-q"]);
    assert_eq!(status(&q), 1);
    assert!(q.stdout.is_empty() && q.stderr.is_empty());
    let q = run(&[&a, &a, "--quiet"]);
    assert_eq!(status(&q), 0);

    let br = run(&[&a, &b, "--brief"]);
    assert_eq!(status(&br), 1);
    let out = stdout(&br);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains("differ: ") && out.contains("1 added") && out.contains("1 removed"),
        "{out}"
    );
    assert!(stdout(&run(&[&a, &a, "--brief"])).is_empty());
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let (a, b) = old_new();
    let ansi = |o: &Output| o.stdout.contains(&0x1b);
    assert!(!ansi(&run(&[&a, &b])), "a pipe gets no colour");
    assert!(ansi(&run(&[&a, &b, "--color", "always"])));
    assert!(!ansi(&run(&[&a, &b, "--color", "always", "--no-color"])));
    assert!(!ansi(&run(&[&a, &b, "--color", "never"])));
    let green = run(&[&a, &b, "--color", "always"]);
    assert!(
        stdout(&green).contains("\x1b[32m  + added_t"),
        "added lines are green"
    );
}

/// `script` gives the binary a real terminal, where `auto` colours unless NO_COLOR is set.
#[test]
fn colour_on_a_terminal_respects_no_color() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let (a, b) = old_new();
    let cmd = format!("{BIN} {a} {b}");
    let tty = |no_color: Option<&str>| {
        let mut c = Command::new("script");
        c.args(["-qec", &cmd, "/dev/null"]);
        c.env_remove("NO_COLOR");
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        c.output().expect("script")
    };
    assert!(tty(None).stdout.contains(&0x1b), "a terminal gets colour");
    assert!(
        !tty(Some("1")).stdout.contains(&0x1b),
        "NO_COLOR turns it off"
    );
}

#[test]
fn verbose_prints_diagnostics_on_stderr() {
    let (a, b) = old_new();
    let v = run(&[&a, &b, "-v"]);
    assert_eq!(status(&v), 1);
    let err = stderr(&v);
    for needle in [
        "=== diffai verbose mode enabled ===",
        "Configuration:",
        "File analysis:",
        "Detected format: safetensors / safetensors",
        "Processing results:",
        "Differences found: ",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert_eq!(
        stdout(&v),
        stdout(&run(&[&a, &b])),
        "stdout unchanged by -v"
    );
}

#[test]
fn tensor_details_and_diff_only() {
    let (a, b) = old_new();
    let d = stdout(&run(&[&a, &b, "--tensor-details"]));
    assert!(
        d.contains("    same: mean="),
        "unchanged tensors are listed:\n{d}"
    );
    assert!(d.contains("max_abs=") && d.contains("rel_l2=") && d.contains("1-cos="));
    let only = stdout(&run(&[&a, &b, "--tensor-details", "--diff-only"]));
    assert!(!only.contains("    same:"));
    assert!(only.contains("  ~ big:") && only.contains("rel_l2="));
}

#[test]
fn sort_by_change_magnitude_orders_every_format() {
    let (a, b) = old_new();
    let text = stdout(&run(&[&a, &b, "--sort-by-change-magnitude"]));
    let symbols: Vec<char> = text.lines().map(|l| l.chars().nth(2).unwrap()).collect();
    let first_tilde = symbols.iter().position(|&c| c == '~').unwrap();
    assert!(
        symbols[first_tilde..].iter().all(|&c| c == '~'),
        "structural changes first: {symbols:?}"
    );
    let j = run(&[&a, &b, "--sort-by-change-magnitude", "-o", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    let rel: Vec<f64> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "changed")
        .filter_map(|c| c["metrics"]["rel_l2"].as_f64())
        .collect();
    assert!(
        rel.len() > 10 && rel.windows(2).all(|w| w[0] >= w[1]),
        "{rel:?}"
    );
}

#[test]
fn filter_path_and_ignore_keys() {
    let (a, b) = old_new();
    let paths = |args: &[&str]| -> Vec<String> {
        let mut all = vec![a.as_str(), b.as_str()];
        all.extend_from_slice(args);
        stdout(&run(&all))
            .lines()
            .map(|l| l[4..].split(':').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        paths(&["--filter", "^t_f8_e5"]),
        vec!["t_f8_e5m2", "t_f8_e5m2fnuz"]
    );
    assert_eq!(paths(&["--path", "bf16"]), vec!["t_bf16"]);
    let ignored = paths(&["--ignore-keys-regex", "^t_"]);
    assert!(!ignored.is_empty() && ignored.iter().all(|p| !p.starts_with("t_")));
    // Filtering everything away means no differences.
    let o = run(&[&a, &b, "--path", "no-such-tensor"]);
    assert_eq!(status(&o), 0);
}

#[test]
fn epsilon_and_rtol() {
    let (a, b) = old_new();
    let strict = stdout(&run(&[&a, &b]));
    assert!(strict.contains("  ~ big:"));
    let loose = stdout(&run(&[&a, &b, "--epsilon", "0.01"]));
    assert!(!loose.contains("  ~ big:"), "big changes by less than 0.01");
    let rel = stdout(&run(&[&a, &b, "--rtol", "0.5"]));
    assert!(!rel.contains("  ~ big:"));
    assert_eq!(status(&run(&[&a, &b, "--epsilon", "-1"])), 2);
    assert_eq!(status(&run(&[&a, &b, "--rtol", "nan"])), 2);
}

#[test]
fn inspect_lists_every_tensor_with_statistics() {
    let o = run(&["inspect", &fx("single.safetensors")]);
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out
        .lines()
        .next()
        .unwrap()
        .contains("format=safetensors, size="));
    assert!(out.contains(
        "  fc1.weight: shape=[64, 32], dtype=float32, elements=2048, size=8.00KB, mean="
    ));
    let j = run(&["inspect", &fx("single.safetensors"), "-o", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(json["schema"], "diffai-inspect/1");
    assert_eq!(json["file"]["tensors"], 4);
    let bad = run(&["inspect", &fx("bad/short.safetensors")]);
    assert_eq!(status(&bad), 2);
}

#[test]
fn completions_for_shells() {
    for shell in ["bash", "zsh", "fish"] {
        let o = run(&["completions", shell]);
        assert_eq!(status(&o), 0);
        assert!(stdout(&o).contains("diffai"), "{shell}");
        assert!(stdout(&o).contains("tensor-details"), "{shell}");
    }
}

#[test]
fn errors_exit_2_with_one_line_naming_the_file() {
    let (a, _) = old_new();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![a.clone(), "/nonexistent/x.safetensors".into()],
            "/nonexistent/x.safetensors: no such file",
        ),
        (
            vec![a.clone(), fx("bad/truncated.safetensors")],
            "truncated.safetensors: ",
        ),
        (
            vec![fx("bad/header_over_limit.safetensors"), a.clone()],
            "exceeds the limit",
        ),
        (vec![a.clone(), fx("bad")], "is a directory"),
        (
            vec![a.clone(), a.clone(), "--filter".into(), "(".into()],
            "invalid --filter regular expression",
        ),
        (
            vec![a.clone(), a.clone(), "-o".into(), "pdf".into()],
            "unknown output format 'pdf'",
        ),
        (
            vec![a.clone(), a.clone(), "-f".into(), "docx".into()],
            "unknown input format 'docx'",
        ),
        (
            vec![a.clone(), root().join("README.md").display().to_string()],
            "unrecognised file format",
        ),
        (
            vec![a.clone(), a.clone(), "--threads".into(), "0".into()],
            "--threads must be at least 1",
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(status(&o), 2, "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?}: nothing on stdout");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.starts_with("diffai: error: "), "{err}");
        assert!(
            err.contains(expected),
            "{args:?}: expected {expected:?} in {err}"
        );
    }
    // Usage errors (clap) exit 2 as well.
    assert_eq!(status(&run(&[&a])), 2);
    assert_eq!(status(&run(&["--no-such-flag", &a, &a])), 2);
}

#[test]
fn forced_format_overrides_detection() {
    let dir = std::env::temp_dir().join(format!("diffai-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let renamed = dir.join("weights.data");
    std::fs::copy(fx("single.safetensors"), &renamed).unwrap();
    let r = renamed.display().to_string();
    // Magic bytes find safetensors whatever the extension.
    assert_eq!(status(&run(&[&r, &fx("single.safetensors")])), 0);
    assert_eq!(
        status(&run(&["-f", "safetensors", &r, &fx("single.safetensors")])),
        0
    );
    // Forcing safetensors on a file that is not one is a clear error.
    let readme = root().join("README.md").display().to_string();
    let o = run(&["-f", "safetensors", &readme, &r]);
    assert_eq!(status(&o), 2);
    assert!(stderr(&o).contains("README.md: "), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_closed_stdout_pipe_ends_quietly() {
    let (a, b) = old_new();
    let mut child = Command::new(BIN)
        .args([&a, &b, "-o", "json", "--tensor-details"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take()); // the reader goes away before diffai writes
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.stderr.is_empty(),
        "no panic or message: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "the diff's own status");
}

fn pt(name: &str) -> String {
    root()
        .join("tests/fixtures/pytorch")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn a_pt_file_and_its_safetensors_conversion_are_identical() {
    let o = run(&[&pt("state_zip.pt"), &pt("state.safetensors")]);
    assert_eq!(status(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let o = run(&[&pt("state_zip.pt"), &pt("state_changed.safetensors")]);
    assert_eq!(status(&o), 1);
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(is_seed_line(out.lines().next().unwrap()), "{out}");
    assert!(out.starts_with("  ~ fc2.bias: mean="));
}

#[test]
fn checkpoint_subtrees() {
    let o = run(&[
        &pt("checkpoint_e5.pt"),
        &pt("checkpoint_e5.pt"),
        "--old-root",
        "model_state_dict",
        "--new-root",
        "model_state_dict",
    ]);
    assert_eq!(status(&o), 0);
    let o = run(&[
        &pt("checkpoint_e5.pt"),
        &pt("checkpoint_e6.pt"),
        "--old-root",
        "optimizer_state_dict.param_groups[0]",
        "--new-root",
        "optimizer_state_dict.param_groups[0]",
    ]);
    assert_eq!(status(&o), 1);
    assert!(
        stdout(&o).contains("  ~ lr: 0.001 -> 0.0005"),
        "{}",
        stdout(&o)
    );
    let o = run(&[
        &pt("checkpoint_e5.pt"),
        &pt("checkpoint_e6.pt"),
        "--old-root",
        "no_such_key",
    ]);
    assert_eq!(status(&o), 2);
    assert!(stderr(&o).contains("has no subtree 'no_such_key'"));
}

#[test]
fn security_findings_are_reported_and_nothing_runs() {
    let marker = std::path::Path::new("/tmp/diffai-pwned");
    let _ = std::fs::remove_file(marker);
    let evil = pt("hostile/os_system.pt");
    let o = run(&[&evil, &pt("state_zip.pt")]);
    assert_eq!(status(&o), 1, "the status is about the diff");
    assert!(
        stdout(&o).starts_with("  ! security (old): pickle calls posix.system"),
        "{}",
        stdout(&o)
    );
    let j = run(&[&evil, &evil, "-o", "json"]);
    assert_eq!(status(&j), 0, "an artifact equals itself, findings or not");
    let json: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(json["security"].as_array().unwrap().len(), 2);
    assert!(!marker.exists());
    let bad = run(&[&pt("hostile/deep_nesting.pkl"), &evil]);
    assert_eq!(status(&bad), 2);
    assert_eq!(stderr(&bad).lines().count(), 1);
}

/// A fresh, empty directory under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("diffai-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies fixture `from` (relative to tests/fixtures) to `to` (relative to `dir`).
fn place(dir: &Path, to: &str, from: &str) {
    let to = dir.join(to);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(root().join("tests/fixtures").join(from), to).unwrap();
}

/// Two trees of mixed formats, nested folders and files on one side only.
fn two_trees(name: &str) -> (PathBuf, PathBuf) {
    let base = scratch(name);
    let (old, new) = (base.join("old"), base.join("new"));
    for (to, o, n) in [
        (
            "model.safetensors",
            "safetensors/dtypes_old.safetensors",
            "safetensors/dtypes_new.safetensors",
        ),
        (
            "same.safetensors",
            "safetensors/dtypes_old.safetensors",
            "safetensors/dtypes_old.safetensors",
        ),
        ("arrays/x.npy", "numpy/v1.npy", "numpy/changed.npy"),
        (
            "arrays/deep/er/ws.mat",
            "matlab/ws_scipy_v5.mat",
            "matlab/ws_octave_v7.mat",
        ),
        (
            "notes/readme.txt",
            "numpy/bad/README.md",
            "numpy/bad/README.md",
        ),
        (
            "notes/log.txt",
            "numpy/bad/README.md",
            "matlab/bad/README.md",
        ),
    ] {
        place(&old, to, o);
        place(&new, to, n);
    }
    place(&old, "only_old.npy", "numpy/v2.npy");
    place(&new, "arrays/only_new.npz", "numpy/dtypes_old.npz");
    (old, new)
}

#[test]
fn recursive_compares_two_trees_file_by_file() {
    let (old, new) = two_trees("tree");
    let (o, n) = (old.display().to_string(), new.display().to_string());
    let out = run(&[&o, &n, "-r", "--no-color"]);
    assert_eq!(status(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    let files: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(
        files,
        [
            "+ arrays/only_new.npz",
            "~ arrays/x.npy",
            "~ model.safetensors",
            "~ notes/log.txt (not a recognised format: compared byte for byte)",
            "- only_old.npy",
        ],
        "{text}"
    );
    // Each changed pair's own lines follow its file line; the same workspace saved by scipy and
    // by Octave (arrays/deep/er/ws.mat) and the identical files are not listed.
    assert!(
        text.contains("~ arrays/x.npy\n  ~ data: shape=[11, 5]"),
        "{text}"
    );

    let json = run(&[&o, &n, "-r", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["kind"], "directory");
    let s = &v["summary"];
    assert_eq!(
        (
            &s["identical"],
            &s["changed"],
            &s["added"],
            &s["removed"],
            &s["failed"]
        ),
        (&3.into(), &3.into(), &1.into(), &1.into(), &0.into())
    );
    let x = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "arrays/x.npy")
        .unwrap();
    assert_eq!(x["report"]["summary"]["changed"], 1);
    let _ = std::fs::remove_dir_all(old.parent().unwrap());
}

#[test]
fn recursive_filters_and_exit_statuses() {
    let (old, new) = two_trees("filters");
    let (o, n) = (old.display().to_string(), new.display().to_string());
    // Only the MATLAB workspace: the same in both trees.
    let same = run(&[&o, &n, "-r", "--include", "*.mat"]);
    assert_eq!(status(&same), 0, "{}", stdout(&same));
    assert_eq!(stdout(&same), "");
    // Globs match at any depth and repeat; --exclude wins.
    let out = run(&[
        &o,
        &n,
        "-r",
        "--include",
        "*.npy",
        "--include",
        "*.npz",
        "--exclude",
        "arrays/*",
        "-o",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let paths: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["only_old.npy"]);
    assert_eq!(status(&out), 1);
    // A malformed file: its error on stderr naming the file, every other pair still reported,
    // exit 2 (an error is never reported as a mere difference).
    std::fs::write(old.join("arrays/x.npy"), b"\x93NUMPY\x01\x00garbage").unwrap();
    let bad = run(&[&o, &n, "-r", "--no-color"]);
    assert_eq!(status(&bad), 2);
    let err = stderr(&bad);
    assert!(err.contains("x.npy") && err.lines().count() == 1, "{err}");
    assert!(stdout(&bad).contains("~ model.safetensors"));
    // Not directories.
    let files = run(&[
        &fx("dtypes_old.safetensors"),
        &fx("dtypes_new.safetensors"),
        "-r",
    ]);
    assert_eq!(status(&files), 2);
    assert!(
        stderr(&files).contains("not a directory"),
        "{}",
        stderr(&files)
    );
    let _ = std::fs::remove_dir_all(old.parent().unwrap());
}

#[test]
fn analysis_flags_print_their_lines_and_json_objects() {
    let (o, n) = old_new();
    let out = run(&[&o, &n, "--change-summary", "--show-structure", "--no-color"]);
    assert_eq!(status(&out), 1);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(lines.len(), 2, "{text}");
    // Registry order, whatever the order on the command line; no +/~ prefix.
    assert!(
        lines[0].starts_with("show_structure: structure=changed, structural_changes=4"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("change_summary: added=1, removed=1"),
        "{}",
        lines[1]
    );
    let json = run(&[&o, &n, "--show-size-reduction", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let a = v["analyses"].as_object().unwrap();
    assert_eq!(a.keys().collect::<Vec<_>>(), ["show_size_reduction"]);
    assert!(a["show_size_reduction"]["file_bytes_old"].as_u64().unwrap() > 0);
    let help = stdout(&run(&["--help"]));
    assert!(help.contains("--change-summary"), "{help}");
}

/// A CSV that gained rows: its numeric columns are reshaped tensors, still with mean/std
/// old->new (`--stats` lines), as the product documents show for datasets.
#[test]
fn csv_columns_that_gained_rows_keep_their_statistics() {
    let dir = root().join("tests/fixtures/structured");
    let (o, n) = (dir.join("table_old.csv"), dir.join("table_more_rows.csv"));
    let out = run(&[
        o.to_str().unwrap(),
        n.to_str().unwrap(),
        "--stats",
        "--no-color",
    ]);
    assert_eq!(status(&out), 1);
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("  ! columns.score:"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.starts_with("  ! columns.score: shape=[40]->[42], mean="),
        "{line}"
    );
    assert!(line.contains(", std="), "{line}");
}

/// A diffai JSON report is itself an input: two reports of different runs diff like any JSON.
#[test]
fn a_json_report_is_valid_input() {
    let dir = scratch("reports");
    let (o, n) = old_new();
    let write = |name: &str, args: &[&str]| {
        let out = run(args);
        let path = dir.join(name);
        std::fs::write(&path, &out.stdout).unwrap();
        path.display().to_string()
    };
    let a = write("a.json", &[&o, &n, "-o", "json"]);
    let b = write("b.json", &[&o, &n, "-o", "json", "--epsilon", "0.001"]);
    let same = run(&[&a, &a]);
    assert_eq!(status(&same), 0, "{}", stderr(&same));
    let diff = run(&[&a, &b, "--no-color"]);
    assert_eq!(status(&diff), 1, "{}", stderr(&diff));
    assert!(
        stdout(&diff).contains("~ options.epsilon: 0.0 -> 0.001"),
        "{}",
        stdout(&diff)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_forced_input_format_that_fails_points_at_output() {
    let (o, n) = old_new();
    let out = run(&[&o, &n, "-f", "json"]);
    assert_eq!(status(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("-o/--output") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn a_failed_gate_exits_3_and_thresholds_are_settable() {
    let dir = root().join("tests/fixtures/analyses");
    let f = |n: &str| dir.join(n).display().to_string();
    let (o, n) = (
        f("simplenet_old.safetensors"),
        f("simplenet_new.safetensors"),
    );
    let pass = run(&[&o, &n, "--regression-test", "--no-color"]);
    assert_eq!(
        status(&pass),
        1,
        "differences, no failed gate: {}",
        stdout(&pass)
    );
    assert!(stdout(&pass).contains(
        "regression_test: passed=[compatible, finite, rel_l2, parameters, size], failed=[]"
    ));
    let strict = run(&[&o, &n, "--regression-test", "--max-rel-l2", "1e-9"]);
    assert_eq!(status(&strict), 3, "{}", stdout(&strict));
    assert!(
        stdout(&strict).contains("failed=[rel_l2]"),
        "{}",
        stdout(&strict)
    );
    let (a, b) = (f("anomaly_old.safetensors"), f("anomaly_new.safetensors"));
    assert_eq!(status(&run(&[&a, &b, "--alert-on-degradation", "-q"])), 3);
    let bad_flag = run(&[&o, &n, "--regression-test", "--max-rel-l2", "-1"]);
    assert_eq!(status(&bad_flag), 2);
}
