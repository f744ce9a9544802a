//! The engine end to end: determinism across thread counts, chunked = whole-tensor results,
//! sharded models, malformed files.

use std::path::{Path, PathBuf};

use diffai_core::diff::{self, Options};
use diffai_core::report::{ChangeKind, Side};
use diffai_core::stats::{decode, kernel, Tolerance, CHUNK_ELEMS};
use diffai_core::{formats, Report, Value};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/safetensors")
}

fn full_options() -> Options {
    Options {
        include_unchanged: true,
        one_sided_stats: true,
        ..Default::default()
    }
}

fn diff_paths(old: &Path, new: &Path, opts: &Options) -> Report {
    let old = formats::read(old, None).expect("old");
    let new = formats::read(new, None).expect("new");
    diff::diff(&old, &new, opts, None)
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
        .install(f)
}

#[test]
fn reports_are_byte_identical_at_any_thread_count() {
    let (old, new) = (
        fixtures().join("dtypes_old.safetensors"),
        fixtures().join("dtypes_new.safetensors"),
    );
    let json = |threads| {
        let report = in_pool(threads, || diff_paths(&old, &new, &full_options()));
        serde_json::to_string(&report).expect("serialise")
    };
    let one = json(1);
    assert!(
        one.contains("\"big\""),
        "the multi-chunk tensor is in the report"
    );
    for threads in [2, 3, 8] {
        assert_eq!(one, json(threads), "{threads} threads");
    }
}

#[test]
fn chunked_parallel_statistics_equal_the_whole_tensor_pass() {
    let old = formats::read(&fixtures().join("dtypes_old.safetensors"), None).unwrap();
    let new = formats::read(&fixtures().join("dtypes_new.safetensors"), None).unwrap();
    let tensor = |a: &diffai_core::Artifact| match &a.root {
        Value::Map(m) => match m.get("big") {
            Some(Value::Tensor(t)) => t.clone(),
            _ => panic!("no big tensor"),
        },
        _ => panic!("root is a map"),
    };
    let (o, n) = (tensor(&old), tensor(&new));
    assert!(
        o.numel() > 4 * CHUNK_ELEMS,
        "the tensor spans several chunks"
    );

    // Whole tensor: decode everything, one kernel call each.
    let decode_all = |t: &diffai_core::tensor::Tensor| {
        let mut v = vec![0.0; t.numel() as usize];
        decode::decode(t.dtype, t.bytes(), &mut v);
        v
    };
    let (ov, nv) = (decode_all(&o), decode_all(&n));
    let whole_old = kernel::side_block(&ov);
    let whole_pair = kernel::pair_block(&ov, &nv, Tolerance::default());

    for threads in [1, 2, 4] {
        let report = in_pool(threads, || diff::diff(&old, &new, &full_options(), None));
        let c = report
            .changes
            .iter()
            .find(|c| c.path == "big")
            .expect("big");
        let m = &c.metrics.as_ref().unwrap().0;
        let s = match &c.old {
            Some(Side::Tensor(t)) => &t.stats.as_ref().unwrap().0,
            _ => panic!("tensor side"),
        };
        let rel = |a: f64, b: f64| (a - b).abs() / b.abs();
        let m2 = whole_old.moments.m2 / whole_old.moments.n as f64;
        assert!(
            rel(s.mean.unwrap(), whole_old.moments.mean) < 1e-12,
            "mean at {threads} threads"
        );
        assert!(
            rel(s.std.unwrap(), m2.sqrt()) < 1e-12,
            "std at {threads} threads"
        );
        assert_eq!(s.min, Some(whole_old.min));
        assert_eq!(s.max, Some(whole_old.max));
        assert_eq!(s.zero, whole_old.zero);
        assert_eq!(m.changed, whole_pair.changed);
        assert_eq!(m.max_abs, whole_pair.max_abs);
        assert!(rel(m.norm_diff, whole_pair.sum_d2.sqrt()) < 1e-12);
        assert!(rel(m.norm_old, whole_pair.sum_o2.sqrt()) < 1e-12);
    }
}

#[test]
fn a_sharded_model_reads_as_one_model() {
    let single = fixtures().join("single.safetensors");
    for sharded in [
        fixtures().join("sharded"),
        fixtures().join("sharded/model.safetensors.index.json"),
    ] {
        let report = diff_paths(&sharded, &single, &Options::default());
        let tensor_changes: Vec<_> = report
            .changes
            .iter()
            .filter(|c| !c.path.starts_with("__metadata__"))
            .collect();
        assert!(
            tensor_changes.is_empty(),
            "{}: {tensor_changes:?}",
            sharded.display()
        );
        assert_eq!(report.old.format, "safetensors-sharded");
        assert_eq!(report.old.files, 2);
        assert_eq!(report.old.tensors, 4);
        assert_eq!(report.old.parameters, report.new.parameters);
    }
    let changed = diff_paths(
        &fixtures().join("sharded"),
        &fixtures().join("single_changed.safetensors"),
        &Options::default(),
    );
    let paths: Vec<&str> = changed.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, vec!["fc2.bias"]);
}

