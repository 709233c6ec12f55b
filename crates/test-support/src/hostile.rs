//! Hostile input shared by the services' security tests: SQL metacharacters, percent-encoding
//! for putting them into paths and queries, and the check that a refusal is a proper docs/api.md §1.3
//! failure envelope that does not echo a clear line number.

use serde_json::Value;

/// Strings that break a query built by concatenation, a LIKE pattern, or a C string. Each
/// service's tests add their own table names and ids (see [`sql_metacharacters`]).
pub const SQL_METACHARACTERS: &[&str] = &[
    "'",
    "\"",
    ";",
    "--",
    "/*",
    "%",
    "_",
    "\\",
    "\u{0}",
    "' OR '1'='1",
    "*/ SELECT 1 /*",
];

/// [`SQL_METACHARACTERS`] followed by a service's own attacks (its table names, ids, codes).
pub fn sql_metacharacters(own: &[&'static str]) -> Vec<&'static str> {
    SQL_METACHARACTERS.iter().chain(own).copied().collect()
}

/// Percent-encodes one path or query value (everything but RFC 3986 unreserved characters).
pub fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Asserts the docs/api.md §1.3 failure envelope with `want_status` and `code`, and that none of
/// `clear_lines` (line numbers in clear, dashed or not) appears anywhere in it.
pub fn assert_failure(
    status: u16,
    body: &Value,
    want_status: u16,
    code: &str,
    what: &str,
    clear_lines: &[&str],
) {
    assert_eq!(status, want_status, "{what}: {body}");
    assert_eq!(body["success"], false, "{what}: {body}");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    assert_eq!(body["message"], body["error"]["message"], "{what}: {body}");
    assert!(
        body["traceId"].is_string() && body["timestamp"].is_string(),
        "{what}: {body}"
    );
    let text = body.to_string();
    for line in clear_lines {
        assert!(!text.contains(line), "{what}: clear line number in {text}");
    }
}
