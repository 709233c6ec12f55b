//! A private Redis Cluster of 3 masters and 3 replicas that accepts only TLS, as Azure Cache for
//! Redis Premium runs it: `redis-server --port 0 --tls-port P --tls-cluster yes
//! --tls-replication yes`, certificates from [`TestCa`], then `redis-cli --cluster create
//! --cluster-replicas 1`. Each node has its own directory under the test's temp dir and its own
//! free client and bus ports; every node is killed by PID when the cluster is dropped.
//!
//! [`RedisCluster::start_on`] also binds an extra address and announces it
//! (`cluster-announce-ip`): a cluster client follows the addresses the nodes announce (`MOVED`,
//! `CLUSTER SLOTS`), so containers behind the Docker network gateway must be told the gateway,
//! not 127.0.0.1, which inside a container is the container itself.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::proc::{Proc, free_port};
use crate::redis::which;
use crate::tls::TestCa;

/// Nodes in the cluster (3 masters, each with one replica).
pub const NODES: usize = 6;

/// One node.
#[derive(Debug)]
struct Node {
    port: u16,
    proc: Option<Proc>,
}

/// The cluster; see the module documentation.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<Node>,
    ca_cert: PathBuf,
    password: Option<String>,
    /// The address clients are given (the announced one, else 127.0.0.1).
    host: String,
}

/// A node's role as `CLUSTER NODES` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Client (TLS) port.
    pub port: u16,
    /// Node id.
    pub id: String,
    /// `true` for a master.
    pub master: bool,
    /// The master's id (replicas).
    pub master_id: Option<String>,
    /// Flagged `fail` or `fail?`.
    pub failing: bool,
    /// Slot ranges it serves (masters), e.g. `0-5460`.
    pub slots: Vec<(u16, u16)>,
}

impl RedisCluster {
    /// Starts 6 TLS-only nodes with certificates signed by `ca` and joins them into a cluster;
    /// with `password`, every node requires it from clients and from each other.
    pub async fn start(dir: &Path, ca: &TestCa, password: Option<&str>) -> anyhow::Result<Self> {
        Self::start_on(dir, ca, password, None).await
    }

    /// [`Self::start`], every node also bound to `extra` and announcing it to clients and to
    /// each other; `ca`'s server certificate must name it ([`TestCa::create_for`]).
    pub async fn start_on(
        dir: &Path,
        ca: &TestCa,
        password: Option<&str>,
        extra: Option<IpAddr>,
    ) -> anyhow::Result<Self> {
        let redis_server = which("redis-server");
        let extra_s = extra.map(|ip| ip.to_string());
        let mut nodes = Vec::with_capacity(NODES);
        for i in 0..NODES {
            let port = free_port();
            let bus = free_port();
            let node_dir = dir.join(format!("redis-node-{i}"));
            std::fs::create_dir_all(&node_dir)
                .with_context(|| format!("create {}", node_dir.display()))?;
            let (cert, key) = ca.install_for(&node_dir, None)?;
            let port_s = port.to_string();
            let bus_s = bus.to_string();
            let cert_s = cert.to_string_lossy().into_owned();
            let key_s = key.to_string_lossy().into_owned();
            let ca_s = ca.ca_cert.to_string_lossy().into_owned();
            let dir_s = node_dir.to_string_lossy().into_owned();
            let mut args: Vec<&str> =
                vec!["--port", "0", "--tls-port", &port_s, "--bind", "127.0.0.1"];
            if let Some(ip) = &extra_s {
                // `--bind` takes several addresses; the announced one must be among them.
                args.extend([ip.as_str(), "--cluster-announce-ip", ip.as_str()]);
            }
            args.extend([
                "--tls-cert-file",
                &cert_s,
                "--tls-key-file",
                &key_s,
                "--tls-ca-cert-file",
                &ca_s,
                "--tls-auth-clients",
                "no",
                "--tls-cluster",
                "yes",
                "--tls-replication",
                "yes",
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                &bus_s,
                "--cluster-config-file",
                "nodes.conf",
                // A killed master is declared failed after 1 s and its replica promoted.
                "--cluster-node-timeout",
                "1000",
                "--dir",
                &dir_s,
                "--save",
                "",
                "--appendonly",
                "no",
            ]);
            if let Some(pw) = password {
                args.extend(["--requirepass", pw, "--masterauth", pw]);
            }
            let proc = Proc::spawn(&format!("redis-node-{i}"), &redis_server, &args, &[], dir)?;
            nodes.push(Node {
                port,
                proc: Some(proc),
            });
        }
        let cluster = Self {
            nodes,
            ca_cert: ca.ca_cert.clone(),
            password: password.map(str::to_owned),
            host: extra_s.unwrap_or_else(|| "127.0.0.1".to_owned()),
        };
        for n in &cluster.nodes {
            cluster
                .wait_answers(n.port, Duration::from_secs(10))
                .await?;
        }
        let mut args: Vec<String> = vec!["--cluster".into(), "create".into()];
        args.extend(
            cluster
                .nodes
                .iter()
                .map(|n| format!("{}:{}", cluster.host, n.port)),
        );
        args.extend([
            "--cluster-replicas".into(),
            "1".into(),
            "--cluster-yes".into(),
        ]);
        let first = cluster.nodes[0].port;
        let out = cluster.cli_raw(first, &args)?;
        if !out.contains("All 16384 slots covered") {
            bail!("redis-cli --cluster create did not cover every slot:\n{out}");
        }
        cluster.wait_healthy(Duration::from_secs(30)).await?;
        Ok(cluster)
    }

