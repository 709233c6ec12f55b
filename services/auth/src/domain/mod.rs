//! Pure rules of the auth service (no I/O): input validation with the docs/api.md §2.3/2.8 messages,
//! the password policy (2.14), the lockout rule (2.3), the registration messages (2.8.1), refresh-token format (2.4) and the user
//! status shown to clients (2.10).

pub mod lockout;
pub mod messages;
pub mod refresh;
pub mod validation;

pub use lockout::{LockState, lock_state};
pub use refresh::RefreshToken;
