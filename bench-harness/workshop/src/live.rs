//! The projector view's data: runs in progress, as their students' perflab streams them
//! (`POST /w/{code}/live`, a batch about once a second), and their verdicts once the report
//! arrives as a submission with the same run id.
//!
//! Kept in memory, not in the database: a run in progress is only worth showing while it
//! runs, and what lasts is the submitted report. The board holds the last [`MAX_RUNS`] runs;
//! every accepted batch is numbered and passed on unchanged to open projector pages
//! (server-sent events), which apply it to their copy exactly as [`Board::apply`] does here.
//! A page starts from a [`Snapshot`] and applies only the batches numbered after it, so a batch
//! is never applied twice nor missed between the snapshot and the stream.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::submission::{Headline, MAX_NAME, candidates};

/// Runs the board remembers (the oldest is forgotten first).
pub const MAX_RUNS: usize = 16;
/// Points one run may stream: at two a second, over two hours of rounds.
pub const MAX_POINTS: usize = 20_000;
/// Events in one batch (a batch is about a second of a run: two ticks and a round or two).
pub const MAX_EVENTS: usize = 400;
/// A live batch's largest body.
pub const MAX_BODY: usize = 64 * 1024;

const MAX_VARIANTS: usize = 16;
const MAX_LABEL: usize = 100;
/// A label's or a line's longest text (characters).
pub const MAX_LINE: usize = 300;

/// The body of `POST /w/{code}/live`, and what projector pages receive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivePost {
    /// The run's id: its submission's `client_id`, which later brings the verdict.
    pub run: String,
    pub student: String,
    pub lab: String,
    /// The lab's variants in their order (the first is the one the others are compared with).
    pub variants: Vec<String>,
    pub events: Vec<LiveEvent>,
}

/// What happened in a run. Times are seconds since the run's start on the student's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A round began: its variant, its label as the terminal shows it, whether it is measured
    /// (warm-up rounds are not), and its planned length.
    Round {
        at: f64,
        variant: String,
        label: String,
        measured: bool,
        seconds: f64,
    },
    /// Every half second of a round: the last half second's throughput, the round's p99 so
    /// far, and its errors so far.
    Tick {
        at: f64,
        rate: f64,
        p99_ms: f64,
        errors: u64,
    },
    /// A round's result, as the terminal prints it.
    RoundDone { line: String },
    /// The run stopped without a report reaching the workshop (Ctrl-C, an error, a refusal).
    Ended { reason: String },
    /// The run's report arrived: the server adds this; a student cannot send it.
    #[serde(skip_deserializing)]
    Verdict(Verdict),
}

/// A run's verdict, read from its submitted report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// `complete`, `invalid` or `incomplete`.
    pub status: String,
    pub invalid_reason: Option<String>,
    /// The variant the others are compared with.
    pub baseline: String,
    pub comparisons: Vec<Comparison>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub candidate: String,
    #[serde(flatten)]
    pub headline: Headline,
}

impl Verdict {
    /// Every comparison's headline in `report`, with the run's status.
    pub fn of(report: &serde_json::Value, status: &str, invalid_reason: Option<&str>) -> Verdict {
        Verdict {
            status: status.to_string(),
            invalid_reason: invalid_reason.map(str::to_string),
            baseline: report["variants"][0]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            comparisons: candidates(report)
                .into_iter()
                .map(|c| Comparison {
                    headline: Headline::of(report, Some(&c)),
                    candidate: c,
                })
                .collect(),
        }
    }
}

/// An accepted batch as the pages receive it, numbered in the order the board applied it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Update {
    pub seq: u64,
    #[serde(flatten)]
    pub post: LivePost,
}

/// The board as a page starts from it: every run, and the number of the last batch applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub seq: u64,
    pub runs: Vec<LiveRun>,
}

/// One round's trace: `[at, rate, p99_ms]` every half second.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundTrace {
    pub at: f64,
    pub variant: String,
    pub label: String,
    pub measured: bool,
    pub seconds: f64,
    pub points: Vec<[f64; 3]>,
}

/// A run as the projector shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveRun {
    pub run: String,
    pub student: String,
    pub lab: String,
    pub variants: Vec<String>,
    pub rounds: Vec<RoundTrace>,
    /// The finished rounds' lines, in order.
    pub log: Vec<String>,
    pub verdict: Option<Verdict>,
    pub ended: Option<String>,
    #[serde(skip)]
    points: usize,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LiveError {
    #[error("the run id is missing or longer than 100 characters")]
    RunId,
    #[error("the student's name or the lab's is empty or longer than {MAX_NAME} characters")]
    Name,
    #[error("a live batch names 1 to {MAX_VARIANTS} variants, each up to {MAX_NAME} characters")]
    Variants,
    #[error("a live batch holds at most {MAX_EVENTS} events")]
    TooManyEvents,
    #[error("a time, rate or latency is negative or not a number")]
    NotANumber,
    #[error("a round of variant {0:?}, which the run does not have")]
    UnknownVariant(String),
    #[error("a label or line is longer than {MAX_LINE} characters")]
    TooLong,
    #[error("a tick before any round began")]
    TickOutsideRound,
    #[error("run {0} was started by another student or for another lab")]
    NotYourRun(String),
    #[error("run {0} has streamed its {MAX_POINTS} points: the rest of it is not shown")]
    Full(String),
}

