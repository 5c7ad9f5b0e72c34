package main

import (
	"maps"
	"strings"
	"testing"

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
