//! Lifecycle moves, each optionally at the revision `If-Match` names.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lifecycle::{
    CanaryWeight, Deployed, LifecycleError, ModelLifecycleManager, ModelVersion, Version,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::models::{body_problem, model_id, version_number};
use crate::{etag, AppState, Problem};

/// The moves of one version, as the last path segment.
const VERSION_MOVES: &str =
    "testing, activate, deactivate, deprecate, retire, rollback, can-deploy";
/// The moves of a model's canary.
const CANARY_MOVES: &str = "weight, promote, abort";

/// `activate` and `canary/promote`: the emergency override, with its reason.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Force {
    #[serde(default)]
    force: bool,
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Deprecation {
    reason: String,
    replacement: Option<Version>,
    grace_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Rollback {
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CanaryStart {
    version: Version,
    #[serde(default = "default_weight")]
    weight: i64,
}

fn default_weight() -> i64 {
    5
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Weight {
    weight: i64,
}

/// `POST /v1/models/{model}/versions/{version}/{move}`.
pub async fn version_move(
    State(state): State<AppState>,
    Path((model, number, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let (model, number) = (model_id(&model)?, version_number(&number)?);
    let body = body.map_err(body_problem)?;
    let m = at_revision(&state.manager, &headers)?;
    match action.as_str() {
        "testing" => moved(m.deploy_to_testing(&model, &number).await),
        "deactivate" => moved(m.deactivate_model(&model, &number).await),
        "retire" => moved(m.retire_model(&model, &number).await),
        "activate" => {
            let force: Force = optional(&body)?;
            deployed(match forced(&force)? {
                Some(reason) => m.force_activate_model(&model, &number, reason).await,
                None => m.activate_model(&model, &number).await,
            })
        }
        "deprecate" => {
            let d: Deprecation = required(
                &body,
                "{\"reason\": \"superseded\", \"replacement\": \"1.1.0\", \"graceDays\": 30}",
            )?;
            moved(
                m.deprecate_model(
                    &model,
                    &number,
                    &d.reason,
                    d.replacement.as_ref(),
                    d.grace_days,
                )
                .await,
            )
        }
        "rollback" => {
            let r: Rollback = optional(&body)?;
            let reason = r.reason.as_deref().unwrap_or("rolled back over the API");
            moved(m.rollback_model(&model, &number, reason).await)
        }
        "can-deploy" => Ok(Json(m.can_deploy_model(&model, &number).await?).into_response()),
        other => Err(no_such_move(other, VERSION_MOVES)),
    }
}

/// `POST /v1/models/{model}/canary`: starts one.
pub async fn canary_start(
    State(state): State<AppState>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let model = model_id(&model)?;
    let body = body.map_err(body_problem)?;
    let start: CanaryStart = required(&body, "{\"version\": \"1.1.0\", \"weight\": 5}")?;
    let weight = canary_weight(start.weight)?;
    let m = at_revision(&state.manager, &headers)?;
    moved(m.start_canary(&model, &start.version, weight).await)
}

/// `POST /v1/models/{model}/canary/{move}`: weight, promote, abort.
pub async fn canary_move(
    State(state): State<AppState>,
    Path((model, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let model = model_id(&model)?;
    let body = body.map_err(body_problem)?;
    let m = at_revision(&state.manager, &headers)?;
    match action.as_str() {
        "weight" => {
            let w: Weight = required(&body, "{\"weight\": 25}")?;
            moved(m.set_canary_weight(&model, canary_weight(w.weight)?).await)
        }
        "promote" => {
            let force: Force = optional(&body)?;
            deployed(match forced(&force)? {
                Some(reason) => m.force_promote_canary(&model, reason).await,
                None => m.promote_canary(&model).await,
            })
        }
        "abort" => moved(m.abort_canary(&model).await),
        other => Err(no_such_move(other, CANARY_MOVES)),
    }
}

/// The manager as the request asks: at the revision `If-Match` names
/// (`"7"`, `W/"7"` or `7`), or at whatever revision the model is (`*`, or
/// no `If-Match`).
fn at_revision(
    manager: &ModelLifecycleManager,
    headers: &HeaderMap,
) -> Result<ModelLifecycleManager, Problem> {
    let handle = manager.clone();
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(handle);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(handle);
    }
    let tag = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    tag.parse::<u64>()
        .map(|revision| handle.expecting_revision(revision))
        .map_err(|_| {
            Problem::invalid(
                "If-Match",
                "give the model's revision as the ETag a read returned, such as \"7\"",
            )
        })
}

/// The version after a move: 200 with its JSON and the model's new
/// revision as the ETag.
fn moved(result: Result<ModelVersion, LifecycleError>) -> Result<Response, Problem> {
    let version = result?;
    let tag = etag(version.revision);
    Ok(([(header::ETAG, tag)], Json(version)).into_response())
}

/// An activation or promotion: the version and the policy's decision.
fn deployed(result: Result<Deployed, LifecycleError>) -> Result<Response, Problem> {
    let deployed = result?;
    let tag = etag(deployed.version.revision);
    Ok(([(header::ETAG, tag)], Json(deployed)).into_response())
}

/// The override's reason when `force` asks for one.
fn forced(force: &Force) -> Result<Option<&str>, Problem> {
    match (force.force, force.reason.as_deref()) {
        (false, _) => Ok(None),
        (true, Some(reason)) if !reason.trim().is_empty() => Ok(Some(reason)),
        (true, _) => Err(Problem::invalid(
            "reason",
            "an override needs its reason, {\"force\": true, \"reason\": \"INC-4711: 1.0.0 is down\"}: it is audited",
        )),
    }
}

fn canary_weight(percent: i64) -> Result<CanaryWeight, Problem> {
    // Out of u8's range is out of 1..=99 too: the domain's message says so.
    let clamped = u8::try_from(percent.clamp(0, 255)).unwrap_or(0);
    CanaryWeight::new(clamped).map_err(|_| {
        Problem::invalid(
            "weight",
            format!(
                "{percent} % is outside 1 to 99 %; to send all traffic to the canary, promote it"
            ),
        )
    })
}

/// A body that may be empty (then every field takes its default).
fn optional<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse(body)
}

/// A body that must be given; `example` shows one.
fn required<T: DeserializeOwned>(body: &[u8], example: &str) -> Result<T, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::invalid(
            "body",
            format!("this move needs a JSON body, such as {example}"),
        ));
    }
    parse(body)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(body).map_err(|e| Problem::invalid("body", e.to_string()))
}

fn no_such_move(action: &str, allowed: &str) -> Problem {
    Problem::http(
        StatusCode::NOT_FOUND,
        format!(
            "no move {:?}: POST one of {allowed}",
            lifecycle::domain::shorten(action)
        ),
    )
}
