//! Cross-crate end-to-end tests live in `tests/tests/`; this library holds
//! what several of them share.

/// A single-threaded tokio runtime, for property tests that run one async
/// case at a time from synchronous code.
///
/// # Panics
/// If the runtime cannot start (test support only).
#[allow(clippy::expect_used)]
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}
