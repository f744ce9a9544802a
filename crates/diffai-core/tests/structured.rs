//! JSON, YAML, TOML, XML, INI and CSV files written by Python's own libraries
//! (tests/fixtures/generate_structured.py): every tree as Python reads it, the diffs users meet
//! (reordered keys, number vs string, null, empty containers, Unicode keys, duplicate keys, large
//! integers, NaN and quoting in CSV, XML namespaces, INI sections without keys), numeric CSV
//! columns against the float64 reference, detection, limits and malformed files.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{check_pair, check_side};
use diffai_core::diff::{self, Options};
use diffai_core::formats::{self, structured::MAX_DEPTH};
use diffai_core::report::{ChangeKind, Scalar, Side};
use diffai_core::{inspect, Artifact, Report, Value};
use serde_json::{json, Value as Json};

fn fx(name: &str) -> PathBuf {
    common::fixtures("structured").join(name)
}

fn read(path: &Path) -> Artifact {
    formats::read(path, None).unwrap_or_else(|e| panic!("{e}"))
}

fn diff_files(old: &str, new: &str) -> Report {
    diff::diff(&read(&fx(old)), &read(&fx(new)), &Options::default(), None)
}

/// The differences of a report as (path, kind) pairs.
fn differences(report: &Report) -> BTreeSet<(String, String)> {
    report
        .changes
        .iter()
        .filter(|c| c.kind != ChangeKind::Unchanged)
        .map(|c| {
            let kind = serde_json::to_value(c.kind).unwrap();
            (c.path.clone(), kind.as_str().unwrap().to_string())
        })
        .collect()
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(p, k)| (p.to_string(), k.to_string()))
        .collect()
}

/// A value tree in the typed encoding of trees.json (see the generator).
fn tagged(v: &Value) -> Json {
    let float = |f: f64| {
        if f.is_nan() {
            json!({"float": "nan"})
        } else {
            json!({"float": format!("{:016x}", f.to_bits())})
        }
    };
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!({"int": i.to_string()}),
        Value::Float(f) => float(*f),
        Value::Str(s) => json!(s),
        Value::Bytes(b) => {
            json!({"bytes": b.iter().map(|x| format!("{x:02x}")).collect::<String>()})
        }
        Value::List(items) => Json::Array(items.iter().map(tagged).collect()),
        Value::Map(m) => {
            json!({"map": m.iter().map(|(k, v)| json!([k, tagged(v)])).collect::<Vec<_>>()})
        }
        Value::Tensor(t) => {
            assert_eq!(t.dtype.name(), "float64");
            let values: Vec<Json> = t
                .source
                .bytes()
                .chunks_exact(8)
                .map(|c| float(f64::from_le_bytes(c.try_into().unwrap())))
                .collect();
            json!({"tensor": {"dtype": "float64", "shape": t.shape, "values": values}})
        }
    }
}

/// Maps whose key order is not compared: YAML does not order the keys a merge (`<<`) brings in;
/// PyYAML puts them first, serde-saphyr after the mapping's own keys.
const UNORDERED: &[(&str, &str)] = &[("anchors.yaml", ".small"), ("anchors.yaml", ".large")];

/// The first place two typed trees differ, as a path and both sides.
fn first_difference(file: &str, path: &str, got: &Json, want: &Json) -> Option<String> {
    match (got, want) {
        (Json::Array(g), Json::Array(w)) => {
            if g.len() != w.len() {
                return Some(format!("{path}: {} items, want {}", g.len(), w.len()));
            }
            g.iter()
                .zip(w)
                .enumerate()
                .find_map(|(i, (g, w))| first_difference(file, &format!("{path}[{i}]"), g, w))
        }
        (Json::Object(g), Json::Object(w)) if g.contains_key("map") && w.contains_key("map") => {
            let (g, w) = (g["map"].as_array().unwrap(), w["map"].as_array().unwrap());
            let keys = |e: &Vec<Json>| e.iter().map(|p| p[0].clone()).collect::<Vec<_>>();
            let (mut gk, mut wk) = (keys(g), keys(w));
            if UNORDERED.contains(&(file, path)) {
                gk.sort_by_key(|k| k.to_string());
                wk.sort_by_key(|k| k.to_string());
            }
            if gk != wk {
                return Some(format!("{path}: keys {gk:?}, want {wk:?}"));
            }
            g.iter().find_map(|gp| {
                let key = gp[0].as_str().unwrap();
                let wp = w.iter().find(|wp| wp[0] == gp[0]).unwrap();
                first_difference(file, &format!("{path}.{key}"), &gp[1], &wp[1])
            })
        }
        _ if got == want => None,
        _ => Some(format!("{path}: got {got}, want {want}")),
    }
}

