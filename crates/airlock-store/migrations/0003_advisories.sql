-- OSV advisories as airlock learned them: append-only, one row per (id, modified) version, with the
-- time airlock learned that version (snapshots answer "what did we know at T").
CREATE TABLE advisories (
    id TEXT NOT NULL,
    modified TEXT NOT NULL,
    learned_at BIGINT NOT NULL,
    origin TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (id, modified)
);