    /// The client ports of every node (dead or alive).
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// `rediss://[:password@]<host>:<port of node 0>`: the one seed node the services get.
    pub fn seed_url(&self) -> String {
        self.url_of(self.nodes[0].port)
    }

    /// The URL of the node on `port`.
    pub fn url_of(&self, port: u16) -> String {
        match &self.password {
            Some(pw) => format!("rediss://:{pw}@{}:{port}", self.host),
            None => format!("rediss://{}:{port}", self.host),
        }
    }

    /// The CA certificate the nodes' certificates are signed by.
    pub fn ca_cert(&self) -> &Path {
        &self.ca_cert
    }

    fn cli_raw(&self, port: u16, args: &[String]) -> anyhow::Result<String> {
        let mut cmd = Command::new(which("redis-cli"));
        cmd.args(["--tls", "--cacert"]).arg(&self.ca_cert).args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ]);
        if let Some(pw) = &self.password {
            cmd.args(["-a", pw, "--no-auth-warning"]);
        }
        let out = cmd.args(args).output().context("run redis-cli")?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            bail!("redis-cli {} failed: {text}", args.join(" "));
        }
        Ok(text)
    }

    /// Runs one command on the node at `port` (`redis-cli` over TLS) and returns its output.
    pub fn cli(&self, port: u16, args: &[&str]) -> anyhow::Result<String> {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        self.cli_raw(port, &args)
    }

    async fn wait_answers(&self, port: u16, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.cli(port, &["PING"]).is_ok_and(|o| o.trim() == "PONG") {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("redis node on port {port} never answered PING over TLS");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The live nodes.
    fn live(&self) -> impl Iterator<Item = u16> + '_ {
        self.nodes
            .iter()
            .filter(|n| n.proc.is_some())
            .map(|n| n.port)
    }

    /// `CLUSTER NODES` as seen by a live node.
    pub fn topology(&self) -> anyhow::Result<Vec<NodeInfo>> {
        let mut last = None;
        for port in self.live() {
            match self.cli(port, &["CLUSTER", "NODES"]) {
                Ok(text) => return Ok(parse_nodes(&text)),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("no live redis node")))
    }

    /// Waits until every live node reports `cluster_state:ok` and every master has a replica
    /// whose replication link is up (so a killed master can be replaced without data loss).
    pub async fn wait_healthy(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.is_healthy() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "redis cluster not healthy after {timeout:?}: {:?}",
                    self.topology()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn is_healthy(&self) -> bool {
        let ok = self.live().all(|p| {
            self.cli(p, &["CLUSTER", "INFO"])
                .is_ok_and(|t| t.contains("cluster_state:ok"))
        });
        if !ok {
            return false;
        }
        let Ok(nodes) = self.topology() else {
            return false;
        };
        let masters: Vec<&NodeInfo> = nodes.iter().filter(|n| n.master && !n.failing).collect();
        masters.len() == 3
            && masters.iter().all(|m| {
                nodes.iter().any(|r| {
                    r.master_id.as_deref() == Some(m.id.as_str())
                        && self
                            .cli(r.port, &["INFO", "replication"])
                            .is_ok_and(|t| t.contains("master_link_status:up"))
                })
            })
    }

    /// The live master serving `slot`.
    pub fn master_of_slot(&self, slot: u16) -> anyhow::Result<NodeInfo> {
        self.topology()?
            .into_iter()
            .find(|n| {
                n.master && !n.failing && n.slots.iter().any(|(a, b)| (*a..=*b).contains(&slot))
            })
            .with_context(|| format!("no live master serves slot {slot}"))
    }

    /// The hash slot of `key` (`CLUSTER KEYSLOT`).
    pub fn keyslot(&self, key: &str) -> anyhow::Result<u16> {
        let port = self.live().next().context("no live redis node")?;
        self.cli(port, &["CLUSTER", "KEYSLOT", key])?
            .trim()
            .parse()
            .context("CLUSTER KEYSLOT answer")
    }

    /// SIGKILL of the node on `port` (a crash: its replica must take over).
    pub fn kill(&mut self, port: u16) {
        if let Some(n) = self.nodes.iter_mut().find(|n| n.port == port)
            && let Some(mut p) = n.proc.take()
        {
            p.sigkill();
        }
    }

    /// Keys matching `pattern` on every live master (`KEYS`: the cluster holds only this
    /// test's keys).
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let Ok(nodes) = self.topology() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for m in nodes.iter().filter(|n| n.master && !n.failing) {
            if let Ok(text) = self.cli(m.port, &["KEYS", pattern]) {
                out.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
            }
        }
        out
    }
}

