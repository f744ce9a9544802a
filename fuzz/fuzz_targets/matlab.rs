#![no_main]
//! Arbitrary bytes as a MAT file (v5, else v4). Run: `cargo fuzz run matlab fuzz/corpus/matlab`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| diffai_core::fuzzing::matlab(data));
