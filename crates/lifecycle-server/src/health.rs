//! Liveness and readiness.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::{AppState, Problem};

/// 200 while the process serves requests at all.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 once the manager has read the store, 503 while the server drains.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, Problem> {
    if !state.ready.load(Ordering::SeqCst) {
        return Err(Problem::http(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down: send requests to another replica",
        ));
    }
    Ok(Json(
        json!({ "status": "ready", "store": state.manager.store_kind() }),
    ))
}
