package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/blockd/blockd/schemas"
)

// The sentinel errors of the store. Those of the command phases are
// schemas.ErrNotClaimed and schemas.ErrHoldTaken, so callers can test for
// them without importing store.
var (
	ErrNotClaimed = schemas.ErrNotClaimed
	ErrHoldTaken  = schemas.ErrHoldTaken
	// ErrNoTokenSealer: the store was opened without SealTokens, so it
	// neither keeps nor reads provider tokens.
	ErrNoTokenSealer = errors.New("no token sealer: the store keeps no provider token in clear")
	// ErrTokenUnreadable: a stored token does not open with any configured
	// key (it was sealed with a key that is not configured, or the row was
	// altered or copied from another row).
	ErrTokenUnreadable = errors.New("cannot be opened")
)

// Receive stores a consumed command, or finds the one stored under the same
// trackId, and says what the caller should do with it. owner is the calling
// instance; local reports whether a trackId is being worked on by this
// instance right now. A terminal command's stored result is queued for
// publishing again, with the same eventId, in the same transaction.
// Concurrent calls are recorded together (see groupCommitter).
func (s *Store) Receive(ctx context.Context, cmd schemas.Command, src schemas.SourceMeta, owner string, lease time.Duration, local func(trackID string) bool) (schemas.Receipt, error) {
	in, err := newReceiveCall(cmd, src, owner, lease, local)
	if err != nil {
		return schemas.Receipt{}, err
	}
	return s.receive(ctx, in)
}

// ReceiveAndBegin is Receive for a command whose first provider call needs
// nothing read first (no rule that reads stored state, no provider state
// read): when the command is new, the intent of its first call,
// providerTrackID, is recorded in the same transaction, as BeginCall would
// record it, and the receipt says FirstCall. A command already stored is
// answered exactly as Receive answers it, and no call is recorded.
func (s *Store) ReceiveAndBegin(ctx context.Context, cmd schemas.Command, src schemas.SourceMeta, owner string, lease time.Duration,
	local func(trackID string) bool, providerTrackID string) (schemas.Receipt, error) {
	in, err := newReceiveCall(cmd, src, owner, lease, local)
	if err != nil {
		return schemas.Receipt{}, err
	}
	in.firstCall = providerTrackID
	return s.receive(ctx, in)
}

func (s *Store) receive(ctx context.Context, in receiveCall) (schemas.Receipt, error) {
	if s.receives == nil {
		return s.receiveAlone(ctx, in)
	}
	return s.receives.do(ctx, in)
}

// receiveCall is one Receive, its command encoded.
type receiveCall struct {
	cmd     schemas.Command
	src     schemas.SourceMeta
	owner   string
	lease   time.Duration
	local   func(trackID string) bool
	request []byte
	hash    []byte
	// firstCall is the provider trackId of the first call, whose intent is
	// recorded with a new command (ReceiveAndBegin); "" for none.
	firstCall string
}

func newReceiveCall(cmd schemas.Command, src schemas.SourceMeta, owner string, lease time.Duration, local func(trackID string) bool) (receiveCall, error) {
	request, err := json.Marshal(cmd)
	if err != nil {
		return receiveCall{}, fmt.Errorf("encoding command: %w", err)
	}
	return receiveCall{cmd: cmd, src: src, owner: owner, lease: lease, local: local, request: request, hash: cmd.CanonicalHash()}, nil
}

// receiveAlone is Receive in a transaction of its own.
func (s *Store) receiveAlone(ctx context.Context, in receiveCall) (schemas.Receipt, error) {
	cmd, src := in.cmd, in.src
	var r schemas.Receipt
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		claim := uuid.NewString()
		var receivedAt time.Time
		state, attempts := schemas.StateReceived, 0
		if in.firstCall != "" {
			state, attempts = schemas.StateCalling, 1
		}
		err := tx.QueryRowxContext(ctx, `
			INSERT INTO commands (track_id, kind, provider, request, request_hash, state, attempts, owner, claim, lease_until,
			                      traceparent, source_topic, source_partition, source_offset)
			VALUES ($1, $2, $3, $4, $5, $13, $14, $6, $7, now() + $8 * interval '1 millisecond', NULLIF($9, ''), $10, $11, $12)
			ON CONFLICT (track_id) DO NOTHING
			RETURNING received_at`,
			cmd.TrackID, cmd.Kind, cmd.Provider, in.request, in.hash, in.owner, claim, in.lease.Milliseconds(),
			src.Traceparent, src.Topic, src.Partition, src.Offset, state, attempts).Scan(&receivedAt)
		if err == nil {
			r = schemas.Receipt{Status: schemas.ReceiptNew, Claim: claim, State: state, ReceivedAt: receivedAt, FirstCall: in.firstCall != ""}
			if in.firstCall != "" {
				if _, err := tx.ExecContext(ctx, `
					INSERT INTO provider_calls (provider_track_id, track_id, attempt, state) VALUES ($1, $2, 1, 'SENDING')`,
					in.firstCall, cmd.TrackID); err != nil {
					return fmt.Errorf("recording provider call: %w", err)
				}
			}
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("inserting command: %w", err)
		}
		r, err = s.receiveStored(ctx, tx, in)
		return err
	})
	return r, err
}

