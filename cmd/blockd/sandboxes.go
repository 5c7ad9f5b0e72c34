package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/blockd/blockd/providers/arhivaar/arhivaarfake"
	"github.com/blockd/blockd/providers/card/cardfake"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
)

// The credentials the embedded sandboxes accept, and the service uses
// against them. They are for the simulators only.
const (
	sandboxFinnotechToken  = "sandbox-token"
	sandboxFinnotechClient = "blockd-sandbox"
	sandboxFinnotechSecret = "sandbox-secret"
	sandboxFinnotechNID    = "0012345678"
	sandboxCardClient      = "sandbox-client"
	sandboxCardSecret      = "sandbox-secret"
	sandboxArhivaarAccKey  = arhivaarfake.DefaultAccKey
	sandboxArhivaarSecret  = arhivaarfake.DefaultSecret
)

// sandboxes are the three provider simulators, each on its own listener.
type sandboxes struct {
	finnotech *finnotechfake.Sandbox
	arhivaar  *arhivaarfake.Sandbox
	card      *cardfake.Sandbox
	urls      map[string]string // provider name → base URL
	servers   []*http.Server
}

// startSandboxes starts the simulators on the given addresses (":0" ports
// pick a free one) with the fault settings of cfg.
func startSandboxes(cfg config, addrs map[string]string, log zerolog.Logger) (*sandboxes, error) {
	s := &sandboxes{
		finnotech: finnotechfake.New(finnotechfake.Config{Tokens: []string{sandboxFinnotechToken},
			ClientID: sandboxFinnotechClient, ClientSecret: sandboxFinnotechSecret, Latency: cfg.SandboxLatency,
			ErrorRate: cfg.SandboxErrorRate, TimeoutRate: cfg.SandboxTimeoutRate, ApplyThenDropRate: cfg.SandboxDropRate, Seed: time.Now().UnixNano()}),
		arhivaar: arhivaarfake.New(arhivaarfake.Config{Latency: cfg.SandboxLatency,
			ErrorRate: cfg.SandboxErrorRate, TimeoutRate: cfg.SandboxTimeoutRate, ApplyThenDropRate: cfg.SandboxDropRate, Seed: time.Now().UnixNano()}),
		card: cardfake.New(cardfake.Config{ClientID: sandboxCardClient, ClientSecret: sandboxCardSecret, Latency: cfg.SandboxLatency,
			ErrorRate: cfg.SandboxErrorRate, TimeoutRate: cfg.SandboxTimeoutRate, ApplyThenDropRate: cfg.SandboxDropRate, Seed: time.Now().UnixNano()}),
		urls: make(map[string]string),
	}
	handlers := map[string]http.Handler{"finnotech": s.finnotech, "arhivaar": s.arhivaar, "card": s.card}
	for name, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("starting the %s sandbox on %s: %w", name, addr, err)
		}
		srv := &http.Server{Handler: handlers[name], ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				log.Error().Err(err).Str("provider", name).Msg("sandbox stopped serving")
			}
		}()
		s.servers = append(s.servers, srv)
		s.urls[name] = "http://" + ln.Addr().String()
		log.Warn().Str("provider", name).Str("url", s.urls[name]).
			Msg("started EMBEDDED provider sandbox - a simulator for development only, NOT for production")
	}
	return s, nil
}

func (s *sandboxes) close() {
	for _, srv := range s.servers {
		srv.Close()
	}
}

// runSandboxes is `blockd sandbox`: the three simulators on their
// configured addresses, for other teams to develop against.
func runSandboxes(ctx context.Context, cfg config, log zerolog.Logger) error {
	s, err := startSandboxes(cfg, map[string]string{"finnotech": cfg.SandboxFinnotechAddr, "arhivaar": cfg.SandboxArhivaarAddr, "card": cfg.SandboxCardAddr}, log)
	if err != nil {
		return err
	}
	defer s.close()
	log.Info().Str("finnotechToken", "Bearer "+sandboxFinnotechToken).Str("arhivaarAccKey", sandboxArhivaarAccKey).
		Str("cardClientId", sandboxCardClient).Msg("sandboxes ready; GET /_sandbox/ledger on each shows its ledger")
	<-ctx.Done()
	return nil
}
