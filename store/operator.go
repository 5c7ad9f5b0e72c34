package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/blockd/blockd/schemas"
)

// CommandDetail returns what is stored about the command trackID names:
// its state, its calls and its result event as stored. It fails with
// schemas.ErrCommandNotFound when there is none.
func (s *Store) CommandDetail(ctx context.Context, trackID string) (schemas.CommandDetail, error) {
	var row struct {
		Kind                string         `db:"kind"`
		Provider            string         `db:"provider"`
		State               string         `db:"state"`
		Attempts            int            `db:"attempts"`
		ReceivedAt          time.Time      `db:"received_at"`
		CompletedAt         sql.NullTime   `db:"completed_at"`
		InDoubtReason       sql.NullString `db:"in_doubt_reason"`
		InDoubtSince        sql.NullTime   `db:"in_doubt_since"`
		NeedsReconciliation bool           `db:"needs_reconciliation"`
		ReconcileReason     sql.NullString `db:"reconcile_reason"`
		ReconciledBy        sql.NullString `db:"reconciled_by"`
		ReconciledAt        sql.NullTime   `db:"reconciled_at"`
		ReconcileVerdict    sql.NullString `db:"reconcile_verdict"`
		ReconcileNote       sql.NullString `db:"reconcile_note"`
		EventID             sql.NullString `db:"event_id"`
		ResultTopic         sql.NullString `db:"result_topic"`
		Result              []byte         `db:"result"`
		ResultHeaders       []byte         `db:"result_headers"`
		Traceparent         sql.NullString `db:"traceparent"`
	}
	err := s.db.GetContext(ctx, &row, `
		SELECT kind, provider, state, attempts, received_at, completed_at, in_doubt_reason, in_doubt_since,
		       needs_reconciliation, reconcile_reason, reconciled_by, reconciled_at, reconcile_verdict, reconcile_note,
		       event_id::text AS event_id, result_topic, result, result_headers, traceparent
		FROM commands WHERE track_id = $1`, trackID)
	if errors.Is(err, sql.ErrNoRows) {
		return schemas.CommandDetail{}, schemas.ErrCommandNotFound
	}
	if err != nil {
		return schemas.CommandDetail{}, fmt.Errorf("reading command: %w", err)
	}
	d := schemas.CommandDetail{TrackID: trackID, Kind: row.Kind, Provider: row.Provider, State: schemas.State(row.State),
		Attempts: row.Attempts, ReceivedAt: row.ReceivedAt, InDoubtReason: row.InDoubtReason.String,
		NeedsReconciliation: row.NeedsReconciliation, ReconcileReason: row.ReconcileReason.String,
		EventID: row.EventID.String, ResultTopic: row.ResultTopic.String, Traceparent: row.Traceparent.String,
		Calls: []schemas.CallDetail{}}
	if row.CompletedAt.Valid {
		d.CompletedAt = &row.CompletedAt.Time
	}
	if row.InDoubtSince.Valid {
		d.InDoubtSince = &row.InDoubtSince.Time
	}
	if row.ReconcileVerdict.Valid {
		d.Verdict = &schemas.VerdictRecord{Verdict: row.ReconcileVerdict.String, By: row.ReconciledBy.String,
			Reason: row.ReconcileNote.String, At: row.ReconciledAt.Time}
	}
	if len(row.Result) > 0 {
		if json.Valid(row.Result) {
			d.Result = row.Result
		} else {
			d.Result, _ = json.Marshal(string(row.Result))
		}
	}
	if len(row.ResultHeaders) > 0 {
		d.ResultHeaders = row.ResultHeaders
	}
	rows, err := s.db.QueryxContext(ctx, `
		SELECT provider_track_id, attempt, state, coalesce(error_code, ''), coalesce(http_status, 0), coalesce(evidence, ''),
		       started_at, finished_at, coalesce(late_state, '')
		FROM provider_calls WHERE track_id = $1 ORDER BY attempt`, trackID)
	if err != nil {
		return d, fmt.Errorf("reading the command's calls: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c schemas.CallDetail
		var finished sql.NullTime
		if err := rows.Scan(&c.ProviderTrackID, &c.Attempt, &c.State, &c.ErrorCode, &c.HTTPStatus, &c.Evidence, &c.StartedAt, &finished, &c.LateState); err != nil {
			return d, fmt.Errorf("reading a call: %w", err)
		}
		if finished.Valid {
			c.FinishedAt = &finished.Time
		}
		d.Calls = append(d.Calls, c)
	}
	if err := rows.Err(); err != nil {
		return d, fmt.Errorf("reading the command's calls: %w", err)
	}
	return d, nil
}

// requeueResults queues the stored results of the commands trackIDs in the
// outbox, as they are stored with each command (same eventId, same
// headers, key the trackId), in trackId order, and reports how many there
// were: a result just recorded (completeBatch), or one queued again (a
// redelivery, a replay).
func (s *Store) requeueResults(ctx context.Context, tx *sqlx.Tx, trackIDs ...string) (int64, error) {
	if len(trackIDs) == 0 {
		return 0, nil
	}
	res, err := s.txExec(ctx, tx, `
		INSERT INTO outbox (topic, key, value, headers)
		SELECT result_topic, convert_to(track_id, 'UTF8'), result, result_headers FROM commands
		WHERE track_id = ANY($1) AND result IS NOT NULL ORDER BY track_id`, pq.Array(trackIDs))
	if err != nil {
		return 0, fmt.Errorf("queueing stored results: %w", err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		return 0, nil
	}
	return n, s.notify(ctx, tx)
}

// ReplayResult queues the stored result of the finished command trackID
// for publishing again, as a redelivery of it does: the same eventId, the
// same headers. It fails with schemas.ErrCommandNotFound, or
// schemas.ErrOperatorRefused when the command has no result yet.
func (s *Store) ReplayResult(ctx context.Context, trackID string) (eventID string, err error) {
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		var row struct {
			State   string         `db:"state"`
			EventID sql.NullString `db:"event_id"`
		}
		err := tx.GetContext(ctx, &row, `SELECT state, event_id::text AS event_id FROM commands WHERE track_id = $1 FOR UPDATE`, trackID)
		if errors.Is(err, sql.ErrNoRows) {
			return schemas.ErrCommandNotFound
		}
		if err != nil {
			return fmt.Errorf("reading command: %w", err)
		}
		if !schemas.State(row.State).Terminal() {
			return fmt.Errorf("%w: the command is %s and has no result yet", schemas.ErrOperatorRefused, row.State)
		}
		queued, err := s.requeueResults(ctx, tx, trackID)
		if err != nil {
			return err
		}
		if queued == 0 {
			return fmt.Errorf("%w: the command is %s but no result is stored with it", schemas.ErrOperatorRefused, row.State)
		}
		eventID = row.EventID.String
		return nil
	})
	return eventID, err
}

