//! Analyses against answers known independently of diffai: the float64 reference numpy wrote
//! for the safetensors fixtures (tests/fixtures/safetensors/reference.json) and the files' sizes.

mod common;

use diffai_core::analysis::{self, Field, Finding, Input};
use diffai_core::diff::{self, Options};
use diffai_core::formats;

fn run(flags: &[&str], opts: &Options) -> Vec<(&'static str, Finding)> {
    run_on(
        "safetensors",
        "dtypes_old.safetensors",
        "dtypes_new.safetensors",
        flags,
        opts,
    )
}

fn run_on(
    folder: &str,
    old: &str,
    new: &str,
    flags: &[&str],
    opts: &Options,
) -> Vec<(&'static str, Finding)> {
    run_with(
        folder,
        old,
        new,
        flags,
        opts,
        &analysis::Settings::default(),
    )
}

fn run_with(
    folder: &str,
    old: &str,
    new: &str,
    flags: &[&str],
    opts: &Options,
    settings: &analysis::Settings,
) -> Vec<(&'static str, Finding)> {
    let dir = common::fixtures(folder);
    let old = formats::read(&dir.join(old), None).unwrap();
    let new = formats::read(&dir.join(new), None).unwrap();
    let report = diff::diff(&old, &new, opts, None);
    let input = Input::new(&old, &new, opts, &report, settings);
    analysis::run(flags, &input).0
}

fn field<'a>(f: &'a Finding, name: &str) -> &'a Field {
    &f.fields
        .iter()
        .find(|(k, _)| *k == name)
        .unwrap_or_else(|| panic!("{name}"))
        .1
}

