CREATE TABLE IF NOT EXISTS users (
    id         BIGINT PRIMARY KEY,
    name       TEXT   NOT NULL,
    email      TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The database is the last line of defence: the API does not check this, so a bad row
    -- in the middle of a batch shows whether a bulk insert is atomic.
    user_id    BIGINT NOT NULL CHECK (user_id > 0),
    kind       TEXT   NOT NULL,
    payload    TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
