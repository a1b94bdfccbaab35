//! Two servers on one PostgreSQL database, as two replicas behind a load
//! balancer: a change made through one is routed by the other within the
//! change feed's bound, and a move decided on a stale read of one is
//! refused by the other.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use lifecycle::{
    Loading, ModelCapabilities, ModelId, ModelLifecycleManager, ModelVersion, Version,
};
use lifecycle_store_postgres::testing::{available, drop_database, fresh_database};
use reqwest::StatusCode;
use serde_json::Value;

/// A server on a free loopback port over the database at `url`, following
/// what other processes commit as `lifecycle serve` does.
async fn serve(url: &str) -> String {
    let manager = ModelLifecycleManager::builder()
        .postgres(url)
        .loading(Loading::AtStart)
        .change_poll_interval(Some(Duration::from_secs(1)))
        .build()
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(lifecycle_server::serve(
        listener,
        manager,
        std::future::pending(),
    ));
    base
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value, Option<String>) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let tag = response
        .headers()
        .get("etag")
        .map(|t| t.to_str().unwrap().to_string());
    (status, response.json().await.unwrap(), tag)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_server_is_routed_by_the_other() {
    if !available() {
        return;
    }
    let url = fresh_database("server-replicas").await;
    let (a, b) = (serve(&url).await, serve(&url).await);
    let http = reqwest::Client::new();

    let version = ModelVersion::new(
        ModelId::new("gpt").unwrap(),
        Version::new(1, 0, 0),
        "openai",
        ModelCapabilities::new(128_000, 4_096),
        None,
        lifecycle::chrono::DateTime::UNIX_EPOCH,
    );
    let (status, body, _) = send(
        http.post(format!("{a}/v1/models/gpt/versions"))
            .json(&version),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, _, read) = send(http.get(format!("{a}/v1/models/gpt/versions/1.0.0"))).await;
    let read = read.unwrap();
    let (status, body, _) = send(
        http.post(format!("{a}/v1/models/gpt/versions/1.0.0/activate"))
            .header("If-Match", &read),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The other server routes it within the change feed's bound.
    let started = Instant::now();
    loop {
        let (status, routed, _) =
            send(http.get(format!("{b}/v1/models/gpt/route?key=user-1"))).await;
        if status == StatusCode::OK {
            assert_eq!(routed["version"], "1.0.0");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "server b never routed the activation made through a: {routed}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, config, _) = send(http.get(format!("{b}/v1/routing"))).await;
    assert_eq!(
        config["models"][0]["active"]["version"], "1.0.0",
        "{config}"
    );

    // A move decided on the read made before the activation is refused by
    // the other server too: the revision lives in the shared store.
    let (status, body, _) = send(
        http.post(format!("{b}/v1/models/gpt/versions/1.0.0/deactivate"))
            .header("If-Match", &read),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    assert_eq!(body["currentRevision"], 2, "{body}");
    drop_database("server-replicas");
}
