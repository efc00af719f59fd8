//! The report's three human renderings. Each lays out what [`crate::Report`] holds and the
//! tables of [`crate::table`]; none computes a number.

pub mod flame;
pub mod html;
pub mod markdown;
pub mod sweep;
pub mod terminal;
