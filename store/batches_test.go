package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store/storetest"
)

// The batched forms must leave the database, and answer each caller,
// exactly as the calls made one by one would. Each test below seeds two
// schemas alike, makes the same calls in one as a batch and in the other
// one by one, and compares the answers and every table the calls touch.

func openPair(t *testing.T) (batched, alone *Store) {
	t.Helper()
	open := func() *Store {
		s, err := Open(context.Background(), storetest.NewSchema(t), GroupCommit(64))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return open(), open()
}

// recordBatch records calls as one batch of g, as its committer would, then
// makes the calls the batch handed back alone, as their callers would. It
// returns the calls and the trackIds of those the batch itself answered.
func recordBatch[T, R any](t *testing.T, g *groupCommitter[T, R], ins []T, id func(T) string) (map[string]*pendingCall[T, R], []string) {
	t.Helper()
	var batch []*pendingCall[T, R]
	for _, in := range ins {
		batch = append(batch, &pendingCall[T, R]{in: in, cancelled: func() error { return nil }, done: make(chan struct{})})
	}
	g.record(batch)
	out := map[string]*pendingCall[T, R]{}
	var batched []string
	for _, c := range batch {
		<-c.done
		if c.alone {
			c.out, c.err = g.alone(context.Background(), c.in)
		} else {
			batched = append(batched, id(c.in))
		}
		out[id(c.in)] = c
	}
	slices.Sort(batched)
	return out, batched
}

func finnotechBlock(trackID string, amount int64) schemas.Command {
	return schemas.Command{Kind: schemas.KindBlock, TrackID: trackID, Provider: schemas.ProviderFinnotech,
		ClientID: "c1", Amount: amount, Description: "d", Days: 3}
}

func notLocalHere(string) bool { return false }

var src = schemas.SourceMeta{Topic: "blockd.cmd.block", Partition: 2, Offset: 9, Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}

// receiveNew stores a command alone and returns its claim.
func receiveNew(t *testing.T, s *Store, cmd schemas.Command, owner string, lease time.Duration) string {
	t.Helper()
	in, err := newReceiveCall(cmd, src, owner, lease, notLocalHere)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.receiveAlone(context.Background(), in)
	if err != nil || r.Status != schemas.ReceiptNew {
		t.Fatalf("seeding %s: %+v, %v", cmd.TrackID, r, err)
	}
	return r.Claim
}

func beginAlone(t *testing.T, s *Store, trackID, claim, ptid string, lease time.Duration) {
	t.Helper()
	if _, err := s.beginCallAlone(context.Background(), beginCall{CallStart: schemas.CallStart{TrackID: trackID, Claim: claim, ProviderTrackID: ptid}, lease: lease}); err != nil {
		t.Fatalf("seeding call %s: %v", ptid, err)
	}
}

func result(trackID, eventID string) schemas.Outbound {
	return schemas.Outbound{Topic: "blockd.results", Key: []byte(trackID), Value: []byte(`{"eventId":"` + eventID + `"}`),
		Headers: map[string]string{"ce_id": eventID, "ce_type": "dev.blockd.result"}}
}

// snapshot is what a test compares: every table the command path writes,
// without what differs by nature (generated claims, timestamps).
func snapshot(t *testing.T, s *Store) string {
	t.Helper()
	var b strings.Builder
	q := func(title, query string) {
		rows, err := s.db.Queryx(query)
		if err != nil {
			t.Fatalf("%s: %v", title, err)
		}
		defer rows.Close()
		fmt.Fprintf(&b, "%s:\n", title)
		for rows.Next() {
			row, err := rows.SliceScan()
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range row {
				if bs, ok := v.([]byte); ok {
					row[i] = string(bs)
				}
			}
			fmt.Fprintf(&b, "  %v\n", row)
		}
	}
	q("commands", `SELECT track_id, kind, provider, request::text, encode(request_hash, 'hex'), state, attempts, owner, claim IS NOT NULL,
	       lease_until IS NOT NULL, coalesce(in_doubt_reason, ''), coalesce(event_id::text, ''), coalesce(result_topic, ''),
	       coalesce(encode(result, 'escape'), ''), coalesce(result_headers::text, ''), coalesce(traceparent, ''), source_topic,
	       source_partition, source_offset, completed_at IS NOT NULL, coalesce(completed_by, ''), needs_reconciliation,
	       coalesce(reconcile_reason, ''), coalesce(before::text, '')
	       FROM commands ORDER BY track_id`)
	q("provider_calls", `SELECT provider_track_id, track_id, attempt, state, coalesce(error_code, ''), coalesce(http_status, 0),
	       finished_at IS NOT NULL, coalesce(answer::text, ''), coalesce(evidence, '') FROM provider_calls ORDER BY provider_track_id`)
	q("holds", `SELECT block_track_id, provider, client_id, deposit, amount, description, days, block_date, block_provider_track_id, state
	       FROM holds ORDER BY block_track_id`)
	q("outbox", `SELECT topic, encode(key, 'escape'), encode(value, 'escape'), headers::text FROM outbox ORDER BY key, id`)
	return b.String()
}

// seedReceiveCases gives s one stored command of each kind Receive answers
// differently, and returns the commands to receive again with them.
func seedReceiveCases(t *testing.T, s *Store) []schemas.Command {
	t.Helper()
	ctx := context.Background()
	// finished: DONE with a stored result, queued again on a redelivery
	claim := receiveNew(t, s, finnotechBlock("f1", 100), "me", time.Minute)
	beginAlone(t, s, "f1", claim, "f1-a1", time.Minute)
	if err := s.completeAlone(ctx, schemas.Completion{TrackID: "f1", Claim: claim, State: schemas.StateDone, ProviderTrackID: "f1-a1",
		CallState: schemas.CallDone, CallAnswer: []byte(`{"amount":100}`), EventID: "11111111-1111-1111-1111-111111111111",
		Result: result("f1", "11111111-1111-1111-1111-111111111111")}); err != nil {
		t.Fatal(err)
	}
	receiveNew(t, s, finnotechBlock("h1", 100), "me", time.Minute)    // conflict: received again with another amount
	receiveNew(t, s, finnotechBlock("b1", 100), "other", time.Minute) // busy: another live owner
	receiveNew(t, s, finnotechBlock("r1", 100), "me", time.Minute)    // resumed: its owner's worker is gone
	claim = receiveNew(t, s, finnotechBlock("c1", 100), "other", time.Millisecond)
	beginAlone(t, s, "c1", claim, "c1-a1", time.Millisecond) // abandoned mid-call: in doubt
	claim = receiveNew(t, s, finnotechBlock("d1", 100), "me", time.Minute)
	beginAlone(t, s, "d1", claim, "d1-a1", time.Minute)
	if err := s.MarkInDoubt(ctx, schemas.MarkInDoubtParams{TrackID: "d1", Claim: claim, Reason: "timeout"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // c1's lease runs out
	return []schemas.Command{finnotechBlock("n2", 5), finnotechBlock("f1", 100), finnotechBlock("h1", 101), finnotechBlock("b1", 100),
		finnotechBlock("r1", 100), finnotechBlock("c1", 100), finnotechBlock("d1", 100), finnotechBlock("n1", 7), finnotechBlock("n3", 9)}
}

func TestReceiveBatchAnswersAsReceiveAlone(t *testing.T) {
	t.Parallel()
	batched, alone := openPair(t)
	cmds := seedReceiveCases(t, batched)
	seedReceiveCases(t, alone)
	ctx := context.Background()

	var ins []receiveCall
	var want []schemas.Receipt
	for _, cmd := range cmds {
		in, err := newReceiveCall(cmd, src, "me", time.Minute, notLocalHere)
		if err != nil {
			t.Fatal(err)
		}
		switch cmd.TrackID {
		case "n1", "n3", "f1", "r1": // with the first call's intent (ReceiveAndBegin): recorded for new ones only
			in.firstCall = cmd.TrackID + "-first"
		}
		ins = append(ins, in)
		r, err := alone.receiveAlone(ctx, in)
		if err != nil {
			t.Fatalf("receiveAlone %s: %v", cmd.TrackID, err)
		}
		want = append(want, r)
	}
	calls, inBatch := recordBatch(t, batched.receives, ins, func(c receiveCall) string { return c.cmd.TrackID })
	if want := []string{"n1", "n2", "n3"}; !slices.Equal(inBatch, want) {
		t.Errorf("the batch answered %v itself; want the new commands %v (the stored ones alone)", inBatch, want)
	}
	got := map[string]schemas.Receipt{}
	for id, c := range calls {
		if c.err != nil {
			t.Fatalf("receiving %s: %v", id, c.err)
		}
		got[id] = c.out
	}
	statuses := map[schemas.ReceiptStatus]bool{}
	for i, cmd := range cmds {
		g, w := got[cmd.TrackID], want[i]
		statuses[w.Status] = true
		if g.Status != w.Status || g.State != w.State || g.Attempts != w.Attempts || (g.Claim == "") != (w.Claim == "") || g.FirstCall != w.FirstCall {
			t.Errorf("%s: batch answered %+v, alone %+v", cmd.TrackID, g, w)
		}
	}
	if len(statuses) != 6 {
		t.Errorf("the cases cover %d of Receive's 6 answers; want all", len(statuses))
	}
	if !got["n1"].FirstCall || got["n2"].FirstCall || got["f1"].FirstCall || got["r1"].FirstCall {
		t.Errorf("first calls recorded: n1 %v n2 %v f1 %v r1 %v; want only the new command asked for one", got["n1"].FirstCall,
			got["n2"].FirstCall, got["f1"].FirstCall, got["r1"].FirstCall)
	}
	if gs, ws := snapshot(t, batched), snapshot(t, alone); gs != ws {
		t.Errorf("tables differ\nbatch:\n%s\nalone:\n%s", gs, ws)
	}
}

func TestBeginCallBatchAnswersAsBeginCallAlone(t *testing.T) {
	t.Parallel()
	batched, alone := openPair(t)
	ctx := context.Background()
	seed := func(s *Store) []beginCall {
		a := receiveNew(t, s, finnotechBlock("a", 1), "me", time.Minute)
		receiveNew(t, s, finnotechBlock("b", 1), "me", time.Minute) // called with another claim
		c := receiveNew(t, s, finnotechBlock("c", 1), "me", time.Minute)
		d := receiveNew(t, s, finnotechBlock("d", 1), "me", time.Minute)
		beginAlone(t, s, "d", d, "d-1", time.Minute) // already CALLING: not claimed for a new call
		e := receiveNew(t, s, finnotechBlock("e", 1), "me", time.Minute)
		beginAlone(t, s, "e", e, "e-1", time.Minute)
		if err := s.RecordAttemptNotApplied(ctx, schemas.RecordAttemptNotAppliedParams{TrackID: "e", Claim: e, ProviderTrackID: "e-1", ErrorCode: "X"}); err != nil {
			t.Fatal(err)
		}
		return []beginCall{
			{CallStart: schemas.CallStart{TrackID: "c", Claim: c, ProviderTrackID: "c-1", Before: []byte(`{"codes":[1]}`)}, lease: time.Minute},
			{CallStart: schemas.CallStart{TrackID: "a", Claim: a, ProviderTrackID: "a-1"}, lease: time.Minute},
			{CallStart: schemas.CallStart{TrackID: "b", Claim: "00000000-0000-0000-0000-000000000000", ProviderTrackID: "b-1"}, lease: time.Minute},
			{CallStart: schemas.CallStart{TrackID: "d", Claim: d, ProviderTrackID: "d-2"}, lease: time.Minute},
			{CallStart: schemas.CallStart{TrackID: "e", Claim: e, ProviderTrackID: "e-2"}, lease: time.Minute}, // second attempt
		}
	}
	got, inBatch := recordBatch(t, batched.begins, seed(batched), func(c beginCall) string { return c.TrackID })
	if len(inBatch) != 5 {
		t.Errorf("the batch answered %v itself; want all five", inBatch)
	}
	notClaimed := 0
	for _, c := range seed(alone) {
		w, werr := alone.beginCallAlone(ctx, c)
		g := got[c.TrackID]
		if !errors.Is(g.err, werr) || !reflect.DeepEqual(g.out, w) {
			t.Errorf("%s: batch answered %+v, %v; alone %+v, %v", c.TrackID, g.out, g.err, w, werr)
		}
		if errors.Is(werr, ErrNotClaimed) {
			notClaimed++
		}
	}
	if notClaimed != 2 {
		t.Errorf("%d calls were not claimed; the cases want 2", notClaimed)
	}
	if gs, ws := snapshot(t, batched), snapshot(t, alone); gs != ws {
		t.Errorf("tables differ\nbatch:\n%s\nalone:\n%s", gs, ws)
	}
}

func TestCompleteBatchAnswersAsCompleteAlone(t *testing.T) {
	t.Parallel()
	batched, alone := openPair(t)
	ctx := context.Background()
	seed := func(s *Store) []schemas.Completion {
		calling := func(id string) string {
			claim := receiveNew(t, s, finnotechBlock(id, 100), "me", time.Minute)
			beginAlone(t, s, id, claim, id+"-1", time.Minute)
			return claim
		}
		done, failed, reconcile := calling("done"), calling("failed"), calling("reconcile")
		calling("lost") // completed with another claim
		rejected := receiveNew(t, s, finnotechBlock("rejected", 100), "me", time.Minute)
		doubt := calling("doubt") // marked in doubt by another worker, answered by its call
		if err := s.MarkInDoubt(ctx, schemas.MarkInDoubtParams{TrackID: "doubt", Claim: doubt, Reason: "timeout"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.db.Exec(`UPDATE commands SET claim = NULL, owner = NULL WHERE track_id = 'doubt'`); err != nil {
			t.Fatal(err)
		}
		ev := func(n int) string { return fmt.Sprintf("00000000-0000-0000-0000-%012d", n) }
		return []schemas.Completion{
			{TrackID: "done", Claim: done, State: schemas.StateDone, ProviderTrackID: "done-1", CallState: schemas.CallDone,
				CallAnswer: []byte(`{"amount": 100}`), CallEvidence: "wages DONE", EventID: ev(1), Result: result("done", ev(1)),
				CreateHold: &schemas.BlockRef{TrackID: "done", Provider: schemas.ProviderFinnotech, ClientID: "c1", Amount: 100,
					Description: "d", Days: 3, Deposit: "0201", BlockDate: "050902", ProviderTrackID: "done-1"}},
			{TrackID: "failed", Claim: failed, State: schemas.StateFailed, ProviderTrackID: "failed-1", CallState: schemas.CallFailed,
				ErrorCode: "E42", HTTPStatus: 400, EventID: ev(2), Result: func() schemas.Outbound {
					m := result("failed", ev(2))
					m.Key = []byte("another-key") // queued as given, not as the command row holds it
					return m
				}()},
			{TrackID: "lost", Claim: "00000000-0000-0000-0000-000000000000", State: schemas.StateDone, ProviderTrackID: "lost-1",
				CallState: schemas.CallDone, EventID: ev(3), Result: result("lost", ev(3))},
			{TrackID: "reconcile", Claim: reconcile, State: schemas.StateFailed, ProviderTrackID: "reconcile-1", CallState: schemas.CallDone,
				CallAnswer: []byte(`{"amount": 5}`), NeedsReconciliation: true, ReconcileReason: "ANSWER_MISMATCH: amount", EventID: ev(4), Result: result("reconcile", ev(4))},
			{TrackID: "rejected", Claim: rejected, State: schemas.StateRejected, EventID: ev(5), Result: result("rejected", ev(5))},
			{TrackID: "doubt", State: schemas.StateDone, ProviderTrackID: "doubt-1", CallState: schemas.CallDone,
				CallAnswer: []byte(`{"amount": 100}`), EventID: ev(6), Result: result("doubt", ev(6))},
		}
	}
	calls, inBatch := recordBatch(t, batched.completes, seed(batched), func(c schemas.Completion) string { return c.TrackID })
	if len(inBatch) != 6 {
		t.Errorf("the batch answered %v itself; want all six", inBatch)
	}
	got := map[string]error{}
	for id, c := range calls {
		got[id] = c.err
	}
	for _, c := range seed(alone) {
		werr := alone.completeAlone(ctx, c)
		if !errors.Is(got[c.TrackID], werr) {
			t.Errorf("%s: batch answered %v, alone %v", c.TrackID, got[c.TrackID], werr)
		}
	}
	if !errors.Is(got["lost"], ErrNotClaimed) {
		t.Errorf("a completion without the claim: %v, want ErrNotClaimed", got["lost"])
	}
	if gs, ws := snapshot(t, batched), snapshot(t, alone); gs != ws {
		t.Errorf("tables differ\nbatch:\n%s\nalone:\n%s", gs, ws)
	}
}

// TestBatchOfConcurrentCallsIsolatesBadData: many callers at once, through
// the group committer; one command PostgreSQL cannot store (a NUL in a
// JSON string) gets its own data error, every other is stored.
func TestBatchOfConcurrentCallsIsolatesBadData(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), storetest.NewSchema(t), GroupCommit(64))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const n = 200
	errs := make([]error, n)
	receipts := make([]schemas.Receipt, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := finnotechBlock(fmt.Sprintf("k%03d", i), int64(i+1))
			if i == 17 {
				cmd.Description = "bad\x00data"
			}
			receipts[i], errs[i] = s.Receive(ctx, cmd, src, "me", time.Minute, notLocalHere)
		}()
	}
	wg.Wait()
	for i := range n {
		switch {
		case i == 17 && !IsDataError(errs[i]):
			t.Errorf("the command with a NUL: %v, want a data error", errs[i])
		case i != 17 && (errs[i] != nil || receipts[i].Status != schemas.ReceiptNew):
			t.Errorf("command %d: %+v, %v; want stored", i, receipts[i], errs[i])
		}
	}
	var stored int
	if err := s.db.Get(&stored, `SELECT count(*) FROM commands`); err != nil || stored != n-1 {
		t.Errorf("stored %d commands (%v), want %d", stored, err, n-1)
	}
}

// TestGroupCommitterBatchesWhatWaits: calls waiting when a committer is
// free go together into one batch; calls made while a batch commits go
// into the next; a call for a trackId already in a batch waits for the
// next, alone if it is alone; a caller
// whose context ended before its call was taken gets its error and the
// call is not made.
func TestGroupCommitterBatchesWhatWaits(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	var batches [][]string
	commit := func(_ context.Context, _ *sqlx.Tx, batch []*pendingCall[string, string]) error {
		var ids []string
		for _, c := range batch {
			ids = append(ids, c.in)
			c.out = "batch:" + c.in
		}
		mu.Lock()
		batches = append(batches, ids)
		first := len(batches) == 1
		mu.Unlock()
		if first {
			<-release // the first batch holds the committer
		}
		return nil
	}
	alone := func(_ context.Context, in string) (string, error) { return "alone:" + in, nil }
	inTx := func(ctx context.Context, fn func(*sqlx.Tx) error) error { return fn(nil) }
	g := newGroupCommitter(10, 0, inTx, commit, alone, func(a, b string) bool { return a[:1] == b[:1] })
	ctx := context.Background()
	var wg sync.WaitGroup
	outs := make(map[string]string)
	var outsMu sync.Mutex
	call := func(in string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := g.do(ctx, in)
			if err != nil {
				t.Errorf("%s: %v", in, err)
			}
			outsMu.Lock()
			outs[in] = out
			outsMu.Unlock()
		}()
		time.Sleep(20 * time.Millisecond) // in this order
	}
	call("a0")
	call("x0")
	g.done.Add(1)
	go g.run() // finds a0 and x0 waiting
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(batches) == 1 })
	// While that batch commits, these wait; b1 and b2 share a first letter, so b2 goes in the batch after.
	for _, in := range []string{"b1", "c1", "d1", "b2"} {
		call(in)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := g.do(cancelled, "z9"); !errors.Is(err, context.Canceled) {
		t.Errorf("a call whose context ended: %v, want context.Canceled", err)
	}
	close(release)
	wg.Wait()
	g.close()
	mu.Lock()
	defer mu.Unlock()
	want := [][]string{{"a0", "x0"}, {"b1", "c1", "d1"}, {"b2"}}
	if !reflect.DeepEqual(batches, want) {
		t.Errorf("batches %v, want %v", batches, want)
	}
	wantOuts := map[string]string{"a0": "batch:a0", "x0": "batch:x0", "b1": "batch:b1", "c1": "batch:c1", "d1": "batch:d1", "b2": "batch:b2"}
	if !reflect.DeepEqual(outs, wantOuts) {
		t.Errorf("answers %v, want %v", outs, wantOuts)
	}
}

