//! perflab's harness: target lifecycle, load engine, statistics and reports.

pub mod target;
