package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Group commit: Receive, BeginCall and Complete are called by many
// goroutines at once, one command each. Rather than one transaction (and
// one durable commit) per call, a committer takes every call that is
// waiting when it is free and records them all in one transaction with
// set-based statements, then answers each caller. Batches form from what
// is ready: a call that finds a committer idle is committed at once, in a
// batch of one, so low load keeps low latency, and under load a batch
// grows to what arrived during the previous commit (at most maxBatch).
//
// Each command keeps its own guarantees: a batch commits all or nothing,
// so a crash or a failed commit leaves every command in it exactly as a
// crash before its own single transaction would (its step not taken).
//
// Whatever a batch is not sure to do as the call's own transaction would,
// it hands back, and the caller makes its call alone, in its own goroutine
// and transaction, with its own context, exactly as without batching: a
// call the batch leaves out (a command
// already stored, whose answer needs its row read and locked); and every
// call of a batch PostgreSQL refused without committing it (one command's
// data, a trackId taken, a deadlock, a row locked for longer than
// batchLockTimeout). So one bad or blocked command is answered alone and
// never fails or holds up the others. A batch that failed in a way that
// leaves its commit in doubt (the connection lost, the server shutting
// down, the batch's own timeout) is not made again: each of its callers
// gets the error, as a single transaction's caller would.
//
// A caller whose context ended before its call was taken into a batch gets
// the context's error and nothing is written; once taken, the call is
// committed or fails with its batch, bounded by batchTimeout, and the
// caller waits for that answer so that what it is told is what PostgreSQL
// did.

// batchTimeout bounds one group-commit transaction.
const batchTimeout = 15 * time.Second

// batchLockTimeout bounds how long a batch waits for a row another
// transaction holds (every transaction of blockd is short): after it the
// batch is refused and its calls are made alone.
const batchLockTimeout = time.Second

// groupCommitter collects calls of one kind and records them in batches.
// T is a call's input and R its answer.
type groupCommitter[T, R any] struct {
	calls    chan *pendingCall[T, R]
	maxBatch int
	// commit records a batch (one call or more) in tx and answers each
	// call in it, or hands it back to be made alone (pendingCall.alone).
	// An error fails the whole batch (tx is rolled back).
	commit func(ctx context.Context, tx *sqlx.Tx, batch []*pendingCall[T, R]) error
	// alone makes one call in its own transaction.
	alone func(ctx context.Context, in T) (R, error)
	// conflicts reports whether two calls may not share a batch (the same
	// command twice): the later one waits for the next batch.
	conflicts func(a, b T) bool
	// committed, if set, is called after each batch that committed.
	committed func()
	// inTx runs a batch's transaction (Store.inBatchTx).
	inTx     func(ctx context.Context, fn func(tx *sqlx.Tx) error) error
	stop     chan struct{}
	stopOnce sync.Once
	done     sync.WaitGroup
}

// pendingCall is one caller's call waiting for its batch.
type pendingCall[T, R any] struct {
	in T
	// cancelled is the caller's context's Err: a call whose caller left
	// before it was taken into a batch is not made.
	cancelled func() error
	out       R
	err       error
	// alone: the batch did not make the call; the caller makes it alone.
	alone bool
	done  chan struct{}
}

func newGroupCommitter[T, R any](maxBatch, committers int, inTx func(context.Context, func(*sqlx.Tx) error) error,
	commit func(context.Context, *sqlx.Tx, []*pendingCall[T, R]) error,
	alone func(context.Context, T) (R, error), conflicts func(a, b T) bool) *groupCommitter[T, R] {
	g := &groupCommitter[T, R]{calls: make(chan *pendingCall[T, R]), maxBatch: maxBatch, commit: commit, alone: alone,
		conflicts: conflicts, inTx: inTx, stop: make(chan struct{})}
	for range committers {
		g.done.Add(1)
		go g.run()
	}
	return g
}

// do makes one call through a batch and returns its answer.
func (g *groupCommitter[T, R]) do(ctx context.Context, in T) (R, error) {
	c := &pendingCall[T, R]{in: in, cancelled: ctx.Err, done: make(chan struct{})}
	select {
	case g.calls <- c:
	case <-ctx.Done():
		var zero R
		return zero, ctx.Err()
	case <-g.stop:
		return g.alone(ctx, in)
	}
	<-c.done
	if c.alone {
		return g.alone(ctx, in)
	}
	return c.out, c.err
}

// close stops the committers once the calls they hold are answered; calls
// made after it are made alone.
func (g *groupCommitter[T, R]) close() {
	g.stopOnce.Do(func() { close(g.stop) })
	g.done.Wait()
}

// run is one committer: it waits for a call, takes every other call
// waiting (up to maxBatch), and records them.
func (g *groupCommitter[T, R]) run() {
	defer g.done.Done()
	var carried []*pendingCall[T, R] // calls deferred from the previous batch
	for {
		var batch []*pendingCall[T, R]
		if len(carried) == 0 {
			select {
			case c := <-g.calls:
				carried = append(carried, c)
			case <-g.stop:
				return
			}
		}
		next := carried[:0:0]
		for _, c := range carried {
			if len(batch) < g.maxBatch && !g.conflictsWith(batch, c) {
				batch = append(batch, c)
			} else {
				next = append(next, c)
			}
		}
	collect:
		for len(batch) < g.maxBatch {
			select {
			case c := <-g.calls:
				if g.conflictsWith(batch, c) {
					next = append(next, c)
					continue
				}
				batch = append(batch, c)
			default:
				break collect
			}
		}
		carried = next
		g.record(batch)
	}
}

func (g *groupCommitter[T, R]) conflictsWith(batch []*pendingCall[T, R], c *pendingCall[T, R]) bool {
	for _, b := range batch {
		if g.conflicts(b.in, c.in) {
			return true
		}
	}
	return false
}

// record commits a batch and answers its calls.
func (g *groupCommitter[T, R]) record(batch []*pendingCall[T, R]) {
	live := batch[:0]
	for _, c := range batch {
		if err := c.cancelled(); err != nil {
			c.err = err
			close(c.done)
			continue
		}
		live = append(live, c)
	}
	defer func() {
		for _, c := range live {
			close(c.done)
		}
	}()
	if len(live) == 0 {
		return
	}
	// A call alone in its batch is committed as a batch too: the committer
	// stays busy for the commit, and the calls that arrive meanwhile form
	// the next batch (handing it back would leave the committer idle at
	// once, and no batch would ever form).
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	err := g.inTx(ctx, func(tx *sqlx.Tx) error { return g.commit(ctx, tx, live) })
	switch {
	case err == nil:
		if g.committed != nil {
			g.committed()
		}
	case refusedByServer(err):
		// Nothing of the batch was written: each caller makes its call
		// alone and gets its own answer.
		for _, c := range live {
			c.alone = true
		}
	default:
		for _, c := range live {
			c.err = err
		}
	}
}

// refusedByServer reports an error that proves the batch's transaction did
// not commit and says nothing about the server being unavailable: one
// PostgreSQL gave about a statement or a commit it refused, or a row a
// statement expected and did not find. It is false for a lost connection,
// a server shutting down or out of resources (SQLSTATE classes 08, 53,
// 57), a timeout: calls of such a batch would only fail again, and its
// commit may be in doubt.
func refusedByServer(err error) bool {
	if IsDataError(err) || errors.Is(err, sql.ErrNoRows) {
		return true
	}
	var pe *pq.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code.Class() {
	case "08", "53", "57":
		return false
	}
	return true
}
