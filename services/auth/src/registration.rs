//! Who may open an account on a line (docs/api.md §2.8.1, docs/security.md finding 1).
//!
//! [`RegistrationMode`] (`REGISTRATION_MODE`):
//! - `open`: the form is trusted as before (the all-in-one's local default, so the registration
//!   page keeps working: register, then create the mock data);
//! - `verified` (the auth service's default): the account is created only with a one-time code
//!   that KOS sent to the line (`POST /api/v1/auth/register/verification`), and its customer id
//!   is the one KOS holds for the line, never the form's;
//! - `closed`: only an `ADMIN` caller creates accounts (the carrier provisions them).
//!
//! Codes are 6 digits from the OS-seeded CSPRNG, kept only as a salted SHA-256, valid for
//! [`CODE_TTL`], with [`MAX_ATTEMPTS`] tries; a new code for a line is sent at most once per
//! [`RESEND_INTERVAL`]. A 10^6 code space makes the hash a weak secret on its own: what protects a
//! code is its short life and the few tries, both enforced in the database.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};

/// How long a code is valid.
pub const CODE_TTL: chrono::Duration = chrono::Duration::minutes(5);
/// Wrong codes before the code is void.
pub const MAX_ATTEMPTS: i32 = 5;
/// Shortest interval between two codes for one line (no SMS bombing through us).
pub const RESEND_INTERVAL: chrono::Duration = chrono::Duration::seconds(60);

/// `REGISTRATION_MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationMode {
    /// The form is trusted.
    Open,
    /// A code sent to the line proves ownership.
    Verified,
    /// Accounts are provisioned by an administrator.
    Closed,
}

impl RegistrationMode {
    /// The configuration value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Verified => "verified",
            Self::Closed => "closed",
        }
    }
}

impl fmt::Display for RegistrationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RegistrationMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(Self::Open),
            "verified" => Ok(Self::Verified),
            "closed" => Ok(Self::Closed),
            other => Err(format!(
                "expected `open`, `verified` or `closed`, got {other:?}"
            )),
        }
    }
}

/// A pending line verification as stored.
#[derive(Debug, Clone)]
pub struct LineVerification {
    /// 11 digits.
    pub line_number: String,
    /// The customer KOS holds for the line when the code was sent.
    pub customer_id: String,
    /// Hex SHA-256 of salt, line and code.
    pub code_hash: String,
    /// Hex random salt.
    pub salt: String,
    /// Tries left.
    pub attempts_left: i32,
    /// When the code was sent.
    pub created_at: DateTime<Utc>,
    /// When it stops being valid.
    pub expires_at: DateTime<Utc>,
}

/// A fresh 6-digit code.
pub fn new_code() -> String {
    format!("{:06}", rand::thread_rng().gen_range(0..1_000_000u32))
}

fn digest(salt: &str, line: &str, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{salt}:{line}:{code}").as_bytes()))
}

/// The stored form of `code` for `line`, sent at `now`.
pub fn seal(line: &str, customer_id: &str, code: &str, now: DateTime<Utc>) -> LineVerification {
    let salt = hex::encode(rand::thread_rng().r#gen::<[u8; 16]>());
    LineVerification {
        line_number: line.to_owned(),
        customer_id: customer_id.to_owned(),
        code_hash: digest(&salt, line, code),
        salt,
        attempts_left: MAX_ATTEMPTS,
        created_at: now,
        expires_at: now + CODE_TTL,
    }
}

/// Whether `code` is the one sealed in `v` (compared without stopping at the first difference).
pub fn matches(v: &LineVerification, code: &str) -> bool {
    let got = digest(&v.salt, &v.line_number, code);
    got.len() == v.code_hash.len()
        && got
            .bytes()
            .zip(v.code_hash.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Whether `raw` has the shape of a code (6 ASCII digits).
pub fn well_formed(raw: &str) -> bool {
    raw.len() == 6 && raw.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_bad_values_say_what_is_expected() {
        assert_eq!("Verified".parse(), Ok(RegistrationMode::Verified));
        assert_eq!(" open ".parse(), Ok(RegistrationMode::Open));
        assert_eq!("closed".parse(), Ok(RegistrationMode::Closed));
        let e = "strict".parse::<RegistrationMode>().unwrap_err();
        assert!(e.contains("open") && e.contains("strict"), "{e}");
    }

    #[test]
    fn sealed_codes_match_only_themselves() {
        let code = new_code();
        assert!(well_formed(&code));
        let v = seal("01012345678", "C1", &code, Utc::now());
        assert!(matches(&v, &code));
        assert!(!v.code_hash.contains(&code));
        let other = if code == "000000" { "000001" } else { "000000" };
        assert!(!matches(&v, other));
        // The same code sealed twice is stored differently (salted).
        assert_ne!(
            seal("01012345678", "C1", &code, Utc::now()).code_hash,
            v.code_hash
        );
        assert!(!well_formed("12345") && !well_formed("12345a") && !well_formed("１２３４５６"));
    }
}
