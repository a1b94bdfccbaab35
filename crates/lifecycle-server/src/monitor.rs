//! Reads about health and history: status, evaluation, comparison,
//! warnings, maintenance, the audit log.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use lifecycle::audit::VerifyReport;
use lifecycle::{
    AuditLogEntry, ComparisonReport, DeprecationWarning, EvaluationReport, LifecycleError,
    MaintenanceReport, StatusReport,
};
use serde::Deserialize;

use crate::models::{model_id, query_problem, version_number};
use crate::{AppState, Problem};

/// The most audit entries one `recent` read returns.
const MAX_RECENT: usize = 1_000;

/// `GET /v1/status`: what serves what, canaries, alerts, warnings, the chain.
pub async fn status(State(state): State<AppState>) -> Result<Json<StatusReport>, Problem> {
    Ok(Json(state.manager.get_system_status().await?.into()))
}

/// `GET /v1/models/{model}/versions/{version}/evaluation`: the window
/// judged against the thresholds.
pub async fn evaluation(
    State(state): State<AppState>,
    Path((model, number)): Path<(String, String)>,
) -> Result<Json<EvaluationReport>, Problem> {
    let (model, number) = (model_id(&model)?, version_number(&number)?);
    state.manager.load_model(&model).await?;
    Ok(Json(state.manager.evaluate_model(model.as_str(), &number)?))
}

/// `GET /v1/models/{model}/comparison`'s query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sides {
    baseline: Option<String>,
    candidate: Option<String>,
}

/// `GET /v1/models/{model}/comparison?baseline=1.0.0&candidate=1.1.0`:
/// the canary judge.
pub async fn comparison(
    State(state): State<AppState>,
    Path(model): Path<String>,
    query: Result<Query<Sides>, QueryRejection>,
) -> Result<Json<ComparisonReport>, Problem> {
    let model = model_id(&model)?;
    let Query(sides) = query.map_err(query_problem)?;
    let side = |value: Option<String>, field: &'static str| {
        let value = value.ok_or_else(|| {
            Problem::invalid(
                field,
                format!("give ?baseline=1.0.0&candidate=1.1.0 ({field} is missing)"),
            )
        })?;
        version_number(&value).map_err(|p| Problem {
            field: Some(field),
            ..p
        })
    };
    let baseline = side(sides.baseline, "baseline")?;
    let candidate = side(sides.candidate, "candidate")?;
    state.manager.load_model(&model).await?;
    Ok(Json(state.manager.compare_versions(
        model.as_str(),
        &baseline,
        &candidate,
    )?))
}

/// `GET /v1/warnings`: every version with an end of life, most urgent first.
pub async fn warnings(
    State(state): State<AppState>,
) -> Result<Json<Vec<DeprecationWarning>>, Problem> {
    Ok(Json(state.manager.get_deprecation_warnings().await?))
}

/// `POST /v1/maintenance`: retires what is past its end of life and serves nothing.
pub async fn maintenance(
    State(state): State<AppState>,
) -> Result<Json<MaintenanceReport>, Problem> {
    Ok(Json(state.manager.run_maintenance().await?))
}

/// `GET /v1/audit/recent`'s query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recent {
    limit: Option<String>,
}

/// `GET /v1/audit/recent?limit=20`: the newest entries, newest first.
pub async fn recent(
    State(state): State<AppState>,
    query: Result<Query<Recent>, QueryRejection>,
) -> Result<Json<Vec<AuditLogEntry>>, Problem> {
    let Query(query) = query.map_err(query_problem)?;
    let limit = match query.limit.as_deref() {
        None => 20,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_RECENT).contains(n))
            .ok_or_else(|| {
                Problem::invalid(
                    "limit",
                    format!(
                        "{:?} is not a count of entries: give 1 to {MAX_RECENT}",
                        lifecycle::domain::shorten(text)
                    ),
                )
            })?,
    };
    Ok(Json(state.manager.get_recent_audit_entries(limit).await?))
}

/// `GET /v1/models/{model}/history`: everything recorded about a model, oldest first.
pub async fn history(
    State(state): State<AppState>,
    Path(model): Path<String>,
) -> Result<Json<Vec<AuditLogEntry>>, Problem> {
    let model = model_id(&model)?;
    Ok(Json(state.manager.get_model_history(&model).await?))
}

/// `POST /v1/audit/verify`: re-hashes the whole chain and replays it.
pub async fn verify(State(state): State<AppState>) -> Result<Json<VerifyReport>, Problem> {
    let report = state
        .manager
        .audit_log()
        .verify()
        .await
        .map_err(LifecycleError::from)?;
    Ok(Json(report))
}
