//! Tests only: cross-crate tests live in `tests/` (the common KOS client against the real KOS
//! mock, which common cannot depend on without a cycle). This library is intentionally empty.
