package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/blockd/blockd/schemas"
)

// The batched forms of Receive, BeginCall and Complete. Each does in one
// transaction, with set-based statements, what the call's own transaction
// does for one command; the answer for each command is what its own
// transaction would have given. A command is in one batch at a time (its
// calls are made one after another), so batches of the command path lock
// disjoint commands rows; RenewLeases, the one other writer of many rows a
// batch may hold, skips rows that are locked rather than wait for them, so
// it never deadlocks with a batch. Should another writer ever deadlock with
// a batch, PostgreSQL aborts one and the batch's calls are made alone.

// startGroupCommit starts the committers (see groupCommitter).
func (s *Store) startGroupCommit(maxBatch, committers int) {
	s.receives = newGroupCommitter(maxBatch, committers, s.inBatchTx, s.receiveBatch, s.receiveAlone,
		func(a, b receiveCall) bool { return a.cmd.TrackID == b.cmd.TrackID })
	s.begins = newGroupCommitter(maxBatch, committers, s.inBatchTx, s.beginCallBatch, s.beginCallAlone,
		func(a, b beginCall) bool { return a.TrackID == b.TrackID })
	s.completes = newGroupCommitter(maxBatch, committers, s.inBatchTx, s.completeBatch,
		func(ctx context.Context, c schemas.Completion) (struct{}, error) {
			return struct{}{}, s.completeAlone(ctx, c)
		},
		func(a, b schemas.Completion) bool { return a.TrackID == b.TrackID })
	// A relay in this process learns of the results a batch queued at
	// once, without waiting for PostgreSQL's notification.
	s.completes.committed = s.outboxWritten
}

// outboxWritten wakes this process's relay (see ListenOutbox).
func (s *Store) outboxWritten() {
	select {
	case s.localWake <- struct{}{}:
	default:
	}
}

// inBatchTx runs a batch in a transaction that waits at most
// batchLockTimeout for a row another transaction holds, and plans each
// statement for its own arrays (see customPlans).
func (s *Store) inBatchTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := s.txExec(ctx, tx, `SELECT set_config('lock_timeout', $1, true), set_config('plan_cache_mode', 'force_custom_plan', true)`,
			batchLockTimeout.String()); err != nil {
			return fmt.Errorf("setting the batch's lock timeout: %w", err)
		}
		return fn(tx)
	})
}

// stopGroupCommit stops the committers once what they hold is answered.
func (s *Store) stopGroupCommit() {
	for _, stop := range []func(){s.receives.close, s.begins.close, s.completes.close} {
		stop()
	}
}

// byTrackID sorts a batch by trackId: the order its rows are locked in.
func byTrackID[T, R any](batch []*pendingCall[T, R], id func(T) string) {
	slices.SortFunc(batch, func(a, b *pendingCall[T, R]) int { return cmp.Compare(id(a.in), id(b.in)) })
}

