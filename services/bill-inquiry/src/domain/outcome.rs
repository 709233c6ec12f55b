//! What a KOS answer becomes (docs/api.md §3.2 table, 3.4): which business failures are cached
//! as negatives, the error a failed call answers with and the code its history row stores,
//! and the code a poll reports for a failure. Pure: no cache, no store, no HTTP.

use phonebill_common::cache::Negative;
use phonebill_common::error::{ApiError, ErrorCode};
use phonebill_common::kos::client::KosError;
use phonebill_common::kos::codes;

use super::result_codes;

/// `KOS_ERROR` text of the bill service (docs/api.md §3.2 table).
pub const MSG_KOS_ERROR: &str = "요금 조회 중 오류가 발생했습니다";

/// A failed inquiry: the error it answers with and what its history row stores.
#[derive(Debug)]
pub struct Failure {
    /// The answer.
    pub error: ApiError,
    /// `result_code` of the row (a KOS code or one of [`result_codes`]).
    pub code: String,
    /// `result_message` of the row (KOS's text for a business failure, else the answer's).
    pub message: String,
}

/// Whether a bill-inquiry business code is a stable fact about the line or month (no such
/// line, line not active, no such bill), cached as a negative entry.
pub fn is_negative_bill_code(code: &str) -> bool {
    matches!(
        code,
        codes::BILL_LINE_NOT_FOUND | codes::BILL_LINE_NOT_ACTIVE | codes::BILL_NOT_FOUND
    )
}

/// Whether an available-months business code is cached as a negative entry (the line's
/// facts; "no such bill" does not apply to the month list).
pub fn is_negative_months_code(code: &str) -> bool {
    code == codes::BILL_LINE_NOT_FOUND || code == codes::BILL_LINE_NOT_ACTIVE
}

/// The KOS result code of an error, when KOS sent one (logged with the call).
pub fn kos_code(e: &KosError) -> Option<String> {
    match e {
        KosError::Business { code, .. } => Some(code.clone()),
        KosError::Upstream5xx { result_code, .. } | KosError::Rejected { result_code, .. } => {
            result_code.clone()
        }
        KosError::RateLimited { .. } => Some(codes::RATE_LIMITED.to_owned()),
        _ => None,
    }
}

/// A (possibly cached) KOS business failure: the error of its code, KOS's code and text stored.
pub fn negative_failure(n: &Negative) -> Failure {
    Failure {
        error: ApiError::from(KosError::Business {
            code: n.code.clone(),
            message: n.message.clone(),
        }),
        code: n.code.clone(),
        message: n.message.clone(),
    }
}

/// A failed bill KOS call with no stale copy to stand in.
pub fn kos_failure(e: &KosError) -> Failure {
    let (error, code) = match e {
        // The inquiry has an async fallback, so a KOS timeout is "unavailable", not 504.
        KosError::Timeout => (
            ApiError::new(ErrorCode::KosUnavailable).retry_after(60),
            result_codes::KOS_TIMEOUT,
        ),
        other => {
            let err = ApiError::from(other.clone());
            match err.code() {
                ErrorCode::KosError => (err.message(MSG_KOS_ERROR), result_codes::KOS_ERROR),
                _ => (err, result_codes::KOS_UNAVAILABLE),
            }
        }
    };
    Failure {
        message: error.message_text().to_owned(),
        code: code.to_owned(),
        error,
    }
}

/// The code a poll reports for a request whose background call ended in `e`.
pub fn poll_failure_code(e: &ApiError) -> &'static str {
    match e.code() {
        ErrorCode::LineNotFound => codes::BILL_LINE_NOT_FOUND,
        ErrorCode::LineNotActive => codes::BILL_LINE_NOT_ACTIVE,
        ErrorCode::BillNotFound => codes::BILL_NOT_FOUND,
        ErrorCode::KosError => result_codes::KOS_ERROR,
        _ => result_codes::KOS_UNAVAILABLE,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::response::IntoResponse;

    use super::*;

    fn negative(code: &str) -> Negative {
        Negative {
            code: code.to_owned(),
            message: format!("kos says {code}"),
        }
    }

    #[test]
    fn negative_codes_of_bills_and_months() {
        for c in ["1001", "1002", "1003"] {
            assert!(is_negative_bill_code(c), "{c}");
        }
        assert!(!is_negative_bill_code("0000"));
        assert!(!is_negative_bill_code("9999"));
        assert!(is_negative_months_code("1001"));
        assert!(is_negative_months_code("1002"));
        assert!(
            !is_negative_months_code("1003"),
            "no bill is not a fact about the line"
        );
    }

    #[test]
    fn business_failures_map_to_their_errors_and_keep_kos_text() {
        for (code, expect) in [
            ("1001", ErrorCode::LineNotFound),
            ("1002", ErrorCode::LineNotActive),
            ("1003", ErrorCode::BillNotFound),
        ] {
            let f = negative_failure(&negative(code));
            assert_eq!(f.error.code(), expect, "{code}");
            assert_eq!(f.code, code);
            assert_eq!(f.message, format!("kos says {code}"));
            assert_eq!(
                poll_failure_code(&f.error),
                code,
                "a poll reports the KOS code"
            );
        }
    }

    #[test]
    fn a_timeout_is_unavailable_with_retry_after_not_504() {
        let f = kos_failure(&KosError::Timeout);
        assert_eq!(f.error.code(), ErrorCode::KosUnavailable);
        assert_eq!(f.code, result_codes::KOS_TIMEOUT);
        let resp = f.error.into_response();
        assert_eq!(resp.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()["retry-after"], "60");
    }

    #[test]
    fn system_errors_are_kos_error_with_the_bill_text() {
        for e in [
            KosError::Upstream5xx {
                status: 500,
                result_code: Some("9999".into()),
            },
            KosError::Malformed("x".into()),
            KosError::Rejected {
                status: 400,
                result_code: None,
            },
        ] {
            let f = kos_failure(&e);
            assert_eq!(f.error.code(), ErrorCode::KosError, "{e:?}");
            assert_eq!(f.error.message_text(), MSG_KOS_ERROR);
            assert_eq!(f.message, MSG_KOS_ERROR);
            assert_eq!(f.code, result_codes::KOS_ERROR);
            assert_eq!(poll_failure_code(&f.error), result_codes::KOS_ERROR);
        }
    }

    #[test]
    fn outages_are_unavailable() {
        for e in [
            KosError::Connect("refused".into()),
            KosError::BreakerOpen {
                retry_after: Duration::from_secs(5),
            },
            KosError::Upstream5xx {
                status: 503,
                result_code: None,
            },
            KosError::RateLimited { retry_after: None },
        ] {
            let f = kos_failure(&e);
            assert_eq!(f.error.code(), ErrorCode::KosUnavailable, "{e:?}");
            assert_eq!(f.code, result_codes::KOS_UNAVAILABLE);
            assert_eq!(poll_failure_code(&f.error), result_codes::KOS_UNAVAILABLE);
        }
    }

    #[test]
    fn kos_codes_are_kept_when_kos_sent_one() {
        assert_eq!(
            kos_code(&KosError::Business {
                code: "1003".into(),
                message: String::new()
            })
            .as_deref(),
            Some("1003")
        );
        assert_eq!(
            kos_code(&KosError::Upstream5xx {
                status: 500,
                result_code: Some("9999".into())
            })
            .as_deref(),
            Some("9999")
        );
        assert_eq!(
            kos_code(&KosError::RateLimited { retry_after: None }).as_deref(),
            Some(codes::RATE_LIMITED)
        );
        assert_eq!(kos_code(&KosError::Timeout), None);
    }
}
