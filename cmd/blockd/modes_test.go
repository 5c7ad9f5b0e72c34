package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/providers/providertest/testpki"
	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
	"github.com/blockd/blockd/store/storetest"
)

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name          string
		args          []string
		env           map[string]string
		wantUsage     bool   // a usageError, exit 2
		wantStdout    string // part of stdout
		wantStderr    string // part of stderr
		wantErrNaming []string
	}{
		{name: "no command", args: nil, wantUsage: true, wantStderr: "usage: blockd <command>"},
		{name: "help", args: []string{"help"}, wantStdout: "usage: blockd <command>"},
		{name: "--help", args: []string{"--help"}, wantStdout: "  serve     run in production"},
		{name: "unknown command", args: []string{"run"}, wantUsage: true, wantStderr: "usage: blockd <command>"},
		{name: "arguments after the command", args: []string{"dev", "now"}, wantUsage: true},
		{name: "serve with an empty environment", args: []string{"serve"},
			wantErrNaming: []string{"BLOCKD_KAFKA_BROKERS", "BLOCKD_DATABASE_URL", "BLOCKD_PROVIDERS", "BLOCKD_ADMIN_TOKEN"}},
		{name: "dev with a bad variable", args: []string{"dev"}, env: map[string]string{"BLOCKD_LEASE": "soon"}, wantErrNaming: []string{"BLOCKD_LEASE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := run(ctx, tt.args, envOf(tt.env), &stdout, &stderr)
			var ue usageError
			if got := errors.As(err, &ue); got != tt.wantUsage {
				t.Fatalf("got error %v (a usage error: %v), want a usage error: %v", err, got, tt.wantUsage)
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Fatalf("got stdout %q and stderr %q, want them to hold %q and %q", stdout.String(), stderr.String(), tt.wantStdout, tt.wantStderr)
			}
			if tt.wantErrNaming != nil {
				wantNamed(t, err, tt.wantErrNaming...)
			} else if !tt.wantUsage && err != nil {
				t.Fatalf("got %v, want nil", err)
			}
		})
	}
}

// blockd serve serves only the providers it lists: a command for another is
// REJECTED PROVIDER_UNSUPPORTED; its results are not marked simulated; the
// operator endpoints are on their own listener, behind the bearer token.
func TestServeMode(t *testing.T) {
	h := newServeHarness(t, processor.Hooks{})
	if h.adminAddr == "" || h.adminAddr == h.httpAddr {
		t.Fatalf("got admin listener %q beside probes %q, want one of its own", h.adminAddr, h.httpAddr)
	}

	h.publish(h.cfg.TopicBlock, "acct-s1", `{"trackId":"serve-card","provider":"card","accountId":"0001000010000000001","blockCodeSlot":1,"blockCode":"B"}`)
	h.publish(h.cfg.TopicBlock, "acct-s2", blockJSON("serve-fin", 100))
	card := h.awaitResults("serve-card", 1)[0]
	if card.Status != schemas.StatusRejected || card.Error == nil || card.Error.Code != schemas.CodeProviderUnsupported || card.Attempts != 0 {
		t.Fatalf("card block: got %s %+v, want REJECTED PROVIDER_UNSUPPORTED without a call", card.Status, card.Error)
	}
	if fin := h.awaitResults("serve-fin", 1)[0]; fin.Status != schemas.StatusDone {
		t.Fatalf("finnotech block: got %s %+v, want DONE", fin.Status, fin.Error)
	}
	for _, trackID := range []string{"serve-card", "serve-fin"} {
		m := h.results.byKey(trackID)[0]
		if got := headerValue(m, processor.SimulatedHeader); got != "" || headerValue(m, "ce_source") != "/blockd" {
			t.Errorf("%s: got %s %q and ce_source %q, want no mark and /blockd", trackID, processor.SimulatedHeader, got, headerValue(m, "ce_source"))
		}
	}

	tests := []struct {
		name, addr, path, auth string
		want                   int
	}{
		{"probe", h.httpAddr, "/readyz", "", http.StatusOK},
		{"operator endpoint not on the probes listener", h.httpAddr, "/v1/commands/in-doubt", "Bearer " + harnessAdminToken, http.StatusNotFound},
		{"no token", h.adminAddr, "/v1/commands/in-doubt", "", http.StatusUnauthorized},
		{"wrong token", h.adminAddr, "/v1/commands/in-doubt", "Bearer " + harnessAdminToken + "x", http.StatusUnauthorized},
		{"token without the Bearer scheme", h.adminAddr, "/v1/commands/reconcile", harnessAdminToken, http.StatusUnauthorized},
		{"in-doubt with the token", h.adminAddr, "/v1/commands/in-doubt", "Bearer " + harnessAdminToken, http.StatusOK},
		{"reconcile with the token", h.adminAddr, "/v1/commands/reconcile", "Bearer " + harnessAdminToken, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := httpStatus(t, tt.addr, tt.path, tt.auth); got != tt.want {
				t.Fatalf("GET %s on %s: got HTTP %d, want %d", tt.path, tt.addr, got, tt.want)
			}
		})
	}
}

