package card_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/providers/card/cardfake"
	"github.com/blockd/blockd/providers/sandboxfault"
	"github.com/blockd/blockd/schemas"
)

func TestResolveReadsTheAccountState(t *testing.T) {
	sb := cardfake.New(cardfake.Config{})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	a := NewAdapter(NewClient(ClientConfig{BaseURL: srv.URL, ClientID: "sandbox-client", ClientSecret: "sandbox-secret", HTTPClient: srv.Client()}))
	ctx := context.Background()
	block := providers.Request{ProviderTrackID: "p1", Command: schemas.Command{Kind: schemas.KindBlock, Provider: schemas.ProviderCard,
		AccountID: "0001000010000510481", BlockCodeSlot: 2, BlockCode: "X"},
		CannotLandAfter: time.Now().Add(-time.Second)}

	res, err := a.Resolve(ctx, block)
	if err != nil || res.Verdict != providers.NotApplied {
		t.Fatalf("before any call: got %+v, %v; want not applied", res, err)
	}
	sb.InjectNext(sandboxfault.FaultApplyThenDrop)
	if _, err := a.Execute(ctx, block); providers.ClassOf(err) != providers.Unknown {
		t.Fatalf("dropped answer: got %v, want an unknown outcome", err)
	}
	res, err = a.Resolve(ctx, block)
	if err != nil || res.Verdict != providers.Applied {
		t.Fatalf("after an applied, dropped call: got %+v, %v; want applied", res, err)
	}
	var r Result
	if err := json.Unmarshal(res.Result, &r); err != nil || r.BlockCode != "X" || r.Slot != 2 {
		t.Fatalf("resolved result %s: %+v, %v", res.Result, r, err)
	}
	if got := sb.Applied(); got != 1 {
		t.Fatalf("sandbox applied %d changes, want 1 (resolving must not re-send)", got)
	}
	unblock := block
	unblock.Command.Kind = schemas.KindUnblock
	if res, _ := a.Resolve(ctx, unblock); res.Verdict == providers.Applied {
		t.Fatal("an unblock resolved as applied while the code is still there")
	}
}
