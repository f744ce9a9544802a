//! `--architecture-comparison`: per side, the depth (layers holding a weight of rank ≥ 2) and the
//! model family inferred by a published rule from the weights' shapes and names.

use std::collections::BTreeSet;

use super::tensors::{entries, Match};
use super::weights::{is_weight, layer_of};
use super::{Analysis, Finding, Input};
use crate::tensor::Tensor;

pub struct Architecture;

/// Names of attention projections: a model holding one is a transformer.
pub const ATTENTION_NAMES: &[&str] = &[
    "q_proj",
    "k_proj",
    "v_proj",
    "query",
    "key",
    "value",
    "in_proj_weight",
    "c_attn",
    "qkv",
];
/// Names of recurrent weights: a model holding one is an RNN.
pub const RECURRENT_NAMES: &[&str] = &["weight_ih", "weight_hh"];

impl Analysis for Architecture {
    fn name(&self) -> &'static str {
        "architecture_comparison"
    }

    fn flag(&self) -> &'static str {
        "architecture-comparison"
    }

    fn help(&self) -> &'static str {
        "family (inferred: cnn / transformer / rnn / feedforward) and depth per side, structural differences"
    }

    fn run(&self, input: &Input) -> Finding {
        let all = entries(input);
        let side = |old: bool| {
            let tensors: Vec<(&str, &Tensor)> = all
                .iter()
                .filter_map(|e| e.side(old).map(|t| (e.path.as_str(), t)))
                .collect();
            (family(&tensors), depth(&tensors))
        };
        let (family_old, depth_old) = side(true);
        let (family_new, depth_new) = side(false);
        let differences = all
            .iter()
            .filter(|e| matches!(e.kind, Match::Added | Match::Removed | Match::Reshaped))
            .count();
        Finding::default()
            .field("type1", family_old)
            .field("type2", family_new)
            .field("depth_old", depth_old)
            .field("depth_new", depth_new)
            .field("differences", differences)
            .field(
                "inferred",
                "family from weight shapes and names (rule in the README)",
            )
    }
}

/// The first rule that matches: any 4-D weight → cnn; an attention projection → transformer; a
/// recurrent weight → rnn; 2-D weights only → feedforward; no weight of rank ≥ 2 → none.
fn family(tensors: &[(&str, &Tensor)]) -> &'static str {
    let has = |names: &[&str]| {
        tensors
            .iter()
            .any(|(p, _)| names.iter().any(|n| p.to_lowercase().contains(n)))
    };
    if tensors
        .iter()
        .any(|(p, t)| is_weight(p, t) && t.shape.len() == 4)
    {
        "cnn"
    } else if has(ATTENTION_NAMES) {
        "transformer"
    } else if has(RECURRENT_NAMES) {
        "rnn"
    } else if tensors.iter().any(|(p, t)| is_weight(p, t)) {
        "feedforward"
    } else {
        "none"
    }
}

/// Layers holding a weight of rank ≥ 2.
fn depth(tensors: &[(&str, &Tensor)]) -> usize {
    tensors
        .iter()
        .filter(|(p, t)| is_weight(p, t))
        .map(|(p, _)| layer_of(p))
        .collect::<BTreeSet<_>>()
        .len()
}
