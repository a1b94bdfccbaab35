//! Models and versions: list, get, register, route.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lifecycle::{Lane, ModelId, ModelStatus, ModelVersion, Version};
use serde::{Deserialize, Serialize};

use crate::{etag, model_revision, AppState, Problem};

/// Items per page unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 100;
/// The most items one page holds.
const MAX_LIMIT: usize = 1_000;

/// The statuses a `status` filter may name.
const STATUSES: &str = "inactive, testing, canary, active, deprecated, retired";

/// `GET /v1/versions`'s query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    provider: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// `GET /v1/models`'s query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

/// One page of a list: `nextCursor` is absent on the last.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Every model id, in order, by page.
pub async fn list_models(
    State(state): State<AppState>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page<ModelId>>, Problem> {
    let Query(query) = query.map_err(query_problem)?;
    let limit = limit(query.limit.as_deref())?;
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut models = state.manager.get_models().await?;
    models.sort();
    let start = after.map_or(0, |(model, _)| {
        models.partition_point(|m| m.as_str() <= model.as_str())
    });
    Ok(Json(page(&models[start..], limit, |m| {
        cursor(m.as_str(), "")
    })))
}

/// Every version, filtered by `status` and `provider`, in order, by page.
pub async fn list_versions(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<ModelVersion>>, Problem> {
    let Query(query) = query.map_err(query_problem)?;
    let limit = limit(query.limit.as_deref())?;
    let status = query.status.as_deref().map(status).transpose()?;
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut versions = state.manager.get_all_model_versions().await?;
    versions.retain(|v| {
        status.is_none_or(|s| v.status() == s)
            && query.provider.as_ref().is_none_or(|p| &v.provider == p)
    });
    let start = match after {
        Some((model, number)) => {
            let number = Version::parse(&number)
                .map_err(|_| Problem::invalid("cursor", "not a cursor this server gave out"))?;
            versions
                .partition_point(|v| (v.model_id.as_str(), &v.version) <= (model.as_str(), &number))
        }
        None => 0,
    };
    let versions = &versions[start..];
    Ok(Json(page(versions, limit, |v| {
        cursor(v.model_id.as_str(), &v.version.to_string())
    })))
}

/// The versions of one model, lowest first; the ETag is the model's revision.
pub async fn model_versions(
    State(state): State<AppState>,
    Path(model): Path<String>,
) -> Result<Response, Problem> {
    let model = model_id(&model)?;
    let versions = state.manager.get_model_versions(&model).await?;
    if versions.is_empty() {
        return Err(Problem::new(
            lifecycle::ErrorClass::NotFound,
            format!(
                "no model {model}: register a version first (POST /v1/models/{{model}}/versions)"
            ),
        ));
    }
    let tag = etag(model_revision(&versions));
    Ok(([(header::ETAG, tag)], Json(versions)).into_response())
}

/// One version in full; its ETag is the model's revision, what `If-Match`
/// takes on a move.
pub async fn version(
    State(state): State<AppState>,
    Path((model, number)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let (model, number) = (model_id(&model)?, version_number(&number)?);
    let version = state.manager.get_model(&model, &number).await?;
    let versions = state.manager.get_model_versions(&model).await?;
    let tag = etag(model_revision(&versions));
    Ok(([(header::ETAG, tag)], Json(version)).into_response())
}

/// Registers the version in the body (the library's JSON shape): 201 with
/// the stored record, or a problem naming the field.
pub async fn register(
    State(state): State<AppState>,
    Path(model): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let model = model_id(&model)?;
    let body = body.map_err(body_problem)?;
    let record: ModelVersion = serde_json::from_slice(&body)
        .map_err(|e| Problem::invalid("body", format!("not a model version: {e}")))?;
    if record.model_id != model {
        return Err(Problem::invalid(
            "modelId",
            format!(
                "the body registers {} but the path names {model}: make them the same",
                record.model_id
            ),
        ));
    }
    let stored = state.manager.register_model(record).await?;
    let location = format!(
        "/v1/models/{}/versions/{}",
        encode_segment(stored.model_id.as_str()),
        stored.version
    );
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(stored),
    )
        .into_response())
}

/// `GET /v1/models/{model}/route`'s query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteQuery {
    key: Option<String>,
}

