package arhivaar_test

import (
	"strings"
	"testing"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/arhivaar"
	"github.com/blockd/blockd/providers/arhivaar/arhivaarfake"
	"github.com/blockd/blockd/providers/providertest"
	"github.com/blockd/blockd/schemas"
)

func TestContract(t *testing.T) {
	providertest.Run(t, func(t *testing.T) providertest.Env {
		f := newFixture(t, arhivaarfake.Config{})
		block := func(id, note string) func() providers.Request {
			return func() providers.Request {
				return providers.Request{Command: schemas.Command{
					Kind:      schemas.KindBlock,
					TrackID:   "arh-blk-" + newAccountID(t),
					Provider:  schemas.ProviderArhivaar,
					AccountID: id,
					Note:      note,
				}}
			}
		}
		return providertest.Env{
			Adapter: NewAdapter(f.client),
			Valid: func() providers.Request {
				return block(newAccountID(t), "Maksmata arve.")()
			},
			Invalid: []providertest.Case{
				{Name: "note of 1001 characters", Req: block(newAccountID(t), strings.Repeat("õ", 1001)), Code: CodeInvalidNote},
				{Name: "whitespace-only note", Req: block(newAccountID(t), " \t "), Code: CodeInvalidNote},
				{Name: "empty note", Req: block(newAccountID(t), ""), Code: CodeInvalidNote},
				{Name: "id not hex", Req: block("not-hex!", "Maksmata arve."), Code: CodeInvalidID},
				{Name: "empty id", Req: block("", "Maksmata arve."), Code: CodeInvalidID},
			},
			// Arhivaar documents no business refusal, and a Case cannot
			// change the client's secret (TestWrongCredentials covers
			// INVALID_SIGNATURE). The permanent case is the one refusal
			// blockd's JSON Schema lets through: an id that matches
			// arhivaarAccountId but is not an encoded id Arhivaar knows,
			// here the seed's id less its last digit (odd length).
			Permanent: providertest.Case{
				Name: "id of odd length",
				Req:  block(seedID[:len(seedID)-1], "Maksmata arve."),
				Code: CodeInvalidID,
			},
			Inject:  f.sandbox.InjectNext,
			Applied: f.sandbox.Applied,
			// Arhivaar signs every request; there is no token.
			TokensIssued: nil,
		}
	})
}
