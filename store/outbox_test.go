package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
)

// pass runs one PublishPending whose verdict on each row is verdicts[its
// value] (published when not named), and returns the values it was given.
func pass(t *testing.T, s *store.Store, verdicts map[string]schemas.OutboxOutcome) []string {
	t.Helper()
	var given []string
	_, err := s.PublishPending(context.Background(), 100, func(_ context.Context, rows []schemas.OutboxRow) []schemas.OutboxOutcome {
		var out []schemas.OutboxOutcome
		for _, r := range rows {
			given = append(given, string(r.Value))
			o, ok := verdicts[string(r.Value)]
			if !ok {
				o.Verdict = schemas.OutboxPublished
			}
			o.ID = r.ID
			out = append(out, o)
		}
		return out
	})
	if err != nil {
		t.Fatalf("PublishPending: %v", err)
	}
	return given
}

func enqueue(t *testing.T, s *store.Store, msgs ...schemas.Outbound) {
	t.Helper()
	if err := s.Enqueue(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
}

// A row set aside, or waiting out a failure, holds back the later rows of
// its own topic and key, and nothing else; a retried set-aside row goes
// first, then the rows it held back.
func TestPublishPendingHoldsBackOnlyTheSameKey(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	msg := func(topic, key, value string) schemas.Outbound {
		var k []byte
		if key != "" {
			k = []byte(key)
		}
		return schemas.Outbound{Topic: topic, Key: k, Value: []byte(value)}
	}
	enqueue(t, s, msg("results", "a", "a1"), msg("results", "b", "b1"), msg("results", "c", "c1"), msg("results", "", "nokey1"))
	enqueue(t, s, msg("results", "a", "a2"), msg("results", "b", "b2"), msg("dlq", "a", "dlq-a1"), msg("results", "", "nokey2"), msg("results", "c", "c2"))

	first := pass(t, s, map[string]schemas.OutboxOutcome{
		"a1":     {Verdict: schemas.OutboxSetAside, Reason: "message too large"},
		"b1":     {Verdict: schemas.OutboxFailed, Reason: "no leader", RetryIn: time.Hour},
		"nokey1": {Verdict: schemas.OutboxFailed, Reason: "no leader", RetryIn: time.Hour},
		"a2":     {Verdict: schemas.OutboxLeft}, // sent beside a1, which was refused
		"b2":     {Verdict: schemas.OutboxLeft},
	})
	if want := []string{"a1", "b1", "c1", "nokey1", "a2", "b2", "dlq-a1", "nokey2", "c2"}; !slices.Equal(first, want) {
		t.Fatalf("first pass: got %v, want %v", first, want)
	}
	if second := pass(t, s, nil); len(second) != 0 {
		t.Fatalf("second pass: got %v, want nothing due (a2 behind the set-aside a1, b2 behind the failing b1)", second)
	}
	if n, err := s.PendingOutbox(ctx); err != nil || n != 4 {
		t.Fatalf("PendingOutbox: got %d, %v; want 4 (b1 and nokey1 waiting out their failures, a2 and b2 held back)", n, err)
	}

	aside, err := s.SetAsideOutbox(ctx, 10)
	if err != nil || len(aside) != 1 {
		t.Fatalf("SetAsideOutbox: got %+v, %v; want a1", aside, err)
	}
	if a := aside[0]; a.Key != "a" || a.Topic != "results" || a.Reason != "message too large" || a.Bytes != 2 || a.HeldBack != 1 {
		t.Fatalf("SetAsideOutbox: got %+v, want a1 on results, 2 bytes, its reason, holding back 1 row", a)
	}
	h, err := s.OutboxHealth(ctx)
	if err != nil || h.Pending != 4 || h.SetAside != 1 || h.OldestPending <= 0 {
		t.Fatalf("OutboxHealth: got %+v, %v; want 4 pending, 1 set aside, an oldest age", h, err)
	}

	if _, err := s.RetrySetAside(ctx, aside[0].ID+1000); !errors.Is(err, store.ErrNotSetAside) {
		t.Fatalf("RetrySetAside of an id not set aside: got %v, want ErrNotSetAside", err)
	}
	if n, err := s.RetrySetAside(ctx, aside[0].ID); err != nil || n != 1 {
		t.Fatalf("RetrySetAside: got %d, %v; want 1", n, err)
	}
	if third := pass(t, s, nil); !slices.Equal(third, []string{"a1", "a2"}) {
		t.Fatalf("after the retry: got %v, want a1 then the row it held back", third)
	}
	if h, err := s.OutboxHealth(ctx); err != nil || h.SetAside != 0 || h.Pending != 3 {
		t.Fatalf("OutboxHealth: got %+v, %v; want b1, nokey1 and b2 still waiting, nothing set aside", h, err)
	}
}
