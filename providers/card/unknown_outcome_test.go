package card_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/providers/card/cardfake"
	"github.com/blockd/blockd/providers/card/internal/wire"
	"github.com/blockd/blockd/schemas"
)

// resultFields decodes a card result into a map, so that the tests read
// its JSON as a consumer would.
func resultFields(tb testing.TB, raw json.RawMessage) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Fatalf("decoding result %s: %v", raw, err)
	}
	return m
}

// wantFields checks the named fields of a decoded result.
func wantFields(tb testing.TB, raw json.RawMessage, want map[string]any) {
	tb.Helper()
	got := resultFields(tb, raw)
	for k, v := range want {
		if got[k] != v {
			tb.Errorf("result %s: got %s = %v, want %v", raw, k, got[k], v)
		}
	}
}

// TestSetBlockCodeTakesTheCodeInTheUnusedEntry: the seed says a new code
// "can be applied to the unused entry"; a 200 whose other slot holds the
// code sent is a success, not a kept code.
func TestSetBlockCodeTakesTheCodeInTheUnusedEntry(t *testing.T) {
	srv := newCannedServer(t, 200, `{"accountId":"0001000010000510481","blockCode1":"Q","blockCode1Date":"01/01/2021","blockCode2":"X","blockCode2Date":"19/08/2021","businessUnit":100}`)
	c := NewClient(ClientConfig{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret", HTTPClient: srv.Client()})
	a := NewAdapter(c)
	raw, err := a.Execute(context.Background(), cardRequest(schemas.KindBlock, "0001000010000510481", 1, "X", 0))
	if err != nil {
		t.Fatalf("Execute: got %v, want the code taken in slot 2", err)
	}
	wantFields(t, raw, map[string]any{"slot": float64(1), "codeSlot": float64(2), "blockCode": "X",
		"blockCode1": "Q", "blockCode2": "X", "stateFrom": "answer"})
}

// TestAdapterBlockIntoTheUnusedEntry: against the sandbox, a block whose
// slot is taken goes into the free one and is DONE.
func TestAdapterBlockIntoTheUnusedEntry(t *testing.T) {
	f := newFixture(t, cardfake.Config{})
	a := NewAdapter(f.client)
	ctx := context.Background()
	id := newAccountID(t)
	if _, err := f.client.SetBlockCode(ctx, id, 1, "Q", 0, "other command"); err != nil {
		t.Fatal(err)
	}
	raw, err := a.Execute(ctx, cardRequest(schemas.KindBlock, id, 1, "X", 0))
	if err != nil {
		t.Fatalf("Execute: got %v, want X put into the unused slot 2", err)
	}
	wantFields(t, raw, map[string]any{"slot": float64(1), "codeSlot": float64(2), "blockCode": "X", "blockCode1": "Q", "blockCode2": "X"})
	if acct, _ := f.sandbox.Account(id); acct.BlockCode1 != "Q" || acct.BlockCode2 != "X" {
		t.Errorf("got sandbox slots %q, %q, want Q, X", acct.BlockCode1, acct.BlockCode2)
	}
}

// TestAdapterKeptCodeIsCheckedAgainstDetails: a block answered "code kept"
// is DONE when Details show the command's code in a slot (an earlier
// attempt applied it), and a refusal otherwise.
func TestAdapterKeptCodeIsCheckedAgainstDetails(t *testing.T) {
	tests := []struct {
		name      string
		slot1     string // set before the command
		slot2     string
		block     string // the command's code, for slot 1
		wantErr   string // "" when DONE
		wantSlot  float64
		wantFirst string // the code of the kept answer the result names
	}{
		{"an earlier attempt applied it in the slot asked", "X", "Q", "X", "", 1, wire.AppBlockCode1Kept},
		{"an earlier attempt applied it in the other slot", "Q", "X", "X", "", 2, wire.AppBlockCode1Kept},
		{"a higher code is kept and ours is nowhere", "Z", "Q", "X", wire.AppBlockCode1Kept, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, cardfake.Config{})
			a := NewAdapter(f.client)
			ctx := context.Background()
			id := newAccountID(t)
			for slot, code := range map[int]string{1: tc.slot1, 2: tc.slot2} {
				if _, err := f.client.SetBlockCode(ctx, id, slot, code, 0, "setup"); err != nil {
					t.Fatal(err)
				}
			}
			applied := f.sandbox.Applied()
			raw, err := a.Execute(ctx, cardRequest(schemas.KindBlock, id, 1, tc.block, 0))
			if tc.wantErr != "" {
				wantError(t, err, providers.Permanent, tc.wantErr, http.StatusUnprocessableEntity)
				return
			}
			if err != nil {
				t.Fatalf("Execute: got %v, want DONE (the code is already in place)", err)
			}
			wantFields(t, raw, map[string]any{"slot": float64(1), "codeSlot": tc.wantSlot, "blockCode": tc.block,
				"stateFrom": "details", "keptCodeAnswer": tc.wantFirst})
			if got := f.sandbox.Applied(); got != applied {
				t.Errorf("sandbox applied %d more changes, want none", got-applied)
			}
		})
	}
}

// blockReq is a block of X into slot 1 of account id whose call can no
// longer land after cannotLandAfter.
func blockReq(id string, cannotLandAfter time.Time) providers.Request {
	r := cardRequest(schemas.KindBlock, id, 1, "X", 0)
	r.CannotLandAfter = cannotLandAfter
	return r
}

