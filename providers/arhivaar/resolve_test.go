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

func TestResolveNeverSendsAndAllowsARepeatOnceTheCallCannotLand(t *testing.T) {
	sb := arhivaarfake.New(arhivaarfake.Config{})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	a := NewAdapter(NewClient(ClientConfig{BaseURL: srv.URL, AccKey: arhivaarfake.DefaultAccKey, Secret: arhivaarfake.DefaultSecret, HTTPClient: srv.Client()}))
	ctx := context.Background()
	req := providers.Request{Command: schemas.Command{Kind: schemas.KindBlock, Provider: schemas.ProviderArhivaar,
		AccountID: "6475736574794c4e2f594d3d", Note: "Maksmata arve."}, CannotLandAfter: time.Now().Add(-time.Second)}

	sb.InjectNext(sandboxfault.FaultApplyThenDrop)
	if _, err := a.Execute(ctx, req); providers.ClassOf(err) != providers.Unknown {
		t.Fatalf("dropped answer: got %v, want an unknown outcome", err)
	}
	before := sb.Requests()
	res, err := a.Resolve(ctx, req)
	if err != nil || res.Verdict != providers.SafeToRepeat || res.Evidence == "" {
		t.Fatalf("got %+v, %v; want safe to repeat, with evidence", res, err)
	}
	if got := sb.Requests() - before; got != 0 {
		t.Fatalf("Resolve sent %d calls, want none: a re-send here would be a call nobody records or fences", got)
	}
}
