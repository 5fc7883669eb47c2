-- Personal API tokens: `owner` names the user a token was made by and for (a token made with
-- `airlock token create` has none: ''). A personal token acts as its owner, so the audit log names
-- the person. Token names are unique among one owner's active tokens.
ALTER TABLE tokens ADD COLUMN owner TEXT NOT NULL DEFAULT '';
DROP INDEX tokens_active_name;
CREATE UNIQUE INDEX tokens_active_owner_name ON tokens (owner, name) WHERE revoked_at IS NULL;
CREATE INDEX tokens_owner ON tokens (owner);

-- Webhook deliveries: one row per event and receiver, updated after each attempt. `state` is
-- `pending` (attempts left), `delivered` (a 2xx answer) or `failed` (no attempt left).
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_status BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);
