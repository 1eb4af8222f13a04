//! Progress bars on standard error for long commands.

use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Mutex;

/// One bar, re-labelled per phase.
pub struct Bar {
    bar: Mutex<Option<ProgressBar>>,
}

impl Bar {
    pub fn new() -> Self {
        Self {
            bar: Mutex::new(None),
        }
    }

    /// Starts a phase: a bar if `total` is known, a spinner otherwise.
    pub fn phase(&self, name: &str, total: Option<u64>) {
        let Ok(mut slot) = self.bar.lock() else {
            return;
        };
        if let Some(old) = slot.take() {
            old.finish();
        }
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{msg:28} [{elapsed_precise}] {wide_bar} {human_pos}/~{human_len} ({per_sec})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{msg:28} [{elapsed_precise}] {spinner}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_message(name.to_owned());
        if total.is_none() {
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
        }
        *slot = Some(bar);
    }

    /// Units done.
    pub fn advance(&self, n: u64) {
        if let Ok(slot) = self.bar.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.inc(n);
            }
        }
    }

    /// Sets the length of the current phase (an estimate that may change).
    pub fn set_total(&self, total: u64) {
        if let Ok(slot) = self.bar.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.set_length(total);
            }
        }
    }

    /// Prints a line on standard error above the bar.
    pub fn println(&self, text: &str) {
        match self.bar.lock() {
            Ok(slot) => match slot.as_ref() {
                Some(bar) => bar.suspend(|| eprintln!("{text}")),
                None => eprintln!("{text}"),
            },
            Err(_) => eprintln!("{text}"),
        }
    }

    /// A progress event of the benchmark suite.
    pub fn progress(&self, event: mingma_bench::Progress) {
        match event {
            mingma_bench::Progress::Phase(name, total) => self.phase(name, total),
            mingma_bench::Progress::Advance(n) => self.advance(n),
        }
    }

    pub fn finish(&self) {
        if let Ok(mut slot) = self.bar.lock() {
            if let Some(bar) = slot.take() {
                bar.finish();
            }
        }
    }
}
