//! Ed25519 signing keys and their public JWKs (docs/api.md §2.7).
//!
//! A signing key is a PKCS#8 PEM file named `<kid>.pem`; its public half is published as an OKP
//! JWK (`{"kty":"OKP","crv":"Ed25519","x":…,"kid":…,"use":"sig","alg":"EdDSA"}`). Only the auth
//! service holds private keys; verifiers hold [`Jwk`]s. [`SigningKey::sign`] is also what tests
//! use to mint tokens for the other services.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::Claims;

/// A key could not be read, written or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The PEM is not an Ed25519 PKCS#8 private key.
    #[error("not an Ed25519 PKCS#8 private key: {0}")]
    Pem(String),
    /// The key id is not usable.
    #[error("invalid key id {0:?}: expected 1-40 characters from [A-Za-z0-9._-]")]
    Kid(String),
    /// A JWK is not an Ed25519 public key.
    #[error("unsupported JWK: {0}")]
    Jwk(String),
    /// Signing failed.
    #[error("cannot sign token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// Whether `kid` is a usable key id (it becomes a file name and a header value).
pub fn is_valid_kid(kid: &str) -> bool {
    (1..=40).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// An Ed25519 private key with its key id. `Debug` never shows the secret.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    key: ed25519_dalek::SigningKey,
    encoding: EncodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh random key.
    pub fn generate(kid: &str) -> Result<Self, KeyError> {
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        Self::from_dalek(kid, key)
    }

    /// Reads a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(kid: &str, pem: &str) -> Result<Self, KeyError> {
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| KeyError::Pem(e.to_string()))?;
        Self::from_dalek(kid, key)
    }

    fn from_dalek(kid: &str, key: ed25519_dalek::SigningKey) -> Result<Self, KeyError> {
        if !is_valid_kid(kid) {
            return Err(KeyError::Kid(kid.to_owned()));
        }
        let der = key
            .to_pkcs8_der()
            .map_err(|e| KeyError::Pem(e.to_string()))?;
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        Ok(Self {
            kid: kid.to_owned(),
            key,
            encoding,
        })
    }

    /// The PKCS#8 PEM text of the private key (for writing `<kid>.pem`).
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|z| z.as_str().to_owned())
            .map_err(|e| KeyError::Pem(e.to_string()))
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The raw 32-byte public key.
    pub fn public_bytes(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The public JWK.
    pub fn public_jwk(&self) -> Jwk {
        Jwk::ed25519(&self.kid, &self.public_bytes())
    }

    /// Signs `claims` as a compact JWS with header `{"alg":"EdDSA","typ":"JWT","kid":…}`.
    pub fn sign(&self, claims: &Claims) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

/// One public key of the JWK Set (only Ed25519 OKP keys are produced or accepted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    #[serde(default)]
    pub crv: String,
    /// The public key, base64url without padding.
    #[serde(default)]
    pub x: String,
    /// Key id.
    #[serde(default)]
    pub kid: String,
    /// `sig`.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
}

impl Jwk {
    /// The JWK of an Ed25519 public key.
    pub fn ed25519(kid: &str, public: &[u8; 32]) -> Self {
        Self {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(public),
            kid: kid.to_owned(),
            use_: Some("sig".into()),
            alg: Some("EdDSA".into()),
        }
    }

    /// The verification key, if this is an Ed25519 signing key with a kid.
    pub fn decoding_key(&self) -> Result<DecodingKey, KeyError> {
        if self.kty != "OKP" || self.crv != "Ed25519" {
            return Err(KeyError::Jwk(format!("kty={} crv={}", self.kty, self.crv)));
        }
        if self.kid.is_empty() {
            return Err(KeyError::Jwk("missing kid".into()));
        }
        if self.alg.as_deref().is_some_and(|a| a != "EdDSA")
            || self.use_.as_deref().is_some_and(|u| u != "sig")
        {
            return Err(KeyError::Jwk("not an EdDSA signing key".into()));
        }
        let raw = URL_SAFE_NO_PAD
            .decode(self.x.as_bytes())
            .map_err(|e| KeyError::Jwk(format!("x: {e}")))?;
        if raw.len() != 32 {
            return Err(KeyError::Jwk(format!("x has {} bytes, not 32", raw.len())));
        }
        Ok(DecodingKey::from_ed_der(&raw))
    }
}

/// A JWK Set (`{"keys":[…]}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_keeps_the_key() {
        let k = SigningKey::generate("k1").expect("key");
        let pem = k.to_pkcs8_pem().expect("pem");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = SigningKey::from_pkcs8_pem("k1", &pem).expect("parse");
        assert_eq!(back.public_bytes(), k.public_bytes());
        assert!(!format!("{k:?}").contains(&pem));
        assert!(SigningKey::generate("bad/kid").is_err());
        assert!(SigningKey::from_pkcs8_pem("k1", "not a pem").is_err());
    }

    #[test]
    fn jwk_is_okp_ed25519() {
        let k = SigningKey::generate("auth-2025-09").expect("key");
        let v = serde_json::to_value(k.public_jwk()).expect("json");
        assert_eq!(v["kty"], "OKP");
        assert_eq!(v["crv"], "Ed25519");
        assert_eq!(v["use"], "sig");
        assert_eq!(v["alg"], "EdDSA");
        assert_eq!(v["kid"], "auth-2025-09");
        assert_eq!(v["x"].as_str().map(str::len), Some(43));
        assert!(k.public_jwk().decoding_key().is_ok());
    }
}
