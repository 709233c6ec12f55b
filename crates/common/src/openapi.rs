//! Serving OpenAPI documents (SPEC 6) and Swagger UI.
//!
//! Standalone: `/v3/api-docs` is the service's document, also at `/v3/api-docs/<name>`.
//! All-in-one: `/v3/api-docs` is an index `{"services": [...]}` and each document sits at
//! `/v3/api-docs/<name>`. Swagger UI (`/swagger-ui`) lists every document of the process.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
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