/// Where a request with `key` goes.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteAnswer {
    model_id: ModelId,
    key: String,
    version: Version,
    lane: &'static str,
    provider: String,
    serving: lifecycle::ServingSpec,
    revision: u64,
}

/// The version serving the request key `key` (sticky; the canary for its
/// share of keys), and how to call it.
pub async fn route(
    State(state): State<AppState>,
    Path(model): Path<String>,
    query: Result<Query<RouteQuery>, QueryRejection>,
) -> Result<Json<RouteAnswer>, Problem> {
    let model = model_id(&model)?;
    let Query(query) = query.map_err(query_problem)?;
    let key = query.key.ok_or_else(|| {
        Problem::invalid(
            "key",
            "give the request key to route by, ?key=user-42 (the same key routes the same way)",
        )
    })?;
    state.manager.load_model(&model).await?;
    let routed = state
        .manager
        .route(model.as_str(), key.as_bytes())?
        .ok_or_else(|| {
            Problem::new(
                lifecycle::ErrorClass::NotFound,
                format!("{model} has no active version or canary to route to: activate one first"),
            )
        })?;
    let v = &routed.version;
    Ok(Json(RouteAnswer {
        model_id: model,
        key,
        version: v.version.clone(),
        lane: match routed.lane {
            Lane::Active => "active",
            Lane::Canary => "canary",
        },
        provider: v.provider.clone(),
        serving: v.resolved_serving(),
        revision: v.revision,
    }))
}

/// A model id from a path or a body field, or the problem naming it.
pub fn model_id(text: &str) -> Result<ModelId, Problem> {
    ModelId::new(text).map_err(|e| Problem::invalid("modelId", e.to_string()))
}

/// A version number from a path or a body field, or the problem naming it.
pub fn version_number(text: &str) -> Result<Version, Problem> {
    Version::parse(text).map_err(|e| Problem::invalid("version", e.to_string()))
}

fn status(text: &str) -> Result<ModelStatus, Problem> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|_| {
        Problem::invalid(
            "status",
            format!(
                "{:?} is not a status: use one of {STATUSES}",
                lifecycle::domain::shorten(text)
            ),
        )
    })
}

fn limit(text: Option<&str>) -> Result<usize, Problem> {
    let Some(text) = text else {
        return Ok(DEFAULT_LIMIT);
    };
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(Problem::invalid(
            "limit",
            format!(
                "{:?} is not a page size: give a whole number from 1 to {MAX_LIMIT}",
                lifecycle::domain::shorten(text)
            ),
        )),
    }
}

/// The first `limit` of `items`, with the cursor of the last when more follow.
fn page<T: Clone>(items: &[T], limit: usize, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let items: Vec<T> = items.iter().take(limit + 1).cloned().collect();
    let mut items = items;
    let next_cursor = (items.len() > limit).then(|| {
        items.truncate(limit);
        items.last().map(&cursor_of).unwrap_or_default()
    });
    Page { items, next_cursor }
}

/// An opaque cursor: the hex of the last item's model id and version.
fn cursor(model: &str, number: &str) -> String {
    hex::encode(format!("{model}\n{number}"))
}

fn decode_cursor(text: &str) -> Result<(String, String), Problem> {
    let refused = || {
        Problem::invalid(
            "cursor",
            "not a cursor this server gave out: pass nextCursor from the previous page unchanged",
        )
    };
    let bytes = hex::decode(text).map_err(|_| refused())?;
    let text = String::from_utf8(bytes).map_err(|_| refused())?;
    let (model, number) = text.split_once('\n').ok_or_else(refused)?;
    Ok((model.to_string(), number.to_string()))
}

/// A model id as one path segment (ids may hold `/`).
fn encode_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A query string the handler's type refuses, as a problem.
pub fn query_problem(rejection: QueryRejection) -> Problem {
    Problem::invalid("query", rejection.body_text())
}

/// A body that could not be read (too large, cut off), as a problem.
pub fn body_problem(rejection: BytesRejection) -> Problem {
    Problem::http(
        rejection.status(),
        format!(
            "{}; the limit is {} bytes: send smaller batches",
            rejection.body_text(),
            crate::MAX_BODY_BYTES
        ),
    )
}
