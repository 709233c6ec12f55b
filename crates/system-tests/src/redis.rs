//! A private `redis-server` on a fixed free port, which a test may kill and restart.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::proc::{Proc, find_program, free_port};

/// A `redis-server` owned by one test (no persistence: a restart comes back empty).
#[derive(Debug)]
pub struct RedisServer {
    /// Its port (kept across restarts).
    pub port: u16,
    dir: PathBuf,
    proc: Option<Proc>,
}

impl RedisServer {
    /// Starts one on a free port; logs go to `dir`.
    pub async fn start(dir: &Path) -> Self {
        let mut r = Self {
            port: free_port(),
            dir: dir.to_owned(),
            proc: None,
        };
        r.restart().await;
        r
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same port and waits until it answers.
    pub async fn restart(&mut self) {
        let program = which("redis-server");
        let port = self.port.to_string();
        let proc = Proc::spawn(
            "redis",
            &program,
            &[
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            &[],
            &self.dir,
        )
        .expect("start redis-server");
        self.proc = Some(proc);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if self.ping().await {
                return;
            }
            if let Some(p) = self.proc.as_mut() {
                p.ensure_running().expect("redis-server running");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not answer on port {}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL (a crash: nothing is saved).
    pub fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.sigkill();
        }
    }

    /// Whether it answers `PING`.
    pub async fn ping(&self) -> bool {
        self.command(&["PING"]).await.is_some_and(|r| r == "+PONG")
    }

    /// Sends one command in RESP and returns the first reply line (`None` on any failure).
    /// Enough for `PING`, `EXISTS`, `DBSIZE`; avoids a client library for two commands.
    pub async fn command(&self, args: &[&str]) -> Option<String> {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let fut = async {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .ok()?;
            let mut req = format!("*{}\r\n", args.len());
            for a in args {
                req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
            }
            s.write_all(req.as_bytes()).await.ok()?;
            let mut line = String::new();
            BufReader::new(s).read_line(&mut line).await.ok()?;
            Some(line.trim_end().to_owned())
        };
        tokio::time::timeout(Duration::from_secs(1), fut)
            .await
            .ok()
            .flatten()
    }

    /// Keys matching `pattern` (`KEYS`; a private server holds only the test's keys).
    pub async fn keys(&self, pattern: &str) -> Vec<String> {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let fut = async {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .ok()?;
            let req = format!("*2\r\n$4\r\nKEYS\r\n${}\r\n{pattern}\r\n", pattern.len());
            s.write_all(req.as_bytes()).await.ok()?;
            let mut r = BufReader::new(s);
            let mut line = String::new();
            r.read_line(&mut line).await.ok()?;
            let n: usize = line.trim_end().strip_prefix('*')?.parse().ok()?;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                line.clear();
                r.read_line(&mut line).await.ok()?; // $len
                line.clear();
                r.read_line(&mut line).await.ok()?;
                out.push(line.trim_end().to_owned());
            }
            Some(out)
        };
        tokio::time::timeout(Duration::from_secs(2), fut)
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    }
}

/// The full path of `program` ([`find_program`]); the system tests need it, so a missing one
/// fails the test.
pub fn which(program: &str) -> PathBuf {
    find_program(program)
        .unwrap_or_else(|| panic!("{program} not found on PATH; the system tests need it"))
}
