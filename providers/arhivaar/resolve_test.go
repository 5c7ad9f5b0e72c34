package arhivaar_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/arhivaar"
	"github.com/blockd/blockd/providers/arhivaar/arhivaarfake"
	"github.com/blockd/blockd/providers/sandboxfault"
	"github.com/blockd/blockd/schemas"
)

func TestResolveResendsTheIdempotentCall(t *testing.T) {
	sb := arhivaarfake.New(arhivaarfake.Config{})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	a := NewAdapter(NewClient(ClientConfig{BaseURL: srv.URL, AccKey: arhivaarfake.DefaultAccKey, Secret: arhivaarfake.DefaultSecret, HTTPClient: srv.Client()}))
	ctx := context.Background()
	// Resolve is asked after the call can no longer land.
	req := providers.Request{Command: schemas.Command{Kind: schemas.KindBlock, Provider: schemas.ProviderArhivaar,
		AccountID: "6475736574794c4e2f594d3d", Note: "Maksmata arve."}, CannotLandAfter: time.Now().Add(-time.Second)}

	sb.InjectNext(sandboxfault.FaultApplyThenDrop)
	if _, err := a.Execute(ctx, req); providers.ClassOf(err) != providers.Unknown {
		t.Fatalf("dropped answer: got %v, want an unknown outcome", err)
	}
	res, err := a.Resolve(ctx, req)
	if err != nil || res.Verdict != providers.Applied || len(res.Result) == 0 {
		t.Fatalf("got %+v, %v; want applied with a result", res, err)
	}
	acct, _ := sb.Account(req.Command.AccountID)
	if !acct.Blocked || acct.Changes != 1 {
		t.Fatalf("account after resolving: %+v, want blocked once (the re-send changes nothing)", acct)
	}
	bad := req
	bad.Command.Note = "   "
	if res, err := a.Resolve(ctx, bad); err != nil || res.Verdict != providers.NotApplied {
		t.Fatalf("refused re-send: got %+v, %v; want confirmed not applied", res, err)
	}
}
