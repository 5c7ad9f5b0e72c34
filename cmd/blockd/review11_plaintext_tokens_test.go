package main

import (
	"context"
	"database/sql"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/blockd/blockd/providers/card/cardfake"
	"github.com/blockd/blockd/store"
	"github.com/blockd/blockd/store/storetest"
)

// Review (issue 11): a deployment that no longer serves Finnotech
// (BLOCKD_PROVIDERS=card) runs blockd serve without BLOCKD_TOKEN_KEY_FILE,
// so tokenKeyring returns nil and checkStoredTokens never runs: Finnotech
// tokens stored in clear before migration 00009 stay in clear for good,
// with not even a warning, although README ("Tokens at rest") says the
// first start of this version encrypts every plaintext token and the table
// holds none. Refusing to start (naming BLOCKD_TOKEN_KEY_FILE) would do too.
func TestReviewServeWithoutFinnotechLeavesPlaintextTokens(t *testing.T) {
	ctx := context.Background()
	dbURL := storetest.NewSchema(t)
	st, err := store.Open(ctx, dbURL) // migrated, as the upgrade leaves it
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const access, refresh = "plaintext-live-access-token", "plaintext-live-refresh-token"
	if _, err := db.ExecContext(ctx, `INSERT INTO provider_tokens (provider, client_id, value, refresh_token) VALUES ('finnotech', 'old-app', $1, $2)`, access, refresh); err != nil {
		t.Fatal(err)
	}

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cards := httptest.NewServer(cardfake.New(cardfake.Config{ClientID: "c", ClientSecret: "s"}))
	t.Cleanup(cards.Close)
	env := map[string]string{
		"BLOCKD_KAFKA_BROKERS": strings.Join(cluster.ListenAddrs(), ","), "BLOCKD_DATABASE_URL": dbURL,
		"BLOCKD_PROVIDERS": "card", "BLOCKD_CARD_URL": cards.URL, "BLOCKD_CARD_ALLOW_HTTP": "true",
		"BLOCKD_CARD_CLIENT_ID": "c", "BLOCKD_CARD_CLIENT_SECRET": "s",
		"BLOCKD_ADMIN_ADDR": "off", "BLOCKD_HTTP_ADDR": "127.0.0.1:0", "BLOCKD_TOPIC_PARTITIONS": "1",
	}
	cfg, err := loadServeConfig(envOf(env), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	started := make(chan struct{}, 1)
	done := make(chan error, 1)
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	go func() {
		done <- serve(runCtx, cfg, log, serveOptions{onListen: func(listening) { started <- struct{}{} }})
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "BLOCKD_TOKEN_KEY_FILE") {
			t.Fatalf("serve stopped at start with %v, want it to start or to ask for BLOCKD_TOKEN_KEY_FILE", err)
		}
		return // refused: the tokens are not left unnoticed
	case <-started:
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v", err)
		}
	}()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM provider_tokens WHERE value <> '' OR refresh_token <> ''`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n > 0 {
		t.Errorf("blockd serve started and left %d provider_tokens row(s) in clear (value %q, refresh %q), want none", n, access, refresh)
	}
}
