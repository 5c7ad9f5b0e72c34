package main

import (
	"cmp"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/providers/arhivaar/arhivaarfake"
	"github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/schemas"
)

// The trackIds of cleanChaosState's commands, and the provider trackIds of
// their Finnotech calls.
const (
	testFinBlock    = "fblk-1"
	testFinUnblock  = "fubl-1"
	testFinTransfer = "ftrf-1"
	testArhBlock    = "ablk-1"
	testCardBlock   = "cblk-1"

	testFinBlockCall    = "call-fblk-1"
	testFinUnblockCall  = "call-fubl-1"
	testFinTransferCall = "call-ftrf-1"

	testArhAccount  = "a1b2c3"
	testCardAccount = "0000000000000000001"
	testFinKey      = "fin-account-00001" // the Kafka key of the Finnotech chain
)

// cleanChaosState is the state of a small run that kept the promise: a
// Finnotech block → unblock → transfer chain, an Arhivaar block and a card
// block, all DONE, each with exactly its effect in the ledgers; the block's
// result was published twice (the same event, which is no conflict).
func cleanChaosState() chaosState {
	cmds := []*chaosCommand{
		{Label: "finnotech/block", Cmd: schemas.Command{Kind: schemas.KindBlock, TrackID: testFinBlock,
			Provider: schemas.ProviderFinnotech, Amount: 50_000}},
		{Label: "finnotech/unblock", Cmd: schemas.Command{Kind: schemas.KindUnblock, TrackID: testFinUnblock,
			Provider: schemas.ProviderFinnotech, BlockTrackID: testFinBlock}},
		{Label: "finnotech/transfer", Cmd: schemas.Command{Kind: schemas.KindTransfer, TrackID: testFinTransfer,
			Provider: schemas.ProviderFinnotech, UnblockTrackID: testFinUnblock, Amount: 20_000}},
		{Label: "arhivaar/block", Cmd: schemas.Command{Kind: schemas.KindBlock, TrackID: testArhBlock,
			Provider: schemas.ProviderArhivaar, AccountID: testArhAccount}},
		{Label: "card/block", Cmd: schemas.Command{Kind: schemas.KindBlock, TrackID: testCardBlock,
			Provider: schemas.ProviderCard, AccountID: testCardAccount, BlockCodeSlot: 1, BlockCode: "B"}},
	}
	st := chaosState{
		plan:    &commandPlan{byTrack: map[string]*chaosCommand{}},
		results: map[string][]seenResult{},
		db:      chaosDB{calls: map[string]dbCall{}, commands: map[string]dbCommand{}},
	}
	for _, c := range cmds {
		id := c.Cmd.TrackID
		c.Topic = chaosKindTopics[c.Cmd.Kind]
		c.Key = cmp.Or(c.Cmd.AccountID, testFinKey)
		st.plan.byTrack[id] = c
		st.published = append(st.published, id)
		st.results[id] = []seenResult{doneResult(id)}
		st.db.commands[id] = dbCommand{state: string(schemas.StateDone)}
		st.messages++
	}
	st.results[testFinBlock] = append(st.results[testFinBlock], doneResult(testFinBlock))
	st.messages++
	for call, id := range map[string]string{testFinBlockCall: testFinBlock, testFinUnblockCall: testFinUnblock, testFinTransferCall: testFinTransfer} {
		st.db.calls[call] = dbCall{trackID: id, state: "APPLIED", attempt: 1}
	}
	st.ledgers = chaosLedgers{
		holds: []finnotechfake.Hold{{BlockTrackID: testFinBlockCall, Amount: 50_000, State: finnotechfake.HoldTransferred,
			UnblockTrackID: testFinUnblockCall}},
		finnotechBlockCalls: 1,
		transfers:           []finnotechTransfer{{trackID: testFinTransferCall, amount: 20_000, unblockCall: testFinUnblockCall}},
		transfersShown:      true,
		appliedTransfers:    1,
		arhivaar:            map[string]arhivaarfake.Account{testArhAccount: {Blocked: true, Changes: 1, Calls: 1}},
		card:                map[string]card.Account{testCardAccount: {AccountID: testCardAccount, BlockCode1: "B"}},
		cardApplied:         1,
		arhivaarLedger:      map[string]struct{ Changes int }{testArhAccount: {Changes: 1}},
		cardLedger:          []string{testCardAccount},
	}
	return st
}

// doneResult is the DONE result of command id; a Finnotech one names its
// call, as blockd's results do.
func doneResult(id string) seenResult {
	r := seenResult{EventID: "ev-" + id, Status: string(schemas.StatusDone)}
	if strings.HasPrefix(id, "f") {
		r.ProviderTrackID = "call-" + id
	}
	return r
}

// failedResult is a FAILED result, event eventID, with code.
func failedResult(eventID, code string) seenResult {
	return seenResult{EventID: eventID, Status: string(schemas.StatusFailed), Code: code}
}

// chaosCounts are what the property checks count for one state.
type chaosCounts struct {
	lost, conflicting, duplicateEffects, phantomDone, outcomeUnknown, reconcile, unflagged int
}

