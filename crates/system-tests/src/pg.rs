//! A private PostgreSQL cluster (`initdb` + `pg_ctl`, as the `postgres` user when run as root)
//! that a test may stop and start again: the machine's shared server must never be stopped by a
//! test.
//!
//! The production shape ([`PgCluster::start_tls`]): TCP only over TLS (`ssl=on`, `hostssl`
//! lines only in `pg_hba.conf`, so a plain connection is refused) with a certificate of a
//! [`TestCa`], as Azure's flexible server; a streaming read replica of it
//! ([`PgCluster::replica`], `pg_basebackup -R`) whose replay a test can pause to make it lag.
//! Tests and [`PgCluster::psql`] reach both over their Unix socket. [`PgCluster::start_tls_on`]
//! also listens on one extra address (the Docker network gateway, for the chart's containers
//! in `deploy/tests/chart_pods.py`), still TLS only.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::proc::free_port;
use crate::tls::TestCa;

/// A cluster in a temp dir, listening on 127.0.0.1:`port`, trust authentication.
#[derive(Debug)]
pub struct PgCluster {
    /// Its port (kept across restarts).
    pub port: u16,
    /// The CA whose certificate it presents, when TLS-only.
    pub ca: Option<TestCa>,
    /// An address it listens on besides 127.0.0.1 (TLS only there too).
    pub extra_addr: Option<IpAddr>,
    data: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
    f.write_all(text.as_bytes())
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
    as_postgres_out(tool, args).map(|_| ())
}

