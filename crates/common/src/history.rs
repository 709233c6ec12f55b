//! The non-blocking, never-losing history writer (DESIGN decision 7), shared by bill-inquiry and
//! product-change.
//!
//! Handlers [`HistoryWriter::record`] an event onto a bounded channel and return; one background
//! task drains the channel in batches (up to `batch_size` events, or whatever arrived within
//! `linger`) and hands each batch to a [`HistorySink`] (the service's store). Rules:
//! - a full channel applies back-pressure (`record` waits) instead of dropping;
//! - a failed batch is kept and retried with capped backoff until the database is back, so an
//!   outage delays rows but loses none;
//! - on shutdown the writer drains everything still queued (bounded by `flush_deadline`) before
//!   the process exits.
//!
//! Metrics: `history_queue_depth{service,queue}` and `history_write_total{service,result}`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Where batches go (a service's store).
#[async_trait::async_trait]
pub trait HistorySink<E>: Send + Sync + 'static {
    /// Writes the whole batch, atomically if the store can; an error means "retry all of it"
    /// (writes must therefore be idempotent, e.g. keyed inserts with ON CONFLICT DO NOTHING).
    async fn write_batch(
        &self,
        batch: &[E],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// Writer settings.
#[derive(Debug, Clone)]
pub struct HistoryConfig {
    /// Channel capacity; beyond it `record` waits.
    pub capacity: usize,
    /// Most events per batch.
    pub batch_size: usize,
    /// How long to wait for more events before writing a partial batch.
    pub linger: Duration,
    /// First retry delay after a failed write (doubles up to `max_backoff`).
    pub initial_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// How long shutdown may spend flushing.
    pub flush_deadline: Duration,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            batch_size: 200,
            linger: Duration::from_millis(20),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            flush_deadline: Duration::from_secs(20),
        }
    }
}

/// The sending half, cheap to clone into handlers.
#[derive(Debug)]
pub struct HistoryWriter<E> {
    tx: mpsc::Sender<E>,
    depth: prometheus::IntGauge,
}

impl<E> Clone for HistoryWriter<E> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            depth: self.depth.clone(),
        }
    }
}

/// The writer was shut down; the event was not accepted.
#[derive(Debug, thiserror::Error)]
#[error("history writer is closed")]
pub struct WriterClosed;

impl<E: Send + 'static> HistoryWriter<E> {
    /// Queues `event`; waits while the queue is full (back-pressure, never loss).
    pub async fn record(&self, event: E) -> Result<(), WriterClosed> {
        // Count before sending so the writer's decrement can never run first.
        self.depth.inc();
        self.tx.send(event).await.map_err(|_| {
            self.depth.dec();
            WriterClosed
        })
    }
}

/// The background task; join it on shutdown to be sure everything was flushed.
#[derive(Debug)]
pub struct HistoryTask {
    handle: JoinHandle<u64>,
}

impl HistoryTask {
    /// Waits for the writer to flush and stop; returns how many events it wrote in its life.
    pub async fn join(self) -> u64 {
        self.handle.await.unwrap_or(0)
    }
}

/// Starts a writer for `service`/`queue` that stops (after flushing) when `shutdown` fires and
/// every [`HistoryWriter`] clone has been dropped or the flush deadline passes.
pub fn spawn<E, S>(
    service: &'static str,
    queue: &'static str,
    sink: Arc<S>,
    cfg: HistoryConfig,
    metrics: &Metrics,
    shutdown: CancellationToken,
) -> (HistoryWriter<E>, HistoryTask)
where
    E: Send + Sync + 'static,
    S: HistorySink<E> + ?Sized,
{
    let (tx, rx) = mpsc::channel(cfg.capacity.max(1));
    let depth = metrics
        .history_queue_depth
        .with_label_values(&[service, queue]);
    let ok = metrics.history_writes.with_label_values(&[service, "ok"]);
    let retry = metrics
        .history_writes
        .with_label_values(&[service, "retry"]);
    let task_depth = depth.clone();
    let handle = tokio::spawn(async move {
        run(
            rx, sink, cfg, task_depth, ok, retry, shutdown, service, queue,
        )
        .await
    });
    (HistoryWriter { tx, depth }, HistoryTask { handle })
}

