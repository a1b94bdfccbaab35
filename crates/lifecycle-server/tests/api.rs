//! The API over a real loopback socket, driven by an HTTP client as any
//! other program would: every answer's status, body and problem details.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifecycle::{
    Decimal, ModelCapabilities, ModelCostInfo, ModelId, ModelLifecycleManager, ModelVersion,
    Version,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// A server on a free loopback port over a memory store; the manager
/// handle lets a test look behind the API.
struct Running {
    base: String,
    manager: ModelLifecycleManager,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start() -> Running {
    let manager = ModelLifecycleManager::builder()
        .memory()
        .build()
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = manager.clone();
    let served = tokio::spawn(lifecycle_server::serve(listener, handle, async {
        let _ = stopped.await;
    }));
    Running {
        base,
        manager,
        http: reqwest::Client::new(),
        stop: Some(stop),
        served,
    }
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        answer(self.http.get(self.url(path)).send().await.unwrap()).await
    }

    async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        answer(
            self.http
                .post(self.url(path))
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// `gpt` 1.0.0 active and 2.0.0 its canary at `weight` %, moved
    /// through the manager (behind the API).
    async fn canary_at(&self, weight: u8) {
        self.register("gpt", "1.0.0").await;
        self.register("gpt", "2.0.0").await;
        let (m, gpt) = (&self.manager, ModelId::new("gpt").unwrap());
        m.activate_model(&gpt, &Version::new(1, 0, 0))
            .await
            .unwrap();
        m.deploy_to_testing(&gpt, &Version::new(2, 0, 0))
            .await
            .unwrap();
        let weight = lifecycle::CanaryWeight::new(weight).unwrap();
        m.start_canary(&gpt, &Version::new(2, 0, 0), weight)
            .await
            .unwrap();
    }

    async fn register(&self, model: &str, number: &str) -> (StatusCode, Value) {
        let path = format!("/v1/models/{}/versions", model.replace('/', "%2F"));
        self.post(&path, &version_json(model, number)).await
    }
}

/// The status and the JSON body; a problem must say it is one.
async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let media = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body: Value = response.json().await.unwrap();
    if !status.is_success() {
        assert_eq!(media, "application/problem+json", "{status}: {body}");
        assert_eq!(body["status"], status.as_u16(), "{body}");
        assert!(!body["detail"].as_str().unwrap().is_empty(), "{body}");
    }
    (status, body)
}

