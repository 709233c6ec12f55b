//! The batched, group-committing history writer (docs/architecture.md, decision 7), shared by
//! bill-inquiry and product-change.
//!
//! Handlers queue an event onto a bounded channel; one background task drains the channel in
//! batches (up to `batch_size` events, or whatever arrived within `linger`) and hands each batch
//! to a [`HistorySink`] (the service's store). Rules:
//! - **group commit**: [`HistoryWriter::record_durable`] returns only once the batch holding the
//!   event has committed (or was spilled, below), so an answer never goes out before its row is
//!   durable; batches keep forming (whatever queued while the previous commit ran), so one commit
//!   still carries many requests; a batch holding an awaited event does not linger. The wait
//!   is bounded ([`HistoryConfig::ack_timeout`]); past it the caller answers 503.
//!   [`HistoryWriter::record`] queues without waiting, for rows whose durability is implied by a
//!   later awaited row (the writer is FIFO: a later batch is only acknowledged after every earlier
//!   one was committed or spilled);
//! - **spill**: a batch the database does not commit within `commit_timeout` is appended to a
//!   local file (one JSON line per event, fsync per batch) before it is acknowledged; the file is
//!   replayed into the database when it answers again (and at start), oldest first, and truncated
//!   only after the whole file was committed. Sinks must be idempotent (keyed inserts with
//!   `ON CONFLICT`), so a replay that is interrupted and repeated changes nothing twice;
//! - if neither the database nor the spill file takes a batch, its waiters get
//!   [`NotRecorded::SpillFailed`] (the caller answers 503) and the batch stays queued and retried,
//!   never dropped;
//! - a full channel applies back-pressure (callers wait) instead of dropping;
//! - on shutdown the writer drains everything still queued (bounded by `flush_deadline`).
//!
//! Metrics: `history_queue_depth{service,queue}`, `history_write_total{service,result}` (`ok`,
//! `retry`, `spilled`, `replayed`), `history_spill_rows{service,queue}`,
//! `history_commit_duration_seconds{service,queue}` and `history_batch_rows{service,queue}` (what
//! a group commit costs and how many requests share it).

mod spill;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::actuator::{ComponentHealth, HealthCheck};
use crate::backoff::Backoff;
use crate::metrics::Metrics;
use spill::SpillFile;

/// Bound on the one-row write that probes whether a failed database is back.
const PROBE_TIMEOUT: Duration = Duration::from_millis(250);

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
    /// Bound on one database commit of a batch; past it the batch is spilled
    /// (`HISTORY_COMMIT_TIMEOUT_MS`).
    pub commit_timeout: Duration,
    /// The spill file; `None` = no spill (rows wait in memory while the database is away, and
    /// waiters time out into 503).
    pub spill_path: Option<PathBuf>,
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
            commit_timeout: Duration::from_secs(1),
            spill_path: None,
        }
    }
}

impl HistoryConfig {
    /// Reads the durability settings: `HISTORY_COMMIT_TIMEOUT_MS` (bound on one commit, default
    /// 1000) and `HISTORY_SPILL_DIR` (default `$DATA_DIR/spill`; `off` disables the spill). The
    /// spill file is `<dir>/<file>.jsonl`; `file` names the service and queue, so services that
    /// share a `DATA_DIR` (the all-in-one) never share a file.
    pub fn with_durability_from_env(
        mut self,
        env: crate::config::Env<'_>,
        file: &str,
    ) -> Result<Self, crate::config::ConfigError> {
        self.commit_timeout =
            Duration::from_millis(env.ranged("HISTORY_COMMIT_TIMEOUT_MS", 1000u64, 10..=60_000)?);
        self.spill_path = match env.string("HISTORY_SPILL_DIR").as_deref() {
            Some("off") => None,
            Some("") | None => Some(crate::config::data_dir(env).join("spill")),
            Some(dir) => Some(PathBuf::from(dir)),
        }
        .map(|dir| dir.join(format!("{file}.jsonl")));
        Ok(self)
    }

    /// How long [`HistoryWriter::record_durable`] waits: one commit attempt, the spill, and the
    /// batch ahead of it (two commit bounds) plus a second of slack for the linger and the fsync.
    pub fn ack_timeout(&self) -> Duration {
        self.commit_timeout * 2 + self.linger + Duration::from_secs(1)
    }
}

