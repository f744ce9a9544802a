//! The files diffai has memory-mapped. A file truncated by another process while mapped makes
//! the next read of a vanished page raise SIGBUS; the binary's handler looks the faulting address
//! up here ([`file_at`], atomic loads only, so safe inside a signal handler) to name the file.
//! A file modified in place reads as a mix of old and new bytes: [`changed`] compares each
//! mapped file's size and modification time with what they were when it was mapped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

/// Each mapped file's size and modification time when it was mapped.
static SEEN: Mutex<Vec<(PathBuf, u64, Option<SystemTime>)>> = Mutex::new(Vec::new());

/// Remembers `meta` (size, modification time) of `path` as mapped.
pub fn remember(path: &Path, meta: &std::fs::Metadata) {
    let entry = (path.to_path_buf(), meta.len(), meta.modified().ok());
    SEEN.lock().expect("mapped files").push(entry);
}

/// The first mapped file whose size or modification time differ from when it was mapped (or
/// that is gone): its contents may have changed under diffai.
pub fn changed() -> Option<PathBuf> {
    SEEN.lock()
        .expect("mapped files")
        .iter()
        .find(|(path, len, modified)| match std::fs::metadata(path) {
            Ok(m) => m.len() != *len || m.modified().ok() != *modified,
            Err(_) => true,
        })
        .map(|(path, _, _)| path.clone())
}

/// Mappings remembered (a sharded model maps one per shard, `-r` one per file); a fault in a
/// later one is reported without the file's name.
const SLOTS: usize = 4096;

struct Slot {
    start: AtomicUsize,
    len: AtomicUsize,
    path: AtomicPtr<u8>,
    path_len: AtomicUsize,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            path: AtomicPtr::new(std::ptr::null_mut()),
            path_len: AtomicUsize::new(0),
        }
    }
}

static TABLE: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];
static USED: AtomicUsize = AtomicUsize::new(0);

/// Remembers that `len` bytes from `start` are the mapping of `path`.
pub fn register(start: *const u8, len: usize, path: &Path) {
    let i = USED.fetch_add(1, Ordering::AcqRel);
    let Some(slot) = TABLE.get(i) else { return };
    // Kept for the life of the process: the handler may need it at any time.
    let name: &'static mut [u8] =
        Box::leak(path.display().to_string().into_bytes().into_boxed_slice());
    slot.path_len.store(name.len(), Ordering::Release);
    slot.path.store(name.as_mut_ptr(), Ordering::Release);
    slot.len.store(len, Ordering::Release);
    slot.start.store(start as usize, Ordering::Release);
}

/// The path of the mapped file holding `addr`, the latest mapping first (an address range can
/// be reused after a file is unmapped). Atomic loads only: callable from a signal handler.
pub fn file_at(addr: usize) -> Option<&'static [u8]> {
    let used = USED.load(Ordering::Acquire).min(SLOTS);
    TABLE[..used].iter().rev().find_map(|slot| {
        let start = slot.start.load(Ordering::Acquire);
        let len = slot.len.load(Ordering::Acquire);
        if start == 0 || addr < start || addr - start >= len {
            return None;
        }
        let ptr = slot.path.load(Ordering::Acquire);
        let n = slot.path_len.load(Ordering::Acquire);
        // SAFETY: `ptr` and `n` describe a leaked, never freed, never modified byte slice,
        // stored before `start` (Release) and read after it (Acquire).
        (!ptr.is_null()).then(|| unsafe { std::slice::from_raw_parts(ptr, n) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_map_back_to_their_file() {
        let a = [0u8; 64];
        let b = [0u8; 16];
        register(a.as_ptr(), a.len(), Path::new("a.safetensors"));
        register(b.as_ptr(), b.len(), Path::new("b.pt"));
        assert_eq!(
            file_at(a.as_ptr() as usize + 63),
            Some(&b"a.safetensors"[..])
        );
        assert_eq!(file_at(b.as_ptr() as usize), Some(&b"b.pt"[..]));
        assert_eq!(
            file_at(b.as_ptr() as usize + 16).filter(|f| *f == b"b.pt"),
            None
        );
    }
}
