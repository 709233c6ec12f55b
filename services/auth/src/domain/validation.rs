//! Input rules and their `fieldErrors` messages (docs/api.md §2.3, 2.8, 2.9, 2.14). Wire types arrive
//! with optional fields; these functions turn them into checked values or a map
//! *field → message* (every failing field is listed, not only the first).

use std::collections::BTreeMap;

use phonebill_common::auth::Permission;
use phonebill_common::line::LineNumber;

/// Field name → message.
pub type FieldErrors = BTreeMap<String, String>;

/// The specials the password policy accepts (docs/api.md §2.14).
const SPECIALS: &[char] = &['@', '$', '!', '%', '*', '?', '&'];

/// Policy message of docs/api.md §2.8.
pub const PASSWORD_POLICY_MSG: &str =
    "비밀번호는 대문자, 소문자, 숫자, 특수문자를 각각 최소 1개씩 포함해야 합니다";

fn user_id_chars_ok(id: &str) -> bool {
    id.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `pw` satisfies the policy: 8–50 chars, lower, upper, digit and one of `@$!%*?&`,
/// nothing else.
pub fn password_meets_policy(pw: &str) -> bool {
    let n = pw.chars().count();
    (8..=50).contains(&n)
        && pw.chars().any(|c| c.is_ascii_lowercase())
        && pw.chars().any(|c| c.is_ascii_uppercase())
        && pw.chars().any(|c| c.is_ascii_digit())
        && pw.chars().any(|c| SPECIALS.contains(&c))
        && pw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || SPECIALS.contains(&c))
}

/// A checked login request.
#[derive(Debug, Clone)]
pub struct LoginInput {
    /// User id.
    pub user_id: String,
    /// Password (never logged).
    pub password: String,
    /// 30-day session instead of 24 h.
    pub auto_login: bool,
}

/// Validates a login request (docs/api.md §2.3: only lengths and the id pattern).
pub fn login(
    user_id: Option<String>,
    password: Option<String>,
    auto_login: Option<bool>,
) -> Result<LoginInput, FieldErrors> {
    let mut errors = FieldErrors::new();
    let user_id = user_id.unwrap_or_default();
    let password = password.unwrap_or_default();
    if user_id.is_empty() {
        errors.insert("userId".into(), "사용자 ID는 필수입니다".into());
    } else if !(3..=20).contains(&user_id.chars().count()) {
        errors.insert("userId".into(), "사용자 ID는 3-20자 사이여야 합니다".into());
    } else if !user_id_chars_ok(&user_id) {
        errors.insert(
            "userId".into(),
            "사용자 ID는 영문, 숫자, _, - 만 사용 가능합니다".into(),
        );
    }
    if password.is_empty() {
        errors.insert("password".into(), "비밀번호는 필수입니다".into());
    } else if !(8..=50).contains(&password.chars().count()) {
        errors.insert(
            "password".into(),
            "비밀번호는 8-50자 사이여야 합니다".into(),
        );
    }
    if errors.is_empty() {
        Ok(LoginInput {
            user_id,
            password,
            auto_login: auto_login.unwrap_or(false),
        })
    } else {
        Err(errors)
    }
}

/// A checked registration.
#[derive(Debug, Clone)]
pub struct RegisterInput {
    /// User id.
    pub user_id: String,
    /// Customer id.
    pub customer_id: String,
    /// Line.
    pub line: LineNumber,
    /// Display name.
    pub user_name: String,
    /// Password (never logged).
    pub password: String,
    /// Requested permissions, deduplicated, in docs/api.md order.
    pub permissions: Vec<Permission>,
}

/// The raw registration fields.
#[derive(Debug, Default)]
pub struct RegisterFields {
    /// `userId`.
    pub user_id: Option<String>,
    /// `customerId`.
    pub customer_id: Option<String>,
    /// `lineNumber`.
    pub line_number: Option<String>,
    /// `userName`.
    pub user_name: Option<String>,
    /// `password`.
    pub password: Option<String>,
    /// `permissions`.
    pub permissions: Option<Vec<String>>,
}

