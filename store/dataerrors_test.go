package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
)

// TestDataErrorsAreToldFromOutages: what PostgreSQL refuses because of the
// data it was given (SQLSTATE classes 22 and 23, and 54: a program limit
// the data ran into) is a data error: retrying it can never succeed, so the
// caller must not treat it as an outage. A unique violation (a race the
// retry settles), serialization failures, deadlocks, an administrator's
// shutdown, a closed pool and a cancelled context are not. A data error's
// text names the SQLSTATE, never the value PostgreSQL quoted.
func TestDataErrorsAreToldFromOutages(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	// Every outbox row whose topic is "raise-<SQLSTATE>" is refused with
	// that SQLSTATE, by a real PostgreSQL trigger, quoting a national id.
	if _, err := s.DB().Exec(`
		CREATE FUNCTION refuse_for_test() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.topic LIKE 'raise-%' THEN
				RAISE EXCEPTION 'refusing value 0071331951' USING ERRCODE = substr(NEW.topic, 7);
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER refuse_for_test BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_for_test();`); err != nil {
		t.Fatal(err)
	}
	msg := func(topic string) schemas.Outbound {
		return schemas.Outbound{Topic: topic, Key: []byte("k"), Value: []byte("v"), Headers: map[string]string{}}
	}
	raised := func(sqlstate string) func() error {
		return func() error { return s.Enqueue(ctx, []schemas.Outbound{msg("raise-" + sqlstate)}) }
	}
	receive := func(cmd schemas.Command, traceparent string) func() error {
		return func() error {
			_, err := s.Receive(ctx, cmd, schemas.SourceMeta{Topic: "blockd.cmd.block", Traceparent: traceparent}, "me", time.Minute, notLocal)
			return err
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name     string
		do       func() error
		wantData bool
	}{
		{"NUL in a command (jsonb, 22P05)", receive(schemas.Command{Kind: schemas.KindBlock, TrackID: "n1", Provider: schemas.ProviderArhivaar, AccountID: "a", Note: "court\x00order"}, ""), true},
		{"NUL in a traceparent (text, 22021)", receive(block("n2", 1), "00-\x00"), true},
		{"0xff in a traceparent (text, 22021)", receive(block("n3", 1), "00-\xff"), true},
		{"NUL in a header (jsonb, 22P05)", func() error {
			m := msg("blockd.dlq")
			m.Headers["h"] = "a\x00b"
			return s.Enqueue(ctx, []schemas.Outbound{m})
		}, true},
		{"no value (NOT NULL, 23502)", func() error {
			m := msg("blockd.dlq")
			m.Value = nil
			return s.Enqueue(ctx, []schemas.Outbound{m})
		}, true},
		{"numeric value out of range", raised("22003"), true},
		{"check violation", raised("23514"), true},
		{"program limit exceeded", raised("54000"), true},
		{"unique violation", raised("23505"), false},
		{"serialization failure", raised("40001"), false},
		{"deadlock", raised("40P01"), false},
		{"admin shutdown", raised("57P01"), false},
		{"undefined table", raised("42P01"), false},
		{"cancelled context", func() error { return s.Enqueue(cancelled, []schemas.Outbound{msg("blockd.dlq")}) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if err == nil {
				t.Fatal("got nil error, want PostgreSQL to refuse")
			}
			t.Logf("%v", err)
			if got := store.IsDataError(err); got != tt.wantData {
				t.Fatalf("IsDataError(%v) = %v, want %v", err, got, tt.wantData)
			}
			if got := errors.Is(err, schemas.ErrUnstorable); got != tt.wantData {
				t.Fatalf("errors.Is(%v, schemas.ErrUnstorable) = %v, want %v", err, got, tt.wantData)
			}
			if tt.wantData && (strings.Contains(err.Error(), "0071331951") || !strings.Contains(err.Error(), "SQLSTATE")) {
				t.Fatalf("data error %q quotes the value or lacks its SQLSTATE", err)
			}
		})
	}
	t.Run("closed pool", func(t *testing.T) {
		closed := openStore(t)
		closed.Close()
		err := closed.Enqueue(ctx, []schemas.Outbound{msg("blockd.dlq")})
		if err == nil || store.IsDataError(err) {
			t.Fatalf("got %v, want an error that is not a data error", err)
		}
	})
}
