//! Shared state of the handlers: configuration, store, simulator, metrics and the product
//! catalogue. Products never change at run time (no endpoint edits them), so the catalogue is
//! loaded once after seeding and served from memory; lines are read through the store's line
//! cache (`store::cached`: exact within this process, entries bounded by a short TTL on
//! PostgreSQL so a change made through another replica shows up within it).

use std::collections::HashMap;
use std::sync::Arc;

use phonebill_common::metrics::IntCounterVec;
use tokio::sync::OnceCell;

use crate::Config;
use crate::domain::Product;
use crate::sim::Simulator;
use crate::store::DynStore;

/// The products, by code and in list order (`monthly_fee` descending, then code).
#[derive(Debug)]
pub struct Catalog {
    by_code: HashMap<String, Product>,
    sorted: Vec<Product>,
}

impl Catalog {
    /// Builds the catalogue.
    pub fn new(mut products: Vec<Product>) -> Self {
        products.sort_by(|a, b| {
            b.monthly_fee
                .cmp(&a.monthly_fee)
                .then_with(|| a.code.cmp(&b.code))
        });
        Self {
            by_code: products
                .iter()
                .map(|p| (p.code.clone(), p.clone()))
                .collect(),
            sorted: products,
        }
    }

    /// A product by code.
    pub fn get(&self, code: &str) -> Option<&Product> {
        self.by_code.get(code)
    }

    /// All products in list order.
    pub fn all(&self) -> &[Product] {
        &self.sorted
    }
}

/// Handler state.
pub struct AppState {
    /// Configuration.
    pub config: Config,
    /// Storage.
    pub store: DynStore,
    /// Simulation, rate limits, faults.
    pub sim: Simulator,
    /// `kos_mock_requests_total`, resolved once: the gate counts every request, and a registry
    /// look-up takes its lock.
    pub requests: IntCounterVec,
    /// Set once the demo data is seeded.
    pub catalog: OnceCell<Arc<Catalog>>,
    /// Verifies user access tokens (available-months when credentials are required).
    pub users: phonebill_common::auth::TokenVerifier,
    /// The SMS stand-in's outbox.
    pub outbox: crate::routes::sms::Outbox,
    /// Failed-credential throttle per client address.
    pub guesses: crate::guesses::GuessThrottle,
}

impl AppState {
    /// The catalogue, or `None` while the service is still starting.
    pub fn catalog(&self) -> Option<Arc<Catalog>> {
        self.catalog.get().cloned()
    }
}
