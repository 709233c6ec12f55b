//! Access-token verification (docs/api.md §2.7): algorithm pinned to EdDSA, `kid` required and known,
//! `iss`/`aud`/`exp`/`nbf` checked with 30 s leeway, `typ=access`, then the session deny list.
//!
//! Keys come from auth's JWKS (fetched once with a timeout, cached, refetched when a token names
//! an unknown `kid`, at most once per [`VerifierConfig::refetch_interval`]) or from a static set.
//! A token that verified is cached, keyed by the token text itself, until its `exp` (+ leeway),
//! so the hot path verifies each token once; the deny list and expiry are still checked on every
//! hit. The key is the whole token rather than a digest: a lookup then costs one fast hash and
//! an exact comparison (no collision can ever map a forged token onto a cached one), where
//! SHA-256 of a 700-byte token was 14 % of a cache-hit inquiry's instructions (callgrind,
//! docs/benchmarks.md). Capacity bounds the memory: 10,000 tokens ≈ 8 MB.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::keys::JwkSet;
use super::{ACCESS_TYP, Claims, DenyList};
use crate::actuator::{ComponentHealth, HealthCheck};
use crate::config::{ConfigError, Env};
use crate::error::{ApiError, ErrorCode};
use crate::metrics::Metrics;

/// Clock-skew allowance on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 30;
/// Default minimum time between two JWKS fetches triggered by unknown `kid`s.
pub const DEFAULT_JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// Where verification keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Auth's JWKS endpoint.
    Jwks {
        /// `JWKS_URL`.
        url: String,
        /// Bound on one fetch.
        timeout: Duration,
    },
    /// A fixed set (the auth service itself, tests, or keys from configuration).
    Static(JwkSet),
}

/// How tokens are verified.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
    /// Key source.
    pub keys: KeySource,
    /// Verified-token cache size.
    pub cache_capacity: u64,
    /// Minimum time between JWKS refetches on unknown `kid`.
    pub refetch_interval: Duration,
}

impl VerifierConfig {
    /// A config with defaults for the cache and refetch interval.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, keys: KeySource) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            keys,
            cache_capacity: 10_000,
            refetch_interval: DEFAULT_JWKS_REFETCH_INTERVAL,
        }
    }

    /// Reads a verifying service's variables: `JWT_ISSUER` (default `phonebill-auth`),
    /// `JWT_AUDIENCE` (default `phonebill`), `JWKS_URL` (default the standalone auth service,
    /// `http://localhost:8081/api/v1/auth/.well-known/jwks.json`), `JWKS_TIMEOUT_MS` (3000).
    pub fn from_env(env: Env<'_>) -> Result<Self, ConfigError> {
        let url = env.string("JWKS_URL").unwrap_or_else(|| {
            "http://localhost:8081/api/v1/auth/.well-known/jwks.json".to_owned()
        });
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::new("JWKS_URL", "expected an http(s) URL"));
        }
        let timeout =
            Duration::from_millis(env.ranged("JWKS_TIMEOUT_MS", 3000u64, 100..=60_000)?);
        Ok(Self::new(
            env.string("JWT_ISSUER")
                .unwrap_or_else(|| "phonebill-auth".into()),
            env.string("JWT_AUDIENCE")
                .unwrap_or_else(|| "phonebill".into()),
            KeySource::Jwks { url, timeout },
        ))
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Malformed, bad signature, wrong `alg`/`iss`/`aud`/`typ`, unknown `kid`, not yet valid.
    #[error("invalid token: {0}")]
    Invalid(&'static str),
    /// `exp` is past (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// The session was revoked.
    #[error("token revoked")]
    Revoked,
    /// No key set could be loaded (auth unreachable and nothing cached).
    #[error("verification keys unavailable: {0}")]
    KeysUnavailable(String),
}

