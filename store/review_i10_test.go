package store

// Tests from the independent review of group commit (issue 10). Each one
// failed on the code under review (a receive batch read and locked stored
// rows in Go's byte order and waited for them; a row deleted by retention
// or held by another transaction failed the whole batch; a nil key or
// value was stored as empty bytes) and passes now.

import (
	"context"
	"testing"
	"time"

	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store/storetest"
)

// receiveCalls builds the pending calls of a receive batch.
func receiveCalls(t *testing.T, cmds ...schemas.Command) []*pendingCall[receiveCall, schemas.Receipt] {
	t.Helper()
	var batch []*pendingCall[receiveCall, schemas.Receipt]
	for _, cmd := range cmds {
		in, err := newReceiveCall(cmd, src, "me", time.Minute, notLocalHere)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, &pendingCall[receiveCall, schemas.Receipt]{in: in, cancelled: func() error { return nil }, done: make(chan struct{})})
	}
	return batch
}

// TestReviewI10ReceiveBatchNeverWaitsForAStoredRow: rows already stored are
// held by another transaction (a batch of another kind, RenewLeases, an
// instance that died mid-transaction, retention deleting one). A receive
// batch with redeliveries of them and a new command neither locks nor
// waits for them (it could deadlock, or be held until batchTimeout): it
// stores the new command at once and hands the redeliveries back to their
// callers, each of which then waits alone.
func TestReviewI10ReceiveBatchNeverWaitsForAStoredRow(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), storetest.NewSchema(t), GroupCommit(64))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	for _, id := range []string{"B1", "a1"} {
		receiveNew(t, s, finnotechBlock(id, 100), "other", time.Minute)
	}
	other, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Rollback() }()
	if _, err := other.Exec(`SELECT 1 FROM commands WHERE track_id IN ('a1', 'B1') FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	batch := receiveCalls(t, finnotechBlock("a1", 100), finnotechBlock("new1", 5), finnotechBlock("B1", 100))
	start := time.Now()
	s.receives.record(batch)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the batch took %s: it waited for rows another transaction holds", took.Round(time.Millisecond))
	}
	for _, c := range batch {
		<-c.done
		switch id := c.in.cmd.TrackID; {
		case id == "new1" && (c.alone || c.err != nil || c.out.Status != schemas.ReceiptNew):
			t.Errorf("the new command: handed back %v, %+v, %v; want stored by the batch", c.alone, c.out, c.err)
		case id != "new1" && !c.alone:
			t.Errorf("the redelivery of %s was answered by the batch (%+v, %v); want it handed back", id, c.out, c.err)
		}
	}
}

// TestReviewI10CompleteBatchKeepsNullBytes: completeAlone passes a nil
// Result.Key or Result.Value as SQL NULL (a nil value is refused: outbox
// value is NOT NULL); arrays would pass them as empty bytes. A batch hands
// such completions back to be made alone, so the answer and the tables do
// not depend on whether the call was batched.
func TestReviewI10CompleteBatchKeepsNullBytes(t *testing.T) {
	t.Parallel()
	batched, alone := openPair(t)
	ctx := context.Background()
	seed := func(s *Store) []schemas.Completion {
		var out []schemas.Completion
		for i, id := range []string{"nokey", "novalue", "plain"} {
			claim := receiveNew(t, s, finnotechBlock(id, 100), "me", time.Minute)
			ev := "00000000-0000-0000-0000-00000000000" + string(rune('1'+i))
			c := schemas.Completion{TrackID: id, Claim: claim, State: schemas.StateRejected, EventID: ev, Result: result(id, ev)}
			switch id {
			case "nokey":
				c.Result.Key = nil
			case "novalue":
				c.Result.Value = nil
			}
			out = append(out, c)
		}
		return out
	}
	calls, inBatch := recordBatch(t, batched.completes, seed(batched), func(c schemas.Completion) string { return c.TrackID })
	if len(inBatch) != 1 || inBatch[0] != "plain" {
		t.Errorf("the batch answered %v itself; want only the completion with a key and a value", inBatch)
	}
	for _, c := range seed(alone) {
		werr := alone.completeAlone(ctx, c)
		gerr := calls[c.TrackID].err
		if IsDataError(werr) != IsDataError(gerr) || (werr == nil) != (gerr == nil) {
			t.Errorf("%s: batch answered %v, alone %v", c.TrackID, gerr, werr)
		}
	}
	if gs, ws := snapshot(t, batched), snapshot(t, alone); gs != ws {
		t.Errorf("tables differ\nbatch:\n%s\nalone:\n%s", gs, ws)
	}
}
