//! CPU limits for server processes, as a Kubernetes CPU limit enforces them: a CFS bandwidth
//! quota per period (100 ms, the kubelet's default) in a cgroup of its own. `--cpu-limit
//! bill-inquiry-service=600m` holds that process to 0.6 of a core, so a run shows whether the
//! share a capacity model gives a service carries the load (docs/benchmarks.md, "Issue 22: the
//! PostgreSQL history commit, and the CPU-limited journey"). The process starts inside its cgroup, so its runtime sees the limit as it would in
//! a pod (a limit added later leaves it with a worker per host core, each burning the quota).
//! Needs write access to the cgroup file system (root, or a delegated sub-tree);
//! cgroup v2 (`cpu.max`) when its `cpu` controller is on, else v1 (`cpu/cpu.cfs_quota_us`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The kubelet's CFS period.
const PERIOD_US: u64 = 100_000;

/// One `NAME=QUANTITY` of `--cpu-limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuLimit {
    /// Process role (`auth-service`, `bill-inquiry-service`, …, or `phonebill`).
    pub process: String,
    /// Millicores (1000 = one core).
    pub millicores: u32,
}

impl std::str::FromStr for CpuLimit {
    type Err = String;

    /// `NAME=300m`, `NAME=1.5` or `NAME=2`: the Kubernetes CPU quantity forms.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, q) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}`: expected PROCESS=QUANTITY, e.g. auth-service=300m"))?;
        let bad = || format!("`{q}`: a CPU quantity is millicores (`300m`) or cores (`1.5`)");
        let millicores = match q.strip_suffix('m') {
            Some(m) => m.parse::<u32>().map_err(|_| bad())?,
            None => {
                let cores = q.parse::<f64>().map_err(|_| bad())?;
                if !cores.is_finite() || cores <= 0.0 || cores > 1024.0 {
                    return Err(bad());
                }
                (cores * 1000.0).round() as u32
            }
        };
        // Below 10m the kernel's minimum quota (1 ms per 100 ms period) is reached.
        if millicores < 10 {
            return Err(format!("`{q}`: at least 10m"));
        }
        if name.is_empty() {
            return Err(format!("`{s}`: the process name is empty"));
        }
        Ok(Self {
            process: name.to_owned(),
            millicores,
        })
    }
}

/// The cgroups made for one run; removed on drop (after their processes have exited).
#[derive(Debug, Default)]
pub struct Cgroups {
    tag: String,
    limits: Vec<CpuLimit>,
    made: Vec<(CpuLimit, PathBuf)>,
}

/// Where the cpu controller lives and how its quota is written.
enum Hierarchy {
    V2(PathBuf),
    V1(PathBuf),
}

fn hierarchy(root: &Path) -> anyhow::Result<Hierarchy> {
    let controllers = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
    if controllers.split_whitespace().any(|c| c == "cpu") {
        return Ok(Hierarchy::V2(root.to_owned()));
    }
    let v1 = root.join("cpu");
    if v1.join("cpu.cfs_quota_us").exists() {
        return Ok(Hierarchy::V1(v1));
    }
    bail!(
        "--cpu-limit needs the cgroup cpu controller: neither {}/cgroup.controllers lists `cpu` \
         (v2) nor {}/cpu.cfs_quota_us exists (v1)",
        root.display(),
        v1.display()
    )
}

/// The shell line a limited process is started with: it joins its cgroup, then becomes the
/// server (`exec`), so the limit holds from the first instruction, as in a pod, and the
/// runtime sizes its worker threads from it (`std::thread::available_parallelism` reads the
/// cgroup quota).
pub const JOIN_THEN_EXEC: &str =
    r#"echo $$ > "$PHONEBILL_LOADTEST_CGROUP/cgroup.procs" && exec "$@""#;

impl Cgroups {
    /// The limits of one run, named after `tag`; nothing is created until [`Cgroups::prepare`].
    pub fn new(tag: &str, limits: &[CpuLimit]) -> Self {
        Self {
            tag: tag.to_owned(),
            limits: limits.to_vec(),
            made: Vec::new(),
        }
    }

