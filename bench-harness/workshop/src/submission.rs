//! What a student sends: their name, their prediction, and the lab's report as perflab wrote
//! it (validated against the report's own JSON schema). The class page reads a few things out
//! of the report — the headline ratio with its interval, the status, the machine — and keeps
//! the whole report beside them for the export.

use serde::{Deserialize, Serialize};

/// The report schema every submission is checked against (the one perflab writes).
const REPORT_SCHEMA: &str = include_str!("../../report/schema/report.v2.json");

/// Longest student name kept (characters).
pub const MAX_NAME: usize = 60;
/// Longest prediction text kept (characters).
pub const MAX_PREDICTION: usize = 200;

/// The body of `POST /w/{code}/submissions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmissionBody {
    /// The student's own key for this run, so a retry is not counted twice.
    pub client_id: String,
    pub student: String,
    pub prediction: String,
    pub report: serde_json::Value,
}

/// What the class page shows of one submission (also the stored row's columns).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Summary {
    pub lab: String,
    pub student: String,
    pub prediction_text: String,
    pub prediction: Option<f64>,
    /// `throughput`, `p99`, … of the headline comparison.
    pub metric: Option<String>,
    pub ratio: Option<f64>,
    pub ratio_low: Option<f64>,
    pub ratio_high: Option<f64>,
    pub verdict: Option<String>,
    /// `complete`, `invalid` or `incomplete`.
    pub status: String,
    pub invalid_reason: Option<String>,
    /// CPU model and cores: students on the same kind of machine are grouped.
    pub machine: String,
}

/// One comparison's headline metric in a report: a variant against the first.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Headline {
    pub metric: Option<String>,
    pub ratio: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub verdict: Option<String>,
}

impl Headline {
    /// `variant` against the first variant (`None`: the last variant, the lab's usual
    /// naive → optimized order). Empty when the report has no such comparison.
    pub fn of(report: &serde_json::Value, variant: Option<&str>) -> Headline {
        let last = report["variants"]
            .as_array()
            .and_then(|v| v.last())
            .and_then(|v| v["name"].as_str());
        let Some(candidate) = variant.or(last) else {
            return Headline::default();
        };
        let metric = report["comparisons"]
            .as_array()
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c["candidate"].as_str() == Some(candidate))
            })
            .and_then(|c| c["metrics"].as_array())
            .and_then(|ms| ms.iter().find(|m| m["headline"] == true));
        let Some(m) = metric else {
            return Headline::default();
        };
        let iv = &m["interval"];
        Headline {
            metric: m["metric"].as_str().map(str::to_string),
            ratio: iv["estimate"].as_f64(),
            low: iv["low"].as_f64(),
            high: iv["high"].as_f64(),
            verdict: m["verdict"].as_str().map(str::to_string),
        }
    }
}

/// The variants a report compares with its first one, in order.
pub fn candidates(report: &serde_json::Value) -> Vec<String> {
    report["comparisons"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["candidate"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SubmissionError {
    #[error("the client_id is missing or longer than 100 characters")]
    ClientId,
    #[error("the student's name is empty or longer than {MAX_NAME} characters")]
    Name,
    #[error(
        "the prediction is empty or longer than {MAX_PREDICTION} characters: predict before you run"
    )]
    Prediction,
    #[error("the report is not a perflab report (report.json, schema perflab.report/v2): {0}")]
    Report(String),
}

/// A ratio read from a prediction such as `2`, `2x`, `1.5×`, `x3`; `None` for words.
pub fn prediction_ratio(text: &str) -> Option<f64> {
    let t = text.trim().to_lowercase();
    let t = t
        .trim_start_matches(['x', '×'])
        .trim_end_matches(['x', '×'])
        .trim();
    t.parse::<f64>().ok().filter(|v| v.is_finite() && *v > 0.0)
}

/// The report schema, compiled once for the server's life (not once per submission).
fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: serde_json::Value =
            serde_json::from_str(REPORT_SCHEMA).expect("the report schema is valid JSON");
        jsonschema::validator_for(&schema).expect("the report schema compiles")
    })
}

impl SubmissionBody {
    /// Checks the body and reads what the class page shows. The report must validate against
    /// the report schema; names and predictions are bounded (the page escapes them).
    pub fn summarize(&self) -> Result<Summary, SubmissionError> {
        if self.client_id.trim().is_empty() || self.client_id.len() > 100 {
            return Err(SubmissionError::ClientId);
        }
        let student = self.student.trim();
        if student.is_empty() || student.chars().count() > MAX_NAME {
            return Err(SubmissionError::Name);
        }
        let prediction = self.prediction.trim();
        if prediction.is_empty() || prediction.chars().count() > MAX_PREDICTION {
            return Err(SubmissionError::Prediction);
        }
        let errors: Vec<String> = validator()
            .iter_errors(&self.report)
            .take(3)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        if !errors.is_empty() {
            return Err(SubmissionError::Report(errors.join("; ")));
        }
        let r = &self.report;
        let lab = r["name"].as_str().unwrap_or_default().to_string();
        let status = r["status"].as_str().unwrap_or("incomplete").to_string();
        let invalid_reason = r["invalid_reasons"]
            .as_array()
            .filter(|a| !a.is_empty())
            .map(|a| {
                a.iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            });
        let h = Headline::of(r, None);
        let machine = format!(
            "{} ({} cores)",
            r["environment"]["cpu_model"]
                .as_str()
                .unwrap_or("unknown CPU"),
            r["environment"]["cores"].as_u64().unwrap_or(0)
        );
        Ok(Summary {
            lab,
            student: student.to_string(),
            prediction_text: prediction.to_string(),
            prediction: prediction_ratio(prediction),
            metric: h.metric,
            ratio: h.ratio,
            ratio_low: h.low,
            ratio_high: h.high,
            verdict: h.verdict,
            status,
            invalid_reason,
            machine,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions_read_as_ratios_when_they_are() {
        assert_eq!(prediction_ratio("2"), Some(2.0));
        assert_eq!(prediction_ratio(" 1.5× "), Some(1.5));
        assert_eq!(prediction_ratio("3x"), Some(3.0));
        assert_eq!(prediction_ratio("x10"), Some(10.0));
        assert_eq!(prediction_ratio("none"), None);
        assert_eq!(prediction_ratio("-2"), None);
    }

    #[test]
    fn a_body_that_is_not_a_report_is_refused_with_the_reason() {
        let body = SubmissionBody {
            client_id: "c1".into(),
            student: "Ada".into(),
            prediction: "2x".into(),
            report: serde_json::json!({"schema": "something else"}),
        };
        assert!(matches!(body.summarize(), Err(SubmissionError::Report(_))));
        let nameless = SubmissionBody {
            student: "  ".into(),
            ..body.clone()
        };
        assert_eq!(nameless.summarize(), Err(SubmissionError::Name));
        let unpredicted = SubmissionBody {
            prediction: "".into(),
            ..body
        };
        assert_eq!(unpredicted.summarize(), Err(SubmissionError::Prediction));
    }
}
