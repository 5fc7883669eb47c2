-- Browser sessions of the web interface. The cookie carries a random secret; only its sha256 is
-- stored. `token_id` names the API token the session was opened with (its revocation ends the
-- session); `name`, `role` and `lanes` are who the session acts as. `csrf` is the session's
-- anti-forgery token, which every form that changes something must carry.
CREATE TABLE sessions (
    id_sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    lanes TEXT NOT NULL DEFAULT '',
    token_id TEXT,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT
);
