//! Live progress: a bar on a terminal (variant, round, rate, p99), plain lines otherwise (CI
//! logs), nothing with `--quiet`; and, for a workshop run, the same events to the projector
//! view's feed.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use perflab_load::engine::Live;
use perflab_workshop::live::LiveEvent;

use crate::workshop::LiveFeed;

enum View {
    Bar(ProgressBar),
    Lines,
    Quiet,
}

pub struct Progress {
    view: View,
    feed: Option<LiveFeed>,
}

/// What a round is, for the progress shown.
pub struct RoundStart<'a> {
    pub variant: &'a str,
    pub label: &'a str,
    /// Warm-up rounds are not measured.
    pub measured: bool,
    pub length: Duration,
}

/// How a measured round ended, for the progress shown.
pub struct RoundEnd<'a> {
    /// As the terminal prints it.
    pub line: &'a str,
    /// Over the whole round.
    pub rate: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

/// A round's first instants say nothing yet (a rate over a few milliseconds): the projector
/// gets ticks from this far into a round, and each round's final figures.
const FEED_FROM: Duration = Duration::from_millis(200);

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let view = if quiet {
            View::Quiet
        } else if std::io::stderr().is_terminal() {
            View::Bar(ProgressBar::hidden())
        } else {
            View::Lines
        };
        Progress { view, feed: None }
    }

    /// Also sends the rounds' progress to a workshop's projector view.
    pub fn with_feed(self, feed: Option<LiveFeed>) -> Progress {
        Progress { feed, ..self }
    }

    pub fn round_started(&self, round: RoundStart<'_>) {
        let RoundStart {
            variant,
            label,
            measured,
            length,
        } = round;
        if let Some(feed) = &self.feed {
            feed.send(LiveEvent::Round {
                at: feed.now(),
                variant: variant.to_string(),
                label: label.to_string(),
                measured,
                seconds: length.as_secs_f64(),
            });
        }
        match &self.view {
            View::Bar(bar) => {
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
            View::Lines => eprintln!(
                "perflab: {label} ({})",
                perflab_report::words::seconds(length.as_secs_f64())
            ),
            View::Quiet => {}
        }
    }

    pub fn tick(&self, live: &Live) {
        if let Some(feed) = self.feed.as_ref().filter(|_| live.elapsed >= FEED_FROM) {
            feed.send(LiveEvent::Tick {
                at: feed.now(),
                rate: live.rate,
                p99_ms: live.p99_ms,
                errors: live.errors,
            });
        }
        if let View::Bar(bar) = &self.view {
            bar.set_position(live.elapsed.as_millis().min(live.total.as_millis()) as u64);
            bar.set_message(format!(
                "{:>8.0} req/s  p99 {:>7.2} ms  {} errors",
                live.rate, live.p99_ms, live.errors
            ));
        }
    }

    pub fn round_finished(&self, end: RoundEnd<'_>) {
        let line = end.line;
        if let Some(feed) = &self.feed {
            // The round's own figures end its line on the projector (a short round may have
            // had no tick at all).
            feed.send(LiveEvent::Tick {
                at: feed.now(),
                rate: end.rate,
                p99_ms: end.p99_ms,
                errors: end.errors,
            });
            feed.send(LiveEvent::RoundDone {
                line: line.to_string(),
            });
        }
        match &self.view {
            View::Bar(bar) => bar.println(line),
            View::Lines => eprintln!("perflab:   {line}"),
            View::Quiet => {}
        }
    }

    pub fn message(&self, line: &str) {
        match &self.view {
            View::Bar(bar) => bar.println(line),
            View::Lines => eprintln!("perflab: {line}"),
            View::Quiet => {}
        }
    }

    pub fn finish(&self) {
        if let View::Bar(bar) = &self.view {
            bar.finish_and_clear();
        }
    }
}
