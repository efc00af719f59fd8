//! The target's server-side counters: scraped from its `/metrics` (Prometheus text) before and
//! after each round, so the report can say "statements/request: 50 vs 1".

use std::collections::BTreeMap;

/// Counter totals by metric name, label sets summed. Only `*_total` counters are kept: they
/// are the only series whose difference over a round means "how much happened".
pub fn parse_totals(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let name = series.split('{').next().unwrap_or(series).trim();
        if !name.ends_with("_total") {
            continue;
        }
        if let Ok(v) = value.trim().parse::<f64>() {
            *out.entry(name.to_string()).or_insert(0.0) += v;
        }
    }
    out
}

/// `after − before` for every counter present after (a counter that appeared counts from 0).
pub fn delta(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_label_sets_and_skips_non_totals() {
        let text = "# HELP x\nhttp_requests_total{status=\"200\"} 3\nhttp_requests_total{status=\"500\"} 1\n\
                    in_flight 4\ndb_statements_total 10\nlat_bucket{le=\"1\"} 5\n";
        let t = parse_totals(text);
        assert_eq!(t["http_requests_total"], 4.0);
        assert_eq!(t["db_statements_total"], 10.0);
        assert!(!t.contains_key("in_flight"));
        let mut after = t.clone();
        after.insert("db_statements_total".into(), 25.0);
        assert_eq!(delta(&t, &after)["db_statements_total"], 15.0);
    }
}
