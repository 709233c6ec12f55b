//! A private PostgreSQL cluster (`initdb` + `pg_ctl`, as the `postgres` user when run as root)
//! that a test may stop and start again: the machine's shared server must never be stopped by a
//! test.

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

/// Whether the tests run as root (then the PostgreSQL tools run as `postgres`: they refuse root).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL server tool: `/usr/local/bin`, `PATH`, or the newest `/usr/lib/postgresql/*/bin`
/// (Debian and Ubuntu keep them off `PATH`).
fn pg_tool(tool: &str) -> PathBuf {
    let local = Path::new("/usr/local/bin").join(tool);
    if local.is_file() {
        return local;
    }
    if let Some(p) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    }) {
        return p;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let p = e.path().join("bin").join(tool);
            p.is_file().then_some((v, p))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p).unwrap_or_else(|| {
        panic!("PostgreSQL tool {tool} not found (/usr/local/bin, PATH, /usr/lib/postgresql/*/bin)")
    })
}

/// Runs a PostgreSQL tool, as `postgres` when the tests run as root.
fn as_postgres(tool: &str, args: &[&str]) -> anyhow::Result<()> {
    let program = pg_tool(tool);
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&program);
        c
    } else {
        Command::new(&program)
    };
    let out = cmd
        .args(args)
        .output()
        .with_context(|| format!("cannot run {tool}"))?;
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
        if is_root() {
            let chowned = Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()
                .expect("run chown");
            assert!(
                chowned.success(),
                "chown of the cluster dir to postgres failed"
            );
        }
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