#[test]
fn change_kinds_and_order() {
    let report = diff_paths(
        &fixtures().join("dtypes_old.safetensors"),
        &fixtures().join("dtypes_new.safetensors"),
        &Options::default(),
    );
    let kind = |p: &str| report.changes.iter().find(|c| c.path == p).map(|c| c.kind);
    assert_eq!(kind("added_t"), Some(ChangeKind::Added));
    assert_eq!(kind("removed_t"), Some(ChangeKind::Removed));
    assert_eq!(kind("reshaped_t"), Some(ChangeKind::Reshaped));
    assert_eq!(kind("retyped_t"), Some(ChangeKind::Retyped));
    assert_eq!(kind("big"), Some(ChangeKind::Changed));
    assert_eq!(
        kind("same"),
        None,
        "unchanged tensors are not listed by default"
    );
    assert_eq!(kind("__metadata__.step"), Some(ChangeKind::Changed));
    assert_eq!(report.summary.added, 1);
    assert_eq!(report.summary.removed, 1);
    // Natural order, added entries in place: "added_t" sits before "all_nan".
    let order: Vec<&str> = report.changes.iter().map(|c| c.path.as_str()).collect();
    let pos = |p: &str| order.iter().position(|x| *x == p).unwrap();
    assert!(pos("added_t") < pos("big") && pos("big") < pos("t_bf16"));

    let mut sorted = report.changes.clone();
    diff::sort_by_change_magnitude(&mut sorted);
    let first_changed = sorted
        .iter()
        .position(|c| c.kind == ChangeKind::Changed)
        .unwrap();
    assert!(sorted[..first_changed]
        .iter()
        .all(|c| c.kind != ChangeKind::Changed));
    let rels: Vec<f64> = sorted[first_changed..]
        .iter()
        .filter_map(|c| c.rel_l2())
        .collect();
    assert!(
        rels.windows(2).all(|w| w[0] >= w[1]),
        "descending rel_l2: {rels:?}"
    );
}

#[test]
fn tolerance_turns_small_changes_into_unchanged() {
    let (o, n) = (
        fixtures().join("dtypes_old.safetensors"),
        fixtures().join("dtypes_new.safetensors"),
    );
    let strict = diff_paths(&o, &n, &Options::default());
    let loose = diff_paths(
        &o,
        &n,
        &Options {
            tolerance: Tolerance {
                epsilon: 1e-2,
                rtol: 0.0,
            },
            ..Default::default()
        },
    );
    let listed = |r: &Report, p: &str| r.changes.iter().any(|c| c.path == p);
    assert!(
        listed(&strict, "big") && !listed(&loose, "big"),
        "big changes by < 1e-2 everywhere"
    );
    assert!(loose.summary.unchanged > strict.summary.unchanged);
}

#[test]
fn filters_select_paths() {
    let (o, n) = (
        fixtures().join("dtypes_old.safetensors"),
        fixtures().join("dtypes_new.safetensors"),
    );
    let only = |opts: Options| -> Vec<String> {
        diff_paths(&o, &n, &opts)
            .changes
            .into_iter()
            .map(|c| c.path)
            .collect()
    };
    let re = |s: &str| Some(regex::Regex::new(s).unwrap());
    assert_eq!(
        only(Options {
            filter: re("^t_f8"),
            ..Default::default()
        })
        .len(),
        5
    );
    assert_eq!(
        only(Options {
            path: Some("bf16".into()),
            ..Default::default()
        }),
        vec!["t_bf16"]
    );
    let ignored = only(Options {
        ignore_keys: re("^(t_|__metadata__)"),
        ..Default::default()
    });
    assert!(ignored
        .iter()
        .all(|p| !p.starts_with("t_") && !p.starts_with("__metadata__")));
    assert!(ignored.contains(&"big".to_string()));
}

