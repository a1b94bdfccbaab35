//! Alerts fire on changes of health only, resolve, respect the consecutive
//! violations setting, and tell a lagging subscriber what it missed.

use std::sync::Arc;

use crate::common::{evaluator, record, record_of, t0};
use lifecycle_domain::chrono::Duration;
use lifecycle_domain::{
    ErrorKind, EvaluationConfig, EvaluationSettings, InferenceResult, ModelId, Threshold,
};
use lifecycle_evaluator::{AlertLevel, Evaluator};
use lifecycle_store::ManualClock;
use tokio::sync::broadcast::error::TryRecvError;

#[test]
fn a_burst_of_failures_alerts_once_and_resolves_once() {
    let (evaluator, clock) = evaluator(&["m"]);
    let mut alerts = evaluator.subscribe_alerts();
    record(&evaluator, "m", 10, InferenceResult::success(200.0));
    assert!(
        evaluator.check_alerts().is_empty(),
        "too few samples: no verdict, no alert"
    );
    record(&evaluator, "m", 1_000, InferenceResult::success(200.0));
    assert!(
        evaluator.check_alerts().is_empty(),
        "healthy from the start: nothing to say"
    );
    clock.advance(Duration::minutes(11));
    record(
        &evaluator,
        "m",
        100,
        InferenceResult::failure(ErrorKind::ServerError, 20.0),
    );
    let fired = evaluator.check_alerts();
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].level, AlertLevel::Critical);
    assert_eq!(fired[0].threshold, Some(Threshold::MaxErrorRate));
    assert_eq!((fired[0].observed, fired[0].limit), (Some(1.0), Some(0.05)));
    assert!(
        fired[0].message.contains("maximum error rate"),
        "{}",
        fired[0].message
    );
    for _ in 0..5 {
        record(
            &evaluator,
            "m",
            100,
            InferenceResult::failure(ErrorKind::ServerError, 20.0),
        );
        assert!(
            evaluator.check_alerts().is_empty(),
            "no storm while it stays critical"
        );
    }
    clock.advance(Duration::minutes(11));
    record(&evaluator, "m", 100, InferenceResult::success(200.0));
    let resolved = evaluator.check_alerts();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].level, AlertLevel::Resolved);
    let received: Vec<AlertLevel> = std::iter::from_fn(|| alerts.try_recv().ok())
        .map(|a| a.level)
        .collect();
    assert_eq!(received, [AlertLevel::Critical, AlertLevel::Resolved]);
}

#[test]
fn near_a_limit_warns_before_it_breaks() {
    let (evaluator, clock) = evaluator(&["m"]);
    record(&evaluator, "m", 100, InferenceResult::success(4_700.0)); // p95 at 94 % of 5,000
    let warned = evaluator.check_alerts();
    assert_eq!(warned.len(), 1);
    assert_eq!(warned[0].level, AlertLevel::Warning);
    assert!(matches!(
        warned[0].threshold,
        Some(Threshold::MaxLatency(_))
    ));
    clock.advance(Duration::minutes(11));
    record(&evaluator, "m", 100, InferenceResult::success(6_000.0));
    assert_eq!(evaluator.check_alerts()[0].level, AlertLevel::Critical);
    clock.advance(Duration::minutes(11));
    record(&evaluator, "m", 100, InferenceResult::success(300.0));
    assert_eq!(evaluator.check_alerts()[0].level, AlertLevel::Resolved);
}

#[test]
fn critical_waits_for_the_configured_consecutive_violations() {
    let clock = Arc::new(ManualClock::new(t0()));
    let config = EvaluationConfig::new(EvaluationSettings {
        consecutive_violations_for_critical: 3,
        ..EvaluationSettings::default()
    })
    .unwrap();
    let evaluator = Evaluator::new(config, clock);
    evaluator.track(&record_of("m"));
    record(
        &evaluator,
        "m",
        100,
        InferenceResult::failure(ErrorKind::Timeout, 9.0),
    );
    let levels: Vec<Vec<AlertLevel>> = (0..4)
        .map(|_| evaluator.check_alerts().iter().map(|a| a.level).collect())
        .collect();
    assert_eq!(
        levels,
        [
            vec![AlertLevel::Warning],
            vec![],
            vec![AlertLevel::Critical],
            vec![]
        ]
    );
}

#[test]
fn a_lagging_subscriber_is_told_how_many_alerts_it_missed() {
    let clock = Arc::new(ManualClock::new(t0()));
    let evaluator = Evaluator::new(EvaluationConfig::default(), clock);
    let mut slow = evaluator.subscribe_alerts();
    for i in 0..1_100 {
        let model = format!("model-{i}");
        let mut version = record_of("x");
        version.model_id = ModelId::new(model.as_str()).unwrap();
        evaluator.track(&version);
        record(
            &evaluator,
            &model,
            60,
            InferenceResult::failure(ErrorKind::Network, 1.0),
        );
    }
    assert_eq!(
        evaluator.check_alerts().len(),
        1_100,
        "recording never waited for the subscriber"
    );
    assert_eq!(slow.try_recv(), Err(TryRecvError::Lagged(76)));
    let rest = std::iter::from_fn(|| slow.try_recv().ok()).count();
    assert_eq!(rest, 1_024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_written_to_the_audit_log_off_the_hot_path() {
    use lifecycle_domain::{Actor, AuditEventKind, Severity};
    use lifecycle_store::{AuditQuery, MemoryStore, Store};

    let (evaluator, clock) = evaluator(&["m"]);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let actor = Actor::system("evaluator").unwrap();
    let handed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = handed.clone();
    let stop_on = async move {
        let _ = stopped.await;
    };
    let auditor = evaluator.spawn_alert_auditor(
        store.clone(),
        actor,
        lifecycle_store::HeldLease::default(),
        stop_on,
        move |alert| {
            sink.lock().unwrap().push(alert.level);
            std::future::ready(())
        },
    );
    record(
        &evaluator,
        "m",
        100,
        InferenceResult::failure(ErrorKind::ServerError, 20.0),
    );
    assert_eq!(evaluator.check_alerts()[0].level, AlertLevel::Critical);
    clock.advance(Duration::minutes(11));
    record(&evaluator, "m", 100, InferenceResult::success(200.0));
    assert_eq!(evaluator.check_alerts()[0].level, AlertLevel::Resolved);
    // Stopping right away still writes every alert already sent.
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), auditor)
        .await
        .unwrap()
        .unwrap();
    let entries = store.audit(&AuditQuery::all()).await.unwrap();
    assert_eq!(entries.len(), 2);
    let critical = &entries[0].event;
    assert_eq!(
        (critical.kind, critical.severity),
        (AuditEventKind::ThresholdViolated, Severity::Critical)
    );
    assert_eq!(critical.details["observed"], "1");
    assert_eq!(critical.details["limit"], "0.05");
    assert_eq!(critical.details["threshold"], "maximum error rate");
    assert_eq!(critical.actor.as_str(), "system:evaluator");
    assert_eq!(entries[1].event.details["alert"], "resolved");
    let handed = handed.lock().unwrap().clone();
    assert_eq!(
        handed,
        [AlertLevel::Critical, AlertLevel::Resolved],
        "each alert is handed on after it is written"
    );
}
