-- +goose Up
-- An operator's verdict on a command (blockd resolve): who gave it, when,
-- which ("applied" or "not-applied") and why. It settles an IN_DOUBT
-- command, or clears the needs_reconciliation flag of a finished one
-- (whose one result stands); either way it is kept with the command.
ALTER TABLE commands
    ADD COLUMN reconciled_by     text,
    ADD COLUMN reconciled_at     timestamptz,
    ADD COLUMN reconcile_verdict text CHECK (reconcile_verdict IN ('applied', 'not-applied')),
    ADD COLUMN reconcile_note    text;

-- +goose Down
ALTER TABLE commands DROP COLUMN reconciled_by, DROP COLUMN reconciled_at, DROP COLUMN reconcile_verdict, DROP COLUMN reconcile_note;
