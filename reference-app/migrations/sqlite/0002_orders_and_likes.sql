-- n-plus-one: customers, their orders, the orders' items (generated on first use, see
-- orders.rs). Pages of orders are id ranges (the primary key); items are found by order.
CREATE TABLE IF NOT EXISTS customers (
    id    BIGINT PRIMARY KEY,
    name  TEXT   NOT NULL,
    email TEXT   NOT NULL
);

CREATE TABLE IF NOT EXISTS orders (
    id          BIGINT PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    created_at  BIGINT NOT NULL,
    total_cents BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS order_items (
    id          BIGINT PRIMARY KEY,
    order_id    BIGINT NOT NULL REFERENCES orders (id),
    product     TEXT   NOT NULL,
    quantity    BIGINT NOT NULL,
    price_cents BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS order_items_by_order ON order_items (order_id, id);

-- Which generated data set the tables hold: a changed generator reloads.
CREATE TABLE IF NOT EXISTS datasets (
    name        TEXT   PRIMARY KEY,
    fingerprint TEXT   NOT NULL,
    loaded_ms   BIGINT NOT NULL
);

-- like-counter: a few hot counters incremented concurrently.
CREATE TABLE IF NOT EXISTS like_counters (
    id      BIGINT PRIMARY KEY,
    likes   BIGINT NOT NULL DEFAULT 0,
    -- Optimistic locking: a writer succeeds only if the version it read is still current.
    version BIGINT NOT NULL DEFAULT 0
);
