#![no_main]
//! Arbitrary bytes as JSON, YAML, TOML, XML, INI, CSV and TSV.
//! Run: `cargo fuzz run structured fuzz/corpus/structured`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| diffai_core::fuzzing::structured(data));