#[test]
fn every_file_reads_as_python_reads_it() {
    let text = std::fs::read_to_string(fx("trees.json")).unwrap();
    let trees: serde_json::Map<String, Json> = serde_json::from_str(&text).unwrap();
    assert!(trees.len() >= 20, "only {} trees", trees.len());
    for (file, want) in &trees {
        let got = tagged(&read(&fx(file)).root);
        if let Some(d) = first_difference(file, "", &got, want) {
            panic!("{file}: {d}");
        }
    }
}

#[test]
fn formats_are_detected_by_extension() {
    for (file, format) in [
        ("config_old.json", "json"),
        ("config_old.yaml", "yaml"),
        ("config_old.toml", "toml"),
        ("config_old.xml", "xml"),
        ("config_old.ini", "ini"),
        ("table_old.csv", "csv"),
        ("table_old.tsv", "csv"),
    ] {
        assert_eq!(read(&fx(file)).format, format, "{file}");
    }
    // The sharded-model index is JSON, and stays a sharded model.
    let index = common::fixtures("safetensors").join("sharded/model.safetensors.index.json");
    assert_eq!(read(&index).format, "safetensors-sharded");
}

/// A scratch directory for this test binary.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("diffai-structured-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn content_decides_only_where_no_extension_does() {
    for (name, content, format) in [
        ("metrics", "\n  {\"acc\": 1}", Some("json")),
        ("list.txt", "[1, 2]", Some("json")),
        ("layout", "<?xml version=\"1.0\"?><a/>", Some("xml")),
        ("page.txt", "<root><a>1</a></root>", Some("xml")),
        ("doc", "---\na: 1\n", Some("yaml")),
        ("settings", "[section]\nk = v\n", None),
        // An extension wins over content: flow-style YAML stays YAML.
        ("flow.yaml", "{a: 1}", Some("yaml")),
        ("torch.pt", "{\"a\": 1}", Some("pytorch")),
    ] {
        let path = scratch(name);
        std::fs::write(&path, content).unwrap();
        let detected = formats::detect(&path, None).map(|r| r.name());
        assert_eq!(detected.ok(), format, "{name}");
    }
}

#[test]
fn reordered_keys_and_the_same_data_in_another_format_are_no_difference() {
    for (old, new) in [
        ("config_old.json", "config_reordered.json"),
        ("config_old.json", "config_old.yaml"),
        ("config_new.json", "config_new.yaml"),
        ("table_old.csv", "table_old.tsv"),
    ] {
        let report = diff_files(old, new);
        assert_eq!(differences(&report), set(&[]), "{old} vs {new}");
        assert_eq!(report.summary.differences(), 0, "{old} vs {new}");
    }
}

/// CONFIG_CHANGES of the generator: a changed float, a removed and an added key, null → string,
/// an empty list that gained an item, "32" → 32, an integer beyond 2^53 changed by one, an added
/// list item; warmup 1.0 → 1 is no change, and every key was reordered.
const CONFIG_CHANGES: &[(&str, &str)] = &[
    ("model.dropout", "changed"),
    ("model.activation", "removed"),
    ("model.head", "type_changed"),
    ("model.tags", "removed"),
    ("model.tags[0]", "added"),
    ("model.norm", "added"),
    ("training.batch_size", "type_changed"),
    ("training.seed", "changed"),
    ("training.schedule[3]", "added"),
];

#[test]
fn config_changes_are_exactly_the_ones_made() {
    for (old, new) in [
        ("config_old.json", "config_new.json"),
        ("config_old.yaml", "config_new.yaml"),
        ("config_old.json", "config_new.yaml"),
    ] {
        assert_eq!(
            differences(&diff_files(old, new)),
            set(CONFIG_CHANGES),
            "{old} vs {new}"
        );
    }
}

