//! Live progress: a bar on a terminal (variant, round, rate, p99), plain lines otherwise (CI
//! logs), nothing with `--quiet`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use perflab_load::engine::Live;

pub enum Progress {
    Bar(ProgressBar),
    Lines,
    Quiet,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal() {
            Progress::Bar(ProgressBar::hidden())
        } else {
            Progress::Lines
        }
    }

    pub fn round_started(&self, label: &str, length: Duration) {
        match self {
            Progress::Bar(bar) => {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>28.bold} [{bar:30.cyan/blue}] {elapsed:>4}/{duration:4} {msg}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_length(length.as_millis() as u64);
                bar.set_position(0);
                bar.reset_elapsed();
                bar.set_prefix(label.to_string());
                bar.set_message("");
            }
            Progress::Lines => eprintln!(
                "perflab: {label} ({})",
                perflab_report::words::seconds(length.as_secs_f64())
            ),
            Progress::Quiet => {}
        }
    }

    pub fn tick(&self, live: &Live) {
        if let Progress::Bar(bar) = self {
            bar.set_position(live.elapsed.as_millis().min(live.total.as_millis()) as u64);
            bar.set_message(format!(
                "{:>8.0} req/s  p99 {:>7.2} ms  {} errors",
                live.rate, live.p99_ms, live.errors
            ));
        }
    }

    pub fn round_finished(&self, line: &str) {
        match self {
            Progress::Bar(bar) => bar.println(line),
            Progress::Lines => eprintln!("perflab:   {line}"),
            Progress::Quiet => {}
        }
    }

    pub fn message(&self, line: &str) {
        match self {
            Progress::Bar(bar) => bar.println(line),
            Progress::Lines => eprintln!("perflab: {line}"),
            Progress::Quiet => {}
        }
    }

    pub fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
