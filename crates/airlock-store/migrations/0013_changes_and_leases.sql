-- What each write changed, for the caches of every server sharing the database: the project
-- `project` of the source `source`, or everything ('*', '*': configuration, advisories,
-- approvals, snapshots). A revision with no row changed nothing a page is built from (tokens,
-- sessions, requests). Old rows are pruned; a server further behind starts its caches afresh.
CREATE TABLE changes (
    revision BIGINT NOT NULL,
    source TEXT NOT NULL,
    project TEXT NOT NULL,
    PRIMARY KEY (revision, source, project)
);

-- Work that one server of several should do at a time (fetching one proxied file, a sweep):
-- `holder` (a server's random id) has it until `until` (microseconds), then anyone may take it.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until BIGINT NOT NULL
);
