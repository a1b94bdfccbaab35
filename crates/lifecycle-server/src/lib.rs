//! `lifecycle serve`: the [`ModelLifecycleManager`] over HTTP.
//!
//! Resource-oriented JSON under `/v1`, errors as RFC 9457 problem details
//! ([`Problem`]) whose status comes from the facade's [`ErrorClass`]: the
//! same classes the CLI maps to exit codes. This is the API's first part:
//! models and versions (list with filters and cursors, get, register),
//! every lifecycle move (with `If-Match` on the model's revision), routing,
//! recording results in batches, health and readiness. Tokens and the
//! routing-config protocol come next
//! (docs/server.md says what is there and what is not); until tokens
//! exist, [`check_listen_address`] keeps the server on loopback.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let manager = lifecycle::ModelLifecycleManager::builder().memory().build().await.unwrap();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:7070").await?;
//! lifecycle_server::serve(listener, manager, std::future::pending()).await
//! # }
//! ```
//!
//! [`ErrorClass`]: lifecycle::ErrorClass

mod health;
mod metrics;
mod models;
mod monitor;
mod moves;
mod problem;
mod results;
mod routing;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use lifecycle::ModelLifecycleManager;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use problem::{Problem, PROBLEM_JSON};

/// The largest request body accepted, in bytes: a batch of 10,000 results
/// fits many times over; anything larger is refused with 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    manager: Arc<ModelLifecycleManager>,
    /// False while the server drains: `/readyz` answers 503.
    ready: Arc<AtomicBool>,
    /// The server's own HTTP metrics.
    metrics: metrics::Shared,
}

/// The API as an axum router over `manager` (a handle: the application
/// keeps its own), ready: for tests and for embedding in an application's
/// own server.
pub fn router(manager: ModelLifecycleManager) -> Router {
    app(AppState {
        manager: Arc::new(manager),
        ready: Arc::new(AtomicBool::new(true)),
        metrics: metrics::Shared::default(),
    })
}

fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::scrape))
        .route("/v1/models", get(models::list_models))
        .route("/v1/versions", get(models::list_versions))
        .route(
            "/v1/models/{model}/versions",
            get(models::model_versions).post(models::register),
        )
        .route(
            "/v1/models/{model}/versions/{version}",
            get(models::version),
        )
        .route(
            "/v1/models/{model}/versions/{version}/{move}",
            post(moves::version_move),
        )
        .route("/v1/models/{model}/canary", post(moves::canary_start))
        .route("/v1/models/{model}/canary/{move}", post(moves::canary_move))
        .route("/v1/models/{model}/route", get(models::route))
        .route("/v1/results", post(results::record))
        .route("/v1/routing", get(routing::routing))
        .route("/v1/status", get(monitor::status))
        .route("/v1/warnings", get(monitor::warnings))
        .route("/v1/maintenance", post(monitor::maintenance))
        .route("/v1/audit/recent", get(monitor::recent))
        .route("/v1/audit/verify", post(monitor::verify))
        .route("/v1/models/{model}/history", get(monitor::history))
        .route("/v1/models/{model}/comparison", get(monitor::comparison))
        .route(
            "/v1/models/{model}/versions/{version}/evaluation",
            get(monitor::evaluation),
        )
        .fallback(|| async {
            Problem::http(
                StatusCode::NOT_FOUND,
                "no such endpoint: see docs/server.md for the API",
            )
        })
        .method_not_allowed_fallback(|| async {
            Problem::http(
                StatusCode::METHOD_NOT_ALLOWED,
                "this endpoint does not take that method: see docs/server.md",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(
            problem::every_error_a_problem,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        // Outermost last: the id is set, then copied to the answer, and
        // every request's span carries it.
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// A revision or a sequence number as an entity tag: `"7"`.
fn etag(n: u64) -> axum::http::HeaderValue {
    // Digits and quotes are always a valid header value.
    axum::http::HeaderValue::from_str(&format!("\"{n}\""))
        .unwrap_or(axum::http::HeaderValue::from_static("\"0\""))
}

/// A model's revision: that of its most recently written version, since
/// every commit to a model writes at least one of them.
fn model_revision(versions: &[lifecycle::ModelVersion]) -> u64 {
    versions.iter().map(|v| v.revision).max().unwrap_or(0)
}

/// A request's span: its method, its path and its id — never its query or
/// headers, which may carry keys or tokens.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), id)
}

/// How long requests in flight may take to finish once shutdown begins.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// Serves the API on `listener` until `shutdown` completes, then stops
/// taking connections, answers 503 on `/readyz` to connections still
/// open, and lets requests in flight finish for up to [`DRAIN_DEADLINE`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    manager: ModelLifecycleManager,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_draining(listener, manager, shutdown, DRAIN_DEADLINE).await
}

/// [`serve`], with requests in flight given `deadline` to finish after
/// `shutdown`; those still running then are dropped (their connections
/// closed), and this returns.
pub async fn serve_draining(
    listener: tokio::net::TcpListener,
    manager: ModelLifecycleManager,
    shutdown: impl Future<Output = ()> + Send + 'static,
    deadline: Duration,
) -> std::io::Result<()> {
    let ready = Arc::new(AtomicBool::new(true));
    let state = AppState {
        manager: Arc::new(manager),
        ready: ready.clone(),
        metrics: metrics::Shared::default(),
    };
    let (draining, drained) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app(state)).with_graceful_shutdown(async move {
        shutdown.await;
        ready.store(false, Ordering::SeqCst);
        tracing::info!("shutting down: finishing requests in flight");
        let _ = draining.send(());
    });
    let overdue = async move {
        if drained.await.is_ok() {
            tokio::time::sleep(deadline).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = server => served,
        () = overdue => {
            tracing::warn!(?deadline, "requests still in flight at the drain deadline: dropped");
            Ok(())
        }
    }
}

/// Refuses an address other hosts could reach: the server has no tokens
/// yet, so anyone who reaches it could change what serves traffic.
///
/// ```
/// assert!(lifecycle_server::check_listen_address("127.0.0.1:7070".parse().unwrap()).is_ok());
/// assert!(lifecycle_server::check_listen_address("0.0.0.0:7070".parse().unwrap()).is_err());
/// ```
pub fn check_listen_address(address: SocketAddr) -> Result<(), String> {
    if address.ip().is_loopback() {
        return Ok(());
    }
    Err(format!(
        "--listen {address}: the server has no access tokens yet, so it listens on loopback only \
         (127.0.0.1 or [::1]); put a proxy that authenticates in front of it to reach it from elsewhere"
    ))
}