fn bounded(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.chars().count() <= max
}

fn number(x: f64) -> Result<f64, LiveError> {
    if x.is_finite() && x >= 0.0 {
        Ok(x)
    } else {
        Err(LiveError::NotANumber)
    }
}

impl LivePost {
    /// Checks everything but the run's history (see [`Board::apply`]).
    pub fn check(&self) -> Result<(), LiveError> {
        if !bounded(&self.run, 100) {
            return Err(LiveError::RunId);
        }
        if !bounded(&self.student, MAX_NAME) || !bounded(&self.lab, MAX_NAME) {
            return Err(LiveError::Name);
        }
        if self.variants.is_empty()
            || self.variants.len() > MAX_VARIANTS
            || !self.variants.iter().all(|v| bounded(v, MAX_NAME))
        {
            return Err(LiveError::Variants);
        }
        if self.events.len() > MAX_EVENTS {
            return Err(LiveError::TooManyEvents);
        }
        for e in &self.events {
            match e {
                LiveEvent::Round {
                    at,
                    variant,
                    label,
                    seconds,
                    ..
                } => {
                    number(*at)?;
                    number(*seconds)?;
                    if !self.variants.contains(variant) {
                        return Err(LiveError::UnknownVariant(variant.clone()));
                    }
                    if label.chars().count() > MAX_LABEL {
                        return Err(LiveError::TooLong);
                    }
                }
                LiveEvent::Tick {
                    at, rate, p99_ms, ..
                } => {
                    number(*at)?;
                    number(*rate)?;
                    number(*p99_ms)?;
                }
                LiveEvent::RoundDone { line: text } | LiveEvent::Ended { reason: text } => {
                    if text.chars().count() > MAX_LINE {
                        return Err(LiveError::TooLong);
                    }
                }
                LiveEvent::Verdict(_) => {}
            }
        }
        Ok(())
    }
}

impl LiveRun {
    fn new(post: &LivePost) -> LiveRun {
        LiveRun {
            run: post.run.clone(),
            student: post.student.trim().to_string(),
            lab: post.lab.trim().to_string(),
            variants: post.variants.clone(),
            rounds: Vec::new(),
            log: Vec::new(),
            verdict: None,
            ended: None,
            points: 0,
        }
    }

    fn apply(&mut self, events: &[LiveEvent]) -> Result<(), LiveError> {
        for e in events {
            match e {
                LiveEvent::Round {
                    at,
                    variant,
                    label,
                    measured,
                    seconds,
                } => self.rounds.push(RoundTrace {
                    at: *at,
                    variant: variant.clone(),
                    label: label.clone(),
                    measured: *measured,
                    seconds: *seconds,
                    points: Vec::new(),
                }),
                LiveEvent::Tick {
                    at, rate, p99_ms, ..
                } => {
                    if self.points >= MAX_POINTS {
                        return Err(LiveError::Full(self.run.clone()));
                    }
                    let round = self.rounds.last_mut().ok_or(LiveError::TickOutsideRound)?;
                    round.points.push([*at, *rate, *p99_ms]);
                    self.points += 1;
                }
                LiveEvent::RoundDone { line } => self.log.push(line.clone()),
                LiveEvent::Ended { reason } => self.ended = Some(reason.clone()),
                LiveEvent::Verdict(v) => self.verdict = Some(v.clone()),
            }
        }
        Ok(())
    }
}

/// The runs in progress (and recently finished), newest last.
#[derive(Debug, Default)]
pub struct Board {
    runs: VecDeque<LiveRun>,
    /// The last batch's number.
    seq: u64,
}

impl Board {
    /// Adds a checked batch to its run (a new run on its first batch). A batch is applied
    /// whole or not at all, so a page that applies what it is sent stays equal to the board.
    pub fn apply(&mut self, post: &LivePost) -> Result<Update, LiveError> {
        post.check()?;
        let index = self.runs.iter().position(|r| r.run == post.run);
        let mut updated = match index {
            Some(i) => {
                let r = &self.runs[i];
                if r.student != post.student.trim() || r.lab != post.lab.trim() {
                    return Err(LiveError::NotYourRun(post.run.clone()));
                }
                r.clone()
            }
            None => LiveRun::new(post),
        };
        updated.apply(&post.events)?;
        match index {
            Some(i) => self.runs[i] = updated,
            None => {
                if self.runs.len() == MAX_RUNS {
                    self.runs.pop_front();
                }
                self.runs.push_back(updated);
            }
        }
        Ok(self.numbered(post.clone()))
    }

