//! `--show-size-reduction`: file and tensor bytes old→new and the reduction `1 - new/old`.

use super::{Analysis, Field, Finding, Input};

pub struct ShowSizeReduction;

impl Analysis for ShowSizeReduction {
    fn name(&self) -> &'static str {
        "show_size_reduction"
    }

    fn flag(&self) -> &'static str {
        "show-size-reduction"
    }

    fn help(&self) -> &'static str {
        "file bytes and tensor bytes old->new, reduction = 1 - new/old"
    }

    fn run(&self, input: &Input) -> Finding {
        let (o, n) = (&input.report.old, &input.report.new);
        let reduction = |old: u64, new: u64| {
            if old == 0 {
                Field::Missing("old is empty".into())
            } else {
                Field::Percent(1.0 - new as f64 / old as f64)
            }
        };
        Finding::default()
            .field("file_bytes_old", o.bytes)
            .field("file_bytes_new", n.bytes)
            .field("file_reduction", reduction(o.bytes, n.bytes))
            .field("tensor_bytes_old", o.tensor_bytes)
            .field("tensor_bytes_new", n.tensor_bytes)
            .field(
                "tensor_reduction",
                reduction(o.tensor_bytes, n.tensor_bytes),
            )
    }
}
