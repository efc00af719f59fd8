-- The durability lab's writes. On PostgreSQL every option writes here (an option is a set of
-- connection settings); SQLite's options each have their own file, whose table the service
-- creates (journal mode belongs to a file), so there is no SQLite migration for it.
CREATE TABLE durable_writes (
    id BIGSERIAL PRIMARY KEY,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
