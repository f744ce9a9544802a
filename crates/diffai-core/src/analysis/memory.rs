//! `--memory-analysis`: exact bytes (numel × element size) per tensor, totals per dtype per
//! side and their difference, file sizes, the largest tensors, and the bytes of optimizer state
//! when a checkpoint holds it. No GPU-memory guesses.

use std::collections::BTreeMap;

use super::tensors::entries;
use super::{Analysis, Field, Finding, Input};

pub struct Memory;

/// Largest tensors listed.
pub const LARGEST: usize = 5;

impl Analysis for Memory {
    fn name(&self) -> &'static str {
        "memory_analysis"
    }

    fn flag(&self) -> &'static str {
        "memory-analysis"
    }

    fn help(&self) -> &'static str {
        "exact tensor bytes per dtype and side, difference, file sizes, largest tensors, optimizer-state bytes"
    }

    fn run(&self, input: &Input) -> Finding {
        let all = entries(input);
        let mut by_dtype: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        let (mut optimizer_old, mut optimizer_new) = (0u64, 0u64);
        for e in all {
            let in_optimizer = e
                .path
                .split('.')
                .next()
                .is_some_and(|p| p.contains("optimizer"));
            if let Some(t) = e.old {
                by_dtype.entry(t.dtype.name()).or_default().0 += t.byte_len();
                optimizer_old += in_optimizer as u64 * t.byte_len();
            }
            if let Some(t) = e.new {
                by_dtype.entry(t.dtype.name()).or_default().1 += t.byte_len();
                optimizer_new += in_optimizer as u64 * t.byte_len();
            }
        }
        let (old, new): (u64, u64) = by_dtype
            .values()
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        let mut largest: Vec<(&str, u64)> = all
            .iter()
            .filter_map(|e| e.new.map(|t| (e.path.as_str(), t.byte_len())))
            .collect();
        largest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let rows = by_dtype
            .iter()
            .map(|(dtype, (o, n))| {
                vec![
                    ("dtype", Field::from(*dtype)),
                    ("bytes_old", Field::from(*o)),
                    ("bytes_new", Field::from(*n)),
                ]
            })
            .collect();
        let optimizer = |b: u64| {
            if optimizer_old + optimizer_new == 0 {
                Field::Missing("no optimizer state in either file".into())
            } else {
                Field::from(b)
            }
        };
        Finding {
            rows,
            ..Finding::default()
        }
        .field("tensor_bytes_old", old)
        .field("tensor_bytes_new", new)
        .field("delta_bytes", Field::Int(new as i128 - old as i128))
        .field("file_bytes_old", input.report.old.bytes)
        .field("file_bytes_new", input.report.new.bytes)
        .field("optimizer_bytes_old", optimizer(optimizer_old))
        .field("optimizer_bytes_new", optimizer(optimizer_new))
        .field(
            "largest",
            Field::List(
                largest
                    .iter()
                    .take(LARGEST)
                    .map(|(p, b)| format!("{p} ({b} B)"))
                    .collect(),
            ),
        )
    }
}
