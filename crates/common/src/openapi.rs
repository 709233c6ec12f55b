//! Serving OpenAPI documents (docs/api.md §6) and Swagger UI.
//!
//! Standalone: `/v3/api-docs` is the service's document, also at `/v3/api-docs/<name>`.
//! All-in-one: `/v3/api-docs` is an index `{"services": [...]}` and each document sits at
//! `/v3/api-docs/<name>`. Swagger UI (`/swagger-ui`) lists every document of the process.
//!
//! The documents describe what really crosses the wire (the API fuzz run checks every response
//! against them): success bodies in the envelope ([`Enveloped`], [`MessageEnvelope`]) unless an
//! endpoint is one of docs/api.md §1.4's bare bodies, and the failures the shared HTTP stack can give on
//! any endpoint ([`StandardErrors`]).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, ResponseBuilder};
use utoipa::{Modify, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::extract::Path;

/// Adds the `bearer` security scheme (JWT access token) to a document.
#[derive(Debug, Clone, Copy)]
pub struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Documentation only: a success envelope (docs/api.md §1.3) carrying `data` of type `T`. Endpoints that
/// add top-level fields (`resultCode`, the refresh token mirror) still match: the schema does not
/// forbid extra properties.
#[derive(Debug, Serialize, ToSchema)]
pub struct Enveloped<T> {
    /// Always `true`.
    pub success: bool,
    /// The payload.
    pub data: T,
    /// Optional human-readable text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// RFC 3339 in Korea time.
    pub timestamp: String,
    /// The request id.
    #[serde(rename = "traceId")]
    pub trace_id: String,
}

/// Documentation only: a success envelope with a message and no `data` (logout, unlock, grant…).
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageEnvelope {
    /// Always `true`.
    pub success: bool,
    /// Human-readable text.
    pub message: String,
    /// RFC 3339 in Korea time.
    pub timestamp: String,
    /// The request id.
    #[serde(rename = "traceId")]
    pub trace_id: String,
}

/// Adds to every operation the failures the shared HTTP stack and extractors can answer on any
/// endpoint, when the operation does not document that status itself, all as the `ErrorBody`
/// envelope: `400` (`MALFORMED_REQUEST`: unreadable body, query or path value), `413`
/// (`PAYLOAD_TOO_LARGE`, operations with a body), `401` (operations with a security
/// requirement: `UNAUTHORIZED`, `INVALID_TOKEN`, `TOKEN_EXPIRED`, `TOKEN_REVOKED`), `403`
/// (`FORBIDDEN`, same operations) and `503` (`SERVICE_UNAVAILABLE`: request timeout or own
/// database down). Only for the services whose failures use that envelope (not the KOS mock).
#[derive(Debug, Clone, Copy)]
pub struct StandardErrors;

impl StandardErrors {
    fn wanted(op: &Operation) -> Vec<(&'static str, &'static str)> {
        let secured = op
            .security
            .as_ref()
            .is_some_and(|reqs| reqs.iter().any(|r| r != &Default::default()));
        let mut wanted: Vec<(&str, &str)> = vec![
            (
                "400",
                "MALFORMED_REQUEST: unreadable body, query or path value",
            ),
            (
                "503",
                "SERVICE_UNAVAILABLE: request timeout or own database unreachable",
            ),
        ];
        if op.request_body.is_some() {
            wanted.push(("413", "PAYLOAD_TOO_LARGE: body over 64 KiB"));
        }
        if secured {
            wanted.push((
                "401",
                "UNAUTHORIZED / INVALID_TOKEN / TOKEN_EXPIRED / TOKEN_REVOKED",
            ));
            wanted.push(("403", "FORBIDDEN: missing permission"));
        }
        wanted
    }
}

impl Modify for StandardErrors {
    fn modify(&self, openapi: &mut OpenApi) {
        add_missing_responses(openapi, "ErrorBody", Self::wanted);
    }
}

/// Adds to every operation of `openapi` the `(status, description)` responses `wanted` names
/// for it that it does not document itself, each with a JSON body of the component schema
/// `schema`: failures that a layer in front of the handlers answers (the shared HTTP stack here,
/// the KOS mock's gate) are stated once, by that layer, rather than on every operation.
pub fn add_missing_responses(
    openapi: &mut OpenApi,
    schema: &str,
    wanted: impl Fn(&Operation) -> Vec<(&'static str, &'static str)>,
) {
    for item in openapi.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            for (status, description) in wanted(op) {
                if op.responses.responses.contains_key(status) {
                    continue;
                }
                let response = ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(schema)))
                            .build(),
                    )
                    .build();
                op.responses
                    .responses
                    .insert(status.to_owned(), response.into());
            }
        }
    }
}

#[derive(Clone)]
struct Docs {
    standalone: bool,
    docs: Arc<Vec<(&'static str, String)>>,
}

/// Routes serving `docs` (name, document).
pub fn docs_router(docs: Vec<(&'static str, OpenApi)>, standalone: bool) -> Router {
    let rendered: Vec<(&'static str, String)> = docs
        .into_iter()
        .map(|(n, d)| (n, d.to_json().unwrap_or_else(|_| "{}".to_owned())))
        .collect();
    let urls: Vec<String> = rendered
        .iter()
        .map(|(n, _)| format!("/v3/api-docs/{n}"))
        .collect();
    let swagger: Router = SwaggerUi::new("/swagger-ui")
        .config(Config::new(urls))
        .into();
    Router::new()
        .route("/v3/api-docs", get(index))
        .route("/v3/api-docs/{name}", get(one))
        .with_state(Docs {
            standalone,
            docs: Arc::new(rendered),
        })
        .merge(swagger)
}

fn json_response(body: String) -> Response {
    ([(http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn index(State(d): State<Docs>) -> Response {
    if d.standalone
        && let Some((_, doc)) = d.docs.first()
    {
        return json_response(doc.clone());
    }
    let services: Vec<String> = d
        .docs
        .iter()
        .map(|(n, _)| format!("/v3/api-docs/{n}"))
        .collect();
    axum::Json(json!({ "services": services })).into_response()
}

async fn one(State(d): State<Docs>, Path(name): Path<String>) -> Response {
    match d.docs.iter().find(|(n, _)| *n == name) {
        Some((_, doc)) => json_response(doc.clone()),
        None => crate::ApiError::new(crate::ErrorCode::NotFound).into_response(),
    }
}
