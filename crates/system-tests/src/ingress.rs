//! The ingress of the production shape: HAProxy in front of the service replicas, with the
//! routes of the chart's own Ingress.
//!
//! The routes are never a second hand-written list: [`chart_routes`] runs `helm template` on
//! deploy/helm with values-prod.yaml and follows each Ingress path to its Service, the Service's
//! selector to the Deployment it selects, and that Deployment's image to the binary
//! (`…/phonebill/auth-service:tag` → `auth-service`). A path added to, or removed from, the
//! chart is added to, or removed from, the ingress here.
//!
//! [`Haproxy`] then behaves as Azure Application Gateway does for the services:
//! - round-robin over the replicas of a route, each health-checked on its readiness endpoint,
//!   so a replica that turns readiness 503 (the first step of its shutdown) stops receiving
//!   requests before it exits;
//! - `X-Forwarded-For` gets `client-ip:port` appended (Application Gateway's format), after
//!   whatever the client sent, so the only trustworthy entry is the rightmost one;
//! - longest prefix wins, as with `pathType: Prefix`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::proc::{Proc, find_program, free_port};

/// One Ingress path: requests whose path starts with `prefix` go to replicas of `binary`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The Ingress path (`pathType: Prefix`).
    pub prefix: String,
    /// The service binary behind it (`auth-service`, ...).
    pub binary: String,
}

/// The workspace root (two levels above this crate's manifest).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The helm binary: `PHONEBILL_HELM`, else the one scripts/tools/helm.sh installs under
/// `.tools/bin`, else `helm` on `PATH`.
pub fn helm() -> PathBuf {
    if let Some(p) = std::env::var_os("PHONEBILL_HELM").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let local = workspace_root().join(".tools/bin/helm");
    if local.is_file() {
        return local;
    }
    PathBuf::from("helm")
}

