//! The routing config: what a client needs to route on its own, with an
//! ETag so that polling it costs one header when nothing changed.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lifecycle::{ModelId, ModelStatus, ModelVersion, ServingSpec, Version};
use serde::Serialize;

use crate::{etag, model_revision, AppState, Problem};

/// Every model that serves traffic: its active version and its canary.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingConfig {
    /// The audit chain's last sequence number when this was read: the ETag.
    sequence: u64,
    models: Vec<ModelRoute>,
}

/// One model's routing.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ModelRoute {
    model_id: ModelId,
    revision: u64,
    active: Option<Lane>,
    canary: Option<Lane>,
}

/// A version serving traffic and how to call it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Lane {
    version: Version,
    /// The canary's share in percent; absent for the active version.
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<u8>,
    provider: String,
    serving: ServingSpec,
}

impl Lane {
    fn of(v: &ModelVersion) -> Self {
        Self {
            version: v.version.clone(),
            weight: v.canary_weight().map(|w| w.percent()),
            provider: v.provider.clone(),
            serving: v.resolved_serving(),
        }
    }
}

/// `GET /v1/routing`: 304 when `If-None-Match` names the current sequence.
pub async fn routing(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    // The sequence is read before the versions, so the config is at least
    // as new as its tag: a change after the read gets a new tag next time.
    let sequence = state
        .manager
        .audit_log()
        .head()
        .await
        .map_err(lifecycle::LifecycleError::from)?
        .map_or(0, |head| head.sequence);
    let tag = etag(sequence);
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/").as_bytes() == tag.as_bytes())
        });
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response());
    }
    let versions = state.manager.get_all_model_versions().await?;
    // Versions come by model: one route per model that serves traffic.
    let models = versions
        .chunk_by(|a, b| a.model_id == b.model_id)
        .filter_map(|model| {
            let lane = |status| model.iter().find(|v| v.status() == status).map(Lane::of);
            let (active, canary) = (lane(ModelStatus::Active), lane(ModelStatus::Canary));
            (active.is_some() || canary.is_some()).then(|| ModelRoute {
                model_id: model[0].model_id.clone(),
                revision: model_revision(model),
                active,
                canary,
            })
        })
        .collect();
    Ok((
        [(header::ETAG, tag)],
        Json(RoutingConfig { sequence, models }),
    )
        .into_response())
}