/// [`as_postgres`], returning standard output.
fn as_postgres_out(tool: &str, args: &[&str]) -> anyhow::Result<String> {
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
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A temp dir the `postgres` user owns when the tests run as root (it must own the whole path
/// below /tmp).
fn owned_tempdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
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
    dir
}

impl PgCluster {
    /// `initdb` a new cluster and start it.
    pub async fn start() -> Self {
        let pg = Self::init(None).await;
        pg.pg_start().await.expect("pg_ctl start");
        pg
    }

    /// A cluster that accepts TCP connections only over TLS, presenting `ca`'s server
    /// certificate, and streaming replication (over TLS too) for [`Self::replica`].
    pub async fn start_tls(ca: &TestCa) -> Self {
        Self::start_tls_on(ca, None).await
    }

    /// [`Self::start_tls`], also listening on `extra` (whose clients, on a directly connected
    /// subnet, must use TLS as well); `ca`'s server certificate must name it
    /// ([`TestCa::create_for`]).
    pub async fn start_tls_on(ca: &TestCa, extra: Option<IpAddr>) -> Self {
        let mut pg = Self::init(Some(ca.clone())).await;
        pg.extra_addr = extra;
        let dir = pg.data.clone();
        let (cert, key) = ca
            .install_for(&dir, is_root().then_some("postgres"))
            .expect("install the server certificate");
        let conf = format!(
            "\nssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\nwal_level = replica\n\
             max_wal_senders = 5\nhot_standby = on\nwal_keep_size = '64MB'\n",
            cert.display(),
            key.display()
        );
        append(&dir.join("postgresql.conf"), &conf).expect("postgresql.conf");
        // No `host` line: a connection without TLS is refused ("no pg_hba.conf entry ... no
        // encryption"), as on a server with require_secure_transport.
        let mut hba = String::from(
            "local all all trust\n\
             local replication all trust\n\
             hostssl all all 127.0.0.1/32 trust\n\
             hostssl replication all 127.0.0.1/32 trust\n",
        );
        if extra.is_some() {
            // `samenet`: the subnets of the machine's own interfaces, i.e. the Docker network
            // whose gateway is `extra` (its containers' addresses are not known in advance).
            hba.push_str("hostssl all all samenet trust\n");
        }
        std::fs::write(dir.join("pg_hba.conf"), hba).expect("pg_hba.conf");
        pg.pg_start().await.expect("pg_ctl start (TLS)");
        pg
    }

    /// A streaming replica of this (TLS) cluster: `pg_basebackup -R` over TLS into a new
    /// directory, started on its own port, hot standby (read-only).
    pub async fn replica(&self) -> Self {
        let dir = owned_tempdir();
        let data = dir.path().join("data");
        let log = dir.path().join("postgres.log");
        let conninfo = format!(
            "host=127.0.0.1 port={} user=postgres sslmode=require",
            self.port
        );
        let data_s = data.to_string_lossy().into_owned();
        tokio::task::spawn_blocking(move || {
            as_postgres(
                "pg_basebackup",
                &[
                    "-d",
                    &conninfo,
                    "-D",
                    &data_s,
                    "-R",
                    "-X",
                    "stream",
                    "--no-sync",
                ],
            )
        })
        .await
        .expect("pg_basebackup task")
        .expect("pg_basebackup");
        let pg = Self {
            port: free_port(),
            ca: self.ca.clone(),
            extra_addr: self.extra_addr,
            data,
            log,
            _dir: dir,
        };
        pg.pg_start().await.expect("pg_ctl start (replica)");
        pg
    }

    async fn init(ca: Option<TestCa>) -> Self {
        let dir = owned_tempdir();
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
        Self {
            port: free_port(),
            ca,
            extra_addr: None,
            data,
            log,
            _dir: dir,
        }
    }

    /// Its temp dir (owned by the user PostgreSQL runs as: files a `psql` script needs go here).
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    /// The directory of its Unix socket.
    fn socket_dir(&self) -> String {
        self.data
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Runs `sql` with `psql` as `user` in `db` over the Unix socket (no TLS needed); returns
    /// the unaligned, tuples-only output. `vars` are `psql -v` variables; `file` runs a script
    /// instead of `sql` when `sql` is empty.
    pub async fn psql_as(
        &self,
        user: &str,
        db: &str,
        sql: &str,
        file: Option<&Path>,
        vars: &[(&str, &str)],
    ) -> anyhow::Result<String> {
        let mut args: Vec<String> = vec![
            "-X".into(),
            "-q".into(),
            "-At".into(),
            "-v".into(),
            "ON_ERROR_STOP=1".into(),
            "-h".into(),
            self.socket_dir(),
            "-p".into(),
            self.port.to_string(),
            "-U".into(),
            user.into(),
            "-d".into(),
            db.into(),
        ];
        for (k, v) in vars {
            args.push("-v".into());
            args.push(format!("{k}={v}"));
        }
        match file {
            Some(f) => {
                args.push("-f".into());
                args.push(f.to_string_lossy().into_owned());
            }
            None => {
                args.push("-c".into());
                args.push(sql.into());
            }
        }
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            as_postgres_out("psql", &refs)
        })
        .await?
        .map(|s| s.trim().to_owned())
    }

    /// [`Self::psql_as`] as `postgres`.
    pub async fn psql(&self, db: &str, sql: &str) -> anyhow::Result<String> {
        self.psql_as("postgres", db, sql, None, &[]).await
    }

    /// The address clients reach it on: the extra address when it has one (it answers there
    /// from the machine too), else 127.0.0.1.
    pub fn host(&self) -> String {
        self.extra_addr
            .map_or_else(|| "127.0.0.1".to_owned(), |ip| ip.to_string())
    }

    /// The URL a service uses to reach `db` as `user` over TLS with `verify-full` against this
    /// cluster's CA (or `ca_cert` to test a wrong one), at [`Self::host`].
    pub fn tls_url(&self, user: &str, db: &str, ca_cert: Option<&Path>) -> String {
        let ca = ca_cert
            .map(Path::to_path_buf)
            .or_else(|| self.ca.as_ref().map(|c| c.ca_cert.clone()))
            .expect("a TLS cluster or an explicit CA");
        format!(
            "postgres://{user}@{}:{}/{db}?sslmode=verify-full&sslrootcert={}",
            self.host(),
            self.port,
            ca.display()
        )
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// `pg_ctl start -w`.
    pub async fn pg_start(&self) -> anyhow::Result<()> {
        let data = self.data.to_string_lossy().into_owned();
        let log = self.log.to_string_lossy().into_owned();
        let sock = self.socket_dir();
        // With an extra address the chart's pods connect: four services of up to
        // DATABASE_MAX_CONNECTIONS (20 in values-prod) each, more than the tests' 50.
        let (listen, max_conn) = match self.extra_addr {
            Some(ip) => (format!("127.0.0.1,{ip}"), 200),
            None => ("127.0.0.1".to_owned(), 50),
        };
        let opts = format!(
            "-p {} -c listen_addresses={listen} -k {sock} -c fsync=off -c max_connections={max_conn}",
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
