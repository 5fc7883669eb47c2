-- The lanes a token's role applies to (space-separated names); empty: every lane.
ALTER TABLE tokens ADD COLUMN lanes TEXT NOT NULL DEFAULT '';