/// How an event became durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durable {
    /// Its batch committed in the database.
    Committed,
    /// Its batch is in the fsync'd spill file, to be replayed into the database.
    Spilled,
}

/// The event is not durable: the caller must not answer as if it were recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotRecorded {
    /// The writer was shut down; the event was not accepted.
    #[error("history writer is closed")]
    Closed,
    /// Neither the database nor the spill file took the batch (it stays queued and retried).
    #[error("history could not be committed or spilled")]
    SpillFailed,
    /// The batch was not committed or spilled within the bound (it stays queued).
    #[error("history commit did not finish in time")]
    TimedOut,
}

type Ack = oneshot::Sender<Result<Durable, NotRecorded>>;

struct Item<E> {
    event: E,
    ack: Option<Ack>,
}

/// The sending half, cheap to clone into handlers.
pub struct HistoryWriter<E> {
    tx: mpsc::Sender<Item<E>>,
    depth: prometheus::IntGauge,
    ack_timeout: Duration,
}

impl<E> std::fmt::Debug for HistoryWriter<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryWriter")
            .field("ack_timeout", &self.ack_timeout)
            .finish_non_exhaustive()
    }
}

impl<E> Clone for HistoryWriter<E> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            depth: self.depth.clone(),
            ack_timeout: self.ack_timeout,
        }
    }
}

/// The writer was shut down; the event was not accepted.
#[derive(Debug, thiserror::Error)]
#[error("history writer is closed")]
pub struct WriterClosed;

impl<E: Send + 'static> HistoryWriter<E> {
    /// Queues `event` without waiting for its commit; waits while the queue is full
    /// (back-pressure, never loss). Use it only for a row that a later
    /// [`record_durable`](Self::record_durable) of the same request covers (FIFO).
    pub async fn record(&self, event: E) -> Result<(), WriterClosed> {
        self.send(Item { event, ack: None })
            .await
            .map_err(|_| WriterClosed)
    }

    /// Queues `event` and waits (at most [`HistoryConfig::ack_timeout`]) until the batch holding
    /// it committed or was spilled; the answer standing behind the row goes out only after.
    pub async fn record_durable(&self, event: E) -> Result<Durable, NotRecorded> {
        let (tx, rx) = oneshot::channel();
        self.send(Item {
            event,
            ack: Some(tx),
        })
        .await
        .map_err(|_| NotRecorded::Closed)?;
        match tokio::time::timeout(self.ack_timeout, rx).await {
            Ok(Ok(r)) => r,
            // The writer stopped (flush deadline) with the event unwritten.
            Ok(Err(_)) => Err(NotRecorded::Closed),
            Err(_) => Err(NotRecorded::TimedOut),
        }
    }

    async fn send(&self, item: Item<E>) -> Result<(), ()> {
        // Count before sending so the writer's decrement can never run first.
        self.depth.inc();
        self.tx.send(item).await.map_err(|_| {
            self.depth.dec();
        })
    }
}

/// The background task; join it on shutdown to be sure everything was flushed.
#[derive(Debug)]
pub struct HistoryTask {
    handle: JoinHandle<u64>,
    spill_rows: Arc<AtomicU64>,
    spill_path: Option<PathBuf>,
    name: String,
}

impl HistoryTask {
    /// Waits for the writer to flush and stop; returns how many events it wrote in its life.
    pub async fn join(self) -> u64 {
        self.handle.await.unwrap_or(0)
    }

    /// Readiness component `history-spill:<queue>`: rows waiting in the spill file (never
    /// critical: a spilling service still answers, and must stay in rotation to do so).
    pub fn health(&self) -> Arc<dyn HealthCheck> {
        Arc::new(SpillHealth {
            name: self.name.clone(),
            rows: Arc::clone(&self.spill_rows),
            path: self.spill_path.clone(),
        })
    }
}

struct SpillHealth {
    name: String,
    rows: Arc<AtomicU64>,
    path: Option<PathBuf>,
}

#[async_trait::async_trait]
impl HealthCheck for SpillHealth {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn critical(&self) -> bool {
        false
    }
    async fn check(&self) -> ComponentHealth {
        let h = ComponentHealth::up().detail("rows", self.rows.load(Ordering::Relaxed));
        match &self.path {
            Some(p) => h.detail("file", p.display().to_string()),
            None => h.detail("file", "disabled"),
        }
    }
}