func countChaos(st chaosState) (chaosCounts, *chaosEvidence, effectFindings) {
	ev := newChaosEvidence(st)
	effects := ev.duplicateEffects()
	return chaosCounts{
		lost:             ev.lostCommands().n,
		conflicting:      ev.conflictingResults().n,
		duplicateEffects: effects.count(),
		phantomDone:      effects.phantom.n,
		outcomeUnknown:   ev.outcomeUnknownCommands(),
		reconcile:        ev.reconcileCommands().n,
		unflagged:        ev.unflaggedUnknowns().n,
	}, ev, effects
}

// answerOutcomeUnknown makes command id answered FAILED OUTCOME_UNKNOWN,
// flagged needs_reconciliation as blockd flags it.
func answerOutcomeUnknown(st *chaosState, id string) {
	st.results[id] = []seenResult{failedResult("ev-"+id, schemas.CodeOutcomeUnknown)}
	st.db.commands[id] = dbCommand{state: string(schemas.StateFailed), needsReconciliation: true}
}

// addCardCommand adds a published card command on testCardAccount.
func addCardCommand(st *chaosState, kind schemas.Kind, id string) {
	c := &chaosCommand{Label: "card/" + string(kind), Cmd: schemas.Command{Kind: kind, TrackID: id,
		Provider: schemas.ProviderCard, AccountID: testCardAccount, BlockCodeSlot: 1}}
	if kind == schemas.KindBlock {
		c.Cmd.BlockCode = "B"
	} else {
		c.Cmd.BlockTrackID = testCardBlock
	}
	st.plan.byTrack[id] = c
	st.published = append(st.published, id)
	st.results[id] = []seenResult{doneResult(id)}
	st.db.commands[id] = dbCommand{state: string(schemas.StateDone)}
}

