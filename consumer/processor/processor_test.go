package processor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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
	"github.com/blockd/blockd/providers/sandboxfault"
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

func TestRetryableFailureIsRetriedWithANewAttempt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	e.card.InjectNext(sandboxfault.FaultRetryable)
	e.handle(blockTopic, cardBlock("r1", "0001000010000000001"))
	r := e.onlyResult("r1")
	if r.Status != schemas.StatusDone || r.Attempts != 2 {
		t.Fatalf("got %s after %d attempts (%+v), want DONE after 2", r.Status, r.Attempts, r.Error)
	}
	if got := e.card.Applied(); got != 1 {
		t.Fatalf("sandbox applied %d changes, want 1", got)
	}
}

func TestRetriesAreBoundedAndEndRetryable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{MaxAttempts: 3}, "")
	e.arhivaar.SetFaults(1, 0, 0) // every call: 503, not applied
	e.handle(blockTopic, `{"trackId":"r2","provider":"arhivaar","accountId":"ab12","note":"n"}`)
	r := e.onlyResult("r2")
	if r.Status != schemas.StatusFailed || r.Error == nil || !r.Error.Retryable || r.Error.Code != schemas.CodeProviderUnavailable || r.Attempts != 3 {
		t.Fatalf("got %s after %d attempts (%+v), want FAILED, retryable, PROVIDER_UNAVAILABLE after 3", r.Status, r.Attempts, r.Error)
	}
	if acct, ok := e.arhivaar.Account("ab12"); ok && acct.Changes != 0 {
		t.Fatalf("account changed %d times, want 0", acct.Changes)
	}
}

func TestAppliedCallWithLostAnswerIsResolvedNotResent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	e.card.InjectNext(sandboxfault.FaultApplyThenDrop)
	e.handle(blockTopic, cardBlock("u1", "0001000010000000002"))
	r := e.onlyResult("u1")
	if r.Status != schemas.StatusDone || r.Attempts != 1 {
		t.Fatalf("got %s after %d attempts (%+v), want DONE after 1 (resolved by inquiry)", r.Status, r.Attempts, r.Error)
	}
	if got := e.card.Applied(); got != 1 {
		t.Fatalf("sandbox applied %d changes, want 1", got)
	}
	if got := e.card.Requests(); got != 1 {
		t.Fatalf("sandbox received %d blockUnblock calls, want 1 (the inquiry is a details read)", got)
	}
}

func TestTimedOutCallConfirmedAbsentIsReissued(t *testing.T) {
	t.Parallel()
	// The details read says "not there" at once, but that counts only once
	// the timed-out call can no longer land: call timeout + landing margin.
	const callTimeout, margin = 300 * time.Millisecond, 500 * time.Millisecond
	e := newEnv(t, processor.Config{CallTimeout: callTimeout, LandingMargin: margin, ResolveInline: 5 * time.Second}, "")
	e.card.InjectNext(sandboxfault.FaultTimeout)
	e.handle(blockTopic, cardBlock("u2", "0001000010000000003"))
	r := e.onlyResult("u2")
	if r.Status != schemas.StatusDone || r.Attempts != 2 {
		t.Fatalf("got %s after %d attempts (%+v), want DONE after 2", r.Status, r.Attempts, r.Error)
	}
	if got := e.card.Applied(); got != 1 {
		t.Fatalf("sandbox applied %d changes, want 1", got)
	}
	var calls []string
	if err := e.store.DB().Select(&calls, `SELECT state || ':' || coalesce(error_code, '') FROM provider_calls WHERE track_id = 'u2' ORDER BY attempt`); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0] != "FAILED:CONFIRMED_NOT_APPLIED" || calls[1] != "DONE:" {
		t.Fatalf("provider calls: %v, want the first confirmed not applied and the second done", calls)
	}
	var gap time.Duration
	if err := e.store.DB().Get(&gap, `SELECT (extract(epoch FROM max(started_at) - min(started_at)) * 1e9)::bigint FROM provider_calls WHERE track_id = 'u2'`); err != nil {
		t.Fatal(err)
	}
	if gap < callTimeout+margin {
		t.Fatalf("the second call went out %v after the first, before the first could no longer land (%v)", gap, callTimeout+margin)
	}
}

