//! Per-second histograms, for HdrHistogram interval logs (`--hlog`).
//!
//! Recording stays as it is (one cumulative histogram per series, sharded per thread); once a
//! second the engine's clock task takes a snapshot and keeps the difference from the previous
//! one, as HdrHistogram's own `IntervalRecorder` does. Every value lands in exactly one
//! interval: a value recorded while a snapshot is being merged shows up in the next one.
//!
//! An interval is kept encoded (HdrHistogram's V2 format, deflated: usually well under a KiB)
//! rather than as a `Histogram`, whose counts array takes ~150 KB at 3 significant digits: an
//! hour-long round logs 3,600 intervals per series.

use std::io::Cursor;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

use crate::hist::{Hist, new_hist};

/// One series of a round, as it appears in an interval log (each gets its own tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Series {
    /// From the intended send time (open models) or the actual send (closed models).
    Latency,
    /// From the actual send to the last byte (open models only; equal to latency otherwise).
    Service,
    /// How late sends started after their intended time (open models only).
    Lag,
}

impl Series {
    pub const ALL: [Series; 3] = [Series::Latency, Series::Service, Series::Lag];

    /// The suffix of its tag: latency is the variant's name alone, so a plotter shows one line
    /// per variant by default.
    pub fn tag_suffix(self) -> &'static str {
        match self {
            Series::Latency => "",
            Series::Service => ".service",
            Series::Lag => ".lag",
        }
    }
}

/// One interval of one round: when it started, how long it lasted, its histograms.
#[derive(Debug, Clone)]
pub struct Interval {
    pub start: Instant,
    pub length: Duration,
    /// Encoded histograms (nanoseconds), one per series the round records.
    pub series: Vec<(Series, Vec<u8>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum IntervalError {
    #[error("an interval histogram could not be decoded: {0:?}")]
    Decode(hdrhistogram::serialization::DeserializeError),
}

/// Encodes a histogram as HdrHistogram's V2 format, deflated (what interval logs carry).
pub fn encode(h: &Hist) -> Vec<u8> {
    let mut out = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut out)
        .expect("writing to a Vec cannot fail, and u64 counts always encode");
    out
}

/// Decodes what [`encode`] (or any HdrHistogram V2 writer) produced.
pub fn decode(bytes: &[u8]) -> Result<Hist, IntervalError> {
    Deserializer::new()
        .deserialize(&mut Cursor::new(bytes))
        .map_err(IntervalError::Decode)
}

struct State {
    last_at: Instant,
    last: Vec<Hist>,
    taken: Vec<Interval>,
}

/// Takes interval snapshots of cumulative histograms.
pub struct IntervalRecorder {
    series: Vec<Series>,
    state: Mutex<State>,
}

impl IntervalRecorder {
    /// Intervals start at `from` (the end of the round's settle period).
    pub fn new(from: Instant, series: Vec<Series>) -> Self {
        let last = series.iter().map(|_| new_hist()).collect();
        IntervalRecorder {
            series,
            state: Mutex::new(State {
                last_at: from,
                last,
                taken: Vec::new(),
            }),
        }
    }

    pub fn series(&self) -> &[Series] {
        &self.series
    }

    /// Ends the current interval at `now`, given each series' cumulative histogram (in the
    /// order of [`Self::series`]). Nothing is taken before the interval has begun.
    pub fn take(&self, now: Instant, cumulative: Vec<Hist>) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if now <= s.last_at {
            return;
        }
        let series = self
            .series
            .iter()
            .zip(cumulative.iter().zip(&s.last))
            .map(|(&name, (now_h, before))| {
                let mut diff = now_h.clone();
                // Cumulative histograms only grow, so `before` fits inside `now_h`.
                let _ = diff.subtract(before);
                (name, encode(&diff))
            })
            .collect();
        let start = s.last_at;
        s.taken.push(Interval {
            start,
            length: now - start,
            series,
        });
        s.last = cumulative;
        s.last_at = now;
    }

    pub fn into_intervals(self) -> Vec<Interval> {
        self.state
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_add_up_to_the_whole_and_round_trip_through_the_encoding() {
        let t0 = Instant::now();
        let rec = IntervalRecorder::new(t0, vec![Series::Latency]);
        let mut cumulative = new_hist();
        let mut expected = Vec::new();
        for second in 1..=3u64 {
            let mut this = new_hist();
            for v in 0..(1000 * second) {
                let value = 1000 + v * 37 * second;
                cumulative.record(value).unwrap();
                this.record(value).unwrap();
            }
            expected.push(this);
            rec.take(t0 + Duration::from_secs(second), vec![cumulative.clone()]);
        }
        // A snapshot at the same instant adds nothing.
        rec.take(t0 + Duration::from_secs(3), vec![cumulative.clone()]);
        let taken = rec.into_intervals();
        assert_eq!(taken.len(), 3);
        let mut total = new_hist();
        for (interval, want) in taken.iter().zip(&expected) {
            assert_eq!(interval.length, Duration::from_secs(1));
            let got = decode(&interval.series[0].1).unwrap();
            assert_eq!(got.len(), want.len());
            assert_eq!(got.max(), want.max());
            assert_eq!(got.value_at_quantile(0.99), want.value_at_quantile(0.99));
            total.add(&got).unwrap();
        }
        assert_eq!(total, cumulative);
    }
}
