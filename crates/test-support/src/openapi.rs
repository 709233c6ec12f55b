//! A check of an OpenAPI document (as JSON) against the project's convention for operations:
//! each has a summary that says what it does and for whom (not its path), an example answer,
//! and an example request where it takes a body.

use serde_json::Value;

/// Panics naming the first operation of `doc` that breaks the convention; returns how many
/// operations it checked.
///
/// # Panics
/// On an operation without a summary of its own (at least 30 bytes, not naming an `/api/`
/// path), without an example in its `200` answer, or with a request body without an example.
pub fn assert_operations_documented(doc: &Value) -> usize {
    let has_example = |content: &Value| {
        content
            .as_object()
            .is_some_and(|c| c.values().any(|m| m.get("example").is_some()))
    };
    let mut operations = 0;
    let paths = doc["paths"].as_object().expect("a document with paths");
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let summary = op["summary"].as_str().unwrap_or_default();
            assert!(
                summary.len() >= 30 && !summary.contains("/api/"),
                "{method} {path}: summary {summary:?}"
            );
            assert!(
                has_example(&op["responses"]["200"]["content"]),
                "{method} {path}: no example answer"
            );
            if let Some(body) = op.get("requestBody") {
                assert!(
                    has_example(&body["content"]),
                    "{method} {path}: no example request"
                );
            }
        }
    }
    operations
}
