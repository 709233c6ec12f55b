//! The signing keys of the auth service (docs/api.md §2.7, docs/architecture.md decision 3).
//!
//! With `JWT_KEYS_DIR`, every `<kid>.pem` there (Ed25519 PKCS#8) is loaded and published in the
//! JWKS; `JWT_ACTIVE_KID` picks the signer (default: the lexicographically last kid), so a key
//! is rotated by adding the new PEM, switching the active kid, and removing the old PEM once its
//! tokens have expired. Without it (local mode), one key is generated once and kept at
//! `$DATA_DIR/jwt/<kid>.pem` with mode 0600, so tokens survive restarts.

use std::path::{Path, PathBuf};

use phonebill_common::auth::keys::{JwkSet, KeyError, SigningKey, is_valid_kid};

use crate::config::KeysConfig;

/// The keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A PEM is unusable.
    #[error("{path}: {source}")]
    Key {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: KeyError,
    },
    /// The directory holds no key.
    #[error("JWT_KEYS_DIR {0}: no <kid>.pem key found")]
    Empty(PathBuf),
    /// `JWT_ACTIVE_KID` names no loaded key.
    #[error("JWT_ACTIVE_KID {0:?} is not one of the keys in JWT_KEYS_DIR")]
    UnknownActive(String),
}

/// The loaded keys: one signs, all verify.
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: Vec<SigningKey>,
    active: usize,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyringError + '_ {
    move |source| KeyringError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Every `<kid>.pem` of `dir`, sorted by kid.
fn read_dir(dir: &Path) -> Result<Vec<SigningKey>, KeyringError> {
    let mut keys = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let Some(kid) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".pem"))
            .filter(|k| is_valid_kid(k))
            .map(str::to_owned)
        else {
            continue;
        };
        let pem = std::fs::read_to_string(&path).map_err(io(&path))?;
        let key = SigningKey::from_pkcs8_pem(&kid, &pem).map_err(|source| KeyringError::Key {
            path: path.clone(),
            source,
        })?;
        keys.push(key);
    }
    keys.sort_by(|a, b| a.kid().cmp(b.kid()));
    Ok(keys)
}

impl Keyring {
    /// Loads (or, in local mode, creates) the keys.
    pub fn load(cfg: &KeysConfig) -> Result<Self, KeyringError> {
        match cfg {
            KeysConfig::Dir { dir, active } => {
                let keys = read_dir(dir)?;
                if keys.is_empty() {
                    return Err(KeyringError::Empty(dir.clone()));
                }
                let active = match active {
                    Some(kid) => keys
                        .iter()
                        .position(|k| k.kid() == kid)
                        .ok_or_else(|| KeyringError::UnknownActive(kid.clone()))?,
                    None => keys.len() - 1,
                };
                Ok(Self { keys, active })
            }
            KeysConfig::Local { dir } => {
                if dir.exists() {
                    let keys = read_dir(dir)?;
                    if !keys.is_empty() {
                        let active = keys.len() - 1;
                        return Ok(Self { keys, active });
                    }
                }
                std::fs::create_dir_all(dir).map_err(io(dir))?;
                let kid = format!("local-{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
                let key = SigningKey::generate(&kid).map_err(|source| KeyringError::Key {
                    path: dir.clone(),
                    source,
                })?;
                let path = dir.join(format!("{kid}.pem"));
                write_private(&path, &key)?;
                tracing::info!(kid = %kid, path = %path.display(), "generated a local JWT signing key");
                Ok(Self {
                    keys: vec![key],
                    active: 0,
                })
            }
        }
    }

    /// A keyring over given keys (tests); the last one signs.
    pub fn from_keys(keys: Vec<SigningKey>) -> Option<Self> {
        let active = keys.len().checked_sub(1)?;
        Some(Self { keys, active })
    }

    /// The signing key.
    pub fn active(&self) -> &SigningKey {
        &self.keys[self.active]
    }

    /// All public keys (the JWKS).
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.keys.iter().map(SigningKey::public_jwk).collect(),
        }
    }
}

/// Writes a private key readable only by its owner.
fn write_private(path: &Path, key: &SigningKey) -> Result<(), KeyringError> {
    use std::io::Write;
    let pem = key.to_pkcs8_pem().map_err(|source| KeyringError::Key {
        path: path.to_path_buf(),
        source,
    })?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io(path))?;
    f.write_all(pem.as_bytes()).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_mode_generates_once_with_0600() {
        let dir = tempfile::tempdir().expect("dir");
        let cfg = KeysConfig::Local {
            dir: dir.path().join("jwt"),
        };
        let a = Keyring::load(&cfg).expect("first");
        let b = Keyring::load(&cfg).expect("second");
        assert_eq!(a.active().kid(), b.active().kid());
        assert_eq!(a.active().public_bytes(), b.active().public_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = dir
                .path()
                .join("jwt")
                .join(format!("{}.pem", a.active().kid()));
            let mode = std::fs::metadata(path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn dir_mode_picks_active_or_last() {
        let dir = tempfile::tempdir().expect("dir");
        for kid in ["k-2025-08", "k-2025-09"] {
            let k = SigningKey::generate(kid).expect("key");
            std::fs::write(
                dir.path().join(format!("{kid}.pem")),
                k.to_pkcs8_pem().expect("pem"),
            )
            .expect("write");
        }
        let last = Keyring::load(&KeysConfig::Dir {
            dir: dir.path().into(),
            active: None,
        })
        .expect("load");
        assert_eq!(last.active().kid(), "k-2025-09");
        assert_eq!(last.jwks().keys.len(), 2);
        let old = Keyring::load(&KeysConfig::Dir {
            dir: dir.path().into(),
            active: Some("k-2025-08".into()),
        })
        .expect("load");
        assert_eq!(old.active().kid(), "k-2025-08");
        assert!(
            Keyring::load(&KeysConfig::Dir {
                dir: dir.path().into(),
                active: Some("nope".into()),
            })
            .is_err()
        );
    }
}