impl VerifyError {
    /// The docs/api.md code of this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::InvalidToken,
            Self::Expired => ErrorCode::TokenExpired,
            Self::Revoked => ErrorCode::TokenRevoked,
            Self::KeysUnavailable(_) => ErrorCode::ServiceUnavailable,
        }
    }
}

impl From<VerifyError> for ApiError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::KeysUnavailable(_) => ApiError::unavailable(e),
            other => ApiError::new(other.code()),
        }
    }
}

type KeyMap = Arc<HashMap<String, DecodingKey>>;

struct Inner {
    issuer: String,
    validation: Validation,
    source: KeySource,
    keys: RwLock<Option<KeyMap>>,
    /// Serialises fetches (single flight) and remembers the last attempt (rate limit).
    fetch: tokio::sync::Mutex<Option<Instant>>,
    refetch_interval: Duration,
    http: reqwest::Client,
    cache: moka::sync::Cache<Arc<str>, Arc<Claims>>,
    deny: DenyList,
    metrics: Option<Metrics>,
}

/// Verifies access tokens. Cheap to clone.
#[derive(Clone)]
pub struct TokenVerifier(Arc<Inner>);

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("issuer", &self.0.issuer)
            .finish_non_exhaustive()
    }
}

/// Cache entries live until the token's `exp` plus the leeway.
struct UntilExp;

impl moka::Expiry<Arc<str>, Arc<Claims>> for UntilExp {
    fn expire_after_create(
        &self,
        _key: &Arc<str>,
        value: &Arc<Claims>,
        _created_at: Instant,
    ) -> Option<Duration> {
        let left = value.exp + LEEWAY_SECONDS as i64 - chrono::Utc::now().timestamp();
        Some(Duration::from_secs(left.max(0).unsigned_abs()))
    }
}

fn key_map(set: &JwkSet) -> HashMap<String, DecodingKey> {
    let mut map = HashMap::new();
    for jwk in &set.keys {
        match jwk.decoding_key() {
            Ok(k) => {
                map.insert(jwk.kid.clone(), k);
            }
            Err(e) => tracing::warn!(kid = %jwk.kid, error = %e, "ignoring unusable JWK"),
        }
    }
    map
}

