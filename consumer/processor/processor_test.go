package processor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/providers/arhivaar"
	"github.com/blockd/blockd/providers/arhivaar/arhivaarfake"
	"github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/providers/card/cardfake"
	"github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
	"github.com/blockd/blockd/store/storetest"
)

const blockTopic = "blockd.cmd.block"

type env struct {
	t         *testing.T
	store     *store.Store
	proc      *processor.Processor
	card      *cardfake.Sandbox
	arhivaar  *arhivaarfake.Sandbox
	finnotech *finnotechfake.Sandbox
	offset    int64

	validator *schemas.Validator
	provs     map[schemas.Provider]processor.Provider
}

// newEnv wires a processor to a fresh schema and real sandboxes over HTTP.
// arhivaarURL, when set, replaces the Arhivaar sandbox (to simulate a
// provider that never answers).
func newEnv(t *testing.T, cfg processor.Config, arhivaarURL string) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cardSB := cardfake.New(cardfake.Config{})
	cardSrv := httptest.NewServer(cardSB)
	t.Cleanup(cardSrv.Close)
	arhSB := arhivaarfake.New(arhivaarfake.Config{})
	arhSrv := httptest.NewServer(arhSB)
	t.Cleanup(arhSrv.Close)
	finSB := finnotechfake.New(finnotechfake.Config{})
	finSrv := httptest.NewServer(finSB)
	t.Cleanup(finSrv.Close)
	if arhivaarURL == "" {
		arhivaarURL = arhSrv.URL
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	httpClient := &http.Client{}
	provs := map[schemas.Provider]processor.Provider{
		schemas.ProviderCard: card.NewAdapter(card.NewClient(card.ClientConfig{BaseURL: cardSrv.URL, ClientID: "sandbox-client", ClientSecret: "sandbox-secret", HTTPClient: httpClient})),
		schemas.ProviderFinnotech: finnotech.NewAdapter(finnotech.NewClient(finnotech.ClientConfig{BaseURL: finSrv.URL, HTTPClient: httpClient,
			Tokens: finnotechfake.StaticToken("processor-test")})),
		schemas.ProviderArhivaar: arhivaar.NewAdapter(arhivaar.NewClient(arhivaar.ClientConfig{BaseURL: arhivaarURL, AccKey: arhivaarfake.DefaultAccKey, Secret: arhivaarfake.DefaultSecret, HTTPClient: httpClient})),
	}
	e := &env{t: t, store: st, card: cardSB, arhivaar: arhSB, finnotech: finSB, validator: v, provs: provs}
	e.proc = e.newProcessor(cfg, processor.Hooks{})
	return e
}

// newProcessor is another processor on the env's store and sandboxes: an
// instance of its own, as another process would be.
func (e *env) newProcessor(cfg processor.Config, hooks processor.Hooks) *processor.Processor {
	cfg.Topics = map[string]schemas.Kind{blockTopic: schemas.KindBlock, "blockd.cmd.unblock": schemas.KindUnblock}
	cfg.RetryDelay, cfg.RetryDelayMax = 10*time.Millisecond, 20*time.Millisecond
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 2 * time.Second
	}
	return processor.New(cfg, e.store, e.validator, e.provs, hooks, zerolog.New(zerolog.NewTestWriter(e.t)).Level(zerolog.WarnLevel))
}

func (e *env) handle(topic, value string) {
	e.t.Helper()
	e.offset++
	for {
		// Like the consumer: a message held back is handled again after its wait.
		err := e.proc.Handle(context.Background(), kafka.Message{Topic: topic, Offset: e.offset, Key: []byte("k"), Value: []byte(value)})
		var held interface{ Deferred() time.Duration }
		if errors.As(err, &held) {
			time.Sleep(held.Deferred())
			continue
		}
		if err != nil {
			e.t.Fatalf("Handle: %v", err)
		}
		return
	}
}

// results returns the result events queued for trackID, oldest first.
func (e *env) results(trackID string) []schemas.Result {
	e.t.Helper()
	var values [][]byte
	if err := e.store.DB().Select(&values, `SELECT value FROM outbox WHERE key = $1 AND topic = 'blockd.results' ORDER BY id`, []byte(trackID)); err != nil {
		e.t.Fatal(err)
	}
	out := make([]schemas.Result, len(values))
	for i, v := range values {
		if err := json.Unmarshal(v, &out[i]); err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}

func (e *env) onlyResult(trackID string) schemas.Result {
	e.t.Helper()
	rs := e.results(trackID)
	if len(rs) != 1 {
		e.t.Fatalf("got %d results for %s, want 1", len(rs), trackID)
	}
	return rs[0]
}

func cardBlock(trackID, account string) string {
	return fmt.Sprintf(`{"trackId":%q,"provider":"card","accountId":%q,"blockCodeSlot":1,"blockCode":"B"}`, trackID, account)
}

// runProcessor runs p's sweeper until the test ends.
func runProcessor(t *testing.T, p *processor.Processor) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func kafkaMessage(topic string, offset int64, value string) kafka.Message {
	return kafka.Message{Topic: topic, Offset: offset, Key: []byte("k"), Value: []byte(value)}
}

// newTransferProcessor is another instance on e's store and sandboxes that
// also reads transfers.
func (e *env) newTransferProcessor(cfg processor.Config, hooks processor.Hooks) *processor.Processor {
	cfg.Topics = map[string]schemas.Kind{blockTopic: schemas.KindBlock, "blockd.cmd.unblock": schemas.KindUnblock,
		"blockd.cmd.transfer": schemas.KindTransfer}
	cfg.RetryDelay, cfg.RetryDelayMax = 10*time.Millisecond, 20*time.Millisecond
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 2 * time.Second
	}
	return processor.New(cfg, e.store, e.validator, e.provs, hooks, zerolog.New(zerolog.NewTestWriter(e.t)).Level(zerolog.WarnLevel))
}

// waitFor polls cond until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
