//! The histogram every recording uses (its own module so that `record` and `intervals` share
//! it without importing each other).

use hdrhistogram::Histogram;

/// Nanoseconds.
pub type Hist = Histogram<u64>;

pub fn new_hist() -> Hist {
    // Auto-resizing from 1 ns: 3 significant digits, i.e. ±0.1 % at any magnitude.
    Histogram::new(3).expect("3 significant digits is valid")
}