#[test]
fn one_changed_value_is_one_change_with_its_values() {
    let report = diff_files("config_old.json", "config_one_change.json");
    assert_eq!(report.changes.len(), 1, "{:?}", report.changes);
    let c = &report.changes[0];
    assert_eq!(
        (c.path.as_str(), c.kind),
        ("model.dropout", ChangeKind::Changed)
    );
    let value = |s: &Option<Side>| match s {
        Some(Side::Value { value }) => value.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(value(&c.old), Scalar::Float(0.1));
    assert_eq!(value(&c.new), Scalar::Float(0.2));

    // Number vs string is a type change, with both values.
    let report = diff_files("config_old.json", "config_new.json");
    let c = report
        .changes
        .iter()
        .find(|c| c.path == "training.batch_size")
        .unwrap();
    assert_eq!(value(&c.old), Scalar::Str("32".into()));
    assert_eq!(value(&c.new), Scalar::Int(32));
}

#[test]
fn toml_xml_and_ini_pairs() {
    assert_eq!(
        differences(&diff_files("config_old.toml", "config_new.toml")),
        set(&[
            ("created", "changed"),
            ("server.port", "changed"),
            ("stages[2].name", "added"),
            ("stages[2].epochs", "added"),
        ])
    );
    assert_eq!(
        differences(&diff_files("config_old.xml", "config_new.xml")),
        set(&[
            ("config.@version", "changed"),
            ("config.model.ml:layer[2].@index", "added"),
            ("config.model.ml:layer[2].#text", "added"),
            ("config.model.dropout", "changed"),
            ("config.optimizer.@momentum", "changed"),
        ])
    );
    assert_eq!(
        differences(&diff_files("config_old.ini", "config_new.ini")),
        set(&[("model.dropout", "changed"), ("data.shuffle", "added")])
    );
}

fn get<'a>(v: &'a Value, path: &str) -> &'a Value {
    v.subtree(path)
        .unwrap_or_else(|| panic!("no {path} in {v:?}"))
}

#[test]
fn large_integers_are_exact() {
    let root = read(&fx("big_ints.json")).root;
    let Value::Map(m) = &root else { panic!() };
    let int = |k: &str| match m.get(k) {
        Some(Value::Int(i)) => *i,
        other => panic!("{k}: {other:?}"),
    };
    assert_eq!(int("2^53+1"), (1i128 << 53) + 1);
    assert_eq!(int("-(2^53+1)"), -((1i128 << 53) + 1));
    assert_eq!(int("2^64+7"), (1i128 << 64) + 7);
    assert_eq!(int("i128_max"), i128::MAX);
    assert_eq!(int("i128_min"), i128::MIN);
    assert!(matches!(m.get("beyond_i128"), Some(Value::Float(f)) if *f == 2f64.powi(127)));
    assert!(matches!(m.get("exp_form"), Some(Value::Float(f)) if *f == 1e20));
    // YAML keeps the 64-bit range exact (beyond it serde-saphyr infers a float).
    let yaml = read(&fx("config_old.yaml")).root;
    assert!(matches!(get(&yaml, "training.seed"), Value::Int(i) if *i == (1i128 << 53) + 1));
}

/// The diff engine compares two integers through f64 (`scalars_equal`), so integers beyond 2^53
/// that differ by less than their float spacing are reported unchanged. The readers keep them
/// exact; the engine must compare `Int` pairs as integers.
#[test]
fn integers_beyond_2_pow_53_differing_by_one_are_a_change() {
    let (old, new) = (scratch("big_old.json"), scratch("big_new.json"));
    std::fs::write(&old, "{\"id\": 18446744073709551623}").unwrap();
    std::fs::write(&new, "{\"id\": 18446744073709551624}").unwrap();
    let report = diff::diff(&read(&old), &read(&new), &Options::default(), None);
    assert_eq!(differences(&report), set(&[("id", "changed")]));
}

