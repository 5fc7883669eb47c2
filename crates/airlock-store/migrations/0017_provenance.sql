-- PEP 740 provenance of Python files. `provenance_json` is the provenance object served by the
-- Integrity API, as built from an upload's attestations or as a proxy's upstream served it;
-- `sha256` the file it is about (a row serves only while the artifact has these bytes).
-- Stored once, in the transaction that stores the file (an upload) or its bytes (a proxied
-- file's first download): `stored_at` tells a snapshot whether it existed at its instant.
CREATE TABLE provenances (
    source TEXT NOT NULL,
    filename TEXT NOT NULL,
    project TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    provenance_json TEXT NOT NULL,
    stored_at BIGINT NOT NULL,
    PRIMARY KEY (source, filename)
);
CREATE INDEX provenances_project ON provenances (source, project);

-- Where a proxy's upstream links a listed file's provenance (its PEP 691 `provenance`, PEP 503
-- `data-provenance`): fetched with the file.
ALTER TABLE artifacts ADD COLUMN provenance_url TEXT;
