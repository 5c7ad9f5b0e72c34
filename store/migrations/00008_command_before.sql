-- +goose Up
-- What the provider's state was before a command's first call, as the
-- provider adapter read it (the card platform's block codes): a later state
-- read is compared with it, so a code that was already there is never taken
-- for this command's effect.
ALTER TABLE commands ADD COLUMN before jsonb;

-- +goose Down
ALTER TABLE commands DROP COLUMN before;