/// Whether `s` is `010-dddd-dddd` (docs/api.md §1.8: registration requires the dashed form).
fn dashed_line_ok(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 13
        && s.starts_with("010-")
        && b[8] == b'-'
        && b[4..8].iter().chain(&b[9..]).all(u8::is_ascii_digit)
}

/// Whether free text holds a control character. NUL in particular: PostgreSQL `text` cannot
/// store it, so it reached the database and came back as a 500 (found by the security tests).
fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Validates a registration (docs/api.md §2.8).
pub fn register(f: RegisterFields) -> Result<RegisterInput, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut err = |field: &str, msg: &str| {
        errors
            .entry(field.to_owned())
            .or_insert_with(|| msg.to_owned());
    };
    let user_id = f.user_id.unwrap_or_default().trim().to_owned();
    if !(3..=20).contains(&user_id.chars().count()) {
        err("userId", "사용자 ID는 3자 이상 20자 이하여야 합니다");
    } else if !user_id_chars_ok(&user_id) {
        err("userId", "사용자 ID는 영문, 숫자, _, - 만 사용 가능합니다");
    }
    let customer_id = f.customer_id.unwrap_or_default().trim().to_owned();
    if customer_id.is_empty() {
        err("customerId", "고객 ID는 필수입니다");
    } else if customer_id.chars().count() > 20 {
        err("customerId", "고객 ID는 20자 이하여야 합니다");
    } else if has_control(&customer_id) {
        err("customerId", "고객 ID에 사용할 수 없는 문자가 있습니다");
    }
    let raw_line = f.line_number.unwrap_or_default();
    let line = if dashed_line_ok(raw_line.trim()) {
        LineNumber::parse(raw_line.trim())
    } else {
        None
    };
    if line.is_none() {
        err("lineNumber", "회선번호는 010-XXXX-XXXX 형식이어야 합니다");
    }
    let user_name = f.user_name.unwrap_or_default().trim().to_owned();
    if user_name.is_empty() {
        err("userName", "사용자 이름은 필수입니다");
    } else if user_name.chars().count() > 50 {
        err("userName", "사용자 이름은 50자 이하여야 합니다");
    } else if has_control(&user_name) {
        err("userName", "사용자 이름에 사용할 수 없는 문자가 있습니다");
    }
    let password = f.password.unwrap_or_default();
    if !password_meets_policy(&password) {
        err("password", PASSWORD_POLICY_MSG);
    }
    let mut permissions = Vec::new();
    let raw_perms = f.permissions.unwrap_or_default();
    if raw_perms.is_empty() {
        err("permissions", "권한은 최소 1개 이상 필요합니다");
    }
    for code in &raw_perms {
        match Permission::parse(code) {
            Some(p) if !permissions.contains(&p) => permissions.push(p),
            Some(_) => {}
            None => err("permissions", "알 수 없는 권한 코드입니다"),
        }
    }
    permissions.sort();
    match line {
        Some(line) if errors.is_empty() => Ok(RegisterInput {
            user_id,
            customer_id,
            line,
            user_name,
            password,
            permissions,
        }),
        _ => Err(errors),
    }
}

/// A checked password change.
#[derive(Debug, Clone)]
pub struct ChangePasswordInput {
    /// Whose password.
    pub user_id: String,
    /// The current password.
    pub current: String,
    /// The new password.
    pub new: String,
}

