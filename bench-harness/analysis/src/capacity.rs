//! Capacity search (`--slo 'p99<50ms'`): the highest arrival rate at which a latency objective
//! holds, found by measuring, not by guessing — each probed rate is a whole interleaved run
//! with its own rounds, and the answer is an interval.
//!
//! The search doubles the rate from a start while every variant meets the objective, halves it
//! while one misses at the lowest rate, then bisects (geometrically) the bracket of whichever
//! variant's crossing is least known, until every bracket is within the resolution or the
//! budget of probes is spent. All of it is decided by the point *estimates* (the geometric
//! mean of the rounds' p99): that is where the crossing most likely is.
//!
//! The reported interval is decided by the *intervals*: its low end is the highest rate whose
//! whole interval lies below the limit ("meets"), its high end the lowest rate whose whole
//! interval lies above it, or that the target could not keep at all ("misses": sends that never
//! went out, errors; sends that went out late are judged by the latency, which an open model
//! counts from the intended send time). If the true
//! metric rises with the rate, the true crossing lies between them whenever every probe's
//! interval covers its truth. Each level is computed at `1 − (1 − c) / (probes × variants)`, so
//! by Bonferroni all of them cover together with probability ≥ c, however the search chose its
//! rates (each probe's rounds are fresh data). Probes whose interval straddles the limit are
//! "unsure": they steer the search and widen the interval, and never decide it. Its coverage
//! is tested below on a seeded simulated server with a known crossing.

use serde::Serialize;

use crate::metric::Unit;
use crate::sweep::{Level, level};
use crate::thresholds::{Threshold, ThresholdError};
use crate::validity::InvalidReason;
use crate::{Analysis, Metric};

/// A latency objective: `metric < limit` for every variant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Slo {
    pub metric: Metric,
    /// Milliseconds.
    pub limit_ms: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SloError {
    #[error("--slo: {0}")]
    Syntax(#[from] ThresholdError),
    #[error(
        "--slo {text:?}: an objective is an upper limit on a latency for every variant, e.g. p99<50ms or p999<200ms (not a throughput, an error rate, a ratio or one variant's)"
    )]
    NotALatencyLimit { text: String },
}

impl std::str::FromStr for Slo {
    type Err = SloError;

    fn from_str(text: &str) -> Result<Slo, SloError> {
        let t: Threshold = text.parse()?;
        match (t.upper_limit(), t.metric().unit()) {
            (Some(limit_ms), Unit::Milliseconds) if limit_ms > 0.0 => Ok(Slo {
                metric: t.metric(),
                limit_ms,
            }),
            _ => Err(SloError::NotALatencyLimit {
                text: text.to_string(),
            }),
        }
    }
}

impl std::fmt::Display for Slo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} < {}ms", self.metric, self.limit_ms)
    }
}

/// Where one variant stands against the objective at one probed rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    /// The whole interval lies below the limit.
    Meets,
    /// The whole interval lies above it, or the target could not keep the rate.
    Misses,
    /// The interval contains the limit.
    Unsure,
    /// Nothing about the target: the load generator was the bottleneck, or the service was
    /// not ready. The search stays below this rate for this variant.
    Unmeasured,
}

/// One variant at one probed rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Probe {
    /// Requests per second.
    pub rate: f64,
    pub variant: String,
    pub standing: Standing,
    /// The metric's level at this rate (ms).
    pub level: Option<Level>,
    /// Why it misses without a level deciding it, or why it was not measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

impl Probe {
    /// On which side of the limit the estimate lies (`None`: no estimate to steer by).
    fn above_by_estimate(&self, limit: f64) -> Option<bool> {
        match self.standing {
            Standing::Unmeasured => None,
            Standing::Misses => Some(true),
            Standing::Meets => Some(false),
            Standing::Unsure => self.level.map(|l| l.estimate >= limit),
        }
    }
}

/// How the search runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SearchSettings {
    /// The first rate tried (req/s).
    pub start_rate: f64,
    /// The budget of probes; also the Bonferroni factor of every level.
    pub max_probes: usize,
    /// A bracket narrower than this (relative: 0.1 is 10 %) is found.
    pub resolution: f64,
    pub min_rate: f64,
    pub max_rate: f64,
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings {
            start_rate: 50.0,
            max_probes: 10,
            resolution: 0.1,
            min_rate: 1.0,
            max_rate: 1e6,
        }
    }
}

