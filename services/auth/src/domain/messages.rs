//! The client messages of auth's own rules (docs/api.md §1.5, §2.8.1). The error codes and their
//! generic texts are the shared catalogue (`phonebill_common::error`); what a user is told to do
//! next about registration is auth's policy, so the text lives here. The lockout message is built
//! from the configured rule by `service::locked_error`.

use phonebill_common::{ApiError, ErrorCode};

/// `403 REGISTRATION_CLOSED`: online registration is off (`closed` mode); the user is sent to a
/// shop or the call centre.
pub const REGISTRATION_CLOSED: &str =
    "온라인 회원가입이 제한되어 있습니다. 가까운 대리점이나 고객센터에서 가입해주세요";

/// `403 LINE_VERIFICATION_REQUIRED`: `verified` mode and no code given; the user is told how to
/// get one.
pub const LINE_VERIFICATION_REQUIRED: &str =
    "회선 본인 확인이 필요합니다. 인증번호를 요청해 휴대폰으로 받은 번호와 함께 다시 가입해주세요";

/// The `REGISTRATION_CLOSED` error with auth's message.
pub fn registration_closed() -> ApiError {
    ApiError::new(ErrorCode::RegistrationClosed).message(REGISTRATION_CLOSED)
}

/// The `LINE_VERIFICATION_REQUIRED` error with auth's message.
pub fn line_verification_required() -> ApiError {
    ApiError::new(ErrorCode::LineVerificationRequired).message(LINE_VERIFICATION_REQUIRED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_errors_carry_the_documented_texts() {
        let closed = registration_closed();
        assert_eq!(closed.code(), ErrorCode::RegistrationClosed);
        assert_eq!(
            closed.message_text(),
            "온라인 회원가입이 제한되어 있습니다. 가까운 대리점이나 고객센터에서 가입해주세요"
        );
        let verify = line_verification_required();
        assert_eq!(verify.code(), ErrorCode::LineVerificationRequired);
        assert_eq!(
            verify.message_text(),
            "회선 본인 확인이 필요합니다. 인증번호를 요청해 휴대폰으로 받은 번호와 함께 다시 가입해주세요"
        );
    }
}