/// Starts a writer for `service`/`queue` that stops (after flushing) when `shutdown` fires and
/// every [`HistoryWriter`] clone has been dropped or the flush deadline passes. An existing spill
/// file (rows of a previous life) is replayed as soon as the database answers.
pub fn spawn<E, S>(
    service: &'static str,
    queue: &'static str,
    sink: Arc<S>,
    cfg: HistoryConfig,
    metrics: &Metrics,
    shutdown: CancellationToken,
) -> (HistoryWriter<E>, HistoryTask)
where
    E: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: HistorySink<E> + ?Sized,
{
    let (tx, rx) = mpsc::channel(cfg.capacity.max(1));
    let depth = metrics
        .history_queue_depth
        .with_label_values(&[service, queue]);
    let spill_gauge = metrics
        .history_spill_rows
        .with_label_values(&[service, queue]);
    let counters = Counters {
        commit_seconds: metrics
            .history_commit_duration
            .with_label_values(&[service, queue]),
        batch_rows: metrics
            .history_batch_rows
            .with_label_values(&[service, queue]),
        ok: metrics.history_writes.with_label_values(&[service, "ok"]),
        retry: metrics
            .history_writes
            .with_label_values(&[service, "retry"]),
        spilled: metrics
            .history_writes
            .with_label_values(&[service, "spilled"]),
        replayed: metrics
            .history_writes
            .with_label_values(&[service, "replayed"]),
    };
    let spill_rows = Arc::new(AtomicU64::new(0));
    let spill = cfg
        .spill_path
        .clone()
        .map(|p| SpillFile::new(p, Arc::clone(&spill_rows), spill_gauge));
    let ack_timeout = cfg.ack_timeout();
    let task = Task {
        rx,
        sink,
        depth: depth.clone(),
        counters,
        shutdown,
        service,
        queue,
        spill,
        written: 0,
        backoff: Backoff::new(cfg.initial_backoff, cfg.max_backoff),
        next_replay: Instant::now(),
        db_ok: true,
        cfg: cfg.clone(),
    };
    let handle = tokio::spawn(task.run());
    (
        HistoryWriter {
            tx,
            depth,
            ack_timeout,
        },
        HistoryTask {
            handle,
            spill_rows,
            spill_path: cfg.spill_path,
            name: format!("history-spill:{queue}"),
        },
    )
}

struct Counters {
    commit_seconds: prometheus::Histogram,
    batch_rows: prometheus::Histogram,
    ok: prometheus::IntCounter,
    retry: prometheus::IntCounter,
    spilled: prometheus::IntCounter,
    replayed: prometheus::IntCounter,
}

struct Task<E, S: ?Sized> {
    rx: mpsc::Receiver<Item<E>>,
    sink: Arc<S>,
    cfg: HistoryConfig,
    depth: prometheus::IntGauge,
    counters: Counters,
    shutdown: CancellationToken,
    service: &'static str,
    queue: &'static str,
    spill: Option<SpillFile>,
    written: u64,
    /// Retry delays (double on failure, reset on success).
    backoff: Backoff,
    /// When the database may next be tried while rows wait in the spill file.
    next_replay: Instant,
    /// The last attempt on the database succeeded.
    db_ok: bool,
}

