//! Pure rules of the product-change service: the wire product object, the pre-checks of docs/api.md §4.5,
//! contract figures, request ids, request hashing for idempotency, and the reconciliation
//! decision of docs/api.md §4.6. No I/O here; everything is unit-tested.

pub mod checks;
pub mod model;

pub use checks::{CheckResult, CheckType, ValidationDetail, ValidationOutcome, run_checks};
pub use model::*;
