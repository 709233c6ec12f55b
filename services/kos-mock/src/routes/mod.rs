//! The mock's routes. Every KOS endpoint sits behind the [`crate::gate`] of its endpoint name;
//! admin routes (faults, simulation, SMS outbox, bulk creation) behind the credential check
//! only; the customer reads (`mock-datas/customer/*`, both path sets) behind the gate of the
//! `mock-data` endpoint (credentials, rate limit; docs/security.md). Single mock-data creation
//! stays outside (the local registration page calls it; `KOS_MOCK_DATA_ENABLED=false` turns it
//! off in production).

pub mod admin;
pub mod auth;
pub mod bill;
pub mod mock_data;
pub mod product;
pub mod sms;

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, get, post};
use phonebill_common::kos::{KosEndpoint, paths};

use crate::gate::{Gate, gate};
use crate::state::AppState;

fn gated(
    app: &Arc<AppState>,
    endpoint: Option<KosEndpoint>,
    label: &'static str,
    routes: Vec<(&'static str, MethodRouter<Arc<AppState>>)>,
) -> Router {
    let mut r = Router::new();
    for (path, m) in routes {
        r = r.route(path, m);
    }
    r.route_layer(from_fn_with_state(
        Gate {
            app: app.clone(),
            endpoint,
            label,
        },
        gate,
    ))
    .with_state(app.clone())
}

/// All business routes of the mock, state applied.
pub fn router(app: &Arc<AppState>) -> Router {
    use KosEndpoint as E;
    Router::new()
        .merge(gated(
            app,
            Some(E::BillInquiry),
            "bill-inquiry",
            vec![
                (paths::BILL_INQUIRY, post(bill::inquire_bill)),
                (paths::BILL_INQUIRY_ALIAS, post(bill::inquire_bill_alias)),
            ],
        ))
        .merge(gated(
            app,
            Some(E::AvailableMonths),
            "available-months",
            vec![(
                "/api/v1/kos/bill/available-months/{lineNumber}",
                get(bill::get_available_months),
            )],
        ))
        .merge(gated(
            app,
            Some(E::ProductInquiry),
            "product-inquiry",
            vec![(paths::PRODUCT_INQUIRY, post(product::inquire_product))],
        ))
        .merge(gated(
            app,
            Some(E::ProductChange),
            "product-change",
            vec![
                (paths::PRODUCT_CHANGE, post(product::change_product)),
                (
                    paths::PRODUCT_CHANGE_ALIAS,
                    post(product::change_product_alias),
                ),
            ],
        ))
        .merge(gated(
            app,
            Some(E::ProductList),
            "product-list",
            vec![(paths::PRODUCT_LIST, get(product::list_products))],
        ))
        .merge(gated(
            app,
            Some(E::Auth),
            "auth",
            vec![
                (paths::AUTH, post(auth::issue_token)),
                (paths::AUTH_ALIAS, post(auth::issue_token_alias)),
            ],
        ))
        .merge(gated(
            app,
            None,
            "admin",
            vec![
                (
                    paths::ADMIN_FAULTS,
                    get(admin::list_faults)
                        .put(admin::arm_fault)
                        .delete(admin::clear_faults),
                ),
                (
                    paths::ADMIN_SIMULATION,
                    get(admin::get_simulation).put(admin::update_simulation),
                ),
            ],
        ))
        .merge(gated(
            app,
            Some(E::SmsSend),
            "sms-send",
            vec![(paths::SMS_SEND, post(sms::send_sms))],
        ))
        .merge(gated(
            app,
            None,
            "admin",
            vec![
                (
                    paths::ADMIN_SMS_OUTBOX,
                    get(sms::read_outbox).delete(sms::clear_outbox),
                ),
                (
                    paths::MOCK_DATAS_BULK,
                    post(mock_data::create_mock_data_bulk),
                ),
            ],
        ))
        .merge(gated(
            app,
            Some(E::MockData),
            "mock-data",
            vec![
                (
                    "/api/v1/kos/mock-datas/customer/product",
                    get(mock_data::get_customer_product),
                ),
                (
                    "/api/v1/mock-datas/customer/product",
                    get(mock_data::get_customer_product_alias),
                ),
                (
                    "/api/v1/kos/mock-datas/customer/bill",
                    get(mock_data::get_customer_bill),
                ),
                (
                    "/api/v1/mock-datas/customer/bill",
                    get(mock_data::get_customer_bill_alias),
                ),
            ],
        ))
        .merge(
            Router::new()
                .route(paths::MOCK_DATAS, post(mock_data::create_mock_data))
                .route(
                    "/api/v1/mock-datas",
                    post(mock_data::create_mock_data_alias),
                )
                .with_state(app.clone()),
        )
}
