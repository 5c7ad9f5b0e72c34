-- +goose Up
-- Provider authorization tokens (Finnotech authorization-code tokens per
-- client), shared by every instance and kept across restarts, so a
-- refreshed token (and its single-use refresh token) is never lost.
-- seeded_from is a hash of the configured token the row was seeded from: a
-- different configured token replaces the row, the same one keeps the
-- refreshed row.
CREATE TABLE provider_tokens (
    provider      text NOT NULL,
    client_id     text NOT NULL,
    value         text NOT NULL,
    refresh_token text NOT NULL DEFAULT '',
    bank          text NOT NULL DEFAULT '',
    scopes        text[] NOT NULL DEFAULT '{}',
    expires_at    timestamptz,
    issued_at     timestamptz,
    seeded_from   bytea,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, client_id)
);

-- +goose Down
DROP TABLE provider_tokens;
