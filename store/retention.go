package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/blockd/blockd/schemas"
)

// What retention deletes, and what it never does.
//
// A command is forgotten once it finished (DONE, FAILED or REJECTED) longer
// than keep ago, with its provider calls, unless a later command may still
// need it or someone must still look at it:
//
//   - a command flagged needs_reconciliation stays (an operator's case);
//   - a command whose result is not published yet (pending, or set aside
//     by the relay) stays, so its answer is never lost while it waits;
//   - a command a hold in the ledger names (its block, unblock or transfer)
//     stays as long as the hold does.
//
// A hold is forgotten, with the block, unblock and transfer it names, only
// once its life is over: TRANSFERRED longer than keep ago, and each of
// those commands forgettable by the rules above. A hold that is BLOCKED,
// UNBLOCKING or TRANSFERRING is in use; one that is UNBLOCKED may still be
// transferred, for which Finnotech needs the unblock's provider trackId
// that only the ledger keeps: all of them stay, whatever their age.
//
// Everything goes in bounded batches (LIMIT, FOR UPDATE SKIP LOCKED), one
// instance at a time (a transaction-scoped advisory lock), each batch in
// its own transaction.

// PruneFinished deletes one batch, up to limit holds and up to limit
// commands, of what finished more than keep ago (see above). A batch
// another instance is deleting at the same moment deletes nothing.
func (s *Store) PruneFinished(ctx context.Context, keep time.Duration, limit int) (schemas.PruneCounts, error) {
	var n schemas.PruneCounts
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		n = schemas.PruneCounts{}
		locked, err := s.tryLock(ctx, tx, "blockd_retention")
		if err != nil {
			return fmt.Errorf("taking retention lock: %w", err)
		}
		if !locked {
			return nil
		}
		// Holds whose life is over, with the commands they name.
		var ledger []struct {
			Block    string `db:"block_track_id"`
			Unblock  string `db:"unblock_track_id"`
			Transfer string `db:"transfer_track_id"`
		}
		if err := tx.SelectContext(ctx, &ledger, `
			SELECT h.block_track_id, h.unblock_track_id, h.transfer_track_id FROM holds h
			WHERE h.state = 'TRANSFERRED' AND h.updated_at < now() - $1 * interval '1 millisecond'
			  AND NOT EXISTS (
			      SELECT 1 FROM commands c
			      WHERE c.track_id IN (h.block_track_id, h.unblock_track_id, h.transfer_track_id)
			        AND (c.state NOT IN ('DONE', 'FAILED', 'REJECTED') OR c.needs_reconciliation
			             OR c.completed_at >= now() - $1 * interval '1 millisecond'
			             OR EXISTS (SELECT 1 FROM outbox o WHERE o.published_at IS NULL AND o.topic = c.result_topic
			                                                 AND o.key = convert_to(c.track_id, 'UTF8'))))
			ORDER BY h.updated_at LIMIT $2 FOR UPDATE OF h SKIP LOCKED`, keep.Milliseconds(), limit); err != nil {
			return fmt.Errorf("finding finished holds: %w", err)
		}
		var holds, ledgerCommands []string
		for _, h := range ledger {
			holds = append(holds, h.Block)
			ledgerCommands = append(ledgerCommands, h.Block, h.Unblock, h.Transfer)
		}
		if len(holds) > 0 {
			res, err := tx.ExecContext(ctx, `DELETE FROM holds WHERE block_track_id = ANY($1)`, pq.Array(holds))
			if err != nil {
				return fmt.Errorf("deleting finished holds: %w", err)
			}
			n.Holds, _ = res.RowsAffected()
		}
		// Other finished commands no hold names.
		var others []string
		if err := tx.SelectContext(ctx, &others, `
			SELECT c.track_id FROM commands c
			WHERE c.state IN ('DONE', 'FAILED', 'REJECTED') AND NOT c.needs_reconciliation
			  AND NOT (c.provider = 'finnotech' AND c.state = 'DONE' AND c.kind IN ('block', 'unblock', 'transfer'))
			  AND c.completed_at < now() - $1 * interval '1 millisecond'
			  AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.block_track_id = c.track_id)
			  AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.unblock_track_id = c.track_id)
			  AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.transfer_track_id = c.track_id)
			  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.published_at IS NULL AND o.topic = c.result_topic
			                                         AND o.key = convert_to(c.track_id, 'UTF8'))
			ORDER BY c.completed_at LIMIT $2 FOR UPDATE OF c SKIP LOCKED`, keep.Milliseconds(), limit); err != nil {
			return fmt.Errorf("finding finished commands: %w", err)
		}
		commands := append(ledgerCommands, others...)
		if len(commands) == 0 {
			return nil
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM provider_calls WHERE track_id = ANY($1)`, pq.Array(commands))
		if err != nil {
			return fmt.Errorf("deleting provider calls of finished commands: %w", err)
		}
		n.ProviderCalls, _ = res.RowsAffected()
		res, err = tx.ExecContext(ctx, `DELETE FROM commands WHERE track_id = ANY($1)`, pq.Array(commands))
		if err != nil {
			return fmt.Errorf("deleting finished commands: %w", err)
		}
		n.Commands, _ = res.RowsAffected()
		return nil
	})
	return n, err
}

// PrunePublished deletes up to limit outbox rows published more than keep
// ago, oldest first. Set-aside rows, never published, are not touched.
func (s *Store) PrunePublished(ctx context.Context, keep time.Duration, limit int) (int64, error) {
	res, err := s.db.ExecContext(ctx, `
		DELETE FROM outbox WHERE id IN (
			SELECT id FROM outbox WHERE published_at < now() - $1 * interval '1 millisecond'
			ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, keep.Milliseconds(), limit)
	if err != nil {
		return 0, fmt.Errorf("pruning published outbox rows: %w", err)
	}
	return res.RowsAffected()
}