// receiveStored answers a Receive whose trackId is already stored, in tx.
func (s *Store) receiveStored(ctx context.Context, tx *sqlx.Tx, in receiveCall) (schemas.Receipt, error) {
	cmd, owner := in.cmd, in.owner
	var row struct {
		Hash       []byte         `db:"request_hash"`
		State      schemas.State  `db:"state"`
		Owner      sql.NullString `db:"owner"`
		Expired    bool           `db:"expired"`
		Attempts   int            `db:"attempts"`
		ReceivedAt time.Time      `db:"received_at"`
	}
	if err := tx.GetContext(ctx, &row, `
		SELECT request_hash, state, owner, coalesce(lease_until < now(), true) AS expired, attempts, received_at
		FROM commands WHERE track_id = $1 FOR UPDATE`, cmd.TrackID); err != nil {
		return schemas.Receipt{}, fmt.Errorf("reading stored command: %w", err)
	}
	r := schemas.Receipt{State: row.State, Attempts: row.Attempts, ReceivedAt: row.ReceivedAt}
	abandoned := row.Expired || (row.Owner.String == owner && !in.local(cmd.TrackID))
	switch {
	case !bytes.Equal(row.Hash, in.hash):
		r.Status = schemas.ReceiptConflict
	case row.State.Terminal():
		r.Status = schemas.ReceiptFinished
		if _, err := s.requeueResults(ctx, tx, cmd.TrackID); err != nil {
			return r, err
		}
	case row.State == schemas.StateInDoubt:
		r.Status = schemas.ReceiptInDoubt
	case !abandoned:
		r.Status = schemas.ReceiptBusy
	case row.State == schemas.StateReceived:
		claim := uuid.NewString()
		if _, err := tx.ExecContext(ctx, `
			UPDATE commands SET owner = $2, claim = $3, lease_until = now() + $4 * interval '1 millisecond', updated_at = now()
			WHERE track_id = $1`, cmd.TrackID, owner, claim, in.lease.Milliseconds()); err != nil {
			return r, fmt.Errorf("taking over command: %w", err)
		}
		r.Status, r.Claim = schemas.ReceiptResumed, claim
	default: // CALLING, abandoned: the call may have been sent.
		if err := markInDoubt(ctx, tx, cmd.TrackID, "owner gone while calling the provider", false); err != nil {
			return r, err
		}
		r.Status, r.State = schemas.ReceiptInDoubt, schemas.StateInDoubt
	}
	return r, nil
}

// markInDoubt moves a CALLING command to IN_DOUBT. The claim holder may keep
// its claim to resolve the command at once; otherwise anyone may claim it.
func markInDoubt(ctx context.Context, tx *sqlx.Tx, trackID, reason string, keepClaim bool) error {
	if _, err := tx.ExecContext(ctx, `
		UPDATE commands SET state = 'IN_DOUBT', in_doubt_reason = $2, in_doubt_since = coalesce(in_doubt_since, now()), updated_at = now(),
		       owner = CASE WHEN $3 THEN owner END, claim = CASE WHEN $3 THEN claim END, lease_until = CASE WHEN $3 THEN lease_until END
		WHERE track_id = $1 AND state = 'CALLING'`, trackID, reason, keepClaim); err != nil {
		return fmt.Errorf("marking command in doubt: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE provider_calls SET state = 'UNKNOWN' WHERE track_id = $1 AND state = 'SENDING'`, trackID); err != nil {
		return fmt.Errorf("marking call unknown: %w", err)
	}
	return nil
}

// MarkInDoubt records that the claimed command's call may have been applied
// and its outcome is not known: CALLING becomes IN_DOUBT and the call
// UNKNOWN. The command is kept and listed for resolution; it is never sent
// again blindly. The caller keeps its claim, to resolve the command at once.
// It fails with ErrNotClaimed when the caller lost the command or it is not
// CALLING.
func (s *Store) MarkInDoubt(ctx context.Context, p schemas.MarkInDoubtParams) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		var ok bool
		if err := tx.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM commands WHERE track_id = $1 AND claim = $2 AND state = 'CALLING')`, p.TrackID, p.Claim); err != nil {
			return fmt.Errorf("checking claim: %w", err)
		}
		if !ok {
			return ErrNotClaimed
		}
		return markInDoubt(ctx, tx, p.TrackID, p.Reason, true)
	})
}

// BeginCall records a provider call attempt and moves the command to
// CALLING, committed before the call is sent. It fails with ErrNotClaimed
// when the caller lost the command, and ErrHoldTaken when ReserveHold names
// a hold another unblock already has.
// Calls that reserve no hold are recorded together (see groupCommitter).
func (s *Store) BeginCall(ctx context.Context, c schemas.CallStart, lease time.Duration) (schemas.CallBegun, error) {
	in := beginCall{CallStart: c, lease: lease}
	if s.begins == nil || c.ReserveHold != "" || c.ReserveTransfer != "" {
		return s.beginCallAlone(ctx, in)
	}
	return s.begins.do(ctx, in)
}

// beginCall is one BeginCall.
type beginCall struct {
	schemas.CallStart
	lease time.Duration
}

// beginCallAlone is BeginCall in a transaction of its own.
func (s *Store) beginCallAlone(ctx context.Context, in beginCall) (begun schemas.CallBegun, err error) {
	c, lease := in.CallStart, in.lease
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var row struct {
			Attempts int    `db:"attempts"`
			Before   []byte `db:"before"`
		}
		err := tx.GetContext(ctx, &row, `
			UPDATE commands SET state = 'CALLING', attempts = attempts + 1, updated_at = now(),
			       lease_until = now() + $3 * interval '1 millisecond', before = coalesce(before, $4)
			WHERE track_id = $1 AND claim = $2 AND state = 'RECEIVED'
			RETURNING attempts, before`, c.TrackID, c.Claim, lease.Milliseconds(), nullJSON(c.Before))
		begun = schemas.CallBegun{Attempt: row.Attempts, Before: row.Before}
		attempt := row.Attempts
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotClaimed
		}
		if err != nil {
			return fmt.Errorf("moving command to CALLING: %w", err)
		}
		if c.ReserveHold != "" {
			res, err := tx.ExecContext(ctx, `
				UPDATE holds SET state = 'UNBLOCKING', unblock_track_id = $2, unblock_provider_track_id = $3, updated_at = now()
				WHERE block_track_id = $1 AND (unblock_track_id IS NULL OR (unblock_track_id = $2 AND state <> 'UNBLOCKED'))`,
				c.ReserveHold, c.TrackID, c.ProviderTrackID)
			if err != nil {
				return fmt.Errorf("reserving hold: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return ErrHoldTaken
			}
		}
		if c.ReserveTransfer != "" {
			res, err := tx.ExecContext(ctx, `
				UPDATE holds SET state = 'TRANSFERRING', transfer_track_id = $2, transfer_provider_track_id = $3, updated_at = now()
				WHERE unblock_track_id = $1 AND (
				      (state = 'UNBLOCKED' AND transfer_track_id IS NULL)
				   OR (state = 'TRANSFERRING' AND transfer_track_id = $2))`,
				c.ReserveTransfer, c.TrackID, c.ProviderTrackID)
			if err != nil {
				return fmt.Errorf("reserving hold for transfer: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return ErrHoldTaken
			}
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO provider_calls (provider_track_id, track_id, attempt, state) VALUES ($1, $2, $3, 'SENDING')`,
			c.ProviderTrackID, c.TrackID, attempt); err != nil {
			return fmt.Errorf("recording provider call: %w", err)
		}
		return nil
	})
	return begun, err
}

