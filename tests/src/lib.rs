//! Shared helpers live in bench-harness; this crate only holds end-to-end tests.
