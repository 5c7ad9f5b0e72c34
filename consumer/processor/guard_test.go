package processor

import (
	"context"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

func TestRateLimitHoldsCallsBack(t *testing.T) {
	g := newGuard("card", Policy{RateLimit: 1, Burst: 1}) // one call a second
	report, err := g.admit(context.Background(), schemas.ProviderCard)
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	report(nil, providers.Permanent)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := g.admit(ctx, schemas.ProviderCard); err == nil {
		t.Fatal("a second call within the same second was admitted with a limit of 1/s")
	}
	unlimited := newGuard("card", Policy{})
	for i := range 100 {
		r, err := unlimited.admit(context.Background(), schemas.ProviderCard)
		if err != nil {
			t.Fatalf("call %d without a limit: %v", i, err)
		}
		r(nil, providers.Permanent)
	}
}
