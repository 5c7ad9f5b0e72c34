-- +goose Up
-- An IN_DOUBT command is resolved by asking the provider; when that cannot
-- answer by a deadline it is answered FAILED/OUTCOME_UNKNOWN and flagged for
-- an operator.
ALTER TABLE commands
    ADD COLUMN in_doubt_since        timestamptz,
    ADD COLUMN needs_reconciliation  boolean NOT NULL DEFAULT false;
CREATE INDEX commands_reconcile ON commands (completed_at) WHERE needs_reconciliation;

-- +goose Down
DROP INDEX commands_reconcile;
ALTER TABLE commands DROP COLUMN in_doubt_since, DROP COLUMN needs_reconciliation;
