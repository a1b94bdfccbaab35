//! The outcome of one model request, as an application reports it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::bounds::{check_latency, check_time, check_tokens};
use crate::error::fraction;
use crate::DomainError;

/// What happened on one request to a model version. Cheap to copy: it is
/// recorded after every model call.
///
/// ```
/// use lifecycle_domain::{ErrorKind, InferenceResult};
/// let ok = InferenceResult::success(420.0).with_confidence(0.92).with_tokens(800, 120);
/// assert!(ok.validate().is_ok());
/// let failed = InferenceResult::failure(ErrorKind::RateLimited, 0.0);
/// assert!(failed.validate().is_ok());
/// assert!(InferenceResult::success(f64::NAN).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceResult {
    /// Whether the request succeeded.
    pub success: bool,
    /// End-to-end latency in milliseconds: 0 to [`crate::MAX_LATENCY_MS`].
    pub latency_ms: f64,
    /// The model's confidence in its answer, in [0, 1], when it reports one.
    #[serde(default)]
    pub confidence: Option<f64>,
    /// Prompt tokens: at most [`crate::MAX_TOKENS`].
    #[serde(default)]
    pub input_tokens: u32,
    /// Completion tokens: at most [`crate::MAX_TOKENS`].
    #[serde(default)]
    pub output_tokens: u32,
    /// Why it failed; only on failures (a failure without one counts as `other`).
    #[serde(default)]
    pub error_kind: Option<ErrorKind>,
    /// When the request happened (event time, RFC 3339), for results
    /// reported late or replayed; `None` means now. Windows count it at this
    /// time: older than the window, it counts in the lifetime only; more
    /// than a minute ahead of the evaluator's clock, it is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

impl InferenceResult {
    /// A successful request.
    pub fn success(latency_ms: f64) -> Self {
        Self {
            success: true,
            latency_ms,
            confidence: None,
            input_tokens: 0,
            output_tokens: 0,
            error_kind: None,
            at: None,
        }
    }

    /// A failed request.
    pub fn failure(kind: ErrorKind, latency_ms: f64) -> Self {
        Self {
            success: false,
            error_kind: Some(kind),
            ..Self::success(latency_ms)
        }
    }

    /// With the model's confidence.
    pub fn with_confidence(self, confidence: f64) -> Self {
        Self {
            confidence: Some(confidence),
            ..self
        }
    }

    /// With token counts.
    pub fn with_tokens(self, input_tokens: u32, output_tokens: u32) -> Self {
        Self {
            input_tokens,
            output_tokens,
            ..self
        }
    }

    /// With the time the request happened.
    pub fn at(self, at: DateTime<Utc>) -> Self {
        Self {
            at: Some(at),
            ..self
        }
    }

    /// Checks latency, confidence, tokens, time and that only failures carry an error kind.
    pub fn validate(&self) -> Result<(), DomainError> {
        if let Some(at) = self.at {
            check_time("at", at)?;
        }
        check_latency("latencyMs", self.latency_ms)?;
        check_tokens("inputTokens", self.input_tokens)?;
        check_tokens("outputTokens", self.output_tokens)?;
        if let Some(confidence) = self.confidence {
            fraction("confidence", confidence)?;
        }
        if self.success && self.error_kind.is_some() {
            return Err(DomainError::field(
                "errorKind",
                "a successful request has no error kind; set success to false or drop errorKind",
            ));
        }
        Ok(())
    }
}

/// Why a request failed.
///
/// Named in camelCase (`rateLimited`) in JSON and reports; read in any
/// case with `-` or `_` between words too (`rate-limited`, `RATE_LIMITED`),
/// in result files and on the command line alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "String")]
pub enum ErrorKind {
    /// No answer in time.
    Timeout,
    /// Refused for rate or quota (HTTP 429).
    RateLimited,
    /// The provider failed (HTTP 5xx).
    ServerError,
    /// The request was refused as malformed or unauthorised (other HTTP 4xx).
    ClientError,
    /// An answer came back that could not be used.
    InvalidResponse,
    /// The provider's content filter blocked it.
    ContentFiltered,
    /// The connection failed.
    Network,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 8] = [
        Self::Timeout,
        Self::RateLimited,
        Self::ServerError,
        Self::ClientError,
        Self::InvalidResponse,
        Self::ContentFiltered,
        Self::Network,
        Self::Other,
    ];

    /// Failures by kind for people: `rateLimited 3, serverError 1`.
    pub fn breakdown(failures: &std::collections::BTreeMap<ErrorKind, u64>) -> String {
        let kinds: Vec<String> = failures
            .iter()
            .map(|(kind, n)| format!("{} {n}", kind.as_str()))
            .collect();
        kinds.join(", ")
    }

    /// Its name in JSON and reports: `rateLimited`, `serverError`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::RateLimited => "rateLimited",
            Self::ServerError => "serverError",
            Self::ClientError => "clientError",
            Self::InvalidResponse => "invalidResponse",
            Self::ContentFiltered => "contentFiltered",
            Self::Network => "network",
            Self::Other => "other",
        }
    }

    /// The kind named `text`: its name (`rateLimited`) in any case, with
    /// or without `-` or `_` between words; an error listing the names.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let plain: String = text
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect();
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().to_lowercase() == plain)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                DomainError::field(
                    "errorKind",
                    format!(
                        "{:?} is not an error kind; use one of {}",
                        crate::shorten(text),
                        names.join(", ")
                    ),
                )
            })
    }

    /// The kind for an HTTP status code of a failed request.
    pub fn from_http_status(code: u16) -> Self {
        match code {
            408 | 504 => Self::Timeout,
            429 => Self::RateLimited,
            400..=499 => Self::ClientError,
            500..=599 => Self::ServerError,
            _ => Self::Other,
        }
    }
}

