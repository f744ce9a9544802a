#![no_main]
//! Arbitrary bytes as a safetensors file. Run: `cargo fuzz run safetensors fuzz/corpus/safetensors`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| diffai_core::fuzzing::safetensors(data));