/// Parses `CLUSTER NODES` lines, each
/// `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot>...`.
fn parse_nodes(text: &str) -> Vec<NodeInfo> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let port = f[1].split('@').next()?.rsplit(':').next()?.parse().ok()?;
            let flags = f[2];
            let master = flags.split(',').any(|x| x == "master");
            let slots = f[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => s.parse().ok().map(|x| (x, x)),
                })
                .collect();
            Some(NodeInfo {
                port,
                id: f[0].to_owned(),
                master,
                master_id: (f[3] != "-").then(|| f[3].to_owned()),
                failing: flags.split(',').any(|x| x == "fail" || x == "fail?"),
                slots,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_nodes_lines_are_parsed() {
        let text = "07c3 127.0.0.1:30004@31004 slave e7d1 0 1426238317239 4 connected\n\
                    e7d1 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460\n\
                    292f 127.0.0.1:30002@31002 master,fail - 0 0 2 disconnected 5461-10922 11000\n";
        let n = parse_nodes(text);
        assert_eq!(n.len(), 3);
        assert_eq!(n[0].port, 30004);
        assert!(!n[0].master);
        assert_eq!(n[0].master_id.as_deref(), Some("e7d1"));
        assert_eq!(n[1].slots, vec![(0, 5460)]);
        assert!(n[2].failing);
        assert_eq!(n[2].slots, vec![(5461, 10922), (11000, 11000)]);
    }
}
