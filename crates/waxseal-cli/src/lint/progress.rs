//! The progress bar of a long word-list search: on standard error, only when it is a terminal and the list is
//! large; never when piped, so scripts and tests see clean output.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Word lists smaller than this finish before a bar would be worth drawing.
const MIN_BYTES: u64 = 1024 * 1024;

/// A byte-based bar (the file size is known, the line count is not) with candidates/s and the ETA.
pub struct Progress {
    bar: Option<ProgressBar>,
    start: Instant,
}

impl Progress {
    /// A bar for a word list of `len` bytes, or none when standard error is not a terminal or the list is small.
    pub fn for_wordlist(len: u64) -> Progress {
        let bar = (len > MIN_BYTES && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} wordlist [{bar:30}] {percent:>3}% · {msg} · ETA {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            start: Instant::now(),
        }
    }

    /// After a batch: `bytes` of the list consumed, `candidates` tested so far.
    pub fn update(&self, bytes: u64, candidates: u64) {
        if let Some(bar) = &self.bar {
            let secs = self.start.elapsed().as_secs_f64().max(1e-3);
            bar.set_position(bytes);
            bar.set_message(format!(
                "{} candidates, {}/s",
                super::report::thousands(candidates),
                super::report::thousands((candidates as f64 / secs) as u64)
            ));
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
