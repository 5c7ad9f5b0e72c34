package store_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
)

// ledger writes rows straight into the tables, as blockd leaves them.
type ledger struct {
	t *testing.T
	s *store.Store
}

// command stores a command in state, its phases done age ago, with one
// provider call, and (finished) its result published.
func (l ledger) command(trackID, kind, provider, state string, age time.Duration, reconcile bool) {
	l.t.Helper()
	_, err := l.s.DB().Exec(`
		INSERT INTO commands (track_id, kind, provider, request, request_hash, state, source_topic, source_partition, source_offset,
		                      received_at, updated_at, completed_at, needs_reconciliation, result_topic, result, result_headers)
		VALUES ($1, $2, $3, '{}', '\x00', $4, 'blockd.cmd.'||$2, 0, 0, now() - $5 * interval '1 second', now() - $5 * interval '1 second',
		        CASE WHEN $4 IN ('DONE', 'FAILED', 'REJECTED') THEN now() - $5 * interval '1 second' END, $6,
		        'results', '{}', '{}')`,
		trackID, kind, provider, state, age.Seconds(), reconcile)
	if err != nil {
		l.t.Fatalf("storing command %s: %v", trackID, err)
	}
	if _, err := l.s.DB().Exec(`INSERT INTO provider_calls (provider_track_id, track_id, attempt, state) VALUES ($1 || '-call', $1, 1, 'DONE')`, trackID); err != nil {
		l.t.Fatalf("storing call of %s: %v", trackID, err)
	}
}

// hold stores a Finnotech hold in state, last changed age ago.
func (l ledger) hold(block, unblock, transfer, state string, age time.Duration) {
	l.t.Helper()
	_, err := l.s.DB().Exec(`
		INSERT INTO holds (block_track_id, provider, amount, block_provider_track_id, state, unblock_track_id, transfer_track_id, updated_at)
		VALUES ($1, 'finnotech', 100, $1 || '-call', $2, NULLIF($3, ''), NULLIF($4, ''), now() - $5 * interval '1 second')`,
		block, state, unblock, transfer, age.Seconds())
	if err != nil {
		l.t.Fatalf("storing hold of %s: %v", block, err)
	}
}

// pendingResult queues a result for trackID that is not published yet.
func (l ledger) pendingResult(trackID string) {
	l.t.Helper()
	if err := l.s.Enqueue(context.Background(), []schemas.Outbound{{Topic: "results", Key: []byte(trackID), Value: []byte("{}")}}); err != nil {
		l.t.Fatal(err)
	}
}

