-- +goose Up
-- Provider tokens are kept sealed (AES-256-GCM, see store.TokenSealer):
-- sealed_value and sealed_refresh hold the access and refresh token, key_id
-- names the key that sealed both. value and refresh_token keep only
-- plaintext from before this migration (or written by an instance of an
-- older version during an upgrade): a row whose value is not empty is
-- plaintext, the newest of the row, and is sealed (and emptied) when blockd
-- starts or first reads it. Every row holds one or the other.
ALTER TABLE provider_tokens
    ADD COLUMN key_id         text,
    ADD COLUMN sealed_value   bytea,
    ADD COLUMN sealed_refresh bytea,
    ADD CONSTRAINT provider_tokens_sealed_or_plain
        CHECK (value <> '' OR (key_id IS NOT NULL AND sealed_value IS NOT NULL AND sealed_refresh IS NOT NULL));

-- +goose Down
-- SQL cannot open a sealed token: going down drops the sealed rows (a
-- configured BLOCKD_FINNOTECH_TOKEN seeds its row again; other clients'
-- customers must consent again).
DELETE FROM provider_tokens WHERE value = '';
ALTER TABLE provider_tokens
    DROP CONSTRAINT provider_tokens_sealed_or_plain,
    DROP COLUMN key_id, DROP COLUMN sealed_value, DROP COLUMN sealed_refresh;
