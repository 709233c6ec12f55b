//! Service-to-service authentication (docs/api.md §5.8): `X-Service-Name` plus `Authorization: Bearer`
//! with either the shared `KOS_API_KEY` or a short-lived token from `POST /api/kos/auth`.
//!
//! Tokens are stateless (`kos1.<service hex>.<expiry unix>.<HMAC-SHA256 hex>`, keyed with
//! `KOS_API_KEY`), so every replica accepts a token any replica issued. Callers treat them as
//! opaque.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use phonebill_common::kos::headers;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::Config;

/// Why a credential was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// Missing or invalid credential: `401 9401`.
    Unauthorized,
    /// Valid credential, service not on `KOS_ALLOWED_SERVICES`: `403 9403`.
    Forbidden,
}

/// HMAC-SHA256 (RFC 2104).
fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Equality that does not stop at the first difference.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Issues a token for `service`, valid for `ttl`.
pub fn issue(key: &str, service: &str, ttl: Duration) -> String {
    let exp = now_unix() + ttl.as_secs();
    let body = format!("kos1.{}.{exp}", hex::encode(service));
    let mac = hex::encode(hmac(key.as_bytes(), body.as_bytes()));
    format!("{body}.{mac}")
}

/// The service a valid, unexpired token was issued to.
pub fn verify(key: &str, token: &str) -> Option<String> {
    let (body, mac) = token.rsplit_once('.')?;
    let expected = hex::encode(hmac(key.as_bytes(), body.as_bytes()));
    if !ct_eq(expected.as_bytes(), mac.as_bytes()) {
        return None;
    }
    let mut parts = body.split('.');
    let (Some("kos1"), Some(svc), Some(exp), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let exp: u64 = exp.parse().ok()?;
    if exp <= now_unix() {
        return None;
    }
    String::from_utf8(hex::decode(svc).ok()?).ok()
}

/// Whether `key` is the configured API key.
pub fn key_matches(cfg: &Config, key: &str) -> bool {
    cfg.api_key
        .as_ref()
        .is_some_and(|k| ct_eq(k.expose_secret().as_bytes(), key.as_bytes()))
}

/// Checks the service credential of a request; `Ok` carries the proven service name (the one
/// the token was issued to, or the `X-Service-Name` sent with the shared key), which is what
/// the rate limit is keyed on (docs/security.md).
pub fn check(cfg: &Config, h: &HeaderMap) -> Result<String, AuthFailure> {
    let name = h
        .get(headers::SERVICE_NAME)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(AuthFailure::Unauthorized)?;
    let token = h
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .ok_or(AuthFailure::Unauthorized)?;
    let key = cfg
        .api_key
        .as_ref()
        .ok_or(AuthFailure::Unauthorized)?
        .expose_secret();
    let authentic = ct_eq(key.as_bytes(), token.as_bytes())
        || verify(key, token).is_some_and(|svc| svc == name);
    if !authentic {
        return Err(AuthFailure::Unauthorized);
    }
    if cfg.allowed_services.iter().any(|s| s == name) {
        Ok(name.to_owned())
    } else {
        Err(AuthFailure::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn tokens_verify_and_tamper_fails() {
        let t = issue("secret", "bill-inquiry-service", Duration::from_secs(60));
        assert_eq!(
            verify("secret", &t).as_deref(),
            Some("bill-inquiry-service")
        );
        assert!(verify("other", &t).is_none());
        let forged = t.replacen("kos1.", "kos1.00", 1);
        assert!(verify("secret", &forged).is_none());
        let expired = issue("secret", "x", Duration::from_secs(0));
        assert!(verify("secret", &expired).is_none());
    }
}