impl TokenVerifier {
    /// A verifier checking the deny list `deny`. Static keys are usable at once; a JWKS is
    /// fetched on first use (or by [`TokenVerifier::load_keys`] / the readiness check).
    pub fn new(cfg: VerifierConfig, deny: DenyList) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[cfg.issuer.as_str()]);
        validation.set_audience(&[cfg.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let keys = match &cfg.keys {
            KeySource::Static(set) => Some(Arc::new(key_map(set))),
            KeySource::Jwks { .. } => None,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self(Arc::new(Inner {
            issuer: cfg.issuer,
            validation,
            source: cfg.keys,
            keys: RwLock::new(keys),
            fetch: tokio::sync::Mutex::new(None),
            refetch_interval: cfg.refetch_interval,
            http,
            cache: moka::sync::Cache::builder()
                .max_capacity(cfg.cache_capacity)
                .expire_after(UntilExp)
                .build(),
            deny,
            metrics: None,
        }))
    }

    /// Counts verified-token cache hits/misses in `cache_requests_total{cache="token"}`.
    #[must_use]
    pub fn with_metrics(self, metrics: Metrics) -> Self {
        match Arc::try_unwrap(self.0) {
            Ok(mut inner) => {
                inner.metrics = Some(metrics);
                Self(Arc::new(inner))
            }
            Err(shared) => Self(shared),
        }
    }

    /// The deny list this verifier consults.
    pub fn deny_list(&self) -> &DenyList {
        &self.0.deny
    }

    /// Replaces a static key set (the auth service after loading its keys).
    pub fn set_static_keys(&self, set: &JwkSet) {
        let map = Arc::new(key_map(set));
        *self.0.keys.write().unwrap_or_else(|p| p.into_inner()) = Some(map);
    }

    fn current_keys(&self) -> Option<KeyMap> {
        self.0
            .keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn count(&self, result: &str) {
        if let Some(m) = &self.0.metrics {
            m.cache_requests
                .with_label_values(&["token", "l1", result])
                .inc();
        }
    }

    /// Whether a key set is loaded.
    pub fn keys_loaded(&self) -> bool {
        self.current_keys().is_some()
    }

    /// Fetches the JWKS now (no-op for static keys); returns the number of usable keys.
    pub async fn load_keys(&self) -> Result<usize, VerifyError> {
        let mut last = self.0.fetch.lock().await;
        self.fetch_locked(&mut last).await
    }

    async fn fetch_locked(&self, last: &mut Option<Instant>) -> Result<usize, VerifyError> {
        let KeySource::Jwks { url, timeout } = &self.0.source else {
            return Ok(self.current_keys().map_or(0, |k| k.len()));
        };
        *last = Some(Instant::now());
        let fetched = async {
            let resp = self
                .0
                .http
                .get(url)
                .timeout(*timeout)
                .send()
                .await?
                .error_for_status()?;
            resp.json::<JwkSet>().await
        }
        .await;
        match fetched {
            Ok(set) => {
                let map = key_map(&set);
                let n = map.len();
                *self.0.keys.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(map));
                tracing::info!(keys = n, "JWKS loaded");
                Ok(n)
            }
            Err(e) => {
                tracing::warn!(error = %e, "JWKS fetch failed");
                Err(VerifyError::KeysUnavailable(e.to_string()))
            }
        }
    }

    /// The key for `kid`, refetching the JWKS (rate-limited, single flight) when it is unknown.
    async fn key_for(&self, kid: &str) -> Result<DecodingKey, VerifyError> {
        if let Some(k) = self.current_keys().and_then(|m| m.get(kid).cloned()) {
            return Ok(k);
        }
        if !matches!(self.0.source, KeySource::Jwks { .. }) {
            return Err(VerifyError::Invalid("unknown kid"));
        }
        let mut last = self.0.fetch.lock().await;
        // Another task may have fetched while we waited.
        if let Some(k) = self.current_keys().and_then(|m| m.get(kid).cloned()) {
            return Ok(k);
        }
        let loaded = self.keys_loaded();
        let recent = last.is_some_and(|t| t.elapsed() < self.0.refetch_interval);
        if recent && loaded {
            return Err(VerifyError::Invalid("unknown kid"));
        }
        match self.fetch_locked(&mut last).await {
            Ok(_) => self
                .current_keys()
                .and_then(|m| m.get(kid).cloned())
                .ok_or(VerifyError::Invalid("unknown kid")),
            // A known key set that merely failed to refresh: the kid is unknown to it.
            Err(_) if loaded => Err(VerifyError::Invalid("unknown kid")),
            Err(e) => Err(e),
        }
    }

    /// Verifies `token` and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Arc<Claims>, VerifyError> {
        if let Some(claims) = self.0.cache.get(token) {
            self.count("hit");
            if claims.exp + (LEEWAY_SECONDS as i64) < chrono::Utc::now().timestamp() {
                self.0.cache.invalidate(token);
                return Err(VerifyError::Expired);
            }
            return self.check_revoked(claims);
        }
        self.count("miss");
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Invalid("malformed"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(VerifyError::Invalid("algorithm"));
        }
        let kid = header.kid.ok_or(VerifyError::Invalid("missing kid"))?;
        let key = self.key_for(&kid).await?;
        let data =
            jsonwebtoken::decode::<Claims>(token, &key, &self.0.validation).map_err(|e| match e
                .kind()
            {
                ErrorKind::ExpiredSignature => VerifyError::Expired,
                ErrorKind::InvalidSignature => VerifyError::Invalid("signature"),
                ErrorKind::InvalidIssuer => VerifyError::Invalid("issuer"),
                ErrorKind::InvalidAudience => VerifyError::Invalid("audience"),
                ErrorKind::ImmatureSignature => VerifyError::Invalid("not yet valid"),
                ErrorKind::InvalidAlgorithm => VerifyError::Invalid("algorithm"),
                _ => VerifyError::Invalid("malformed"),
            })?;
        if data.claims.typ != ACCESS_TYP {
            return Err(VerifyError::Invalid("typ"));
        }
        let claims = Arc::new(data.claims);
        self.0.cache.insert(Arc::from(token), claims.clone());
        self.check_revoked(claims)
    }

    fn check_revoked(&self, claims: Arc<Claims>) -> Result<Arc<Claims>, VerifyError> {
        if self.0.deny.is_revoked(&claims.sid) {
            Err(VerifyError::Revoked)
        } else {
            Ok(claims)
        }
    }

    /// The readiness component `jwks` (critical: a verifier without keys cannot serve).
    pub fn health(&self) -> Arc<dyn HealthCheck> {
        Arc::new(JwksHealth(self.clone()))
    }
}

