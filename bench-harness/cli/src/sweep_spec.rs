//! What `--sweep AXIS=V1,V2,…` says, parsed: the axis and its values. How a sweep runs is
//! [`crate::sweep`]; this module knows nothing of plans or runs, so the command line's types
//! can hold a sweep without depending on the code that runs it.

use std::str::FromStr;

use perflab_analysis::sweep::AxisKind;

/// The most points a sweep may have: each is a whole run.
const MAX_POINTS: usize = 24;

/// What a sweep varies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepAxis {
    Vus,
    Rate,
    /// A service knob: `PUT /admin/settings` with it at every round.
    Knob(String),
    /// A lab parameter.
    Param(String),
}

/// One value of the axis, as written and as a number.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepValue {
    pub text: String,
    pub number: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    pub axis: SweepAxis,
    pub values: Vec<SweepValue>,
}

impl FromStr for SweepSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, list) = text.split_once('=').ok_or_else(|| {
            format!(
                "{text:?}: expected AXIS=V1,V2,… such as vus=1,2,4,8 or rate=100,200,400 or db.pool_size=1,4,16"
            )
        })?;
        let name = name.trim();
        let axis = match name {
            "vus" => SweepAxis::Vus,
            "rate" => SweepAxis::Rate,
            "" => return Err(format!("{text:?}: the axis has no name")),
            n if n.contains('.') => SweepAxis::Knob(n.to_string()),
            n => SweepAxis::Param(n.to_string()),
        };
        let mut values: Vec<SweepValue> = Vec::new();
        for v in list.split(',').map(str::trim) {
            let number: f64 = v
                .parse()
                .map_err(|_| format!("{text:?}: {v:?} is not a number (every value of a sweep is: its curve has it as x)"))?;
            if !number.is_finite() {
                return Err(format!("{text:?}: {v:?} is not a finite number"));
            }
            match &axis {
                SweepAxis::Vus if number < 1.0 || number.fract() != 0.0 || number > 100_000.0 => {
                    return Err(format!(
                        "{text:?}: {v} VUs: a whole number from 1 to 100000"
                    ));
                }
                SweepAxis::Rate if number <= 0.0 => {
                    return Err(format!("{text:?}: a rate of {v}/s: must be above 0"));
                }
                SweepAxis::Knob(k) if number.fract() != 0.0 => {
                    return Err(format!("{text:?}: knob {k} takes whole numbers, not {v}"));
                }
                _ => {}
            }
            if values.iter().any(|x| x.number == number) {
                return Err(format!("{text:?}: {v} appears twice"));
            }
            values.push(SweepValue {
                text: v.to_string(),
                number,
            });
        }
        if values.len() < 2 {
            return Err(format!(
                "{text:?}: a sweep needs at least two values (one value is a plain run)"
            ));
        }
        if values.len() > MAX_POINTS {
            return Err(format!(
                "{text:?}: {} values; the limit is {MAX_POINTS} (each point is a whole run)",
                values.len()
            ));
        }
        values.sort_by(|a, b| a.number.total_cmp(&b.number));
        Ok(SweepSpec { axis, values })
    }
}

impl SweepSpec {
    /// The axis as the user wrote it.
    pub fn name(&self) -> &str {
        match &self.axis {
            SweepAxis::Vus => "vus",
            SweepAxis::Rate => "rate",
            SweepAxis::Knob(n) | SweepAxis::Param(n) => n,
        }
    }

    pub fn kind(&self) -> AxisKind {
        match self.axis {
            SweepAxis::Vus => AxisKind::Concurrency,
            SweepAxis::Rate => AxisKind::ArrivalRate,
            SweepAxis::Knob(_) | SweepAxis::Param(_) => AxisKind::Setting,
        }
    }

    /// The folder of one point's report inside the sweep's.
    pub fn point_dir(&self, v: &SweepValue) -> String {
        let safe = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        format!("{}-{}", safe(self.name()), safe(&v.text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_and_values_parse_sorted() {
        let s: SweepSpec = "vus=8,1,2,4".parse().unwrap();
        assert_eq!(s.axis, SweepAxis::Vus);
        let v: Vec<f64> = s.values.iter().map(|v| v.number).collect();
        assert_eq!(v, [1.0, 2.0, 4.0, 8.0]);
        assert_eq!(
            "db.pool_size=1,4".parse::<SweepSpec>().unwrap().axis,
            SweepAxis::Knob("db.pool_size".into())
        );
        assert_eq!(
            "items=1,20".parse::<SweepSpec>().unwrap().axis,
            SweepAxis::Param("items".into())
        );
        assert_eq!(
            "rate=50.5,100".parse::<SweepSpec>().unwrap().kind(),
            AxisKind::ArrivalRate
        );
    }

    #[test]
    fn bad_sweeps_say_what_is_wrong() {
        for (text, says) in [
            ("vus", "expected AXIS=V1,V2"),
            ("vus=4", "at least two values"),
            ("vus=0,2", "whole number from 1"),
            ("vus=1.5,2", "whole number from 1"),
            ("rate=0,10", "must be above 0"),
            ("vus=2,x", "is not a number"),
            ("vus=2,2", "appears twice"),
            ("db.pool_size=1,2.5", "whole numbers"),
            ("=1,2", "no name"),
        ] {
            let e = text.parse::<SweepSpec>().unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
        let many: Vec<String> = (1..=30).map(|i| i.to_string()).collect();
        let e = format!("vus={}", many.join(","))
            .parse::<SweepSpec>()
            .unwrap_err();
        assert!(e.contains("the limit is"), "{e}");
    }

    #[test]
    fn a_point_dir_is_a_safe_name() {
        let s: SweepSpec = "db.pool_size=1,16".parse().unwrap();
        assert_eq!(s.point_dir(&s.values[1]), "db.pool_size-16");
    }
}
