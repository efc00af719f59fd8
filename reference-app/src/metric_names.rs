//! Every metric name in one place, so the code, the harness and the lab guides agree.

pub const HTTP_REQUESTS: &str = "http_requests_total";
pub const HTTP_DURATION: &str = "http_request_duration_seconds";
pub const HTTP_IN_FLIGHT: &str = "http_requests_in_flight";

pub const STORE_LOCK_ACQUISITIONS: &str = "store_lock_acquisitions_total";
pub const STORE_LOCK_WAIT_NS: &str = "store_lock_wait_nanoseconds_total";
/// PUTs refused because the variant's map was full.
pub const STORE_REJECTED: &str = "store_rejected_total";

pub const DB_STATEMENTS: &str = "db_statements_total";
pub const DB_COMMITS: &str = "db_commits_total";
pub const DB_ROWS_INSERTED: &str = "db_rows_inserted_total";
pub const DB_CONNECTIONS_OPENED: &str = "db_connections_opened_total";
pub const DB_POOL_ACQUIRES: &str = "db_pool_acquires_total";
pub const DB_POOL_ACQUIRE_WAIT_NS: &str = "db_pool_acquire_wait_nanoseconds_total";
/// Rows the `orders` queries got back (a JOIN repeats the parent's columns on every child row).
pub const DB_ROWS_FETCHED: &str = "db_rows_fetched_total";
/// The `orders` DataLoader: statements it sent, and the lookups they answered.
pub const DATALOADER_BATCHES: &str = "dataloader_batches_total";
pub const DATALOADER_KEYS: &str = "dataloader_keys_total";
/// The feed (`pagination`): rows a page makes the database read (OFFSET's skipped rows too).
pub const FEED_ROWS_WALKED: &str = "feed_rows_walked_total";
/// `durability`: time spent in the committing INSERT (the commit's wait for the disk).
pub const DURABILITY_COMMIT_NS: &str = "durability_commit_nanoseconds_total";

/// The cache lab (`cache`): where reads were answered, and what caching cost.
pub const CACHE_LOCAL_HITS: &str = "cache_local_hits_total";
pub const CACHE_REDIS_HITS: &str = "cache_redis_hits_total";
/// Reads answered by the database (every read of `no-cache`).
pub const CACHE_MISSES: &str = "cache_misses_total";
/// Misses that waited for a concurrent request's load instead of querying (single flight).
pub const CACHE_COALESCED: &str = "cache_coalesced_total";
pub const CACHE_REDIS_ROUND_TRIPS: &str = "cache_redis_round_trips_total";
/// Cached answers served although a write had changed them since they were loaded.
pub const CACHE_STALE_READS: &str = "cache_stale_reads_total";
pub const CACHE_INVALIDATIONS: &str = "cache_invalidations_total";

/// `blocking`: calls made, time blocking work held a worker thread, time waiting for a
/// permit of the bounded pool, and the runtime's own busy time of its workers.
pub const BLOCKING_WORK: &str = "blocking_work_total";
pub const BLOCKING_ON_WORKER_NS: &str = "blocking_on_worker_nanoseconds_total";
pub const BLOCKING_PERMIT_WAIT_NS: &str = "blocking_permit_wait_nanoseconds_total";
pub const TOKIO_WORKER_BUSY_NS: &str = "tokio_worker_busy_nanoseconds_total";

/// `parallelism`: requests, chunks computed, and the wall time of the serial and the split
/// phase of each request.
pub const PARALLEL_REQUESTS: &str = "parallel_requests_total";
pub const PARALLEL_CHUNKS: &str = "parallel_chunks_total";
pub const PARALLEL_SERIAL_NS: &str = "parallel_serial_nanoseconds_total";
pub const PARALLEL_SPLIT_NS: &str = "parallel_split_nanoseconds_total";

/// `pool-sizing`: queries, time waiting for a permit and a connection, time in the database.
pub const POOL_SIZING_QUERIES: &str = "pool_sizing_queries_total";
pub const POOL_SIZING_WAIT_NS: &str = "pool_sizing_wait_nanoseconds_total";
pub const POOL_SIZING_IN_DATABASE_NS: &str = "pool_sizing_in_database_nanoseconds_total";

/// `resilience`: requests, calls made to the flaky upstream (per request: the call
/// amplification), timeouts, retries, requests that failed all the same, the breaker's
/// refusals and openings, the bulkhead's refusals, and time a database connection was held
/// across the upstream call.
pub const RESILIENCE_REQUESTS: &str = "resilience_requests_total";
pub const RESILIENCE_UPSTREAM_CALLS: &str = "resilience_upstream_calls_total";
pub const RESILIENCE_TIMEOUTS: &str = "resilience_timeouts_total";
pub const RESILIENCE_RETRIES: &str = "resilience_retries_total";
pub const RESILIENCE_FAILED: &str = "resilience_failed_total";
pub const RESILIENCE_BREAKER_REJECTIONS: &str = "resilience_breaker_rejections_total";
pub const RESILIENCE_BREAKER_OPENED: &str = "resilience_breaker_opened_total";
pub const RESILIENCE_BULKHEAD_REJECTIONS: &str = "resilience_bulkhead_rejections_total";
pub const RESILIENCE_DB_HELD_NS: &str = "resilience_db_held_nanoseconds_total";
/// Calls the flaky upstream received: its side of the amplification.
pub const FLAKY_REQUESTS: &str = "upstream_flaky_requests_total";

