#![no_main]
//! Arbitrary bytes as a .npy file and as an .npz archive. Run: `cargo fuzz run numpy fuzz/corpus/numpy`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| diffai_core::fuzzing::numpy(data));
