-- One workshop per data folder: its join code and the teacher's token survive a restart.
CREATE TABLE workshop (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    code TEXT NOT NULL,
    teacher_token TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- A lab the teacher closed takes no more submissions (open unless listed as closed).
CREATE TABLE lab_state (
    lab TEXT PRIMARY KEY,
    open INTEGER NOT NULL
);

CREATE TABLE submission (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The student's own key for this submission: a retry of the same run is not a second row.
    client_id TEXT NOT NULL UNIQUE,
    lab TEXT NOT NULL,
    student TEXT NOT NULL,
    prediction_text TEXT NOT NULL,
    -- The prediction read as a ratio (2, 2x, 1.5×), when it is one.
    prediction REAL,
    -- The headline comparison: the last variant against the first.
    metric TEXT,
    ratio REAL,
    ratio_low REAL,
    ratio_high REAL,
    verdict TEXT,
    status TEXT NOT NULL,
    invalid_reason TEXT,
    machine TEXT NOT NULL,
    report TEXT NOT NULL,
    received_at TEXT NOT NULL
);

CREATE INDEX submission_lab ON submission (lab, id);
