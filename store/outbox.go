package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/blockd/blockd/schemas"
)

// maxReasonLen bounds the error text kept with an outbox row.
const maxReasonLen = 1000

// PublishPending hands the oldest outbox rows that are due, in id order, to
// publish, and records the verdict publish gives on each: published,
// failed for now (tried again after its delay), or set aside for good. A
// row is due when it is not published, not set aside, not waiting out a
// failure, and no earlier row of its topic and key is set aside or waiting
// out a failure: rows of one key are published in the order they were
// written, and one bad row holds back only the later rows of its own key.
//
// One relay at a time per schema does this, under a transaction-scoped
// advisory lock; the pass of a relay that finds the lock taken selects
// nothing.
func (s *Store) PublishPending(ctx context.Context, limit int, publish func(ctx context.Context, rows []schemas.OutboxRow) []schemas.OutboxOutcome) (schemas.OutboxPass, error) {
	var pass schemas.OutboxPass
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		pass = schemas.OutboxPass{}
		// Marking rows published need not wait for the disk: a mark lost
		// in a crash of PostgreSQL only makes the relay publish those rows
		// again, with the same eventIds, which readers of the results
		// topic already take (at least once). Rows themselves are written,
		// durably, with the state they report.
		if _, err := s.txExec(ctx, tx, `SELECT set_config('synchronous_commit', 'off', true), set_config('plan_cache_mode', 'force_custom_plan', true)`); err != nil {
			return fmt.Errorf("setting up the relay's transaction: %w", err)
		}
		locked, err := s.tryLock(ctx, tx, "blockd_outbox")
		if err != nil {
			return fmt.Errorf("taking relay lock: %w", err)
		}
		if !locked {
			pass.Busy = true
			return nil
		}
		rows, err := s.dueOutboxRows(ctx, tx, limit)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			var next sql.NullFloat64
			if err := tx.GetContext(ctx, &next, `
				SELECT extract(epoch FROM min(retry_at) - now()) FROM outbox
				WHERE published_at IS NULL AND set_aside_at IS NULL AND retry_at > now()`); err != nil {
				return fmt.Errorf("reading outbox: %w", err)
			}
			pass.NextRetry = max(time.Duration(next.Float64*float64(time.Second)), 0)
			if next.Valid && pass.NextRetry == 0 {
				pass.NextRetry = time.Millisecond
			}
			return nil
		}
		pass.Selected = len(rows)
		var published, failed, setAside []int64
		var failedDelay []int64
		var failedReason, setAsideReason []string
		for _, o := range publish(ctx, rows) {
			switch o.Verdict {
			case schemas.OutboxPublished:
				published = append(published, o.ID)
			case schemas.OutboxFailed:
				failed, failedDelay, failedReason = append(failed, o.ID), append(failedDelay, o.RetryIn.Milliseconds()), append(failedReason, clip(o.Reason))
			case schemas.OutboxSetAside:
				setAside, setAsideReason = append(setAside, o.ID), append(setAsideReason, clip(o.Reason))
			}
		}
		pass.Published, pass.Failed, pass.SetAside = len(published), len(failed), len(setAside)
		if len(published) > 0 {
			if _, err := s.txExec(ctx, tx, `
				UPDATE outbox SET published_at = now(), retry_at = NULL, failing_since = NULL WHERE id = ANY($1)`, pq.Array(published)); err != nil {
				return fmt.Errorf("marking outbox rows published: %w", err)
			}
		}
		if len(failed) > 0 {
			if _, err := s.txExec(ctx, tx, `
				UPDATE outbox o SET attempts = o.attempts + 1, retry_at = now() + f.delay * interval '1 millisecond',
				       failing_since = coalesce(o.failing_since, now()), last_error = f.reason
				FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS f(id, delay, reason) WHERE o.id = f.id`,
				pq.Array(failed), pq.Array(failedDelay), pq.Array(failedReason)); err != nil {
				return fmt.Errorf("recording failed outbox rows: %w", err)
			}
		}
		if len(setAside) > 0 {
			if _, err := s.txExec(ctx, tx, `
				UPDATE outbox o SET set_aside_at = now(), set_aside_reason = f.reason, last_error = f.reason, retry_at = NULL
				FROM unnest($1::bigint[], $2::text[]) AS f(id, reason) WHERE o.id = f.id`,
				pq.Array(setAside), pq.Array(setAsideReason)); err != nil {
				return fmt.Errorf("setting outbox rows aside: %w", err)
			}
		}
		return nil
	})
	return pass, err
}

// tryLock takes the transaction-scoped advisory lock called name in this
// store's schema, if no other transaction holds it.
func (s *Store) tryLock(ctx context.Context, tx *sqlx.Tx, name string) (bool, error) {
	st, err := s.stmt(ctx, tx, `SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.' || $1))`)
	if err != nil {
		return false, err
	}
	var locked bool
	err = st.QueryRowContext(ctx, name).Scan(&locked)
	return locked, err
}

