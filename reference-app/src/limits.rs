//! Limits on what one request may ask for, each with its reason. Bad input beyond them is a
//! 4xx that names the limit, never a panic or an unbounded allocation.

/// Request bodies above this size get a 413 (a 100 000-row bulk insert fits).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// A stored value (`PUT /store/{key}`, `PUT /redis/{key}`).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Users one `GET /codec/users?count=N` may ask for.
pub const MAX_USERS: usize = 10_000;
/// Rows in one bulk insert.
pub const MAX_ROWS_PER_REQUEST: usize = 100_000;
