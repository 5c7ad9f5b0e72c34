package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/lib/pq"
)

// Group commit: Receive, BeginCall and Complete are called by many
// goroutines at once, one command each. Rather than one transaction (and
// one durable commit) per call, a committer takes every call that is
// waiting when it is free and records them all in one transaction with
// set-based statements, then answers each caller. Batches form from what
// is ready: a call that finds a committer idle is committed alone at once,
// so low load keeps low latency, and under load a batch grows to what
// arrived during the previous commit (at most maxBatch).
//
// Each command keeps its own guarantees: a batch commits all or nothing,
// so a crash or a failed commit leaves every command in it exactly as a
// crash before its own single transaction would (its step not taken). A
// batch PostgreSQL refuses because of one command's data (or a deadlock)
// is not retried as a batch: each of its calls is then made alone, in its
// own transaction, so one bad command is answered with its own error and
// the others are recorded. A caller whose context ended before its call was
// taken into a batch gets the context's error and nothing is written; once
// taken, the call is committed or fails with the batch, bounded by
// batchTimeout, and the caller waits for that answer so that what it is
// told is what PostgreSQL did.

// batchTimeout bounds one group-commit transaction.
const batchTimeout = 15 * time.Second

// groupCommitter collects calls of one kind and records them in batches.
// T is a call's input and R its answer.
type groupCommitter[T, R any] struct {
	calls    chan *pendingCall[T, R]
	maxBatch int
	// commit records a batch in one transaction and answers every call in
	// it, or fails as a whole (nothing of the batch is written).
	commit func(ctx context.Context, batch []*pendingCall[T, R]) error
	// alone records one call in its own transaction: used when a batch
	// failed on its data, so that each call gets its own answer.
	alone func(ctx context.Context, in T) (R, error)
	// conflicts reports whether two calls may not share a batch (the same
	// command twice): the later one waits for the next batch.
	conflicts func(a, b T) bool
	stop      chan struct{}
	stopOnce  sync.Once
	done      sync.WaitGroup
}

// pendingCall is one caller's call waiting for its batch.
type pendingCall[T, R any] struct {
	ctx  context.Context
	in   T
	out  R
	err  error
	done chan struct{}
}

func newGroupCommitter[T, R any](maxBatch, committers int, commit func(context.Context, []*pendingCall[T, R]) error,
	alone func(context.Context, T) (R, error), conflicts func(a, b T) bool) *groupCommitter[T, R] {
	g := &groupCommitter[T, R]{calls: make(chan *pendingCall[T, R]), maxBatch: maxBatch, commit: commit, alone: alone,
		conflicts: conflicts, stop: make(chan struct{})}
	for range committers {
		g.done.Add(1)
		go g.run()
	}
	return g
}

// do makes one call through a batch and returns its answer.
func (g *groupCommitter[T, R]) do(ctx context.Context, in T) (R, error) {
	c := &pendingCall[T, R]{ctx: ctx, in: in, done: make(chan struct{})}
	select {
	case g.calls <- c:
	case <-ctx.Done():
		var zero R
		return zero, ctx.Err()
	case <-g.stop:
		return g.alone(ctx, in)
	}
	<-c.done
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
		if err := c.ctx.Err(); err != nil {
			c.err = err
			close(c.done)
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	if len(live) == 1 {
		// Alone: the single-call transaction, exactly as without batching.
		c := live[0]
		c.out, c.err = g.alone(ctx, c.in)
		close(c.done)
		return
	}
	err := g.commit(ctx, live)
	if err != nil && refusedByServer(err) {
		// PostgreSQL refused the batch (one call's data, a trackId taken,
		// a deadlock) and nothing of it was written: each call alone gets
		// its own answer.
		for _, c := range live {
			actx, acancel := context.WithTimeout(context.Background(), batchTimeout)
			c.out, c.err = g.alone(actx, c.in)
			acancel()
			close(c.done)
		}
		return
	}
	for _, c := range live {
		if err != nil {
			c.err = err
		}
		close(c.done)
	}
}

// refusedByServer reports an error PostgreSQL gave about a statement or
// commit it refused (the transaction did not commit), as opposed to one
// that says it is unavailable: a lost connection, a server shutting down
// or out of resources (SQLSTATE classes 08, 53, 57), a timeout. Calls of a
// refused batch may succeed alone; those of an unavailable server would
// only fail again, one by one.
func refusedByServer(err error) bool {
	if IsDataError(err) {
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
