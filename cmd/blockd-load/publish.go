package main

import (
	"context"
	"errors"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// publisher hands the run's commands to one kafka.Writer from a few
// goroutines, each owning a share of the keys, so that one key's commands
// are written in order (a goroutine hands its next chunk only once the
// broker acknowledged the last), paced by a token bucket when a rate is
// set.
type publisher struct {
	w      *kafka.Writer
	src    *commandSource
	tally  *tally
	rate   float64 // commands/s offered; 0: as fast as the writers go
	shards int     // writing goroutines
	chunk  int     // the most commands a goroutine hands the writer at once
}

// newWriter is the writer of the commands: batches of up to 1000
// messages per partition, sent after 2 ms at the latest, each acknowledged
// by all in-sync replicas. Its Completion records, per message, when the
// broker acknowledged it (or that the writer gave up on it).
func newWriter(brokers []string, t *tally) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    1000,
		BatchTimeout: 2 * time.Millisecond,
		MaxAttempts:  3,
		WriteTimeout: 10 * time.Second,
		ReadTimeout:  10 * time.Second,
		Completion: func(msgs []kafka.Message, err error) {
			now := time.Now()
			idx := make([]int, 0, len(msgs))
			for _, m := range msgs {
				if i, ok := m.WriterData.(int); ok {
					idx = append(idx, i)
				}
			}
			t.acked(idx, now, err)
		},
	}
}

// run publishes commands 0..n-1 and returns when each was acknowledged or
// given up, or ctx ended.
func (p *publisher) run(ctx context.Context, n int) error {
	queues := make([]chan int, p.shards)
	for i := range queues {
		queues[i] = make(chan int, 2*p.chunk)
	}
	var g errgroup.Group
	for _, q := range queues {
		g.Go(func() error { return p.write(ctx, q) })
	}
	genErr := p.generate(ctx, n, queues)
	for _, q := range queues {
		close(q)
	}
	return errors.Join(genErr, g.Wait())
}

// generate hands each command number to the queue of its key, at the
// rate: in steps of 10 ms worth of commands, so a high rate costs few
// timer wake-ups.
func (p *publisher) generate(ctx context.Context, n int, queues []chan int) error {
	step := 1
	var lim *rate.Limiter
	if p.rate > 0 {
		step = max(1, int(p.rate/100))
		lim = rate.NewLimiter(rate.Limit(p.rate), step)
	}
	for i := 0; i < n; {
		k := min(step, n-i)
		if lim != nil {
			if err := lim.WaitN(ctx, k); err != nil {
				return err
			}
		}
		for j := i; j < i+k; j++ {
			select {
			case queues[p.src.keyIndex(j)%len(queues)] <- j:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		i += k
	}
	return nil
}

// write hands the commands of one queue to the writer, as many as are
// waiting (up to chunk) at a time.
func (p *publisher) write(ctx context.Context, q <-chan int) error {
	idx := make([]int, 0, p.chunk)
	msgs := make([]kafka.Message, 0, p.chunk)
	for first := range q {
		idx = append(idx[:0], first)
	more:
		for len(idx) < p.chunk {
			select {
			case i, ok := <-q:
				if !ok {
					break more
				}
				idx = append(idx, i)
			default:
				break more
			}
		}
		msgs = msgs[:0]
		for _, i := range idx {
			m, err := p.src.message(i)
			if err != nil {
				return err
			}
			msgs = append(msgs, m)
		}
		p.tally.handed(idx, time.Now())
		if err := p.w.WriteMessages(ctx, msgs...); err != nil {
			// Completion recorded the verdict of every batch the writer
			// sent; this records the messages it never sent as failed.
			p.tally.acked(idx, time.Now(), err)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}
