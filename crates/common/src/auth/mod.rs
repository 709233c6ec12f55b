//! Access tokens (docs/api.md §2.7, docs/architecture.md decisions 3 and 4): what every service needs to authorize a
//! request from the token alone.
//!
//! - [`Claims`]: the access-token payload; [`Permission`]: the codes of docs/api.md §2.2.
//! - [`keys`]: Ed25519 signing keys (PKCS#8 PEM), their JWKs, and [`keys::SigningKey::sign`].
//! - [`TokenVerifier`]: pins `alg=EdDSA`, requires the `kid` in the key set (JWKS fetched from
//!   auth and cached, or static keys), checks `iss`/`aud`/`exp`/`nbf` (30 s leeway) and
//!   `typ=access`, then the session deny list. Each token is verified once and then served from a
//!   small cache keyed by its SHA-256 (bounded by its `exp`).
//! - [`DenyList`]: revoked session ids, in memory on every instance, replicated through Redis
//!   (the `auth:denied` sorted set plus the `auth:revoked` channel).
//! - [`AuthUser`]: the axum extractor (`Authorization: Bearer …`, scheme case-insensitive) with
//!   [`AuthUser::require`] (`403 FORBIDDEN`) and [`AuthUser::require_line`]
//!   (`403 LINE_ACCESS_DENIED`).

mod claims;
mod deny;
mod extract;
pub mod keys;
mod verifier;

pub use claims::{ACCESS_TYP, Claims, Permission};
pub use deny::{DenyList, DenyListConfig, DenyListError, RedisDenyHealth};
pub use extract::{AuthUser, bearer_token};
pub use verifier::{
    DEFAULT_JWKS_REFETCH_INTERVAL, JwksHealth, KeySource, LEEWAY_SECONDS, TokenVerifier,
    VerifierConfig, VerifyError,
};
