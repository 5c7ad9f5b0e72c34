package card_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/providers/card/cardfake"
	"github.com/blockd/blockd/providers/card/internal/wire"
	"github.com/blockd/blockd/providers/providertest"
	"github.com/blockd/blockd/schemas"
)

// cardRequest is a card command of kind k for the adapter.
func cardRequest(k schemas.Kind, accountID string, slot int, code string, businessUnit int) providers.Request {
	return providers.Request{
		Command: schemas.Command{Kind: k, TrackID: "cmd-" + uuid.NewString()[:8], Provider: schemas.ProviderCard,
			AccountID: accountID, BlockCodeSlot: slot, BlockCode: code, BusinessUnit: businessUnit},
		ProviderTrackID: uuid.NewString(),
	}
}

func TestContract(t *testing.T) {
	providertest.Run(t, func(t *testing.T) providertest.Env {
		sb := cardfake.New(cardfake.Config{})
		srv := httptest.NewServer(sb)
		t.Cleanup(srv.Close)
		a := NewAdapter(NewClient(ClientConfig{BaseURL: srv.URL, ClientID: cardfake.DefaultClientID, ClientSecret: cardfake.DefaultClientSecret, HTTPClient: srv.Client()}))
		return providertest.Env{
			Adapter: a,
			Valid: func() providers.Request {
				return cardRequest(schemas.KindBlock, newAccountID(t), 1, "B", 0)
			},
			Invalid: []providertest.Case{
				{Name: "accountId of 18 characters", Code: wire.AppInvalidAccount, Req: func() providers.Request {
					return cardRequest(schemas.KindBlock, newAccountID(t)[:18], 1, "B", 0)
				}},
				{Name: "lowercase block code", Code: wire.AppInvalidBlockCode1, Req: func() providers.Request {
					return cardRequest(schemas.KindBlock, newAccountID(t), 1, "a", 0)
				}},
				{Name: "lowercase block code in slot 2", Code: wire.AppInvalidBlockCode2, Req: func() providers.Request {
					return cardRequest(schemas.KindBlock, newAccountID(t), 2, "x", 0)
				}},
				// The gateway refuses an out-of-range businessUnit with 240010
				// "Constraint(s) Violated"; invalid-params has no VisionPLUS code.
				{Name: "businessUnit 999", Code: wire.CodeConstraintViolated, Req: func() providers.Request {
					return cardRequest(schemas.KindBlock, newAccountID(t), 1, "B", 999)
				}},
			},
			Permanent: providertest.Case{Name: "account starting with 999", Code: wire.AppRecordNotFound, Req: func() providers.Request {
				return cardRequest(schemas.KindBlock, "999"+newAccountID(t)[3:], 1, "B", 0)
			}},
			Inject:       sb.InjectNext,
			Applied:      sb.Applied,
			TokensIssued: sb.TokensIssued,
		}
	})
}

