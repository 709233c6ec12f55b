//! The served OpenAPI document says what each operation does and shows a true example: every
//! operation has a summary of its own (not its path), an example answer (and request body where
//! it takes one), the shared HTTP stack's failures; and the examples have the shape of what the
//! running service really answers for the demo user's plan change.

use serde_json::Value;

use crate::helpers::spawn_app;
use phonebill_test_support::Backend;

/// Same keys at every level (arrays by their first element) and the same JSON types.
fn same_shape(want: &Value, got: &Value, at: &str) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            let wk: Vec<&String> = w.keys().collect();
            let gk: Vec<&String> = g.keys().collect();
            let mut ws = wk.clone();
            let mut gs = gk.clone();
            ws.sort();
            gs.sort();
            assert_eq!(ws, gs, "keys at {at}");
            for (k, v) in w {
                same_shape(v, &g[k.as_str()], &format!("{at}.{k}"));
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            if let (Some(w0), Some(g0)) = (w.first(), g.first()) {
                same_shape(w0, g0, &format!("{at}[0]"));
            }
        }
        (w, g) => assert_eq!(
            std::mem::discriminant(w),
            std::mem::discriminant(g),
            "type at {at}: example {w}, answer {g}"
        ),
    }
}

/// The example of `path`'s `method` answer with `status`.
fn example<'a>(doc: &'a Value, path: &str, method: &str, status: &str) -> &'a Value {
    let ex =
        &doc["paths"][path][method]["responses"][status]["content"]["application/json"]["example"];
    assert!(ex.is_object(), "{method} {path} {status}: no example");
    ex
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_summarised_with_true_examples() {
    let app = spawn_app(Backend::Sqlite).await;
    let (s, doc, _) = app.get("/v3/api-docs", "").await;
    assert_eq!(s, 200, "{doc}");
    let paths = doc["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            operations += 1;
            let summary = op["summary"].as_str().unwrap_or_default();
            assert!(
                summary.len() > 30 && !summary.contains("/api/"),
                "{method} {path}: summary {summary:?}"
            );
            example(&doc, path, method, "200");
            if op.get("requestBody").is_some() {
                assert!(
                    op["requestBody"]["content"]["application/json"]["example"].is_object(),
                    "{method} {path}: no request example"
                );
            }
            // StandardErrors ran on the collected operations.
            for status in ["400", "401", "403", "503"] {
                assert!(
                    op["responses"][status].is_object(),
                    "{method} {path}: no {status}"
                );
            }
        }
    }
    assert_eq!(operations, 8, "the eight operations of docs/api.md §4");

    // The demo user's plan change, driven with the document's own request example.
    let t = app.user_token("01012345678");
    let body = doc["paths"]["/api/v1/products/change"]["post"]["requestBody"]["content"]
        ["application/json"]["example"]
        .clone();
    let checks = [
        (
            "/api/v1/products/customer?lineNumber=01012345678",
            "/api/v1/products/customer",
        ),
        ("/api/v1/products/menu", "/api/v1/products/menu"),
        (
            "/api/v1/products/available?currentProductCode=5G-STANDARD-001",
            "/api/v1/products/available",
        ),
    ];
    for (url, path) in checks {
        let (s, got, _) = app.get(url, &t).await;
        assert_eq!(s, 200, "{url}: {got}");
        same_shape(example(&doc, path, "get", "200"), &got, url);
    }
    let (s, got, _) = app
        .post("/api/v1/products/change/validation", &t, &body, None)
        .await;
    assert_eq!(s, 200, "{got}");
    let want = example(&doc, "/api/v1/products/change/validation", "post", "200");
    assert_eq!(
        got["data"], want["data"],
        "the pre-check example is the real answer"
    );
    assert_eq!(got["message"], want["message"]);

    let (s, got, _) = app
        .post(
            "/api/v1/products/change",
            &t,
            &body,
            Some("openapi-example"),
        )
        .await;
    assert_eq!(s, 200, "{got}");
    same_shape(
        example(&doc, "/api/v1/products/change", "post", "200"),
        &got,
        "change",
    );
    let id = got["data"]["requestId"]
        .as_str()
        .expect("request id")
        .to_owned();
    let (s, got, _) = app.get(&format!("/api/v1/products/change/{id}"), &t).await;
    assert_eq!(s, 200, "{got}");
    same_shape(
        example(&doc, "/api/v1/products/change/{requestId}", "get", "200"),
        &got,
        "change status",
    );
    let (s, got, _) = app.get("/api/v1/products/history", &t).await;
    assert_eq!(s, 200, "{got}");
    same_shape(
        example(&doc, "/api/v1/products/history", "get", "200"),
        &got,
        "history",
    );
}
