-- +goose Up
-- The relay records what became of each outbox row it could not publish:
-- a failure that may pass (attempts, retry_at: not tried again before it,
-- failing_since: its first such failure, last_error), or a refusal for good (set_aside_at, set_aside_reason: the
-- row is no longer tried, and the later rows of its key on its topic wait
-- behind it until an operator retries it). A row waits only behind earlier
-- rows of its own topic and key, so one bad row never stops the others.
ALTER TABLE outbox
    ADD COLUMN attempts         int NOT NULL DEFAULT 0,
    ADD COLUMN retry_at         timestamptz,
    ADD COLUMN failing_since    timestamptz,
    ADD COLUMN last_error       text,
    ADD COLUMN set_aside_at     timestamptz,
    ADD COLUMN set_aside_reason text;
DROP INDEX outbox_pending;
-- The rows the relay may take, oldest first.
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL AND set_aside_at IS NULL;
-- The earlier unpublished rows of a row's topic and key (what it waits
-- behind), and whether a command's result still waits to be published.
CREATE INDEX outbox_pending_key ON outbox (topic, key, id) WHERE published_at IS NULL;
CREATE INDEX outbox_set_aside ON outbox (id) WHERE set_aside_at IS NOT NULL AND published_at IS NULL;
-- When the first row waiting out a failure is due again.
CREATE INDEX outbox_retry ON outbox (retry_at) WHERE published_at IS NULL AND set_aside_at IS NULL AND retry_at IS NOT NULL;
-- Retention deletes published rows oldest first, in bounded batches.
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Retention: finished commands that no later command can need, oldest
-- first. A finnotech block, unblock or transfer that is DONE belongs to a
-- hold in the ledger and goes only with it (holds_finished).
CREATE INDEX commands_finished ON commands (completed_at)
    WHERE state IN ('DONE', 'FAILED', 'REJECTED') AND NOT needs_reconciliation
      AND NOT (provider = 'finnotech' AND state = 'DONE' AND kind IN ('block', 'unblock', 'transfer'));
CREATE INDEX holds_finished ON holds (updated_at) WHERE state = 'TRANSFERRED';

-- +goose Down
DROP INDEX holds_finished;
DROP INDEX commands_finished;
DROP INDEX outbox_published;
DROP INDEX outbox_retry;
DROP INDEX outbox_set_aside;
DROP INDEX outbox_pending_key;
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;
ALTER TABLE outbox
    DROP COLUMN attempts, DROP COLUMN retry_at, DROP COLUMN failing_since, DROP COLUMN last_error,
    DROP COLUMN set_aside_at, DROP COLUMN set_aside_reason;
