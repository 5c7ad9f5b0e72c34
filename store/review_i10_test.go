package store

// Tests from the independent review of group commit (issue 10). Each one
// fails on the code under review and shows one defect; see the review
// report for severity and the suggested fix.

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store/storetest"
)

// openInEnglishCollationDB opens a store in a fresh schema of a database
// whose default collation is ICU en-US, as a server initialised under
// LANG=en_US.UTF-8 (the usual default) would sort text: not byte order.
func openInEnglishCollationDB(t *testing.T) *Store {
	t.Helper()
	base, err := url.Parse(storetest.BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	admin := *base
	admin.Path = "/postgres"
	adb, err := sql.Open("postgres", admin.String())
	if err != nil {
		t.Fatal(err)
	}
	defer adb.Close()
	const name = "blockd_test_en_us"
	_, err = adb.Exec(`CREATE DATABASE ` + name + ` LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8' TEMPLATE template0`)
	var pe *pq.Error
	exists := errors.As(err, &pe) && (pe.Code == "42P04" || pe.Code == "23505") // duplicate_database, or a concurrent create
	if err != nil && !exists {
		t.Fatalf("creating an en-US database: %v", err)
	}
	u := *base
	u.Path = "/" + name
	db, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	schema := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
		db.Close()
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s, err := Open(context.Background(), u.String(), GroupCommit(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitingOn waits until some transaction waits for the transaction whose
// id is xid (a row lock it holds).
func waitingOn(t *testing.T, s *Store, xid string) {
	t.Helper()
	waitFor(t, func() bool {
		var n int
		if err := s.db.Get(&n, `SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' AND transactionid::text = $1 AND NOT granted`, xid); err != nil {
			t.Fatal(err)
		}
		return n > 0
	})
}

// TestReviewI10ReceiveBatchLocksInTheDatabasesOrder: batches.go says
// "Commands rows are locked in trackId order first, as RenewLeases locks
// them, so that batches never deadlock with one another". beginCallBatch,
// completeBatch (lockCommands) and RenewLeases lock in the order of SQL's
// ORDER BY track_id, the database's collation; receiveBatch locks the rows
// already stored one by one (receiveStored) in Go's byte order
// (cmp.Compare in byTrackID). They agree only under the C collation. Under
// en_US (trackIds may mix case, '-' and '_'), "B1" comes before "a1" in Go
// and after it in SQL: a receive batch of redeliveries of B1 and a1 and a
// completion batch (or RenewLeases) holding a1 and B1 deadlock; PostgreSQL
// aborts one after deadlock_timeout.
//
// The other transaction below takes the two row locks as lockCommands
// takes them in this database, in two steps so that the receive batch can
// run between them.
func TestReviewI10ReceiveBatchLocksInTheDatabasesOrder(t *testing.T) {
	t.Parallel()
	s := openInEnglishCollationDB(t)
	ctx := context.Background()
	for _, id := range []string{"B1", "a1"} {
		receiveNew(t, s, finnotechBlock(id, 100), "other", time.Minute) // worked on by another live instance
	}
	var order []string
	if err := s.db.Select(&order, `SELECT track_id FROM commands WHERE track_id = ANY($1) ORDER BY track_id`, pq.Array([]string{"B1", "a1"})); err != nil {
		t.Fatal(err)
	}
	if order[0] != "a1" {
		t.Fatalf("the database sorts %v; the test needs a collation that puts a1 first", order)
	}

	other, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Rollback() }()
	var xid string
	if err := other.Get(&xid, `SELECT pg_current_xact_id()::text`); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(`SELECT 1 FROM commands WHERE track_id = 'a1' FOR UPDATE`); err != nil { // lockCommands' first row
		t.Fatal(err)
	}
	var batch []*pendingCall[receiveCall, schemas.Receipt]
	for _, id := range []string{"a1", "B1"} {
		in, err := newReceiveCall(finnotechBlock(id, 100), src, "me", time.Minute, notLocalHere)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, &pendingCall[receiveCall, schemas.Receipt]{ctx: ctx, in: in})
	}
	received := make(chan error, 1)
	go func() { received <- s.receiveBatch(ctx, batch) }()
	waitingOn(t, s, xid) // the receive batch holds B1 and waits for a1
	// lockCommands' second row
	_, otherErr := other.Exec(`SELECT 1 FROM commands WHERE track_id = 'B1' FOR UPDATE`)
	if otherErr == nil {
		otherErr = other.Commit()
	}
	if err := <-received; err != nil {
		t.Errorf("receive batch racing a batch that locks in the database's order: %v", err)
	}
	if otherErr != nil {
		t.Errorf("batch locking in the database's order racing a receive batch: %v", otherErr)
	}
}

// TestReviewI10CompleteBatchKeepsNullBytes: completeAlone passes a nil
// Result.Key or Result.Value as SQL NULL; completeBatch passes them through
// pq.Array([][]byte), which encodes nil as an empty bytea. So a completion
// with a nil Value is refused alone (outbox.value is NOT NULL: a DataError)
// and recorded, DONE with an empty result message, in a batch; a nil Key
// is NULL alone and an empty key in a batch (the relay's per-key order groups by
// key). The answer and the tables depend on whether the call was batched.
func TestReviewI10CompleteBatchKeepsNullBytes(t *testing.T) {
	t.Parallel()
	batched, alone := openPair(t)
	ctx := context.Background()
	seed := func(s *Store) []schemas.Completion {
		var out []schemas.Completion
		for _, id := range []string{"nokey", "novalue"} {
			claim := receiveNew(t, s, finnotechBlock(id, 100), "me", time.Minute)
			ev := "00000000-0000-0000-0000-00000000000" + map[string]string{"nokey": "1", "novalue": "2"}[id]
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
	var batch []*pendingCall[schemas.Completion, struct{}]
	for _, c := range seed(batched) {
		batch = append(batch, &pendingCall[schemas.Completion, struct{}]{ctx: ctx, in: c})
	}
	batchErr := batched.completeBatch(ctx, batch)
	for _, c := range seed(alone) {
		werr := alone.completeAlone(ctx, c)
		gerr := batchErr
		for _, b := range batch {
			if b.in.TrackID == c.TrackID && batchErr == nil {
				gerr = b.err
			}
		}
		if IsDataError(werr) != IsDataError(gerr) || (werr == nil) != (gerr == nil) {
			t.Errorf("%s: batch answered %v, alone %v", c.TrackID, gerr, werr)
		}
	}
	var keys []string
	if err := batched.db.Select(&keys, `SELECT coalesce(encode(key, 'escape'), '<NULL>') FROM outbox ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k != "<NULL>" && k != "nokey" && k != "novalue" {
			t.Errorf("an outbox key stored as %q; alone it is NULL", k)
		}
	}
}

// TestReviewI10CommandPrunedMidBatchFailsTheOthers: receiveBatch decides
// that a trackId is stored when its INSERT ... ON CONFLICT DO NOTHING skips
// it, and then reads it with SELECT ... FOR UPDATE. If retention
// (PruneFinished: finished, old, published) deletes that row in between,
// the read finds no row and receiveStored returns sql.ErrNoRows wrapped:
// not a PostgreSQL refusal, so the group committer does not fall back to
// single calls and every caller of the batch gets the error, the new
// commands beside it included (alone, a new command is stored).
//
// The other transaction does what PruneFinished does to the row: lock it
// (FOR UPDATE SKIP LOCKED), delete its calls and it, commit.
func TestReviewI10CommandPrunedMidBatchFailsTheOthers(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), storetest.NewSchema(t), GroupCommit(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	claim := receiveNew(t, s, finnotechBlock("old", 100), "me", time.Minute)
	if err := s.completeAlone(ctx, schemas.Completion{TrackID: "old", Claim: claim, State: schemas.StateRejected,
		EventID: "00000000-0000-0000-0000-000000000009", Result: result("old", "00000000-0000-0000-0000-000000000009")}); err != nil {
		t.Fatal(err)
	}

	g := newGroupCommitter(8, 1, s.receiveBatch, s.receiveAlone, func(a, b receiveCall) bool { return a.cmd.TrackID == b.cmd.TrackID })
	defer g.close()
	prune, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = prune.Rollback() }()
	var xid string
	if err := prune.Get(&xid, `SELECT pg_current_xact_id()::text`); err != nil {
		t.Fatal(err)
	}
	if _, err := prune.Exec(`SELECT 1 FROM commands WHERE track_id = 'old' FOR UPDATE SKIP LOCKED`); err != nil {
		t.Fatal(err)
	}
	var batch []*pendingCall[receiveCall, schemas.Receipt]
	for _, cmd := range []schemas.Command{finnotechBlock("new1", 5), finnotechBlock("old", 100)} {
		in, err := newReceiveCall(cmd, src, "me", time.Minute, notLocalHere)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, &pendingCall[receiveCall, schemas.Receipt]{ctx: ctx, in: in, done: make(chan struct{})})
	}
	recorded := make(chan struct{})
	go func() { g.record(batch); close(recorded) }()
	waitingOn(t, s, xid) // the batch inserted new1, skipped old, and waits to read old
	if _, err := prune.Exec(`DELETE FROM provider_calls WHERE track_id = 'old'; DELETE FROM commands WHERE track_id = 'old'`); err != nil {
		t.Fatal(err)
	}
	if err := prune.Commit(); err != nil {
		t.Fatal(err)
	}
	<-recorded
	for _, c := range batch {
		if c.in.cmd.TrackID == "new1" && (c.err != nil || c.out.Status != schemas.ReceiptNew) {
			t.Errorf("a new command batched beside one retention deleted: %+v, %v; alone it is stored", c.out, c.err)
		}
	}
}

// TestReviewI10OneLockedRowFailsItsWholeBatch: a receive batch waits for
// every stored row it reads (SELECT ... FOR UPDATE), with no lock timeout,
// until batchTimeout (15s) cancels it: 57014, which refusedByServer counts
// as "unavailable", so there is no fallback and every caller of the batch
// is told the error, after 15s. One row held long (an instance that died
// mid-transaction holds its locks until its connection is found dead; its
// in-flight commands are exactly what is redelivered to the others) thus
// delays and fails every command batched with its redelivery, again on
// each retry. Alone, only that redelivery would wait.
//
// This test takes batchTimeout (15s) to fail.
func TestReviewI10OneLockedRowFailsItsWholeBatch(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), storetest.NewSchema(t), GroupCommit(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	receiveNew(t, s, finnotechBlock("held", 100), "dead", time.Minute)

	g := newGroupCommitter(8, 1, s.receiveBatch, s.receiveAlone, func(a, b receiveCall) bool { return a.cmd.TrackID == b.cmd.TrackID })
	defer g.close()
	holder, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Rollback() }()
	if _, err := holder.Exec(`SELECT 1 FROM commands WHERE track_id = 'held' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	var batch []*pendingCall[receiveCall, schemas.Receipt]
	for _, cmd := range []schemas.Command{finnotechBlock("held", 100), finnotechBlock("new1", 5)} {
		in, err := newReceiveCall(cmd, src, "me", time.Minute, notLocalHere)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, &pendingCall[receiveCall, schemas.Receipt]{ctx: ctx, in: in, done: make(chan struct{})})
	}
	start := time.Now()
	g.record(batch)
	for _, c := range batch {
		if c.in.cmd.TrackID != "new1" {
			continue
		}
		<-c.done
		if took := time.Since(start); c.err != nil || took > 5*time.Second {
			t.Errorf("a new command batched beside a redelivery whose row is locked: answered after %s with %v; alone it is stored at once",
				took.Round(time.Second), c.err)
		}
	}
}
