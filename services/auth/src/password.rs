//! Password hashing: Argon2id PHC strings (docs/api.md §2.14), computed on tokio's blocking pool so a
//! login storm never stalls the event loop. Unknown users are checked against a dummy hash made
//! at start with the same parameters, so "no such user" and "wrong password" take the same time.
//! At most `ARGON2_MAX_CONCURRENCY` hashes run at once (default: CPUs − 1, at least 1): a login
//! storm queues instead of taking every core, so the runtime's workers keep a core for the
//! requests that need no hashing (health probes, token checks).

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::Argon2Config;

/// Hashing failed (bad parameters or a panicked worker).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes and verifies passwords. Cheap to clone.
#[derive(Clone)]
pub struct Hasher {
    params: Params,
    dummy: Arc<String>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("m", &self.params.m_cost())
            .field("t", &self.params.t_cost())
            .field("p", &self.params.p_cost())
            .finish()
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_sync(params: &Params, password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2(params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

fn verify_sync(params: &Params, hash: &str, password: &str) -> bool {
    // The parameters stored in the PHC string are the ones used (older hashes stay valid).
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2(params)
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

impl Hasher {
    /// A hasher with `cfg`'s cost; computes the dummy hash (on the blocking pool).
    pub async fn new(cfg: Argon2Config) -> Result<Self, HashError> {
        let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)
            .map_err(|e| HashError(e.to_string()))?;
        let p = params.clone();
        let dummy = tokio::task::spawn_blocking(move || hash_sync(&p, "dummy-password-Aa1!"))
            .await
            .map_err(|e| HashError(e.to_string()))??;
        let max = if cfg.max_concurrency > 0 {
            cfg.max_concurrency
        } else {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get().saturating_sub(1))
                .max(1)
        };
        Ok(Self {
            params,
            dummy: Arc::new(dummy),
            permits: Arc::new(tokio::sync::Semaphore::new(max)),
        })
    }

    /// Runs `f` on the blocking pool once a hashing permit is free.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| HashError(e.to_string()))
    }

    /// Hashes `password`.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let p = self.params.clone();
        self.run(move || hash_sync(&p, &password)).await?
    }

    /// Whether `password` matches `hash`; with `None` it checks the dummy hash (always false)
    /// so the caller spends the same time as for a real user.
    pub async fn verify(&self, hash: Option<String>, password: String) -> Result<bool, HashError> {
        let p = self.params.clone();
        let real = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy.as_str().to_owned());
        let ok = self.run(move || verify_sync(&p, &hash, &password)).await?;
        Ok(real && ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let h = Hasher::new(Argon2Config {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            max_concurrency: 0,
        })
        .await
        .expect("hasher");
        let stored = h.hash("Phonebill1!".into()).await.expect("hash");
        assert!(
            stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "{stored}"
        );
        assert!(
            h.verify(Some(stored.clone()), "Phonebill1!".into())
                .await
                .expect("ok")
        );
        assert!(
            !h.verify(Some(stored), "Phonebill2!".into())
                .await
                .expect("ok")
        );
        assert!(
            !h.verify(None, "dummy-password-Aa1!".into())
                .await
                .expect("ok")
        );
    }
}
