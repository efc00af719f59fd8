//! The processes a run measures or needs: the reference service, and throwaway PostgreSQL and
//! Redis servers. Every one is a child process owned by a [`ChildGuard`], which stops it on
//! drop — on success, on error, on panic — and which the kernel kills if the harness itself
//! dies (`PR_SET_PDEATHSIG`), so no run leaves a server behind.

pub mod link;
pub mod postgres;
mod process;
pub mod redis;
pub mod relay;
pub mod service;

pub use process::{ChildGuard, ServiceError, find_program, free_port};
