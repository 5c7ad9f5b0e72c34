-- +goose Up
-- Which instance recorded the outcome: for operators, and to show that the
-- instances of one consumer group share the work.
ALTER TABLE commands ADD COLUMN completed_by text;

-- +goose Down
ALTER TABLE commands DROP COLUMN completed_by;