/// Validates a password change (docs/api.md §2.9): all three present; the new one meets the policy and
/// differs from the current one.
pub fn change_password(
    user_id: Option<String>,
    current: Option<String>,
    new: Option<String>,
) -> Result<ChangePasswordInput, FieldErrors> {
    let mut errors = FieldErrors::new();
    let user_id = user_id.unwrap_or_default();
    let current = current.unwrap_or_default();
    let new = new.unwrap_or_default();
    if user_id.is_empty() {
        errors.insert("userId".into(), "사용자 ID는 필수입니다".into());
    }
    if current.is_empty() {
        errors.insert(
            "currentPassword".into(),
            "현재 비밀번호는 필수입니다".into(),
        );
    }
    if !password_meets_policy(&new) {
        errors.insert("newPassword".into(), PASSWORD_POLICY_MSG.into());
    } else if new == current {
        errors.insert(
            "newPassword".into(),
            "새 비밀번호는 현재 비밀번호와 달라야 합니다".into(),
        );
    }
    if errors.is_empty() {
        Ok(ChangePasswordInput {
            user_id,
            current,
            new,
        })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_policy() {
        assert!(password_meets_policy("Phonebill1!"));
        assert!(password_meets_policy("Secure1234!"));
        assert!(!password_meets_policy("phonebill1!"));
        assert!(!password_meets_policy("PHONEBILL1!"));
        assert!(!password_meets_policy("Phonebill!!"));
        assert!(!password_meets_policy("Phonebill11"));
        assert!(!password_meets_policy("Ph1!"));
        assert!(!password_meets_policy("Phonebill1!#"));
        assert!(!password_meets_policy(&format!("Aa1!{}", "a".repeat(47))));
    }

    #[test]
    fn register_refuses_control_characters_in_free_text() {
        let e = register(RegisterFields {
            user_id: Some("newuser01".into()),
            customer_id: Some("C\u{0}1".into()),
            line_number: Some("010-1234-9999".into()),
            user_name: Some("홍\u{7}길동".into()),
            password: Some("Secure1234!".into()),
            permissions: Some(vec!["BILL_INQUIRY".into()]),
        })
        .expect_err("control characters");
        assert_eq!(e["customerId"], "고객 ID에 사용할 수 없는 문자가 있습니다");
        assert_eq!(
            e["userName"],
            "사용자 이름에 사용할 수 없는 문자가 있습니다"
        );
        assert_eq!(e.len(), 2);
    }

    #[test]
    fn register_lists_every_field() {
        let e = register(RegisterFields {
            user_id: Some("a b".into()),
            customer_id: Some("x".repeat(21)),
            line_number: Some("01012349999".into()),
            user_name: Some(String::new()),
            password: Some("weak".into()),
            permissions: Some(vec![]),
        })
        .expect_err("invalid");
        assert_eq!(
            e["userId"],
            "사용자 ID는 영문, 숫자, _, - 만 사용 가능합니다"
        );
        assert_eq!(e["customerId"], "고객 ID는 20자 이하여야 합니다");
        assert_eq!(
            e["lineNumber"],
            "회선번호는 010-XXXX-XXXX 형식이어야 합니다"
        );
        assert_eq!(e["userName"], "사용자 이름은 필수입니다");
        assert_eq!(e["password"], PASSWORD_POLICY_MSG);
        assert_eq!(e["permissions"], "권한은 최소 1개 이상 필요합니다");
        let ok = register(RegisterFields {
            user_id: Some("newuser01".into()),
            customer_id: Some("123456aB3dE5fG7hI9jK".into()),
            line_number: Some("010-1234-9999".into()),
            user_name: Some("홍길동".into()),
            password: Some("Secure1234!".into()),
            permissions: Some(vec!["product_change".into(), "BILL_INQUIRY".into()]),
        })
        .expect("valid");
        assert_eq!(ok.line.as_str(), "01012349999");
        assert_eq!(
            ok.permissions,
            vec![Permission::BillInquiry, Permission::ProductChange]
        );
    }

    #[test]
    fn login_rules() {
        let e = login(Some("ab".into()), None, None).expect_err("invalid");
        assert_eq!(e["userId"], "사용자 ID는 3-20자 사이여야 합니다");
        assert!(e.contains_key("password"));
        assert!(login(Some("mvno001".into()), Some("whatever1".into()), None).is_ok());
    }
}