impl<E, S> Task<E, S>
where
    E: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: HistorySink<E> + ?Sized,
{
    async fn run(mut self) -> u64 {
        if let Some(spill) = &mut self.spill
            && let Err(e) = spill.open().await
        {
            tracing::error!(history.service = self.service, history.queue = self.queue, error = %e, "spill file unreadable at start; its rows are replayed once it can be read");
        }
        let mut batch = Batch::<E>::with_capacity(self.cfg.batch_size);
        let mut draining = false;
        let mut flush_deadline: Option<Instant> = None;
        loop {
            // 1. Collect a batch: wait for the first event (or shutdown, or a due replay), then
            //    linger briefly.
            if batch.is_empty() {
                let replay_pending = self.spill.as_ref().is_some_and(SpillFile::pending);
                let first = if draining {
                    self.rx.try_recv().ok()
                } else {
                    tokio::select! {
                        ev = self.rx.recv() => ev,
                        () = self.shutdown.cancelled() => {
                            draining = true;
                            flush_deadline = Some(Instant::now() + self.cfg.flush_deadline);
                            // Stop accepting: senders get `WriterClosed`, queued events stay
                            // readable.
                            self.rx.close();
                            continue;
                        }
                        () = tokio::time::sleep_until(self.next_replay), if replay_pending => {
                            self.replay_step().await;
                            continue;
                        }
                    }
                };
                match first {
                    Some(ev) => batch.push(ev),
                    None => {
                        // Channel closed and empty: all flushed (spilled rows wait for the next
                        // start).
                        return self.written;
                    }
                }
                let linger = tokio::time::sleep(if draining {
                    Duration::ZERO
                } else {
                    self.cfg.linger
                });
                tokio::pin!(linger);
                while batch.len() < self.cfg.batch_size {
                    match self.rx.try_recv() {
                        Ok(ev) => batch.push(ev),
                        // Group commit: once a request waits on this batch, lingering only
                        // adds to its latency (with N clients waiting, at most N rows can
                        // arrive, so a linger would cap throughput at N / linger). Write what is
                        // queued now; the next batch forms while this one commits.
                        Err(_) if draining || !batch.acks.is_empty() => break,
                        Err(_) => tokio::select! {
                            ev = self.rx.recv() => match ev { Some(ev) => batch.push(ev), None => break },
                            () = &mut linger => break,
                        },
                    }
                }
            }
            // 2. Make it durable: commit, else spill, else keep it and retry.
            if !self.write(&mut batch, flush_deadline).await {
                return self.written;
            }
            // 3. Rows of an earlier outage go back once the database answers.
            if self.spill.as_ref().is_some_and(SpillFile::pending)
                && Instant::now() >= self.next_replay
            {
                self.replay_step().await;
            }
        }
    }

    /// Makes `batch` durable and acknowledges it; `false` = the flush deadline passed with the
    /// batch unwritten (the writer stops).
    async fn write(&mut self, batch: &mut Batch<E>, flush_deadline: Option<Instant>) -> bool {
        loop {
            // While the database is away and rows wait in the spill, go straight to the spill:
            // each batch would otherwise pay the whole commit bound (a pool that cannot connect
            // waits it out). Whether the database is back is probed by the replay, with one row
            // and a short bound, so the writer never stalls on a dead database for long.
            let skip_db = !self.db_ok && self.spill.as_ref().is_some_and(SpillFile::pending);
            let error = if skip_db {
                "database unavailable (recent failure; spilling)".to_owned()
            } else {
                match self.commit(&batch.events).await {
                    Ok(()) => {
                        self.counters.ok.inc();
                        self.finish(batch, Ok(Durable::Committed));
                        self.backoff.reset();
                        self.db_ok = true;
                        return true;
                    }
                    Err(e) => e,
                }
            };
            if !skip_db {
                self.counters.retry.inc();
                self.db_ok = false;
                self.next_replay = Instant::now() + self.backoff.next();
            }
            let Some(spill) = &mut self.spill else {
                tracing::warn!(history.service = self.service, history.queue = self.queue, batch = batch.len(), error = %error, "history write failed; will retry");
                if !self.wait_retry(batch, flush_deadline).await {
                    return false;
                }
                continue;
            };
            match spill.append(&batch.events).await {
                Ok(()) => {
                    if !skip_db {
                        tracing::warn!(history.service = self.service, history.queue = self.queue, batch = batch.len(), error = %error, "history write failed; batch spilled to disk");
                    }
                    self.counters.spilled.inc();
                    self.finish(batch, Ok(Durable::Spilled));
                    return true;
                }
                Err(e) => {
                    tracing::error!(history.service = self.service, history.queue = self.queue, batch = batch.len(), db_error = %error, spill_error = %e, "history neither committed nor spilled; answering 503 and retrying");
                    // Waiters answer 503 now; the rows stay queued and are retried.
                    for ack in batch.acks.drain(..) {
                        let _ = ack.send(Err(NotRecorded::SpillFailed));
                    }
                    // The database must be tried again on the next round, not skipped.
                    self.next_replay = Instant::now();
                    if !self.wait_retry(batch, flush_deadline).await {
                        return false;
                    }
                }
            }
        }
    }

    /// Sleeps the retry delay; `false` if the flush deadline passed (logged).
    async fn wait_retry(&mut self, batch: &Batch<E>, flush_deadline: Option<Instant>) -> bool {
        if let Some(deadline) = flush_deadline
            && Instant::now() >= deadline
        {
            tracing::error!(
                history.service = self.service,
                history.queue = self.queue,
                pending = batch.len() + self.rx.len(),
                "history flush deadline passed with events unwritten"
            );
            return false;
        }
        // The plain current delay: a failed commit has already advanced it past the one
        // `next_replay` got, so the writer waits longer than the replay does.
        tokio::time::sleep(self.backoff.current()).await;
        true
    }

    /// One bounded commit attempt. A commit that lands after the bound was spilled too; the
    /// replay is then a no-op (idempotent sink).
    async fn commit(&self, events: &[E]) -> Result<(), String> {
        self.counters.batch_rows.observe(events.len() as f64);
        let _timer = self.counters.commit_seconds.start_timer();
        match tokio::time::timeout(self.cfg.commit_timeout, self.sink.write_batch(events)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "commit did not finish within {} ms",
                self.cfg.commit_timeout.as_millis()
            )),
        }
    }

    fn finish(&mut self, batch: &mut Batch<E>, result: Result<Durable, NotRecorded>) {
        self.depth.sub(batch.len() as i64);
        if result == Ok(Durable::Committed) {
            self.written += batch.len() as u64;
        }
        batch.events.clear();
        for ack in batch.acks.drain(..) {
            // A waiter that gave up (timed out) is gone; nothing to tell it.
            let _ = ack.send(result);
        }
    }

    /// Replays one chunk of the spill file; on failure backs off.
    async fn replay_step(&mut self) {
        let Some(spill) = &mut self.spill else { return };
        // A probe of a database that failed is one row under a short bound; full chunks under
        // the commit bound once it answers.
        let (rows, bound) = if self.db_ok {
            (self.cfg.batch_size, self.cfg.commit_timeout)
        } else {
            (1, self.cfg.commit_timeout.min(PROBE_TIMEOUT))
        };
        let chunk: Vec<E> = match spill.read_chunk(rows).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(history.service = self.service, history.queue = self.queue, error = %e, "spill file unreadable; retrying later");
                self.next_replay = Instant::now() + self.cfg.max_backoff;
                return;
            }
        };
        let n = chunk.len();
        let result = if chunk.is_empty() {
            Ok(())
        } else {
            match tokio::time::timeout(bound, self.sink.write_batch(&chunk)).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("replay commit timed out".to_owned()),
            }
        };
        let Some(spill) = &mut self.spill else { return };
        match result {
            Ok(()) => {
                self.counters.replayed.inc();
                self.db_ok = true;
                self.written += n as u64;
                self.backoff.reset();
                self.next_replay = Instant::now();
                match spill.advance().await {
                    Ok(true) => tracing::info!(
                        history.service = self.service,
                        history.queue = self.queue,
                        "spill file replayed into the database and truncated"
                    ),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(history.service = self.service, history.queue = self.queue, error = %e, "spill file could not be truncated; it will be replayed again (idempotent)");
                        self.next_replay = Instant::now() + self.cfg.max_backoff;
                    }
                }
            }
            Err(e) => {
                tracing::debug!(history.service = self.service, history.queue = self.queue, error = %e, "spill replay failed; database still away");
                spill.rewind_chunk();
                self.db_ok = false;
                self.next_replay = Instant::now() + self.backoff.next();
            }
        }
    }
}