// TestChaosChecks feeds the property checks a clean state, and states that
// each hold exactly the failure a check is named after, and asserts each
// failure is counted where it belongs and nowhere else: a check that
// cannot fail proves nothing.
func TestChaosChecks(t *testing.T) {
	tests := []struct {
		name   string
		breach func(st *chaosState)
		want   chaosCounts
		// example is a piece of the text the failure is reported with.
		example string
	}{
		{
			name:   "clean run",
			breach: func(*chaosState) {},
		},
		{
			name: "lost: a published command with no result",
			breach: func(st *chaosState) {
				delete(st.results, testArhBlock)
			},
			want:    chaosCounts{lost: 1},
			example: testArhBlock + " (arhivaar/block): stored DONE",
		},
		{
			name: "lost: a published command with no terminal result, never stored",
			breach: func(st *chaosState) {
				st.results[testCardBlock] = []seenResult{{EventID: "ev-x", Status: "RECEIVED"}}
				delete(st.db.commands, testCardBlock)
			},
			want:    chaosCounts{lost: 1},
			example: testCardBlock + " (card/block): never stored",
		},
		{
			name: "conflicting: one trackId answered DONE and FAILED",
			breach: func(st *chaosState) {
				st.results[testArhBlock] = append(st.results[testArhBlock], failedResult("ev-other", schemas.CodeProviderRejected))
			},
			want:    chaosCounts{conflicting: 1},
			example: testArhBlock + ": DONE//ev-" + testArhBlock + " vs FAILED/PROVIDER_REJECTED/ev-other",
		},
		{
			name: "conflicting: one trackId answered DONE by two different events",
			breach: func(st *chaosState) {
				other := doneResult(testCardBlock)
				other.EventID = "ev-second"
				st.results[testCardBlock] = append(st.results[testCardBlock], other)
			},
			want:    chaosCounts{conflicting: 1},
			example: testCardBlock + ": DONE//ev-" + testCardBlock + " vs DONE//ev-second",
		},
		{
			name: "outcome unknown: a command answered FAILED OUTCOME_UNKNOWN, flagged for reconciliation",
			breach: func(st *chaosState) {
				answerOutcomeUnknown(st, testCardBlock)
			},
			want:    chaosCounts{outcomeUnknown: 1, reconcile: 1},
			example: testCardBlock + " (card/block) answered FAILED/OUTCOME_UNKNOWN",
		},
		{
			name: "unflagged: a command answered FAILED OUTCOME_UNKNOWN that the database does not flag",
			breach: func(st *chaosState) {
				st.results[testCardBlock] = []seenResult{failedResult("ev-"+testCardBlock, schemas.CodeOutcomeUnknown)}
			},
			want:    chaosCounts{outcomeUnknown: 1, unflagged: 1},
			example: testCardBlock + " (card/block) answered FAILED/OUTCOME_UNKNOWN but the database does not flag it",
		},
		{
			name: "reconcile: a DONE command flagged by a late answer that contradicts it",
			breach: func(st *chaosState) {
				st.db.commands[testFinBlock] = dbCommand{state: string(schemas.StateDone), needsReconciliation: true,
					reconcileReason: "call x was applied and another call of the command was applied too"}
			},
			want:    chaosCounts{reconcile: 1},
			example: testFinBlock + " (finnotech/block) answered DONE/: call x was applied and another call",
		},
		{
			name: "duplicate effect: a finnotech block of unknown outcome with two holds (a late call and a re-send)",
			breach: func(st *chaosState) {
				answerOutcomeUnknown(st, testFinBlock)
				st.db.calls["call-fblk-1-again"] = dbCall{trackID: testFinBlock, state: "DONE", attempt: 2}
				st.ledgers.holds = append(st.ledgers.holds, finnotechfake.Hold{BlockTrackID: "call-fblk-1-again", Amount: 50_000, State: finnotechfake.HoldBlocked})
				st.ledgers.finnotechBlockCalls = 2
			},
			want:    chaosCounts{duplicateEffects: 1, outcomeUnknown: 1, reconcile: 1},
			example: "finnotech block " + testFinBlock + " has 2 holds",
		},
		{
			name: "duplicate effect: a card block took effect twice, its code in both slots",
			breach: func(st *chaosState) {
				st.ledgers.card[testCardAccount] = card.Account{AccountID: testCardAccount, BlockCode1: "B", BlockCode2: "B"}
				st.ledgers.cardApplied = 2
			},
			want:    chaosCounts{duplicateEffects: 1},
			example: "card block " + testCardBlock + " (slot 1) took effect twice: account " + testCardAccount + " slot 2 holds \"B\" too",
		},
		{
			name: "duplicate effect: a card block took effect twice, its unblock removed one, the sandbox's count hidden by a block of unknown outcome",
			breach: func(st *chaosState) {
				addCardCommand(st, schemas.KindUnblock, "cubl-1")
				addCardCommand(st, schemas.KindBlock, "cblk-other")
				st.plan.byTrack["cblk-other"].Cmd.AccountID = "0000000000000000002"
				answerOutcomeUnknown(st, "cblk-other") // may have had an effect; had none
				st.ledgers.card["0000000000000000002"] = card.Account{AccountID: "0000000000000000002"}
				st.ledgers.cardLedger = append(st.ledgers.cardLedger, "0000000000000000002")
				st.ledgers.card[testCardAccount] = card.Account{AccountID: testCardAccount, BlockCode2: "B"}
				st.ledgers.cardApplied = 3 // the block twice, the unblock once: within 3 allowed
			},
			want:    chaosCounts{duplicateEffects: 1, outcomeUnknown: 1, reconcile: 1},
			example: "card block " + testCardBlock + " (slot 1) took effect twice: account " + testCardAccount + " slot 2 holds \"B\" too (unblock DONE)",
		},
		{
			name: "duplicate effect: one finnotech block with two holds",
			breach: func(st *chaosState) {
				st.db.calls["call-fblk-1-again"] = dbCall{trackID: testFinBlock, state: "APPLIED", attempt: 2}
				st.ledgers.holds = append(st.ledgers.holds, finnotechfake.Hold{BlockTrackID: "call-fblk-1-again", Amount: 50_000, State: finnotechfake.HoldBlocked})
				st.ledgers.finnotechBlockCalls = 2
			},
			want:    chaosCounts{duplicateEffects: 1},
			example: "finnotech block " + testFinBlock + " has 2 holds",
		},
		{
			name: "duplicate effect: one finnotech transfer moved money twice",
			breach: func(st *chaosState) {
				st.db.calls["call-ftrf-1-again"] = dbCall{trackID: testFinTransfer, state: "APPLIED", attempt: 2}
				st.ledgers.transfers = append(st.ledgers.transfers, finnotechTransfer{trackID: "call-ftrf-1-again", amount: 20_000, unblockCall: testFinUnblockCall})
				st.ledgers.appliedTransfers = 2
			},
			want:    chaosCounts{duplicateEffects: 1},
			example: "finnotech transfer " + testFinTransfer + " made 2 transfers",
		},
		{
			name: "duplicate effect: finnotech applied two block calls for one hold",
			breach: func(st *chaosState) {
				st.ledgers.finnotechBlockCalls = 2
			},
			want:    chaosCounts{duplicateEffects: 1},
			example: "finnotech sandbox applied 2 block calls but holds 1 holds",
		},
		{
			name: "duplicate effect: two applied arhivaar calls for one block",
			breach: func(st *chaosState) {
				st.ledgers.arhivaar[testArhAccount] = arhivaarfake.Account{Blocked: true, Changes: 2, Calls: 2}
			},
			want:    chaosCounts{duplicateEffects: 1},
			example: "arhivaar account " + testArhAccount + " changed state 2 times for 1 commands",
		},
		{
			name: "duplicate effect: two applied card updates for one block",
			breach: func(st *chaosState) {
				st.ledgers.cardApplied = 2
			},
			want:    chaosCounts{duplicateEffects: 1},
			example: "card sandbox applied 2 updates for 1 card commands",
		},
		{
			name: "duplicate effect: a card block answered FAILED whose code is in the slot",
			breach: func(st *chaosState) {
				st.results[testCardBlock] = []seenResult{failedResult("ev-"+testCardBlock, schemas.CodeProviderRejected)}
				st.ledgers.cardApplied = 0
			},
			want:    chaosCounts{duplicateEffects: 1},
			example: "card block " + testCardBlock + " answered FAILED/PROVIDER_REJECTED",
		},
		{
			name: "duplicate effect: an arhivaar account changed by no command",
			breach: func(st *chaosState) {
				st.ledgers.arhivaarLedger["ffff"] = struct{ Changes int }{Changes: 1}
			},
			want:    chaosCounts{duplicateEffects: 1},
			example: "arhivaar account ffff changed 1 times, named by no command",
		},
		{
			name: "phantom DONE: a finnotech block DONE naming no hold of it",
			breach: func(st *chaosState) {
				st.results[testFinBlock] = []seenResult{{EventID: "ev-" + testFinBlock, Status: string(schemas.StatusDone), ProviderTrackID: "call-nobody"}}
			},
			want:    chaosCounts{duplicateEffects: 1, phantomDone: 1},
			example: "finnotech block " + testFinBlock + " DONE with providerTrackId \"call-nobody\"",
		},
		{
			name: "phantom DONE: an arhivaar block DONE on an active account",
			breach: func(st *chaosState) {
				st.ledgers.arhivaar[testArhAccount] = arhivaarfake.Account{Blocked: false, Changes: 0}
			},
			want:    chaosCounts{duplicateEffects: 1, phantomDone: 1},
			example: "arhivaar block " + testArhBlock + " DONE (unblock NONE) but account " + testArhAccount + " is active",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := cleanChaosState()
			tt.breach(&st)
			got, ev, effects := countChaos(st)
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if tt.example == "" {
				return
			}
			var all []string
			for _, ex := range []examples{ev.lostCommands(), ev.conflictingResults(), effects.duplicate, effects.phantom,
				ev.reconcileCommands(), ev.unflaggedUnknowns()} {
				all = append(all, ex.list...)
			}
			if !strings.Contains(strings.Join(all, "\n"), tt.example) {
				t.Errorf("got examples %q, want one containing %q", all, tt.example)
			}
		})
	}
}

