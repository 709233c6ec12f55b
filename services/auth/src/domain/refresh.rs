//! Refresh tokens (docs/api.md §2.4): `rt1.<family id: 20 hex>.<secret: 32 random bytes base64url>`.
//! Only the SHA-256 (hex) of the whole string is stored; the family id is the first 20 hex
//! digits of the session id, so every token of one session shares it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A freshly issued refresh token.
#[derive(Clone)]
pub struct RefreshToken {
    /// The token the client keeps.
    pub token: String,
    /// Its SHA-256, hex (what the database stores).
    pub hash: String,
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken(..)")
    }
}

impl RefreshToken {
    /// A new token of `session`'s family.
    pub fn issue(session: Uuid) -> Self {
        let family = &session.simple().to_string()[..20];
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let token = format!("rt1.{family}.{}", URL_SAFE_NO_PAD.encode(secret));
        let hash = hash(&token);
        Self { token, hash }
    }
}

/// The stored form of a presented token: hex SHA-256 of the whole string.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` has the `rt1` shape (cheap pre-check before a database look-up).
pub fn well_formed(token: &str) -> bool {
    let mut parts = token.split('.');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("rt1"), Some(f), Some(s), None)
            if f.len() == 20 && f.bytes().all(|b| b.is_ascii_hexdigit())
                && s.len() == 43 && URL_SAFE_NO_PAD.decode(s).is_ok_and(|b| b.len() == 32)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_hash() {
        let sid = Uuid::new_v4();
        let t = RefreshToken::issue(sid);
        assert!(well_formed(&t.token), "{}", t.token);
        assert!(
            t.token
                .starts_with(&format!("rt1.{}.", &sid.simple().to_string()[..20]))
        );
        assert_eq!(t.hash.len(), 64);
        assert_eq!(t.hash, hash(&t.token));
        assert_ne!(RefreshToken::issue(sid).token, t.token);
        assert!(!well_formed("rt1.abc.def"));
        assert!(!well_formed("eyJhbGciOi.x.y"));
    }
}
