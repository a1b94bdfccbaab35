//! Recording inference results in batches.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use lifecycle::{InferenceResult, ModelId, ResultLine, Version};
use serde::Serialize;

use crate::models::{body_problem, model_id, version_number};
use crate::{AppState, Problem};

/// The most results one batch may hold.
pub const MAX_BATCH: usize = 10_000;

/// The header naming a batch so that a retried batch counts once.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// What a batch did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recorded {
    /// Results counted by this request.
    recorded: usize,
    /// The batch's idempotency key had been recorded before: nothing counted again.
    duplicate: bool,
}

/// Records a batch all or nothing: a JSON array of results, or NDJSON
/// (`Content-Type: application/x-ndjson`). With an `Idempotency-Key`, a
/// batch sent again counts once.
pub async fn record(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Recorded>, Problem> {
    let body = body.map_err(body_problem)?;
    let ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-ndjson"));
    let items = if ndjson { lines(&body)? } else { array(&body)? };
    if items.len() > MAX_BATCH {
        return Err(Problem::invalid(
            "body",
            format!(
                "{} results in one batch; send at most {MAX_BATCH} per request",
                items.len()
            ),
        ));
    }
    let results = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| checked(item).map_err(|p| at_item(p, i)))
        .collect::<Result<Vec<_>, Problem>>()?;
    let recorded = results.len();
    let Some(key) = headers.get(IDEMPOTENCY_KEY) else {
        record_each(&state, &results).await?;
        return Ok(Json(Recorded {
            recorded,
            duplicate: false,
        }));
    };
    match state
        .manager
        .record_batch(&results, &idempotency_key(key)?)
        .await
    {
        Ok(_) => Ok(Json(Recorded {
            recorded,
            duplicate: false,
        })),
        Err(e) if e.is_batch_recorded() => Ok(Json(Recorded {
            recorded: 0,
            duplicate: true,
        })),
        Err(e) => Err(e.into()),
    }
}

/// Records results without a batch mark (marks are kept, so only batches
/// that ask to be counted once leave one): every version is read first, so
/// that a batch naming an unknown version records nothing.
async fn record_each(
    state: &AppState,
    results: &[(ModelId, Version, InferenceResult)],
) -> Result<(), Problem> {
    let m = &state.manager;
    let mut models: Vec<&ModelId> = results.iter().map(|(model, _, _)| model).collect();
    models.sort_unstable();
    models.dedup();
    for model in models {
        m.load_model(model).await?;
    }
    for (i, (model, number, _)) in results.iter().enumerate() {
        if !m.evaluator().tracks(model.as_str(), number) {
            // Names the version the way every read does (not found, retired...).
            m.get_model(model, number)
                .await
                .map_err(|e| at_item(e.into(), i))?;
            return Err(at_item(
                Problem::new(
                    lifecycle::ErrorClass::Conflict,
                    format!("{model} {number} takes no results"),
                ),
                i,
            ));
        }
    }
    for (model, number, result) in results {
        m.record_inference(model.as_str(), number, result)?;
    }
    Ok(())
}

fn array(body: &[u8]) -> Result<Vec<ResultLine>, Problem> {
    serde_json::from_slice(body).map_err(|e| {
        Problem::invalid(
            "body",
            format!("not a JSON array of results: {e} (NDJSON needs Content-Type: application/x-ndjson)"),
        )
    })
}

fn lines(body: &[u8]) -> Result<Vec<ResultLine>, Problem> {
    body.split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(i, line)| {
            serde_json::from_slice(line)
                .map_err(|e| Problem::invalid("body", format!("line {}: not a result: {e}", i + 1)))
        })
        .collect()
}

fn checked(item: ResultLine) -> Result<(ModelId, Version, InferenceResult), Problem> {
    let result = item.result().map_err(|why| Problem::invalid("at", why))?;
    result
        .validate()
        .map_err(|e| Problem::invalid("result", e.to_string()))?;
    Ok((
        model_id(&item.model_id)?,
        version_number(&item.version)?,
        result,
    ))
}

/// The problem of result `index` (0-based), naming it.
fn at_item(problem: Problem, index: usize) -> Problem {
    Problem {
        detail: format!("result {index}: {}", problem.detail),
        ..problem
    }
}

/// The longest idempotency key, in bytes.
const MAX_KEY_LEN: usize = 200;

fn idempotency_key(value: &axum::http::HeaderValue) -> Result<String, Problem> {
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= MAX_KEY_LEN => Ok(key.to_string()),
        _ => Err(Problem::invalid(
            "Idempotency-Key",
            format!("give 1 to {MAX_KEY_LEN} visible ASCII characters, a UUID say"),
        )),
    }
}
