//! PyTorch files written by real torch (tests/fixtures/generate_torch.py): every tensor against
//! the float64 reference, checkpoints' scalars, formats that must read as the same weights, and
//! hostile files.

mod common;

use std::path::PathBuf;

use common::{check_pair, check_side, num};
use diffai_core::diff::{self, Options};
use diffai_core::inspect;
use diffai_core::report::{ChangeKind, Scalar, Side};
use diffai_core::{formats, Report, Value};
use serde_json::Value as Json;

fn fx(name: &str) -> PathBuf {
    common::fixtures("pytorch").join(name)
}

fn diff(old: &str, new: &str, opts: &Options) -> Report {
    let old = formats::read(&fx(old), None).expect("old");
    let new = formats::read(&fx(new), None).expect("new");
    diff::diff(&old, &new, opts, None)
}

fn all() -> Options {
    Options {
        include_unchanged: true,
        one_sided_stats: true,
        ..Default::default()
    }
}

/// Every tensor of every file, read by diffai, against torch's values.
#[test]
fn every_tensor_matches_the_reference() {
    let reference = common::reference("pytorch");
    let mut checked = 0;
    for (file, r) in reference["files"].as_object().unwrap() {
        let artifact = formats::read(&fx(file), None).unwrap_or_else(|e| panic!("{file}: {e}"));
        let inspection = inspect::inspect(&artifact, None);
        for (path, want) in r["tensors"].as_object().unwrap() {
            if file == "quantized.pt" && path == "q" {
                continue; // quantized tensors are reported, not decoded (see `quantized_tensors…`)
            }
            let entry = inspection
                .entries
                .iter()
                .find(|e| e.path == *path)
                .unwrap_or_else(|| panic!("{file}: no tensor {path}"));
            let Side::Tensor(t) = &entry.side else {
                panic!("{file} {path}: not a tensor")
            };
            let mut want = want.clone();
            if let Some(unpacked) = want.get("unpacked_numel").cloned() {
                // torch counts float4_e2m1fn_x2 in bytes; diffai counts the float4 values.
                want["numel"] = unpacked;
                assert_eq!(t.dtype, "float4_e2m1fn", "{file} {path}");
            } else {
                assert_eq!(t.dtype, want["dtype"].as_str().unwrap(), "{file} {path}");
                let shape: Vec<u64> = serde_json::from_value(want["shape"].clone()).unwrap();
                assert_eq!(t.shape, shape, "{file} {path}");
            }
            let stats = &t
                .stats
                .as_ref()
                .unwrap_or_else(|| panic!("{file} {path}: no stats"))
                .0;
            check_side(&format!("{file} {path}"), stats, &want);
            checked += 1;
        }
    }
    assert!(checked > 130, "only {checked} tensors checked");
}

#[test]
fn pairs_match_the_reference() {
    let reference = common::reference("pytorch");
    for pair in reference["pairs"].as_array().unwrap() {
        let (old, new) = (pair["old"].as_str().unwrap(), pair["new"].as_str().unwrap());
        let report = diff(old, new, &all());
        for (path, want) in pair["tensors"].as_object().unwrap() {
            let c = report
                .changes
                .iter()
                .find(|c| c.path == *path)
                .unwrap_or_else(|| panic!("{path}"));
            let m = &c
                .metrics
                .as_ref()
                .unwrap_or_else(|| panic!("{old} {path}: no metrics"))
                .0;
            let dtype = reference["files"][old]["tensors"][path]["dtype"]
                .as_str()
                .unwrap();
            check_pair(
                &format!("{old} vs {new} {path}"),
                m,
                want,
                dtype.starts_with("complex"),
            );
        }
    }
}

/// Non-tensor leaves of checkpoints: epochs, optimizer hyper-parameters, configs, numpy scalars.
#[test]
fn checkpoint_scalars_match_the_reference() {
    let reference = common::reference("pytorch");
    for file in ["checkpoint_e5.pt", "checkpoint_e6.pt", "list_root.pt"] {
        let artifact = formats::read(&fx(file), None).unwrap();
        let leaves = artifact.root.leaves();
        for (path, want) in reference["files"][file]["leaves"].as_object().unwrap() {
            let got = leaves
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, v)| *v)
                .unwrap_or_else(|| panic!("{file}: no leaf {path}"));
            let ok = match (got, want) {
                (Value::Int(i), Json::Number(n)) => n.as_i64() == Some(*i as i64),
                (Value::Float(f), w) => num(w) == Some(*f),
                (Value::Bool(b), Json::Bool(w)) => b == w,
                (Value::Str(s), Json::String(w)) => s == w,
                (Value::Null, Json::Null) => true,
                (Value::List(l), Json::Array(a)) => l.is_empty() && a.is_empty(),
                (Value::Map(m), Json::Object(o)) => m.is_empty() && o.is_empty(),
                _ => false,
            };
            assert!(ok, "{file} {path}: got {got:?}, want {want}");
        }
    }
}

/// The same weights in every container torch (and safetensors) writes compare as identical.
#[test]
fn the_same_weights_in_every_format_are_identical() {
    for other in [
        "state_legacy.pt",
        "state.safetensors",
        "full_module.pt",
        "torchscript.pt",
        "bigendian.pt",
    ] {
        let report = diff("state_zip.pt", other, &Options::default());
        assert!(
            report.changes.is_empty(),
            "state_zip.pt vs {other}: {:?}",
            report.changes
        );
        assert_eq!(report.summary.unchanged, 9, "{other}");
    }
    let changed = diff(
        "state_zip.pt",
        "state_changed.safetensors",
        &Options::default(),
    );
    let paths: Vec<&str> = changed.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, vec!["fc2.bias"]);
    assert_eq!(changed.changes[0].kind, ChangeKind::Changed);
}