// receiveBatch is Receive for several commands (distinct trackIds): the new
// ones are inserted by one statement (with their first calls' intents, if
// asked); each one already stored is handed back to be received alone, so
// a batch locks no row another transaction may hold.
func (s *Store) receiveBatch(ctx context.Context, tx *sqlx.Tx, batch []*pendingCall[receiveCall, schemas.Receipt]) error {
	byTrackID(batch, func(c receiveCall) string { return c.cmd.TrackID })
	n := len(batch)
	var (
		ids, kinds, provs, requests, owners, claims, tps, topics, firstCalls = make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		hashes     = make([][]byte, n)
		leases     = make([]int64, n)
		partitions = make([]int64, n)
		offsets    = make([]int64, n)
	)
	for i, c := range batch {
		in := c.in
		ids[i], kinds[i], provs[i], requests[i], hashes[i] = in.cmd.TrackID, string(in.cmd.Kind), string(in.cmd.Provider), string(in.request), in.hash
		owners[i], claims[i], leases[i], tps[i] = in.owner, uuid.NewString(), in.lease.Milliseconds(), in.src.Traceparent
		topics[i], partitions[i], offsets[i], firstCalls[i] = in.src.Topic, int64(in.src.Partition), in.src.Offset, in.firstCall
	}
	rows, err := s.txQuery(ctx, tx, `
		INSERT INTO commands (track_id, kind, provider, request, request_hash, state, attempts, owner, claim, lease_until,
		                      traceparent, source_topic, source_partition, source_offset)
		SELECT u.id, u.kind, u.provider, u.request::jsonb, u.hash,
		       CASE WHEN u.first <> '' THEN 'CALLING' ELSE 'RECEIVED' END, CASE WHEN u.first <> '' THEN 1 ELSE 0 END,
		       u.owner, u.claim::uuid, now() + u.lease * interval '1 millisecond', NULLIF(u.tp, ''), u.topic, u.part, u.off
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::text[], $8::bigint[],
		            $9::text[], $10::text[], $11::int[], $12::bigint[], $13::text[])
		     AS u(id, kind, provider, request, hash, owner, claim, lease, tp, topic, part, off, first)
		ON CONFLICT (track_id) DO NOTHING
		RETURNING track_id, received_at`,
		pq.Array(ids), pq.Array(kinds), pq.Array(provs), pq.Array(requests), pq.Array(hashes), pq.Array(owners),
		pq.Array(claims), pq.Array(leases), pq.Array(tps), pq.Array(topics), pq.Array(partitions), pq.Array(offsets), pq.Array(firstCalls))
	if err != nil {
		return fmt.Errorf("inserting commands: %w", err)
	}
	inserted := make(map[string]time.Time, n)
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			rows.Close()
			return fmt.Errorf("reading inserted commands: %w", err)
		}
		inserted[id] = at
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("reading inserted commands: %w", err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading inserted commands: %w", err)
	}
	var callIDs, callTracks []string
	for i, c := range batch {
		if at, ok := inserted[ids[i]]; ok {
			c.out = schemas.Receipt{Status: schemas.ReceiptNew, Claim: claims[i], State: schemas.StateReceived, ReceivedAt: at}
			if firstCalls[i] != "" {
				c.out.State, c.out.FirstCall = schemas.StateCalling, true
				callIDs, callTracks = append(callIDs, firstCalls[i]), append(callTracks, ids[i])
			}
			continue
		}
		// Already stored: its answer needs its row read and locked, which
		// the caller does alone, after this batch.
		c.alone = true
	}
	if len(callIDs) == 0 {
		return nil
	}
	if _, err := s.txExec(ctx, tx, `
		INSERT INTO provider_calls (provider_track_id, track_id, attempt, state)
		SELECT u.ptid, u.id, 1, 'SENDING' FROM unnest($1::text[], $2::text[]) AS u(ptid, id)`,
		pq.Array(callIDs), pq.Array(callTracks)); err != nil {
		return fmt.Errorf("recording provider calls: %w", err)
	}
	return nil
}