/// The events of one batch and the waiters among them.
struct Batch<E> {
    events: Vec<E>,
    acks: Vec<Ack>,
}

impl<E> Batch<E> {
    fn with_capacity(n: usize) -> Self {
        Self {
            events: Vec::with_capacity(n),
            acks: Vec::new(),
        }
    }
    fn push(&mut self, item: Item<E>) {
        self.events.push(item.event);
        if let Some(ack) = item.ack {
            self.acks.push(ack);
        }
    }
    fn len(&self) -> usize {
        self.events.len()
    }
    fn is_empty(&self) -> bool {
        self.events.is_empty()
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
            commit_timeout: Duration::from_secs(1),
            spill_path: None,
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

    /// A sink that is down while `down` is set.
    #[derive(Default)]
    struct SwitchSink {
        down: std::sync::atomic::AtomicBool,
        stored: Mutex<Vec<u32>>,
    }

    #[async_trait::async_trait]
    impl HistorySink<u32> for SwitchSink {
        async fn write_batch(
            &self,
            batch: &[u32],
        ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            if self.down.load(Ordering::SeqCst) {
                return Err("database unavailable".into());
            }
            let mut s = self.stored.lock().expect("lock");
            // Idempotent like the real sinks (keyed inserts).
            for v in batch {
                if !s.contains(v) {
                    s.push(*v);
                }
            }
            Ok(())
        }
    }

    fn spill_cfg(path: &std::path::Path) -> HistoryConfig {
        HistoryConfig {
            commit_timeout: Duration::from_millis(200),
            spill_path: Some(path.to_owned()),
            ..cfg()
        }
    }

    async fn wait_for(mut f: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !f() {
            assert!(
                std::time::Instant::now() < deadline,
                "condition not met in time"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn durable_waits_for_the_commit_and_spills_while_the_database_is_away() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("spill").join("q.jsonl");
        let sink = Arc::new(SwitchSink::default());
        let metrics = Metrics::new();
        let shutdown = CancellationToken::new();
        let (writer, task) = spawn(
            "test",
            "q",
            Arc::clone(&sink),
            spill_cfg(&path),
            &metrics,
            shutdown.clone(),
        );
        assert_eq!(writer.record_durable(1).await, Ok(Durable::Committed));
        assert_eq!(*sink.stored.lock().expect("lock"), vec![1]);
        sink.down.store(true, Ordering::SeqCst);
        for v in 2..=5 {
            assert_eq!(writer.record_durable(v).await, Ok(Durable::Spilled));
        }
        let text = std::fs::read_to_string(&path).expect("spill file");
        assert_eq!(text, "2\n3\n4\n5\n");
        let health = task.health().check().await;
        assert_eq!(
            health
                .details
                .as_ref()
                .and_then(|d| d.get("rows"))
                .and_then(|v| v.as_u64()),
            Some(4)
        );
        sink.down.store(false, Ordering::SeqCst);
        wait_for(|| sink.stored.lock().expect("lock").len() == 5).await;
        wait_for(|| std::fs::metadata(&path).map(|m| m.len()).unwrap_or(1) == 0).await;
        shutdown.cancel();
        drop(writer);
        task.join().await;
        let mut stored = sink.stored.lock().expect("lock").clone();
        stored.sort_unstable();
        assert_eq!(stored, vec![1, 2, 3, 4, 5]);
        assert!(
            metrics
                .render()
                .contains(r#"history_spill_rows{queue="q",service="test"} 0"#)
        );
    }

    #[tokio::test]
    async fn a_spill_left_by_a_crash_is_replayed_at_start_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("q.jsonl");
        // Two acknowledged rows and the torn start of a third (never acknowledged).
        std::fs::write(&path, "7\n8\n9").expect("write");
        let sink = Arc::new(SwitchSink::default());
        let metrics = Metrics::new();
        let shutdown = CancellationToken::new();
        let (writer, task) = spawn(
            "test",
            "q",
            Arc::clone(&sink),
            spill_cfg(&path),
            &metrics,
            shutdown.clone(),
        );
        wait_for(|| sink.stored.lock().expect("lock").len() == 2).await;
        assert_eq!(writer.record_durable(10).await, Ok(Durable::Committed));
        shutdown.cancel();
        drop(writer);
        task.join().await;
        let mut stored = sink.stored.lock().expect("lock").clone();
        stored.sort_unstable();
        assert_eq!(stored, vec![7, 8, 10]);
        assert_eq!(std::fs::read_to_string(&path).expect("file"), "");
    }

    #[tokio::test]
    async fn no_database_and_no_spill_is_not_recorded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").expect("write");
        let sink = Arc::new(SwitchSink::default());
        sink.down.store(true, Ordering::SeqCst);
        let metrics = Metrics::new();
        let (writer, _task) = spawn(
            "test",
            "q",
            Arc::clone(&sink),
            spill_cfg(&blocker.join("spill.jsonl")),
            &metrics,
            CancellationToken::new(),
        );
        assert_eq!(
            writer.record_durable(1).await,
            Err(NotRecorded::SpillFailed)
        );
        // The row is kept and retried: it lands once the database is back.
        sink.down.store(false, Ordering::SeqCst);
        wait_for(|| *sink.stored.lock().expect("lock") == vec![1]).await;
        assert_eq!(writer.record_durable(2).await, Ok(Durable::Committed));
    }
}