func TestUnprovableOutcomeEndsOutcomeUnknownForAnOperator(t *testing.T) {
	t.Parallel()
	// A provider that never answers: the call and every re-send time out.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: only then does the server notice the client leaving.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(hang.Close)
	e := newEnv(t, processor.Config{CallTimeout: 100 * time.Millisecond, ResolveInline: 200 * time.Millisecond,
		ResolveRetry: 50 * time.Millisecond, ResolveDeadline: 500 * time.Millisecond, SweepInterval: 50 * time.Millisecond}, hang.URL)
	e.handle(blockTopic, `{"trackId":"u3","provider":"arhivaar","accountId":"ab13","note":"n"}`)
	if rs := e.results("u3"); len(rs) != 0 {
		t.Fatalf("an unproven outcome was answered at once: %+v", rs)
	}
	if st, _ := e.store.State(context.Background(), "u3"); st != schemas.StateInDoubt {
		t.Fatalf("state: got %s, want IN_DOUBT", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.proc.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(e.results("u3")) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := e.onlyResult("u3")
	if r.Status != schemas.StatusFailed || r.Error == nil || r.Error.Code != schemas.CodeOutcomeUnknown || !r.Error.NeedsReconciliation || r.Error.Retryable {
		t.Fatalf("got %s %+v, want FAILED OUTCOME_UNKNOWN needing reconciliation, not retryable", r.Status, r.Error)
	}
	list, err := e.store.NeedsReconciliation(context.Background(), 10)
	if err != nil || len(list) != 1 || list[0].TrackID != "u3" {
		t.Fatalf("reconciliation list: %+v, %v", list, err)
	}
}

func TestAbandonedCommandIsTakenOverAfterItsLease(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{Lease: 300 * time.Millisecond, SweepInterval: 50 * time.Millisecond}, "")
	// A dead instance stored the command and never called the provider.
	cmd := schemas.Command{Kind: schemas.KindBlock, TrackID: "a1", Provider: schemas.ProviderCard, AccountID: "0001000010000000004", BlockCodeSlot: 1, BlockCode: "B"}
	if _, err := e.store.Receive(context.Background(), cmd, schemas.SourceMeta{Topic: blockTopic}, "dead-instance", 100*time.Millisecond, func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.proc.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(e.results("a1")) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if r := e.onlyResult("a1"); r.Status != schemas.StatusDone {
		t.Fatalf("got %s %+v, want DONE", r.Status, r.Error)
	}
	if got := e.card.Applied(); got != 1 {
		t.Fatalf("sandbox applied %d changes, want 1", got)
	}
}

func TestProviderDownMakesItsCommandsWaitWithoutSpendingAttempts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{MaxAttempts: 2, Policies: map[schemas.Provider]processor.Policy{
		schemas.ProviderArhivaar: {BreakerFailures: 2, BreakerCooldown: time.Hour},
	}}, "")
	e.arhivaar.SetFaults(1, 0, 0)                                                                // down: every call 503
	e.handle(blockTopic, `{"trackId":"d1","provider":"arhivaar","accountId":"ab14","note":"n"}`) // 2 failed attempts open the breaker
	if r := e.onlyResult("d1"); r.Status != schemas.StatusFailed || r.Attempts != 2 {
		t.Fatalf("first command: got %s after %d attempts, want FAILED after 2", r.Status, r.Attempts)
	}
	if got := e.proc.ProviderStates()["arhivaar"]; got != "open" {
		t.Fatalf("arhivaar breaker: got %s, want open", got)
	}
	e.offset++
	err := e.proc.Handle(context.Background(), kafka.Message{Topic: blockTopic, Offset: e.offset, Key: []byte("k2"),
		Value: []byte(`{"trackId":"d2","provider":"arhivaar","accountId":"ab15","note":"n"}`)})
	var held interface{ Deferred() time.Duration }
	if !errors.As(err, &held) || held.Deferred() <= 0 {
		t.Fatalf("Handle while the provider is down: got %v, want an error that defers the message", err)
	}
	if e.arhivaar.RequestsFor("ab15") != 0 {
		t.Fatal("a call was sent to a provider whose breaker is open")
	}
	if st, _ := e.store.State(context.Background(), "d2"); st != schemas.StateReceived {
		t.Fatalf("waiting command state: got %s, want RECEIVED (kept, no attempt spent)", st)
	}
	// Other providers keep flowing.
	e.handle(blockTopic, cardBlock("d3", "0001000010000000005"))
	if r := e.onlyResult("d3"); r.Status != schemas.StatusDone {
		t.Fatalf("card command while arhivaar is down: got %s, want DONE", r.Status)
	}
}

