package main

import (
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
	lost, conflicting, duplicateEffects, phantomDone, unresolved int
}

func countChaos(st chaosState) (chaosCounts, *chaosEvidence, effectFindings) {
	ev := newChaosEvidence(st)
	effects := ev.duplicateEffects()
	return chaosCounts{
		lost:             ev.lostCommands().n,
		conflicting:      ev.conflictingResults().n,
		duplicateEffects: effects.count(),
		phantomDone:      effects.phantom.n,
		unresolved:       ev.unresolvedCommands(),
	}, ev, effects
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
			name: "unresolved: a command answered FAILED OUTCOME_UNKNOWN",
			breach: func(st *chaosState) {
				st.results[testCardBlock] = []seenResult{failedResult("ev-"+testCardBlock, schemas.CodeOutcomeUnknown)}
			},
			want: chaosCounts{unresolved: 1},
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
			for _, ex := range []examples{ev.lostCommands(), ev.conflictingResults(), effects.duplicate, effects.phantom} {
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
