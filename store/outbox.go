package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/blockd/blockd/schemas"
)

// PublishPending hands the oldest unpublished outbox rows, in id order, to
// publish, and marks them published only when publish returns nil (the
// broker acknowledged them). One relay at a time per schema does this,
// under a transaction-scoped advisory lock, so rows for one trackId are
// published in the order they were written. It returns how many rows were
// published; 0 with a nil error also means another relay holds the lock.
func (s *Store) PublishPending(ctx context.Context, limit int, publish func(ctx context.Context, msgs []schemas.Outbound) error) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var locked bool
		if err := tx.GetContext(ctx, &locked, `SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.blockd_outbox'))`); err != nil {
			return fmt.Errorf("taking relay lock: %w", err)
		}
		if !locked {
			return nil
		}
		rows, err := tx.QueryxContext(ctx, `
			SELECT id, topic, key, value, headers FROM outbox
			WHERE published_at IS NULL ORDER BY id LIMIT $1`, limit)
		if err != nil {
			return fmt.Errorf("reading outbox: %w", err)
		}
		var msgs []schemas.Outbound
		var ids []int64
		for rows.Next() {
			var m schemas.Outbound
			var headers []byte
			if err := rows.Scan(&m.ID, &m.Topic, &m.Key, &m.Value, &headers); err != nil {
				rows.Close()
				return fmt.Errorf("reading outbox row: %w", err)
			}
			if err := json.Unmarshal(headers, &m.Headers); err != nil {
				rows.Close()
				return fmt.Errorf("decoding headers of outbox row %d: %w", m.ID, err)
			}
			msgs = append(msgs, m)
			ids = append(ids, m.ID)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading outbox: %w", err)
		}
		if len(msgs) == 0 {
			return nil
		}
		if err := publish(ctx, msgs); err != nil {
			return fmt.Errorf("publishing outbox rows: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET published_at = now() WHERE id = ANY($1)`, pq.Array(ids)); err != nil {
			return fmt.Errorf("marking outbox rows published: %w", err)
		}
		n = len(msgs)
		return nil
	})
	return n, err
}

// PendingOutbox counts outbox rows not yet published.
func (s *Store) PendingOutbox(ctx context.Context) (int, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM outbox WHERE published_at IS NULL`); err != nil {
		return 0, fmt.Errorf("counting outbox: %w", err)
	}
	return n, nil
}

// PrunePublished deletes outbox rows published more than keep ago.
func (s *Store) PrunePublished(ctx context.Context, keep time.Duration) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE published_at < now() - $1 * interval '1 millisecond'`, keep.Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("pruning outbox: %w", err)
	}
	return res.RowsAffected()
}

// ListenOutbox returns a channel that receives a value whenever a commit in
// this store's schema adds outbox rows (PostgreSQL LISTEN/NOTIFY), and after
// every reconnect. It stops when ctx ends.
func (s *Store) ListenOutbox(ctx context.Context, databaseURL string) (<-chan struct{}, error) {
	l := pq.NewListener(databaseURL, 100*time.Millisecond, 5*time.Second, nil)
	if err := l.Listen(OutboxChannel); err != nil {
		l.Close()
		return nil, fmt.Errorf("listening on %s: %w", OutboxChannel, err)
	}
	out := make(chan struct{}, 1)
	wake := func() {
		select {
		case out <- struct{}{}:
		default:
		}
	}
	go func() {
		defer l.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case n := <-l.Notify:
				// nil after a reconnect: notifications may have been missed.
				if n == nil || n.Extra == s.schema {
					wake()
				}
			}
		}
	}()
	return out, nil
}
