//! Every input of the fuzz corpora, replayed through the fuzz targets' own entry points.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| run(&data));
        assert!(result.is_ok(), "{} panicked", path.display());
        n += 1;
    }
    assert!(n >= 10, "{target}: only {n} corpus inputs");
}

#[test]
fn safetensors_corpus() {
    replay("safetensors", diffai_core::fuzzing::safetensors);
}

#[test]
fn pytorch_corpus() {
    replay("pytorch", diffai_core::fuzzing::pytorch);
}

#[test]
fn numpy_corpus() {
    replay("numpy", diffai_core::fuzzing::numpy);
}

#[test]
fn matlab_corpus() {
    replay("matlab", diffai_core::fuzzing::matlab);
}

#[test]
fn structured_corpus() {
    replay("structured", diffai_core::fuzzing::structured);
}
