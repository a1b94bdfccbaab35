//! The change feed's push: one listening connection per store, woken by
//! every process's commits through `NOTIFY`.

use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::commit::COMMITS_CHANNEL;

/// How long the listener waits before connecting again after losing its
/// connection or failing to make one.
const RECONNECT: Duration = Duration::from_millis(500);

/// Listens for commits until aborted. Each notification raises the signal
/// to the head it names; a lost connection (notifications sent meanwhile
/// are lost) wakes every follower at once, so each reads the feed from
/// where it was: the resync.
pub fn spawn(pool: PgPool, commits: watch::Sender<u64>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match PgListener::connect_with(&pool).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen(COMMITS_CHANNEL).await {
                        tracing::warn!(error = %e, "cannot listen for commits; trying again");
                    } else {
                        // Anything committed before this listener started.
                        commits.send_modify(|_| {});
                        follow(&mut listener, &commits).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot connect to listen for commits; trying again");
                }
            }
            commits.send_modify(|_| {});
            tokio::time::sleep(RECONNECT).await;
        }
    })
}

/// Passes notifications on until the connection is lost.
async fn follow(listener: &mut PgListener, commits: &watch::Sender<u64>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                let sequence = notification.payload().parse::<u64>().unwrap_or(0);
                commits.send_modify(|head| *head = (*head).max(sequence));
            }
            Ok(None) => {
                tracing::warn!("lost the connection that listens for commits; resyncing");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "listening for commits failed; resyncing");
                return;
            }
        }
    }
}