/// What the search concluded for one variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The crossing lies between two probed rates.
    Found,
    /// The objective held at every rate the search could measure.
    AboveEveryRate,
    /// The objective failed already at the lowest rate tried.
    BelowEveryRate,
    /// No probe could be measured.
    Unresolved,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Capacity {
    pub variant: String,
    pub outcome: Outcome,
    /// The rate where the estimated metric crosses the limit (log–log interpolation between
    /// the two probes around it), req/s.
    pub estimate: Option<f64>,
    /// The highest rate that confidently meets the objective (`None`: none did).
    pub low: Option<f64>,
    /// The lowest rate that confidently misses it (`None`: none did).
    pub high: Option<f64>,
    /// One line for the reader.
    pub meaning: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityAnalysis {
    pub slo: Slo,
    /// The confidence of all the intervals together.
    pub confidence: f64,
    /// The confidence of each probe's level.
    pub level_confidence: f64,
    pub settings: SearchSettings,
    /// In the order measured.
    pub probes: Vec<Probe>,
    pub capacities: Vec<Capacity>,
}

/// One variant at one probe, as measured.
#[derive(Debug, Clone)]
pub struct Reading {
    pub variant: String,
    /// The objective's metric (ms) over the probe's rounds.
    pub level: Option<Level>,
    /// The validity guard's reasons that concern this variant.
    pub reasons: Vec<InvalidReason>,
    /// The share of scheduled sends that never went out.
    pub unsent_share: f64,
}

/// The search's state: what has been probed. Pure: the caller measures each rate
/// [`CapacitySearch::next_rate`] names and hands the result back with
/// [`CapacitySearch::record_analysis`].
pub struct CapacitySearch {
    slo: Slo,
    settings: SearchSettings,
    confidence: f64,
    variants: Vec<String>,
    rates: Vec<f64>,
    probes: Vec<Probe>,
}

/// Where a variant's crossing is known to lie, by estimates (`l`, `h`) and by intervals
/// (`low`, `high`), and the rate above which it could not be measured.
#[derive(Debug, Default)]
struct Bracket {
    l: Option<f64>,
    h: Option<f64>,
    low: Option<f64>,
    high: Option<f64>,
    ceiling: Option<f64>,
}

/// Rates are probed at three significant digits: a bracket is never finer than 1 %, and a
/// report's folder names stay readable (`rate-141`).
pub fn round_rate(r: f64) -> f64 {
    if !(r.is_finite() && r > 0.0) {
        return r;
    }
    let step = 10f64.powi(r.log10().floor() as i32 - 2);
    (r / step).round() * step
}

impl CapacitySearch {
    pub fn new(
        slo: Slo,
        settings: SearchSettings,
        confidence: f64,
        variants: Vec<String>,
    ) -> CapacitySearch {
        CapacitySearch {
            slo,
            settings,
            confidence,
            variants,
            rates: Vec::new(),
            probes: Vec::new(),
        }
    }

    /// Each probe's level confidence: every level of every variant at every probe the budget
    /// allows holds together at `confidence`.
    pub fn level_confidence(&self) -> f64 {
        let family = (self.settings.max_probes * self.variants.len().max(1)) as f64;
        1.0 - (1.0 - self.confidence) / family
    }

    pub fn rates(&self) -> &[f64] {
        &self.rates
    }

    /// What the probe at `rate` found, one entry per variant it measured.
    pub fn probes_at(&self, rate: f64) -> impl Iterator<Item = &Probe> {
        self.probes.iter().filter(move |p| p.rate == rate)
    }

    /// The variants a probe at `rate` can tell something about: not those that already
    /// missed the objective at this rate or below (under a rising metric they miss it here
    /// too, and an overloaded variant's backlog would spill into its neighbours' rounds), nor
    /// those the generator could not drive at or below it.
    pub fn variants_at(&self, rate: f64) -> Vec<String> {
        self.variants
            .iter()
            .filter(|v| {
                let b = self.bracket(v);
                b.h.is_none_or(|h| rate < h) && b.ceiling.is_none_or(|c| rate < c)
            })
            .cloned()
            .collect()
    }

    /// Every variant the probe at `rate` measured, from that run's analysis.
    pub fn record_analysis(&mut self, rate: f64, analysis: &Analysis) {
        let confidence = self.level_confidence();
        let readings: Vec<Reading> = analysis
            .variants
            .iter()
            .filter(|m| self.variants.contains(&m.name))
            .map(|m| {
                let reasons = analysis
                    .invalid
                    .iter()
                    .filter(|r| reason_variant(r).is_none_or(|name| name == m.name))
                    .cloned()
                    .collect();
                let s = &m.summary;
                let scheduled = (s.requests + s.unsent).max(1) as f64;
                Reading {
                    variant: m.name.clone(),
                    level: level(&analysis.per_round(&m.name, self.slo.metric), confidence),
                    reasons,
                    unsent_share: s.unsent as f64 / scheduled,
                }
            })
            .collect();
        self.record(rate, readings);
    }

    /// Every variant at one probed rate.
    pub fn record(&mut self, rate: f64, readings: Vec<Reading>) {
        self.rates.push(rate);
        for r in readings {
            let (standing, why) = self.standing(&r);
            self.probes.push(Probe {
                rate,
                variant: r.variant,
                standing,
                level: r.level,
                why,
            });
        }
    }

    fn standing(&self, r: &Reading) -> (Standing, Option<String>) {
        // The generator or the service's readiness, not the target's speed: nothing learnt.
        if let Some(reason) = r.reasons.iter().find(|x| !target_could_not_keep_up(x)) {
            return (Standing::Unmeasured, Some(reason.to_string()));
        }
        let mut note = None;
        for reason in &r.reasons {
            match reason {
                // Sends that never went out (every VU busy) are answers nobody measured: the
                // target did not keep the rate, whatever the latency of the rest.
                InvalidReason::ScheduleMissed { limit, .. } if r.unsent_share > *limit => {
                    return (
                        Standing::Misses,
                        Some(format!(
                            "{:.1} % of the scheduled sends never went out: the target could not keep the rate",
                            r.unsent_share * 100.0
                        )),
                    );
                }
                // Sends that went out late still count: an open model's latency runs from the
                // intended send time, so the lateness is inside the level judged below (and
                // makes it pessimistic, never optimistic).
                InvalidReason::ScheduleMissed { .. } => {
                    note = Some(format!(
                        "{reason}; latency counts from the intended send times, so the level includes the lateness"
                    ));
                }
                other => return (Standing::Misses, Some(other.to_string())),
            }
        }
        let limit = self.slo.limit_ms;
        let standing = match r.level {
            None if note.is_some() => Standing::Misses,
            None => {
                return (
                    Standing::Unmeasured,
                    Some("no round had a latency to judge".into()),
                );
            }
            Some(Level {
                interval: Some(iv), ..
            }) if iv.high < limit => Standing::Meets,
            Some(Level {
                interval: Some(iv), ..
            }) if iv.low > limit => Standing::Misses,
            Some(_) => Standing::Unsure,
        };
        (standing, note)
    }

    fn probes_of<'a>(&'a self, variant: &'a str) -> impl Iterator<Item = &'a Probe> + 'a {
        self.probes.iter().filter(move |p| p.variant == variant)
    }

    fn bracket(&self, variant: &str) -> Bracket {
        let limit = self.slo.limit_ms;
        let ceiling = self
            .probes_of(variant)
            .filter(|p| p.standing == Standing::Unmeasured)
            .map(|p| p.rate)
            .min_by(f64::total_cmp);
        let usable = || {
            self.probes_of(variant)
                .filter(move |p| ceiling.is_none_or(|c| p.rate < c))
        };
        let h = usable()
            .filter(|p| p.above_by_estimate(limit) == Some(true))
            .map(|p| p.rate)
            .min_by(f64::total_cmp);
        let l = usable()
            .filter(|p| p.above_by_estimate(limit) == Some(false))
            .filter(|p| h.is_none_or(|h| p.rate < h))
            .map(|p| p.rate)
            .max_by(f64::total_cmp);
        let high = usable()
            .filter(|p| p.standing == Standing::Misses)
            .map(|p| p.rate)
            .min_by(f64::total_cmp);
        let low = usable()
            .filter(|p| p.standing == Standing::Meets)
            .filter(|p| high.is_none_or(|h| p.rate < h))
            .map(|p| p.rate)
            .max_by(f64::total_cmp);
        Bracket {
            l,
            h,
            low,
            high,
            ceiling,
        }
    }

    /// The next rate to measure, or `None` when every variant's crossing is found to the
    /// resolution, cannot be narrowed further, or the budget is spent.
    pub fn next_rate(&self) -> Option<f64> {
        let s = &self.settings;
        if self.rates.len() >= s.max_probes {
            return None;
        }
        if self.rates.is_empty() {
            return Some(round_rate(s.start_rate.clamp(s.min_rate, s.max_rate)));
        }
        let fine = |lo: f64, hi: f64| hi / lo <= 1.0 + s.resolution;
        // (priority, rate): exploring outwards before narrowing; the widest bracket first.
        let mut wanted: Vec<(f64, f64)> = Vec::new();
        for v in &self.variants {
            let b = self.bracket(v);
            let candidate = match (b.l, b.h) {
                (Some(l), None) => {
                    let top = b.ceiling.unwrap_or(f64::INFINITY).min(s.max_rate);
                    if fine(l, top) {
                        None
                    } else if l * 2.0 < top {
                        Some((f64::NEG_INFINITY, l * 2.0))
                    } else if b.ceiling.is_some() {
                        // Up against what the generator could drive: narrow towards it.
                        Some((-(top / l).ln(), (l * top).sqrt()))
                    } else {
                        Some((f64::NEG_INFINITY, top))
                    }
                }
                (None, Some(h)) if h / 2.0 >= s.min_rate => Some((f64::NEG_INFINITY, h / 2.0)),
                (None, Some(_)) => None,
                (Some(l), Some(h)) if !fine(l, h) => Some((-(h / l).ln(), (l * h).sqrt())),
                _ => None,
            };
            if let Some((priority, rate)) = candidate {
                let rate = round_rate(rate);
                if !self.rates.contains(&rate) {
                    wanted.push((priority, rate));
                }
            }
        }
        wanted
            .into_iter()
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, r)| r)
    }

    pub fn finish(&self) -> CapacityAnalysis {
        let capacities = self.variants.iter().map(|v| self.capacity(v)).collect();
        CapacityAnalysis {
            slo: self.slo,
            confidence: self.confidence,
            level_confidence: self.level_confidence(),
            settings: self.settings,
            probes: self.probes.clone(),
            capacities,
        }
    }

    fn capacity(&self, variant: &str) -> Capacity {
        let b = self.bracket(variant);
        let slo = self.slo;
        let conf = format!("{:.0} %", self.confidence * 100.0);
        let rate = |r: f64| format!("{} req/s", show_rate(r));
        let (outcome, estimate, meaning) = match (b.l, b.h) {
            (Some(l), Some(h)) => {
                let e = self.crossing(variant, l, h);
                let between = match (b.low, b.high) {
                    (Some(lo), Some(hi)) => {
                        format!("between {} and {} ({conf})", show_rate(lo), rate(hi))
                    }
                    (Some(lo), None) => format!(
                        "at least {} ({conf}); no rate missed it beyond doubt",
                        rate(lo)
                    ),
                    (None, Some(hi)) => format!(
                        "at most {} ({conf}); no rate met it beyond doubt",
                        rate(hi)
                    ),
                    (None, None) => {
                        "no interval: every probe near the crossing was unsure (more rounds per probe narrow it)".into()
                    }
                };
                (
                    Outcome::Found,
                    Some(e),
                    format!("{variant}: capacity ≈ {} at {slo}, {between}", rate(e)),
                )
            }
            (Some(l), None) => {
                let why = match b.ceiling {
                    Some(c) => format!(
                        "; at {} the measurement itself failed ({})",
                        rate(c),
                        self.probes_of(variant)
                            .find(|p| p.rate == c)
                            .and_then(|p| p.why.clone())
                            .unwrap_or_default()
                    ),
                    None => String::new(),
                };
                (
                    Outcome::AboveEveryRate,
                    None,
                    format!(
                        "{variant}: {slo} held at every rate measured, up to {}{why}: the capacity is higher",
                        rate(l)
                    ),
                )
            }
            (None, Some(h)) => (
                Outcome::BelowEveryRate,
                None,
                format!(
                    "{variant}: {slo} failed already at the lowest rate tried, {}: the capacity is lower",
                    rate(h)
                ),
            ),
            (None, None) => (
                Outcome::Unresolved,
                None,
                format!("{variant}: no probe could be measured"),
            ),
        };
        Capacity {
            variant: variant.to_string(),
            outcome,
            estimate,
            low: b.low,
            high: b.high,
            meaning,
        }
    }

    /// Where the estimated metric crosses the limit between the probes at `l` (below it) and
    /// `h` (above it): linear in log(metric) against log(rate). Without a level above the limit
    /// at `h` (the target could not keep the rate), the geometric midpoint.
    fn crossing(&self, variant: &str, l: f64, h: f64) -> f64 {
        let at = |r: f64| {
            self.probes_of(variant)
                .find(|p| p.rate == r)
                .and_then(|p| p.level)
                .map(|lv| lv.estimate)
        };
        let limit = self.slo.limit_ms;
        match (at(l), at(h)) {
            // Both levels on their sides of the limit; a miss by the validity guard alone
            // can have a level below it, and then says nothing about where it crosses.
            (Some(pl), Some(ph)) if pl > 0.0 && pl < limit && ph > limit => {
                let t = ((limit.ln() - pl.ln()) / (ph.ln() - pl.ln())).clamp(0.0, 1.0);
                (l.ln() + t * (h.ln() - l.ln())).exp()
            }
            _ => (l * h).sqrt(),
        }
    }
}