    /// The cgroup the process `name` is to start in (created with its quota), if it has a limit.
    pub fn prepare(&mut self, name: &str) -> anyhow::Result<Option<PathBuf>> {
        let Some(limit) = self.limits.iter().find(|l| l.process == name).cloned() else {
            return Ok(None);
        };
        let quota = u64::from(limit.millicores) * PERIOD_US / 1000;
        let cgroup = format!(
            "phonebill-loadtest-{}-{}-{}",
            self.tag,
            limit.process,
            self.made.len()
        );
        let h = hierarchy(Path::new("/sys/fs/cgroup"))?;
        let dir = match &h {
            Hierarchy::V2(root) | Hierarchy::V1(root) => root.join(cgroup),
        };
        create(&dir)?;
        self.made.push((limit, dir.clone()));
        match h {
            Hierarchy::V2(_) => write(&dir.join("cpu.max"), &format!("{quota} {PERIOD_US}"))?,
            Hierarchy::V1(_) => {
                write(&dir.join("cpu.cfs_period_us"), &PERIOD_US.to_string())?;
                write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
            }
        }
        Ok(Some(dir))
    }

    /// Fails unless every limit named a process the target started.
    pub fn all_used(&self, started: &[&str]) -> anyhow::Result<()> {
        for l in &self.limits {
            if !self.made.iter().any(|(m, _)| m.process == l.process) {
                bail!(
                    "--cpu-limit {}: no such process in this target (started: {})",
                    l.process,
                    started.join(", ")
                );
            }
        }
        Ok(())
    }

    /// Per limited process: its limit, throttled periods and throttled time so far (`cpu.stat`).
    pub fn throttling(&self) -> Vec<(CpuLimit, u64, f64)> {
        self.made
            .iter()
            .map(|(l, d)| {
                let stat = std::fs::read_to_string(d.join("cpu.stat")).unwrap_or_default();
                let field = |k: &str| {
                    stat.lines()
                        .find_map(|line| line.strip_prefix(k)?.trim().parse::<u64>().ok())
                        .unwrap_or(0)
                };
                // v1 reports nanoseconds, v2 microseconds.
                let throttled_ms = if stat.contains("throttled_usec") {
                    field("throttled_usec ") as f64 / 1000.0
                } else {
                    field("throttled_time ") as f64 / 1e6
                };
                (l.clone(), field("nr_throttled "), throttled_ms)
            })
            .collect()
    }
}

fn create(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir(dir).with_context(|| {
        format!(
            "cannot create the cgroup {} (--cpu-limit needs root or a delegated cgroup)",
            dir.display()
        )
    })
}

fn write(path: &Path, value: &str) -> anyhow::Result<()> {
    std::fs::write(path, value)
        .with_context(|| format!("cannot write {value} to {}", path.display()))
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        // A cgroup can only be removed once its processes have left it (they have exited by
        // now: the harness stops its processes before the result is written).
        for (_, d) in self.made.drain(..).rev() {
            if let Err(e) = std::fs::remove_dir(&d) {
                eprintln!("warning: could not remove the cgroup {}: {e}", d.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CpuLimit;

    #[test]
    fn quantities_parse_as_kubernetes_writes_them() {
        let l: CpuLimit = "bill-inquiry-service=600m".parse().unwrap();
        assert_eq!(l.process, "bill-inquiry-service");
        assert_eq!(l.millicores, 600);
        assert_eq!("a=1.5".parse::<CpuLimit>().unwrap().millicores, 1500);
        assert_eq!("a=2".parse::<CpuLimit>().unwrap().millicores, 2000);
    }

    #[test]
    fn bad_quantities_are_refused_with_the_form_expected() {
        for bad in ["a", "a=", "=300m", "a=5m", "a=-1", "a=x", "a=1.5m", "a=NaN"] {
            let e = bad.parse::<CpuLimit>().unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
    }
}
