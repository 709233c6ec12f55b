//! Child processes: spawn with a clean environment, output to files, kill by PID on drop.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// The path of a workspace binary built in the same profile as the running test.
///
/// Cargo puts test executables in `target/<profile>/deps/` and binaries in `target/<profile>/`;
/// cross-package `CARGO_BIN_EXE_*` does not exist, so the binaries are found from the test's own
/// path. `scripts/test.sh` builds them (`cargo build --workspace --bins`) before nextest runs.
///
/// `PHONEBILL_BIN_DIR`, when set, names another directory (e.g. a release build, or a copy
/// that a concurrent build in a shared target directory cannot overwrite mid-run).
///
/// # Panics
/// When the binary is missing: the test must fail with the command that fixes it, not skip.
pub fn bin(name: &str) -> PathBuf {
    let dir = match std::env::var_os("PHONEBILL_BIN_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => {
            let exe = std::env::current_exe().expect("path of the test executable");
            exe.parent()
                .and_then(Path::parent)
                .expect("test executable lives in target/<profile>/deps")
                .to_owned()
        }
    };
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "service binary {} not found; build it first with `cargo build --workspace --bins --locked` \
         (same profile as the tests; scripts/test.sh does this)",
        path.display()
    );
    path
}

/// The path of `program` on `PATH`, or in the sbin directories where Debian puts servers
/// (haproxy) that a non-root `PATH` may lack.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// A port that was free a moment ago (bind to port 0, read it, release it).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// One child process. Its stdout and stderr go to `<dir>/<name>.out` / `.err`.
pub struct Proc {
    name: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    exited: Option<ExitStatus>,
}

impl std::fmt::Debug for Proc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proc")
            .field("name", &self.name)
            .field("pid", &self.child.id())
            .finish()
    }
}

impl Proc {
    /// Starts `program args` with only `PATH`, `HOME` and `env` in its environment.
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[&str],
        env: &[(String, String)],
        dir: &Path,
    ) -> anyhow::Result<Self> {
        // Unique file names: a restarted process keeps the logs of the earlier run.
        let mut n = 0;
        let (stdout, stderr) = loop {
            let suffix = if n == 0 {
                String::new()
            } else {
                format!(".{n}")
            };
            let out = dir.join(format!("{name}{suffix}.out"));
            if !out.exists() {
                break (out, dir.join(format!("{name}{suffix}.err")));
            }
            n += 1;
        };
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::from(File::create(&stdout)?))
            .stderr(Stdio::from(File::create(&stderr)?));
        for key in ["PATH", "HOME"] {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {name} ({})", program.display()))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            stdout,
            stderr,
            exited: None,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The exit status if the process has ended.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }

    /// Fails (with the logs) if the process has ended.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.try_exit() {
            bail!(
                "{} exited early with {status}\n{}",
                self.name,
                self.logs_tail(60)
            );
        }
        Ok(())
    }

    /// Sends SIGTERM (by PID, through `kill`: the workspace forbids `unsafe`).
    pub fn sigterm(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
    }

    /// Sends SIGKILL and reaps the process.
    pub fn sigkill(&mut self) {
        if self.try_exit().is_none() {
            let _ = self.child.kill();
            self.exited = self.child.wait().ok();
        }
    }

    /// Waits up to `timeout` for the process to end.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_exit() {
                return Some(s);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The last `lines` lines of stdout and stderr.
    pub fn logs_tail(&self, lines: usize) -> String {
        let tail = |p: &Path| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        };
        format!(
            "--- {} stdout ({}) ---\n{}\n--- {} stderr ---\n{}",
            self.name,
            self.stdout.display(),
            tail(&self.stdout),
            self.name,
            tail(&self.stderr)
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs_tail(40));
        }
        if self.try_exit().is_some() {
            return;
        }
        self.sigterm();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while std::time::Instant::now() < deadline {
            if self.try_exit().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.sigkill();
    }
}