// TestResolveCountsAbsenceOnlyAfterTheCallCannotLand: an account state that
// does not show the call's effect proves "not applied" only once the call
// can no longer land; a code in a slot that did not hold it before the
// command's first call proves "applied" at once; without the state before,
// a code in a slot proves it only once the call can no longer land (it may
// have been there already: an earlier block of the same letter).
func TestResolveCountsAbsenceOnlyAfterTheCallCannotLand(t *testing.T) {
	past, future := time.Now().Add(-time.Second), time.Now().Add(time.Hour)
	const empty = `{}`
	tests := []struct {
		name            string
		kind            schemas.Kind
		slot1, slot2    string // the account before Resolve
		before          string // the account before the first call (req.Before); "" not read
		cannotLandAfter time.Time
		want            providers.Verdict
		wantCodeSlot    float64
	}{
		{"block absent, no CannotLandAfter", schemas.KindBlock, "", "", empty, time.Time{}, providers.Unproven, 0},
		{"block absent, too early", schemas.KindBlock, "", "", empty, future, providers.Unproven, 0},
		{"block absent, after it can no longer land", schemas.KindBlock, "", "", empty, past, providers.NotApplied, 0},
		{"block in the slot asked", schemas.KindBlock, "X", "", empty, time.Time{}, providers.Applied, 1},
		{"block in the unused slot", schemas.KindBlock, "Q", "X", `{"blockCode1":"Q"}`, time.Time{}, providers.Applied, 2},
		{"the code was there before, too early", schemas.KindBlock, "X", "", `{"blockCode1":"X"}`, future, providers.Unproven, 0},
		{"the code was there before, late enough", schemas.KindBlock, "X", "", `{"blockCode1":"X"}`, past, providers.NotApplied, 0},
		{"a second copy in the unused slot", schemas.KindBlock, "X", "X", `{"blockCode1":"X"}`, time.Time{}, providers.Applied, 2},
		{"a code, state before unknown, too early", schemas.KindBlock, "X", "", "", future, providers.Unproven, 0},
		{"a code, state before unknown, late enough", schemas.KindBlock, "X", "", "", past, providers.Applied, 1},
		{"another code in the slot, too early", schemas.KindBlock, "Q", "R", empty, future, providers.Unproven, 0},
		{"another code in the slot, late enough", schemas.KindBlock, "Q", "R", empty, past, providers.NotApplied, 0},
		{"unblock, slot empty, late enough", schemas.KindUnblock, "", "Q", "", past, providers.Applied, 1},
		{"unblock, slot empty, too early", schemas.KindUnblock, "", "Q", "", future, providers.Unproven, 0},
		{"unblock, slot empty, no CannotLandAfter", schemas.KindUnblock, "", "Q", "", time.Time{}, providers.Unproven, 0},
		{"unblock, slot holds a code, too early", schemas.KindUnblock, "X", "", "", future, providers.Unproven, 0},
		{"unblock, slot holds a code, late enough", schemas.KindUnblock, "X", "", "", past, providers.NotApplied, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, cardfake.Config{})
			a := NewAdapter(f.client)
			ctx := context.Background()
			id := newAccountID(t)
			for _, s := range []struct {
				slot int
				code string
			}{{1, tc.slot1}, {2, tc.slot2}} {
				if s.code != "" {
					if _, err := f.client.SetBlockCode(ctx, id, s.slot, s.code, 0, "setup"); err != nil {
						t.Fatal(err)
					}
				}
			}
			req := blockReq(id, tc.cannotLandAfter)
			req.Command.Kind = tc.kind
			if tc.before != "" {
				req.Before = json.RawMessage(tc.before)
			}
			requests := f.sandbox.Requests()
			res, err := a.Resolve(ctx, req)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if res.Verdict != tc.want {
				t.Fatalf("got %s (%s), want %s", res.Verdict, res.Evidence, tc.want)
			}
			if res.Evidence == "" {
				t.Error("got no evidence")
			}
			if got := f.sandbox.Requests(); got != requests {
				t.Errorf("Resolve sent %d blockUnblock calls, want none", got-requests)
			}
			if tc.want == providers.Applied {
				wantFields(t, res.Result, map[string]any{"slot": float64(1), "codeSlot": tc.wantCodeSlot, "stateFrom": "details"})
			} else if res.Result != nil {
				t.Errorf("got result %s with verdict %s, want none", res.Result, res.Verdict)
			}
		})
	}
}

// TestKeptCodeWithoutDetailsIsUnknown: when the account cannot be read
// after a kept-code answer, the code may be in place: the outcome is
// unknown, not a refusal.
func TestKeptCodeWithoutDetailsIsUnknown(t *testing.T) {
	// The canned server answers the details inquiry with the same refusal,
	// which is no account.
	srv := newCannedServer(t, 422, `[{"errorCode":"442201","invalid-params":["V5BS0125SC: Block Code 1 cannot be replaced with one of the lower priority"],"status":422}]`)
	a := NewAdapter(NewClient(ClientConfig{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret", HTTPClient: srv.Client()}))
	_, err := a.Execute(context.Background(), cardRequest(schemas.KindBlock, "0001000010000510481", 1, "X", 0))
	wantError(t, err, providers.Unknown, wire.AppBlockCode1Kept, http.StatusUnprocessableEntity)
	if r := srv.rec.last(t, "/details"); r.method != http.MethodGet {
		t.Errorf("got %s of the details, want GET", r.method)
	}
}
