//! Errors as RFC 9457 problem details (`application/problem+json`).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use lifecycle::{ErrorClass, LifecycleError};
use serde::Serialize;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One error answer: the status, a short title for its class, and what
/// went wrong with what to do (`detail`), naming the field when one is at
/// fault.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The HTTP status code, repeated in the body as RFC 9457 suggests.
    pub status: u16,
    /// The class of failure, the same for every error of that class.
    pub title: &'static str,
    /// What went wrong and what to do, for people.
    pub detail: String,
    /// The request field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    /// The facade's classification (`notFound`, `conflict`...), for programs.
    pub class: ErrorClass,
    /// The model's revision now, when a move named another (412).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<u64>,
}

impl Problem {
    /// A problem of `class` with `detail`.
    pub fn new(class: ErrorClass, detail: impl Into<String>) -> Self {
        let (status, title) = status_of(class);
        Self {
            status: status.as_u16(),
            title,
            detail: detail.into(),
            field: None,
            class,
            current_revision: None,
        }
    }

    /// A request the server refuses before the facade sees it (too large,
    /// no such path...): `status` with its reason as the title.
    pub fn http(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("error"),
            ..Self::new(ErrorClass::InvalidInput, detail)
        }
    }

    /// An invalid `field`: `detail` says why and what is allowed.
    pub fn invalid(field: &'static str, detail: impl Into<String>) -> Self {
        Self {
            field: Some(field),
            ..Self::new(ErrorClass::InvalidInput, detail)
        }
    }
}

/// The status and title of each class: the same classes the CLI maps to
/// its exit codes.
fn status_of(class: ErrorClass) -> (StatusCode, &'static str) {
    match class {
        ErrorClass::NotFound => (StatusCode::NOT_FOUND, "not found"),
        ErrorClass::Conflict => (StatusCode::CONFLICT, "conflict"),
        ErrorClass::InvalidInput => (StatusCode::BAD_REQUEST, "invalid input"),
        ErrorClass::Rejected => (StatusCode::FORBIDDEN, "rejected by the deployment policy"),
        ErrorClass::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    }
}

impl From<LifecycleError> for Problem {
    fn from(error: LifecycleError) -> Self {
        let problem = Self::new(error.class(), error.to_string());
        match error.revision_mismatch() {
            // The model moved since the revision If-Match named.
            Some((_, current)) => Self {
                status: StatusCode::PRECONDITION_FAILED.as_u16(),
                title: "precondition failed",
                current_revision: Some(current),
                ..problem
            },
            None => problem,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (status, [(header::CONTENT_TYPE, PROBLEM_JSON)], body).into_response()
    }
}

/// The largest error body of axum's own refusals read back to be rewrapped.
const REJECTION_TEXT_BYTES: usize = 4096;

/// Middleware: every error answer is a problem. Handlers answer problems
/// themselves; this catches what axum refuses before a handler runs (a
/// path segment that is not UTF-8, say), which it answers in plain text.
pub async fn every_error_a_problem(response: Response) -> Response {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    let status = response.status();
    if is_problem || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), REJECTION_TEXT_BYTES)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let detail = match text.trim() {
        "" => status.canonical_reason().unwrap_or("error").to_string(),
        text => text.to_string(),
    };
    Problem::http(status, detail).into_response()
}
