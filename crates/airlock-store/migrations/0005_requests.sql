-- Requests to admit package versions into a lane, and their decisions.
CREATE TABLE requests (
    id BIGINT PRIMARY KEY,
    lane TEXT NOT NULL,
    requester TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- pending | approved | rejected
    state TEXT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    decision_reason TEXT,
    -- The entries with their findings when requested, and the missing dependencies (JSON).
    body TEXT NOT NULL
);

-- Exact versions a lane admits by approval: append-only, with the instant they were approved
-- (a snapshot before that instant does not have them).
CREATE TABLE approvals (
    lane TEXT NOT NULL,
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    request_id BIGINT NOT NULL,
    approved_by TEXT NOT NULL,
    approved_at BIGINT NOT NULL,
    PRIMARY KEY (lane, ecosystem, name, version)
);