// RecordAttemptNotApplied records that the claimed command's call attempt
// certainly did not apply (the provider said so, or it was never sent): the
// call is FAILED with the provider's code and status, and the command goes
// from CALLING back to RECEIVED, still claimed by the caller with its lease
// unchanged, so the caller may make a new attempt with a new provider
// trackId. Any hold the attempt reserved stays reserved for the command.
// It fails with ErrNotClaimed when the caller lost the command or it is not
// CALLING.
func (s *Store) RecordAttemptNotApplied(ctx context.Context, p schemas.RecordAttemptNotAppliedParams) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE commands SET state = 'RECEIVED', updated_at = now() WHERE track_id = $1 AND claim = $2 AND state = 'CALLING'`,
			p.TrackID, p.Claim)
		if err != nil {
			return fmt.Errorf("moving command back to RECEIVED: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotClaimed
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE provider_calls SET state = 'FAILED', error_code = NULLIF($2, ''), http_status = NULLIF($3, 0), finished_at = now()
			WHERE provider_track_id = $1`, p.ProviderTrackID, p.ErrorCode, p.HTTPStatus); err != nil {
			return fmt.Errorf("recording failed attempt: %w", err)
		}
		return nil
	})
}

// Complete records a command's terminal outcome, the ledger change it
// implies, and its outbox messages in one transaction. Only the claim holder
// may complete a command, except that a known answer for the command's latest
// call also settles a command another worker marked IN_DOUBT meanwhile.
// Completions that change the ledger only by creating a hold are recorded
// together (see groupCommitter).
func (s *Store) Complete(ctx context.Context, c schemas.Completion) error {
	if s.completes == nil || c.ReleaseHold != "" || c.UnreserveHold != "" || c.TransferDone != "" || c.UnreserveTransfer != "" {
		return s.completeAlone(ctx, c)
	}
	_, err := s.completes.do(ctx, c)
	return err
}

// completeAlone is Complete in a transaction of its own.
func (s *Store) completeAlone(ctx context.Context, c schemas.Completion) error {
	headers, err := json.Marshal(c.Result.Headers)
	if err != nil {
		return fmt.Errorf("encoding result headers: %w", err)
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE commands SET state = $3, event_id = $4, result_topic = $5, result = $6, result_headers = $7,
			       completed_at = now(), updated_at = now(), completed_by = owner, owner = NULL, claim = NULL, lease_until = NULL,
			       needs_reconciliation = needs_reconciliation OR $9,
			       reconcile_reason = CASE WHEN $9 THEN coalesce(reconcile_reason, NULLIF($11, '')) ELSE reconcile_reason END
			WHERE track_id = $1 AND (
			      (claim = $2 AND state IN ('RECEIVED', 'CALLING', 'IN_DOUBT'))
			   OR ($8 <> '' AND $10 IN ('DONE', 'FAILED') AND state = 'IN_DOUBT' AND EXISTS (
			          SELECT 1 FROM provider_calls p WHERE p.provider_track_id = $8 AND p.track_id = $1 AND p.attempt = commands.attempts)))`,
			c.TrackID, nullUUID(c.Claim), c.State, c.EventID, c.Result.Topic, c.Result.Value, headers, c.ProviderTrackID, c.NeedsReconciliation, c.CallState, c.ReconcileReason)
		if err != nil {
			return fmt.Errorf("recording outcome: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotClaimed
		}
		if c.ProviderTrackID != "" {
			if _, err := tx.ExecContext(ctx, `
				UPDATE provider_calls SET state = $2, error_code = NULLIF($3, ''), http_status = NULLIF($4, 0), finished_at = now(),
				       answer = $5, evidence = NULLIF($6, '')
				WHERE provider_track_id = $1`, c.ProviderTrackID, c.CallState, c.ErrorCode, c.HTTPStatus, nullJSON(c.CallAnswer), c.CallEvidence); err != nil {
				return fmt.Errorf("recording call outcome: %w", err)
			}
		}
		if h := c.CreateHold; h != nil {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO holds (block_track_id, provider, client_id, deposit, amount, description, days, block_date, block_provider_track_id, state)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'BLOCKED')`,
				h.TrackID, h.Provider, h.ClientID, h.Deposit, h.Amount, h.Description, h.Days, h.BlockDate, h.ProviderTrackID); err != nil {
				return fmt.Errorf("recording hold: %w", err)
			}
		}
		if c.ReleaseHold != "" {
			if _, err := tx.ExecContext(ctx, `
				UPDATE holds SET state = 'UNBLOCKED', unblock_date = $3, updated_at = now()
				WHERE block_track_id = $1 AND unblock_track_id = $2`, c.ReleaseHold, c.TrackID, c.UnblockDate); err != nil {
				return fmt.Errorf("releasing hold: %w", err)
			}
		}
		if c.UnreserveHold != "" {
			if _, err := tx.ExecContext(ctx, `
				UPDATE holds SET state = 'BLOCKED', unblock_track_id = NULL, unblock_provider_track_id = NULL, updated_at = now()
				WHERE block_track_id = $1 AND unblock_track_id = $2 AND state = 'UNBLOCKING'`, c.UnreserveHold, c.TrackID); err != nil {
				return fmt.Errorf("giving back hold: %w", err)
			}
		}
		if c.TransferDone != "" {
			if _, err := tx.ExecContext(ctx, `
				UPDATE holds SET state = 'TRANSFERRED', transfer_amount = $3, transfer_destination = $4, transfer_date = $5, updated_at = now()
				WHERE unblock_track_id = $1 AND transfer_track_id = $2`,
				c.TransferDone, c.TrackID, c.TransferAmount, c.TransferDestination, c.TransferDate); err != nil {
				return fmt.Errorf("recording transfer: %w", err)
			}
		}
		if c.UnreserveTransfer != "" {
			if _, err := tx.ExecContext(ctx, `
				UPDATE holds SET state = 'UNBLOCKED', transfer_track_id = NULL, transfer_provider_track_id = NULL, updated_at = now()
				WHERE unblock_track_id = $1 AND transfer_track_id = $2 AND state = 'TRANSFERRING'`, c.UnreserveTransfer, c.TrackID); err != nil {
				return fmt.Errorf("giving back hold after transfer: %w", err)
			}
		}
		return s.enqueue(ctx, tx, []schemas.Outbound{c.Result})
	})
}

