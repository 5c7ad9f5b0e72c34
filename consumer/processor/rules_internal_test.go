package processor

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

// plainProvider calls nothing; statefulProvider also reads state first.
type plainProvider struct{}

func (plainProvider) Execute(context.Context, providers.Request) (json.RawMessage, error) {
	return nil, nil
}

type statefulProvider struct{ plainProvider }

func (statefulProvider) Prepare(context.Context, providers.Request) (json.RawMessage, error) {
	return nil, nil
}

// TestCallsAtOnceOnlyWhereTheRulesReadNothing: a command whose first call
// is recorded with the command itself must be one for which applyRules
// reads no stored state (the Processor below has no store: a read panics)
// and changes nothing of the call; and at least the Finnotech block is one.
func TestCallsAtOnceOnlyWhereTheRulesReadNothing(t *testing.T) {
	p := New(Config{}, nil, nil, map[schemas.Provider]Provider{
		schemas.ProviderFinnotech: plainProvider{}, schemas.ProviderArhivaar: plainProvider{}, schemas.ProviderCard: statefulProvider{},
	}, Hooks{}, zerolog.Nop())
	var atOnce []string
	for _, prov := range []schemas.Provider{schemas.ProviderFinnotech, schemas.ProviderArhivaar, schemas.ProviderCard} {
		for _, kind := range []schemas.Kind{schemas.KindBlock, schemas.KindUnblock, schemas.KindTransfer, schemas.KindInquiry} {
			for _, inquiry := range []string{"", "transfer", "facility"} {
				cmd := schemas.Command{Kind: kind, Provider: prov, TrackID: "t1", Inquiry: inquiry, BlockTrackID: "b1",
					UnblockTrackID: "u1", TransferTrackID: "x1", AccountID: "a1"}
				if !p.callsAtOnce(cmd) {
					continue
				}
				atOnce = append(atOnce, string(prov)+"/"+string(kind)+"/"+inquiry)
				req := providers.Request{Command: cmd, ProviderTrackID: "p1"}
				start := schemas.CallStart{TrackID: "t1", Claim: "c1", ProviderTrackID: "p1"}
				wantReq, wantStart := req, start
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Errorf("%s/%s/%s is recorded with its first call, but its rules read stored state: %v", prov, kind, inquiry, r)
						}
					}()
					rejection, err := p.applyRules(context.Background(), zerolog.Nop(), cmd, &req, &start, time.Now().Add(time.Minute))
					if rejection != nil || err != nil || !reflect.DeepEqual(req, wantReq) || !reflect.DeepEqual(start, wantStart) {
						t.Errorf("%s/%s/%s is recorded with its first call, but its rules answer %+v, %v or change the call", prov, kind, inquiry, rejection, err)
					}
				}()
			}
		}
	}
	if len(atOnce) == 0 || atOnce[0] != "finnotech/block/" {
		t.Errorf("commands recorded with their first call: %v; want the Finnotech block among them", atOnce)
	}
	if p.callsAtOnce(schemas.Command{Kind: schemas.KindBlock, Provider: schemas.ProviderCard}) {
		t.Error("a card block is recorded with its first call, but the card provider reads state before it")
	}
}