// beginCallBatch is BeginCall for several commands (distinct trackIds)
// that reserve no hold.
func (s *Store) beginCallBatch(ctx context.Context, tx *sqlx.Tx, batch []*pendingCall[beginCall, schemas.CallBegun]) error {
	byTrackID(batch, func(c beginCall) string { return c.TrackID })
	n := len(batch)
	ids, claims, befores := make([]string, n), make([]string, n), make([]string, n)
	leases := make([]int64, n)
	for i, c := range batch {
		ids[i], claims[i], befores[i], leases[i] = c.in.TrackID, c.in.Claim, string(c.in.Before), c.in.lease.Milliseconds()
	}
	rows, err := s.txQuery(ctx, tx, `
		UPDATE commands c SET state = 'CALLING', attempts = c.attempts + 1, updated_at = now(),
		       lease_until = now() + u.lease * interval '1 millisecond', before = coalesce(c.before, NULLIF(u.before, '')::jsonb)
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS u(id, claim, before, lease)
		WHERE c.track_id = u.id AND c.claim = NULLIF(u.claim, '')::uuid AND c.state = 'RECEIVED'
		RETURNING c.track_id, c.attempts, c.before`,
		pq.Array(ids), pq.Array(claims), pq.Array(befores), pq.Array(leases))
	if err != nil {
		return fmt.Errorf("moving commands to CALLING: %w", err)
	}
	begun := make(map[string]schemas.CallBegun, n)
	for rows.Next() {
		var id string
		var b schemas.CallBegun
		if err := rows.Scan(&id, &b.Attempt, &b.Before); err != nil {
			rows.Close()
			return fmt.Errorf("reading commands moved to CALLING: %w", err)
		}
		begun[id] = b
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("reading commands moved to CALLING: %w", err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading commands moved to CALLING: %w", err)
	}
	var callIDs, callTracks []string
	var callAttempts []int64
	for i, c := range batch {
		b, ok := begun[ids[i]]
		if !ok {
			c.err = ErrNotClaimed
			continue
		}
		c.out = b
		callIDs, callTracks, callAttempts = append(callIDs, c.in.ProviderTrackID), append(callTracks, ids[i]), append(callAttempts, int64(b.Attempt))
	}
	if len(callIDs) == 0 {
		return nil
	}
	if _, err := s.txExec(ctx, tx, `
		INSERT INTO provider_calls (provider_track_id, track_id, attempt, state)
		SELECT u.ptid, u.id, u.attempt, 'SENDING' FROM unnest($1::text[], $2::text[], $3::int[]) AS u(ptid, id, attempt)`,
		pq.Array(callIDs), pq.Array(callTracks), pq.Array(callAttempts)); err != nil {
		return fmt.Errorf("recording provider calls: %w", err)
	}
	return nil
}

// completeBatch is Complete for several commands (distinct trackIds) whose
// only ledger change is a new hold.
func (s *Store) completeBatch(ctx context.Context, tx *sqlx.Tx, batch []*pendingCall[schemas.Completion, struct{}]) error {
	byTrackID(batch, func(c schemas.Completion) string { return c.TrackID })
	// A result without a key or a value is stored as NULL alone; arrays
	// would make it empty bytes. It is made alone.
	kept := batch[:0:0]
	for _, c := range batch {
		if c.in.Result.Key == nil || c.in.Result.Value == nil {
			c.alone = true
			continue
		}
		kept = append(kept, c)
	}
	batch = kept
	n := len(batch)
	if n == 0 {
		return nil
	}
	var (
		ids, claims, states, events, topics, headers, ptids, callStates, reasons = make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		results   = make([]string, n)
		reconcile = make([]bool, n)
	)
	for i, c := range batch {
		in := c.in
		h, err := json.Marshal(in.Result.Headers)
		if err != nil {
			return fmt.Errorf("encoding result headers: %w", err)
		}
		ids[i], claims[i], states[i], events[i], topics[i], headers[i] = in.TrackID, in.Claim, string(in.State), in.EventID, in.Result.Topic, string(h)
		results[i], ptids[i], reconcile[i], callStates[i], reasons[i] = string(in.Result.Value), in.ProviderTrackID, in.NeedsReconciliation, in.CallState, in.ReconcileReason
	}
	rows, err := s.txQuery(ctx, tx, `
		UPDATE commands c SET state = u.state, event_id = u.event::uuid, result_topic = u.topic, result = convert_to(u.result, 'UTF8'),
		       result_headers = u.headers::jsonb, completed_at = now(), updated_at = now(), completed_by = c.owner,
		       owner = NULL, claim = NULL, lease_until = NULL,
		       needs_reconciliation = c.needs_reconciliation OR u.reconcile,
		       reconcile_reason = CASE WHEN u.reconcile THEN coalesce(c.reconcile_reason, NULLIF(u.reason, '')) ELSE c.reconcile_reason END
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bool[],
		            $10::text[], $11::text[]) AS u(id, claim, state, event, topic, result, headers, ptid, reconcile, call_state, reason)
		WHERE c.track_id = u.id AND (
		      (c.claim = NULLIF(u.claim, '')::uuid AND c.state IN ('RECEIVED', 'CALLING', 'IN_DOUBT'))
		   OR (u.ptid <> '' AND u.call_state IN ('DONE', 'FAILED') AND c.state = 'IN_DOUBT' AND EXISTS (
		          SELECT 1 FROM provider_calls p WHERE p.provider_track_id = u.ptid AND p.track_id = u.id AND p.attempt = c.attempts)))
		RETURNING c.track_id`,
		pq.Array(ids), pq.Array(claims), pq.Array(states), pq.Array(events), pq.Array(topics), pq.Array(results),
		pq.Array(headers), pq.Array(ptids), pq.Array(reconcile), pq.Array(callStates), pq.Array(reasons))
	if err != nil {
		return fmt.Errorf("recording outcomes: %w", err)
	}
	done := make(map[string]bool, n)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("reading recorded outcomes: %w", err)
		}
		done[id] = true
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("reading recorded outcomes: %w", err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading recorded outcomes: %w", err)
	}
	var calls callOutcomes
	var holds newHolds
	var stored []string // results queued as the commands row now holds them
	var out outboxRows
	for i, c := range batch {
		if !done[ids[i]] {
			c.err = ErrNotClaimed
			continue
		}
		in := c.in
		if in.ProviderTrackID != "" {
			calls.add(in)
		}
		if h := in.CreateHold; h != nil {
			holds.add(h)
		}
		if string(in.Result.Key) == in.TrackID {
			stored = append(stored, in.TrackID)
		} else {
			out.add(in.Result, headers[i])
		}
	}
	if err := calls.record(ctx, s, tx); err != nil {
		return err
	}
	if err := holds.record(ctx, s, tx); err != nil {
		return err
	}
	// A result is queued as it was just stored with its command (as a
	// redelivery queues it again), not sent a second time.
	if _, err := s.requeueResults(ctx, tx, stored...); err != nil {
		return err
	}
	return out.record(ctx, s, tx)
}

