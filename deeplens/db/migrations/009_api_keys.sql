-- API keys of machine clients of the results API. Only the sha256 of a key's random secret
-- is stored (the plaintext is shown once, at creation); `prefix` is the key's first
-- characters, to tell keys apart in listings. Every key expires; revoking keeps the row.
CREATE TABLE api_keys (
    id             bigserial   PRIMARY KEY,
    tenant_id      text        NOT NULL,
    name           text        NOT NULL DEFAULT '',
    prefix         text        NOT NULL,
    secret_sha256  text        NOT NULL UNIQUE,
    scopes         text[]      NOT NULL CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'write', 'admin']),
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id);
