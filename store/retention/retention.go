// Package retention forgets what blockd no longer needs, so that its tables
// stop growing: finished commands with their provider calls and finished
// holds once they are older than the retention window, and published
// outbox rows once they are older than theirs. What may be forgotten is the
// store's rule (store.PruneFinished says exactly what); this job applies it
// all the time, whatever the load, in bounded batches so that no delete
// holds locks or a transaction for long.
//
// Forgetting a command forgets its trackId: a command redelivered with it
// afterwards is a new command. The window must therefore be longer than
// any redelivery can be late (see the README's "Retention").
package retention

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/blockd/blockd/schemas"
)

// Store is what the job deletes from (store.Store in production).
type Store interface {
	PruneFinished(ctx context.Context, keep time.Duration, limit int) (schemas.PruneCounts, error)
	PrunePublished(ctx context.Context, keep time.Duration, limit int) (int64, error)
}

// Config tunes a Job. Zero values get the defaults in the comments.
type Config struct {
	// Commands is how long finished commands, their calls and finished
	// holds are kept. Default 720h (30 days).
	Commands time.Duration
	// Outbox is how long published outbox rows are kept. Default 24h.
	Outbox time.Duration
	// Every is the time between two rounds. Default 1m.
	Every time.Duration
	// BatchSize is the most rows one batch deletes (per table). Default 1000.
	BatchSize int
	// MaxBatches bounds a round; the rest waits for the next one. Default 100.
	MaxBatches int
}

func (c *Config) setDefaults() {
	if c.Commands == 0 {
		c.Commands = 720 * time.Hour
	}
	if c.Outbox == 0 {
		c.Outbox = 24 * time.Hour
	}
	if c.Every == 0 {
		c.Every = time.Minute
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1000
	}
	if c.MaxBatches == 0 {
		c.MaxBatches = 100
	}
}

// Job deletes, round after round, what the retention windows let go.
type Job struct {
	cfg   Config
	store Store
	log   zerolog.Logger
}

// New returns a Job over st.
func New(cfg Config, st Store, log zerolog.Logger) *Job {
	cfg.setDefaults()
	return &Job{cfg: cfg, store: st, log: log.With().Str("component", "retention").Logger()}
}

// Totals count what a round deleted.
type Totals struct {
	schemas.PruneCounts
	OutboxRows int64
}

// Run runs a round at once and then every Every until ctx ends. A round
// that fails is logged and the next one tries again; Run returns nil.
func (j *Job) Run(ctx context.Context) error {
	tick := time.NewTicker(j.cfg.Every)
	defer tick.Stop()
	for {
		t, err := j.Round(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			j.log.Warn().Err(err).Msg("pruning what the retention windows let go")
		case t != (Totals{}):
			j.log.Info().Int64("commands", t.Commands).Int64("providerCalls", t.ProviderCalls).Int64("holds", t.Holds).
				Int64("outboxRows", t.OutboxRows).Msg("pruned what the retention windows let go")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Round deletes batch after batch until a batch finds less than a full one
// or MaxBatches were run, for commands and then for the outbox.
func (j *Job) Round(ctx context.Context) (Totals, error) {
	var t Totals
	for range j.cfg.MaxBatches {
		n, err := j.store.PruneFinished(ctx, j.cfg.Commands, j.cfg.BatchSize)
		if err != nil {
			return t, err
		}
		t.Commands, t.ProviderCalls, t.Holds = t.Commands+n.Commands, t.ProviderCalls+n.ProviderCalls, t.Holds+n.Holds
		if n.Commands < int64(j.cfg.BatchSize) && n.Holds < int64(j.cfg.BatchSize) {
			break
		}
	}
	for range j.cfg.MaxBatches {
		n, err := j.store.PrunePublished(ctx, j.cfg.Outbox, j.cfg.BatchSize)
		if err != nil {
			return t, err
		}
		t.OutboxRows += n
		if n < int64(j.cfg.BatchSize) {
			break
		}
	}
	return t, nil
}