// callOutcomes are the call rows a completeBatch settles.
type callOutcomes struct {
	ids, states, codes, answers, evidence []string
	statuses                              []int64
}

func (c *callOutcomes) add(in schemas.Completion) {
	c.ids, c.states, c.codes = append(c.ids, in.ProviderTrackID), append(c.states, in.CallState), append(c.codes, in.ErrorCode)
	c.statuses, c.answers, c.evidence = append(c.statuses, int64(in.HTTPStatus)), append(c.answers, string(in.CallAnswer)), append(c.evidence, in.CallEvidence)
}

func (c *callOutcomes) record(ctx context.Context, s *Store, tx *sqlx.Tx) error {
	if len(c.ids) == 0 {
		return nil
	}
	if _, err := s.txExec(ctx, tx, `
		UPDATE provider_calls p SET state = u.state, error_code = NULLIF(u.code, ''), http_status = NULLIF(u.status, 0),
		       finished_at = now(), answer = NULLIF(u.answer, '')::jsonb, evidence = NULLIF(u.evidence, '')
		FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[]) AS u(ptid, state, code, status, answer, evidence)
		WHERE p.provider_track_id = u.ptid`,
		pq.Array(c.ids), pq.Array(c.states), pq.Array(c.codes), pq.Array(c.statuses), pq.Array(c.answers), pq.Array(c.evidence)); err != nil {
		return fmt.Errorf("recording call outcomes: %w", err)
	}
	return nil
}

// newHolds are the holds a completeBatch creates.
type newHolds struct {
	ids, provs, clients, deposits, descriptions, dates, calls []string
	amounts, days                                             []int64
}

func (h *newHolds) add(b *schemas.BlockRef) {
	h.ids, h.provs, h.clients, h.deposits = append(h.ids, b.TrackID), append(h.provs, string(b.Provider)), append(h.clients, b.ClientID), append(h.deposits, b.Deposit)
	h.descriptions, h.dates, h.calls = append(h.descriptions, b.Description), append(h.dates, b.BlockDate), append(h.calls, b.ProviderTrackID)
	h.amounts, h.days = append(h.amounts, b.Amount), append(h.days, int64(b.Days))
}

func (h *newHolds) record(ctx context.Context, s *Store, tx *sqlx.Tx) error {
	if len(h.ids) == 0 {
		return nil
	}
	if _, err := s.txExec(ctx, tx, `
		INSERT INTO holds (block_track_id, provider, client_id, deposit, amount, description, days, block_date, block_provider_track_id, state)
		SELECT u.id, u.provider, u.client, u.deposit, u.amount, u.description, u.days, u.date, u.call, 'BLOCKED'
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::int[], $8::text[], $9::text[])
		     AS u(id, provider, client, deposit, amount, description, days, date, call)`,
		pq.Array(h.ids), pq.Array(h.provs), pq.Array(h.clients), pq.Array(h.deposits), pq.Array(h.amounts),
		pq.Array(h.descriptions), pq.Array(h.days), pq.Array(h.dates), pq.Array(h.calls)); err != nil {
		return fmt.Errorf("recording holds: %w", err)
	}
	return nil
}

// outboxRows are the messages a completeBatch queues, in the batch's order.
type outboxRows struct {
	topics, headers []string
	keys, values    [][]byte
}

func (o *outboxRows) add(m schemas.Outbound, headers string) {
	o.topics, o.keys, o.values, o.headers = append(o.topics, m.Topic), append(o.keys, m.Key), append(o.values, m.Value), append(o.headers, headers)
}

func (o *outboxRows) record(ctx context.Context, s *Store, tx *sqlx.Tx) error {
	if len(o.topics) == 0 {
		return nil
	}
	if _, err := s.txExec(ctx, tx, `
		INSERT INTO outbox (topic, key, value, headers)
		SELECT u.topic, u.key, u.value, u.headers::jsonb FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::text[]) WITH ORDINALITY AS u(topic, key, value, headers, n)
		ORDER BY u.n`,
		pq.Array(o.topics), pq.Array(o.keys), pq.Array(o.values), pq.Array(o.headers)); err != nil {
		return fmt.Errorf("queueing outbox messages: %w", err)
	}
	return s.notify(ctx, tx)
}