#[test]
fn duplicate_keys_keep_the_first_position_and_the_last_value() {
    let root = read(&fx("duplicate_keys.json")).root;
    let Value::Map(m) = &root else { panic!() };
    let keys: Vec<&String> = m.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["a", "b", "c"]);
    assert!(matches!(m.get("a"), Some(Value::List(l)) if l.len() == 2));
    assert!(matches!(m.get("b"), Some(Value::Str(s)) if s == "last"));
    let yaml = read(&fx("anchors.yaml")).root;
    assert!(matches!(get(&yaml, "dup"), Value::Str(s) if s == "second"));
}

#[test]
fn yaml_anchors_merges_and_1_2_scalars() {
    let root = read(&fx("anchors.yaml")).root;
    assert!(matches!(get(&root, "small.lr"), Value::Float(f) if *f == 0.01));
    assert!(matches!(get(&root, "small.optimizer"), Value::Str(s) if s == "adam"));
    assert!(matches!(get(&root, "large.layers"), Value::Int(48)));
    assert!(matches!(get(&root, "again[2]"), Value::Int(3)));
    assert!(matches!(get(&root, "booleans[0]"), Value::Str(s) if s == "yes"));
    assert!(matches!(get(&root, "booleans[4]"), Value::Bool(true)));
    assert!(matches!(get(&root, "numbers[0]"), Value::Int(15)));
    assert!(matches!(get(&root, "strings.date"), Value::Str(s) if s == "2024-01-01"));
    assert!(matches!(get(&root, "empty_value"), Value::Null));
    assert!(matches!(get(&root, "unicode.ключ"), Value::Str(s) if s == "значение"));
    assert!(
        matches!(get(&read(&fx("multi.yaml")).root, "[1].name"), Value::Str(s) if s == "second")
    );
}

#[test]
fn unicode_keys_null_and_empty_containers() {
    let root = read(&fx("config_old.json")).root;
    assert!(matches!(get(&root, "日本語.キー"), Value::Int(1)));
    assert!(matches!(get(&root, "emoji 🎉"), Value::Str(_)));
    assert!(matches!(get(&root, "model.head"), Value::Null));
    assert!(matches!(get(&root, "model.tags"), Value::List(l) if l.is_empty()));
    assert!(matches!(get(&root, "model.extra"), Value::Map(m) if m.is_empty()));
    assert!(matches!(get(&root, "metrics.loss"), Value::Float(f) if f.is_nan()));
    assert!(matches!(get(&root, "metrics.best"), Value::Float(f) if *f == f64::INFINITY));
}

#[test]
fn xml_namespaces_keep_their_prefixes() {
    let root = read(&fx("mixed.xml")).root;
    assert!(matches!(get(&root, "root.@xmlns"), Value::Str(s) if s == "urn:default"));
    assert!(matches!(get(&root, "root.@x:id"), Value::Str(s) if s == "7"));
    assert!(matches!(get(&root, "root.x:item"), Value::Str(s) if s == "namespaced"));
    assert!(matches!(get(&root, "root.item"), Value::List(l) if l.len() == 3));
    assert!(matches!(get(&root, "root.refs"), Value::Str(s) if s == "<tag> & \"q\" 'a' é中"));
    let old = read(&fx("config_old.xml")).root;
    assert!(matches!(get(&old, "config.model.ml:layer[1].#text"), Value::Str(s) if s == "128"));
}

#[test]
fn ini_sections_without_keys_and_root_keys() {
    let root = read(&fx("edge.ini")).root;
    assert!(matches!(get(&root, "top"), Value::Str(s) if s == "level"));
    assert!(matches!(get(&root, "flag"), Value::Null));
    assert!(matches!(get(&root, "empty section"), Value::Map(m) if m.is_empty()));
    assert!(matches!(get(&root, "paths.data"), Value::Str(s) if s == "/data/override"));
    assert!(matches!(get(&root, "paths.multi"), Value::Str(s) if s == "first\nsecond\n\nthird"));
    assert!(matches!(get(&root, "DEFAULT.shared"), Value::Str(s) if s == "1"));
    let report = diff_files("config_old.ini", "config_old.ini");
    assert_eq!(report.summary.differences(), 0);
    assert!(report.changes.is_empty());
}

