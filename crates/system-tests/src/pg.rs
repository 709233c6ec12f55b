//! A private PostgreSQL cluster (`initdb` + `pg_ctl` as the `postgres` user) that a test may stop
//! and start again: the machine's shared server must never be stopped by a test.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::proc::free_port;

/// A cluster in a temp dir, listening on 127.0.0.1:`port`, trust authentication.
#[derive(Debug)]
pub struct PgCluster {
    /// Its port (kept across restarts).
    pub port: u16,
    data: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// Runs a PostgreSQL tool as `postgres` (the tests run as root, and PostgreSQL refuses root).
fn as_postgres(tool: &str, args: &[&str]) -> anyhow::Result<()> {
    let program = Path::new("/usr/local/bin").join(tool);
    let program = if program.is_file() {
        program
    } else {
        crate::redis::which(tool)
    };
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(&program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {tool} as postgres"))?;
    if !out.status.success() {
        bail!(
            "{tool} {args:?} failed: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

impl PgCluster {
    /// `initdb` a new cluster and start it.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        // The postgres user must own the whole path below /tmp.
        let chowned = Command::new("chown")
            .arg("postgres:postgres")
            .arg(dir.path())
            .status()
            .expect("run chown");
        assert!(
            chowned.success(),
            "chown of the cluster dir to postgres failed"
        );
        let data = dir.path().join("data");
        let log = dir.path().join("postgres.log");
        let data_s = data.to_string_lossy().into_owned();
        tokio::task::spawn_blocking(move || {
            as_postgres(
                "initdb",
                &[
                    "-D",
                    &data_s,
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ],
            )
        })
        .await
        .expect("initdb task")
        .expect("initdb");
        let pg = Self {
            port: free_port(),
            data,
            log,
            _dir: dir,
        };
        pg.pg_start().await.expect("pg_ctl start");
        pg
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// `pg_ctl start -w`.
    pub async fn pg_start(&self) -> anyhow::Result<()> {
        let data = self.data.to_string_lossy().into_owned();
        let log = self.log.to_string_lossy().into_owned();
        let sock = self
            .data
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {sock} -c fsync=off -c max_connections=50",
            self.port
        );
        tokio::task::spawn_blocking(move || {
            as_postgres(
                "pg_ctl",
                &[
                    "start", "-w", "-t", "30", "-D", &data, "-l", &log, "-o", &opts,
                ],
            )
        })
        .await?
    }

    /// `pg_ctl stop -m <mode>` (`fast`: disconnect clients and shut down cleanly).
    pub async fn pg_stop(&self, mode: &str) -> anyhow::Result<()> {
        let data = self.data.to_string_lossy().into_owned();
        let mode = mode.to_owned();
        tokio::task::spawn_blocking(move || {
            as_postgres(
                "pg_ctl",
                &["stop", "-w", "-t", "30", "-D", &data, "-m", &mode],
            )
        })
        .await?
    }

    /// The server log (printed when a test fails).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- private postgres log ---\n{}", self.log_text());
        }
        // `immediate`: the test is over; the postmaster (found by pg_ctl from its pid file)
        // and its backends end at once. Nothing to do if it is already stopped.
        let data = self.data.to_string_lossy().into_owned();
        let _ = as_postgres(
            "pg_ctl",
            &["stop", "-w", "-t", "10", "-D", &data, "-m", "immediate"],
        );
    }
}