// Enqueue queues messages (a conflict answer, a dead letter) in the outbox
// without touching any command.
func (s *Store) Enqueue(ctx context.Context, msgs []schemas.Outbound) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error { return s.enqueue(ctx, tx, msgs) })
}

func (s *Store) enqueue(ctx context.Context, tx *sqlx.Tx, msgs []schemas.Outbound) error {
	if len(msgs) == 0 {
		return nil
	}
	for _, m := range msgs {
		headers, err := json.Marshal(m.Headers)
		if err != nil {
			return fmt.Errorf("encoding headers: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (topic, key, value, headers) VALUES ($1, $2, $3, $4)`,
			m.Topic, m.Key, m.Value, headers); err != nil {
			return fmt.Errorf("queueing outbox message: %w", err)
		}
	}
	return s.notify(ctx, tx)
}

// Lookup returns what is stored about the command trackID names and the
// hold it belongs to (as block, unblock or transfer).
func (s *Store) Lookup(ctx context.Context, trackID string) (schemas.Lookup, error) {
	var row struct {
		Kind     string `db:"kind"`
		Provider string `db:"provider"`
		State    string `db:"state"`
		LastCall string `db:"last_call"`
		ClientID string `db:"client_id"`
		CodeSlot int    `db:"code_slot"`
		Account  string `db:"account_id"`
	}
	err := s.db.GetContext(ctx, &row, `
		SELECT kind, provider, state,
		       coalesce((SELECT provider_track_id FROM provider_calls p WHERE p.track_id = c.track_id ORDER BY attempt DESC LIMIT 1), '') AS last_call,
		       coalesce(c.request->>'clientId',
		                (SELECT h.client_id FROM holds h WHERE h.unblock_track_id = c.track_id OR h.transfer_track_id = c.track_id LIMIT 1),
		                (SELECT h.client_id FROM holds h WHERE h.unblock_track_id = c.request->>'unblockTrackId'),
		                (SELECT h.client_id FROM holds h WHERE h.block_track_id = c.request->>'blockTrackId'), '') AS client_id,
		       CASE WHEN c.provider = 'card' AND c.kind = 'block' AND c.state = 'DONE'
		            THEN coalesce((convert_from(c.result, 'UTF8')::jsonb #>> '{result,codeSlot}')::int, 0) ELSE 0 END AS code_slot,
		       coalesce(c.request->>'accountId', '') AS account_id
		FROM commands c WHERE track_id = $1`, trackID)
	if errors.Is(err, sql.ErrNoRows) {
		return schemas.Lookup{}, nil
	}
	if err != nil {
		return schemas.Lookup{}, fmt.Errorf("reading command %s: %w", trackID, err)
	}
	l := schemas.Lookup{Found: true, Kind: schemas.Kind(row.Kind), Provider: schemas.Provider(row.Provider),
		State: schemas.State(row.State), ProviderTrackID: row.LastCall, ClientID: row.ClientID, CodeSlot: row.CodeSlot, AccountID: row.Account}
	var h struct {
		schemas.BlockRef
		State          string         `db:"state"`
		Unblock        sql.NullString `db:"unblock_track_id"`
		UnblockCall    sql.NullString `db:"unblock_provider_track_id"`
		UnblockDate    sql.NullString `db:"unblock_date"`
		Transfer       sql.NullString `db:"transfer_track_id"`
		TransferCall   sql.NullString `db:"transfer_provider_track_id"`
		TransferAmount sql.NullInt64  `db:"transfer_amount"`
	}
	err = s.db.GetContext(ctx, &h, `
		SELECT block_track_id AS trackid, provider, client_id AS clientid, amount, description, days, deposit,
		       block_date AS blockdate, block_provider_track_id AS providertrackid, state,
		       unblock_track_id, unblock_provider_track_id, unblock_date,
		       transfer_track_id, transfer_provider_track_id, transfer_amount
		FROM holds WHERE block_track_id = $1 OR unblock_track_id = $1 OR transfer_track_id = $1
		ORDER BY (block_track_id = $1) DESC LIMIT 1`, trackID)
	if errors.Is(err, sql.ErrNoRows) {
		return l, nil
	}
	if err != nil {
		return l, fmt.Errorf("reading hold of %s: %w", trackID, err)
	}
	l.Hold = &schemas.Hold{Block: h.BlockRef, State: schemas.HoldState(h.State),
		UnblockTrackID: h.Unblock.String, UnblockProviderTrackID: h.UnblockCall.String, UnblockDate: h.UnblockDate.String,
		TransferTrackID: h.Transfer.String, TransferProviderTrackID: h.TransferCall.String, TransferAmount: h.TransferAmount.Int64}
	return l, nil
}

// EarlierOpen returns the trackId of a command for the same provider and
// account that comes before p.TrackID in the account's order and has no
// outcome yet, or "". The earliest such command is returned.
//
// The account's order is the order the commands were received in, except
// that an unblock naming its block (blockTrackId) comes right after that
// block when the block was received after it. Such an unblock waits for its
// block's outcome before it calls (processor.applyRules); were the block,
// or a command received between the two, held back for it, they would wait
// for each other. A block is the unblock's only when it is a block of the
// same provider and account: an unblock naming anything else, or a block
// not stored yet, holds nothing back, because it calls nothing until that
// block is stored (received after p.TrackID, so ordered after it too) and
// has succeeded, and is refused without a call otherwise.
func (s *Store) EarlierOpen(ctx context.Context, p schemas.EarlierOpenParams) (string, error) {
	var earlier string
	err := s.db.GetContext(ctx, &earlier, `
		WITH account AS (
			SELECT track_id, kind, provider, request, received_at, false AS is_me FROM commands
			WHERE provider = $1 AND request->>'accountId' = $2 AND state IN ('RECEIVED', 'CALLING', 'IN_DOUBT') AND track_id <> $3
			UNION ALL
			SELECT track_id, kind, provider, request, received_at, true FROM commands WHERE track_id = $3
		), placed AS (
			SELECT c.track_id, c.is_me, c.received_at, b.received_at AS block_at, b.track_id AS block_id,
			       c.kind = 'unblock' AND coalesce(c.request->>'blockTrackId', '') <> '' AND b.track_id IS NULL AS unplaced,
			       coalesce((b.received_at, b.track_id) > (c.received_at, c.track_id), false) AS behind_block
			FROM account c LEFT JOIN commands b
			     ON c.kind = 'unblock' AND b.track_id = c.request->>'blockTrackId' AND b.kind = 'block'
			    AND b.provider = c.provider AND b.request->>'accountId' = c.request->>'accountId'
		), ordered AS (
			SELECT track_id, is_me, unplaced, behind_block,
			       CASE WHEN behind_block THEN block_at ELSE received_at END AS at,
			       CASE WHEN behind_block THEN block_id ELSE track_id END AS at_id
			FROM placed
		)
		SELECT c.track_id FROM ordered c JOIN ordered me ON me.is_me
		WHERE NOT c.is_me AND NOT c.unplaced
		  AND (c.at, c.at_id, c.behind_block, c.track_id) < (me.at, me.at_id, me.behind_block, me.track_id)
		ORDER BY c.at, c.at_id, c.behind_block, c.track_id LIMIT 1`, p.Provider, p.AccountID, p.TrackID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("looking for earlier commands on the account: %w", err)
	}
	return earlier, nil
}

// RenewLeases extends the leases owner holds on the commands it is working
// on right now (trackIDs), so that no other instance takes them over while
// owner is alive. A claim nobody works on any more is not renewed: it
// expires and the command is taken over. A row another transaction holds
// (a batch recording the command's next step, which sets its lease anyway)
// is skipped, not waited for: renewal never deadlocks with a batch, and a
// lease is renewed several times before it can run out.
func (s *Store) RenewLeases(ctx context.Context, owner string, lease time.Duration, trackIDs []string) (int64, error) {
	if len(trackIDs) == 0 {
		return 0, nil
	}
	res, err := s.db.ExecContext(ctx, `
		UPDATE commands SET lease_until = now() + $2 * interval '1 millisecond'
		WHERE track_id IN (
		      SELECT track_id FROM commands
		      WHERE owner = $1 AND track_id = ANY($3) AND state IN ('RECEIVED', 'CALLING', 'IN_DOUBT') AND claim IS NOT NULL
		      FOR UPDATE SKIP LOCKED)`,
		owner, lease.Milliseconds(), pq.Array(trackIDs))
	if err != nil {
		return 0, fmt.Errorf("renewing leases: %w", err)
	}
	return res.RowsAffected()
}

// TakeOverAbandoned finds commands left by a dead owner, and RECEIVED
// commands whose claim was given up by ReleaseReceivedClaim once its delay
// is over. Those that never sent a call are claimed for owner and returned
// to be processed; those that may have sent one are marked IN_DOUBT.
func (s *Store) TakeOverAbandoned(ctx context.Context, owner string, lease time.Duration, limit int) (claimed []schemas.Claimed, inDoubt int, err error) {
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `
			WITH gone AS (
				SELECT track_id FROM commands WHERE state = 'CALLING' AND lease_until < now() LIMIT $1 FOR UPDATE SKIP LOCKED)
			UPDATE commands c SET state = 'IN_DOUBT', in_doubt_reason = 'owner gone while calling the provider',
			       in_doubt_since = coalesce(in_doubt_since, now()), owner = NULL, claim = NULL, lease_until = NULL, updated_at = now()
			FROM gone WHERE c.track_id = gone.track_id`, limit)
		if err != nil {
			return fmt.Errorf("marking abandoned calls in doubt: %w", err)
		}
		n, _ := res.RowsAffected()
		inDoubt = int(n)
		if _, err := tx.ExecContext(ctx, `
			UPDATE provider_calls p SET state = 'UNKNOWN'
			FROM commands c WHERE p.track_id = c.track_id AND c.state = 'IN_DOUBT' AND p.state = 'SENDING'`); err != nil {
			return fmt.Errorf("marking abandoned calls unknown: %w", err)
		}
		rows, err := tx.QueryxContext(ctx, `
			WITH gone AS (
				SELECT track_id FROM commands WHERE state = 'RECEIVED' AND lease_until < now() LIMIT $1 FOR UPDATE SKIP LOCKED)
			UPDATE commands c SET owner = $2, claim = gen_random_uuid(), lease_until = now() + $3 * interval '1 millisecond', updated_at = now()
			FROM gone WHERE c.track_id = gone.track_id
			RETURNING c.kind, c.request, c.claim, c.received_at, c.attempts`, limit, owner, lease.Milliseconds())
		if err != nil {
			return fmt.Errorf("claiming abandoned commands: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var a schemas.Claimed
			var kind string
			var request []byte
			if err := rows.Scan(&kind, &request, &a.Claim, &a.ReceivedAt, &a.Attempts); err != nil {
				return fmt.Errorf("reading abandoned command: %w", err)
			}
			if err := json.Unmarshal(request, &a.Command); err != nil {
				return fmt.Errorf("decoding abandoned command: %w", err)
			}
			a.Command.Kind = schemas.Kind(kind)
			claimed = append(claimed, a)
		}
		return rows.Err()
	})
	return claimed, inDoubt, err
}

