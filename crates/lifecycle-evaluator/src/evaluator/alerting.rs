//! Alerts: evaluating every tracked version, and auditing each change of
//! health once.

use super::*;

/// The audit entry recording an alert.
pub fn alert_event(alert: &Alert, actor: &Actor) -> AuditEvent {
    let (kind, severity) = match alert.level {
        AlertLevel::Critical => (AuditEventKind::ThresholdViolated, Severity::Critical),
        AlertLevel::Warning => (AuditEventKind::ThresholdViolated, Severity::Warning),
        AlertLevel::Resolved => (AuditEventKind::MetricsUpdated, Severity::Info),
    };
    let mut event = AuditEvent::new(kind, actor.clone(), alert.message.clone(), alert.at)
        .for_version(alert.model_id.clone(), alert.version.clone())
        .with_severity(severity)
        .with_detail("alert", format!("{:?}", alert.level).to_lowercase());
    if let Some(threshold) = alert.threshold {
        event = event.with_detail("threshold", threshold);
    }
    if let Some(observed) = alert.observed {
        event = event.with_detail("observed", observed);
    }
    if let Some(limit) = alert.limit {
        event = event.with_detail("limit", limit);
    }
    event
}

impl Evaluator {
    /// Starts a task that writes every alert to the audit log as `actor`:
    /// critical and warning alerts as threshold violations (with the
    /// observed value and the limit), resolutions as metrics updates. Off
    /// the hot path; alerts it could not keep up with are recorded as one
    /// error entry saying how many were missed. After writing an alert it
    /// hands it to `then` (the facade's automatic rollback), so the log
    /// shows each alert before what it caused. It ends with the evaluator,
    /// or when `stop` completes — after writing every alert already sent.
    /// Its entries are fenced by `held` while a lease is held there (the
    /// facade's alerts lease): a manager that lost the lease writes none.
    pub fn spawn_alert_auditor<S, T, F>(
        &self,
        store: Arc<dyn Store>,
        actor: Actor,
        held: HeldLease,
        stop: S,
        then: T,
    ) -> tokio::task::JoinHandle<()>
    where
        S: Future<Output = ()> + Send + 'static,
        T: Fn(Alert) -> F + Send + 'static,
        F: Future<Output = ()> + Send,
    {
        let mut alerts = self.subscribe_alerts();
        let clock = self.shared.clock.clone();
        tokio::spawn(async move {
            tokio::pin!(stop);
            loop {
                let received = tokio::select! {
                    // Alerts first: `stop` is only seen once none are waiting.
                    biased;
                    received = alerts.recv() => received,
                    () = &mut stop => break,
                };
                let (event, alert) = match received {
                    Ok(alert) => (alert_event(&alert, &actor), Some(alert)),
                    Err(broadcast::error::RecvError::Lagged(missed)) => (AuditEvent::new(
                        AuditEventKind::Error,
                        actor.clone(),
                        format!("{missed} alerts were not written to the audit log: the auditor fell behind"),
                        clock.now(),
                    ), None),
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                // A failed write is not retried: the next alert still gets its
                // chance. One refused for a lost lease is the new holder's to write.
                let commit = held.fence(Commit::audit_only().audit(event), clock.now());
                let written = store.commit(commit).await;
                if matches!(written, Err(StoreError::LeaseLost { .. })) {
                    continue;
                }
                if let Some(alert) = alert {
                    then(alert).await;
                }
            }
        })
    }

    /// A stream of alerts: a version's health changing (ok → warning →
    /// critical, and `Resolved` when healthy again), never one per sample.
    /// A subscriber that falls behind by more than 1,024 alerts is told how
    /// many it missed (`RecvError::Lagged`); recording never waits for it.
    pub fn subscribe_alerts(&self) -> broadcast::Receiver<Alert> {
        self.shared.alerts.subscribe()
    }

    /// Evaluates every tracked, non-retired version and sends an alert for
    /// each whose health changed; returns those alerts (for the caller to
    /// audit). Run it on a timer — the facade does — or by hand in tests.
    pub fn check_alerts(&self) -> Vec<Alert> {
        let snapshot = self.shared.tracked.load_full();
        let mut sent = Vec::new();
        for (model_id, versions) in snapshot.iter() {
            // A version that never recorded has no health to change.
            let versions = versions.load_full();
            for tracked in versions.iter().filter(|t| !t.retired && t.samples() > 0) {
                let Ok(report) = self.evaluate(model_id.as_str(), &tracked.version) else {
                    continue;
                };
                let changed = lock(&tracked.books.health).observe(&report, &self.shared.config);
                if let Some(alert) = changed {
                    // Saved with the next checkpoint, which this asks for.
                    tracked.books.health_changed.store(true, Ordering::Release);
                    self.shared.checkpoints.notify_one();
                    // No subscriber is fine: the alert is still returned.
                    let _ = self.shared.alerts.send(alert.clone());
                    sent.push(alert);
                }
            }
        }
        sent
    }
}
