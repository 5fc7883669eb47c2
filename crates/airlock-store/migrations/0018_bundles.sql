-- Bundles imported into a bundle source (`airlock bundle import`): which, of what instant, signed
-- by which key, so that a bundle already imported, an older one, or an incremental one whose base
-- was not imported is refused (replay). `at` is the bundle's instant on the exporting side;
-- `imported_at` the instant its content was listed here (and its snapshot's instant).
CREATE TABLE bundle_imports (
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    at BIGINT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    previous_id TEXT,
    lane TEXT NOT NULL,
    signing_key TEXT NOT NULL,
    imported_at BIGINT NOT NULL,
    imported_by TEXT NOT NULL,
    PRIMARY KEY (source, id)
);
