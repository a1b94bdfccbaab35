//! The `lifecycle` binary as a user runs it: every command's success path,
//! the `--json` shapes, each exit code, and the bad-input errors.
// Test code: a failed expectation panics, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod commands;
mod postgres;
mod safety;
mod server;
mod serving;
mod support;
mod tour;