/// Each malformed file is refused with one line naming the file and the problem.
#[test]
fn malformed_files_are_clear_errors() {
    let cases = [
        ("truncated.safetensors", "past the end of the data section"),
        ("short.safetensors", "shorter than the 8-byte header length"),
        ("header_too_long.safetensors", "larger than the"),
        ("header_over_limit.safetensors", "exceeds the limit"),
        (
            "invalid_json.safetensors",
            "invalid safetensors header JSON",
        ),
        ("not_object.safetensors", "invalid safetensors header JSON"),
        (
            "offsets_out_of_range.safetensors",
            "past the end of the data section",
        ),
        ("offsets_overlap.safetensors", "overlapping"),
        ("unknown_dtype.safetensors", "unknown dtype 'Q9'"),
        ("size_mismatch.safetensors", "needs 24 bytes"),
        ("begin_after_end.safetensors", "is after end"),
        ("bad_shape.safetensors", "not a non-negative integer"),
        (
            "huge_shape.safetensors",
            "more elements than can be addressed",
        ),
    ];
    for (file, expected) in cases {
        let path = fixtures().join("bad").join(file);
        let err = formats::read(&path, None).expect_err(file).to_string();
        assert!(
            err.contains(file),
            "{file}: message does not name the file: {err}"
        );
        assert!(
            err.contains(expected),
            "{file}: expected '{expected}' in: {err}"
        );
        assert!(!err.contains('\n'), "{file}: one line: {err}");
    }
}

#[test]
fn missing_files_and_directories_are_errors() {
    let err = formats::read(Path::new("/nonexistent/model.safetensors"), None).unwrap_err();
    assert!(err.to_string().contains("no such file"), "{err}");
    let err = formats::read(&fixtures().join("bad"), None).unwrap_err();
    assert!(err.to_string().contains("is a directory"), "{err}");
}

/// `--array-id-key`: lists of objects pair by that key, so a reordered list is no change and a
/// changed field is named by its element's id; lists without the key on every element keep
/// positional paths.
#[test]
fn array_id_key_pairs_list_elements_by_key() {
    let artifact = |json: serde_json::Value| {
        diffai_core::Artifact::from_file(
            Path::new("mem.json"),
            "json",
            0,
            Value::from_json(json),
            Vec::new(),
        )
    };
    let old = artifact(serde_json::json!({
        "runs": [{"id": "a", "lr": 0.1}, {"id": "b", "lr": 0.2}, {"id": 3, "lr": 0.3}],
        "tags": [{"name": "x"}, {"id": "no"}]
    }));
    let new = artifact(serde_json::json!({
        "runs": [{"id": 3, "lr": 0.3}, {"id": "b", "lr": 0.25}, {"id": "a", "lr": 0.1}],
        "tags": [{"id": "no"}, {"name": "x"}]
    }));
    let by_position = diff::diff(&old, &new, &Options::default(), None);
    assert!(by_position.changes.len() > 2, "{:?}", by_position.changes);
    let opts = Options {
        array_id_key: Some("id".into()),
        ..Default::default()
    };
    let by_id = diff::diff(&old, &new, &opts, None);
    let paths: Vec<(&str, ChangeKind)> = by_id
        .changes
        .iter()
        .map(|c| (c.path.as_str(), c.kind))
        .collect();
    assert!(
        paths.contains(&("runs[id=b].lr", ChangeKind::Changed)),
        "{paths:?}"
    );
    assert!(
        paths
            .iter()
            .all(|(p, _)| !p.starts_with("runs") || *p == "runs[id=b].lr"),
        "{paths:?}"
    );
    // `tags` has an element without `id`: still compared by position, so its swap shows.
    assert!(
        paths.iter().any(|(p, _)| p.starts_with("tags[0]")),
        "{paths:?}"
    );
}

/// Integers beyond 2^53 compare exactly: 2^53 and 2^53 + 1 are the same f64 but differ.
#[test]
fn large_integers_compare_exactly() {
    let artifact = |v: i128| {
        let mut m = diffai_core::value::Map::new();
        m.insert("n".into(), Value::Int(v));
        diffai_core::Artifact::from_file(Path::new("mem"), "json", 0, Value::Map(m), Vec::new())
    };
    let big = 1i128 << 53;
    let r = diff::diff(
        &artifact(big),
        &artifact(big + 1),
        &Options::default(),
        None,
    );
    assert_eq!(r.changes.len(), 1);
    assert_eq!(r.changes[0].kind, ChangeKind::Changed);
    let within = Options {
        tolerance: Tolerance {
            epsilon: 1.0,
            rtol: 0.0,
        },
        ..Default::default()
    };
    let r = diff::diff(&artifact(big), &artifact(big + 1), &within, None);
    assert!(r.changes.is_empty());
    let huge = diff::diff(&artifact(i128::MIN), &artifact(i128::MAX), &within, None);
    assert_eq!(huge.changes.len(), 1);
}
