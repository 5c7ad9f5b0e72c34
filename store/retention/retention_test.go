package retention_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
	"github.com/blockd/blockd/store/retention"
	"github.com/blockd/blockd/store/storetest"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), storetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func count(t *testing.T, s *store.Store, query string) int {
	t.Helper()
	var n int
	if err := s.DB().Get(&n, query); err != nil {
		t.Fatal(err)
	}
	return n
}

// While rows are queued and published without a pause (a relay that is
// never idle), published rows older than the outbox window are deleted all
// the same, and the outbox stays small.
func TestRetentionPrunesTheOutboxUnderSteadyLoad(t *testing.T) {
	s := openStore(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var queued atomic.Int64
	loadDone := make(chan struct{})
	go func() { // the load: queue a row, publish what is due, again
		defer close(loadDone)
		for i := 0; ctx.Err() == nil; i++ {
			if err := s.Enqueue(ctx, []schemas.Outbound{{Topic: "results", Key: []byte("k" + strconv.Itoa(i%50)), Value: []byte("v")}}); err != nil {
				return
			}
			queued.Add(1)
			_, _ = s.PublishPending(ctx, 100, func(_ context.Context, rows []schemas.OutboxRow) []schemas.OutboxOutcome {
				out := make([]schemas.OutboxOutcome, len(rows))
				for i, r := range rows {
					out[i] = schemas.OutboxOutcome{ID: r.ID, Verdict: schemas.OutboxPublished}
				}
				return out
			})
		}
	}()
	job := retention.New(retention.Config{Outbox: 500 * time.Millisecond, Every: 100 * time.Millisecond, BatchSize: 50},
		s, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	jobDone := make(chan error)
	go func() { jobDone <- job.Run(ctx) }()

	time.Sleep(4 * time.Second)
	stale := count(t, s, `SELECT count(*) FROM outbox WHERE published_at < now() - interval '2 seconds'`)
	total := count(t, s, `SELECT count(*) FROM outbox`)
	stop()
	<-loadDone
	if err := <-jobDone; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if q := queued.Load(); q < 100 {
		t.Fatalf("the load queued only %d rows in 4s; the test proves nothing", q)
	}
	if stale != 0 {
		t.Errorf("got %d rows published more than 2s ago under load, want 0 (the window is 0.5s)", stale)
	}
	if q := queued.Load(); int64(total) > q/2 {
		t.Errorf("the outbox holds %d of the %d rows queued; want most deleted", total, q)
	}
}

// One round deletes every finished command past the window, batch by
// batch, and leaves those within it.
func TestRetentionRoundDeletesEveryBatch(t *testing.T) {
	s := openStore(t)
	if _, err := s.DB().Exec(`
		INSERT INTO commands (track_id, kind, provider, request, request_hash, state, source_topic, source_partition, source_offset, completed_at)
		SELECT 'old-' || i, 'block', 'arhivaar', '{}', '\x00', 'DONE', 'blockd.cmd.block', 0, i, now() - interval '40 days'
		FROM generate_series(1, 2500) i;
		INSERT INTO commands (track_id, kind, provider, request, request_hash, state, source_topic, source_partition, source_offset, completed_at)
		SELECT 'new-' || i, 'block', 'arhivaar', '{}', '\x00', 'DONE', 'blockd.cmd.block', 0, i, now() - interval '29 days'
		FROM generate_series(1, 10) i`); err != nil {
		t.Fatal(err)
	}
	job := retention.New(retention.Config{}, s, zerolog.Nop()) // the defaults: 30 days, batches of 1000
	got, err := job.Round(context.Background())
	if err != nil || got.Commands != 2500 {
		t.Fatalf("Round: got %+v, %v; want the 2500 commands past 30 days", got, err)
	}
	if n := count(t, s, `SELECT count(*) FROM commands`); n != 10 {
		t.Fatalf("got %d commands left, want the 10 within the window", n)
	}
}