    fn numbered(&mut self, post: LivePost) -> Update {
        self.seq += 1;
        Update {
            seq: self.seq,
            post,
        }
    }

    /// Gives run `run` its verdict; returns the batch that tells the pages, or `None` when no
    /// such run streamed here.
    pub fn finish(&mut self, run: &str, verdict: Verdict) -> Option<Update> {
        let r = self.runs.iter_mut().find(|r| r.run == run)?;
        let post = LivePost {
            run: r.run.clone(),
            student: r.student.clone(),
            lab: r.lab.clone(),
            variants: r.variants.clone(),
            events: vec![LiveEvent::Verdict(verdict)],
        };
        r.apply(&post.events).ok()?;
        Some(self.numbered(post))
    }

    /// Every run on the board, newest last.
    pub fn runs(&self) -> Vec<LiveRun> {
        self.runs.iter().cloned().collect()
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            seq: self.seq,
            runs: self.runs(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(run: &str, events: Vec<LiveEvent>) -> LivePost {
        LivePost {
            run: run.into(),
            student: "Ada".into(),
            lab: "n-plus-one".into(),
            variants: vec!["naive".into(), "join".into()],
            events,
        }
    }

    fn round(variant: &str) -> LiveEvent {
        LiveEvent::Round {
            at: 0.0,
            variant: variant.into(),
            label: format!("{variant} 1/4"),
            measured: true,
            seconds: 2.0,
        }
    }

    fn tick(at: f64) -> LiveEvent {
        LiveEvent::Tick {
            at,
            rate: 100.0,
            p99_ms: 3.0,
            errors: 0,
        }
    }

    #[test]
    fn batches_build_a_run_round_by_round() {
        let mut board = Board::default();
        board
            .apply(&post("r1", vec![round("naive"), tick(0.5), tick(1.0)]))
            .unwrap();
        board
            .apply(&post(
                "r1",
                vec![
                    LiveEvent::RoundDone {
                        line: "naive 1/4: 100 req/s".into(),
                    },
                    round("join"),
                    tick(2.5),
                ],
            ))
            .unwrap();
        let runs = board.runs();
        assert_eq!(board.snapshot().seq, 2);
        assert_eq!(runs.len(), 1);
        let r = &runs[0];
        assert_eq!(r.rounds.len(), 2);
        assert_eq!(r.rounds[0].points.len(), 2);
        assert_eq!(r.rounds[1].variant, "join");
        assert_eq!(r.rounds[1].points, vec![[2.5, 100.0, 3.0]]);
        assert_eq!(r.log, vec!["naive 1/4: 100 req/s".to_string()]);
    }

    #[test]
    fn a_bad_batch_changes_nothing() {
        let mut board = Board::default();
        board.apply(&post("r1", vec![round("naive")])).unwrap();
        let before = board.runs();
        // The first event is fine, the second is not: neither is applied.
        let bad = post("r1", vec![tick(1.0), round("sharded")]);
        assert_eq!(
            board.apply(&bad),
            Err(LiveError::UnknownVariant("sharded".into()))
        );
        assert_eq!(board.runs(), before);
        let nan = post("r1", vec![tick(f64::NAN)]);
        assert_eq!(board.apply(&nan), Err(LiveError::NotANumber));
        let early = post("r2", vec![tick(1.0)]);
        assert_eq!(board.apply(&early), Err(LiveError::TickOutsideRound));
        let other = LivePost {
            student: "Eve".into(),
            ..post("r1", vec![])
        };
        assert_eq!(board.apply(&other), Err(LiveError::NotYourRun("r1".into())));
        assert_eq!(board.runs(), before);
    }

    #[test]
    fn a_student_cannot_send_a_verdict() {
        let json = serde_json::json!({
            "run": "r1", "student": "Ada", "lab": "x", "variants": ["a"],
            "events": [{"kind": "verdict", "status": "complete"}]
        });
        assert!(serde_json::from_value::<LivePost>(json).is_err());
    }

    #[test]
    fn the_board_forgets_the_oldest_run_first() {
        let mut board = Board::default();
        for i in 0..MAX_RUNS + 3 {
            board
                .apply(&post(&format!("r{i}"), vec![round("naive")]))
                .unwrap();
        }
        let runs = board.runs();
        assert_eq!(runs.len(), MAX_RUNS);
        assert_eq!(runs[0].run, "r3");
        assert!(
            board
                .finish(
                    "r0",
                    Verdict::of(&serde_json::Value::Null, "complete", None)
                )
                .is_none()
        );
    }
}
