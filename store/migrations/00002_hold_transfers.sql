-- +goose Up
-- A hold's life continues after its unblock: at most one successful
-- unblock-transfer per block/unblock pair, for at most the unblocked amount.
ALTER TABLE holds DROP CONSTRAINT holds_state_check;
ALTER TABLE holds ADD CONSTRAINT holds_state_check
    CHECK (state IN ('BLOCKED', 'UNBLOCKING', 'UNBLOCKED', 'TRANSFERRING', 'TRANSFERRED'));
ALTER TABLE holds
    ADD COLUMN transfer_track_id          text UNIQUE,
    ADD COLUMN transfer_provider_track_id text,
    ADD COLUMN transfer_amount            bigint CHECK (transfer_amount > 0),
    ADD COLUMN transfer_destination       text,
    ADD COLUMN transfer_date              text;
CREATE INDEX holds_unblock ON holds (unblock_track_id);

-- +goose Down
DROP INDEX holds_unblock;
ALTER TABLE holds
    DROP COLUMN transfer_track_id,
    DROP COLUMN transfer_provider_track_id,
    DROP COLUMN transfer_amount,
    DROP COLUMN transfer_destination,
    DROP COLUMN transfer_date;
ALTER TABLE holds DROP CONSTRAINT holds_state_check;
ALTER TABLE holds ADD CONSTRAINT holds_state_check CHECK (state IN ('BLOCKED', 'UNBLOCKING', 'UNBLOCKED'));