// VerdictOutcome is what recording an operator's verdict did.
type VerdictOutcome struct {
	// Repeated: the same verdict was already recorded; nothing changed.
	Repeated bool
}

// lockForVerdict locks the command's row and returns its state, whether it
// is flagged for reconciliation, its attempts and the verdict recorded on
// it, if any.
func lockForVerdict(ctx context.Context, tx *sqlx.Tx, trackID string) (state schemas.State, flagged bool, attempts int, verdict string, err error) {
	var row struct {
		State    string         `db:"state"`
		Flagged  bool           `db:"needs_reconciliation"`
		Attempts int            `db:"attempts"`
		Verdict  sql.NullString `db:"reconcile_verdict"`
	}
	err = tx.GetContext(ctx, &row, `
		SELECT state, needs_reconciliation, attempts, reconcile_verdict FROM commands WHERE track_id = $1 FOR UPDATE`, trackID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, 0, "", schemas.ErrCommandNotFound
	}
	if err != nil {
		return "", false, 0, "", fmt.Errorf("reading command: %w", err)
	}
	return schemas.State(row.State), row.Flagged, row.Attempts, row.Verdict.String, nil
}

// repeatedVerdict answers a verdict on a command that already has one and
// is no longer open to one: the same verdict again is a no-op; another is
// refused.
func repeatedVerdict(state schemas.State, flagged bool, recorded, given string) (VerdictOutcome, bool, error) {
	if recorded == "" || state == schemas.StateInDoubt || flagged {
		return VerdictOutcome{}, false, nil
	}
	if recorded == given {
		return VerdictOutcome{Repeated: true}, true, nil
	}
	return VerdictOutcome{}, true, fmt.Errorf("%w: already resolved as %s; a different verdict is not taken", schemas.ErrOperatorRefused, recorded)
}

