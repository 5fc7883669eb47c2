-- Content scans of stored files, kept as history: one row per file and scanner version (a newer
-- scanner scanning the file again adds a row). `report_json` is the scanner's report (findings
-- with rule, severity, kind, file, line, excerpt, message); `worst` its most severe finding's
-- severity, NULL when it found nothing; `scanned_at` in microseconds.
CREATE TABLE scans (
    sha256 TEXT NOT NULL,
    scanner TEXT NOT NULL,
    scanned_at BIGINT NOT NULL,
    worst TEXT,
    score BIGINT NOT NULL,
    report_json TEXT NOT NULL,
    PRIMARY KEY (sha256, scanner)
);

-- The latest scan of each stored file, as decisions read it with the file (JSON: scanner and
-- findings, see airlock_types::ScanSummary); NULL: not scanned.
ALTER TABLE artifacts ADD COLUMN scan_json TEXT;