/// A checkpoint's model_state_dict against a flat state dict, through --old-root.
/// `--old-root`/`--new-root`: a checkpoint's `model_state_dict` is a flat state dict, and two of
/// them compare tensor by tensor, with nothing from the optimizer or the epoch counter.
#[test]
fn a_subtree_compares_with_a_flat_file() {
    let model = |file: &str| {
        let mut a = formats::read(&fx(file), None).unwrap();
        a.root = a.root.subtree("model_state_dict").expect("subtree").clone();
        a
    };
    let (e5, e6) = (model("checkpoint_e5.pt"), model("checkpoint_e6.pt"));
    let flat = formats::read(&fx("state_zip.pt"), None).unwrap();
    let names = |a: &diffai_core::Artifact| -> Vec<String> {
        a.root.tensors().into_iter().map(|(p, _)| p).collect()
    };
    assert_eq!(
        names(&e5),
        names(&flat),
        "the subtree has the state dict's paths"
    );
    let report = diff::diff(&e5, &e6, &Options::default(), None);
    assert!(report.summary.changed > 0);
    assert_eq!((report.summary.added, report.summary.removed), (0, 0));
    assert!(report
        .changes
        .iter()
        .all(|c| !c.path.starts_with("optimizer") && c.path != "epoch"));
    assert!(diff::diff(&e5, &e5, &Options::default(), None)
        .changes
        .is_empty());
}

#[test]
fn checkpoint_updates_are_reported() {
    let report = diff("checkpoint_e5.pt", "checkpoint_e6.pt", &Options::default());
    let value = |path: &str| {
        let c = report
            .changes
            .iter()
            .find(|c| c.path == path)
            .unwrap_or_else(|| panic!("{path}"));
        match (&c.old, &c.new) {
            (Some(Side::Value { value: o }), Some(Side::Value { value: n })) => {
                (o.clone(), n.clone())
            }
            _ => panic!("{path}: not values"),
        }
    };
    assert_eq!(value("epoch"), (Scalar::Int(5), Scalar::Int(6)));
    assert_eq!(
        value("optimizer_state_dict.param_groups[0].lr"),
        (Scalar::Float(1e-3), Scalar::Float(5e-4))
    );
    assert!(report
        .changes
        .iter()
        .any(|c| c.path == "model_state_dict.fc1.weight" && c.kind == ChangeKind::Changed));
    assert!(report
        .changes
        .iter()
        .any(|c| c.path.starts_with("optimizer_state_dict.state.0.exp_avg")));
}

#[test]
fn views_and_shared_storages() {
    let a = formats::read(&fx("views.pt"), None).unwrap();
    let tensors = a.root.tensors();
    let t = |p: &str| {
        tensors
            .iter()
            .find(|(q, _)| q == p)
            .map(|(_, t)| *t)
            .unwrap()
    };
    assert!(
        t("transposed").strides.is_some(),
        "a transpose is a strided view"
    );
    assert!(t("base").strides.is_none());
    assert_eq!(t("transposed").shape, vec![8, 6]);
    // Two views of one storage reach into the same mapped bytes.
    let (sa, sb) = (
        t("shared_a").bytes().as_ptr() as usize,
        t("shared_b").bytes().as_ptr() as usize,
    );
    assert_eq!(
        sb - sa,
        5 * 4,
        "shared_b starts 5 floats into the storage shared_a starts"
    );
}

#[test]
fn quantized_tensors_are_reported_not_decoded() {
    let a = formats::read(&fx("quantized.pt"), None).unwrap();
    let leaves = a.root.leaves();
    let get = |p: &str| {
        leaves
            .iter()
            .find(|(q, _)| q == p)
            .map(|(_, v)| (*v).clone())
    };
    assert!(matches!(get("q.dtype"), Some(Value::Str(s)) if s == "qint8"));
    assert!(matches!(get("q.fallback"), Some(Value::Str(_))));
    assert!(matches!(get("f"), Some(Value::Tensor(_))));
}

/// Hostile files: a finding or a clear error, never a panic, never code run.
#[test]
fn hostile_files() {
    let marker = std::path::Path::new("/tmp/diffai-pwned");
    let _ = std::fs::remove_file(marker);
    for (file, finding) in [
        ("os_system.pt", "posix.system"),
        ("eval_builtin.pt", "__builtin__.eval"),
        ("subprocess.pkl", "commands.Popen"),
        ("subprocess_py3.pkl", "subprocess.Popen"),
    ] {
        let a = formats::read(&fx(&format!("hostile/{file}")), None)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(
            a.findings.iter().any(|f| f.contains(finding)),
            "{file}: {:?}",
            a.findings
        );
        let report = diff::diff(&a, &a, &Options::default(), None);
        assert!(
            report.security.len() >= 2,
            "{file}: findings of both sides are reported"
        );
    }
    for (file, error) in [
        ("deep_nesting.pkl", "deeper than"),
        ("memo_undefined.pkl", "never stored"),
        ("stack_underflow.pkl", "underflow"),
        ("binbytes_too_long.pkl", "exceeds the"),
        ("mark_flood.pkl", "MARK"),
        ("truncated_zip.pt", "zip"),
        ("missing_storage.pt", "missing from the archive"),
        ("legacy_truncated.pt", "truncated"),
    ] {
        let err = formats::read(&fx(&format!("hostile/{file}")), None)
            .expect_err(file)
            .to_string();
        assert!(err.contains(file) && err.contains(error), "{file}: {err}");
        assert!(!err.contains('\n'), "{file}: one line");
    }
    assert!(!marker.exists(), "no command ran");
}