func TestAdapterBlockThenUnblock(t *testing.T) {
	f := newFixture(t, cardfake.Config{})
	a := NewAdapter(f.client)
	ctx := context.Background()
	id := "0001000010000510481"
	f.sandbox.SeedAccount(id, 100)

	block := cardRequest(schemas.KindBlock, id, 2, "X", 100)
	block.ProviderTrackID = strings.Repeat("p", 45)
	raw, err := a.Execute(ctx, block)
	if err != nil {
		t.Fatalf("Execute(block): %v", err)
	}
	var got Result
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("decoding block result %s: %v", raw, err)
	}
	want := Result{AccountID: id, Slot: 2, CodeSlot: 2, BlockCode: "X", BlockCode2: "X", BlockCode2Date: "19/08/2021", BusinessUnit: 100,
		StateFrom: StateFromAnswer}
	if got != want {
		t.Errorf("got block result %+v, want %+v", got, want)
	}
	if r := f.rec.last(t, "/blockUnblock"); r.header.Get("x-client-correlation-id") != strings.Repeat("p", 40) {
		t.Errorf("got correlation id %q, want the provider trackId cut to 40", r.header.Get("x-client-correlation-id"))
	}
	var keys map[string]any
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"accountId", "slot", "codeSlot", "blockCode", "blockCode1", "blockCode2", "blockCode1Date", "blockCode2Date", "businessUnit", "stateFrom"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("result %s has no %q", raw, k)
		}
	}

	unblock := cardRequest(schemas.KindUnblock, id, 2, "", 100)
	raw, err = a.Execute(ctx, unblock)
	if err != nil {
		t.Fatalf("Execute(unblock): %v", err)
	}
	if r := f.rec.last(t, "/blockUnblock"); string(r.body) != `{"blockCode2":" "}` {
		t.Errorf("got unblock body %s, want {\"blockCode2\":\" \"}", r.body)
	}
	got = Result{}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("decoding unblock result %s: %v", raw, err)
	}
	want = Result{AccountID: id, Slot: 2, CodeSlot: 2, BlockCode: "", BlockCode2: "", BlockCode2Date: "19/08/2021", BusinessUnit: 100,
		StateFrom: StateFromAnswer}
	if got != want {
		t.Errorf("got unblock result %+v, want %+v", got, want)
	}

	d, err := a.Details(ctx, id)
	if err != nil {
		t.Fatalf("Details: %v", err)
	}
	if d.BlockCode2 != "" || d.BlockCode2Date != "19/08/2021" {
		t.Errorf("got details %+v, want slot 2 empty since 19/08/2021", d)
	}
}

func TestAdapterErrors(t *testing.T) {
	f := newFixture(t, cardfake.Config{})
	a := NewAdapter(f.client)
	id := newAccountID(t)
	tests := []struct {
		name       string
		req        providers.Request
		wantClass  providers.Class
		wantCode   string
		wantStatus int
	}{
		{"transfer", cardRequest(schemas.KindTransfer, id, 1, "B", 0), providers.Permanent, CodeUnsupported, 0},
		{"inquiry", cardRequest(schemas.KindInquiry, id, 1, "B", 0), providers.Permanent, CodeUnsupported, 0},
		{"block without a code", cardRequest(schemas.KindBlock, id, 1, "", 0), providers.Permanent, CodeBadRequest, 0},
		{"block with a space", cardRequest(schemas.KindBlock, id, 1, " ", 0), providers.Permanent, CodeBadRequest, 0},
		{"no slot", cardRequest(schemas.KindBlock, id, 0, "B", 0), providers.Permanent, CodeBadRequest, 0},
		{"unblock of a missing account", cardRequest(schemas.KindUnblock, "9990000000000000000", 1, "", 0),
			providers.Permanent, wire.AppRecordNotFound, http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := a.Execute(context.Background(), tc.req)
			if raw != nil {
				t.Errorf("got result %s, want none", raw)
			}
			wantError(t, err, tc.wantClass, tc.wantCode, tc.wantStatus)
		})
	}
	if n := f.sandbox.Requests(); n != 1 {
		t.Errorf("got %d requests, want 1 (only the unblock of a missing account is sent)", n)
	}
}

func TestAdapterReplayOfASuccessfulBlock(t *testing.T) {
	// Sending a block that already succeeded again, while the other slot is
	// free, puts the code into that unused entry a second time (the seed's
	// rule; see cardfake): the replay is DONE, and the account now holds
	// the code twice. This is why a block that may have been applied is
	// resolved by Details, never sent again.
	f := newFixture(t, cardfake.Config{})
	a := NewAdapter(f.client)
	ctx := context.Background()
	req := cardRequest(schemas.KindBlock, newAccountID(t), 1, "B", 0)
	if _, err := a.Execute(ctx, req); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	raw, err := a.Execute(ctx, req)
	if err != nil {
		t.Fatalf("Execute again: %v", err)
	}
	wantFields(t, raw, map[string]any{"slot": float64(1), "codeSlot": float64(1), "blockCode1": "B", "blockCode2": "B", "stateFrom": "answer"})
	if got := f.sandbox.Applied(); got != 2 {
		t.Errorf("got %d applied, want 2 (the replay landed too)", got)
	}
}
