//! Failure behaviour the user can meet on a real machine: an input truncated by another process
//! while diffai reads it, Ctrl-C in a long run, a full disk under stdout, an unreadable file.
//! Each gives one clear line on stderr, a non-zero status and no report claimed as complete.
#![cfg(target_os = "linux")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_diffai");

/// One float32 matrix of this many rows and columns: 64 MiB, seconds of `--low-rank-analysis`
/// at the test profile's optimisation, so the run is still reading when the test acts.
const SIDE: usize = 4096;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("diffai-fail-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A safetensors file holding `w`, all zeros except its first element `first`.
fn matrix(path: &Path, first: f32) {
    let bytes = SIDE * SIDE * 4;
    let header = format!(
        "{{\"w\":{{\"dtype\":\"F32\",\"shape\":[{SIDE},{SIDE}],\"data_offsets\":[0,{bytes}]}}}}"
    );
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&(header.len() as u64).to_le_bytes()).unwrap();
    f.write_all(header.as_bytes()).unwrap();
    f.write_all(&first.to_le_bytes()).unwrap();
    f.write_all(&vec![0u8; bytes - 4]).unwrap();
}

fn pair(name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = scratch(name);
    let (old, new) = (dir.join("old.safetensors"), dir.join("new.safetensors"));
    matrix(&old, 0.0);
    matrix(&new, 1.0);
    (dir, old, new)
}

/// Starts a long run over the pair (one thread, the low rank of the whole matrix).
fn start(old: &Path, new: &Path) -> Child {
    Command::new(BIN)
        .arg(old)
        .arg(new)
        .args([
            "--threads",
            "1",
            "--low-rank-analysis",
            "--low-rank-max-elements",
            "0",
            "-o",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the process has mapped `file` (its reading has begun), then stops it.
fn stop_once_mapped(child: &Child, file: &Path) {
    let maps = format!("/proc/{}/maps", child.id());
    let name = file.display().to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&maps)
        .unwrap_or_default()
        .contains(&name)
    {
        assert!(Instant::now() < deadline, "{name} never mapped");
        std::thread::sleep(Duration::from_micros(200));
    }
    signal(child, "STOP");
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn finish(child: Child) -> (Output, String) {
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    (out, err)
}

#[test]
fn a_file_truncated_while_read_is_named_and_exits_2() {
    let (dir, old, new) = pair("truncated");
    let child = start(&old, &new);
    stop_once_mapped(&child, &new);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&new)
        .unwrap()
        .set_len(0)
        .unwrap();
    signal(&child, "CONT");
    let (out, err) = finish(child);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        err,
        format!(
            "diffai: error: {}: the file changed while being read (truncated or replaced by \
             another process); no complete report was written",
            new.display()
        )
    );
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn ctrl_c_stops_with_130_and_no_report() {
    let (dir, old, new) = pair("interrupted");
    let child = start(&old, &new);
    stop_once_mapped(&child, &new);
    signal(&child, "INT");
    signal(&child, "CONT");
    let (out, err) = finish(child);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert_eq!(err, "diffai: interrupted; no complete report was written");
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_full_disk_under_stdout_is_an_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let out = Command::new(BIN)
        .arg(root.join("simple_model_v1.safetensors"))
        .arg(root.join("simple_model_v2.safetensors"))
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "diffai: error: writing the output: No space left on device (os error 28)"
    );
}

#[test]
fn a_file_modified_while_read_gives_no_report() {
    let (dir, old, new) = pair("modified");
    let child = start(&old, &new);
    stop_once_mapped(&child, &new);
    // Same size, other bytes: no fault, but the values read are a mix of two files.
    let mut f = std::fs::OpenOptions::new().write(true).open(&new).unwrap();
    std::io::Seek::seek(&mut f, std::io::SeekFrom::End(-4)).unwrap();
    f.write_all(&7.0f32.to_le_bytes()).unwrap();
    drop(f);
    signal(&child, "CONT");
    let (out, err) = finish(child);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        err,
        format!(
            "diffai: error: {}: the file changed while being read (modified by another process); \
             no report was written",
            new.display()
        )
    );
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}
