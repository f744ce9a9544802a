//! Shape rules shared by the analyses that read a model's architecture from its weights: what a
//! layer is, which 2-D weights are embeddings, how many multiply-accumulates a weight costs.

use crate::report::is_buffer;
use crate::tensor::Tensor;

/// Name fragments of embedding matrices (Hugging Face and GPT-2 naming).
pub const EMBEDDING_NAMES: &[&str] = &["embed", "wte", "wpe", "word_embeddings", "embed_tokens"];

/// A 2-D weight with this many times more rows than columns is read as an embedding table
/// (vocabularies are 10^4–10^5 rows of 10^2–10^3 columns; linear layers are within ~4×).
pub const EMBEDDING_ROW_RATIO: u64 = 16;

/// The layer a tensor belongs to: its path minus the last component (`fc1.weight` → `fc1`).
pub fn layer_of(path: &str) -> &str {
    path.rsplit_once('.').map_or(path, |(layer, _)| layer)
}

/// A weight: not a recognised buffer, rank ≥ 2 (biases and norms are rank 1).
pub fn is_weight(path: &str, t: &Tensor) -> bool {
    t.shape.len() >= 2 && !is_buffer(path)
}

/// Whether a 2-D weight is an embedding table, by name or by shape.
pub fn is_embedding(path: &str, t: &Tensor) -> bool {
    let lower = path.to_lowercase();
    t.shape.len() == 2
        && (EMBEDDING_NAMES.iter().any(|n| lower.contains(n))
            || t.shape[0] >= EMBEDDING_ROW_RATIO.saturating_mul(t.shape[1].max(1)))
}

/// Multiply-accumulates one use of a weight costs per output position: linear `[out, in]` →
/// out·in; convolution `[out, in/groups, k…]` → out·(in/groups)·Πk; embeddings (a lookup) and
/// anything else 0.
pub fn macs(path: &str, t: &Tensor) -> u64 {
    if !is_weight(path, t) || is_embedding(path, t) {
        return 0;
    }
    t.shape.iter().copied().fold(1u64, u64::saturating_mul)
}

/// Entries holding an embedding table (by [`is_embedding`] on old) on both sides with the same
/// width; rows pair by index, so a grown vocabulary compares its first rows.
pub fn embedding_tables<'a, 'b>(
    all: &'b [super::tensors::Entry<'a>],
) -> Vec<&'b super::tensors::Entry<'a>> {
    all.iter()
        .filter(|e| match (e.old, e.new) {
            (Some(o), Some(n)) => {
                is_embedding(&e.path, o) && n.shape.len() == 2 && n.shape[1] == o.shape[1]
            }
            _ => false,
        })
        .collect()
}
