package finnotech_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/providers/finnotech/internal/wire"
	"github.com/blockd/blockd/providers/providertest"
	"github.com/blockd/blockd/schemas"
)

// mintingTokens hands out a new token per clientId after each Invalidate,
// counting the tokens issued. The sandbox accepts any Bearer token, so each
// new one works.
type mintingTokens struct {
	mu     sync.Mutex
	cached map[string]string
	issued int
}

func (m *mintingTokens) Token(_ context.Context, clientID string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tok, ok := m.cached[clientID]; ok {
		return tok, nil
	}
	m.issued++
	tok := fmt.Sprintf("token-%d", m.issued)
	m.cached[clientID] = tok
	return tok, nil
}

func (m *mintingTokens) Invalidate(clientID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.cached, clientID)
}

// ClientCredential hands out the one client-credential token the sandbox
// takes for every scope; nothing in the contract refuses it.
func (m *mintingTokens) ClientCredential(context.Context, ...string) (string, error) {
	return finnotechfake.ClientCredentialPrefix + "contract", nil
}

func (m *mintingTokens) InvalidateClientCredential(...string) {}

func (m *mintingTokens) Issued() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.issued
}

// TestContract runs the contract with a TokenSource that mints a token of
// its own after each dead-token signal, against a sandbox that accepts any
// token it did not revoke.
func TestContract(t *testing.T) {
	providertest.Run(t, func(t *testing.T) providertest.Env {
		sb := finnotechfake.New(finnotechfake.Config{Now: sandboxDay})
		srv := httptest.NewServer(sb)
		t.Cleanup(srv.Close)
		tokens := &mintingTokens{cached: map[string]string{}}
		env := contractEnv(t, sb, NewAdapter(NewClient(ClientConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), Tokens: tokens})))
		env.TokensIssued = tokens.Issued
		return env
	})
}

// TestContractWithTokens runs the contract with the production token
// source: Tokens on a memory store seeded with a token the sandbox
// accepts. The dead-token signal revokes that token, so the retry works
// only because Tokens refreshes it at the sandbox's token endpoint.
func TestContractWithTokens(t *testing.T) {
	providertest.Run(t, func(t *testing.T) providertest.Env {
		f := newTokenFixture(t, finnotechfake.Config{Now: sandboxDay}, TokensConfig{})
		env := contractEnv(t, f.sandbox, NewAdapter(f.client))
		env.TokensIssued = f.sandbox.TokensIssued
		return env
	})
}

// contractEnv is the contract's environment for an adapter a on sandbox
// sb; the caller sets TokensIssued.
func contractEnv(t *testing.T, sb *finnotechfake.Sandbox, a *Adapter) providertest.Env {
	block := func(edit func(*schemas.Command)) func() providers.Request {
		return func() providers.Request {
			cmd := schemas.Command{Kind: schemas.KindBlock, TrackID: newTrackID(t), Provider: schemas.ProviderFinnotech,
				ClientID: "app-1", Amount: 10_000, Description: "test", Days: 30}
			if edit != nil {
				edit(&cmd)
			}
			return providers.Request{Command: cmd, ProviderTrackID: newTrackID(t)}
		}
	}
	return providertest.Env{
		Adapter: a,
		Valid:   block(nil),
		Invalid: []providertest.Case{
			{Name: "days over 90", Req: block(func(c *schemas.Command) { c.Days = 91 }), Code: wire.CodeValidation},
			{Name: "no days", Req: block(func(c *schemas.Command) { c.Days = 0 }), Code: wire.CodeValidation},
			{Name: "zero amount", Req: block(func(c *schemas.Command) { c.Amount = 0 }), Code: wire.CodeValidation},
			{Name: "no description", Req: block(func(c *schemas.Command) { c.Description = "" }), Code: wire.CodeValidation},
			{Name: "trackId over 40 characters", Code: wire.CodeValidation, Req: func() providers.Request {
				r := block(nil)()
				r.ProviderTrackID = strings.Repeat("x", 41)
				return r
			}},
		},
		Permanent: providertest.Case{
			Name: "unblock of a block Finnotech does not hold",
			Code: wire.CodeValidation,
			Req: func() providers.Request {
				return providers.Request{
					Command:         schemas.Command{Kind: schemas.KindUnblock, TrackID: newTrackID(t), Provider: schemas.ProviderFinnotech},
					ProviderTrackID: newTrackID(t),
					Block: &schemas.BlockRef{TrackID: "never-blocked", Provider: schemas.ProviderFinnotech, ClientID: "app-1",
						Amount: 10_000, Description: "test", Days: 30, Deposit: finnotechfake.DepositOf("app-1"), BlockDate: "951210",
						ProviderTrackID: "never-blocked"},
				}
			},
		},
		Inject: sb.InjectNext,
		Applied: func() int {
			return sb.CallCount(finnotechfake.OpBlock) + sb.CallCount(finnotechfake.OpUnblock) + sb.CallCount(finnotechfake.OpTransfer)
		},
	}
}