func TestAccountCommandWaitsForAnEarlierOneInDoubt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{UnblockWait: 300 * time.Millisecond}, "")
	ctx := context.Background()
	// An earlier block of the account whose call may have been applied.
	earlier := schemas.Command{Kind: schemas.KindBlock, TrackID: "o1", Provider: schemas.ProviderArhivaar, AccountID: "ab20", Note: "n"}
	rec, err := e.store.Receive(ctx, earlier, schemas.SourceMeta{Topic: blockTopic}, "other", time.Minute, func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.BeginCall(ctx, schemas.CallStart{TrackID: "o1", Claim: rec.Claim, ProviderTrackID: "o1-a1"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := e.store.MarkInDoubt(ctx, schemas.MarkInDoubtParams{TrackID: "o1", Claim: rec.Claim, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	e.handle("blockd.cmd.unblock", `{"trackId":"o2","provider":"arhivaar","accountId":"ab20","note":"n"}`)
	r := e.onlyResult("o2")
	if r.Status != schemas.StatusRejected || r.Error == nil || r.Error.Code != schemas.CodeAccountBusy || !r.Error.Retryable {
		t.Fatalf("got %s %+v, want REJECTED ACCOUNT_BUSY, retryable", r.Status, r.Error)
	}
	if got := e.arhivaar.RequestsFor("ab20"); got != 0 {
		t.Fatalf("the later command reached the provider (%d requests for its account) while the earlier one was in doubt", got)
	}
	// Another account is not held back.
	e.handle("blockd.cmd.unblock", `{"trackId":"o3","provider":"arhivaar","accountId":"ab21","note":"n"}`)
	if r := e.onlyResult("o3"); r.Status != schemas.StatusDone {
		t.Fatalf("other account: got %s %+v, want DONE", r.Status, r.Error)
	}
}

// TestCardUnblockMustNameTheSlotItsBlockUsed: the platform put a block's
// code into the unused slot, because the slot asked for was in use. An
// unblock that names its block but the slot asked for would remove another
// party's code: it is refused before any call; naming the block's slot
// works.
func TestCardUnblockMustNameTheSlotItsBlockUsed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	const account = "0001000010000000088"
	e.handle(blockTopic, fmt.Sprintf(`{"trackId":"s0","provider":"card","accountId":%q,"blockCodeSlot":1,"blockCode":"A"}`, account))
	e.handle(blockTopic, fmt.Sprintf(`{"trackId":"s1","provider":"card","accountId":%q,"blockCodeSlot":1,"blockCode":"B"}`, account))
	var res card.Result
	if r := e.onlyResult("s1"); r.Status != schemas.StatusDone || json.Unmarshal(r.Result, &res) != nil || res.CodeSlot != 2 {
		t.Fatalf("block into a used slot: got %s %s, want DONE with codeSlot 2", r.Status, r.Result)
	}
	requests := e.card.Requests()
	e.handle("blockd.cmd.unblock", fmt.Sprintf(`{"trackId":"s2","provider":"card","accountId":%q,"blockCodeSlot":1,"blockTrackId":"s1"}`, account))
	if r := e.onlyResult("s2"); r.Status != schemas.StatusRejected || r.Error == nil || r.Error.Code != schemas.CodeSlotMismatch {
		t.Fatalf("unblock of the slot asked for: got %s %+v, want REJECTED SLOT_MISMATCH", r.Status, r.Error)
	}
	if got := e.card.Requests(); got != requests {
		t.Fatalf("the refused unblock reached the platform (%d calls, want %d)", got, requests)
	}
	e.handle("blockd.cmd.unblock", fmt.Sprintf(`{"trackId":"s3","provider":"card","accountId":%q,"blockCodeSlot":2,"blockTrackId":"s1"}`, account))
	if r := e.onlyResult("s3"); r.Status != schemas.StatusDone {
		t.Fatalf("unblock of the block's slot: got %s %+v, want DONE", r.Status, r.Error)
	}
	acct, _ := e.card.Account(account)
	if acct.BlockCode1 != "A" || strings.TrimSpace(acct.BlockCode2) != "" {
		t.Fatalf("account slots after the unblock: %q %q, want A kept and slot 2 empty", acct.BlockCode1, acct.BlockCode2)
	}
}