/// `compression`: responses the policy compressed or let through, and their bytes before
/// compression (the load generator counts them after).
pub const COMPRESSION_COMPRESSED: &str = "compression_compressed_total";
pub const COMPRESSION_SKIPPED: &str = "compression_skipped_total";
pub const COMPRESSION_BODY_BYTES: &str = "compression_body_bytes_total";

pub const HTTP_CLIENTS_BUILT: &str = "upstream_http_clients_built_total";
pub const UPSTREAM_REQUESTS: &str = "upstream_requests_total";
pub const UPSTREAM_TCP_CONNECTIONS: &str = "upstream_tcp_connections_total";
pub const UPSTREAM_TLS_HANDSHAKES: &str = "upstream_tls_handshakes_total";
/// Prices the upstream answered (one per `/quote` call, N per batch call).
pub const UPSTREAM_QUOTES_SERVED: &str = "upstream_quotes_served_total";

/// `batch-calls`: baskets priced, and the upstream calls made for them (per basket: the
/// round trips).
pub const BATCH_BASKETS: &str = "batch_baskets_total";
pub const BATCH_UPSTREAM_CALLS: &str = "batch_upstream_calls_total";

/// The like counter (`likes`): increments answered 200, optimistic retries, time waiting for
/// the lock, and acknowledged increments that are not stored: a correctness counter (perflab
/// fails any variant with a `*_violations_total`).
pub const LIKES_ACKNOWLEDGED: &str = "likes_acknowledged_total";
pub const LIKES_RETRIES: &str = "likes_retries_total";
pub const LIKES_LOCK_WAIT_NS: &str = "likes_lock_wait_nanoseconds_total";
pub const LIKES_LOST_UPDATES: &str = "likes_lost_update_violations_total";

pub const REDIS_CONNECTIONS_OPENED: &str = "redis_connections_opened_total";
pub const REDIS_COMMANDS: &str = "redis_commands_total";

pub const CODEC_RESPONSES: &str = "codec_responses_total";
pub const CODEC_BYTES_ENCODED: &str = "codec_bytes_encoded_total";
pub const CODEC_BYTES_DECODED: &str = "codec_bytes_decoded_total";
pub const CODEC_ENCODE_NS: &str = "codec_encode_nanoseconds_total";

/// The service measuring itself (`introspect`): heap allocations, CPU time, context switches.
pub const ALLOCATIONS: &str = "allocations_total";
pub const ALLOCATED_BYTES: &str = "allocated_bytes_total";
pub const PROCESS_CPU_USER_NS: &str = "process_cpu_user_nanoseconds_total";
pub const PROCESS_CPU_SYSTEM_NS: &str = "process_cpu_system_nanoseconds_total";
pub const PROCESS_VOLUNTARY_SWITCHES: &str = "process_voluntary_context_switches_total";
pub const PROCESS_INVOLUNTARY_SWITCHES: &str = "process_involuntary_context_switches_total";

/// Unlabelled counters, registered at start so that a scrape always lists them (a missing
/// counter and a zero counter should read the same to a person).
pub const UNLABELLED_COUNTERS: &[&str] = &[
    STORE_LOCK_ACQUISITIONS,
    STORE_LOCK_WAIT_NS,
    STORE_REJECTED,
    DB_STATEMENTS,
    DB_COMMITS,
    DB_ROWS_INSERTED,
    DB_CONNECTIONS_OPENED,
    DB_POOL_ACQUIRES,
    DB_POOL_ACQUIRE_WAIT_NS,
    DB_ROWS_FETCHED,
    DATALOADER_BATCHES,
    DATALOADER_KEYS,
    FEED_ROWS_WALKED,
    DURABILITY_COMMIT_NS,
    CACHE_LOCAL_HITS,
    CACHE_REDIS_HITS,
    CACHE_MISSES,
    CACHE_COALESCED,
    CACHE_REDIS_ROUND_TRIPS,
    CACHE_STALE_READS,
    CACHE_INVALIDATIONS,
    BLOCKING_WORK,
    BLOCKING_ON_WORKER_NS,
    BLOCKING_PERMIT_WAIT_NS,
    PARALLEL_REQUESTS,
    PARALLEL_CHUNKS,
    PARALLEL_SERIAL_NS,
    PARALLEL_SPLIT_NS,
    POOL_SIZING_QUERIES,
    POOL_SIZING_WAIT_NS,
    POOL_SIZING_IN_DATABASE_NS,
    RESILIENCE_REQUESTS,
    RESILIENCE_UPSTREAM_CALLS,
    RESILIENCE_TIMEOUTS,
    RESILIENCE_RETRIES,
    RESILIENCE_FAILED,
    RESILIENCE_BREAKER_REJECTIONS,
    RESILIENCE_BREAKER_OPENED,
    RESILIENCE_BULKHEAD_REJECTIONS,
    RESILIENCE_DB_HELD_NS,
    FLAKY_REQUESTS,
    COMPRESSION_COMPRESSED,
    COMPRESSION_SKIPPED,
    COMPRESSION_BODY_BYTES,
    HTTP_CLIENTS_BUILT,
    UPSTREAM_REQUESTS,
    UPSTREAM_TCP_CONNECTIONS,
    UPSTREAM_TLS_HANDSHAKES,
    UPSTREAM_QUOTES_SERVED,
    BATCH_BASKETS,
    BATCH_UPSTREAM_CALLS,
    REDIS_CONNECTIONS_OPENED,
    REDIS_COMMANDS,
    LIKES_ACKNOWLEDGED,
    LIKES_RETRIES,
    LIKES_LOCK_WAIT_NS,
    LIKES_LOST_UPDATES,
];
