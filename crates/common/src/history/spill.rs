//! The spill file of a history writer: one JSON line per event, appended and fsync'd per batch,
//! read back in chunks for replay, truncated once everything in it was committed.
//!
//! Only the writer task touches the file, so there is no locking: appends, reads and the final
//! truncation never overlap. A line without its trailing newline can only be the torn tail of an
//! append that never completed (and so was never acknowledged); it is cut off when the file is
//! opened, so the next append does not glue a valid row onto it.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The spill file and where its replay stands.
pub(super) struct SpillFile {
    path: PathBuf,
    /// Rows in the file not yet replayed (readiness detail).
    rows: Arc<AtomicU64>,
    gauge: prometheus::IntGauge,
    /// Bytes in the file.
    len: u64,
    /// Bytes already committed by replay.
    replayed_to: u64,
    /// End of the chunk last read (committed by [`advance`](Self::advance)).
    chunk_end: u64,
    /// Rows (lines) in that chunk, parseable or not.
    chunk_lines: u64,
}

impl SpillFile {
    pub(super) fn new(path: PathBuf, rows: Arc<AtomicU64>, gauge: prometheus::IntGauge) -> Self {
        Self {
            path,
            rows,
            gauge,
            len: 0,
            replayed_to: 0,
            chunk_end: 0,
            chunk_lines: 0,
        }
    }

    /// Reads what a previous life left: its size and row count; cuts a torn tail.
    pub(super) async fn open(&mut self) -> io::Result<()> {
        let path = self.path.clone();
        let (len, lines) = blocking(move || scan(&path)).await?;
        self.len = len;
        self.set_rows(lines);
        if lines > 0 {
            tracing::warn!(file = %self.path.display(), rows = lines, "history spill file found at start; replaying it once the database answers");
        }
        Ok(())
    }

    /// Rows wait to be replayed.
    pub(super) fn pending(&self) -> bool {
        self.len > self.replayed_to
    }

    /// Appends `events` (one line each) and fsyncs before returning.
    pub(super) async fn append<E: Serialize>(&mut self, events: &[E]) -> io::Result<()> {
        let mut buf = Vec::with_capacity(events.len() * 256);
        for e in events {
            serde_json::to_writer(&mut buf, e).map_err(io::Error::other)?;
            buf.push(b'\n');
        }
        let path = self.path.clone();
        let start = self.len;
        let n = buf.len() as u64;
        blocking(move || append(&path, start, &buf)).await?;
        self.len += n;
        self.set_rows(self.rows.load(Ordering::Relaxed) + events.len() as u64);
        Ok(())
    }

    /// Reads up to `max` events after the replayed part. Lines that do not parse (a file edited
    /// by hand, an incompatible version) are logged and skipped rather than block the replay.
    pub(super) async fn read_chunk<E: DeserializeOwned + Send + 'static>(
        &mut self,
        max: usize,
    ) -> io::Result<Vec<E>> {
        let path = self.path.clone();
        let from = self.replayed_to;
        let (events, end, lines) = blocking(move || read_chunk(&path, from, max.max(1))).await?;
        self.chunk_end = end;
        self.chunk_lines = lines;
        Ok(events)
    }

    /// The chunk last read was committed: moves past it; once the whole file is replayed,
    /// truncates it (`true`).
    pub(super) async fn advance(&mut self) -> io::Result<bool> {
        self.replayed_to = self.chunk_end;
        let left = self
            .rows
            .load(Ordering::Relaxed)
            .saturating_sub(self.chunk_lines);
        self.set_rows(left);
        self.chunk_lines = 0;
        if self.replayed_to < self.len {
            return Ok(false);
        }
        let path = self.path.clone();
        blocking(move || {
            let f = OpenOptions::new().write(true).open(&path)?;
            f.set_len(0)?;
            f.sync_all()
        })
        .await?;
        self.len = 0;
        self.replayed_to = 0;
        self.chunk_end = 0;
        self.set_rows(0);
        Ok(true)
    }

    /// The chunk last read was not committed: it is read again next time.
    pub(super) fn rewind_chunk(&mut self) {
        self.chunk_end = self.replayed_to;
        self.chunk_lines = 0;
    }

    fn set_rows(&self, n: u64) {
        self.rows.store(n, Ordering::Relaxed);
        self.gauge.set(i64::try_from(n).unwrap_or(i64::MAX));
    }
}

/// File I/O off the async workers (fsync can take milliseconds).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}

/// Size and line count of the file (0, 0 if absent), after cutting a torn tail.
fn scan(path: &Path) -> io::Result<(u64, u64)> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    let good = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if good < bytes.len() {
        tracing::warn!(file = %path.display(), bytes = bytes.len() - good, "cutting the torn tail of the history spill file (an append that never finished)");
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(good as u64)?;
        f.sync_all()?;
    }
    let lines = bytes[..good].iter().filter(|&&b| b == b'\n').count() as u64;
    Ok((good as u64, lines))
}

fn append(path: &Path, start: u64, buf: &[u8]) -> io::Result<()> {
    let created = !path.exists();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    let result = f.write_all(buf).and_then(|()| f.sync_data());
    if let Err(e) = result {
        // A partial append (a full disk) must not leave half a line for the next one to extend.
        let _ = f.set_len(start).and_then(|()| f.sync_data());
        return Err(e);
    }
    if created && let Some(dir) = path.parent() {
        // The new file's directory entry must survive a crash too.
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn read_chunk<E: DeserializeOwned>(
    path: &Path,
    from: u64,
    max: usize,
) -> io::Result<(Vec<E>, u64, u64)> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(from))?;
    let mut r = BufReader::new(f);
    let mut events = Vec::new();
    let mut pos = from;
    let mut lines = 0u64;
    let mut line = String::new();
    while lines < max as u64 {
        line.clear();
        let n = r.read_line(&mut line)?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        pos += n as u64;
        lines += 1;
        match serde_json::from_str(line.trim_end()) {
            Ok(e) => events.push(e),
            Err(e) => {
                tracing::error!(file = %path.display(), offset = pos - n as u64, error = %e, "unreadable line in the history spill file skipped");
            }
        }
    }
    Ok((events, pos, lines))
}