/// The routes of the chart's Ingress, rendered with `values-prod.yaml` plus `extra` values
/// files.
pub fn chart_routes(extra_values: &[&Path]) -> anyhow::Result<Vec<Route>> {
    let chart = workspace_root().join("deploy/helm/phonebill");
    let mut cmd = Command::new(helm());
    cmd.arg("template")
        .arg("pb")
        .arg(&chart)
        .arg("-f")
        .arg(chart.join("values-prod.yaml"));
    for v in extra_values {
        cmd.arg("-f").arg(v);
    }
    let out = cmd.output().with_context(|| {
        format!(
            "cannot run {} (install it with `bash scripts/tools/helm.sh`)",
            helm().display()
        )
    })?;
    if !out.status.success() {
        bail!(
            "helm template failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    routes_from_manifests(&String::from_utf8_lossy(&out.stdout))
}

/// The routes of every Ingress in a multi-document YAML stream of rendered manifests.
pub fn routes_from_manifests(yaml: &str) -> anyhow::Result<Vec<Route>> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(yaml).context("rendered manifests")?;
    let docs: Vec<&Value> = docs.iter().filter(|d| d.is_object()).collect();
    let kind = |d: &Value| d["kind"].as_str().unwrap_or_default().to_owned();
    let name = |d: &Value| {
        d["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    // Service name → its selector.
    let selectors: BTreeMap<String, &serde_json::Map<String, Value>> = docs
        .iter()
        .filter(|d| kind(d) == "Service")
        .filter_map(|d| Some((name(d), d["spec"]["selector"].as_object()?)))
        .collect();
    // Workloads (pod template labels, first container's image).
    let workloads: Vec<(&serde_json::Map<String, Value>, String)> = docs
        .iter()
        .filter(|d| kind(d) == "Deployment")
        .filter_map(|d| {
            let tpl = &d["spec"]["template"];
            let labels = tpl["metadata"]["labels"].as_object()?;
            let image = tpl["spec"]["containers"][0]["image"].as_str()?.to_owned();
            Some((labels, image))
        })
        .collect();

    let mut routes = Vec::new();
    for ing in docs.iter().filter(|d| kind(d) == "Ingress") {
        for rule in ing["spec"]["rules"].as_array().into_iter().flatten() {
            for p in rule["http"]["paths"].as_array().into_iter().flatten() {
                let prefix = p["path"].as_str().context("Ingress path without path")?;
                let svc = p["backend"]["service"]["name"]
                    .as_str()
                    .with_context(|| format!("Ingress path {prefix} has no service backend"))?;
                let selector = selectors
                    .get(svc)
                    .with_context(|| format!("Ingress path {prefix}: no Service {svc}"))?;
                let image = workloads
                    .iter()
                    .find(|(labels, _)| selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
                    .map(|(_, image)| image.as_str())
                    .with_context(|| format!("Service {svc} selects no Deployment"))?;
                routes.push(Route {
                    prefix: prefix.to_owned(),
                    binary: binary_of_image(image)
                        .with_context(|| format!("image {image} names no binary"))?,
                });
            }
        }
    }
    if routes.is_empty() {
        bail!("the rendered chart has no Ingress path");
    }
    Ok(routes)
}

/// `registry/phonebill/auth-service:0.1.0@sha256:…` → `auth-service`.
fn binary_of_image(image: &str) -> Option<String> {
    let no_digest = image.split('@').next()?;
    let last = no_digest.rsplit('/').next()?;
    let name = last.split(':').next()?;
    (!name.is_empty()).then(|| name.to_owned())
}

/// A running HAProxy: one front-end port, one back-end per binary.
#[derive(Debug)]
pub struct Haproxy {
    /// The process (killed by PID on drop).
    pub proc: Proc,
    /// The front-end port.
    pub port: u16,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The generated configuration file.
    pub config: PathBuf,
}

/// How often a replica's readiness is checked, and after how many failures it is taken out.
/// A service's shutdown keeps readiness 503 for `SHUTDOWN_DELAY_SECONDS` before it stops
/// listening, which must exceed `CHECK_INTERVAL × FALL` plus a request's time.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(300);
/// Failed checks before a replica is marked down.
pub const FALL: u32 = 1;

/// Concurrent client connections of the ingress when none is asked for (the tests' loads).
pub const DEFAULT_MAXCONN: u32 = 2000;

/// File descriptors HAProxy keeps outside its connections (listeners, health checks, the
/// admin socket, logs), on top of what [`maxconn_for_open_files`] leaves for connections.
pub const FD_RESERVE: u64 = 256;

/// The largest `maxconn` an open-files limit of `nofile` carries: HAProxy reserves two
/// descriptors per connection (the client side and the server side) plus [`FD_RESERVE`], and
/// refuses to start with a `maxconn` its limit cannot hold.
pub fn maxconn_for_open_files(nofile: u64) -> u32 {
    u32::try_from(nofile.saturating_sub(FD_RESERVE) / 2).unwrap_or(u32::MAX)
}

impl Haproxy {
    /// The configuration for `routes` over `backends` (binary → replica ports on 127.0.0.1),
    /// plus one in-cluster front-end per entry of `services` (binary → port): the Service
    /// address other pods call (JWKS, KOS), balanced over the same replicas as kube-proxy does,
    /// without the gateway's headers.
    pub fn config(
        sock_dir: &Path,
        port: u16,
        routes: &[Route],
        backends: &BTreeMap<String, Vec<u16>>,
        services: &BTreeMap<String, u16>,
    ) -> anyhow::Result<String> {
        Self::config_with(sock_dir, port, routes, backends, services, DEFAULT_MAXCONN)
    }

    /// [`Self::config`] with `maxconn` concurrent client connections (the global limit; the
    /// load harness sizes it from the open-files limit with [`maxconn_for_open_files`]).
    pub fn config_with(
        sock_dir: &Path,
        port: u16,
        routes: &[Route],
        backends: &BTreeMap<String, Vec<u16>>,
        services: &BTreeMap<String, u16>,
        maxconn: u32,
    ) -> anyhow::Result<String> {
        let interval = CHECK_INTERVAL.as_millis();
        let mut c = String::new();
        let sock_dir = sock_dir.display();
        // `-db` keeps it in the foreground; no daemon, no pid file, no stats socket.
        let _ = writeln!(
            c,
            "global\n  maxconn {maxconn}\n  stats socket {}/haproxy.sock mode 600 level admin\n\ndefaults\n  mode http\n  timeout connect 2s\n  \
             timeout client 60s\n  timeout server 60s\n  timeout http-request 10s\n  \
             option http-keep-alive\n  retries 2\n  \
             # a connection refused by a replica that just exited is retried on another one;\n  \
             # requests that reached a replica are never replayed\n  \
             retry-on conn-failure\n  option redispatch\n",
            sock_dir
        );
        let _ = writeln!(c, "frontend ingress\n  bind 127.0.0.1:{port}");
        // Application Gateway appends `client-ip:port` to whatever X-Forwarded-For the client
        // sent (https://learn.microsoft.com/azure/application-gateway/how-application-gateway-works).
        let _ = writeln!(
            c,
            "  http-request set-header X-Forwarded-For \"%[req.fhdr(X-Forwarded-For)], %[src]:%[src_port]\" if {{ req.fhdr(X-Forwarded-For) -m found }}\n  \
             http-request set-header X-Forwarded-For \"%[src]:%[src_port]\" unless {{ req.fhdr(X-Forwarded-For) -m found }}\n  \
             http-request set-header X-Forwarded-Proto http\n  \
             http-request set-header X-Original-Host %[req.hdr(Host)]"
        );
        // Longest prefix first, as `pathType: Prefix` matches (on path segments).
        let mut sorted: Vec<&Route> = routes.iter().collect();
        sorted.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        for r in &sorted {
            let be = backend_name(&r.binary);
            let p = r.prefix.trim_end_matches('/');
            let _ = writeln!(
                c,
                "  use_backend {be} if {{ path {p} }} || {{ path_beg {p}/ }}"
            );
        }
        // No default backend: a path outside the Ingress gets HAProxy's own 503, as the
        // gateway answers 404 for a path no rule names; the services are never reached.
        for (b, p) in services {
            let _ = writeln!(
                c,
                "\nfrontend svc_{}\n  bind 127.0.0.1:{p}\n  default_backend {}",
                b.replace('-', "_"),
                backend_name(b)
            );
        }
        let mut binaries: Vec<&str> = routes
            .iter()
            .map(|r| r.binary.as_str())
            .chain(services.keys().map(String::as_str))
            .collect();
        binaries.sort_unstable();
        binaries.dedup();
        for b in binaries {
            let ports = backends
                .get(b)
                .filter(|p| !p.is_empty())
                .with_context(|| format!("{b} is routed to but has no replica"))?;
            let _ = writeln!(
                c,
                "\nbackend {}\n  balance roundrobin\n  option httpchk GET /actuator/health/readiness\n  \
                 http-check expect status 200",
                backend_name(b)
            );
            for (i, p) in ports.iter().enumerate() {
                let _ = writeln!(
                    c,
                    "  server {b}-{i} 127.0.0.1:{p} check inter {interval} fall {FALL} rise 1"
                );
            }
        }
        Ok(c)
    }

    /// Writes the configuration into `dir` and starts HAProxy on a free port; waits until it
    /// accepts connections.
    pub async fn start(
        dir: &Path,
        routes: &[Route],
        backends: &BTreeMap<String, Vec<u16>>,
        services: &BTreeMap<String, u16>,
    ) -> anyhow::Result<Self> {
        Self::start_with(dir, routes, backends, services, DEFAULT_MAXCONN).await
    }

    /// [`Self::start`] with `maxconn` concurrent client connections.
    pub async fn start_with(
        dir: &Path,
        routes: &[Route],
        backends: &BTreeMap<String, Vec<u16>>,
        services: &BTreeMap<String, u16>,
        maxconn: u32,
    ) -> anyhow::Result<Self> {
        let port = free_port();
        let config = dir.join("haproxy.cfg");
        std::fs::write(
            &config,
            Self::config_with(dir, port, routes, backends, services, maxconn)?,
        )?;
        let haproxy = find_program("haproxy").context(
            "haproxy is not installed (apt-get install haproxy; scripts/test.sh installs it)",
        )?;
        let cfg = config.to_string_lossy().into_owned();
        let check = Command::new(&haproxy)
            .args(["-c", "-q", "-f", &cfg])
            .output()?;
        if !check.status.success() {
            bail!(
                "haproxy refuses {cfg}: {}",
                String::from_utf8_lossy(&check.stderr)
            );
        }
        let mut proc = Proc::spawn("haproxy", &haproxy, &["-db", "-f", &cfg], &[], dir)?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            proc.ensure_running()?;
            if tokio::time::Instant::now() >= deadline {
                bail!("haproxy did not listen on {port}\n{}", proc.logs_tail(40));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            proc,
            port,
            base: format!("http://127.0.0.1:{port}"),
            config,
        })
    }

    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `show stat` on the admin socket: the CSV header's column names and the rows.
    async fn show_stat(&self) -> anyhow::Result<(Vec<String>, Vec<Vec<String>>)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let sock = self.config.with_file_name("haproxy.sock");
        let mut s = tokio::net::UnixStream::connect(&sock)
            .await
            .with_context(|| format!("cannot reach HAProxy's admin socket {}", sock.display()))?;
        s.write_all(b"show stat\n").await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        let header = out
            .lines()
            .find_map(|l| l.strip_prefix("# "))
            .context("show stat without a header")?
            .split(',')
            .map(str::to_owned)
            .collect();
        let rows = out
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split(',').map(str::to_owned).collect())
            .collect();
        Ok((header, rows))
    }

    /// HTTP requests the public front-end (`ingress`, not the in-cluster Service front-ends)
    /// has received since it started (`req_tot`), to prove that load went through it.
    pub async fn ingress_requests(&self) -> anyhow::Result<u64> {
        let (header, rows) = self.show_stat().await?;
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .with_context(|| format!("show stat has no column {name}"))
        };
        let (px, sv, req) = (col("pxname")?, col("svname")?, col("req_tot")?);
        rows.iter()
            .find(|r| {
                r.get(px).map(String::as_str) == Some("ingress")
                    && r.get(sv).map(String::as_str) == Some("FRONTEND")
            })
            .and_then(|r| r.get(req))
            .and_then(|v| v.parse().ok())
            .context("show stat has no req_tot for the ingress front-end")
    }

    /// Each server's health as HAProxy sees it (`be_auth_service/auth-service-0` → `UP`),
    /// from `show stat` on the admin socket.
    pub async fn server_states(&self) -> anyhow::Result<BTreeMap<String, String>> {
        // CSV: pxname,svname,...; column 17 is `status`.
        let (_, rows) = self.show_stat().await?;
        Ok(rows
            .iter()
            .filter_map(|f| {
                let (px, sv, status) = (f.first()?, f.get(1)?, f.get(17)?);
                (!matches!(sv.as_str(), "FRONTEND" | "BACKEND"))
                    .then(|| (format!("{px}/{sv}"), status.clone()))
            })
            .collect())
    }

    /// Waits until HAProxy's health checks see every server up.
    pub async fn wait_all_up(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let states = self.server_states().await?;
            if !states.is_empty() && states.values().all(|s| s == "UP") {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("servers not up after {timeout:?}: {states:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn backend_name(binary: &str) -> String {
    format!("be_{}", binary.replace('-', "_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RENDERED: &str = r#"
---
apiVersion: v1
kind: Service
metadata: {name: pb-auth}
spec:
  selector: {app: phonebill, component: auth}
---
apiVersion: v1
kind: Service
metadata: {name: pb-bill}
spec:
  selector: {app: phonebill, component: bill}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: pb-auth}
spec:
  template:
    metadata: {labels: {app: phonebill, component: auth, extra: x}}
    spec:
      containers: [{name: app, image: "acr.io/phonebill/auth-service:0.1.0@sha256:ab"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: pb-bill}
spec:
  template:
    metadata: {labels: {app: phonebill, component: bill}}
    spec:
      containers: [{name: app, image: "acr.io/phonebill/bill-inquiry-service:1"}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: pb}
spec:
  rules:
    - http:
        paths:
          - {path: /api/v1/auth, pathType: Prefix, backend: {service: {name: pb-auth, port: {name: http}}}}
          - {path: /api/v1/bills, pathType: Prefix, backend: {service: {name: pb-bill, port: {name: http}}}}
"#;

    #[test]
    fn routes_follow_ingress_service_selector_and_image() {
        let routes = routes_from_manifests(RENDERED).expect("routes");
        assert_eq!(
            routes,
            vec![
                Route {
                    prefix: "/api/v1/auth".into(),
                    binary: "auth-service".into()
                },
                Route {
                    prefix: "/api/v1/bills".into(),
                    binary: "bill-inquiry-service".into()
                },
            ]
        );
    }

    #[test]
    fn an_ingress_path_to_a_missing_service_is_an_error() {
        let broken = RENDERED.replace("name: pb-bill, port", "name: pb-nowhere, port");
        let err = routes_from_manifests(&broken).expect_err("missing service");
        assert!(err.to_string().contains("pb-nowhere"), "{err}");
    }

    #[test]
    fn config_lists_every_replica_and_refuses_a_route_without_one() {
        let routes = routes_from_manifests(RENDERED).expect("routes");
        let mut backends = BTreeMap::new();
        backends.insert("auth-service".to_owned(), vec![1001, 1002]);
        let none = BTreeMap::new();
        assert!(Haproxy::config(Path::new("/tmp"), 9000, &routes, &backends, &none).is_err());
        backends.insert("bill-inquiry-service".to_owned(), vec![2001, 2002]);
        let cfg =
            Haproxy::config(Path::new("/tmp"), 9000, &routes, &backends, &none).expect("config");
        for port in [1001, 1002, 2001, 2002] {
            assert!(cfg.contains(&format!("127.0.0.1:{port} check")), "{cfg}");
        }
        assert!(cfg.contains("%[src]:%[src_port]"), "{cfg}");
        assert!(cfg.contains("maxconn 2000\n"), "{cfg}");
        let big = Haproxy::config_with(Path::new("/tmp"), 9000, &routes, &backends, &none, 12_345)
            .expect("config");
        assert!(big.contains("maxconn 12345\n"), "{big}");
    }

    #[test]
    fn maxconn_leaves_two_descriptors_per_connection_and_a_reserve() {
        assert_eq!(maxconn_for_open_files(20_000), 9_872);
        assert_eq!(
            u64::from(maxconn_for_open_files(1_048_576)) * 2 + FD_RESERVE,
            1_048_576
        );
        assert_eq!(maxconn_for_open_files(100), 0);
    }
}