/// The value named `k` in a detail row.
fn cell<'a>(row: &'a [(&'static str, Field)], k: &str) -> &'a Field {
    &row.iter()
        .find(|(n, _)| *n == k)
        .unwrap_or_else(|| panic!("{k}"))
        .1
}

fn num(f: &Field) -> f64 {
    match f {
        Field::Num(v) | Field::Percent(v) => *v,
        Field::Int(i) => *i as f64,
        other => panic!("not a number: {other:?}"),
    }
}

/// The reference's same-dtype, same-shape pairs (retyped_t changes dtype): Σ changed / Σ numel
/// and sqrt(Σ‖d‖² / Σ‖o‖²).
fn reference_totals() -> (f64, f64) {
    let r = common::reference("safetensors");
    let files = &r["files"]["dtypes_old.safetensors"];
    let pair = &r["pairs"][0];
    assert_eq!(
        (pair["epsilon"].as_f64(), pair["rtol"].as_f64()),
        (Some(0.0), Some(0.0))
    );
    let (mut changed, mut numel, mut sq_diff, mut sq_old) = (0.0, 0.0, 0.0, 0.0);
    for (name, m) in pair["tensors"].as_object().unwrap() {
        if name == "retyped_t" {
            continue;
        }
        changed += m["changed"].as_f64().unwrap();
        numel += files[name]["numel"].as_f64().unwrap();
        sq_diff += m["norm_diff"].as_f64().unwrap().powi(2);
        sq_old += m["norm_old"].as_f64().unwrap().powi(2);
    }
    (changed / numel, (sq_diff / sq_old).sqrt())
}

#[test]
fn structure_and_change_summary_match_the_reference() {
    let found = run(&["show-structure", "change-summary"], &Options::default());
    let names: Vec<&str> = found.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        ["show_structure", "change_summary"],
        "registry order"
    );
    let (updates, global) = reference_totals();

    let s = &found[0].1;
    assert_eq!(field(s, "structure"), &Field::from("changed"));
    assert_eq!(num(field(s, "structural_changes")), 4.0);
    let kinds: Vec<(String, String)> = s
        .rows
        .iter()
        .map(|r| match (&r[0].1, &r[1].1) {
            (Field::Text(p), Field::Text(k)) => (p.clone(), k.clone()),
            _ => panic!(),
        })
        .collect();
    for want in [
        ("added_t", "added"),
        ("removed_t", "removed"),
        ("reshaped_t", "reshaped"),
        ("retyped_t", "retyped"),
    ] {
        assert!(kinds.contains(&(want.0.into(), want.1.into())), "{kinds:?}");
    }
    common::close(
        "weight_updates",
        Some(num(field(s, "weight_updates"))),
        Some(updates),
        common::RTOL,
    );

    let c = &found[1].1;
    for (k, want) in [
        ("added", 1.0),
        ("removed", 1.0),
        ("reshaped", 1.0),
        ("retyped", 1.0),
    ] {
        assert_eq!(num(field(c, k)), want, "{k}");
    }
    common::close(
        "global_rel_l2",
        Some(num(field(c, "global_rel_l2"))),
        Some(global),
        common::RTOL,
    );
    common::close(
        "elements_changed",
        Some(num(field(c, "elements_changed"))),
        Some(updates),
        common::RTOL,
    );
    // The top change is the tensor with the largest rel_l2 in the reference.
    let r = common::reference("safetensors");
    let top = r["pairs"][0]["tensors"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(n, _)| *n != "retyped_t")
        .max_by(|a, b| {
            a.1["rel_l2"]
                .as_f64()
                .unwrap()
                .total_cmp(&b.1["rel_l2"].as_f64().unwrap())
        })
        .unwrap()
        .0
        .clone();
    match field(c, "top_changes") {
        Field::List(l) => assert_eq!(l[0], top),
        other => panic!("{other:?}"),
    }
}

#[test]
fn size_reduction_is_from_the_file_sizes() {
    let found = run(&["show-size-reduction"], &Options::default());
    let f = &found[0].1;
    let dir = common::fixtures("safetensors");
    let size = |n: &str| std::fs::metadata(dir.join(n)).unwrap().len() as f64;
    let (o, n) = (
        size("dtypes_old.safetensors"),
        size("dtypes_new.safetensors"),
    );
    assert_eq!(num(field(f, "file_bytes_old")), o);
    assert_eq!(num(field(f, "file_reduction")), 1.0 - n / o);
}

#[test]
fn filters_apply_to_analyses_and_missing_inputs_say_so() {
    let opts = Options {
        path: Some("no-such-tensor".into()),
        ..Default::default()
    };
    let found = run(&["change-summary"], &opts);
    let c = &found[0].1;
    assert_eq!(num(field(c, "changed")), 0.0);
    assert!(matches!(field(c, "global_rel_l2"), Field::Missing(_)));
}

#[test]
fn quantization_matches_numpy() {
    let reference = common::reference("analyses");
    for (new, grid) in [
        ("quant_fp16.safetensors", false),
        ("quant_int8grid.safetensors", true),
    ] {
        let want = &reference["quantization"][format!("quant_fp32.safetensors -> {new}")];
        let found = run_on(
            "analyses",
            "quant_fp32.safetensors",
            new,
            &["quantization-analysis"],
            &Options::default(),
        );
        let q = &found[0].1;
        let close = |name: &str, key: &str| {
            common::close(
                &format!("{new} {name}"),
                Some(num(field(q, name))),
                common::num(&want[key]),
                common::RTOL,
            )
        };
        close("compression", "compression");
        close("sqnr_db", "sqnr_db");
        close("rmse", "rmse");
        close("precision_loss", "precision_loss");
        assert_eq!(
            num(field(q, "max_abs_error")),
            want["max_abs_error"].as_f64().unwrap()
        );
        for row in &q.rows {
            let Field::Text(path) = &row[0].1 else {
                panic!()
            };
            let get = |k: &str| cell(row, k);
            let t = &want["tensors"][path.as_str()];
            common::close(
                &format!("{new} {path} sqnr"),
                Some(num(get("sqnr_db"))),
                common::num(&t["sqnr_db"]),
                common::RTOL,
            );
            let distinct = t["distinct_new"].as_u64().unwrap();
            match get("distinct_new") {
                Field::Int(n) => assert_eq!(*n as u64, distinct, "{new} {path}"),
                Field::Text(_) => assert!(distinct > 256, "{new} {path}"),
                other => panic!("{other:?}"),
            }
            if grid && path == "fc1.weight" {
                assert!(distinct <= 255);
            }
        }
    }
}

/// anomaly_new.safetensors (generate_analyses.py): `a` gains a NaN and an Inf, `b` is scaled by
/// 20, `c` is zeroed (5 rows of 3).
#[test]
fn anomalies_are_the_injected_ones() {
    let found = run_on(
        "analyses",
        "anomaly_old.safetensors",
        "anomaly_new.safetensors",
        &["anomaly-detection"],
        &Options::default(),
    );
    let a = &found[0].1;
    assert_eq!(field(a, "severity"), &Field::from("critical"));
    assert_eq!(num(field(a, "affected")), 3.0);
    let mut got: Vec<(String, String)> = a
        .rows
        .iter()
        .map(|r| match (&r[0].1, &r[2].1) {
            (Field::Text(p), Field::Text(t)) => (p.clone(), t.clone()),
            _ => panic!(),
        })
        .collect();
    got.sort();
    let want: Vec<(String, String)> = [
        ("a", "inf"),
        ("a", "nan"),
        ("b", "update_explosion"),
        ("b", "weight_explosion"),
        ("c", "all_zero"),
        ("c", "dead_units"),
        ("c", "weight_collapse"),
    ]
    .iter()
    .map(|(p, t)| (p.to_string(), t.to_string()))
    .collect();
    assert_eq!(got, want);
    let dead = a
        .rows
        .iter()
        .find(|r| r[2].1 == Field::from("dead_units"))
        .unwrap();
    assert_eq!(dead[3].1, Field::from("5 of 5 rows all zero"));
    // A healthy pair: nothing.
    let clean = run_on(
        "analyses",
        "anomaly_old.safetensors",
        "anomaly_old.safetensors",
        &["anomaly-detection"],
        &Options::default(),
    );
    assert_eq!(field(&clean[0].1, "severity"), &Field::from("none"));
    assert!(clean[0].1.rows.is_empty());
}

/// Family, depth and multiply-accumulates of models built to be each kind
/// (generate_analyses.py), each compared with itself and with another kind.
#[test]
fn architecture_and_cost_are_read_from_the_shapes() {
    let reference = common::reference("analyses");
    let flags = [
        "architecture-comparison",
        "inference-speed-estimate",
        "performance-impact-estimate",
    ];
    for (file, want) in reference["architecture"].as_object().unwrap() {
        let found = run_on(
            "analyses",
            file,
            "cnn.safetensors",
            &flags,
            &Options::default(),
        );
        let a = &found[0].1;
        assert_eq!(
            field(a, "type1"),
            &Field::from(want["family"].as_str().unwrap()),
            "{file}"
        );
        assert_eq!(field(a, "type2"), &Field::from("cnn"), "{file}");
        assert_eq!(
            num(field(a, "depth_old")),
            want["depth"].as_f64().unwrap(),
            "{file}"
        );
        let s = &found[1].1;
        let macs = want["macs"].as_f64().unwrap();
        assert_eq!(num(field(s, "macs_old")), macs, "{file}");
        let cnn = reference["architecture"]["cnn.safetensors"]["macs"]
            .as_f64()
            .unwrap();
        assert_eq!(num(field(s, "macs_ratio")), cnn / macs, "{file}");
        let p = &found[2].1;
        assert_eq!(num(field(p, "macs_change")), cnn / macs - 1.0, "{file}");
    }
    // The seed's MLP against its fine-tune: depth 3 -> 3, feedforward, no structural difference.
    let found = run_on(
        "analyses",
        "simplenet_old.safetensors",
        "simplenet_new.safetensors",
        &flags[..1],
        &Options::default(),
    );
    let a = &found[0].1;
    assert_eq!(
        (num(field(a, "depth_old")), num(field(a, "depth_new"))),
        (3.0, 3.0)
    );
    assert_eq!(field(a, "type2"), &Field::from("feedforward"));
    assert_eq!(num(field(a, "differences")), 0.0);
}

/// In the dtypes pair every tensor is its own layer (no dots in the names), so each layer's
/// numbers are its tensor's reference metrics and the shares are ‖d‖² over their sum.
#[test]
fn layer_impact_matches_the_reference() {
    let found = run(&["show-layer-impact"], &Options::default());
    let f = &found[0].1;
    let r = common::reference("safetensors");
    let tensors = r["pairs"][0]["tensors"].as_object().unwrap();
    let total: f64 = tensors
        .iter()
        .filter(|(n, _)| *n != "retyped_t")
        .map(|(_, m)| m["norm_diff"].as_f64().unwrap().powi(2))
        .sum();
    let mut share_sum = 0.0;
    for row in &f.rows {
        let get = |k: &str| cell(row, k);
        let Field::Text(layer) = get("layer") else {
            panic!()
        };
        let m = &tensors[layer.as_str()];
        let d = m["norm_diff"].as_f64().unwrap();
        common::close(
            &format!("{layer} norm_diff"),
            Some(num(get("norm_diff"))),
            Some(d),
            common::RTOL,
        );
        common::close(
            &format!("{layer} rel_l2"),
            Some(num(get("rel_l2"))),
            common::num(&m["rel_l2"]),
            common::RTOL,
        );
        common::close(
            &format!("{layer} share"),
            Some(num(get("share"))),
            Some(d * d / total),
            common::RTOL,
        );
        share_sum += num(get("share"));
    }
    assert!((share_sum - 1.0).abs() < 1e-12, "{share_sum}");
    assert_eq!(
        f.rows.len(),
        tensors.len() - 1,
        "retyped_t is not a same-dtype pair"
    );
}

/// Bytes per dtype from the safetensors headers themselves (data_offsets), read here with
/// serde_json rather than through diffai's reader.
#[test]
fn memory_totals_match_the_headers() {
    let header_bytes = |file: &str| -> std::collections::BTreeMap<String, u64> {
        let data = std::fs::read(common::fixtures("analyses").join(file)).unwrap();
        let n = u64::from_le_bytes(data[..8].try_into().unwrap()) as usize;
        let h: serde_json::Value = serde_json::from_slice(&data[8..8 + n]).unwrap();
        let mut out = std::collections::BTreeMap::new();
        for (k, v) in h.as_object().unwrap() {
            if k == "__metadata__" {
                continue;
            }
            let o = v["data_offsets"].as_array().unwrap();
            let dtype = match v["dtype"].as_str().unwrap() {
                "F32" => "float32",
                "F16" => "float16",
                other => panic!("{other}"),
            };
            *out.entry(dtype.to_string()).or_default() +=
                o[1].as_u64().unwrap() - o[0].as_u64().unwrap();
        }
        out
    };
    let (old, new) = (
        header_bytes("quant_fp32.safetensors"),
        header_bytes("quant_fp16.safetensors"),
    );
    let found = run_on(
        "analyses",
        "quant_fp32.safetensors",
        "quant_fp16.safetensors",
        &["memory-analysis"],
        &Options::default(),
    );
    let m = &found[0].1;
    assert_eq!(
        num(field(m, "tensor_bytes_old")),
        old.values().sum::<u64>() as f64
    );
    assert_eq!(
        num(field(m, "tensor_bytes_new")),
        new.values().sum::<u64>() as f64
    );
    for row in &m.rows {
        let Field::Text(dtype) = &row[0].1 else {
            panic!()
        };
        assert_eq!(
            num(&row[1].1),
            *old.get(dtype).unwrap_or(&0) as f64,
            "{dtype}"
        );
        assert_eq!(
            num(&row[2].1),
            *new.get(dtype).unwrap_or(&0) as f64,
            "{dtype}"
        );
    }
    assert!(matches!(field(m, "optimizer_bytes_old"), Field::Missing(_)));
}

/// The models' cosine over all shared tensors, from the reference's per-tensor norms, and each
/// tensor's cosine as the reference has it.
#[test]
fn similarity_matches_the_reference() {
    let found = run(&["similarity-matrix"], &Options::default());
    let f = &found[0].1;
    let r = common::reference("safetensors");
    let tensors = r["pairs"][0]["tensors"].as_object().unwrap();
    let (mut dot, mut oo, mut nn) = (0.0, 0.0, 0.0);
    for (name, m) in tensors {
        if name == "retyped_t" {
            continue;
        }
        let (o, n, d) = (
            m["norm_old"].as_f64().unwrap(),
            m["norm_new"].as_f64().unwrap(),
            m["norm_diff"].as_f64().unwrap(),
        );
        dot += (o * o + n * n - d * d) / 2.0;
        oo += o * o;
        nn += n * n;
    }
    common::close(
        "cosine",
        Some(num(field(f, "cosine"))),
        Some(dot / (oo.sqrt() * nn.sqrt())),
        common::RTOL,
    );
    for row in &f.rows {
        let Field::Text(path) = &row[0].1 else {
            panic!()
        };
        let want = common::num(&tensors[path.as_str()]["cosine"]);
        match &row[1].1 {
            Field::Num(c) => common::close(path, Some(*c), want, common::RTOL),
            Field::Missing(_) => assert!(want.is_none(), "{path}"),
            other => panic!("{other:?}"),
        }
    }
}

/// Without optimizer state: the update view, against numpy's per-layer sums; with Adam state
/// (the torch checkpoints): the exp_avg norms, from the torch reference's mean and std
/// (Σx² = n·(std² + mean²)).
#[test]
fn gradient_analysis_reads_updates_or_optimizer_state() {
    let reference = common::reference("analyses");
    let want = &reference["gradient_update_view"]
        ["simplenet_old.safetensors -> simplenet_new.safetensors"];
    let found = run_on(
        "analyses",
        "simplenet_old.safetensors",
        "simplenet_new.safetensors",
        &["gradient-analysis"],
        &Options::default(),
    );
    let g = &found[0].1;
    assert_eq!(field(g, "source"), &Field::from("weight_update"));
    for k in ["norm", "ratio", "median_update_ratio"] {
        common::close(
            k,
            Some(num(field(g, k))),
            common::num(&want[k]),
            common::RTOL,
        );
    }
    assert_eq!(field(g, "flow_health"), &Field::from("healthy"));

    let torch = common::reference("pytorch");
    let sq = |file: &str| -> f64 {
        torch["files"][file]["tensors"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.ends_with(".exp_avg"))
            .map(|(_, t)| {
                let (n, m, s) = (
                    t["numel"].as_f64().unwrap(),
                    t["mean"].as_f64().unwrap(),
                    t["std"].as_f64().unwrap(),
                );
                n * (s * s + m * m)
            })
            .sum()
    };
    let found = run_on(
        "pytorch",
        "checkpoint_e5.pt",
        "checkpoint_e6.pt",
        &["gradient-analysis"],
        &Options::default(),
    );
    let g = &found[0].1;
    assert!(matches!(field(g, "source"), Field::Text(t) if t.starts_with("optimizer_state")));
    common::close(
        "ema_norm_old",
        Some(num(field(g, "ema_norm_old"))),
        Some(sq("checkpoint_e5.pt").sqrt()),
        common::RTOL,
    );
    common::close(
        "ema_norm_new",
        Some(num(field(g, "ema_norm_new"))),
        Some(sq("checkpoint_e6.pt").sqrt()),
        common::RTOL,
    );
}

/// Rows 3, 17 and 42 of the embedding were rotated and 8 rows appended: exactly those rows
/// drift, by numpy's 1 − cos, and the unrelated fc.weight is not read as an embedding.
#[test]
fn embedding_drift_finds_the_rotated_rows() {
    let reference = common::reference("analyses");
    let want = &reference["embedding"];
    let found = run_on(
        "analyses",
        "embedding_old.safetensors",
        "embedding_new.safetensors",
        &["embedding-analysis"],
        &Options::default(),
    );
    let e = &found[0].1;
    assert_eq!(num(field(e, "tables")), 1.0);
    let row = &e.rows[0];
    let get = |k: &str| cell(row, k);
    assert_eq!(get("table"), &Field::from("embed_tokens.weight"));
    assert_eq!(num(get("rows_added")), want["rows_added"].as_f64().unwrap());
    assert_eq!(num(get("rows_changed")), 3.0);
    let drift = want["drift"].as_object().unwrap();
    let mut expect: Vec<(&String, f64)> = drift
        .iter()
        .map(|(k, v)| (k, v.as_f64().unwrap()))
        .collect();
    expect.sort_by(|a, b| b.1.total_cmp(&a.1));
    let Field::List(top) = get("top_rows") else {
        panic!()
    };
    assert_eq!(
        top.iter().collect::<Vec<_>>(),
        expect.iter().map(|(k, _)| *k).collect::<Vec<_>>()
    );
    common::close(
        "drift_max",
        Some(num(get("drift_max"))),
        Some(expect[0].1),
        common::RTOL,
    );
    let mean: f64 = expect.iter().map(|(_, d)| d).sum::<f64>() / 200.0;
    common::close(
        "drift_mean",
        Some(num(get("drift_mean"))),
        Some(mean),
        common::RTOL,
    );
}

/// The torch checkpoints (generate_torch.py): epoch 5 -> 6, loss 0.4321 -> 0.3999, lr 1e-3 ->
/// 5e-4 in the optimizer and the scheduler. Magnitude and stability are the global rel_l2 of the
/// model weights (buffers and optimizer state excluded), from the torch reference's norms.
#[test]
fn training_metadata_analyses_read_the_checkpoints() {
    let flags = [
        "learning-progress",
        "convergence-analysis",
        "learning-rate-analysis",
    ];
    let found = run_on(
        "pytorch",
        "checkpoint_e5.pt",
        "checkpoint_e6.pt",
        &flags,
        &Options::default(),
    );
    let torch = common::reference("pytorch");
    let pair = torch["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["old"] == "checkpoint_e5.pt")
        .unwrap();
    let (mut d2, mut o2) = (0.0, 0.0);
    for (name, m) in pair["tensors"].as_object().unwrap() {
        let last = name.rsplit('.').next().unwrap();
        if !name.starts_with("model_state_dict.")
            || ["running_mean", "running_var", "num_batches_tracked"].contains(&last)
        {
            continue;
        }
        d2 += m["norm_diff"].as_f64().unwrap().powi(2);
        o2 += m["norm_old"].as_f64().unwrap().powi(2);
    }
    let global = (d2 / o2).sqrt();
    let p = &found[0].1;
    assert_eq!(field(p, "trend"), &Field::from("improving"));
    common::close(
        "magnitude",
        Some(num(field(p, "magnitude"))),
        Some(global),
        common::RTOL,
    );
    common::close(
        "speed",
        Some(num(field(p, "speed"))),
        Some((0.3999 - 0.4321) / 1.0),
        1e-12,
    );
    let c = &found[1].1;
    assert_eq!(
        field(c, "status"),
        &Field::from(if global < 1e-4 {
            "converged"
        } else if global < 1e-2 {
            "stable"
        } else {
            "changing"
        })
    );
    let l = &found[2].1;
    assert_eq!(num(field(l, "lr_old")), 1e-3);
    assert_eq!(num(field(l, "lr_new")), 5e-4);
    common::close(
        "lr change",
        Some(num(field(l, "change"))),
        Some(-0.5),
        1e-12,
    );
    assert_eq!(l.rows.len(), 2, "optimizer group and scheduler");
    // Files without training metadata say so.
    let none = run(
        &["learning-rate-analysis", "learning-progress"],
        &Options::default(),
    );
    assert!(matches!(field(&none[1].1, "lr"), Field::Missing(_)));
    assert!(matches!(field(&none[0].1, "trend"), Field::Text(t) if t.starts_with("unknown")));
}

/// Gates: the healthy fine-tune passes everything (full rollout); the injected anomalies fail
/// `finite` and `rel_l2` (hold); a looser threshold passes rel_l2.
#[test]
fn gates_check_and_score() {
    let flags = ["regression-test", "deployment-readiness"];
    let ok = run_on(
        "analyses",
        "simplenet_old.safetensors",
        "simplenet_new.safetensors",
        &flags,
        &Options::default(),
    );
    assert_eq!(ok[0].1.passed, Some(true));
    assert_eq!(field(&ok[1].1, "strategy"), &Field::from("full"));
    assert_eq!(num(field(&ok[1].1, "readiness")), 1.0);
    let bad = run_on(
        "analyses",
        "anomaly_old.safetensors",
        "anomaly_new.safetensors",
        &flags,
        &Options::default(),
    );
    assert_eq!(bad[0].1.passed, Some(false));
    assert_eq!(
        field(&bad[0].1, "failed"),
        &Field::List(vec!["finite".into(), "rel_l2".into()])
    );
    assert_eq!(field(&bad[1].1, "strategy"), &Field::from("hold"));
    assert_eq!(num(field(&bad[1].1, "readiness")), 3.0 / 5.0);
    assert!(
        bad[1].1.passed.is_none(),
        "readiness is a score, not a gate"
    );
}

/// Between the torch checkpoints only the optimizer's lr changed among the hyperparameters
/// (generate_torch.py); `params` lists are not hyperparameters; plain weights record none.
#[test]
fn hyperparameters_are_compared_key_by_key() {
    let found = run_on(
        "pytorch",
        "checkpoint_e5.pt",
        "checkpoint_e6.pt",
        &["hyperparameter-comparison"],
        &Options::default(),
    );
    let h = &found[0].1;
    assert_eq!(
        field(h, "keys"),
        &Field::List(vec!["optimizer_state_dict.param_groups[0].lr".into()])
    );
    assert_eq!(h.rows[0][1].1, Field::from("0.001"));
    assert_eq!(h.rows[0][2].1, Field::from("0.0005"));
    let none = run(&["hyperparameter-impact"], &Options::default());
    assert!(matches!(
        field(&none[0].1, "hyperparameters"),
        Field::Missing(_)
    ));
}

/// The MLP's old weights: exact zeros (the biases) and |w| < 0.01·std(w), counted by numpy; the
/// zeroed tensor of the anomaly pair is 5 dead rows.
#[test]
fn parameter_efficiency_counts_match_numpy() {
    let reference = common::reference("analyses");
    let want = &reference["param_efficiency_simplenet_old"];
    let found = run_on(
        "analyses",
        "simplenet_old.safetensors",
        "simplenet_new.safetensors",
        &["param-efficiency-analysis"],
        &Options::default(),
    );
    let p = &found[0].1;
    let n = want["parameters"].as_f64().unwrap();
    assert_eq!(num(field(p, "parameters_old")), n);
    common::close(
        "zero_old",
        Some(num(field(p, "zero_old"))),
        Some(want["zero"].as_f64().unwrap() / n),
        1e-15,
    );
    common::close(
        "near_zero_old",
        Some(num(field(p, "near_zero_old"))),
        Some(want["near_zero"].as_f64().unwrap() / n),
        1e-15,
    );
    let a = run_on(
        "analyses",
        "anomaly_old.safetensors",
        "anomaly_new.safetensors",
        &["param-efficiency-analysis"],
        &Options::default(),
    );
    assert_eq!(num(field(&a[0].1, "dead_units_new")), 5.0);
    assert_eq!(num(field(&a[0].1, "dead_units_old")), 0.0);
}

/// fc1.weight of the MLP pair: numpy's quantiles and scipy's ks_2samp statistic and
/// wasserstein_distance.
#[test]
fn distribution_matches_numpy_and_scipy() {
    let reference = common::reference("analyses");
    let want = &reference["distribution_simplenet_fc1"];
    let found = run_on(
        "analyses",
        "simplenet_old.safetensors",
        "simplenet_new.safetensors",
        &["show-distribution"],
        &Options::default(),
    );
    let d = &found[0].1;
    let row = d
        .rows
        .iter()
        .find(|r| r[0].1 == Field::from("fc1.weight"))
        .expect("fc1.weight");
    let get = |k: &str| cell(row, k);
    common::close(
        "ks",
        Some(num(get("ks"))),
        common::num(&want["ks"]),
        common::RTOL,
    );
    common::close(
        "w1",
        Some(num(get("wasserstein"))),
        common::num(&want["wasserstein"]),
        common::RTOL,
    );
    for q in ["p5", "p50", "p99"] {
        let Field::Text(t) = get(q) else { panic!() };
        let (a, b) = t.split_once("->").unwrap();
        common::close(q, a.parse().ok(), want[q][0].as_f64(), common::RTOL);
        common::close(q, b.parse().ok(), want[q][1].as_f64(), common::RTOL);
    }
    let hist = |k: &str| match get(k) {
        Field::List(l) => l.iter().map(|c| c.parse::<u64>().unwrap()).sum::<u64>(),
        _ => panic!(),
    };
    assert_eq!((hist("hist_old"), hist("hist_new")), (2048, 2048));
}

/// A rank-3 update reads rank 3 (90 % and 99 % of the energy), a full-rank one its numpy ranks;
/// the top singular values agree with numpy's SVD.
#[test]
fn low_rank_updates_read_their_rank() {
    const SKETCH_RTOL: f64 = 1e-7;
    let reference = common::reference("analyses");
    let found = run_on(
        "analyses",
        "lowrank_old.safetensors",
        "lowrank_new.safetensors",
        &["low-rank-analysis"],
        &Options::default(),
    );
    for row in &found[0].1.rows {
        let get = |k: &str| cell(row, k);
        let Field::Text(path) = get("path") else {
            panic!()
        };
        let want = &reference["low_rank"][path.as_str()];
        assert_eq!(
            num(get("rank90")),
            want["rank90"].as_f64().unwrap(),
            "{path}"
        );
        assert_eq!(
            num(get("rank99")),
            want["rank99"].as_f64().unwrap(),
            "{path}"
        );
        let Field::List(sv) = get("top_singular") else {
            panic!()
        };
        // σ from a randomized sketch: exact for an update of rank ≤ k, but `new` is stored in
        // f32, so d carries a rounding tail of ~1e-7 relative that the sketch resolves only
        // approximately (measured error 1.3e-9).
        for (i, s) in sv.iter().take(3).enumerate() {
            common::close(
                &format!("{path} sigma{i}"),
                s.parse().ok(),
                want["singular"][i].as_f64(),
                SKETCH_RTOL,
            );
        }
    }
    assert_eq!(found[0].1.rows.len(), 2);
}

/// `--low-rank-max-elements` bounds the work: the most-changed matrix is always analysed, one
/// that does not fit is listed as not analysed, with the flag that lifts the bound.
#[test]
fn low_rank_work_is_bounded() {
    let settings = analysis::Settings {
        // one element: only the most-changed matrix, which is always analysed
        low_rank_max_elements: 1,
        ..analysis::Settings::default()
    };
    let found = run_with(
        "analyses",
        "lowrank_old.safetensors",
        "lowrank_new.safetensors",
        &["low-rank-analysis"],
        &Options::default(),
        &settings,
    );
    let f = &found[0].1;
    assert_eq!(num(field(f, "matrices")), 2.0);
    assert_eq!(num(field(f, "analysed")), 1.0);
    for row in &f.rows {
        match (cell(row, "path"), cell(row, "rank99")) {
            // rel_l2 0.18 against mlp.weight's 0.10
            (Field::Text(p), Field::Int(3)) if p == "attn.weight" => {}
            (Field::Text(p), Field::Missing(why)) if p == "mlp.weight" => {
                assert!(why.contains("--low-rank-max-elements"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }
}

/// Every registered analysis at once, on a checkpoint pair with weights, optimizer state and
/// training metadata and on the all-dtypes pair: each one reports, and the JSON is the same on
/// every run.
#[test]
fn every_analysis_at_once_is_deterministic() {
    let flags: Vec<&str> = analysis::ANALYSES.iter().map(|a| a.flag()).collect();
    for (folder, old, new) in [
        ("pytorch", "checkpoint_e5.pt", "checkpoint_e6.pt"),
        (
            "safetensors",
            "dtypes_old.safetensors",
            "dtypes_new.safetensors",
        ),
    ] {
        let json = || {
            let found = run_on(folder, old, new, &flags, &Options::default());
            assert_eq!(found.len(), flags.len(), "{old}");
            serde_json::to_string(&analysis::Analyses(found)).unwrap()
        };
        let first = json();
        assert_eq!(first, json(), "{old}: not deterministic");
    }
}

/// 4 heads (from the files' metadata): head 2's queries and head 1's values changed. Per-head
/// norms, the ‖W_O^h W_V^h‖ proxy and the score-form cosine match numpy.
#[test]
fn attention_heads_match_numpy() {
    let reference = common::reference("analyses");
    let heads = reference["attention_heads"].as_array().unwrap();
    let flags = [
        "attention-analysis",
        "head-importance",
        "attention-pattern-diff",
    ];
    // Linear q/k/v/o_proj, and the same weights in GPT-2's Conv1D layout (c_attn packed, stored
    // in × out; the mlp's c_proj is not attention): the same numbers.
    for (old, new) in [
        ("attention_old.safetensors", "attention_new.safetensors"),
        ("gpt2_old.safetensors", "gpt2_new.safetensors"),
    ] {
        let found = run_on("analyses", old, new, &flags, &Options::default());
        check_heads(&found, heads, old);
    }
    // Without a head count: said, not guessed.
    let none = run_on(
        "analyses",
        "simplenet_old.safetensors",
        "simplenet_new.safetensors",
        &flags[..1],
        &Options::default(),
    );
    assert!(matches!(field(&none[0].1, "heads"), Field::Missing(_)));
}

fn check_heads(found: &[(&str, Finding)], heads: &[serde_json::Value], file: &str) {
    for (i, (name, f)) in found.iter().enumerate() {
        assert_eq!(num(field(f, "modules")), 1.0, "{file} {name}");
        assert_eq!(num(field(f, "heads")), 4.0, "{name}");
        assert_eq!(f.rows.len(), 4, "{name}");
        for (h, row) in f.rows.iter().enumerate() {
            let get = |k: &str| cell(row, k);
            let want = &heads[h];
            let check = |ours: &str, theirs: &str| {
                common::close(
                    &format!("{file} {name} head {h} {ours}"),
                    Some(num(get(ours))),
                    want[theirs].as_f64(),
                    common::RTOL,
                )
            };
            match i {
                0 => {
                    check("q_norm_old", "q_norm_old");
                    check("q_norm_new", "q_norm_new");
                }
                1 => {
                    check("proxy_old", "proxy_old");
                    check("proxy_new", "proxy_new");
                }
                _ => check("cosine", "cosine"),
            }
        }
    }
}

/// Neighbourhoods: every row rotated by one orthogonal matrix keeps them (Jaccard 1); three rows
/// rotated alone change some, as numpy's exhaustive k-NN says (the 200 rows are all sampled).
#[test]
fn clustering_change_matches_numpy_knn() {
    let reference = common::reference("analyses");
    let flags = ["clustering-change"];
    let same = run_on(
        "analyses",
        "embedding_old.safetensors",
        "embedding_rotated.safetensors",
        &flags,
        &Options::default(),
    );
    assert_eq!(num(field(&same[0].1, "jaccard_at_10")), 1.0);
    let moved = run_on(
        "analyses",
        "embedding_old.safetensors",
        "embedding_new.safetensors",
        &flags,
        &Options::default(),
    );
    common::close(
        "jaccard",
        Some(num(field(&moved[0].1, "jaccard_at_10"))),
        reference["embedding"]["jaccard_at_10"].as_f64(),
        common::RTOL,
    );
}

/// Metric side files (trainer_state.json-like, written by Python's json): the learning curve
/// against numpy (polyfit slope), and metric deltas with the direction rules.
#[test]
fn metric_files_give_curves_and_comparisons() {
    let dir = common::fixtures("analyses");
    let reference = common::reference("analyses");
    let read = |n: &str| formats::read(&dir.join(n), None).unwrap();
    let (old, new) = (
        read("simplenet_old.safetensors"),
        read("simplenet_new.safetensors"),
    );
    let opts = Options::default();
    let report = diff::diff(&old, &new, &opts, None);
    let settings = analysis::Settings {
        metrics_old: Some(read("trainer_state_old.json").root),
        metrics_new: Some(read("trainer_state_new.json").root),
        higher_is_better: vec!["accuracy".into()],
        ..Default::default()
    };
    let input = Input::new(&old, &new, &opts, &report, &settings);
    let found = analysis::run(&["learning-curve-analysis", "metric-comparison"], &input).0;
    let (c, m) = (&found[0].1, &found[1].1);
    let want = &reference["learning_curve_new"];
    assert_eq!(
        num(field(c, "best_epoch")),
        want["best_epoch"].as_f64().unwrap()
    );
    assert_eq!(num(field(c, "points")), want["points"].as_f64().unwrap());
    common::close(
        "slope",
        Some(num(field(c, "last_k_slope"))),
        want["last_k_slope"].as_f64(),
        1e-9,
    );
    common::close(
        "gap",
        Some(num(field(c, "train_val_gap"))),
        want["train_val_gap"].as_f64(),
        1e-12,
    );
    let row = |metric: &str| {
        m.rows
            .iter()
            .find(|r| r[0].1 == Field::from(metric))
            .unwrap_or_else(|| panic!("{metric}"))
    };
    let acc = row("eval_accuracy");
    let [o, n] = [0, 1].map(|i| reference["metrics"]["eval_accuracy"][i].as_f64().unwrap());
    assert_eq!((num(&acc[1].1), num(&acc[2].1)), (o, n));
    assert_eq!(acc[5].1, Field::from("better"), "higher is better, as told");
    assert_eq!(
        row("log_history[0].loss")[5].1,
        Field::from("better"),
        "loss: lower is better"
    );
    assert!(
        matches!(row("best_metric")[5].1, Field::Missing(_)),
        "direction unknown"
    );
    // Without metric files: said so.
    let none = run(
        &["metric-comparison", "learning-curve-analysis"],
        &Options::default(),
    );
    assert!(none
        .iter()
        .all(|(_, f)| matches!(f.fields[0].1, Field::Missing(_))));
}

/// Per-seed accuracies: Welch's t, its two-sided p-value and Cohen's d as scipy/numpy give them;
/// per-example correctness (12 fixed, 3 broken): McNemar's χ² and p (scipy's χ² tail).
#[test]
fn significance_matches_scipy() {
    let dir = common::fixtures("analyses");
    let reference = common::reference("analyses");
    let want = &reference["significance"];
    let read = |n: &str| formats::read(&dir.join(n), None).unwrap();
    let (old, new) = (
        read("simplenet_old.safetensors"),
        read("simplenet_new.safetensors"),
    );
    let opts = Options::default();
    let report = diff::diff(&old, &new, &opts, None);
    let settings = analysis::Settings {
        metrics_old: Some(read("trainer_state_old.json").root),
        metrics_new: Some(read("trainer_state_new.json").root),
        ..Default::default()
    };
    let input = Input::new(&old, &new, &opts, &report, &settings);
    let found = analysis::run(&["statistical-significance"], &input).0;
    let s = &found[0].1;
    let row = |m: &str| s.rows.iter().find(|r| r[0].1 == Field::from(m)).unwrap();
    let get = |r: &[(&'static str, Field)], k: &str| num(cell(r, k));
    let w = row("seed_accuracy");
    common::close(
        "t",
        Some(get(w, "statistic")),
        want["seed_accuracy"]["t"].as_f64(),
        1e-12,
    );
    common::close(
        "p",
        Some(get(w, "p_value")),
        want["seed_accuracy"]["p"].as_f64(),
        1e-9,
    );
    common::close(
        "d",
        Some(get(w, "cohens_d")),
        want["seed_accuracy"]["cohens_d"].as_f64(),
        1e-12,
    );
    let m = row("correct");
    common::close(
        "chi2",
        Some(get(m, "statistic")),
        want["correct"]["chi2"].as_f64(),
        1e-12,
    );
    common::close(
        "p",
        Some(get(m, "p_value")),
        want["correct"]["p"].as_f64(),
        1e-9,
    );
    let none = run(&["statistical-significance"], &Options::default());
    assert!(
        matches!(field(&none[0].1, "significance"), Field::Missing(t) if t.starts_with("not computable"))
    );
}