/// The variant an invalid reason is about (`None`: the whole run).
fn reason_variant(r: &InvalidReason) -> Option<&str> {
    match r {
        InvalidReason::GeneratorSaturated { variant, .. }
        | InvalidReason::ScheduleMissed { variant, .. }
        | InvalidReason::Errors { variant, .. }
        | InvalidReason::NoRequests { variant }
        | InvalidReason::FocusMissing { variant, .. } => Some(variant),
        InvalidReason::NotReady { .. } | InvalidReason::Shard { .. } => None,
    }
}

/// Reasons that say the target could not serve the rate (a miss), as opposed to reasons that
/// say the measurement failed (the generator, readiness, a focus that matched nothing).
fn target_could_not_keep_up(r: &InvalidReason) -> bool {
    matches!(
        r,
        InvalidReason::ScheduleMissed { .. }
            | InvalidReason::Errors { .. }
            | InvalidReason::NoRequests { .. }
    )
}

/// A rate as the report shows it.
pub fn show_rate(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else if r >= 10.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn normal(rng: &mut StdRng) -> f64 {
        let (u, v): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// A simulated server: an M/M/1 queue of service rate `mu`, whose p99 response time is
    /// ln(100) / (μ − λ); at λ ≥ μ it cannot keep the rate. Each round's p99 carries
    /// log-normal noise of `noise` (relative).
    struct Server {
        mu: f64,
        noise: f64,
        rounds: usize,
        /// The generator cannot drive more than this.
        generator_limit: f64,
    }

    impl Server {
        /// Ten rounds per probe, and a generator that can drive any rate.
        fn new(mu: f64, noise: f64) -> Server {
            Server {
                mu,
                noise,
                rounds: 10,
                generator_limit: f64::INFINITY,
            }
        }

        fn p99_ms(&self, rate: f64) -> f64 {
            100f64.ln() / (self.mu - rate) * 1e3
        }

        /// The rate where p99 crosses `limit`.
        fn capacity(&self, limit_ms: f64) -> f64 {
            self.mu - 100f64.ln() / (limit_ms / 1e3)
        }

        fn probe(&self, name: &str, rate: f64, confidence: f64, rng: &mut StdRng) -> Reading {
            let reading = |level, reasons, unsent_share| Reading {
                variant: name.into(),
                level,
                reasons,
                unsent_share,
            };
            if rate > self.generator_limit {
                let reason = InvalidReason::GeneratorSaturated {
                    variant: name.into(),
                    cores: 0.97,
                    limit: 0.9,
                };
                return reading(None, vec![reason], 0.0);
            }
            if rate >= self.mu {
                let reason = InvalidReason::ScheduleMissed {
                    variant: name.into(),
                    late_or_unsent: 0.4,
                    limit: 0.05,
                };
                return reading(None, vec![reason], 0.3);
            }
            let truth = self.p99_ms(rate);
            let rounds: Vec<f64> = (0..self.rounds)
                .map(|_| truth * (self.noise * normal(rng)).exp())
                .collect();
            reading(level(&rounds, confidence), Vec::new(), 0.0)
        }
    }

    fn search(
        servers: &[(&str, &Server)],
        slo: Slo,
        settings: SearchSettings,
        rng: &mut StdRng,
    ) -> CapacityAnalysis {
        let names = servers.iter().map(|(n, _)| n.to_string()).collect();
        let mut s = CapacitySearch::new(slo, settings, 0.95, names);
        while let Some(rate) = s.next_rate() {
            let c = s.level_confidence();
            let wanted = s.variants_at(rate);
            assert!(
                !wanted.is_empty(),
                "a probe at {rate} that no variant needs"
            );
            let readings = servers
                .iter()
                .filter(|(n, _)| wanted.iter().any(|w| w == n))
                .map(|(n, srv)| srv.probe(n, rate, c, rng))
                .collect();
            s.record(rate, readings);
        }
        s.finish()
    }

    fn starting_at(start_rate: f64) -> SearchSettings {
        SearchSettings {
            start_rate,
            ..SearchSettings::default()
        }
    }

    const P99_50MS: Slo = Slo {
        metric: Metric::P99,
        limit_ms: 50.0,
    };

    #[test]
    fn an_objective_is_a_latency_limit() {
        assert_eq!("p99<50ms".parse::<Slo>(), Ok(P99_50MS));
        assert_eq!(
            "p999 <= 0.2s"
                .parse::<Slo>()
                .map(|s| (s.metric, s.limit_ms)),
            Ok((Metric::P999, 200.0))
        );
        for bad in [
            "throughput>100",
            "error_rate<1%",
            "A.p99<50ms",
            "p99 <= 0.5 * naive.p99",
        ] {
            assert!(
                matches!(bad.parse::<Slo>(), Err(SloError::NotALatencyLimit { .. })),
                "{bad}"
            );
        }
        assert!(matches!("p98<5ms".parse::<Slo>(), Err(SloError::Syntax(_))));
        assert_eq!(P99_50MS.to_string(), "p99 < 50ms");
    }

    #[test]
    fn rates_are_rounded_to_three_digits() {
        assert_eq!(round_rate(141.42), 141.0);
        assert_eq!(round_rate(1414.2), 1410.0);
        assert!((round_rate(14.142) - 14.1).abs() < 1e-9);
    }

    /// The search doubles, then bisects, and its interval brackets the true crossing (908
    /// req/s for μ = 1000 and p99 < 50 ms).
    #[test]
    fn the_search_finds_a_known_capacity() {
        let server = Server::new(1000.0, 0.1);
        let truth = server.capacity(50.0);
        let mut rng = StdRng::seed_from_u64(7);
        let a = search(&[("v", &server)], P99_50MS, starting_at(100.0), &mut rng);
        let c = &a.capacities[0];
        assert_eq!(c.outcome, Outcome::Found, "{a:#?}");
        let (lo, hi) = (c.low.unwrap(), c.high.unwrap());
        assert!(lo <= truth && truth <= hi, "{lo}–{hi} vs {truth}");
        assert!(hi / lo < 1.3, "{lo}–{hi}");
        let e = c.estimate.unwrap();
        assert!((e / truth - 1.0).abs() < 0.1, "{e} vs {truth}");
        // Doubling from 100: 100, 200, 400, 800 meet; 1600 misses; then bisection.
        assert_eq!(
            &a.probes[0..5].iter().map(|p| p.rate).collect::<Vec<_>>(),
            &[100.0, 200.0, 400.0, 800.0, 1600.0]
        );
        assert!(c.meaning.contains("capacity ≈"), "{}", c.meaning);
    }

    /// Coverage: over seeded trials with noise, the interval contains the true crossing at
    /// least as often as its confidence says (Bonferroni makes it conservative).
    #[test]
    fn the_capacity_interval_covers_the_truth() {
        let mut rng = StdRng::seed_from_u64(16);
        let trials = 400;
        let mut covered = 0;
        let mut widths = Vec::new();
        for t in 0..trials {
            let server = Server::new(500.0 + 10.0 * t as f64, 0.25);
            let truth = server.capacity(50.0);
            let start = 20.0 + 3.0 * (t % 37) as f64;
            let a = search(&[("v", &server)], P99_50MS, starting_at(start), &mut rng);
            let c = &a.capacities[0];
            let lo = c.low.unwrap_or(0.0);
            let hi = c.high.unwrap_or(f64::INFINITY);
            if lo <= truth && truth <= hi {
                covered += 1;
            }
            widths.push(hi / lo);
        }
        let rate = covered as f64 / trials as f64;
        widths.sort_by(f64::total_cmp);
        println!(
            "capacity interval coverage {rate:.3}, median width ×{:.2}",
            widths[trials / 2]
        );
        assert!(rate >= 0.95, "coverage {rate}");
        assert!(
            widths[trials / 2] < 1.5,
            "median width {}",
            widths[trials / 2]
        );
    }

    #[test]
    fn a_start_above_capacity_searches_downwards() {
        let server = Server::new(1000.0, 0.05);
        let mut rng = StdRng::seed_from_u64(3);
        let a = search(&[("v", &server)], P99_50MS, starting_at(4000.0), &mut rng);
        assert_eq!(a.probes[0].standing, Standing::Misses);
        assert!(
            a.probes[0]
                .why
                .as_deref()
                .unwrap()
                .contains("never went out")
        );
        let c = &a.capacities[0];
        assert_eq!(c.outcome, Outcome::Found, "{a:#?}");
        let truth = server.capacity(50.0);
        assert!(c.low.unwrap() <= truth && truth <= c.high.unwrap(), "{c:?}");
    }

    /// Sends that went out late are judged by the latency (which counts from the intended
    /// send time); sends that never went out are a miss.
    #[test]
    fn late_sends_are_judged_by_the_latency_and_unsent_ones_are_a_miss() {
        let s = CapacitySearch::new(P99_50MS, SearchSettings::default(), 0.95, vec!["v".into()]);
        let late = InvalidReason::ScheduleMissed {
            variant: "v".into(),
            late_or_unsent: 0.08,
            limit: 0.05,
        };
        let low = Level {
            estimate: 7.0,
            interval: Some(crate::Interval {
                estimate: 7.0,
                low: 6.0,
                high: 8.0,
            }),
        };
        let reading = |unsent_share| Reading {
            variant: "v".into(),
            level: Some(low),
            reasons: vec![late.clone()],
            unsent_share,
        };
        let (standing, why) = s.standing(&reading(0.001));
        assert_eq!(standing, Standing::Meets);
        assert!(why.unwrap().contains("intended send times"));
        let (standing, why) = s.standing(&reading(0.2));
        assert_eq!(standing, Standing::Misses);
        assert!(why.unwrap().contains("never went out"));
    }

    /// A generator that cannot drive the rate says nothing about the target: the search stays
    /// below it and says the capacity is higher than what it could measure.
    #[test]
    fn the_generator_limit_is_not_the_capacity() {
        let server = Server {
            mu: 10_000.0,
            noise: 0.05,
            rounds: 10,
            generator_limit: 700.0,
        };
        let mut rng = StdRng::seed_from_u64(4);
        let a = search(&[("v", &server)], P99_50MS, starting_at(100.0), &mut rng);
        let c = &a.capacities[0];
        assert_eq!(c.outcome, Outcome::AboveEveryRate, "{a:#?}");
        assert!(c.high.is_none());
        assert!(c.low.unwrap() >= 600.0 && c.low.unwrap() <= 700.0, "{c:?}");
        assert!(c.meaning.contains("load generator"), "{}", c.meaning);
        assert!(a.probes.iter().all(|p| p.standing != Standing::Misses));
    }

    /// Two variants of different capacity: both crossings are found in one budget, each
    /// probe measuring both.
    #[test]
    fn two_variants_get_their_own_capacity() {
        let slow = Server::new(300.0, 0.1);
        let fast = Server { mu: 1200.0, ..slow };
        let mut rng = StdRng::seed_from_u64(5);
        let a = search(
            &[("slow", &slow), ("fast", &fast)],
            P99_50MS,
            SearchSettings {
                start_rate: 50.0,
                max_probes: 12,
                ..SearchSettings::default()
            },
            &mut rng,
        );
        for (c, srv) in a.capacities.iter().zip([&slow, &fast]) {
            let truth = srv.capacity(50.0);
            assert_eq!(c.outcome, Outcome::Found, "{a:#?}");
            assert!(
                c.low.unwrap() <= truth && truth <= c.high.unwrap(),
                "{}: {c:?} vs {truth}",
                c.variant
            );
        }
        assert!(a.probes.len() <= 24);
        // Once it has missed, the slow variant is left out of every probe at that rate or
        // above, while the fast one goes on.
        let first_miss = a
            .probes
            .iter()
            .find(|p| p.variant == "slow" && p.standing == Standing::Misses)
            .unwrap()
            .rate;
        assert!(
            a.probes
                .iter()
                .all(|p| p.variant != "slow" || p.rate <= first_miss),
            "{:#?}",
            a.probes
        );
        assert!(
            a.probes
                .iter()
                .any(|p| p.variant == "fast" && p.rate > first_miss)
        );
    }
}
