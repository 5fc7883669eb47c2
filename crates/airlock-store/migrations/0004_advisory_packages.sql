-- The packages each advisory version names (`pypi:urllib3`, `cran:commonmark`; names normalised),
-- so that a check of a few hundred packages reads the few advisories that matter instead of all of
-- them. Every stored version has at least one row: `package = ''` when it names none of ours.
-- Versions stored before this table existed get their rows when the service starts.
CREATE TABLE advisory_packages (
    id TEXT NOT NULL,
    modified TEXT NOT NULL,
    learned_at BIGINT NOT NULL,
    package TEXT NOT NULL,
    PRIMARY KEY (id, modified, package)
);
