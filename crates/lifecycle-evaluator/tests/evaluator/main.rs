//! The evaluator's tests, through its public API.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod alerts;
mod behaviour;
mod checkpoints;
mod common;
mod compare;
mod event_time;
mod quantiles;
mod significance;