#[test]
fn csv_cells_quoting_and_nan() {
    let root = read(&fx("table_old.csv")).root;
    let cell = |row: usize, col: &str| get(&root, &format!("rows[{row}].{col}")).clone();
    assert!(matches!(cell(1, "name"), Value::Str(s) if s == "beta, gamma"));
    assert!(matches!(cell(2, "name"), Value::Str(s) if s == "say \"hi\""));
    assert!(matches!(cell(3, "name"), Value::Str(s) if s == "multi\nline"));
    assert!(matches!(cell(6, "name"), Value::Str(s) if s == "42")); // quoted: text
    assert!(matches!(cell(5, "name"), Value::Str(s) if s.is_empty())); // quoted empty: text
    assert!(matches!(cell(3, "score"), Value::Float(f) if f.is_nan()));
    assert!(matches!(cell(5, "score"), Value::Null)); // empty: null
    assert!(matches!(cell(1, "big"), Value::Int(i) if i == (1i128 << 53) + 1));
    let Value::Map(columns) = get(&root, "columns") else {
        panic!()
    };
    let names: Vec<&String> = columns.iter().map(|(k, _)| k).collect();
    assert_eq!(names, ["id", "score", "count", "big", "ratio"]); // not name, label (mixed)
                                                                 // NaN equals NaN: a file compared with itself has no difference.
    assert_eq!(
        diff_files("table_old.csv", "table_old.csv")
            .summary
            .differences(),
        0
    );
}