// TestChaosOutOfOrder: a block that took effect after its DONE unblock is
// reported apart and breaks no count of the last line.
func TestChaosOutOfOrder(t *testing.T) {
	st := cleanChaosState()
	unblock := &chaosCommand{Label: "arhivaar/unblock", Cmd: schemas.Command{Kind: schemas.KindUnblock, TrackID: "aubl-1",
		Provider: schemas.ProviderArhivaar, AccountID: testArhAccount, BlockTrackID: testArhBlock}}
	st.plan.byTrack[unblock.Cmd.TrackID] = unblock
	st.published = append(st.published, unblock.Cmd.TrackID)
	st.results[unblock.Cmd.TrackID] = []seenResult{doneResult(unblock.Cmd.TrackID)}
	st.ledgers.arhivaar[testArhAccount] = arhivaarfake.Account{Blocked: true, Changes: 2}
	got, _, effects := countChaos(st)
	if want := (chaosCounts{}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if effects.disorder.n != 1 {
		t.Errorf("got out_of_order=%d, want 1", effects.disorder.n)
	}
}

// TestChaosTally: re-publications of one result are counted, and the
// statuses and codes are those of each command's first terminal result.
func TestChaosTally(t *testing.T) {
	st := cleanChaosState()
	st.results[testCardBlock] = []seenResult{failedResult("ev-c", schemas.CodeOutcomeUnknown)}
	got := newChaosEvidence(st).tallyResults()
	if got.republished != 1 {
		t.Errorf("got republished=%d, want 1", got.republished)
	}
	if got.statusCount["DONE"] != 4 || got.statusCount["FAILED"] != 1 {
		t.Errorf("got statuses %v, want DONE=4 FAILED=1", got.statusCount)
	}
	if got.codeCount[schemas.CodeOutcomeUnknown] != 1 {
		t.Errorf("got codes %v, want OUTCOME_UNKNOWN=1", got.codeCount)
	}
	if got.labelStatus["card/block"]["FAILED"] != 1 {
		t.Errorf("got card/block statuses %v, want FAILED=1", got.labelStatus["card/block"])
	}
}

// TestChaosLateAnswers: an answer that settled a call still open and one
// kept beside a recorded state are told apart.
func TestChaosLateAnswers(t *testing.T) {
	st := cleanChaosState()
	st.db.calls["call-open"] = dbCall{trackID: testFinBlock, state: "DONE", late: true}
	st.db.calls["call-kept"] = dbCall{trackID: testFinBlock, state: "FAILED", late: true, lateState: "DONE"}
	got := newChaosEvidence(st).lateAnswers()
	if want := map[string]int{"": 1, "DONE": 1}; !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// The sensitive values of hostileChaosState's hostile messages.
const (
	testIBAN = "IR820540102680020817909002"
	testNID  = "0499370899"
)

// hostileChaosState is cleanChaosState with a hostile mix that got every
// answer it is owed: a NUL string (dead letter and refusal), an empty value
// (dead letter), a NUL header (dead letter keeping it encoded, refusal), an
// IBAN in bad fields (dead letter whose copy holds it, refusal that does
// not), a conflict on the Finnotech block's trackId (a refusal under
// refused:<trackId>, beside the block's DONE), a huge reason (cut and
// marked), the card block with a bad traceparent (it ran: DONE without a
// traceparent), and the Arhivaar block as the largest result (within the
// limit: DONE).
func hostileChaosState() chaosState {
	st := cleanChaosState()
	st.limit = 262144
	st.refusals = map[string][]seenResult{}
	st.plan.sensitive = []sensitiveValue{{"IBAN", testIBAN}, {"national id", testNID}}
	offset := int64(100)
	send := func(m *hostileMessage, key string, c *chaosCommand) sentHostile {
		offset++
		if c == nil {
			c = &chaosCommand{Topic: "blockd.cmd.block", Key: key, Label: "hostile/" + string(m.Kind)}
			c.Cmd.TrackID = m.TrackID
		}
		c.Hostile = m
		h := sentHostile{step: c, pos: msgPos{Topic: c.Topic, Partition: 1, Offset: offset}, known: true}
		st.hostile = append(st.hostile, h)
		st.plan.hostile = append(st.plan.hostile, c)
		return h
	}
	deadLetter := func(h sentHostile, code string) *seenDeadLetter {
		st.deadLetters = append(st.deadLetters, seenDeadLetter{Code: code, Reason: "a reason", Source: h.pos, HasSource: true,
			TrackID: h.step.Hostile.TrackID, BlockdText: "blockd-dlq-code=" + code + "\nblockd-dlq-reason=a reason\n",
			Size: 600, Partition: 0, Offset: int64(len(st.deadLetters))})
		return &st.deadLetters[len(st.deadLetters)-1]
	}
	refuse := func(trackID, code, message string) {
		st.refusals[trackID] = append(st.refusals[trackID], seenResult{EventID: "ev-refused-" + trackID, Status: string(schemas.StatusRejected),
			Code: code, Refusal: true, Message: message, Size: 700, Text: `{"error":{"message":` + jsonString(message) + `}}`})
	}

	h := send(&hostileMessage{ID: "h1", Kind: hostileNULString, TrackID: "hnul-1", DLQCode: schemas.CodeUnstorableCharacter,
		RefusalCode: schemas.CodeUnstorableCharacter}, testFinKey, nil)
	deadLetter(h, schemas.CodeUnstorableCharacter)
	refuse("hnul-1", schemas.CodeUnstorableCharacter, "description must not contain the NUL character (U+0000)")

	h = send(&hostileMessage{ID: "h2", Kind: hostileEmptyValue, DLQCode: schemas.CodeEmptyMessage}, testCardAccount, nil)
	deadLetter(h, schemas.CodeEmptyMessage).TrackID = ""

	nulHeader := kafka.Header{Key: "x-chaos-note", Value: []byte("court\x00order")}
	h = send(&hostileMessage{ID: "h3", Kind: hostileNULHeader, TrackID: "hnh-1", DLQCode: schemas.CodeSchemaInvalid,
		RefusalCode: schemas.CodeSchemaInvalid, EncodedHeader: &nulHeader}, testArhAccount, nil)
	deadLetter(h, schemas.CodeSchemaInvalid).Encoded = []kafka.Header{nulHeader}
	refuse("hnh-1", schemas.CodeSchemaInvalid, "comment is not a field of this command")

	h = send(&hostileMessage{ID: "h4", Kind: hostileIBAN, TrackID: "hsv-1", DLQCode: schemas.CodeSchemaInvalid,
		RefusalCode: schemas.CodeSchemaInvalid, Sensitive: testIBAN}, testFinKey, nil)
	deadLetter(h, schemas.CodeSchemaInvalid) // its copy holds the IBAN, as it must: not BlockdText
	refuse("hsv-1", schemas.CodeSchemaInvalid, "amount must be an integer from 1 to 9007199254740991")

	send(&hostileMessage{ID: "h5", Kind: hostileConflict, TrackID: testFinBlock, RefusalCode: schemas.CodeTrackIDConflict}, testFinKey, nil)
	refuse(testFinBlock, schemas.CodeTrackIDConflict, "trackId "+testFinBlock+" is already used by a different command; the original is unchanged")

	h = send(&hostileMessage{ID: "h6", Kind: hostileHugeReason, TrackID: "hhr-1", DLQCode: schemas.CodeSchemaInvalid,
		RefusalCode: schemas.CodeSchemaInvalid}, testFinKey, nil)
	deadLetter(h, schemas.CodeSchemaInvalid)
	refuse("hhr-1", schemas.CodeSchemaInvalid, strings.Repeat("x", 900)+schemas.TruncatedMarker)

	send(&hostileMessage{ID: "h7", Kind: hostileTraceparentFF, TrackID: testCardBlock, Command: true}, testCardAccount, st.plan.byTrack[testCardBlock])
	send(&hostileMessage{ID: "h8", Kind: hostileLargestResult, TrackID: testArhBlock, Command: true, WantFits: true, ResultBytes: 7000},
		testArhAccount, st.plan.byTrack[testArhBlock])
	return st
}

// hostileCounts are what the checks of the hostile mix count, beside lost
// and conflicting.
type hostileCounts struct {
	lost, conflicting, duplicateEffects, unanswered, commandsOff, leaks, stuck, oversized int
}

func countHostile(st chaosState) (hostileCounts, []string) {
	ev := newChaosEvidence(st)
	lost, conflicts := ev.lostCommands(), ev.conflictingResults()
	checks := []examples{ev.unansweredHostile(), ev.hostileCommandsOff(), ev.leakedValues(), ev.stuckKeys(), ev.oversizedWrites()}
	var all []string
	for _, ex := range append(checks, lost, conflicts) {
		all = append(all, ex.list...)
	}
	return hostileCounts{lost: lost.n, conflicting: conflicts.n, duplicateEffects: ev.duplicateEffects().count(),
		unanswered: checks[0].n, commandsOff: checks[1].n, leaks: checks[2].n, stuck: checks[3].n, oversized: checks[4].n}, all
}

// hostileStep is the hostile message id of st.
func hostileStep(st *chaosState, id string) *chaosCommand {
	for _, h := range st.hostile {
		if h.step.Hostile.ID == id {
			return h.step
		}
	}
	panic("no hostile message " + id)
}

// deadLetterOf is the dead letter of hostile message id of st.
func deadLetterOf(st *chaosState, id string) *seenDeadLetter {
	for _, h := range st.hostile {
		if h.step.Hostile.ID != id {
			continue
		}
		for i := range st.deadLetters {
			if st.deadLetters[i].Source == h.pos {
				return &st.deadLetters[i]
			}
		}
	}
	panic("no dead letter of " + id)
}

// TestChaosHostileChecks feeds the checks of the hostile mix a run in which
// every hostile message got its answer, and runs that each break exactly
// one promise, and asserts each failure is counted where it belongs and
// nowhere else. It also shows that refusals are neither a command's result
// nor a conflicting one.
func TestChaosHostileChecks(t *testing.T) {
	tests := []struct {
		name    string
		breach  func(st *chaosState)
		want    hostileCounts
		example string // a piece of the text a failure is reported with
	}{
		{
			name:   "every hostile message answered; a conflict's refusal beside the command's DONE is no conflicting result",
			breach: func(*chaosState) {},
		},
		{
			name: "unanswered: an empty value with no dead letter",
			breach: func(st *chaosState) {
				*deadLetterOf(st, "h2") = seenDeadLetter{}
			},
			want:    hostileCounts{unanswered: 1},
			example: "empty-value h2 (trackId \"\", key " + testCardAccount + ", at blockd.cmd.block/1/102): no dead letter",
		},
		{
			name: "unanswered: a NUL string dead-lettered with another code",
			breach: func(st *chaosState) {
				deadLetterOf(st, "h1").Code = schemas.CodeUnstorable
			},
			want:    hostileCounts{unanswered: 1},
			example: "nul-string h1 (trackId \"hnul-1\"",
		},
		{
			name: "unanswered: a NUL header's dead letter that does not keep it encoded",
			breach: func(st *chaosState) {
				deadLetterOf(st, "h3").Encoded = nil
			},
			want:    hostileCounts{unanswered: 1},
			example: "dead letter does not keep header \"x-chaos-note\" base64-encoded",
		},
		{
			name: "unanswered: a NUL string without its refusal",
			breach: func(st *chaosState) {
				delete(st.refusals, "hnul-1")
			},
			want:    hostileCounts{unanswered: 1},
			example: "no refusal under refused:hnul-1",
		},
		{
			name: "unanswered: a conflict refused with another code",
			breach: func(st *chaosState) {
				st.refusals[testFinBlock][0].Code = schemas.CodeSchemaInvalid
			},
			want:    hostileCounts{unanswered: 1},
			example: "refusal SCHEMA_INVALID, want TRACK_ID_CONFLICT",
		},
		{
			name: "unanswered: a huge reason not cut",
			breach: func(st *chaosState) {
				st.refusals["hhr-1"][0].Message = "unknownaa is not a field of this command"
			},
			want:    hostileCounts{unanswered: 1},
			example: "refusal reason of 40 bytes not cut at 1024",
		},
		{
			name: "conflicting and unanswered: a conflict's refusal published under the command's own key",
			breach: func(st *chaosState) {
				r := st.refusals[testFinBlock][0]
				delete(st.refusals, testFinBlock)
				st.results[testFinBlock] = append(st.results[testFinBlock], r)
			},
			want:    hostileCounts{conflicting: 1, unanswered: 1},
			example: testFinBlock + ": DONE//ev-" + testFinBlock + " vs DONE//ev-" + testFinBlock + " vs refusal REJECTED/TRACK_ID_CONFLICT/ev-refused-" + testFinBlock,
		},
		{
			name: "lost: a command with only a refusal under refused:<trackId> has no result",
			breach: func(st *chaosState) {
				delete(st.results, testFinTransfer)
				st.refusals[testFinTransfer] = []seenResult{{EventID: "ev-r", Status: string(schemas.StatusRejected), Code: schemas.CodeTrackIDConflict, Refusal: true}}
			},
			want:    hostileCounts{lost: 1, stuck: 1},
			example: testFinTransfer + " (finnotech/transfer): stored DONE",
		},
		{
			name: "command off: a command with a bad traceparent refused",
			breach: func(st *chaosState) {
				st.refusals[testCardBlock] = []seenResult{{Status: string(schemas.StatusRejected), Code: schemas.CodeUnstorable, Refusal: true}}
			},
			want:    hostileCounts{commandsOff: 1},
			example: "traceparent-ff " + testCardBlock + " (card/block, key " + testCardAccount + "): refused UNSTORABLE_MESSAGE",
		},
		{
			name: "command off: a command with a bad traceparent dead-lettered",
			breach: func(st *chaosState) {
				var h sentHostile
				for _, x := range st.hostile {
					if x.step.Hostile.ID == "h7" {
						h = x
					}
				}
				st.deadLetters = append(st.deadLetters, seenDeadLetter{Code: schemas.CodeUnstorable, Source: h.pos, HasSource: true})
			},
			want:    hostileCounts{commandsOff: 1},
			example: "dead-lettered UNSTORABLE_MESSAGE",
		},
		{
			name: "command off: the bad traceparent passed through to the result",
			breach: func(st *chaosState) {
				st.results[testCardBlock][0].Traceparent = "00-4bf\xff"
			},
			want:    hostileCounts{commandsOff: 1},
			example: "its result carries traceparent",
		},
		{
			name: "command off and lost: a command with a bad traceparent never answered",
			breach: func(st *chaosState) {
				delete(st.results, testCardBlock)
			},
			want:    hostileCounts{lost: 1, commandsOff: 1, stuck: 1},
			example: "traceparent-ff " + testCardBlock + " (card/block, key " + testCardAccount + "): no result",
		},
		{
			name: "command off: the largest result over the limit answered DONE",
			breach: func(st *chaosState) {
				m := hostileStep(st, "h8").Hostile
				m.WantFits, m.WantTooLarge = false, true
			},
			want:    hostileCounts{commandsOff: 1},
			example: "answered DONE/, want FAILED/RESULT_TOO_LARGE (result ~7000 bytes, limit 262144)",
		},
		{
			name: "command off: the largest result within the limit answered RESULT_TOO_LARGE",
			breach: func(st *chaosState) {
				st.results[testArhBlock] = []seenResult{failedResult("ev-a", schemas.CodeResultTooLarge)}
				st.db.commands[testArhBlock] = dbCommand{state: string(schemas.StateFailed), needsReconciliation: true}
			},
			want:    hostileCounts{commandsOff: 1},
			example: "answered RESULT_TOO_LARGE although its result, ~7000 bytes, is within the limit 262144",
		},
		{
			name: "no duplicate effect: a block answered RESULT_TOO_LARGE was applied, its effect is allowed",
			breach: func(st *chaosState) {
				m := hostileStep(st, "h8").Hostile
				m.WantFits, m.WantTooLarge = false, true
				st.results[testArhBlock] = []seenResult{failedResult("ev-a", schemas.CodeResultTooLarge)}
				st.db.commands[testArhBlock] = dbCommand{state: string(schemas.StateFailed), needsReconciliation: true}
			},
		},
		{
			name: "leak: an IBAN in a refusal's reason",
			breach: func(st *chaosState) {
				st.refusals["hsv-1"][0].Text = `{"error":{"message":"destination ` + testIBAN + ` is not a deposit"}}`
			},
			want:    hostileCounts{leaks: 1},
			example: "the IBAN " + testIBAN + " is in the refusal of hsv-1",
		},
		{
			name: "leak: a national id in a result",
			breach: func(st *chaosState) {
				st.results[testFinTransfer][0].Text = `{"result":{"nationalId":"` + testNID + `"}}`
			},
			want:    hostileCounts{leaks: 1},
			example: "the national id " + testNID + " is in the result of " + testFinTransfer,
		},
		{
			name: "leak: an IBAN in blockd-dlq-reason",
			breach: func(st *chaosState) {
				deadLetterOf(st, "h4").BlockdText += "blockd-dlq-reason=amount " + testIBAN + " is not an integer\n"
			},
			want:    hostileCounts{leaks: 1},
			example: "the IBAN " + testIBAN + " is in blockd's headers of the dead letter",
		},
		{
			name: "leak: a national id in a blockd log",
			breach: func(st *chaosState) {
				st.logHits = append(st.logHits, logHit{name: "national id", value: testNID, where: "blockd-2.log line 7"})
			},
			want:    hostileCounts{leaks: 1},
			example: "the national id " + testNID + " is in blockd-2.log line 7",
		},
		{
			name: "stuck key: two commands behind a hostile message on one key without a result",
			breach: func(st *chaosState) {
				delete(st.results, testFinUnblock)
				delete(st.results, testFinTransfer)
			},
			want:    hostileCounts{lost: 2, stuck: 1},
			example: "key " + testFinKey + " (blockd.cmd.unblock): 2 commands without a result, the first " + testFinUnblock + " (finnotech/unblock); hostile messages on the key: nul-string h1",
		},
		{
			name: "oversized: a result over the limit",
			breach: func(st *chaosState) {
				st.results[testFinBlock][0].Size = 300_000
			},
			want:    hostileCounts{oversized: 1},
			example: "the result of " + testFinBlock + " at blockd.results/0/0 is 300000 bytes, over the limit 262144",
		},
		{
			name: "oversized: a dead letter over the limit with a reason over 1024 bytes",
			breach: func(st *chaosState) {
				d := deadLetterOf(st, "h3")
				d.Size, d.Reason = 262145, strings.Repeat("r", 1025)
			},
			want:    hostileCounts{oversized: 2},
			example: "has a 1025-byte blockd-dlq-reason, over 1024",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := hostileChaosState()
			tt.breach(&st)
			got, all := countHostile(st)
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if tt.example != "" && !strings.Contains(strings.Join(all, "\n"), tt.example) {
				t.Errorf("got examples %q, want one containing %q", all, tt.example)
			}
		})
	}
}

// TestChaosReadResult: the collector files an event by its key: refused:
// <trackId> is a refusal, whatever its type; anything else under a trackId
// is that command's, and a refusal type there, or a key that is not its
// trackId, is a breach of the contract.
func TestChaosReadResult(t *testing.T) {
	body := []byte(`{"eventId":"e1","trackId":"t1","type":"block","status":"REJECTED","error":{"code":"TRACK_ID_CONFLICT","message":"m"}}`)
	tests := []struct {
		name                              string
		key, ceType                       string
		wantRefusal, wantType, wantBadKey bool
	}{
		{name: "a result under its trackId", key: "t1", ceType: "dev.blockd.result.block"},
		{name: "a refusal under refused:<trackId>", key: "refused:t1", ceType: "dev.blockd.refusal.block", wantRefusal: true, wantType: true},
		{name: "a refusal under the command's key", key: "t1", ceType: "dev.blockd.refusal.block", wantType: true, wantBadKey: true},
		{name: "a result type under refused:<trackId>", key: "refused:t1", ceType: "dev.blockd.result.block", wantRefusal: true, wantBadKey: true},
		{name: "a refusal under another trackId's refusal key", key: "refused:t2", ceType: "dev.blockd.refusal.block", wantRefusal: true, wantType: true, wantBadKey: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, id, refusal, bad, ok := readResult(kafka.Message{Key: []byte(tt.key), Value: body, Headers: []kafka.Header{{Key: "ce_type", Value: []byte(tt.ceType)}}})
			if !ok || id != "t1" || r.Code != schemas.CodeTrackIDConflict || r.Message != "m" {
				t.Fatalf("got ok=%v trackId=%q code=%q message=%q, want true, t1, TRACK_ID_CONFLICT, m", ok, id, r.Code, r.Message)
			}
			if refusal != tt.wantRefusal || r.Refusal != tt.wantType || bad != tt.wantBadKey {
				t.Errorf("got refusal=%v type refusal=%v mis-keyed=%v, want %v %v %v", refusal, r.Refusal, bad, tt.wantRefusal, tt.wantType, tt.wantBadKey)
			}
		})
	}
}

