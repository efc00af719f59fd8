-- cache: the cache-aside lab's products. No index on category_id, on purpose: a category's
-- summary scans the whole table, the expensive read a cache pays off for. See cache.rs.
CREATE TABLE IF NOT EXISTS cache_products (
    id          INTEGER PRIMARY KEY,
    category_id BIGINT NOT NULL,
    price_cents BIGINT NOT NULL,
    stock       BIGINT NOT NULL,
    -- Writes so far: what tells a stale cached answer from a current one.
    version     BIGINT NOT NULL DEFAULT 0
);
