//! The [`AuthUser`] extractor: `Authorization: Bearer <access token>` (scheme case-insensitive,
//! docs/api.md §1.6) verified by the state's [`TokenVerifier`], plus the permission and own-line checks
//! every protected handler uses.
//!
//! Missing header or another scheme → `401 UNAUTHORIZED`; a token that fails verification →
//! `401 INVALID_TOKEN` / `TOKEN_EXPIRED` / `TOKEN_REVOKED`. `Option<AuthUser>` is `None` only when
//! no `Authorization` header was sent (a bad token is still refused).

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use http::HeaderMap;
use http::request::Parts;

use super::{Claims, Permission, TokenVerifier};
use crate::error::{ApiError, ErrorCode};
use crate::line::LineNumber;

/// The bearer token of `headers`: `Ok(None)` without an `Authorization` header; `401
/// UNAUTHORIZED` when the header is not `Bearer <token>`.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::new(ErrorCode::Unauthorized))?
        .trim();
    let (scheme, token) = text
        .split_once(' ')
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::new(ErrorCode::Unauthorized));
    }
    Ok(Some(token))
}

/// An authenticated caller: the verified claims of its access token.
#[derive(Debug, Clone)]
pub struct AuthUser {
    claims: Arc<Claims>,
}

impl AuthUser {
    /// Wraps verified claims.
    pub fn new(claims: Arc<Claims>) -> Self {
        Self { claims }
    }

    /// All claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The user id (`sub`).
    pub fn user_id(&self) -> &str {
        &self.claims.sub
    }

    /// The customer id.
    pub fn customer_id(&self) -> &str {
        &self.claims.customer_id
    }

    /// The session id (`sid`).
    pub fn session_id(&self) -> &str {
        &self.claims.sid
    }

    /// Whether the caller holds `p`.
    pub fn has(&self, p: Permission) -> bool {
        self.claims.has(p)
    }

    /// `403 FORBIDDEN` (`서비스 이용 권한이 없습니다`) unless the caller holds `p`.
    pub fn require(&self, p: Permission) -> Result<(), ApiError> {
        self.require_any(&[p])
    }

    /// `403 FORBIDDEN` unless the caller holds at least one of `ps`.
    pub fn require_any(&self, ps: &[Permission]) -> Result<(), ApiError> {
        if ps.iter().any(|p| self.has(*p)) {
            Ok(())
        } else {
            Err(ApiError::new(ErrorCode::Forbidden))
        }
    }

    /// The caller's lines (from the `line_numbers` claim; unparsable entries are skipped).
    pub fn lines(&self) -> Vec<LineNumber> {
        self.claims
            .line_numbers
            .iter()
            .filter_map(|l| LineNumber::parse(l))
            .collect()
    }

    /// Whether `line` is one of the caller's lines.
    pub fn owns_line(&self, line: &LineNumber) -> bool {
        self.claims
            .line_numbers
            .iter()
            .any(|l| LineNumber::parse(l).as_ref() == Some(line))
    }

    /// `403 LINE_ACCESS_DENIED` (details: the masked line) unless `line` is the caller's.
    pub fn require_line(&self, line: &LineNumber) -> Result<(), ApiError> {
        if self.owns_line(line) {
            Ok(())
        } else {
            Err(ApiError::new(ErrorCode::LineAccessDenied)
                .details(format!("lineNumber={}", line.masked())))
        }
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    TokenVerifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token =
            bearer_token(&parts.headers)?.ok_or_else(|| ApiError::new(ErrorCode::Unauthorized))?;
        let verifier = TokenVerifier::from_ref(state);
        let claims = verifier.verify(token).await?;
        Ok(Self { claims })
    }
}

impl<S> OptionalFromRequestParts<S> for AuthUser
where
    TokenVerifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let Some(token) = bearer_token(&parts.headers)? else {
            return Ok(None);
        };
        let verifier = TokenVerifier::from_ref(state);
        let claims = verifier.verify(token).await?;
        Ok(Some(Self { claims }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(v).expect("header"),
        );
        h
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(
            bearer_token(&headers("Bearer abc")).ok().flatten(),
            Some("abc")
        );
        assert_eq!(
            bearer_token(&headers("bearer abc")).ok().flatten(),
            Some("abc")
        );
        assert_eq!(
            bearer_token(&headers("BEARER  abc ")).ok().flatten(),
            Some("abc")
        );
        assert_eq!(bearer_token(&HeaderMap::new()).ok().flatten(), None);
        for bad in ["Basic abc", "Bearer", "Bearer   ", "abc"] {
            let e = bearer_token(&headers(bad)).expect_err(bad);
            assert_eq!(e.code(), ErrorCode::Unauthorized);
        }
    }

    #[test]
    fn permission_and_line_checks() {
        let u = AuthUser::new(Arc::new(Claims {
            iss: "i".into(),
            aud: "a".into(),
            sub: "mvno001".into(),
            customer_id: "CU1".into(),
            line_numbers: vec!["01012345678".into()],
            permissions: vec!["BILL_INQUIRY".into()],
            sid: "s".into(),
            jti: "j".into(),
            iat: 0,
            nbf: 0,
            exp: 0,
            typ: "access".into(),
        }));
        assert!(u.require(Permission::BillInquiry).is_ok());
        let e = u.require(Permission::ProductChange).expect_err("denied");
        assert_eq!(e.code(), ErrorCode::Forbidden);
        assert_eq!(e.message_text(), "서비스 이용 권한이 없습니다");
        let own = LineNumber::parse("010-1234-5678").expect("line");
        let other = LineNumber::parse("01099998888").expect("line");
        assert!(u.require_line(&own).is_ok());
        let e = u.require_line(&other).expect_err("denied");
        assert_eq!(e.code(), ErrorCode::LineAccessDenied);
        assert_eq!(e.details_text(), Some("lineNumber=010****8888"));
    }
}