// TestChaosReadDeadLetter: a dead letter's source, code, encoded headers
// and blockd's own text are read; the copied value is not blockd's text.
func TestChaosReadDeadLetter(t *testing.T) {
	m := kafka.Message{Partition: 2, Offset: 9, Value: []byte(`{"trackId":"t1","amount":"` + testIBAN + `"}`), Headers: []kafka.Header{
		{Key: "blockd-dlq-code", Value: []byte("SCHEMA_INVALID")},
		{Key: "blockd-dlq-reason", Value: []byte("amount must be an integer")},
		{Key: "blockd-source-topic", Value: []byte("blockd.cmd.block")},
		{Key: "blockd-source-partition", Value: []byte("3")},
		{Key: "blockd-source-offset", Value: []byte("42")},
		{Key: "blockd-dlq-header-0", Value: []byte("eC1jaGFvcy1ub3Rl:Y291cnQAb3JkZXI=")}, // x-chaos-note: court\0order
		{Key: "x-original", Value: []byte(testNID)},
	}}
	d := readDeadLetter(m)
	if d.Code != "SCHEMA_INVALID" || d.Source != (msgPos{"blockd.cmd.block", 3, 42}) || !d.HasSource || d.TrackID != "t1" {
		t.Errorf("got code %q source %v (%v) trackId %q, want SCHEMA_INVALID blockd.cmd.block/3/42 t1", d.Code, d.Source, d.HasSource, d.TrackID)
	}
	if !d.keeps(kafka.Header{Key: "x-chaos-note", Value: []byte("court\x00order")}) {
		t.Errorf("got encoded headers %q, want x-chaos-note kept", d.Encoded)
	}
	if strings.Contains(d.BlockdText, testIBAN) || strings.Contains(d.BlockdText, testNID) || !strings.Contains(d.BlockdText, "amount must be an integer") {
		t.Errorf("got blockd's text %q, want its reason and none of the copy's values", d.BlockdText)
	}
}

// TestChaosScanLogs: a sensitive value in a log file is found, once per
// file, with its line.
func TestChaosScanLogs(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"blockd-1.log": "{\"level\":\"warn\"}\n{\"reason\":\"amount " + testIBAN + "\"}\n" + testIBAN + "\n",
		"blockd-2.log": "{\"level\":\"info\"}\n",
		"other.txt":    testNID,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := scanLogs(dir, []sensitiveValue{{"IBAN", testIBAN}, {"national id", testNID}})
	if err != nil {
		t.Fatal(err)
	}
	want := []logHit{{name: "IBAN", value: testIBAN, where: "blockd-1.log line 2"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
