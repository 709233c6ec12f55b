//! Pure rules of the product-change service: the wire product object, the pre-checks of docs/api.md §4.5,
//! contract figures, request ids, request hashing for idempotency, what a KOS answer to a change
//! means (§4.6, [`outcome`]) and the reconciliation give-up rule. No I/O here; everything is
//! unit-tested.

pub mod checks;
pub mod model;
pub mod outcome;

pub use checks::{CheckResult, CheckType, ValidationDetail, ValidationOutcome, run_checks};
pub use model::*;
pub use outcome::{ChangeOutcome, Refusal, change_outcome, given_up};
