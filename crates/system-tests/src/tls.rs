//! A private certificate authority for the production-shape tests: TLS-only PostgreSQL and Redis
//! servers present a certificate it signed, and the services trust it through `REDIS_CA_CERT` /
//! `sslrootcert=`, as they trust Azure's CA in production.
//!
//! Made with the `openssl` command line (on every Debian machine), so the shell scripts of the
//! production shape make theirs the same way. Keys are EC P-256; the server certificate names
//! `127.0.0.1`, `::1` and `localhost` so `verify-full` / hostname checks pass on loopback, plus
//! any extra addresses ([`TestCa::create_for`]: the Docker network gateway, where the chart's
//! containers reach the servers in `deploy/tests/chart_pods.py`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// A CA and one server certificate signed by it, as PEM files in one directory.
#[derive(Debug, Clone)]
pub struct TestCa {
    /// The CA certificate (what clients trust).
    pub ca_cert: PathBuf,
    /// The CA's private key.
    pub ca_key: PathBuf,
    /// The server certificate (leaf, SAN `127.0.0.1`, `::1`, `localhost` and the extra
    /// addresses of [`Self::create_for`]).
    pub server_cert: PathBuf,
    /// The server's private key (mode 0600: PostgreSQL refuses a key others can read).
    pub server_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .context("run openssl (install the openssl package)")?;
    if !out.status.success() {
        bail!(
            "openssl {} failed: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

impl TestCa {
    /// Creates `ca.crt`, `ca.key`, `server.crt`, `server.key` in `dir` (created if missing).
    /// `name` goes into the subjects, so two CAs of one test are told apart in errors.
    pub fn create(dir: &Path, name: &str) -> anyhow::Result<Self> {
        Self::create_for(dir, name, &[])
    }

    /// [`Self::create`] with a server certificate that also names `extra` addresses, so a client
    /// reaching the servers there (a container, through the Docker network gateway) passes
    /// `verify-full` too.
    pub fn create_for(dir: &Path, name: &str, extra: &[IpAddr]) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        let ca_subj = format!("/CN=phonebill test CA {name}");
        let mut args = vec!["req", "-x509", "-nodes", "-days", "2", "-sha256"];
        args.extend(ec);
        args.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            &ca_subj,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(dir, &args)?;
        let srv_subj = format!("/CN=localhost ({name})");
        let mut args = vec!["req", "-nodes", "-sha256"];
        args.extend(ec);
        args.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            &srv_subj,
        ]);
        openssl(dir, &args)?;
        let mut san = String::from("IP:127.0.0.1,IP:::1,DNS:localhost");
        for ip in extra {
            san.push_str(&format!(",IP:{ip}"));
        }
        std::fs::write(
            dir.join("server.ext"),
            format!(
                "basicConstraints=critical,CA:FALSE\n\
                 keyUsage=critical,digitalSignature,keyEncipherment\n\
                 extendedKeyUsage=serverAuth,clientAuth\n\
                 subjectAltName={san}\n"
            ),
        )
        .context("write server.ext")?;
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-sha256",
                "-extfile",
                "server.ext",
                "-out",
                "server.crt",
            ],
        )?;
        let ca = Self {
            ca_cert: dir.join("ca.crt"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
        };
        set_mode(&ca.server_key, 0o600)?;
        set_mode(&ca.ca_key, 0o600)?;
        Ok(ca)
    }

    /// Copies the server key and certificate into `dir` and gives them to `user` (PostgreSQL,
    /// run as `postgres` when the tests run as root, must own its key).
    pub fn install_for(
        &self,
        dir: &Path,
        user: Option<&str>,
    ) -> anyhow::Result<(PathBuf, PathBuf)> {
        let cert = dir.join("server.crt");
        let key = dir.join("server.key");
        std::fs::copy(&self.server_cert, &cert).context("copy server.crt")?;
        std::fs::copy(&self.server_key, &key).context("copy server.key")?;
        set_mode(&key, 0o600)?;
        if let Some(user) = user {
            let status = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&cert)
                .arg(&key)
                .status()
                .context("run chown")?;
            if !status.success() {
                bail!("chown {user} of the server key failed");
            }
        }
        Ok((cert, key))
    }
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {mode:o} {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_certificate_verifies_against_its_ca_and_not_another() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = TestCa::create(&dir.path().join("a"), "a").expect("CA a");
        let b = TestCa::create(&dir.path().join("b"), "b").expect("CA b");
        let verify = |ca: &Path, cert: &Path| {
            Command::new("openssl")
                .args(["verify", "-CAfile"])
                .arg(ca)
                .arg(cert)
                .output()
                .expect("openssl verify")
                .status
                .success()
        };
        assert!(verify(&a.ca_cert, &a.server_cert));
        assert!(!verify(&b.ca_cert, &a.server_cert));
    }

    #[test]
    fn extra_addresses_are_named_by_the_server_certificate_and_only_they() {
        let dir = tempfile::tempdir().expect("tempdir");
        let extra: IpAddr = "172.30.0.1".parse().expect("ip");
        let ca = TestCa::create_for(&dir.path().join("x"), "x", &[extra]).expect("CA");
        let check = |ip: &str| {
            Command::new("openssl")
                .args(["verify", "-verify_ip", ip, "-CAfile"])
                .arg(&ca.ca_cert)
                .arg(&ca.server_cert)
                .output()
                .expect("openssl verify")
                .status
                .success()
        };
        assert!(check("172.30.0.1"));
        assert!(check("127.0.0.1"));
        assert!(!check("172.30.0.2"));
    }
}