func (l ledger) column(query string) []string {
	l.t.Helper()
	var out []string
	if err := l.s.DB().Select(&out, query); err != nil {
		l.t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// What retention forgets and what it keeps, one case per trackId prefix:
// a command finished before the window goes with its calls, unless a hold
// names it, an operator must look at it, or its result is still to be
// published; a hold goes only once transferred, with its three commands.
func TestPruneFinishedForgetsOnlyWhatNothingNeeds(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	l := ledger{t, s}
	const keep = time.Hour
	old, recent := 2*time.Hour, 10*time.Minute

	tests := []struct {
		name   string
		setup  func()
		pruned []string // commands deleted, with their calls
		kept   []string // commands kept, with their calls
	}{
		{"a rejected command before the window", func() {
			l.command("rejected-old", "block", "arhivaar", "REJECTED", old, false)
		}, []string{"rejected-old"}, nil},
		{"a command finished within the window", func() {
			l.command("done-recent", "block", "arhivaar", "DONE", recent, false)
		}, nil, []string{"done-recent"}},
		{"a failed Finnotech block (no hold)", func() {
			l.command("failed-block", "block", "finnotech", "FAILED", old, false)
		}, []string{"failed-block"}, nil},
		{"a card block, done (no ledger: a later unblock naming it is answered BLOCK_NOT_FOUND)", func() {
			l.command("card-done", "block", "card", "DONE", old, false)
		}, []string{"card-done"}, nil},
		{"a Finnotech inquiry", func() {
			l.command("inquiry-done", "inquiry", "finnotech", "DONE", old, false)
		}, []string{"inquiry-done"}, nil},
		{"a command still in doubt", func() {
			l.command("in-doubt", "block", "finnotech", "IN_DOUBT", old, false)
		}, nil, []string{"in-doubt"}},
		{"a command an operator must reconcile", func() {
			l.command("reconcile", "block", "arhivaar", "FAILED", old, true)
		}, nil, []string{"reconcile"}},
		{"a command whose result is not published yet", func() {
			l.command("unpublished", "block", "arhivaar", "DONE", old, false)
			l.pendingResult("unpublished")
		}, nil, []string{"unpublished"}},
		{"a hold still blocked", func() {
			l.command("blocked-b", "block", "finnotech", "DONE", old, false)
			l.hold("blocked-b", "", "", "BLOCKED", old)
		}, nil, []string{"blocked-b"}},
		{"a hold being unblocked", func() {
			l.command("unblocking-b", "block", "finnotech", "DONE", old, false)
			l.command("unblocking-u", "unblock", "finnotech", "CALLING", old, false)
			l.hold("unblocking-b", "unblocking-u", "", "UNBLOCKING", old)
		}, nil, []string{"unblocking-b", "unblocking-u"}},
		{"a hold unblocked, not transferred (a transfer may still name the unblock)", func() {
			l.command("unblocked-b", "block", "finnotech", "DONE", old, false)
			l.command("unblocked-u", "unblock", "finnotech", "DONE", old, false)
			l.hold("unblocked-b", "unblocked-u", "", "UNBLOCKED", old)
		}, nil, []string{"unblocked-b", "unblocked-u"}},
		{"a hold being transferred", func() {
			l.command("transferring-b", "block", "finnotech", "DONE", old, false)
			l.command("transferring-u", "unblock", "finnotech", "DONE", old, false)
			l.command("transferring-t", "transfer", "finnotech", "CALLING", old, false)
			l.hold("transferring-b", "transferring-u", "transferring-t", "TRANSFERRING", old)
		}, nil, []string{"transferring-b", "transferring-u", "transferring-t"}},
		{"a hold transferred before the window", func() {
			l.command("transferred-b", "block", "finnotech", "DONE", old, false)
			l.command("transferred-u", "unblock", "finnotech", "DONE", old, false)
			l.command("transferred-t", "transfer", "finnotech", "DONE", old, false)
			l.hold("transferred-b", "transferred-u", "transferred-t", "TRANSFERRED", old)
		}, []string{"transferred-b", "transferred-u", "transferred-t"}, nil},
		{"a hold transferred within the window", func() {
			l.command("fresh-b", "block", "finnotech", "DONE", old, false)
			l.command("fresh-u", "unblock", "finnotech", "DONE", old, false)
			l.command("fresh-t", "transfer", "finnotech", "DONE", recent, false)
			l.hold("fresh-b", "fresh-u", "fresh-t", "TRANSFERRED", recent)
		}, nil, []string{"fresh-b", "fresh-u", "fresh-t"}},
		{"a hold transferred whose transfer an operator must reconcile", func() {
			l.command("flagged-b", "block", "finnotech", "DONE", old, false)
			l.command("flagged-u", "unblock", "finnotech", "DONE", old, false)
			l.command("flagged-t", "transfer", "finnotech", "DONE", old, true)
			l.hold("flagged-b", "flagged-u", "flagged-t", "TRANSFERRED", old)
		}, nil, []string{"flagged-b", "flagged-u", "flagged-t"}},
		{"an unblock refused, naming a block that is still held", func() {
			l.command("refused-u", "unblock", "finnotech", "REJECTED", old, false)
		}, []string{"refused-u"}, nil},
		{"a transfer that failed (its hold given back)", func() {
			l.command("failed-t", "transfer", "finnotech", "FAILED", old, false)
		}, []string{"failed-t"}, nil},
	}
	var pruned []string
	for _, tt := range tests {
		tt.setup()
		pruned = append(pruned, tt.pruned...)
	}
	n, err := s.PruneFinished(ctx, keep, 1000)
	if err != nil {
		t.Fatalf("PruneFinished: %v", err)
	}
	if int(n.Commands) != len(pruned) || int(n.ProviderCalls) != len(pruned) || n.Holds != 1 {
		t.Errorf("PruneFinished: got %+v, want %d commands, %d calls, 1 hold", n, len(pruned), len(pruned))
	}
	commands := l.column(`SELECT track_id FROM commands`)
	calls := l.column(`SELECT track_id FROM provider_calls`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, id := range tt.pruned {
				if slices.Contains(commands, id) || slices.Contains(calls, id) {
					t.Errorf("%s is still stored; want it forgotten with its calls", id)
				}
			}
			for _, id := range tt.kept {
				if !slices.Contains(commands, id) || !slices.Contains(calls, id) {
					t.Errorf("%s was forgotten; want it kept with its calls", id)
				}
			}
		})
	}
	holds := l.column(`SELECT block_track_id FROM holds`)
	if want := []string{"blocked-b", "flagged-b", "fresh-b", "transferring-b", "unblocked-b", "unblocking-b"}; !slices.Equal(holds, want) {
		t.Errorf("holds kept: got %v, want %v", holds, want)
	}
	if n, err := s.PruneFinished(ctx, keep, 1000); err != nil || n != (schemas.PruneCounts{}) {
		t.Errorf("a second PruneFinished: got %+v, %v; want nothing left to delete", n, err)
	}
}

