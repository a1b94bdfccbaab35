//! Prometheus metrics: the server's own HTTP traffic, and per model and
//! version what the evaluator has counted (read at each scrape).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lifecycle::{AlertLevel, ModelStatus};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::{AppState, Problem};

/// The server's own HTTP metrics, shared by every request.
#[derive(Clone)]
pub struct HttpMetrics {
    requests: Family<HttpLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    model: String,
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    model: String,
    version: String,
    kind: String,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            // 0.5 ms to ~16 s, doubling.
            durations: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.000_5, 2.0, 16))
            }),
        }
    }
}

/// Middleware: counts and times every request by its route's template
/// (`/v1/models/{model}/route`, never the ids in it).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let metrics = &state.metrics;
    metrics
        .durations
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&HttpLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// `GET /metrics`: Prometheus's text format.
pub async fn scrape(State(state): State<AppState>) -> Result<Response, Problem> {
    let mut registry = Registry::with_prefix("lifecycle");
    registry.register(
        "http_requests",
        "HTTP requests answered, by method, route template and status",
        state.metrics.requests.clone(),
    );
    registry.register(
        "http_request_duration_seconds",
        "Time to answer an HTTP request, by method and route template",
        state.metrics.durations.clone(),
    );
    versions(&state, &mut registry).await?;
    let mut text = String::new();
    encode(&mut text, &registry)
        .map_err(|e| Problem::new(lifecycle::ErrorClass::Unavailable, e.to_string()))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// Per version: results, failures by kind, canary weight, alert level.
async fn versions(state: &AppState, registry: &mut Registry) -> Result<(), Problem> {
    let results = Family::<VersionLabels, Counter>::default();
    let failures = Family::<FailureLabels, Counter>::default();
    let weights = Family::<VersionLabels, Gauge>::default();
    let alerts = Family::<VersionLabels, Gauge>::default();
    let m = &state.manager;
    for v in m.get_all_model_versions().await? {
        let labels = VersionLabels {
            model: v.model_id.to_string(),
            version: v.version.to_string(),
        };
        if let Some(metrics) = &v.metrics {
            results.get_or_create(&labels).inc_by(metrics.sample_count);
            for (kind, n) in &metrics.failures_by_kind {
                let kind = FailureLabels {
                    model: labels.model.clone(),
                    version: labels.version.clone(),
                    kind: kind.as_str().to_string(),
                };
                failures.get_or_create(&kind).inc_by(*n);
            }
        }
        if v.status() == ModelStatus::Canary {
            let percent = v.canary_weight().map_or(0, |w| w.percent());
            weights.get_or_create(&labels).set(i64::from(percent));
        }
    }
    for (model, version, level) in m.get_system_status().await?.alerts_firing {
        let level = match level {
            AlertLevel::Critical => 2,
            AlertLevel::Warning => 1,
            AlertLevel::Resolved => 0,
        };
        let labels = VersionLabels {
            model: model.to_string(),
            version: version.to_string(),
        };
        alerts.get_or_create(&labels).set(level);
    }
    registry.register("results", "Inference results recorded, by version", results);
    registry.register(
        "failures",
        "Failed inference results, by version and error kind",
        failures,
    );
    registry.register(
        "canary_weight_percent",
        "Each running canary's share of traffic",
        weights,
    );
    registry.register(
        "alert_level",
        "Alerts firing, by version: 1 warning, 2 critical",
        alerts,
    );
    Ok(())
}

/// Shared between handlers through [`AppState`].
pub type Shared = Arc<HttpMetrics>;