impl TryFrom<String> for ErrorKind {
    type Error = DomainError;

    fn try_from(text: String) -> Result<Self, DomainError> {
        Self::parse(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_are_read_by_their_name_in_any_spelling() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::parse(kind.as_str()).unwrap(), kind);
        }
        for text in [
            "rateLimited",
            "rate-limited",
            "rate_limited",
            "RATE_LIMITED",
            "RateLimited",
        ] {
            assert_eq!(
                ErrorKind::parse(text).unwrap(),
                ErrorKind::RateLimited,
                "{text}"
            );
        }
        let err = ErrorKind::parse("throttled").unwrap_err().to_string();
        assert!(
            err.contains("use one of timeout, rateLimited, serverError"),
            "{err}"
        );
        let read: ErrorKind = serde_json::from_str("\"server-error\"").unwrap();
        assert_eq!(read, ErrorKind::ServerError);
        assert_eq!(serde_json::to_string(&read).unwrap(), "\"serverError\"");
    }

    #[test]
    fn bad_latency_and_confidence_are_refused_naming_the_field() {
        for latency in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -1.0,
            1.7e308,
            86_400_001.0,
        ] {
            let err = InferenceResult::success(latency).validate().unwrap_err();
            assert!(err.to_string().contains("latencyMs"), "{err}");
        }
        for confidence in [-0.01, 1.01, f64::NAN] {
            let err = InferenceResult::success(1.0)
                .with_confidence(confidence)
                .validate()
                .unwrap_err();
            assert!(err.to_string().contains("confidence"), "{err}");
        }
        assert!(InferenceResult::success(0.0)
            .with_confidence(1.0)
            .validate()
            .is_ok());
        assert!(InferenceResult::success(86_400_000.0).validate().is_ok());
    }

    #[test]
    fn token_counts_past_the_bound_are_refused() {
        let err = InferenceResult::success(1.0)
            .with_tokens(u32::MAX, 0)
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("inputTokens"), "{err}");
        let err = InferenceResult::success(1.0)
            .with_tokens(0, 100_000_001)
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("outputTokens"), "{err}");
    }

    #[test]
    fn only_failures_carry_an_error_kind() {
        let mut result = InferenceResult::success(10.0);
        result.error_kind = Some(ErrorKind::Timeout);
        assert!(result
            .validate()
            .unwrap_err()
            .to_string()
            .contains("errorKind"));
        let mut failure = InferenceResult::failure(ErrorKind::Timeout, 10.0);
        assert!(failure.validate().is_ok());
        failure.error_kind = None;
        assert!(failure.validate().is_ok(), "counted as other");
    }

    #[test]
    fn http_statuses_map_to_kinds() {
        assert_eq!(ErrorKind::from_http_status(429), ErrorKind::RateLimited);
        assert_eq!(ErrorKind::from_http_status(503), ErrorKind::ServerError);
        assert_eq!(ErrorKind::from_http_status(504), ErrorKind::Timeout);
        assert_eq!(ErrorKind::from_http_status(401), ErrorKind::ClientError);
        assert_eq!(ErrorKind::from_http_status(0), ErrorKind::Other);
    }

    #[test]
    fn json_shape_is_camel_case_with_optional_fields() {
        let parsed: InferenceResult =
            serde_json::from_str(r#"{"success":false,"latencyMs":0,"errorKind":"rateLimited"}"#)
                .unwrap();
        assert_eq!(
            parsed,
            InferenceResult::failure(ErrorKind::RateLimited, 0.0)
        );
        assert!(serde_json::from_str::<InferenceResult>(r#"{"success":true}"#).is_err());
    }
}
