//! Starting the services as processes: the environment each needs, readiness, tokens.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use chrono::{Datelike, Months};
use serde_json::{Value, json};

use crate::http::Http;
use crate::proc::{Proc, bin, free_port};

/// A started service process.
#[derive(Debug)]
pub struct Service {
    /// The process.
    pub proc: Proc,
    /// Its port.
    pub port: u16,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Its `DATA_DIR` (SQLite file, local keys).
    pub data_dir: PathBuf,
}

impl Service {
    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The readiness body.
    pub async fn readiness(&self, http: &Http) -> Value {
        http.get(&self.url("/actuator/health/readiness"), None)
            .await
            .body
    }

    /// The breaker state reported by readiness (`CLOSED`, `OPEN`, `HALF_OPEN`).
    pub async fn breaker(&self, http: &Http) -> String {
        self.readiness(http).await["components"]["kos"]["details"]["breaker"]
            .as_str()
            .unwrap_or("?")
            .to_owned()
    }

    /// The Prometheus text.
    pub async fn metrics(&self, http: &Http) -> String {
        http.get(&self.url("/actuator/prometheus"), None)
            .await
            .body
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// The temp dir of one test and the shared settings of the processes it starts.
#[derive(Debug)]
pub struct Stack {
    /// Logs, SQLite files and data dirs of every process of the test.
    pub dir: tempfile::TempDir,
    /// A client with a 30 s bound per call.
    pub http: Http,
    /// Where the service binaries are; `None`: [`bin`]'s rule (next to the test executable, or
    /// `PHONEBILL_BIN_DIR`). The load harness sets it from its `--bin-dir`.
    bin_dir: Option<PathBuf>,
}

impl Default for Stack {
    fn default() -> Self {
        Self::new()
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The JWKS URL of an auth process.
pub fn jwks_url(auth: &Service) -> String {
    auth.url("/api/v1/auth/.well-known/jwks.json")
}

impl Stack {
    /// A new temp dir.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            http: Http::new(Duration::from_secs(30)),
            bin_dir: None,
        }
    }

    /// A new temp dir whose processes are started from the binaries in `dir`.
    #[must_use]
    pub fn with_bin_dir(mut self, dir: PathBuf) -> Self {
        self.bin_dir = Some(dir);
        self
    }

    /// The path of `bin_name`: in the directory given to [`Self::with_bin_dir`] (an error
    /// naming it when missing), else by [`bin`]'s rule.
    pub fn binary(&self, bin_name: &str) -> anyhow::Result<PathBuf> {
        match &self.bin_dir {
            Some(dir) => {
                let path = dir.join(bin_name);
                if !path.is_file() {
                    bail!(
                        "service binary {} not found (build it: `cargo build --release --bins`, or pass another --bin-dir)",
                        path.display()
                    );
                }
                Ok(path)
            }
            None => Ok(bin(bin_name)),
        }
    }

    /// The temp dir.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Starts `bin_name` as `name` on `port` (0: a free one) with the common settings
    /// (loopback, `RUST_LOG=warn`, 5 s drain) overridden by `env`, and waits for readiness.
    pub async fn start(
        &self,
        bin_name: &str,
        name: &str,
        port: u16,
        env: &[(String, String)],
    ) -> anyhow::Result<Service> {
        let mut svc = self.spawn(bin_name, name, port, env)?;
        self.wait_ready(&mut svc, Duration::from_secs(60)).await?;
        Ok(svc)
    }

    /// [`Self::start`] without waiting for readiness (a test of a service that is not ready).
    pub fn spawn(
        &self,
        bin_name: &str,
        name: &str,
        port: u16,
        env: &[(String, String)],
    ) -> anyhow::Result<Service> {
        let port = if port == 0 { free_port() } else { port };
        let data_dir = self.path().join(name);
        std::fs::create_dir_all(&data_dir)?;
        let mut all = pairs(&[
            ("BIND_ADDRESS", "127.0.0.1"),
            ("RUST_LOG", "warn"),
            ("LOG_FORMAT", "json"),
            ("SHUTDOWN_GRACE_SECONDS", "5"),
        ]);
        all.push(("PORT".into(), port.to_string()));
        all.push(("DATA_DIR".into(), data_dir.to_string_lossy().into_owned()));
        // Later entries win (Command::env overwrites).
        all.extend(env.iter().cloned());
        let proc = Proc::spawn(name, &self.binary(bin_name)?, &[], &all, self.path())?;
        Ok(Service {
            proc,
            port,
            base: format!("http://127.0.0.1:{port}"),
            data_dir,
        })
    }

    /// Runs `bin_name args` to its end (at most `limit`) with only `PATH`, `HOME` and `env`
    /// in its environment; returns whether it succeeded and its stdout and stderr.
    pub async fn run_to_end(
        &self,
        bin_name: &str,
        args: &[&str],
        env: &[(String, String)],
        limit: Duration,
    ) -> anyhow::Result<(bool, String, String)> {
        let mut cmd = tokio::process::Command::new(self.binary(bin_name)?);
        cmd.args(args).env_clear().kill_on_drop(true);
        for key in ["PATH", "HOME"] {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        cmd.envs(env.iter().cloned());
        let out = tokio::time::timeout(limit, cmd.output())
            .await
            .map_err(|_| anyhow::anyhow!("{bin_name} {args:?} did not end within {limit:?}"))??;
        Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    /// Polls readiness until `200`.
    pub async fn wait_ready(&self, svc: &mut Service, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        let url = svc.url("/actuator/health/readiness");
        loop {
            svc.proc.ensure_running()?;
            if let Ok(r) = self
                .http
                .inner()
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                && r.status().as_u16() == 200
            {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "{} not ready after {timeout:?}\n{}",
                    svc.proc.name(),
                    svc.proc.logs_tail(60)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The auth service: SQLite, demo users, cheap Argon2 and no login rate limit (the tests
    /// log in often; neither is under test here).
    pub async fn auth(&self, env: &[(&str, &str)]) -> Service {
        let mut all = pairs(&[
            ("SEED_DEMO_USERS", "true"),
            ("ARGON2_MEMORY_KIB", "64"),
            ("ARGON2_ITERATIONS", "1"),
            ("AUTH_RATE_LIMIT_PER_MINUTE", "0"),
        ]);
        all.extend(pairs(env));
        self.start("auth-service", "auth", 0, &all)
            .await
            .expect("auth-service ready")
    }

    /// The KOS mock: in-memory store, simulation off, faults on.
    pub async fn kos(&self, env: &[(&str, &str)]) -> Service {
        let mut all = pairs(&[
            ("KOS_STORE", "memory"),
            ("KOS_SIMULATION", "off"),
            ("KOS_RATE_LIMIT_ENABLED", "false"),
            ("KOS_FAULTS_ENABLED", "true"),
        ]);
        all.extend(pairs(env));
        self.start("kos-mock-service", "kos", 0, &all)
            .await
            .expect("kos-mock-service ready")
    }

    /// The environment bill-inquiry / product-change need to reach `auth` and `kos`.
    pub fn client_env(auth: &Service, kos: &Service) -> Vec<(String, String)> {
        vec![
            ("JWKS_URL".into(), jwks_url(auth)),
            ("KOS_BASE_URL".into(), kos.base.clone()),
        ]
    }

    /// Bill-inquiry against `auth` and `kos` (SQLite in its data dir unless `env` sets
    /// `DATABASE_URL`).
    pub async fn bill(
        &self,
        auth: &Service,
        kos: &Service,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Service> {
        let mut all = Self::client_env(auth, kos);
        all.extend(pairs(env));
        self.start("bill-inquiry-service", "bill", 0, &all).await
    }

    /// Logs in and returns the login body (`access_token`, `refresh_token`, ...).
    pub async fn login(&self, auth: &Service, user: &str, password: &str) -> Value {
        let r = self
            .http
            .post(
                &auth.url("/api/v1/auth/login"),
                None,
                &json!({ "userId": user, "password": password }),
            )
            .await;
        assert_eq!(r.status, 200, "login of {user}: {}", r.body);
        r.body
    }

    /// An access token of `mvno001` (line 01012345678, `BILL_INQUIRY` and `PRODUCT_CHANGE`).
    pub async fn token(&self, auth: &Service) -> String {
        self.login(auth, "mvno001", "Phonebill1!").await["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }
}

/// The current month in Korea time, `YYYYMM`.
pub fn current_month() -> String {
    month_back(0)
}

/// The month `n` months before the current one (Korea time), `YYYYMM`.
pub fn month_back(n: u32) -> String {
    let kst = chrono::Utc::now() + chrono::Duration::hours(9);
    let d = kst
        .date_naive()
        .with_day(1)
        .and_then(|d| d.checked_sub_months(Months::new(n)))
        .expect("a valid month");
    format!("{:04}{:02}", d.year(), d.month())
}
