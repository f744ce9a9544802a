//! One clear line instead of a bare signal death:
//!
//! - SIGBUS: an input file was truncated or replaced by another process while diffai had it
//!   mapped; the handler names the file (from `diffai_core::mapped`) and exits with status 2.
//! - SIGINT (Ctrl-C) and SIGTERM: `diffai: interrupted; no complete report was written` and the shell's usual status 128 + signal.
//!
//! Either way nothing more is written to stdout: a report is only printed once it is complete,
//! so an interrupted run leaves no report, or (interrupted while printing) one cut short under a
//! non-zero exit status. Handlers use only async-signal-safe calls (`write`, `_exit`).

/// Status for a file that changed while being read: an error, like any unreadable input.
const EXIT_CHANGED: i32 = 2;

#[cfg(unix)]
pub fn install() {
    // SAFETY: plain sigaction calls installing handlers that only call async-signal-safe
    // functions.
    unsafe {
        let mut bus: libc::sigaction = std::mem::zeroed();
        bus.sa_sigaction = on_bus as *const () as usize;
        bus.sa_flags = libc::SA_SIGINFO;
        libc::sigaction(libc::SIGBUS, &bus, std::ptr::null_mut());
        let mut stop: libc::sigaction = std::mem::zeroed();
        stop.sa_sigaction = on_stop as *const () as usize;
        libc::sigaction(libc::SIGINT, &stop, std::ptr::null_mut());
        libc::sigaction(libc::SIGTERM, &stop, std::ptr::null_mut());
    }
}

#[cfg(not(unix))]
pub fn install() {}

#[cfg(unix)]
fn write_err(bytes: &[u8]) {
    // SAFETY: write(2) on stderr with a valid buffer; the result is irrelevant while exiting.
    unsafe {
        libc::write(2, bytes.as_ptr().cast(), bytes.len());
    }
}

#[cfg(unix)]
extern "C" fn on_bus(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    write_err(b"\ndiffai: error: ");
    match diffai_core::mapped::file_at(addr) {
        Some(path) => {
            write_err(path);
            write_err(b": ");
        }
        None => write_err(b"an input file: "),
    }
    write_err(b"the file changed while being read (truncated or replaced by another process); no complete report was written\n");
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(EXIT_CHANGED) }
}

#[cfg(unix)]
extern "C" fn on_stop(signal: libc::c_int) {
    write_err(b"\ndiffai: interrupted; no complete report was written\n");
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(128 + signal) }
}
