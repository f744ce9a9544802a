//! A progress bar on stderr for long runs: shown only on a terminal, and only once a run has
//! taken longer than [`SHOW_AFTER`].

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diffai_core::stats::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// Runs shorter than this never show a bar (the contract says "more than about a second").
const SHOW_AFTER: Duration = Duration::from_secs(1);
/// How often the bar is redrawn.
const TICK: Duration = Duration::from_millis(100);

pub struct Display {
    counter: Arc<Progress>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Display {
    pub fn start(enabled: bool) -> Display {
        let counter = Arc::new(Progress::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = (enabled && std::io::stderr().is_terminal()).then(|| {
            let (counter, stop) = (Arc::clone(&counter), Arc::clone(&stop));
            std::thread::spawn(move || draw(&counter, &stop))
        });
        Display {
            counter,
            stop,
            thread,
        }
    }

    pub fn counter(&self) -> &Progress {
        &self.counter
    }

    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn draw(counter: &Progress, stop: &AtomicBool) {
    let started = Instant::now();
    let mut bar: Option<ProgressBar> = None;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(TICK);
        if started.elapsed() < SHOW_AFTER {
            continue;
        }
        let bar = bar.get_or_insert_with(|| {
            let b = ProgressBar::new(0);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            ) {
                b.set_style(style);
            }
            b
        });
        bar.set_length(counter.total.load(Ordering::Relaxed));
        bar.set_position(counter.done.load(Ordering::Relaxed));
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}
