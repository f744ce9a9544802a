//! One test per documented limit (README, "Limits"): an input just past it is refused with an
//! error that names the limit. Inputs are built here, byte by byte, as hostile files would be.
//! (Other limits are tested beside their format: safetensors and `.npy` header sizes in
//! engine.rs and numpy.rs, pickle nesting in pytorch.rs, JSON/YAML/XML/TOML nesting in
//! structured.rs, MAT v7.3 read size and shared references in matlab.rs.)

use std::path::PathBuf;

use diffai_core::formats;

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("diffai-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The error reading `path` (with `format` forced, or detected).
fn error(path: &std::path::Path, format: Option<&str>) -> String {
    match formats::read(path, format) {
        Ok(_) => panic!("{} was read", path.display()),
        Err(e) => e.to_string(),
    }
}

fn assert_names(err: &str, limit: &str) {
    assert!(err.contains(limit), "{err:?} does not name {limit}");
    assert_eq!(err.lines().count(), 1, "{err:?}");
}

/// A pickle (protocol 2) of `body` ending in STOP.
fn pickle(body: &[u8]) -> Vec<u8> {
    [&b"\x80\x02"[..], body, b"."].concat()
}

#[test]
fn pickle_memo_is_limited() {
    // One value, memoized 4,000,001 times (MEMOIZE, protocol 4's one-byte PUT).
    let body = [&b"N"[..], &vec![0x94u8; 4_000_001]].concat();
    let path = scratch("memo.pkl", &pickle(&body));
    assert_names(&error(&path, Some("pytorch")), "4000000 entries");
}

#[test]
fn pickle_stack_is_limited() {
    let path = scratch("stack.pkl", &pickle(&vec![b'N'; 1_000_001]));
    assert_names(&error(&path, Some("pytorch")), "1000000 values");
}

#[test]
fn pickle_marks_are_limited() {
    let path = scratch("marks.pkl", &pickle(&vec![b'('; 100_001]));
    assert_names(&error(&path, Some("pytorch")), "100000 MARKs");
}

/// A list of 10,000 Nones, then a list holding it `refs` times (memo GETs): 1 + refs × 10,001
/// values once expanded, from a pickle of 10 KB + 2 bytes per reference.
fn shared_list_pickle(refs: usize) -> Vec<u8> {
    let mut body = b"]q\x00(".to_vec(); // EMPTY_LIST, BINPUT 0, MARK
    body.extend(vec![b'N'; 10_000]);
    body.extend(b"e0](".iter()); // APPENDS, POP, EMPTY_LIST, MARK
    for _ in 0..refs {
        body.extend(b"h\x00"); // BINGET 0
    }
    body.push(b'e');
    pickle(&body)
}

#[test]
fn pickle_expansion_is_limited() {
    // 1 + 5,001 × 10,001 = 50,015,002 values: refused from a count, before any is built.
    let path = scratch("shared.pkl", &shared_list_pickle(5_001));
    assert_names(&error(&path, Some("pytorch")), "more than 50000000 values");
    // The same structure, smaller, is read, each reference expanded.
    let path = scratch("shared_small.pkl", &shared_list_pickle(3));
    let artifact = formats::read(&path, Some("pytorch")).unwrap();
    let listed = format!("{:?}", artifact);
    assert!(
        listed.matches("Null").count() >= 30_000,
        "not every reference was expanded"
    );
}

#[test]
fn pickle_cycle_is_refused() {
    // A list appended to itself (EMPTY_LIST, BINPUT 0, BINGET 0, APPEND) nests without end.
    let path = scratch("cycle.pkl", &pickle(b"]q\x00h\x00a"));
    assert_names(&error(&path, Some("pytorch")), "deeper than 1000 levels");
}

#[test]
fn sharded_index_size_is_limited() {
    // A sparse file just over 256 MiB: refused from its size, before it is read.
    let dir = std::env::temp_dir().join(format!("diffai-limits-index-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let index = dir.join("model.safetensors.index.json");
    let f = std::fs::File::create(&index).unwrap();
    f.set_len((256 << 20) + 1).unwrap();
    drop(f);
    let err = error(&index, Some("safetensors-sharded"));
    assert_names(&err, "exceeds the limit of 268435456 bytes");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn mat_v4_name_length_is_limited() {
    // A v4 matrix header (type 0: little-endian double, 1 × 1, real) naming 4097 bytes.
    let header: Vec<u8> = [0u32, 1, 1, 0, 4097]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let path = scratch("long_name.mat", &[header, vec![b'a'; 4097 + 8]].concat());
    assert_names(&error(&path, Some("matlab")), "outside 1..=4096 bytes");
}

/// A MAT v5 data element: type, byte count, data padded to 8 bytes (little-endian).
fn mat_element(ty: u32, data: &[u8]) -> Vec<u8> {
    let mut out = [ty.to_le_bytes(), (data.len() as u32).to_le_bytes()].concat();
    out.extend(data);
    out.resize(out.len().div_ceil(8) * 8, 0);
    out
}

/// A MAT v5 file holding variable `x`: `cells` 1 × 1 cells nested in one another around a
/// 1 × 1 double.
fn nested_cells_mat(cells: usize) -> Vec<u8> {
    // miMATRIX (14) of array flags (miUINT32: class; nzmax), dimensions (miINT32), name (miINT8)
    let matrix = |class: u32, name: &[u8], body: &[u8]| -> Vec<u8> {
        let flags: Vec<u8> = [class, 0].iter().flat_map(|w| w.to_le_bytes()).collect();
        let dims: Vec<u8> = [1i32, 1].iter().flat_map(|w| w.to_le_bytes()).collect();
        let inner = [
            mat_element(6, &flags),
            mat_element(5, &dims),
            mat_element(1, name),
            body.to_vec(),
        ];
        mat_element(14, &inner.concat())
    };
    // class 6 = double, its real part as miDOUBLE (9); class 1 = cell
    let mut value = matrix(6, b"", &mat_element(9, &1.5f64.to_le_bytes()));
    for k in 0..cells {
        value = matrix(1, if k + 1 == cells { b"x" } else { b"" }, &value);
    }
    let mut header = b"MATLAB 5.0 MAT-file, written by diffai's limits test".to_vec();
    header.resize(116, b' ');
    header.extend([0u8; 8]); // no subsystem data
    header.extend([0x00, 0x01, b'I', b'M']); // version 0x0100, little-endian
    [header, value].concat()
}

#[test]
fn mat_cell_nesting_is_limited() {
    // The variable is level 0: 256 cells put the double at level 256, the last one read.
    let path = scratch("cells256.mat", &nested_cells_mat(256));
    let read = formats::read(&path, Some("matlab")).unwrap();
    let listed = format!("{read:?}");
    assert_eq!(listed.matches("List(").count(), 256);
    assert!(
        listed.contains("Tensor"),
        "the innermost value was not read"
    );
    let path = scratch("cells257.mat", &nested_cells_mat(257));
    assert_names(&error(&path, Some("matlab")), "deeper than 256 levels");
}

#[test]
fn npy_header_nesting_is_limited() {
    // A header dict whose 'descr' nests 65 lists deep.
    let descr = format!("{}'<f4'{}", "[".repeat(65), "]".repeat(65));
    let mut dict = format!("{{'descr': {descr}, 'fortran_order': False, 'shape': (1,), }}");
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((dict.len() as u16).to_le_bytes());
    bytes.extend(dict.as_bytes());
    bytes.extend([0u8; 4]);
    let path = scratch("deep.npy", &bytes);
    assert_names(&error(&path, Some("npy")), "deeper than 64 levels");
}

#[test]
fn yaml_alias_expansion_is_limited() {
    // "Billion laughs": each level references the one before ten times.
    let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = format!("*a{}", i - 1);
        let refs = [prev.as_str(); 10].join(", ");
        doc.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    let path = scratch("laughs.yaml", doc.as_bytes());
    let err = error(&path, None);
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.contains("laughs.yaml"), "{err}");
    assert!(err.contains("expands past the limit on nodes"), "{err}");
}

#[test]
fn inflating_into_memory_is_limited() {
    use diffai_core::deflated::{Deflated, Framing};
    use diffai_core::tensor::{ByteSource, MAX_INFLATED_BYTES};
    // A record (a pickle, a structured array…) that announces one byte more than the limit is
    // refused before anything is inflated; streamed tensors are not subject to it.
    let record = |len| {
        ByteSource::deflated(Deflated::announced(
            ByteSource::owned(vec![3, 0]), // raw deflate of no bytes
            Framing::Raw,
            len,
            0,
        ))
    };
    let err = record(MAX_INFLATED_BYTES + 1)
        .bytes_in_memory()
        .unwrap_err();
    assert_names(
        &err,
        "more than the 4294967296 bytes diffai inflates into memory",
    );
    assert_eq!(record(0).bytes_in_memory().unwrap(), b"");
}
