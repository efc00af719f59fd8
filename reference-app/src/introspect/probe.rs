//! Endpoints with a known cost, so that the service's self-measurement can be checked from
//! outside: `GET /probe/cpu?us=N` burns N µs of CPU in one named function
//! ([`burn_cpu_in_probe`], which a profile must find), and `GET /probe/allocations?count=K`
//! makes exactly K heap allocations and says how many the allocator counted.

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::Query;
use serde::{Deserialize, Serialize};

use super::alloc;
use crate::error::{ApiError, ApiResult};

/// Upper bounds: a probe is a measuring stick, not a way to tie up a worker.
pub const MAX_CPU_US: u64 = 50_000;
pub const MAX_ALLOCATIONS: u64 = 1_000_000;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CpuQuery {
    /// µs of CPU to burn, 0–50000.
    pub us: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CpuBurned {
    pub us: u64,
}

#[utoipa::path(get, path = "/probe/cpu", tag = "probe", params(CpuQuery),
    responses((status = 200, body = CpuBurned), (status = 400, body = crate::error::ErrorBody)))]
pub async fn cpu(
    query: Result<Query<CpuQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<CpuBurned>> {
    let Query(CpuQuery { us }) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if us > MAX_CPU_US {
        return Err(ApiError::BadRequest(format!(
            "us must be at most {MAX_CPU_US}"
        )));
    }
    burn_cpu_in_probe(Duration::from_micros(us));
    Ok(Json(CpuBurned { us }))
}

/// Spins for `d`. Never inlined, so that it is one frame a profile can find by name.
#[inline(never)]
pub fn burn_cpu_in_probe(d: Duration) {
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < d {
        for i in 0..64u64 {
            x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
        }
    }
    black_box(x);
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AllocationsQuery {
    /// Heap allocations to make, 0–500000.
    pub count: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AllocationsCounted {
    /// Allocations asked for.
    pub count: u64,
    /// What the counting allocator saw on this thread while they were made (zero when the
    /// binary was built without it).
    pub counted: alloc::Counts,
}

#[utoipa::path(get, path = "/probe/allocations", tag = "probe", params(AllocationsQuery),
    responses((status = 200, body = AllocationsCounted), (status = 400, body = crate::error::ErrorBody)))]
pub async fn allocations(
    query: Result<Query<AllocationsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<AllocationsCounted>> {
    let Query(AllocationsQuery { count }) =
        query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if count > MAX_ALLOCATIONS {
        return Err(ApiError::BadRequest(format!(
            "count must be at most {MAX_ALLOCATIONS}"
        )));
    }
    // No `.await` between the readings: the thread's counts are this loop's alone.
    let before = alloc::this_thread();
    for i in 0..count {
        // Each box is 8 bytes, allocated and freed; black_box keeps it from being optimised out.
        drop(black_box(Box::new(i)));
    }
    let counted = alloc::this_thread().since(before);
    Ok(Json(AllocationsCounted { count, counted }))
}