/// Readiness of the key set: loaded (a missing JWKS is fetched during the check).
pub struct JwksHealth(TokenVerifier);

#[async_trait::async_trait]
impl HealthCheck for JwksHealth {
    fn name(&self) -> String {
        "jwks".into()
    }
    fn critical(&self) -> bool {
        true
    }
    async fn check(&self) -> ComponentHealth {
        if self.0.keys_loaded() {
            return ComponentHealth::up();
        }
        match tokio::time::timeout(Duration::from_secs(1), self.0.load_keys()).await {
            Ok(Ok(_)) => ComponentHealth::up(),
            Ok(Err(e)) => ComponentHealth::down(e.to_string()),
            Err(_) => ComponentHealth::down("JWKS fetch timed out"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::SigningKey;

    fn claims(exp_in: i64) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            iss: "phonebill-auth".into(),
            aud: "phonebill".into(),
            sub: "mvno001".into(),
            customer_id: "CU1".into(),
            line_numbers: vec!["01012345678".into()],
            permissions: vec!["BILL_INQUIRY".into()],
            sid: "sid-1".into(),
            jti: "j".into(),
            iat: now,
            nbf: now,
            exp: now + exp_in,
            typ: ACCESS_TYP.into(),
        }
    }

    fn verifier(key: &SigningKey) -> TokenVerifier {
        let set = JwkSet {
            keys: vec![key.public_jwk()],
        };
        TokenVerifier::new(
            VerifierConfig::new("phonebill-auth", "phonebill", KeySource::Static(set)),
            DenyList::local(),
        )
    }

    #[tokio::test]
    async fn verifies_and_refuses() {
        let key = SigningKey::generate("k1").expect("key");
        let v = verifier(&key);
        let good = key.sign(&claims(600)).expect("sign");
        assert_eq!(v.verify(&good).await.expect("valid").sub, "mvno001");
        // Cached path gives the same answer.
        assert!(v.verify(&good).await.is_ok());

        let expired = key.sign(&claims(-120)).expect("sign");
        assert_eq!(v.verify(&expired).await, Err(VerifyError::Expired));

        let mut c = claims(600);
        c.aud = "other".into();
        assert!(matches!(
            v.verify(&key.sign(&c).expect("sign")).await,
            Err(VerifyError::Invalid(_))
        ));
        let mut c = claims(600);
        c.typ = "refresh".into();
        assert!(matches!(
            v.verify(&key.sign(&c).expect("sign")).await,
            Err(VerifyError::Invalid(_))
        ));

        let other = SigningKey::generate("k2").expect("key");
        assert_eq!(
            v.verify(&other.sign(&claims(600)).expect("sign")).await,
            Err(VerifyError::Invalid("unknown kid"))
        );

        v.deny_list()
            .revoke("sid-1", chrono::Utc::now().timestamp() + 60)
            .await;
        assert_eq!(v.verify(&good).await, Err(VerifyError::Revoked));
    }
}
