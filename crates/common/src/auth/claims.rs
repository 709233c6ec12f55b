//! The access-token claims of docs/api.md §2.7 and the permission codes of docs/api.md §2.2.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The `typ` claim of an access token (a refresh token is opaque and never a JWT).
pub const ACCESS_TYP: &str = "access";

/// The payload of an access token. Field names are the wire names (snake_case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer (`JWT_ISSUER`, e.g. `phonebill-auth`).
    pub iss: String,
    /// Audience (`JWT_AUDIENCE`, e.g. `phonebill`).
    pub aud: String,
    /// User id.
    pub sub: String,
    /// Customer id.
    pub customer_id: String,
    /// The user's lines in 11-digit form.
    pub line_numbers: Vec<String>,
    /// Granted permission codes (upper case).
    pub permissions: Vec<String>,
    /// Session id (the deny-list key).
    pub sid: String,
    /// Token id.
    pub jti: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Token kind; `access` for access tokens.
    pub typ: String,
}

impl Claims {
    /// Whether the token grants `p`.
    pub fn has(&self, p: Permission) -> bool {
        self.permissions
            .iter()
            .any(|c| c.eq_ignore_ascii_case(p.as_str()))
    }
}

/// A permission code (docs/api.md §2.2). Codes are matched case-insensitively and stored upper-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Permission {
    /// Bill inquiry service.
    BillInquiry,
    /// Product change service.
    ProductChange,
    /// Administrator (does not imply the service permissions).
    Admin,
    /// User administration.
    UserManagement,
}

impl Permission {
    /// Every code, in the order of docs/api.md §2.2.
    pub const ALL: [Permission; 4] = [
        Permission::BillInquiry,
        Permission::ProductChange,
        Permission::Admin,
        Permission::UserManagement,
    ];

    /// The wire code, e.g. `BILL_INQUIRY`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BillInquiry => "BILL_INQUIRY",
            Self::ProductChange => "PRODUCT_CHANGE",
            Self::Admin => "ADMIN",
            Self::UserManagement => "USER_MANAGEMENT",
        }
    }

    /// The Korean description (docs/api.md §2.12).
    pub fn description(self) -> &'static str {
        match self {
            Self::BillInquiry => "요금 조회 서비스 권한",
            Self::ProductChange => "상품 변경 서비스 권한",
            Self::Admin => "관리자 권한",
            Self::UserManagement => "사용자 관리 권한",
        }
    }

    /// Parses a code case-insensitively (surrounding spaces ignored).
    pub fn parse(code: &str) -> Option<Self> {
        let code = code.trim();
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(code))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = UnknownPermission;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or(UnknownPermission)
    }
}

/// A string that is not one of the permission codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission code")]
pub struct UnknownPermission;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_parse_case_insensitively() {
        assert_eq!(
            Permission::parse("bill_inquiry"),
            Some(Permission::BillInquiry)
        );
        assert_eq!(Permission::parse(" Admin "), Some(Permission::Admin));
        assert_eq!(Permission::parse("ROOT"), None);
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
            assert_eq!(
                serde_json::to_value(p).expect("serialises"),
                serde_json::Value::String(p.as_str().into())
            );
        }
    }
}
