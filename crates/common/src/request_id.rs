//! Request ids (docs/api.md §1.7): every response carries `X-Request-Id`; a valid incoming id
//! (1–128 characters of `[A-Za-z0-9._:-]`) is echoed, anything else is replaced by a new UUID v4.
//!
//! The edge middleware (`crate::http`) assigns the id, stores it in the request extensions and
//! in a task-local, so the envelope can put it in `traceId` without every handler threading it
//! through.

use std::sync::Arc;

/// The header name.
pub const X_REQUEST_ID: &str = "x-request-id";

/// The id of the request being served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub Arc<str>);

impl RequestId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id of the request this task is serving, if any.
pub fn current() -> Option<RequestId> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `fut` with `id` as the current request id (for work that outlives the handler, e.g.
/// a background KOS call that should still log and forward the id).
pub async fn scope<F: std::future::Future>(id: RequestId, fut: F) -> F::Output {
    CURRENT.scope(id, fut).await
}

/// Whether `v` may be echoed as a request id.
pub fn is_valid(v: &str) -> bool {
    (1..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_ids() {
        assert!(is_valid("abc-123_x.y:z"));
        assert!(!is_valid(""));
        assert!(!is_valid(&"a".repeat(129)));
        assert!(!is_valid("a b"));
        assert!(!is_valid("a\r\nSet-Cookie: x"));
        assert!(!is_valid("<script>"));
    }
}