// ClaimInDoubt claims IN_DOUBT commands that nobody is resolving (no claim,
// or an expired lease, or a claim given up by ReleaseInDoubtClaim whose
// delay is over) for owner.
func (s *Store) ClaimInDoubt(ctx context.Context, owner string, lease time.Duration, limit int) ([]schemas.InDoubtClaim, error) {
	var out []schemas.InDoubtClaim
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		rows, err := tx.QueryxContext(ctx, `
			WITH open AS (
				SELECT track_id FROM commands
				WHERE state = 'IN_DOUBT' AND (lease_until IS NULL OR lease_until < now())
				ORDER BY updated_at LIMIT $1 FOR UPDATE SKIP LOCKED)
			UPDATE commands c SET owner = $2, claim = gen_random_uuid(), lease_until = now() + $3 * interval '1 millisecond', updated_at = now()
			FROM open LEFT JOIN LATERAL (
				SELECT * FROM provider_calls p WHERE p.track_id = open.track_id ORDER BY attempt DESC LIMIT 1) last ON true
			WHERE c.track_id = open.track_id
			RETURNING c.kind, c.request, c.claim, c.received_at, c.attempts, c.in_doubt_since, coalesce(c.traceparent, ''),
			          coalesce(last.provider_track_id, ''), coalesce(last.state, ''), last.answer, coalesce(last.error_code, ''),
			          coalesce(last.evidence, ''), coalesce(extract(epoch FROM now() - last.started_at), 0), c.before`,
			limit, owner, lease.Milliseconds())
		if err != nil {
			return fmt.Errorf("claiming in-doubt commands: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var c schemas.InDoubtClaim
			var kind string
			var request []byte
			var age float64
			if err := rows.Scan(&kind, &request, &c.Claim, &c.ReceivedAt, &c.Attempts, &c.InDoubtSince, &c.Traceparent, &c.ProviderTrackID,
				&c.Call.State, &c.Call.Answer, &c.Call.ErrorCode, &c.Call.Evidence, &age, &c.Before); err != nil {
				return fmt.Errorf("reading in-doubt command: %w", err)
			}
			c.Call.ProviderTrackID = c.ProviderTrackID
			c.Call.Age = time.Duration(age * float64(time.Second))
			if err := json.Unmarshal(request, &c.Command); err != nil {
				return fmt.Errorf("decoding in-doubt command: %w", err)
			}
			c.Command.Kind = schemas.Kind(kind)
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

// RecordInDoubtNotApplied records that the provider confirmed the claimed
// IN_DOUBT command's call was not applied: the call is FAILED with
// CONFIRMED_NOT_APPLIED, and the command goes from IN_DOUBT back to
// RECEIVED (no longer in doubt), still claimed by the caller, so the caller
// may make a new attempt with a new provider trackId. It fails with
// ErrNotClaimed when the caller lost the command or it is not IN_DOUBT.
func (s *Store) RecordInDoubtNotApplied(ctx context.Context, p schemas.RecordInDoubtNotAppliedParams) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE commands SET state = 'RECEIVED', in_doubt_reason = NULL, in_doubt_since = NULL, updated_at = now()
			WHERE track_id = $1 AND claim = $2 AND state = 'IN_DOUBT'`, p.TrackID, p.Claim)
		if err != nil {
			return fmt.Errorf("moving command back to RECEIVED: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotClaimed
		}
		// A NOT_SENT call keeps saying so; a superseded one stays UNKNOWN
		// (nothing proves it was not applied: setting the same state again
		// is what is safe); any other is FAILED, confirmed not applied.
		if _, err := tx.ExecContext(ctx, `
			UPDATE provider_calls SET
			       state = CASE WHEN state = 'NOT_SENT' THEN 'NOT_SENT' WHEN $4 THEN 'UNKNOWN' ELSE 'FAILED' END,
			       error_code = CASE WHEN state = 'NOT_SENT' OR $4 THEN error_code ELSE coalesce(error_code, 'CONFIRMED_NOT_APPLIED') END,
			       finished_at = coalesce(finished_at, now()), evidence = coalesce(NULLIF($2, ''), evidence)
			WHERE track_id = $1 AND provider_track_id = $3 AND state IN ('SENDING', 'UNKNOWN', 'NOT_SENT')`,
			p.TrackID, p.Evidence, p.ProviderTrackID, p.Superseded); err != nil {
			return fmt.Errorf("recording confirmed failure: %w", err)
		}
		return nil
	})
}

// ReleaseReceivedClaim gives up the caller's claim on a RECEIVED command
// that cannot be sent now (its provider is down, or it waits for another
// command). The command stays RECEIVED, unowned; no instance takes it over
// (TakeOverAbandoned, or Receive of a redelivery) before p.RetryIn has
// passed. A claim the caller no longer
// holds, or a command in another state, is left as it is, without error.
func (s *Store) ReleaseReceivedClaim(ctx context.Context, p schemas.ReleaseClaimParams) error {
	if err := s.releaseClaim(ctx, p.TrackID, p.Claim, schemas.StateReceived, p.RetryIn); err != nil {
		return fmt.Errorf("releasing claim on received command: %w", err)
	}
	return nil
}

// ReleaseInDoubtClaim gives up the caller's claim on an IN_DOUBT command
// whose provider could not say yet what became of its call. The command
// stays IN_DOUBT, unowned; ClaimInDoubt claims it again once p.RetryIn has
// passed, not before. A claim the caller no longer holds, or a command in
// another state, is left as it is, without error.
func (s *Store) ReleaseInDoubtClaim(ctx context.Context, p schemas.ReleaseClaimParams) error {
	if err := s.releaseClaim(ctx, p.TrackID, p.Claim, schemas.StateInDoubt, p.RetryIn); err != nil {
		return fmt.Errorf("releasing claim on in-doubt command: %w", err)
	}
	return nil
}

// releaseClaim drops claim on a command still in state, and keeps every
// instance from taking it before retryIn has passed.
func (s *Store) releaseClaim(ctx context.Context, trackID, claim string, state schemas.State, retryIn time.Duration) error {
	_, err := s.db.ExecContext(ctx, `
		UPDATE commands SET owner = NULL, claim = NULL, lease_until = now() + $3 * interval '1 millisecond', updated_at = now()
		WHERE track_id = $1 AND claim = $2 AND state = $4`, trackID, claim, retryIn.Milliseconds(), string(state))
	return err
}

// NeedsReconciliation lists the commands an operator must check at the
// provider: those answered OUTCOME_UNKNOWN, and those a call's answer
// contradicted after it was recorded (see RecordLateAnswer), with the reason.
func (s *Store) NeedsReconciliation(ctx context.Context, limit int) ([]schemas.InDoubtCommand, error) {
	out := []schemas.InDoubtCommand{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT c.track_id, c.kind, c.provider, c.attempts, coalesce(c.reconcile_reason, c.in_doubt_reason, '') AS in_doubt_reason,
		       coalesce((SELECT provider_track_id FROM provider_calls p WHERE p.track_id = c.track_id ORDER BY attempt DESC LIMIT 1), '') AS last_call,
		       c.received_at, c.updated_at
		FROM commands c WHERE c.needs_reconciliation ORDER BY coalesce(c.completed_at, c.updated_at) LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("listing commands to reconcile: %w", err)
	}
	return out, nil
}

// InDoubt lists commands whose provider call may have been applied and
// whose outcome is not recorded, oldest first.
func (s *Store) InDoubt(ctx context.Context, limit int) ([]schemas.InDoubtCommand, error) {
	out := []schemas.InDoubtCommand{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT c.track_id, c.kind, c.provider, c.attempts, coalesce(c.in_doubt_reason, '') AS in_doubt_reason,
		       coalesce((SELECT provider_track_id FROM provider_calls p WHERE p.track_id = c.track_id ORDER BY attempt DESC LIMIT 1), '') AS last_call,
		       c.received_at, c.updated_at
		FROM commands c WHERE c.state = 'IN_DOUBT' ORDER BY c.updated_at LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("listing in-doubt commands: %w", err)
	}
	return out, nil
}

// InDoubtSummary is what the commands table holds for an operator, in
// numbers: the commands IN_DOUBT and how long the oldest has been, and the
// commands flagged for reconciliation.
type InDoubtSummary struct {
	InDoubt int
	// OldestInDoubt is how long the command longest IN_DOUBT has been in
	// doubt; 0 when none is.
	OldestInDoubt       time.Duration
	NeedsReconciliation int
}

// InDoubtSummary counts, in one query, the commands IN_DOUBT (with the age
// of the oldest) and those flagged for reconciliation. Both are read
// through their partial indexes: cheap enough for every metrics scrape.
func (s *Store) InDoubtSummary(ctx context.Context) (InDoubtSummary, error) {
	var row struct {
		InDoubt   int             `db:"in_doubt"`
		Oldest    sql.NullFloat64 `db:"oldest"`
		Reconcile int             `db:"reconcile"`
	}
	err := s.db.GetContext(ctx, &row, `
		SELECT d.n AS in_doubt, d.oldest,
		       (SELECT count(*) FROM commands WHERE needs_reconciliation) AS reconcile
		FROM (SELECT count(*) AS n, extract(epoch FROM now() - min(coalesce(in_doubt_since, updated_at)))::float8 AS oldest
		      FROM commands WHERE state = 'IN_DOUBT') d`)
	if err != nil {
		return InDoubtSummary{}, fmt.Errorf("summarising in-doubt commands: %w", err)
	}
	return InDoubtSummary{InDoubt: row.InDoubt, OldestInDoubt: time.Duration(row.Oldest.Float64 * float64(time.Second)),
		NeedsReconciliation: row.Reconcile}, nil
}

// State returns the stored state of a command, or "" when there is none.
func (s *Store) State(ctx context.Context, trackID string) (schemas.State, error) {
	var st string
	err := s.db.GetContext(ctx, &st, `SELECT state FROM commands WHERE track_id = $1`, trackID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading command state: %w", err)
	}
	return schemas.State(st), nil
}

// RecordCallNotSent records that the call p names, whose intent was
// recorded, was never sent: the worker could no longer prove it held the
// command (its lease could have run out, or the intent was older than the
// call timeout). The call row says NOT_SENT, so whoever settles the command
// knows the call cannot have been applied. If the caller still holds the
// command it goes back to RECEIVED, unclaimed, for any instance to carry
// on; if another worker took it over meanwhile it is left to that worker.
func (s *Store) RecordCallNotSent(ctx context.Context, p schemas.CallNotSentParams) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		// The command row first, as every other writer locks them.
		if _, err := tx.ExecContext(ctx, `SELECT 1 FROM commands WHERE track_id = $1 FOR UPDATE`, p.TrackID); err != nil {
			return fmt.Errorf("locking command: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE provider_calls SET state = 'NOT_SENT', finished_at = now(), evidence = $2
			WHERE provider_track_id = $1 AND state IN ('SENDING', 'UNKNOWN')`, p.ProviderTrackID, p.Reason); err != nil {
			return fmt.Errorf("recording call not sent: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE commands SET state = 'RECEIVED', owner = NULL, claim = NULL, lease_until = now(), updated_at = now()
			WHERE track_id = $1 AND claim = $2 AND state = 'CALLING'`, p.TrackID, nullUUID(p.Claim)); err != nil {
			return fmt.Errorf("giving the command back: %w", err)
		}
		return nil
	})
}

// UnsettledCalls counts the calls of command trackID, other than
// exceptProviderTrackID, whose outcome is not settled: UNKNOWN (one
// superseded by a re-send as safe to repeat, or not resolved) or SENDING.
// Such a call may have been applied whatever a later call's answer says.
func (s *Store) UnsettledCalls(ctx context.Context, trackID, exceptProviderTrackID string) (int, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, `
		SELECT count(*) FROM provider_calls WHERE track_id = $1 AND provider_track_id <> $2 AND state IN ('UNKNOWN', 'SENDING')`,
		trackID, exceptProviderTrackID); err != nil {
		return 0, fmt.Errorf("counting unsettled calls of %s: %w", trackID, err)
	}
	return n, nil
}

// RecordLateAnswer keeps a provider's answer to a call that arrived after
// the worker that sent it lost the command, and says whether it contradicts
// what is recorded. The answer never overwrites what the call row already
// says: a call still SENDING or UNKNOWN takes the answer as its state (so
// whoever settles the command uses it); otherwise the answer is kept beside
// it (late_state, late_answer). It contradicts the record when the call was
// recorded as not applied (FAILED or NOT_SENT) but the answer says DONE, or
// recorded DONE and the answer says FAILED; when the command's outcome is
// FAILED or REJECTED and the call was applied; when the command is DONE by
// another call and this one was applied too; or when a later attempt was
// made for the command after this call was applied. A contradicted command
// is flagged needs_reconciliation, with the reason, and listed by
// NeedsReconciliation; nothing else about it changes.
func (s *Store) RecordLateAnswer(ctx context.Context, a schemas.LateAnswer) (schemas.LateAnswerVerdict, error) {
	var v schemas.LateAnswerVerdict
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		v = schemas.LateAnswerVerdict{}
		var cmd struct {
			State    schemas.State `db:"state"`
			Attempts int           `db:"attempts"`
			Kind     schemas.Kind  `db:"kind"`
		}
		if err := tx.GetContext(ctx, &cmd, `SELECT state, attempts, kind FROM commands WHERE track_id = $1 FOR UPDATE`, a.TrackID); err != nil {
			return fmt.Errorf("reading command: %w", err)
		}
		var call struct {
			State   string `db:"state"`
			Attempt int    `db:"attempt"`
		}
		if err := tx.GetContext(ctx, &call, `
			SELECT state, attempt FROM provider_calls WHERE provider_track_id = $1 AND track_id = $2 FOR UPDATE`,
			a.ProviderTrackID, a.TrackID); err != nil {
			return fmt.Errorf("reading call: %w", err)
		}
		open := call.State == schemas.CallSending || call.State == schemas.CallUnknown
		if open {
			if _, err := tx.ExecContext(ctx, `
				UPDATE provider_calls SET state = $2, answer = $3, error_code = NULLIF($4, ''), http_status = NULLIF($5, 0),
				       evidence = NULLIF($6, ''), finished_at = now(), late_at = now()
				WHERE provider_track_id = $1`,
				a.ProviderTrackID, a.State, nullJSON(a.Answer), a.ErrorCode, a.HTTPStatus, a.Evidence); err != nil {
				return fmt.Errorf("recording late answer: %w", err)
			}
		} else {
			if _, err := tx.ExecContext(ctx, `
				UPDATE provider_calls SET late_state = $2, late_answer = $3, late_at = now() WHERE provider_track_id = $1`,
				a.ProviderTrackID, a.State, nullJSON(a.Answer)); err != nil {
				return fmt.Errorf("recording late answer: %w", err)
			}
		}
		applied := a.State == schemas.CallDone
		var otherDone bool
		if err := tx.GetContext(ctx, &otherDone, `
			SELECT EXISTS (SELECT 1 FROM provider_calls WHERE track_id = $1 AND provider_track_id <> $2 AND (state = 'DONE' OR late_state = 'DONE'))`,
			a.TrackID, a.ProviderTrackID); err != nil {
			return fmt.Errorf("reading the command's other calls: %w", err)
		}
		switch {
		case !open && applied && call.State != schemas.CallDone:
			v.Reason = fmt.Sprintf("call %s was recorded %s but its answer, arriving after its worker lost the command, says it was applied", a.ProviderTrackID, call.State)
		case !open && !applied && call.State == schemas.CallDone:
			v.Reason = fmt.Sprintf("call %s was recorded DONE but its answer, arriving after its worker lost the command, says it failed", a.ProviderTrackID)
		case applied && (cmd.State == schemas.StateFailed || cmd.State == schemas.StateRejected):
			v.Reason = fmt.Sprintf("the command was answered %s but its call %s was applied", cmd.State, a.ProviderTrackID)
		case applied && otherDone:
			v.Reason = fmt.Sprintf("call %s was applied and another call of the command was applied too", a.ProviderTrackID)
		case applied && cmd.Attempts > call.Attempt:
			v.Reason = fmt.Sprintf("call %s was applied after a later attempt was made for the command", a.ProviderTrackID)
		}
		if v.Reason == "" || cmd.Kind == schemas.KindInquiry {
			// An inquiry only reads: two answers to it are no two effects.
			v = schemas.LateAnswerVerdict{}
			return nil
		}
		v.Contradicts = true
		if _, err := tx.ExecContext(ctx, `
			UPDATE commands SET needs_reconciliation = true, reconcile_reason = $2, updated_at = now() WHERE track_id = $1`,
			a.TrackID, v.Reason); err != nil {
			return fmt.Errorf("flagging command for reconciliation: %w", err)
		}
		return nil
	})
	return v, err
}

// nullJSON is a jsonb parameter: NULL for no document.
func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func nullUUID(s string) any {
	if s == "" {
		return nil
	}
	return s
}