#[expect(
    clippy::too_many_arguments,
    reason = "private loop; the arguments are the writer's parts"
)]
async fn run<E, S>(
    mut rx: mpsc::Receiver<E>,
    sink: Arc<S>,
    cfg: HistoryConfig,
    depth: prometheus::IntGauge,
    ok: prometheus::IntCounter,
    retry: prometheus::IntCounter,
    shutdown: CancellationToken,
    service: &'static str,
    queue: &'static str,
) -> u64
where
    E: Send + Sync + 'static,
    S: HistorySink<E> + ?Sized,
{
    let mut written = 0u64;
    let mut batch: Vec<E> = Vec::with_capacity(cfg.batch_size);
    let mut draining = false;
    let mut flush_deadline: Option<tokio::time::Instant> = None;
    loop {
        // 1. Collect a batch: wait for the first event (or shutdown), then linger briefly.
        if batch.is_empty() {
            let first = if draining {
                rx.try_recv().ok()
            } else {
                tokio::select! {
                    ev = rx.recv() => ev,
                    () = shutdown.cancelled() => {
                        draining = true;
                        flush_deadline = Some(tokio::time::Instant::now() + cfg.flush_deadline);
                        // Stop accepting: senders get `WriterClosed`, queued events stay readable.
                        rx.close();
                        continue;
                    }
                }
            };
            match first {
                Some(ev) => batch.push(ev),
                None => return written, // channel closed and empty: all flushed
            }
            let linger = tokio::time::sleep(if draining { Duration::ZERO } else { cfg.linger });
            tokio::pin!(linger);
            while batch.len() < cfg.batch_size {
                match rx.try_recv() {
                    Ok(ev) => batch.push(ev),
                    Err(_) if draining => break,
                    Err(_) => tokio::select! {
                        ev = rx.recv() => match ev { Some(ev) => batch.push(ev), None => break },
                        () = &mut linger => break,
                    },
                }
            }
        }
        // 2. Write it, retrying until it succeeds (the batch is kept, never dropped).
        let mut backoff = cfg.initial_backoff;
        loop {
            match sink.write_batch(&batch).await {
                Ok(()) => {
                    ok.inc();
                    depth.sub(batch.len() as i64);
                    written += batch.len() as u64;
                    batch.clear();
                    break;
                }
                Err(e) => {
                    retry.inc();
                    tracing::warn!(history.service = service, history.queue = queue, batch = batch.len(), error = %e, retry_in_ms = backoff.as_millis() as u64, "history write failed; will retry");
                    if let Some(deadline) = flush_deadline
                        && tokio::time::Instant::now() >= deadline
                    {
                        tracing::error!(
                            history.service = service,
                            history.queue = queue,
                            pending = batch.len() + rx.len(),
                            "history flush deadline passed with events unwritten"
                        );
                        return written;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(cfg.max_backoff);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A sink that fails its first `failures` writes (a database outage), then stores.
    #[derive(Default)]
    struct FlakySink {
        failures: AtomicUsize,
        stored: Mutex<Vec<u32>>,
        batches: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl HistorySink<u32> for FlakySink {
        async fn write_batch(
            &self,
            batch: &[u32],
        ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            if self.failures.load(Ordering::SeqCst) > 0 {
                self.failures.fetch_sub(1, Ordering::SeqCst);
                return Err("database unavailable".into());
            }
            self.batches.fetch_add(1, Ordering::SeqCst);
            self.stored.lock().expect("lock").extend_from_slice(batch);
            Ok(())
        }
    }

    fn cfg() -> HistoryConfig {
        HistoryConfig {
            capacity: 8,
            batch_size: 50,
            linger: Duration::from_millis(5),
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(10),
            flush_deadline: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn nothing_is_lost_through_an_outage_and_shutdown_flushes() {
        let sink = Arc::new(FlakySink {
            failures: AtomicUsize::new(5),
            ..Default::default()
        });
        let metrics = Metrics::new();
        let shutdown = CancellationToken::new();
        let (writer, task) = spawn(
            "test",
            "events",
            Arc::clone(&sink),
            cfg(),
            &metrics,
            shutdown.clone(),
        );
        // 500 events through a queue of 8 while the "database" fails 5 times: back-pressure, no loss.
        let producers: Vec<_> = (0..5u32)
            .map(|p| {
                let w = writer.clone();
                tokio::spawn(async move {
                    for i in 0..100u32 {
                        w.record(p * 1000 + i).await.expect("accepted");
                    }
                })
            })
            .collect();
        for p in producers {
            p.await.expect("producer");
        }
        shutdown.cancel();
        let written = task.join().await;
        assert_eq!(written, 500);
        let mut stored = sink.stored.lock().expect("lock").clone();
        stored.sort_unstable();
        let mut expected: Vec<u32> = (0..5u32)
            .flat_map(|p| (0..100u32).map(move |i| p * 1000 + i))
            .collect();
        expected.sort_unstable();
        assert_eq!(stored, expected, "every event written exactly once");
        assert!(
            sink.batches.load(Ordering::SeqCst) < 500,
            "events are batched"
        );
        assert!(
            writer.record(1).await.is_err(),
            "a stopped writer refuses instead of dropping silently"
        );
        let text = metrics.render();
        assert!(
            text.contains(r#"history_write_total{result="retry",service="test"} 5"#),
            "{text}"
        );
        assert!(
            text.contains(r#"history_queue_depth{queue="events",service="test"} 0"#),
            "{text}"
        );
    }

    #[tokio::test]
    async fn full_queue_applies_back_pressure() {
        // A sink that never succeeds: the queue fills and `record` must wait, not drop.
        let sink = Arc::new(FlakySink {
            failures: AtomicUsize::new(usize::MAX),
            ..Default::default()
        });
        let metrics = Metrics::new();
        let (writer, _task) = spawn(
            "test",
            "events",
            sink,
            cfg(),
            &metrics,
            CancellationToken::new(),
        );
        let mut accepted = 0;
        for i in 0..100u32 {
            match tokio::time::timeout(Duration::from_millis(50), writer.record(i)).await {
                Ok(r) => {
                    r.expect("open");
                    accepted += 1;
                }
                Err(_) => break,
            }
        }
        // One batch is held by the writer, the rest fill the channel: then senders wait.
        assert!(accepted <= 8 + 50, "accepted {accepted}");
        assert!(accepted >= 8, "accepted {accepted}");
    }
}
