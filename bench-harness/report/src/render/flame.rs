//! Flame graphs of the service's CPU profiles (inferno, the Rust port of Brendan Gregg's
//! flamegraph.pl): one per variant, and a differential one of each variant against the first.
//!
//! Written beside the report: `profile-<variant>.folded` (for speedscope, inferno, or
//! flamegraph.pl), `flame-<variant>.svg` (interactive: click to zoom, Ctrl-F to search) and
//! `flame-diff-<candidate>-vs-<baseline>.svg`. The HTML report shows the same SVGs inline.
//!
//! The differential graph is drawn in the **baseline's** shape (the naive variant, usually):
//! red where the baseline spends a larger share of its CPU than the candidate (what the
//! candidate removed), blue where it spends a smaller share (what the candidate spends more
//! on). Shares, not samples: both profiles are scaled to a million samples first, so a variant
//! that simply served more requests does not paint everything red.

use inferno::flamegraph::{self, Options, color::Palette};
use perflab_analysis::profile::Profile;

use crate::ProfilesReport;

/// A variant name as a file-name part (`global-mutex`, `a_b` …).
fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub fn folded_name(variant: &str) -> String {
    format!("profile-{}.folded", safe(variant))
}

pub fn svg_name(variant: &str) -> String {
    format!("flame-{}.svg", safe(variant))
}

pub fn diff_name(baseline: &str, candidate: &str) -> String {
    format!("flame-diff-{}-vs-{}.svg", safe(candidate), safe(baseline))
}

/// The names of every file [`files`] writes, in the same order.
pub fn file_names(stacks: &[(String, Profile)]) -> Vec<String> {
    let mut names = Vec::new();
    for (v, _) in stacks {
        names.push(folded_name(v));
        names.push(svg_name(v));
    }
    if let Some(((base, _), rest)) = stacks.split_first() {
        names.extend(rest.iter().map(|(cand, _)| diff_name(base, cand)));
    }
    names
}

/// Every profile file, as (file name, contents).
pub fn files(p: &ProfilesReport) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (v, profile) in &p.stacks {
        out.push((folded_name(v), profile.folded()));
        out.push((svg_name(v), svg(v, profile)));
    }
    if let Some(((base, bp), rest)) = p.stacks.split_first() {
        for (cand, cp) in rest {
            out.push((diff_name(base, cand), diff_svg(base, bp, cand, cp)));
        }
    }
    out
}

fn options(title: String, subtitle: String) -> Options<'static> {
    let mut o = Options::default();
    o.title = title;
    o.subtitle = Some(subtitle);
    // The same input draws the same picture: reports can be compared file by file.
    o.deterministic = true;
    o.hash = true;
    o.colors = Palette::Multi(flamegraph::color::MultiPalette::Rust);
    o.image_width = Some(1200);
    o.min_width = 0.1;
    o
}

/// One variant's flame graph.
pub fn svg(variant: &str, p: &Profile) -> String {
    let mut o = options(
        format!("{variant}: where the service spent its CPU"),
        format!(
            "{} samples at {} Hz over {:.1} s of rounds; width = share of the service's CPU",
            p.samples(),
            p.frequency_hz,
            p.seconds
        ),
    );
    o.count_name = "samples".into();
    let lines: Vec<String> = p.stacks.iter().map(|(s, n)| format!("{s} {n}")).collect();
    draw(&mut o, &lines)
}

/// Scales counts to parts per million of the profile's samples.
fn ppm(p: &Profile, stack: &str) -> u64 {
    let n = p.stacks.get(stack).copied().unwrap_or(0) as f64;
    (n * 1e6 / p.samples().max(1) as f64).round() as u64
}

/// The differential graph: shape of `base`, colour by how `base`'s share differs from `cand`'s.
pub fn diff_svg(base: &str, bp: &Profile, cand: &str, cp: &Profile) -> String {
    let mut o = options(
        format!("{base} vs {cand}: differential flame graph"),
        format!(
            "shape: {base}'s CPU; red: a larger share in {base} than in {cand} (what {cand} removed); blue: a smaller share"
        ),
    );
    o.count_name = "per million samples".into();
    // inferno reads "stack BEFORE AFTER", draws AFTER's shape and paints AFTER − BEFORE red
    // where it grew: so the candidate is BEFORE and the baseline AFTER.
    let mut stacks: Vec<&String> = bp.stacks.keys().chain(cp.stacks.keys()).collect();
    stacks.sort();
    stacks.dedup();
    let lines: Vec<String> = stacks
        .into_iter()
        .map(|s| format!("{s} {} {}", ppm(cp, s), ppm(bp, s)))
        .collect();
    draw(&mut o, &lines)
}

fn draw(o: &mut Options<'_>, lines: &[String]) -> String {
    let mut svg = Vec::new();
    if lines.is_empty() {
        return String::new();
    }
    match flamegraph::from_lines(o, lines.iter().map(String::as_str), &mut svg) {
        Ok(()) => String::from_utf8_lossy(&svg).into_owned(),
        // inferno refuses only malformed input, which folded stacks from analysis are not;
        // a picture missing is said in the picture's place rather than failing the report.
        Err(e) => format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"40\"><text x=\"4\" y=\"24\">no flame graph: {}</text></svg>",
            crate::render::html::escape(&e.to_string())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(text: &str) -> Profile {
        Profile {
            frequency_hz: 99,
            seconds: 2.0,
            stacks: Profile::parse_folded(text).unwrap(),
        }
    }

    #[test]
    fn a_flame_graph_and_a_differential_name_their_frames() {
        let naive =
            profile("worker;main;serve;std::sync::Mutex::lock 80\nworker;main;serve;work 20\n");
        let fast = profile("worker;main;serve;work 90\nworker;main;serve;dashmap::get 10\n");
        let one = svg("naive", &naive);
        assert!(one.starts_with("<?xml") && one.contains("std::sync::Mutex::lock"));
        let diff = diff_svg("naive", &naive, "fast", &fast);
        assert!(
            diff.contains("std::sync::Mutex::lock"),
            "the lock is in naive's shape"
        );
        assert!(diff.contains("what fast removed"));
        let names = file_names(&[("naive".into(), naive), ("fast".into(), fast)]);
        assert_eq!(
            names,
            [
                "profile-naive.folded",
                "flame-naive.svg",
                "profile-fast.folded",
                "flame-fast.svg",
                "flame-diff-fast-vs-naive.svg"
            ]
        );
    }
}