fn version_json(model: &str, number: &str) -> Value {
    let v = ModelVersion::new(
        ModelId::new(model).unwrap(),
        Version::parse(number).unwrap(),
        "openai",
        ModelCapabilities::new(128_000, 4_096),
        ModelCostInfo::usd(lifecycle::dec!(0.0025), lifecycle::dec!(0.01)),
        lifecycle::chrono::DateTime::UNIX_EPOCH,
    );
    serde_json::to_value(v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_registered_read_and_refused_twice() {
    let s = start().await;
    let (status, body) = s.register("openai/gpt-4o", "1.0.0").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "inactive");
    assert_eq!(body["revision"], 1);

    let (status, body) = s.get("/v1/models/openai%2Fgpt-4o/versions/1.0.0").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["modelId"], "openai/gpt-4o");
    assert_eq!(body["provider"], "openai");

    let (status, body) = s.register("openai/gpt-4o", "1.0.0").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["class"], "conflict");

    let (status, body) = s.get("/v1/models/openai%2Fgpt-4o/versions/9.9.9").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = s.get("/v1/models/openai%2Fgpt-4o/versions/v1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "version");

    // The body's model must be the path's.
    let (status, body) = s
        .post(
            "/v1/models/other/versions",
            &version_json("openai/gpt-4o", "2.0.0"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "modelId");
    // An unknown field is named.
    let mut extra = version_json("m", "1.0.0");
    extra["colour"] = json!("blue");
    let (status, body) = s.post("/v1/models/m/versions", &extra).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("colour"),
        "{body}"
    );
    assert!(
        s.manager.get_models().await.unwrap().len() == 1,
        "refusals registered nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_by_cursor_without_gaps_or_repeats() {
    let s = start().await;
    for (model, number) in [
        ("a", "1.0.0"),
        ("a", "1.1.0"),
        ("b", "1.0.0"),
        ("c/d", "1.0.0"),
        ("e", "2.0.0"),
    ] {
        assert_eq!(s.register(model, number).await.0, StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut path = "/v1/versions?limit=2".to_string();
    loop {
        let (status, body) = s.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|v| {
            format!(
                "{} {}",
                v["modelId"].as_str().unwrap(),
                v["version"].as_str().unwrap()
            )
        }));
        match body["nextCursor"].as_str() {
            Some(cursor) => path = format!("/v1/versions?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["a 1.0.0", "a 1.1.0", "b 1.0.0", "c/d 1.0.0", "e 2.0.0"]
    );

    let (_, models) = s.get("/v1/models?limit=3").await;
    assert_eq!(models["items"], json!(["a", "b", "c/d"]));
    let cursor = models["nextCursor"].as_str().unwrap();
    let (_, rest) = s.get(&format!("/v1/models?cursor={cursor}")).await;
    assert_eq!(rest["items"], json!(["e"]));
    assert!(rest.get("nextCursor").is_none(), "{rest}");

    let (_, filtered) = s
        .get("/v1/versions?status=inactive&provider=anthropic")
        .await;
    assert_eq!(filtered["items"], json!([]));
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("status=live", "status"),
        ("cursor=zz", "cursor"),
        ("colour=blue", "query"),
    ] {
        let (status, body) = s.get(&format!("/v1/versions?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["field"], field, "{query}: {body}");
    }
    let (_, body) = s.get("/v1/versions?status=live").await;
    assert!(
        body["detail"].as_str().unwrap().contains("deprecated"),
        "names the allowed values: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_answers_what_serves_and_how_to_call_it() {
    let s = start().await;
    s.register("gpt", "1.0.0").await;
    let (status, body) = s.get("/v1/models/gpt/route?key=user-1").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing active yet: {body}");
    let (status, body) = s.get("/v1/models/gpt/route").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "key");

    let model = ModelId::new("gpt").unwrap();
    s.manager
        .activate_model(&model, &Version::new(1, 0, 0))
        .await
        .unwrap();
    let (status, body) = s.get("/v1/models/gpt/route?key=user-1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], "1.0.0");
    assert_eq!(body["lane"], "active");
    assert_eq!(body["serving"]["providerModel"], "gpt");
    assert_eq!(body["revision"], 2, "the revision of the activation");
}

fn samples(s: &Running) -> u64 {
    let m = ModelId::new("gpt").unwrap();
    s.manager
        .evaluator()
        .lifetime_metrics(m.as_str(), &Version::new(1, 0, 0))
        .map_or(0, |metrics| metrics.sample_count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn result_batches_count_once_and_all_or_nothing() {
    let s = start().await;
    s.register("gpt", "1.0.0").await;
    let ok = json!({"modelId": "gpt", "version": "1.0.0", "success": true, "latencyMs": 420.0});
    let failed = json!({"modelId": "gpt", "version": "1.0.0", "success": false, "latencyMs": 30.0, "errorKind": "rate_limited"});

    let (status, body) = s.post("/v1/results", &json!([ok, failed])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recorded"], 2);
    assert_eq!(samples(&s), 2);

    // Sent twice with one key: counted once.
    for duplicate in [false, true] {
        let response = s
            .http
            .post(s.url("/v1/results"))
            .header("Idempotency-Key", "batch-7")
            .json(&json!([ok, ok, ok]))
            .send()
            .await
            .unwrap();
        let (status, body) = answer(response).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["duplicate"], duplicate, "{body}");
    }
    assert_eq!(samples(&s), 5);

    // NDJSON, blank lines allowed.
    let ndjson = format!("{ok}\n\n{failed}\n");
    let response = s
        .http
        .post(s.url("/v1/results"))
        .header("Content-Type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .unwrap();
    assert_eq!(answer(response).await.1["recorded"], 2);
    assert_eq!(samples(&s), 7);

    // One bad result refuses the whole batch, naming it.
    let negative =
        json!({"modelId": "gpt", "version": "1.0.0", "success": true, "latencyMs": -1.0});
    let (status, body) = s.post("/v1/results", &json!([ok, negative])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"].as_str().unwrap().starts_with("result 1:"),
        "{body}"
    );
    let unknown = json!({"modelId": "gpt", "version": "9.0.0", "success": true, "latencyMs": 1.0});
    let (status, body) = s.post("/v1/results", &json!([ok, unknown])).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["detail"].as_str().unwrap().starts_with("result 1:"),
        "{body}"
    );
    let bad_time =
        json!({"modelId": "gpt", "version": "1.0.0", "success": true, "latencyMs": 1.0, "at": 5});
    let (status, body) = s.post("/v1/results", &json!([bad_time])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "at", "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("RFC 3339"),
        "{body}"
    );
    let (status, body) = s.post("/v1/results", &json!({"not": "an array"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(samples(&s), 7, "refused batches recorded nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anything_else_gets_a_problem_and_shutdown_is_graceful() {
    let mut s = start().await;
    assert_eq!(s.get("/healthz").await.0, StatusCode::OK);
    let (status, body) = s.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(s.get("/v2/nothing").await.0, StatusCode::NOT_FOUND);
    // Refused before any handler runs (a path segment that is not UTF-8):
    // still a problem, on reads and moves alike.
    assert_eq!(
        s.get("/v1/models/%FF/versions").await.0,
        StatusCode::BAD_REQUEST
    );
    let response = s
        .http
        .post(s.url("/v1/models/%FF/versions/1.0.0/retire"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer(response).await.0, StatusCode::BAD_REQUEST);
    let response = s.http.delete(s.url("/v1/results")).send().await.unwrap();
    assert_eq!(answer(response).await.0, StatusCode::METHOD_NOT_ALLOWED);

    let huge = vec![b' '; lifecycle_server::MAX_BODY_BYTES + 1];
    let response = s
        .http
        .post(s.url("/v1/results"))
        .body(huge)
        .send()
        .await
        .unwrap();
    let (status, body) = answer(response).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    s.stop.take().unwrap().send(()).unwrap();
    let healthz = s.url("/healthz");
    s.served.await.unwrap().unwrap();
    assert!(
        s.http.get(healthz).send().await.is_err(),
        "no longer listening"
    );
}

#[test]
fn the_server_stays_on_loopback_until_it_has_tokens() {
    for address in ["127.0.0.1:7070", "[::1]:7070"] {
        assert!(lifecycle_server::check_listen_address(address.parse().unwrap()).is_ok());
    }
    for address in ["0.0.0.0:7070", "10.1.2.3:80", "[::]:7070"] {
        let refused = lifecycle_server::check_listen_address(address.parse().unwrap()).unwrap_err();
        assert!(refused.contains("loopback"), "{refused}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_happen_only_at_the_revision_if_match_names() {
    let s = start().await;
    s.register("gpt", "1.0.0").await;
    s.register("gpt", "2.0.0").await;
    let read = s
        .http
        .get(s.url("/v1/models/gpt/versions/1.0.0"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        read.headers()["etag"],
        "\"2\"",
        "the model's revision after two registrations"
    );

    let post = |path: &str, tag: Option<&str>, body: Option<Value>| {
        let mut request = s.http.post(s.url(path));
        if let Some(tag) = tag {
            request = request.header("If-Match", tag);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { answer(request.send().await.unwrap()).await }
    };
    let (status, body) = post(
        "/v1/models/gpt/versions/1.0.0/activate",
        Some("\"1\""),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    assert_eq!(body["currentRevision"], 2, "{body}");
    let unchanged = s
        .manager
        .get_model(&ModelId::new("gpt").unwrap(), &Version::new(1, 0, 0))
        .await
        .unwrap();
    assert_eq!(
        unchanged.status().to_string(),
        "inactive",
        "a refused move changes nothing"
    );

    let (status, body) = post(
        "/v1/models/gpt/versions/1.0.0/activate",
        Some("\"2\""),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"]["status"], "active");
    assert_eq!(body["decision"]["approved"], true, "{body}");

    // A canary's life over the API, without If-Match (any revision).
    let (status, body) = post("/v1/models/gpt/versions/2.0.0/testing", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post(
        "/v1/models/gpt/canary",
        None,
        Some(json!({"version": "2.0.0", "weight": 10})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "canary");
    assert_eq!(body["canaryWeight"], 10);
    let (status, body) = post(
        "/v1/models/gpt/canary/weight",
        Some("W/\"5\""),
        Some(json!({"weight": 25})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "a weak tag is read too: {body}");
    assert_eq!(body["canaryWeight"], 25);
    for weight in [0, 100, 300, -1] {
        let (status, body) = post(
            "/v1/models/gpt/canary/weight",
            None,
            Some(json!({"weight": weight})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{weight}: {body}");
        assert_eq!(body["field"], "weight", "{body}");
    }
    let (status, body) = post("/v1/models/gpt/canary/abort", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Refusals, each naming what to send.
    let (status, body) = post("/v1/models/gpt/versions/1.0.0/retire", None, None).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "the active version cannot retire: {body}"
    );
    let (status, body) = post("/v1/models/gpt/versions/1.0.0/deprecate", None, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "body");
    let (status, body) = post(
        "/v1/models/gpt/versions/2.0.0/activate",
        None,
        Some(json!({"force": true})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "reason");
    let (status, body) = post("/v1/models/gpt/versions/1.0.0/explode", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("activate"),
        "{body}"
    );
    let (status, body) = post(
        "/v1/models/gpt/versions/1.0.0/deactivate",
        Some("seven"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "If-Match");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routing_config_is_polled_by_etag_and_routes_as_the_server_does() {
    let s = start().await;
    let poll = |tag: Option<String>| {
        let mut request = s.http.get(s.url("/v1/routing"));
        if let Some(tag) = tag {
            request = request.header("If-None-Match", tag);
        }
        async move { request.send().await.unwrap() }
    };
    let first = poll(None).await;
    assert_eq!(first.status(), StatusCode::OK);
    let tag = first.headers()["etag"].to_str().unwrap().to_string();
    let (_, config) = answer(first).await;
    assert_eq!(config["models"], json!([]));
    assert_eq!(
        poll(Some(tag.clone())).await.status(),
        StatusCode::NOT_MODIFIED
    );

    s.register("idle", "1.0.0").await;
    s.canary_at(30).await;

    let changed = poll(Some(tag.clone())).await;
    assert_eq!(
        changed.status(),
        StatusCode::OK,
        "a change gives a new config"
    );
    let new_tag = changed.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(new_tag, tag);
    let (_, config) = answer(changed).await;
    let models = config["models"].as_array().unwrap();
    assert_eq!(
        models.len(),
        1,
        "a model serving nothing is left out: {config}"
    );
    let route = &models[0];
    assert_eq!(route["modelId"], "gpt");
    assert_eq!(route["revision"], 5);
    assert_eq!(route["active"]["version"], "1.0.0");
    assert_eq!(route["canary"]["version"], "2.0.0");
    assert_eq!(route["canary"]["weight"], 30);
    assert_eq!(
        poll(Some(format!("W/{new_tag}"))).await.status(),
        StatusCode::NOT_MODIFIED
    );

    // The documented rule — the canary serves keys whose bucket is below
    // 100 × weight — routes every key as the server's route endpoint does.
    for i in 0..100 {
        let key = format!("user-{i}");
        let local = match lifecycle::registry::bucket(key.as_bytes()) < 30 * 100 {
            true => "canary",
            false => "active",
        };
        let (_, routed) = s.get(&format!("/v1/models/gpt/route?key={key}")).await;
        assert_eq!(routed["lane"], local, "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_history_read_as_the_cli_shows_them() {
    let s = start().await;
    s.register("gpt", "1.0.0").await;
    s.register("gpt", "2.0.0").await;
    let gpt = ModelId::new("gpt").unwrap();
    s.manager
        .activate_model(&gpt, &Version::new(1, 0, 0))
        .await
        .unwrap();
    let ok = |version: &str| json!({"modelId": "gpt", "version": version, "success": true, "latencyMs": 400.0});
    let batch: Vec<Value> = (0..60)
        .map(|_| ok("1.0.0"))
        .chain((0..60).map(|_| ok("2.0.0")))
        .collect();
    assert_eq!(s.post("/v1/results", &json!(batch)).await.0, StatusCode::OK);

    let (status, body) = s.get("/v1/status").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["models"], 1);
    assert_eq!(
        body["active"],
        json!([{"modelId": "gpt", "version": "1.0.0"}])
    );
    assert_eq!(body["auditChainVerified"], true);
    assert_eq!(body["versionsByStatus"]["inactive"], 1);

    let (status, body) = s.get("/v1/models/gpt/versions/1.0.0/evaluation").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["metrics"]["sampleCount"], 60, "{body}");

    let (status, body) = s
        .get("/v1/models/gpt/comparison?baseline=1.0.0&candidate=2.0.0")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["verdict"].is_string(), "{body}");
    let (status, body) = s.get("/v1/models/gpt/comparison?baseline=1.0.0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "candidate");
    let (_, body) = s
        .get("/v1/models/gpt/comparison?baseline=1.0.0&candidate=two")
        .await;
    assert_eq!(body["field"], "candidate", "{body}");

    let (status, body) = s.get("/v1/warnings").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!([]));
    let (status, body) = s.post("/v1/maintenance", &json!(null)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["retired"], json!([]));

    let (_, recent) = s.get("/v1/audit/recent?limit=2").await;
    let kinds: Vec<&str> = recent
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 2, "{recent}");
    assert!(kinds.contains(&"modelActivated"), "{recent}");
    let (status, body) = s.get("/v1/audit/recent?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "limit");
    let (_, history) = s.get("/v1/models/gpt/history").await;
    assert_eq!(history.as_array().unwrap().len(), 4, "{history}");
    let (status, body) = s.post("/v1/audit/verify", &json!(null)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["broken"], Value::Null, "{body}");
    assert!(body["entriesChecked"].as_u64().unwrap() >= 4, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_still_in_flight_at_the_drain_deadline_does_not_hold_shutdown() {
    use tokio::io::AsyncWriteExt;
    let manager = ModelLifecycleManager::builder()
        .memory()
        .build()
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(lifecycle_server::serve_draining(
        listener,
        manager,
        async {
            let _ = stopped.await;
        },
        std::time::Duration::from_millis(300),
    ));
    // A request whose body never finishes arriving: in flight for ever.
    let mut stuck = tokio::net::TcpStream::connect(address).await.unwrap();
    stuck
        .write_all(b"POST /v1/results HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[")
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), served).await;
    assert!(ended.is_ok(), "shutdown waited past the drain deadline");
    ended.unwrap().unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id() {
    let s = start().await;
    let given = s
        .http
        .get(s.url("/healthz"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(
        given.headers()["x-request-id"],
        "trace-42",
        "the client's id is kept"
    );
    let mut made = Vec::new();
    for path in ["/healthz", "/v1/nothing"] {
        let answer = s.http.get(s.url(path)).send().await.unwrap();
        made.push(
            answer.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(made[0].len(), 36, "a UUID: {}", made[0]);
    assert_ne!(made[0], made[1], "one id per request, problems included");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_results_by_version_and_requests_by_route() {
    let s = start().await;
    s.canary_at(10).await;
    let results = json!([
        {"modelId": "gpt", "version": "1.0.0", "success": true, "latencyMs": 400.0},
        {"modelId": "gpt", "version": "1.0.0", "success": false, "latencyMs": 10.0, "errorKind": "rateLimited"},
        {"modelId": "gpt", "version": "1.0.0", "success": false, "latencyMs": 10.0, "errorKind": "timeout"},
    ]);
    assert_eq!(s.post("/v1/results", &results).await.0, StatusCode::OK);
    assert_eq!(s.get("/v1/models/gpt/route?key=u").await.0, StatusCode::OK);
    assert_eq!(s.get("/v1/models/gpt/route?key=v").await.0, StatusCode::OK);

    let scraped = s.http.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    let text = scraped.text().await.unwrap();
    for line in [
        r#"lifecycle_results_total{model="gpt",version="1.0.0"} 3"#,
        r#"lifecycle_failures_total{model="gpt",version="1.0.0",kind="rateLimited"} 1"#,
        r#"lifecycle_failures_total{model="gpt",version="1.0.0",kind="timeout"} 1"#,
        r#"lifecycle_canary_weight_percent{model="gpt",version="2.0.0"} 10"#,
        r#"lifecycle_http_requests_total{method="POST",route="/v1/results",status="200"} 1"#,
        r#"lifecycle_http_requests_total{method="GET",route="/v1/models/{model}/route",status="200"} 2"#,
    ] {
        assert!(text.contains(line), "{line} not in:\n{text}");
    }
    assert!(
        text.contains("lifecycle_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(!text.contains("key="), "no request key in any label");
}
