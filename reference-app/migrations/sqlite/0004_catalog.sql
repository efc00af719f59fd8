-- index: the same products in four tables that differ only in their secondary indexes, so a
-- variant switch is a table switch (no index is built while a lab runs). See catalog.rs.
CREATE TABLE IF NOT EXISTS catalog_plain (
    id          INTEGER PRIMARY KEY,
    category_id BIGINT NOT NULL,
    price_cents BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    name        TEXT   NOT NULL
);
CREATE TABLE IF NOT EXISTS catalog_by_category (
    id          INTEGER PRIMARY KEY,
    category_id BIGINT NOT NULL,
    price_cents BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    name        TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS catalog_by_category_category ON catalog_by_category (category_id);
CREATE TABLE IF NOT EXISTS catalog_composite (
    id          INTEGER PRIMARY KEY,
    category_id BIGINT NOT NULL,
    price_cents BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    name        TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS catalog_composite_newest ON catalog_composite (category_id, created_at, id);
CREATE TABLE IF NOT EXISTS catalog_three (
    id          INTEGER PRIMARY KEY,
    category_id BIGINT NOT NULL,
    price_cents BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    name        TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS catalog_three_newest ON catalog_three (category_id, created_at, id);
CREATE INDEX IF NOT EXISTS catalog_three_price ON catalog_three (price_cents);
CREATE INDEX IF NOT EXISTS catalog_three_name ON catalog_three (name);
