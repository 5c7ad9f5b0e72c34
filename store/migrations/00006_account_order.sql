-- +goose Up
-- Account-state providers (Arhivaar, card) set a state: a command for an
-- account must not be sent while an earlier one for that account has no
-- outcome, or a late re-send could undo a newer command.
CREATE INDEX commands_open_by_account ON commands (provider, (request->>'accountId'), received_at)
    WHERE state IN ('RECEIVED', 'CALLING', 'IN_DOUBT');

-- +goose Down
DROP INDEX commands_open_by_account;
