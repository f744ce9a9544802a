//! Every analysis over tensors of degenerate shapes (no columns, no rows, many rows of nothing,
//! projections whose shapes do not fit one another): answers or says what is missing, in
//! bounded time and memory, and never panics.

use std::path::Path;

use diffai_core::analysis::{self, attention, Field, Finding, Input, Settings, ANALYSES};
use diffai_core::diff::{self, Options};
use diffai_core::tensor::{ByteSource, DType, Tensor};
use diffai_core::value::{Map, Value};
use diffai_core::Artifact;

/// A float32 tensor of `shape` with elements `seed, seed + 1, …` (so two seeds differ everywhere).
fn tensor(shape: &[u64], seed: f32) -> Value {
    let numel: u64 = shape.iter().product();
    let bytes: Vec<u8> = (0..numel)
        .flat_map(|i| (seed + i as f32).to_le_bytes())
        .collect();
    Value::Tensor(Box::new(Tensor::dense(
        DType::F32,
        shape.to_vec(),
        ByteSource::owned(bytes),
    )))
}

fn artifact(entries: Vec<(&str, Value)>) -> Artifact {
    let mut root = Map::new();
    for (k, v) in entries {
        root.push(k.to_string(), v);
    }
    Artifact::from_file(
        Path::new("degenerate"),
        "safetensors",
        0,
        Value::Map(root),
        Vec::new(),
    )
}

/// Every analysis over `old` → `new`.
fn run_all(old: &Artifact, new: &Artifact, settings: &Settings) -> Vec<(&'static str, Finding)> {
    let flags: Vec<&str> = ANALYSES.iter().map(|a| a.flag()).collect();
    run(old, new, settings, &flags)
}

/// The analyses of `flags` over `old` → `new`, whose JSON must serialise.
fn run(
    old: &Artifact,
    new: &Artifact,
    settings: &Settings,
    flags: &[&str],
) -> Vec<(&'static str, Finding)> {
    let opts = Options::default();
    let report = diff::diff(old, new, &opts, None);
    let input = Input::new(old, new, &opts, &report, settings);
    let found = analysis::run(flags, &input).0;
    serde_json::to_string(&analysis::Analyses(found.clone())).unwrap();
    found
}

