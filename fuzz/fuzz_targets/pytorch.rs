#![no_main]
//! Arbitrary bytes as a PyTorch file. Run: `cargo fuzz run pytorch fuzz/corpus/pytorch`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| diffai_core::fuzzing::pytorch(data));
