-- Pull-through proxies: files listed by an upstream become artifacts of the proxy source when first
-- seen (first_seen), with the URL to fetch them from; their bytes arrive on first request. A file
-- the upstream stops listing is kept but delisted. sha256 is '' while the upstream declared none.
ALTER TABLE artifacts ADD COLUMN upstream_url TEXT;
ALTER TABLE artifacts ADD COLUMN delisted_at BIGINT;

-- What the proxy last learned of each upstream project page.
CREATE TABLE proxy_pages (
    source TEXT NOT NULL,
    project TEXT NOT NULL,
    -- 'found' or 'missing' (the upstream answered 404)
    status TEXT NOT NULL,
    checked_at BIGINT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    PRIMARY KEY (source, project)
);
