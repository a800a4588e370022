//! Insights (SPEC §9): which values of a dimension drag a metric down, and how much recurring
//! revenue sits with their unhappy accounts.

mod drivers;
mod lean;
mod segments;
mod tally;

pub use drivers::{DEFAULT_LIMIT, DEFAULT_MIN_COUNT, prioritize};
pub use segments::MAX_VALUES;
