//! The mock's routes. Every KOS endpoint sits behind the [`crate::gate`] of its endpoint name;
//! admin routes (faults, simulation, SMS outbox, bulk creation) behind the credential check
//! only; the customer reads (`mock-datas/customer/*`, both path sets) behind the gate of the
//! `mock-data` endpoint (credentials, rate limit; docs/security.md). Single mock-data creation
//! stays outside (the local registration page calls it; `KOS_MOCK_DATA_ENABLED=false` turns it
//! off in production).

pub mod admin;
pub mod auth;
pub mod bill;
mod line_request;
pub mod mock_data;
pub mod product;
pub mod sms;

use std::sync::Arc;

use axum::middleware::from_fn_with_state;
use phonebill_common::kos::KosEndpoint;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::gate::{Gate, GateResponses, gate};
use crate::state::AppState;

type Routes = OpenApiRouter<Arc<AppState>>;

/// `routes` behind the gate of `endpoint` (`None`: the admin gate, credential check only), their
/// operations documented with the gate's answers ([`GateResponses`]).
fn gated(
    app: &Arc<AppState>,
    endpoint: Option<KosEndpoint>,
    label: &'static str,
    mut routes: Routes,
) -> OpenApiRouter {
    GateResponses(endpoint).modify(routes.get_openapi_mut());
    routes
        .route_layer(from_fn_with_state(
            Gate {
                app: app.clone(),
                endpoint,
                label,
            },
            gate,
        ))
        .with_state(app.clone())
}

/// All business routes of the mock with their OpenAPI document (each route is declared once,
/// by its handler's `#[utoipa::path]`), state applied.
pub fn router(app: &Arc<AppState>) -> OpenApiRouter {
    use KosEndpoint as E;
    OpenApiRouter::with_openapi(crate::ApiDoc::openapi())
        .merge(gated(
            app,
            Some(E::BillInquiry),
            "bill-inquiry",
            Routes::default()
                .routes(routes!(bill::inquire_bill))
                .routes(routes!(bill::inquire_bill_alias)),
        ))
        .merge(gated(
            app,
            Some(E::AvailableMonths),
            "available-months",
            Routes::default().routes(routes!(bill::get_available_months)),
        ))
        .merge(gated(
            app,
            Some(E::ProductInquiry),
            "product-inquiry",
            Routes::default().routes(routes!(product::inquire_product)),
        ))
        .merge(gated(
            app,
            Some(E::ProductChange),
            "product-change",
            Routes::default()
                .routes(routes!(product::change_product))
                .routes(routes!(product::change_product_alias)),
        ))
        .merge(gated(
            app,
            Some(E::ProductList),
            "product-list",
            Routes::default().routes(routes!(product::list_products)),
        ))
        .merge(gated(
            app,
            Some(E::Auth),
            "auth",
            Routes::default()
                .routes(routes!(auth::issue_token))
                .routes(routes!(auth::issue_token_alias)),
        ))
        .merge(gated(
            app,
            Some(E::SmsSend),
            "sms-send",
            Routes::default().routes(routes!(sms::send_sms)),
        ))
        .merge(gated(
            app,
            None,
            "admin",
            Routes::default()
                .routes(routes!(
                    admin::list_faults,
                    admin::arm_fault,
                    admin::clear_faults
                ))
                .routes(routes!(admin::get_simulation, admin::update_simulation))
                .routes(routes!(sms::read_outbox, sms::clear_outbox))
                .routes(routes!(mock_data::create_mock_data_bulk)),
        ))
        .merge(gated(
            app,
            Some(E::MockData),
            "mock-data",
            Routes::default()
                .routes(routes!(mock_data::get_customer_product))
                .routes(routes!(mock_data::get_customer_product_alias))
                .routes(routes!(mock_data::get_customer_bill))
                .routes(routes!(mock_data::get_customer_bill_alias)),
        ))
        .merge(
            Routes::default()
                .routes(routes!(mock_data::create_mock_data))
                .routes(routes!(mock_data::create_mock_data_alias))
                .with_state(app.clone()),
        )
}