// RecordReconcileVerdict records an operator's verdict on a finished
// command flagged for reconciliation: who, when, which and why, and clears
// the flag, so that it leaves the reconciliation list. Nothing is
// published: the command's one result stands. The same verdict again is a
// no-op (Repeated); anything else is refused (schemas.ErrOperatorRefused)
// unless the command is finished and flagged.
func (s *Store) RecordReconcileVerdict(ctx context.Context, v schemas.OperatorVerdict) (VerdictOutcome, error) {
	var out VerdictOutcome
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		state, flagged, _, recorded, err := lockForVerdict(ctx, tx, v.TrackID)
		if err != nil {
			return err
		}
		if o, done, err := repeatedVerdict(state, flagged, recorded, v.Verdict); done {
			out = o
			return err
		}
		if !state.Terminal() || !flagged {
			return fmt.Errorf("%w: the command is %s and not flagged for reconciliation", schemas.ErrOperatorRefused, state)
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE commands SET needs_reconciliation = false, reconciled_by = $2, reconciled_at = now(), reconcile_verdict = $3,
			       reconcile_note = $4, updated_at = now()
			WHERE track_id = $1`, v.TrackID, v.By, v.Verdict, v.Reason)
		if err != nil {
			return fmt.Errorf("recording the verdict: %w", err)
		}
		return nil
	})
	return out, err
}

// SettleInDoubtByOperator ends an IN_DOUBT command on an operator's
// verdict, without a claim: under the command's row lock, and only while it
// is still IN_DOUBT with the attempts the settlement was built for. Its open
// calls (SENDING, UNKNOWN) are recorded with the operator's evidence:
// FAILED on "not-applied", and then what the command reserved in the holds
// ledger is given back exactly as after a call that certainly did not apply
// (an unblock's hold back to BLOCKED, a transfer's back to UNBLOCKED); on
// "applied" the latest open call is recorded DONE and the ledger is left as
// it is (the caller allows it only for commands whose ledger needs nothing
// from the provider's answer). What the calls record must allow the
// verdict (see verdictFitsCalls). The verdict is recorded (who, when,
// which, why), the reconciliation flag cleared, and the result is stored
// and queued in the outbox, all in one transaction. A worker still resolving the command then finds it settled
// (its completion fails as not claimed, and its answer is kept as a late
// answer, flagging any contradiction).
func (s *Store) SettleInDoubtByOperator(ctx context.Context, st schemas.OperatorSettlement) (VerdictOutcome, error) {
	v := st.Verdict
	headers, err := json.Marshal(st.Result.Headers)
	if err != nil {
		return VerdictOutcome{}, fmt.Errorf("encoding result headers: %w", err)
	}
	var out VerdictOutcome
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		state, flagged, attempts, recorded, err := lockForVerdict(ctx, tx, v.TrackID)
		if err != nil {
			return err
		}
		if o, done, err := repeatedVerdict(state, flagged, recorded, v.Verdict); done {
			out = o
			return err
		}
		if state != schemas.StateInDoubt {
			return fmt.Errorf("%w: the command is %s, no longer IN_DOUBT", schemas.ErrOperatorRefused, state)
		}
		if attempts != st.Attempts {
			return fmt.Errorf("%w: the command made another call meanwhile; look at it again", schemas.ErrOperatorRefused)
		}
		if err := verdictFitsCalls(ctx, tx, v, st.CallTimeout, st.LandingMargin); err != nil {
			return err
		}
		evidence := schemas.BoundReason("operator " + v.By + ": " + v.Reason)
		if _, err := tx.ExecContext(ctx, `
			UPDATE commands SET state = $2, event_id = $3, result_topic = $4, result = $5, result_headers = $6,
			       completed_at = now(), updated_at = now(), completed_by = 'operator:' || $7, owner = NULL, claim = NULL, lease_until = NULL,
			       needs_reconciliation = false, reconciled_by = $7, reconciled_at = now(), reconcile_verdict = $8, reconcile_note = $9
			WHERE track_id = $1 AND state = 'IN_DOUBT'`,
			v.TrackID, st.State, st.EventID, st.Result.Topic, st.Result.Value, headers, v.By, v.Verdict, v.Reason); err != nil {
			return fmt.Errorf("recording the outcome: %w", err)
		}
		if v.Verdict == schemas.VerdictNotApplied {
			if _, err := tx.ExecContext(ctx, `
				UPDATE provider_calls SET state = 'FAILED', error_code = $2, finished_at = coalesce(finished_at, now()), evidence = $3
				WHERE track_id = $1 AND state IN ('SENDING', 'UNKNOWN')`, v.TrackID, schemas.CodeOperatorNotApplied, evidence); err != nil {
				return fmt.Errorf("recording the calls not applied: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `
				UPDATE holds SET state = 'BLOCKED', unblock_track_id = NULL, unblock_provider_track_id = NULL, updated_at = now()
				WHERE unblock_track_id = $1 AND state = 'UNBLOCKING'`, v.TrackID); err != nil {
				return fmt.Errorf("giving back hold: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `
				UPDATE holds SET state = 'UNBLOCKED', transfer_track_id = NULL, transfer_provider_track_id = NULL, updated_at = now()
				WHERE transfer_track_id = $1 AND state = 'TRANSFERRING'`, v.TrackID); err != nil {
				return fmt.Errorf("giving back hold after transfer: %w", err)
			}
		} else if _, err := tx.ExecContext(ctx, `
			UPDATE provider_calls SET state = 'DONE', finished_at = coalesce(finished_at, now()), evidence = $2
			WHERE track_id = $1 AND attempt = (
			      SELECT max(attempt) FROM provider_calls WHERE track_id = $1 AND state IN ('SENDING', 'UNKNOWN'))`, v.TrackID, evidence); err != nil {
			return fmt.Errorf("recording the call applied: %w", err)
		}
		return s.enqueue(ctx, tx, []schemas.Outbound{st.Result})
	})
	return out, err
}

// verdictFitsCalls refuses a verdict that what the command's calls record
// contradicts, or that cannot be known yet (schemas.ErrOperatorRefused).
// Its command's row is locked, so its calls do not change meanwhile.
//
// "not-applied" is refused while an open call (SENDING, UNKNOWN) can still
// land at the provider: until the latest intent of one + 2 × callTimeout +
// landingMargin, the service's own rule (providers.Request.CannotLandAfter);
// and refused when a call is recorded applied (DONE, or a late answer
// DONE). "applied" is refused when no call may have been applied: every
// call FAILED or NOT_SENT, with no late answer DONE.
func verdictFitsCalls(ctx context.Context, tx *sqlx.Tx, v schemas.OperatorVerdict, callTimeout, landingMargin time.Duration) error {
	var calls struct {
		Applied    bool         `db:"applied"`
		MayBe      bool         `db:"may_be"`
		LandsUntil sql.NullTime `db:"lands_until"`
		StillLands bool         `db:"still_lands"`
	}
	window := 2*callTimeout + landingMargin
	err := tx.GetContext(ctx, &calls, `
		SELECT coalesce(bool_or(state = 'DONE' OR late_state = 'DONE'), false) AS applied,
		       coalesce(bool_or(state IN ('SENDING', 'UNKNOWN', 'DONE') OR late_state = 'DONE'), false) AS may_be,
		       max(started_at) FILTER (WHERE state IN ('SENDING', 'UNKNOWN')) + make_interval(secs => $2) AS lands_until,
		       coalesce(max(started_at) FILTER (WHERE state IN ('SENDING', 'UNKNOWN')) + make_interval(secs => $2) > now(), false) AS still_lands
		FROM provider_calls WHERE track_id = $1`, v.TrackID, window.Seconds())
	if err != nil {
		return fmt.Errorf("reading the command's calls: %w", err)
	}
	switch v.Verdict {
	case schemas.VerdictNotApplied:
		if calls.Applied {
			return fmt.Errorf("%w: a call of the command is recorded applied (DONE, or a late answer DONE); "+
				"it cannot be resolved not-applied: look at it (blockd status) and at the provider's statement again", schemas.ErrOperatorRefused)
		}
		if calls.StillLands {
			return fmt.Errorf("%w: a call of the command may still land at the provider until %s "+
				"(its intent + 2 × BLOCKD_CALL_TIMEOUT + BLOCKD_LANDING_MARGIN); not-applied is taken from then on",
				schemas.ErrOperatorRefused, calls.LandsUntil.Time.Add(time.Second-1).Truncate(time.Second).UTC().Format(time.RFC3339))
		}
	case schemas.VerdictApplied:
		if !calls.MayBe {
			return fmt.Errorf("%w: no call of the command may have been applied (each is FAILED or NOT_SENT); "+
				"it cannot be resolved applied", schemas.ErrOperatorRefused)
		}
	}
	return nil
}