// Retention deletes in batches of the size asked, oldest first, and a
// redelivered trackId that was forgotten is a new command.
func TestPruneFinishedInBatches(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	l := ledger{t, s}
	for i := range 25 {
		l.command("c"+strconv.Itoa(100+i), "block", "arhivaar", "DONE", time.Duration(200-i)*time.Minute, false)
	}
	var got []int64
	for {
		n, err := s.PruneFinished(ctx, time.Hour, 10)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n.Commands)
		if n.Commands == 0 {
			break
		}
	}
	if want := []int64{10, 10, 5, 0}; !slices.Equal(got, want) {
		t.Fatalf("batches: got %v, want %v", got, want)
	}
	r, err := s.Receive(ctx, schemas.Command{Kind: schemas.KindBlock, TrackID: "c100", Provider: schemas.ProviderArhivaar, AccountID: "a", Note: "n"},
		schemas.SourceMeta{Topic: "blockd.cmd.block"}, "me", time.Minute, notLocal)
	if err != nil || r.Status != schemas.ReceiptNew {
		t.Fatalf("Receive of a forgotten trackId: got %+v, %v; want a new command", r, err)
	}
}

// Published outbox rows go after their window, in batches; rows not
// published, or set aside, stay whatever their age.
func TestPrunePublished(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	ctx := context.Background()
	for i := range 7 {
		if err := s.Enqueue(ctx, []schemas.Outbound{{Topic: "results", Key: []byte("k" + strconv.Itoa(i)), Value: []byte("v")}}); err != nil {
			t.Fatal(err)
		}
	}
	// Rows 1-5 published two hours ago, row 6 just now, row 7 set aside.
	if _, err := s.DB().Exec(`UPDATE outbox SET published_at = now() - interval '2 hours', created_at = now() - interval '3 hours' WHERE id <= 5;
		UPDATE outbox SET published_at = now() WHERE id = 6;
		UPDATE outbox SET set_aside_at = now() - interval '2 hours', set_aside_reason = 'too large', created_at = now() - interval '3 hours' WHERE id = 7`); err != nil {
		t.Fatal(err)
	}
	var got []int64
	for {
		n, err := s.PrunePublished(ctx, time.Hour, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
		if n == 0 {
			break
		}
	}
	if want := []int64{2, 2, 1, 0}; !slices.Equal(got, want) {
		t.Fatalf("batches: got %v, want %v", got, want)
	}
	var left []int64
	if err := s.DB().Select(&left, `SELECT id FROM outbox ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if want := []int64{6, 7}; !slices.Equal(left, want) {
		t.Fatalf("rows left: got %v, want %v", left, want)
	}
}