#[test]
fn numeric_csv_columns_match_the_reference() {
    let reference = common::reference("structured");
    let mut checked = 0;
    for (file, columns) in reference["files"].as_object().unwrap() {
        let inspection = inspect::inspect(&read(&fx(file)), None);
        for (path, want) in columns.as_object().unwrap() {
            let entry = inspection
                .entries
                .iter()
                .find(|e| e.path == *path)
                .unwrap_or_else(|| panic!("{file}: no {path}"));
            let Side::Tensor(t) = &entry.side else {
                panic!("{file} {path}")
            };
            assert_eq!(t.shape, vec![want["numel"].as_u64().unwrap()]);
            check_side(
                &format!("{file} {path}"),
                &t.stats.as_ref().unwrap().0,
                want,
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} columns checked");
    for pair in reference["pairs"].as_array().unwrap() {
        let (old, new) = (pair["old"].as_str().unwrap(), pair["new"].as_str().unwrap());
        let report = diff::diff(
            &read(&fx(old)),
            &read(&fx(new)),
            &Options {
                include_unchanged: true,
                ..Default::default()
            },
            None,
        );
        for (path, want) in pair["tensors"].as_object().unwrap() {
            let c = report.changes.iter().find(|c| c.path == *path).unwrap();
            let m = &c.metrics.as_ref().unwrap_or_else(|| panic!("{path}")).0;
            check_pair(&format!("{old} {path}"), m, want, false);
        }
    }
}

#[test]
fn csv_rows_and_columns_change_together() {
    let d = differences(&diff_files("table_old.csv", "table_new.csv"));
    assert!(d.contains(&("rows[0].name".into(), "changed".into())));
    assert!(d.contains(&("rows[2].score".into(), "changed".into())));
    assert!(d.contains(&("columns.score".into(), "changed".into())));
    assert!(!d.iter().any(|(p, _)| p.starts_with("columns.id")));
    let d = differences(&diff_files("table_old.csv", "table_more_rows.csv"));
    assert!(d.contains(&("columns.score".into(), "reshaped".into())));
    assert!(d.contains(&("rows[41].name".into(), "added".into())));
}

/// (file in bad/, the whole error message after `FILE: `)
const MALFORMED: &[(&str, &str)] = &[
    (
        "trailing_comma.json",
        "line 1, column 9: expected '\"' to start an object key, found '}'",
    ),
    (
        "missing_comma.json",
        "line 3, column 3: expected ',' or '}' after an object entry, found '\"'",
    ),
    (
        "truncated.json",
        "line 1, column 12: expected ',' or ']' after an array element, found end of input",
    ),
    (
        "deep.json",
        "line 1, column 1001: nested deeper than 1000 levels (the limit against hostile input)",
    ),
    (
        "bad_utf8.json",
        "line 1, column 8: invalid UTF-8 (the file must be UTF-8 text)",
    ),
    (
        "bad_indent.yaml",
        "line 2, column 3: mapping values are not allowed in this context",
    ),
    (
        "unknown_anchor.yaml",
        "line 1, column 4: alias references unknown anchor",
    ),
    (
        "deep.yaml",
        "nested deeper than 1000 levels (the limit against hostile input)",
    ),
    ("duplicate_key.toml", "line 3, column 1: duplicate key"),
    (
        "bad_value.toml",
        "line 2, column 18: invalid basic string, expected `\"`",
    ),
    ("mismatched.xml", "line 2, column 6: "),
    (
        "unclosed.xml",
        "line 3, column 1: unexpected end of input: element <a> is not closed",
    ),
    (
        "unknown_entity.xml",
        "line 1, column 4: unknown entity '&nbsp;' (entities a DTD declares are not expanded)",
    ),
    (
        "deep.xml",
        "line 1, column 3001: nested deeper than 1000 levels (the limit against hostile input)",
    ),
    (
        "unclosed_section.ini",
        "line 3, column 1: section header '[broken' has no closing ']'",
    ),
    (
        "ragged.csv",
        "line 3, column 5: a record of 3 fields, but the header has 2",
    ),
    (
        "unclosed_quote.csv",
        "line 2, column 3: a quoted field is not closed before the end of the file",
    ),
    (
        "empty.csv",
        "line 1, column 1: no header row (a CSV file needs one)",
    ),
];

#[test]
fn malformed_files_name_the_line_and_column() {
    let listed = std::fs::read_to_string(fx("bad/README.md")).unwrap();
    for (file, want) in MALFORMED {
        assert!(
            listed.contains(&format!("`{file}`")),
            "{file} not in bad/README.md"
        );
        let path = fx("bad").join(file);
        let err = formats::read(&path, None).expect_err(file);
        let text = err.to_string();
        assert!(!text.contains('\n'), "{file}: {text}");
        assert!(
            text.starts_with(&path.display().to_string()),
            "{file}: {text}"
        );
        if want.ends_with(": ") {
            assert!(err.message.starts_with(want), "{file}: {}", err.message);
        } else if want.starts_with("line") {
            assert_eq!(err.message, *want, "{file}");
        } else {
            assert!(err.message.ends_with(want), "{file}: {}", err.message);
            assert!(err.message.starts_with("line "), "{file}: {}", err.message);
        }
    }
    let files = std::fs::read_dir(fx("bad")).unwrap().count();
    assert_eq!(files, MALFORMED.len() + 1, "every bad file is checked");
}

/// Trees nested to the limit read, diff and inspect on a thread with the 2 MiB stack of a rayon
/// or test thread; one level more is an error.
#[test]
fn nesting_up_to_the_limit_works_on_a_small_stack() {
    let d = MAX_DEPTH;
    let cases = [
        (
            "deep.json",
            format!("{}1{}", "[".repeat(d), "]".repeat(d)),
            format!("{}1{}", "{\"k\":".repeat(d), "}".repeat(d)),
        ),
        (
            "deep.yaml",
            format!("{}1\n", "- ".repeat(d)),
            format!("{}1{}", "{k: ".repeat(d), "}".repeat(d)),
        ),
        (
            "deep.xml",
            format!("{}1{}", "<a>".repeat(d), "</a>".repeat(d)),
            format!("{}2{}", "<a>".repeat(d), "</a>".repeat(d)),
        ),
    ];
    for (name, old, new) in cases {
        let (o, n) = (
            scratch(&format!("old-{name}")),
            scratch(&format!("new-{name}")),
        );
        std::fs::write(&o, old).unwrap();
        std::fs::write(&n, new).unwrap();
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let (old, new) = (read(&o), read(&n));
                let report = diff::diff(&old, &new, &Options::default(), None);
                assert!(report.summary.differences() > 0);
                let _ = inspect::inspect(&old, None);
                let _ = diff::diff(&old, &old.clone(), &Options::default(), None);
            })
            .unwrap()
            .join()
            .unwrap_or_else(|_| panic!("{name}"));
    }
}