// dueOutboxRows reads up to limit rows that are due, oldest first.
func (s *Store) dueOutboxRows(ctx context.Context, tx *sqlx.Tx, limit int) ([]schemas.OutboxRow, error) {
	rows, err := s.txQuery(ctx, tx, `
		SELECT o.id, o.topic, o.key, o.value, o.headers, o.attempts,
		       coalesce(extract(epoch FROM now() - o.failing_since), 0) AS failing_for FROM outbox o
		WHERE o.published_at IS NULL AND o.set_aside_at IS NULL AND (o.retry_at IS NULL OR o.retry_at <= now())
		  AND NOT EXISTS (
		      SELECT 1 FROM outbox e
		      WHERE e.topic = o.topic AND e.key = o.key AND e.id < o.id AND e.published_at IS NULL
		        AND (e.set_aside_at IS NOT NULL OR e.retry_at > now()))
		ORDER BY o.id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("reading outbox: %w", err)
	}
	defer rows.Close()
	var out []schemas.OutboxRow
	for rows.Next() {
		var r schemas.OutboxRow
		var headers []byte
		var failingFor float64
		if err := rows.Scan(&r.ID, &r.Topic, &r.Key, &r.Value, &headers, &r.Attempts, &failingFor); err != nil {
			return nil, fmt.Errorf("reading outbox row: %w", err)
		}
		if err := json.Unmarshal(headers, &r.Headers); err != nil {
			return nil, fmt.Errorf("decoding headers of outbox row %d: %w", r.ID, err)
		}
		r.FailingFor = time.Duration(failingFor * float64(time.Second))
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading outbox: %w", err)
	}
	return out, nil
}

// clip bounds an error text kept with a row, as text PostgreSQL takes
// (valid UTF-8, no NUL), cut on a character boundary.
func clip(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "?"), "\x00", "")
	if len(s) <= maxReasonLen {
		return s
	}
	cut := maxReasonLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// PendingOutbox counts outbox rows waiting to be published, those held
// back behind a set-aside row included; set-aside rows are not counted.
func (s *Store) PendingOutbox(ctx context.Context) (int, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM outbox WHERE published_at IS NULL AND set_aside_at IS NULL`); err != nil {
		return 0, fmt.Errorf("counting outbox: %w", err)
	}
	return n, nil
}

// OutboxHealth reports the outbox for readiness: what waits, what is set
// aside, and how long the oldest row that is not held back has waited.
func (s *Store) OutboxHealth(ctx context.Context) (schemas.OutboxHealth, error) {
	var row struct {
		Pending  int             `db:"pending"`
		SetAside int             `db:"set_aside"`
		Oldest   sql.NullFloat64 `db:"oldest"`
	}
	err := s.db.GetContext(ctx, &row, `
		SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL AND set_aside_at IS NULL) AS pending,
		       (SELECT count(*) FROM outbox WHERE published_at IS NULL AND set_aside_at IS NOT NULL) AS set_aside,
		       (SELECT extract(epoch FROM now() - o.created_at) FROM outbox o
		        WHERE o.published_at IS NULL AND o.set_aside_at IS NULL
		          AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.topic = o.topic AND e.key = o.key AND e.id < o.id
		                          AND e.published_at IS NULL AND e.set_aside_at IS NOT NULL)
		        ORDER BY o.id LIMIT 1) AS oldest`)
	if err != nil {
		return schemas.OutboxHealth{}, fmt.Errorf("reading outbox health: %w", err)
	}
	return schemas.OutboxHealth{Pending: row.Pending, SetAside: row.SetAside,
		OldestPending: time.Duration(row.Oldest.Float64 * float64(time.Second))}, nil
}

// SetAsideOutbox lists the rows set aside as refused for good, oldest
// first, without their values.
func (s *Store) SetAsideOutbox(ctx context.Context, limit int) ([]schemas.SetAsideRow, error) {
	out := []schemas.SetAsideRow{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT o.id, o.topic, coalesce(encode(o.key, 'escape'), '') AS key, length(o.value) AS bytes,
		       coalesce(o.set_aside_reason, '') AS reason, o.created_at, o.set_aside_at,
		       (SELECT count(*) FROM outbox l WHERE l.topic = o.topic AND l.key = o.key AND l.id > o.id AND l.published_at IS NULL) AS held_back
		FROM outbox o WHERE o.set_aside_at IS NOT NULL AND o.published_at IS NULL ORDER BY o.id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("listing set-aside outbox rows: %w", err)
	}
	return out, nil
}

// ErrNotSetAside: no set-aside row has the id given to RetrySetAside.
var ErrNotSetAside = errors.New("no set-aside outbox row has this id")

// RetrySetAside puts set-aside rows back in the relay's hands (after an
// operator created the missing topic, raised the topic's size limit, or
// granted the ACL): the row with id, or every set-aside row when id is 0.
// It returns how many rows it put back.
func (s *Store) RetrySetAside(ctx context.Context, id int64) (int64, error) {
	res, err := s.db.ExecContext(ctx, `
		UPDATE outbox SET set_aside_at = NULL, set_aside_reason = NULL, attempts = 0, retry_at = NULL, failing_since = NULL
		WHERE set_aside_at IS NOT NULL AND published_at IS NULL AND ($1 = 0 OR id = $1)`, id)
	if err != nil {
		return 0, fmt.Errorf("retrying set-aside outbox rows: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("retrying set-aside outbox rows: %w", err)
	}
	if n == 0 && id != 0 {
		return 0, ErrNotSetAside
	}
	if n > 0 {
		if _, err := s.db.ExecContext(ctx, `SELECT pg_notify($1, current_schema())`, OutboxChannel); err != nil {
			return n, fmt.Errorf("notifying relay: %w", err)
		}
	}
	return n, nil
}

// ListenOutbox returns a channel that receives a value whenever a commit in
// this store's schema adds outbox rows (PostgreSQL LISTEN/NOTIFY), at once
// when the commit was a batch of results of this Store, and after every
// reconnect. It stops when ctx ends.
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
			case <-s.localWake:
				wake()
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
