-- +goose Up
-- What is known about each provider call, kept for whoever settles its
-- command: NOT_SENT when the worker that recorded the call's intent found
-- it could no longer prove it held the command and so never sent it; the
-- normalised answer of a call that was applied; and an answer that arrived
-- after its worker lost the command (late_*), kept beside the call's
-- recorded state instead of overwriting it. A command whose calls' answers
-- contradict its recorded outcome is flagged for an operator with a reason.
ALTER TABLE provider_calls DROP CONSTRAINT provider_calls_state_check;
ALTER TABLE provider_calls ADD CONSTRAINT provider_calls_state_check
    CHECK (state IN ('SENDING', 'DONE', 'FAILED', 'UNKNOWN', 'NOT_SENT'));
ALTER TABLE provider_calls
    ADD COLUMN answer        jsonb,
    ADD COLUMN evidence      text,
    ADD COLUMN late_state    text CHECK (late_state IN ('DONE', 'FAILED')),
    ADD COLUMN late_answer   jsonb,
    ADD COLUMN late_at       timestamptz;
ALTER TABLE commands ADD COLUMN reconcile_reason text;

-- +goose Down
ALTER TABLE commands DROP COLUMN reconcile_reason;
ALTER TABLE provider_calls
    DROP COLUMN answer, DROP COLUMN evidence, DROP COLUMN late_state, DROP COLUMN late_answer, DROP COLUMN late_at;
ALTER TABLE provider_calls DROP CONSTRAINT provider_calls_state_check;
ALTER TABLE provider_calls ADD CONSTRAINT provider_calls_state_check
    CHECK (state IN ('SENDING', 'DONE', 'FAILED', 'UNKNOWN'));