// TestGroupCommitterHandsBackWhatTheServerRefused: a batch PostgreSQL
// refused is made again call by call by the callers; one that failed in a
// way that leaves its commit in doubt is not made again: its callers get
// the error.
func TestGroupCommitterHandsBackWhatTheServerRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		err     error
		wantOut string
		wantErr bool
	}{
		{"deadlock", &pq.Error{Code: "40P01"}, "alone:", false},
		{"data", &DataError{SQLState: "22P05", pqErr: &pq.Error{Code: "22P05"}}, "alone:", false},
		{"lock timeout", &pq.Error{Code: "55P03"}, "alone:", false},
		{"connection lost", errors.New("read tcp: connection reset by peer"), "", true},
		{"server shutting down", &pq.Error{Code: "57P01"}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			commit := func(context.Context, *sqlx.Tx, []*pendingCall[string, string]) error { return tc.err }
			alone := func(_ context.Context, in string) (string, error) { return "alone:" + in, nil }
			inTx := func(ctx context.Context, fn func(*sqlx.Tx) error) error { return fn(nil) }
			g := newGroupCommitter(10, 0, inTx, commit, alone, func(a, b string) bool { return a == b })
			defer g.close()
			var batch []*pendingCall[string, string]
			for _, in := range []string{"a", "b", "c"} {
				batch = append(batch, &pendingCall[string, string]{in: in, cancelled: func() error { return nil }, done: make(chan struct{})})
			}
			g.record(batch)
			for _, c := range batch {
				<-c.done
				if c.alone == tc.wantErr || (c.err != nil) != tc.wantErr {
					t.Errorf("%s: handed back %v, error %v; want handed back %v", c.in, c.alone, c.err, !tc.wantErr)
				}
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