func httpStatus(t *testing.T, addr, path, auth string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// Every text the operator endpoints show passes the redaction of the logs:
// an in-doubt reason quoting a provider error with an IBAN and a national id
// shows neither.
func TestOperatorEndpointsShowRedactedTexts(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const iban, nid = "IR820540102680020817909002", "0012345678"
	reason := `finnotech: unknown-outcome (HTTP 502): {"error":"deposit ` + iban + ` of national code ` + nid + ` unavailable","token":"eyJhbGciOiJIUzI1NiJ9.e30.c2ln"}`
	cmd := schemas.Command{Kind: schemas.KindBlock, TrackID: "doubt-1", Provider: schemas.ProviderFinnotech, ClientID: "c", Amount: 5, Description: "d", Days: 3}
	rec, err := st.Receive(ctx, cmd, schemas.SourceMeta{Topic: "blockd.cmd.block"}, "me", time.Minute, func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.BeginCall(ctx, schemas.CallStart{TrackID: "doubt-1", Claim: rec.Claim, ProviderTrackID: uuid.NewString()}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkInDoubt(ctx, schemas.MarkInDoubtParams{TrackID: "doubt-1", Claim: rec.Claim, Reason: reason}); err != nil {
		t.Fatal(err)
	}

	const token = "operator-token-for-this-test"
	srv := httptest.NewServer(requireBearer(token, (&healthServer{store: st}).operator()))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/commands/in-doubt", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"trackId":"doubt-1"`) {
		t.Fatalf("got HTTP %d %s, want the in-doubt command listed", res.StatusCode, body)
	}
	for _, secret := range []string{iban, "0540102680020817909", nid, "eyJhbGciOiJIUzI1NiJ9"} {
		if strings.Contains(string(body), secret) {
			t.Errorf("the in-doubt list shows %q:\n%s", secret, body)
		}
	}
	if !strings.Contains(string(body), "9002") || !strings.Contains(string(body), "unavailable") {
		t.Errorf("the reason lost more than the secrets:\n%s", body)
	}

	// The log line carrying the same reason is masked alike.
	var logs bytes.Buffer
	log, err := newLogger(config{LogLevel: "info", LogFormat: "json", InstanceID: "test"}, &logs)
	if err != nil {
		t.Fatal(err)
	}
	log.Warn().Str("reason", reason).Msg("command IN_DOUBT")
	for _, secret := range []string{iban, nid, "eyJhbGciOiJIUzI1NiJ9"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows %q:\n%s", secret, logs.String())
		}
	}
}

// blockd serve takes the database URL as given: a database that does not
// exist stops the start with a message saying so, unless
// BLOCKD_DATABASE_CREATE=true.
func TestServeCreatesTheDatabaseOnlyWhenTold(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	sandbox := httptest.NewServer(finnotechfake.New(finnotechfake.Config{Tokens: []string{sandboxToken}, ClientID: sandboxFinnotechClient, ClientSecret: sandboxFinnotechSecret}))
	t.Cleanup(sandbox.Close)
	dbURL := storetest.MissingDatabase(t)
	env := map[string]string{
		"BLOCKD_KAFKA_BROKERS": strings.Join(cluster.ListenAddrs(), ","), "BLOCKD_DATABASE_URL": dbURL,
		"BLOCKD_PROVIDERS": "finnotech", "BLOCKD_ADMIN_ADDR": "off", "BLOCKD_HTTP_ADDR": "127.0.0.1:0", "BLOCKD_TOPIC_PARTITIONS": "1",
		"BLOCKD_FINNOTECH_URL": sandbox.URL, "BLOCKD_FINNOTECH_ALLOW_HTTP": "true", "BLOCKD_TOKEN_KEY_FILE": writeKeyFile(t, "token.key"), "BLOCKD_FINNOTECH_TOKEN": sandboxToken,
		"BLOCKD_FINNOTECH_REFRESH_TOKEN": "r", "BLOCKD_FINNOTECH_CLIENT_ID": sandboxFinnotechClient,
		"BLOCKD_FINNOTECH_CLIENT_SECRET": sandboxFinnotechSecret, "BLOCKD_FINNOTECH_NID": sandboxFinnotechNID, "BLOCKD_FINNOTECH_BANK": "062",
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)

	t.Run("missing database", func(t *testing.T) {
		cfg, err := loadServeConfig(envOf(env), os.ReadFile)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = serve(ctx, cfg, log, serveOptions{onListen: func(listening) { t.Error("serve started without its database") }})
		if !errors.Is(err, store.ErrDatabaseMissing) {
			t.Fatalf("got %v, want ErrDatabaseMissing", err)
		}
		for _, want := range []string{"BLOCKD_DATABASE_URL", "does not exist", "BLOCKD_DATABASE_CREATE=true"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})

	t.Run("with BLOCKD_DATABASE_CREATE=true", func(t *testing.T) {
		cfg, err := loadServeConfig(envOf(with(env, "BLOCKD_DATABASE_CREATE", "true")), os.ReadFile)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		started := make(chan listening, 1)
		done := make(chan error, 1)
		go func() { done <- serve(ctx, cfg, log, serveOptions{onListen: func(l listening) { started <- l }}) }()
		select {
		case <-started:
		case err := <-done:
			t.Fatalf("serve stopped at start: %v", err)
		case <-time.After(60 * time.Second):
			t.Fatal("serve did not start")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("serve returned %v", err)
		}
	})
}

// The provider TLS settings reach the provider's client: a private CA
// (BLOCKD_<PROVIDER>_CA_FILE) and a client pair for mutual TLS
// (_CERT_FILE, _KEY_FILE).
func TestProviderTLSFromTheConfiguration(t *testing.T) {
	ca, clientCA := testpki.NewCA(t, "card platform CA"), testpki.NewCA(t, "card platform clients")
	certPEM, keyPEM := clientCA.Client(t, "blockd")
	caFile := testpki.WriteFile(t, "ca.pem", ca.PEM)
	certFile, keyFile := testpki.WriteFile(t, "client.pem", certPEM), testpki.WriteFile(t, "client-key.pem", keyPEM)
	serverTLS := func(mutual bool) *httptest.Server {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "127.0.0.1")}, MinVersion: tls.VersionTLS12}
		if mutual {
			srv.TLS.ClientAuth, srv.TLS.ClientCAs = tls.RequireAndVerifyClientCert, clientCA.Pool()
		}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv
	}
	plain, mutual := serverTLS(false), serverTLS(true)
	tests := []struct {
		name   string
		url    string
		extra  []string
		wantOK bool
	}{
		{"private CA trusted with CA_FILE", plain.URL, []string{"BLOCKD_CARD_CA_FILE", caFile}, true},
		{"private CA refused without CA_FILE", plain.URL, nil, false},
		{"mutual TLS with the client pair", mutual.URL, []string{"BLOCKD_CARD_CA_FILE", caFile, "BLOCKD_CARD_CERT_FILE", certFile, "BLOCKD_CARD_KEY_FILE", keyFile}, true},
		{"mutual TLS refused without the client pair", mutual.URL, []string{"BLOCKD_CARD_CA_FILE", caFile}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadServeConfig(envOf(with(serveEnv(t), append([]string{"BLOCKD_CARD_URL", tt.url}, tt.extra...)...)), os.ReadFile)
			if err != nil {
				t.Fatal(err)
			}
			client, err := providerClient(cfg, "card", false, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := client.Get(cfg.CardURL)
			if err == nil {
				res.Body.Close()
			}
			if got := err == nil && res.StatusCode == http.StatusOK; got != tt.wantOK {
				t.Fatalf("got err %v, want a successful call: %v", err, tt.wantOK)
			}
		})
	}
}
