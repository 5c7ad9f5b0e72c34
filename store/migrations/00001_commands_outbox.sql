-- +goose Up
-- One row per command, keyed by the upstream trackId. Each phase of a
-- command's life is committed here before the next step is taken.
CREATE TABLE commands (
    track_id         text PRIMARY KEY,
    kind             text NOT NULL,
    provider         text NOT NULL,
    request          jsonb NOT NULL,
    request_hash     bytea NOT NULL,
    state            text NOT NULL CHECK (state IN ('RECEIVED', 'CALLING', 'IN_DOUBT', 'DONE', 'FAILED', 'REJECTED')),
    attempts         int NOT NULL DEFAULT 0,
    -- owner: the instance working on the command; claim: that instance's
    -- token for this one piece of work; lease_until: when others may take over.
    owner            text,
    claim            uuid,
    lease_until      timestamptz,
    in_doubt_reason  text,
    event_id         uuid,
    -- the result event as published: topic, value and headers
    result_topic     text,
    result           bytea,
    result_headers   jsonb,
    traceparent      text,
    source_topic     text NOT NULL,
    source_partition int NOT NULL,
    source_offset    bigint NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz
);
CREATE INDEX commands_open ON commands (lease_until) WHERE state IN ('RECEIVED', 'CALLING');
CREATE INDEX commands_in_doubt ON commands (updated_at) WHERE state = 'IN_DOUBT';

-- One row per provider call attempt, written before the call is sent. Its
-- provider_track_id is what a later status inquiry asks about.
CREATE TABLE provider_calls (
    provider_track_id text PRIMARY KEY,
    track_id          text NOT NULL REFERENCES commands (track_id),
    attempt           int NOT NULL,
    state             text NOT NULL CHECK (state IN ('SENDING', 'DONE', 'FAILED', 'UNKNOWN')),
    error_code        text,
    http_status       int,
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    UNIQUE (track_id, attempt)
);

-- The holds ledger: the life of each successful money block.
CREATE TABLE holds (
    block_track_id            text PRIMARY KEY REFERENCES commands (track_id),
    provider                  text NOT NULL,
    client_id                 text NOT NULL DEFAULT '',
    deposit                   text NOT NULL DEFAULT '',
    amount                    bigint NOT NULL CHECK (amount > 0),
    description               text NOT NULL DEFAULT '',
    days                      int NOT NULL DEFAULT 0,
    block_date                text NOT NULL DEFAULT '',
    block_provider_track_id   text NOT NULL,
    state                     text NOT NULL CHECK (state IN ('BLOCKED', 'UNBLOCKING', 'UNBLOCKED')),
    unblock_track_id          text UNIQUE,
    unblock_provider_track_id text,
    unblock_date              text,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);

-- Messages waiting for the relay: result events and dead letters, written in
-- the same transaction as the state they report.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    topic        text NOT NULL,
    key          bytea,
    value        bytea NOT NULL,
    headers      jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;

-- +goose Down
DROP TABLE outbox;
DROP TABLE holds;
DROP TABLE provider_calls;
DROP TABLE commands;
