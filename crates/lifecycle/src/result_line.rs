//! One inference result as JSON carries it: a line of `lifecycle record
//! --file`, an item of the server's `POST /v1/results`.

use lifecycle_domain::chrono::{DateTime, Utc};
use lifecycle_domain::{shorten, ErrorKind, InferenceResult};
use serde::Deserialize;

/// A result with the version it is for, as sent; unknown fields are
/// refused, so a typo is an error rather than a dropped field.
///
/// ```
/// let line: lifecycle::ResultLine = serde_json::from_str(
///     r#"{"modelId":"gpt-4o","version":"1.0.0","success":true,"latencyMs":420,"at":"2026-12-01T10:00:00Z"}"#,
/// ).unwrap();
/// assert_eq!(line.result().unwrap().latency_ms, 420.0);
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResultLine {
    /// The model.
    pub model_id: String,
    /// The version, as text.
    pub version: String,
    /// Whether the request succeeded.
    pub success: bool,
    /// End-to-end latency in milliseconds.
    pub latency_ms: f64,
    /// The model's confidence, when it reports one.
    #[serde(default)]
    pub confidence: Option<f64>,
    /// Prompt tokens.
    #[serde(default)]
    pub input_tokens: u32,
    /// Completion tokens.
    #[serde(default)]
    pub output_tokens: u32,
    /// Why it failed.
    #[serde(default)]
    pub error_kind: Option<ErrorKind>,
    /// When the request happened (RFC 3339); absent: now. Read as any
    /// JSON value, so that a bad time gets [`ResultLine::result`]'s
    /// message, not the parser's.
    #[serde(default)]
    pub at: Option<serde_json::Value>,
}

impl ResultLine {
    /// The result it describes (not yet checked against the bounds:
    /// [`InferenceResult::validate`]), or what is wrong with `at`.
    pub fn result(&self) -> Result<InferenceResult, String> {
        Ok(InferenceResult {
            success: self.success,
            latency_ms: self.latency_ms,
            confidence: self.confidence,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            error_kind: self.error_kind,
            at: self.at.as_ref().map(event_time).transpose()?,
        })
    }
}

/// A result's `at`: an RFC 3339 time, as a JSON string.
fn event_time(value: &serde_json::Value) -> Result<DateTime<Utc>, String> {
    let refused = |why: String| {
        format!("at: {why}; give an RFC 3339 time as a string, such as \"2026-12-01T10:00:00Z\"")
    };
    let Some(text) = value.as_str() else {
        return Err(refused(format!(
            "{} is not a time",
            shorten(&value.to_string())
        )));
    };
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| refused(format!("{:?} is not a time ({e})", shorten(text))))
}
