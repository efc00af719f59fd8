-- pagination: a feed of posts, paged newest first (generated on first use, see feed.rs). The
-- index matches the sort key, id included, so a keyset cursor is unique.
CREATE TABLE IF NOT EXISTS feed_posts (
    id         BIGINT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    author_id  BIGINT NOT NULL,
    title      TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS feed_by_time ON feed_posts (created_at, id);