fn finding<'a>(found: &'a [(&'static str, Finding)], name: &str) -> &'a Finding {
    &found.iter().find(|(n, _)| *n == name).unwrap().1
}

/// A finding's `left_out` field (what the analysis could not use), as text.
fn left_out(f: &Finding) -> Option<String> {
    f.fields
        .iter()
        .find(|(n, _)| *n == "left_out")
        .map(|(_, f)| format!("{f:?}"))
}

fn cell<'a>(row: &'a [(&'static str, Field)], k: &str) -> Option<&'a Field> {
    row.iter().find(|(n, _)| *n == k).map(|(_, f)| f)
}

/// An embedding table of 2^40 rows and no columns holds no element: its drift is said to be
/// missing, without a per-row buffer (8 TiB) being allocated.
#[test]
fn embedding_of_many_rows_and_no_columns() {
    let old = artifact(vec![("embed_tokens.weight", tensor(&[1 << 40, 0], 0.0))]);
    let new = artifact(vec![("embed_tokens.weight", tensor(&[1 << 40, 0], 1.0))]);
    let found = run_all(&old, &new, &Settings::default());
    let e = finding(&found, "embedding_analysis");
    assert_eq!(e.rows.len(), 1);
    assert!(
        matches!(cell(&e.rows[0], "drift"), Some(Field::Missing(_))),
        "{:?}",
        e.rows[0]
    );
}

/// Many rows of nothing (up to u64::MAX), and nothing of many columns, as plain 2-D weights and
/// as embeddings by name: the low-rank sketch has rank 0 and the other analyses answer.
#[test]
fn weights_without_rows_or_columns() {
    let shapes = [
        [1u64 << 40, 0],
        [0, 1 << 40],
        [u64::MAX, 0],
        [0, u64::MAX],
        [(1 << 63) + 1, 0],
        [0, 0],
        [3, 0],
        [0, 3],
    ];
    for (shape, name) in shapes
        .iter()
        .flat_map(|s| [(s, "fc.weight"), (s, "embed_tokens.weight")])
    {
        let old = artifact(vec![(name, tensor(shape, 0.0))]);
        let new = artifact(vec![(name, tensor(shape, 1.0))]);
        let found = run_all(&old, &new, &Settings::default());
        assert_eq!(found.len(), ANALYSES.len(), "{name} {shape:?}");
    }
}

/// Attention projections of no rows with a large head count (from `--num-heads` or metadata):
/// no head has rows, so none is listed, rather than one empty row per head.
#[test]
fn attention_without_rows_lists_no_heads() {
    let side = |seed| {
        artifact(vec![
            ("attn.q_proj.weight", tensor(&[0, 4], seed)),
            ("attn.k_proj.weight", tensor(&[0, 4], seed)),
            ("attn.v_proj.weight", tensor(&[0, 4], seed)),
            ("attn.o_proj.weight", tensor(&[4, 0], seed)),
            ("num_attention_heads", Value::Int(1 << 20)),
        ])
    };
    let (old, new) = (side(0.0), side(1.0));
    for heads in [None, Some(1 << 20)] {
        let settings = Settings {
            num_heads: heads,
            ..Settings::default()
        };
        let found = run_all(&old, &new, &settings);
        for name in [
            "attention_analysis",
            "head_importance",
            "attention_pattern_diff",
        ] {
            assert!(finding(&found, name).rows.is_empty(), "{name} {heads:?}");
        }
    }
}

/// Grouped-query attention (k/v with fewer rows than q), a query width other than the model
/// width (o_proj `[E, heads·d]` with heads·d ≠ E) and a query that grew between the sides: each
/// head reads only rows and columns its projections have.
#[test]
fn attention_projections_of_other_shapes() {
    /// Shapes of q, k, v and o.
    type Shapes = [[u64; 2]; 4];
    let cases: [(&str, Shapes, Shapes); 5] = [
        // q, k, v, o of old; the same of new
        (
            "grouped-query",
            [[8, 4], [4, 4], [4, 4], [4, 8]],
            [[8, 4], [4, 4], [4, 4], [4, 8]],
        ),
        (
            "k/v of no whole head",
            [[8, 4], [3, 4], [3, 4], [4, 8]],
            [[8, 4], [3, 4], [3, 4], [4, 8]],
        ),
        (
            "k/v grouped differently",
            [[8, 4], [4, 4], [4, 4], [4, 8]],
            [[8, 4], [8, 4], [8, 4], [4, 8]],
        ),
        (
            "wide heads",
            [[8, 4], [8, 4], [8, 4], [4, 8]],
            [[8, 4], [8, 4], [8, 4], [4, 8]],
        ),
        (
            "query grew",
            [[8, 4], [8, 4], [8, 4], [4, 8]],
            [[4, 4], [4, 4], [4, 4], [4, 4]],
        ),
    ];
    for (what, old, new) in cases {
        let side = |shapes: Shapes, seed| {
            let names = ["q_proj", "k_proj", "v_proj", "o_proj"];
            artifact(
                names
                    .iter()
                    .zip(shapes)
                    .map(|(n, s)| {
                        (
                            // leaked: the names live as long as the test
                            &*Box::leak(format!("attn.{n}.weight").into_boxed_str()),
                            tensor(&s, seed),
                        )
                    })
                    .collect(),
            )
        };
        for swap in [false, true] {
            let (a, b) = if swap {
                (side(new, 1.0), side(old, 0.0))
            } else {
                (side(old, 0.0), side(new, 1.0))
            };
            let settings = Settings {
                num_heads: Some(4),
                ..Settings::default()
            };
            let found = run_all(&a, &b, &settings);
            assert_eq!(found.len(), ANALYSES.len(), "{what}");
            // What was left out is said, not silently dropped.
            let said = left_out(finding(&found, "attention_analysis"));
            match what {
                "grouped-query" => {
                    // 2 K/V heads of 2 rows, each shared by 2 of the 4 query heads
                    assert_eq!(said, None, "{what}");
                    let f = finding(&found, "attention_analysis");
                    assert_eq!(f.rows.len(), 4, "{what}");
                    assert!(f
                        .fields
                        .iter()
                        .any(|(n, v)| *n == "kv_heads" && matches!(v, Field::Int(2))));
                }
                "k/v of no whole head" => {
                    let said = said.expect("k/v of no whole head left out without a word");
                    assert!(
                        said.contains(
                            "k: 3 rows are not K/V heads of 2 rows shared evenly by 4 query heads"
                        ),
                        "{said}"
                    );
                    assert!(said.contains("v: 3 rows"), "{said}");
                }
                "k/v grouped differently" => {
                    let said = said.expect("k/v that changed shape left out without a word");
                    assert!(said.contains("k not of one shape in both files"), "{said}");
                }
                "query grew" => {
                    let said = said.expect("a module whose q changed shape dropped without a word");
                    assert!(
                        said.contains("attn: not analysed: q not of one shape in both files"),
                        "{said}"
                    );
                }
                "wide heads" => {
                    // o [E, heads·d] fits q [heads·d, E]: everything is used
                    assert_eq!(said, None, "{what}")
                }
                _ => {}
            }
        }
    }
}

/// A projection too large to read whole is left out, and the output says why it could not be
/// read a head at a time: GPT-2's Conv1D layout (transposed in memory), or packed 4-bit
/// elements whose rows do not start on a byte.
#[test]
fn attention_projection_over_the_limit_is_said() {
    let zeros = |dtype, shape: [u64; 2]| {
        let bytes = DType::bytes_for(dtype, shape[0] * shape[1]).unwrap() as usize;
        Value::Tensor(Box::new(Tensor::dense(
            dtype,
            shape.to_vec(),
            ByteSource::owned(vec![0; bytes]),
        )))
    };
    let rows = attention::MAX_PROJECTION / 4096 + 1;
    let cases = [
        (
            "attn.c_proj.weight",
            DType::F32,
            [rows, 4096],
            "Conv1D layout",
        ),
        (
            "attn.o_proj.weight",
            DType::F4,
            [4096, 4097],
            "packed elements whose rows do not start on a byte",
        ),
    ];
    for (name, dtype, shape, why) in cases {
        let side = |seed| {
            artifact(vec![
                ("attn.q_proj.weight", tensor(&[8, 4], seed)),
                ("attn.v_proj.weight", tensor(&[8, 4], seed)),
                (name, zeros(dtype, shape)),
            ])
        };
        let settings = Settings {
            num_heads: Some(2),
            ..Settings::default()
        };
        let found = run(&side(0.0), &side(1.0), &settings, &["head-importance"]);
        let f = finding(&found, "head_importance");
        assert!(f.rows.is_empty(), "no proxy without the output projection");
        let said = left_out(f).expect("the projection over the limit left out without a word");
        let want =
            format!("o: larger than 16 Mi elements and not readable a head at a time ({why})");
        assert!(said.contains(&want), "{said}");
    }
}

/// Grouped-query attention reads as the multi-head attention it computes: every K/V head
/// repeated for the query heads that share it gives the same numbers per query head.
#[test]
fn grouped_query_attention_equals_its_expansion() {
    // q [8, 4] of 4 heads of 2 rows; k and v [4, 4]: 2 K/V heads, each shared by 2 query heads
    let values = |n: usize, seed: u64| -> Vec<f32> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    };
    let matrix = |rows: u64, cols: u64, v: &[f32]| {
        Value::Tensor(Box::new(Tensor::dense(
            DType::F32,
            vec![rows, cols],
            ByteSource::owned(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        )))
    };
    // K/V head g's rows 2g, 2g + 1 repeated for query heads 2g and 2g + 1
    let expand = |kv: &[f32]| -> Vec<f32> {
        (0..4)
            .flat_map(|h| kv[(h / 2) * 8..(h / 2) * 8 + 8].to_vec())
            .collect()
    };
    let side = |seed: u64, expanded: bool| {
        let (q, k, v, o) = (
            values(32, seed),
            values(16, seed + 1),
            values(16, seed + 2),
            values(32, seed + 3),
        );
        let (k, v, kv_rows) = if expanded {
            (expand(&k), expand(&v), 8)
        } else {
            (k, v, 4)
        };
        artifact(vec![
            ("attn.q_proj.weight", matrix(8, 4, &q)),
            ("attn.k_proj.weight", matrix(kv_rows, 4, &k)),
            ("attn.v_proj.weight", matrix(kv_rows, 4, &v)),
            ("attn.o_proj.weight", matrix(4, 8, &o)),
        ])
    };
    let settings = Settings {
        num_heads: Some(4),
        ..Settings::default()
    };
    let grouped = run_all(&side(1, false), &side(10, false), &settings);
    let expanded = run_all(&side(1, true), &side(10, true), &settings);
    for name in [
        "attention_analysis",
        "head_importance",
        "attention_pattern_diff",
    ] {
        let (g, e) = (finding(&grouped, name), finding(&expanded, name));
        assert_eq!(g.rows.len(), 4, "{name}");
        assert_eq!(format!("{:?}", g.rows), format!("{:?}", e.rows), "{name}");
    }
}
