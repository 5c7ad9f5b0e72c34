package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
	"github.com/blockd/blockd/store/storetest"
)

// harness is one blockd service wired as in production, on an in-process
// kfake broker, a fresh PostgreSQL schema and a Finnotech sandbox the
// service takes for the real Finnotech (it is given its URL). newHarness
// runs it as `blockd dev`, so Arhivaar and the card platform are its
// embedded sandboxes; newServeHarness as `blockd serve`, serving Finnotech
// only.
type harness struct {
	t         *testing.T
	cluster   *kfake.Cluster
	brokers   []string
	cfg       config
	sandbox   *finnotechfake.Sandbox
	writer    *kafka.Writer
	results   *collector
	dlq       *collector
	httpAddr  string
	adminAddr string
	stop      func()
	// Requests in flight at the Finnotech sandbox, their peak, and a delay
	// added to every money call.
	inFlight, peakInFlight atomic.Int64
	providerDelay          atomic.Int64
}

const sandboxToken = "test-token"

// newHarness runs the service as `blockd dev`.
func newHarness(t *testing.T, hooks processor.Hooks, overrides ...string) *harness {
	t.Helper()
	return newHarnessWith(t, loadConfig, hooks, overrides...)
}

// harnessAdminToken is the operator token of newServeHarness.
const harnessAdminToken = "harness-operator-token-0123456789"

// newServeHarness runs the service as `blockd serve`, serving only
// Finnotech (its sandbox, over http:// on purpose).
func newServeHarness(t *testing.T, hooks processor.Hooks, overrides ...string) *harness {
	t.Helper()
	return newHarnessWith(t, loadServeConfig, hooks, append([]string{"BLOCKD_PROVIDERS", "finnotech",
		"BLOCKD_FINNOTECH_ALLOW_HTTP", "true", "BLOCKD_ADMIN_TOKEN", harnessAdminToken}, overrides...)...)
}

func newHarnessWith(t *testing.T, load func(func(string) string, func(string) ([]byte, error)) (config, error), hooks processor.Hooks, overrides ...string) *harness {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	sandbox := finnotechfake.New(finnotechfake.Config{Tokens: []string{sandboxToken}, ClientID: sandboxFinnotechClient, ClientSecret: sandboxFinnotechSecret})
	h := &harness{t: t, cluster: cluster, sandbox: sandbox}
	sandboxServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := h.inFlight.Add(1)
		defer h.inFlight.Add(-1)
		for {
			peak := h.peakInFlight.Load()
			if n <= peak || h.peakInFlight.CompareAndSwap(peak, n) {
				break
			}
		}
		if d := time.Duration(h.providerDelay.Load()); d > 0 && r.Method == http.MethodPost {
			time.Sleep(d)
		}
		sandbox.ServeHTTP(w, r)
	}))
	t.Cleanup(sandboxServer.Close)

	env := map[string]string{
		"BLOCKD_KAFKA_BROKERS":           strings.Join(cluster.ListenAddrs(), ","),
		"BLOCKD_DATABASE_URL":            storetest.NewSchema(t),
		"BLOCKD_FINNOTECH_URL":           sandboxServer.URL,
		"BLOCKD_FINNOTECH_TOKEN":         sandboxToken,
		"BLOCKD_FINNOTECH_REFRESH_TOKEN": "refresh-" + sandboxToken,
		"BLOCKD_FINNOTECH_CLIENT_ID":     sandboxFinnotechClient,
		"BLOCKD_FINNOTECH_CLIENT_SECRET": sandboxFinnotechSecret,
		"BLOCKD_FINNOTECH_NID":           sandboxFinnotechNID,
		"BLOCKD_TOKEN_KEY_FILE":          writeKeyFile(t, "token.key"),
		"BLOCKD_FINNOTECH_BANK":          "062",
		"BLOCKD_HTTP_ADDR":               "127.0.0.1:0",
		"BLOCKD_ADMIN_ADDR":              "127.0.0.1:0",
		"BLOCKD_TOPIC_PARTITIONS":        "3",
		"BLOCKD_UNBLOCK_WAIT":            "5s",
		"BLOCKD_LEASE":                   "3s",
		"BLOCKD_INSTANCE_ID":             "test-" + uuid.NewString()[:8],
	}
	for i := 0; i+1 < len(overrides); i += 2 {
		env[overrides[i]] = overrides[i+1]
	}
	cfg, err := load(func(k string) string { return env[k] }, os.ReadFile)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	h.brokers, h.cfg = cfg.KafkaBrokers, cfg
	h.start(hooks)
	h.writer = &kafka.Writer{Addr: kafka.TCP(h.brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	t.Cleanup(func() { h.writer.Close() })
	h.results = collect(t, h.brokers, cfg.TopicResults)
	h.dlq = collect(t, h.brokers, cfg.TopicDLQ)
	return h
}

// start runs serve in the background and waits until /readyz says ready.
func (h *harness) start(hooks processor.Hooks) {
	var addrs listening
	h.stop, addrs = h.run(h.cfg, hooks)
	h.httpAddr, h.adminAddr = addrs.HTTP, addrs.Admin
}

// run starts one more instance with cfg and returns its stop function.
func (h *harness) run(cfg config, hooks processor.Hooks) (stop func(), addrs listening) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan listening, 1)
	done := make(chan error, 1)
	log := zerolog.New(zerolog.NewTestWriter(h.t)).Level(zerolog.WarnLevel)
	go func() {
		done <- serve(ctx, cfg, log, serveOptions{hooks: hooks, onListen: func(a listening) { addrCh <- a }})
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				h.t.Errorf("serve returned %v", err)
			}
		})
	}
	h.t.Cleanup(stop)
	select {
	case addrs = <-addrCh:
	case err := <-done:
		done <- nil // for stop, which waits for serve to return
		h.t.Fatalf("serve stopped at start: %v", err)
	case <-time.After(30 * time.Second):
		h.t.Fatal("serve did not start listening")
	}
	waitFor(h.t, 30*time.Second, "readiness", func() bool {
		res, err := http.Get("http://" + addrs.HTTP + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return stop, addrs
}

func (h *harness) publish(topic, key, value string, headers ...kafka.Header) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.writer.WriteMessages(ctx, kafka.Message{Topic: topic, Key: []byte(key), Value: []byte(value), Headers: headers}); err != nil {
		h.t.Fatalf("publishing to %s: %v", topic, err)
	}
}

func (h *harness) inDoubt() []schemas.InDoubtCommand {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+h.adminAddr+"/v1/commands/in-doubt", nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if h.cfg.AdminToken != "" {
		req.Header.Set("Authorization", "Bearer "+h.cfg.AdminToken)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("GET in-doubt: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		h.t.Fatalf("GET in-doubt: got HTTP %d, want 200", res.StatusCode)
	}
	var body struct {
		Commands []schemas.InDoubtCommand `json:"commands"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		h.t.Fatalf("decoding in-doubt list: %v", err)
	}
	return body.Commands
}

// collector reads a topic from the start and keeps every message.
type collector struct {
	mu   sync.Mutex
	msgs []kafka.Message
}

func collect(t *testing.T, brokers []string, topic string) *collector {
	c := &collector{}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "test-" + uuid.NewString(), Topic: topic,
		StartOffset: kafka.FirstOffset, MaxWait: 50 * time.Millisecond, CommitInterval: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done; r.Close() })
	return c
}

func (c *collector) byKey(key string) []kafka.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []kafka.Message
	for _, m := range c.msgs {
		if string(m.Key) == key {
			out = append(out, m)
		}
	}
	return out
}

func headerValue(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

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

// awaitResults waits for n result events for trackID (under key trackID)
// and decodes them, checking each against the result schema.
func (h *harness) awaitResults(trackID string, n int) []schemas.Result {
	h.t.Helper()
	return h.awaitEvents(trackID, trackID, n, "dev.blockd.result.")
}

// awaitRefusals waits for n refusals of messages that reused or could not
// take trackID (under key processor.RefusalKeyPrefix + trackID).
func (h *harness) awaitRefusals(trackID string, n int) []schemas.Result {
	h.t.Helper()
	return h.awaitEvents(processor.RefusalKeyPrefix+trackID, trackID, n, "dev.blockd.refusal.")
}

func (h *harness) awaitEvents(key, trackID string, n int, ceType string) []schemas.Result {
	h.t.Helper()
	waitFor(h.t, 30*time.Second, fmt.Sprintf("%d event(s) under key %s", n, key), func() bool { return len(h.results.byKey(key)) >= n })
	v, err := schemas.NewValidator()
	if err != nil {
		h.t.Fatal(err)
	}
	var out []schemas.Result
	for _, m := range h.results.byKey(key) {
		if err := v.ValidateResult(m.Value); err != nil {
			h.t.Fatalf("event under %s breaks the schema: %v\n%s", key, err, m.Value)
		}
		var r schemas.Result
		if err := json.Unmarshal(m.Value, &r); err != nil {
			h.t.Fatal(err)
		}
		if headerValue(m, "ce_id") != r.EventID || headerValue(m, "ce_specversion") != "1.0" || headerValue(m, "content-type") != "application/json" ||
			!strings.HasPrefix(headerValue(m, "ce_type"), ceType) || headerValue(m, "ce_source") == "" || headerValue(m, "ce_time") == "" ||
			headerValue(m, "ce_subject") != trackID || r.TrackID != trackID {
			h.t.Fatalf("event under %s lacks CloudEvents headers (ce_type %s…, subject %s): %v", key, ceType, trackID, m.Headers)
		}
		out = append(out, r)
	}
	return out
}

// settle gives the service time to act on anything still queued, so that a
// test can assert that nothing more happened.
func settle() { time.Sleep(1500 * time.Millisecond) }

func blockJSON(trackID string, amount int64) string {
	return fmt.Sprintf(`{"trackId":%q,"provider":"finnotech","clientId":"blockd-sandbox","amount":%d,"description":"court order","days":30}`, trackID, amount)
}

func TestPipelineBlockUnblockIdempotencyAndBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("block, unblock, duplicates and bad input through Kafka: long integration run; run without -short")
	}
	h := newHarness(t, processor.Hooks{})
	const account = "acct-42" // upstream keys commands by the account they touch

	var block schemas.Result
	t.Run("block yields one DONE result and one hold", func(t *testing.T) {
		h.publish(h.cfg.TopicBlock, account, blockJSON("blk-1", 1500000), kafka.Header{Key: "traceparent", Value: []byte("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")})
		rs := h.awaitResults("blk-1", 1)
		settle()
		if got := len(h.results.byKey("blk-1")); got != 1 {
			t.Fatalf("got %d results for blk-1, want exactly 1", got)
		}
		block = rs[0]
		if block.Status != schemas.StatusDone || block.Type != schemas.KindBlock || block.Provider != schemas.ProviderFinnotech || block.Attempts != 1 {
			t.Fatalf("got %+v, want DONE block at finnotech after 1 attempt", block)
		}
		if tp := headerValue(h.results.byKey("blk-1")[0], "traceparent"); !strings.HasPrefix(tp, "00-0af7651916cd43dd") {
			t.Errorf("traceparent not passed through: %q", tp)
		}
		var out schemas.FinnotechBlockResult
		if err := json.Unmarshal(block.Result, &out); err != nil {
			t.Fatal(err)
		}
		holds := h.sandbox.Holds()
		if len(holds) != 1 {
			t.Fatalf("sandbox ledger has %d holds, want 1", len(holds))
		}
		hold := holds[0]
		if hold.BlockTrackID != out.ProviderTrackID || hold.Deposit != out.Deposit || hold.BlockDate != out.BlockDate || hold.Amount != 1500000 || hold.State != "BLOCKED" {
			t.Fatalf("result %+v does not match the sandbox hold %+v", out, hold)
		}
		if out.Deposit == "" || len(out.BlockDate) != 6 {
			t.Fatalf("result lacks the sandbox's deposit and blockDate: %+v", out)
		}
	})

	t.Run("unblock with another amount is rejected before any call", func(t *testing.T) {
		before := h.sandbox.Requests("unblock")
		h.publish(h.cfg.TopicUnblock, account, `{"trackId":"ubl-bad","provider":"finnotech","blockTrackId":"blk-1","amount":1499999}`)
		r := h.awaitResults("ubl-bad", 1)[0]
		if r.Status != schemas.StatusRejected || r.Error == nil || r.Error.Code != schemas.CodeAmountMismatch || r.Attempts != 0 {
			t.Fatalf("got %+v (error %+v), want REJECTED AMOUNT_MISMATCH with 0 attempts", r, r.Error)
		}
		if got := h.sandbox.Requests("unblock"); got != before {
			t.Fatalf("sandbox saw %d unblock requests, want %d", got, before)
		}
	})

	t.Run("unblock yields DONE and releases the hold", func(t *testing.T) {
		h.publish(h.cfg.TopicUnblock, account, `{"trackId":"ubl-1","provider":"finnotech","blockTrackId":"blk-1"}`)
		r := h.awaitResults("ubl-1", 1)[0]
		if r.Status != schemas.StatusDone {
			t.Fatalf("got %+v (error %+v), want DONE", r, r.Error)
		}
		holds := h.sandbox.Holds()
		if len(holds) != 1 || holds[0].State != "UNBLOCKED" {
			t.Fatalf("sandbox holds after unblock: %+v, want the one hold UNBLOCKED", holds)
		}
		var out schemas.FinnotechUnblockResult
		if err := json.Unmarshal(r.Result, &out); err != nil || out.Amount != 1500000 || out.BlockTrackID != "blk-1" {
			t.Fatalf("unblock result %s: %+v, %v", r.Result, out, err)
		}
		// A second unblock of the same block is refused, without a call.
		before := h.sandbox.Requests("unblock")
		h.publish(h.cfg.TopicUnblock, account, `{"trackId":"ubl-2","provider":"finnotech","blockTrackId":"blk-1"}`)
		r2 := h.awaitResults("ubl-2", 1)[0]
		if r2.Status != schemas.StatusRejected || r2.Error.Code != schemas.CodeAlreadyUnblocked {
			t.Fatalf("second unblock: got %+v (%+v), want REJECTED ALREADY_UNBLOCKED", r2, r2.Error)
		}
		if h.sandbox.Requests("unblock") != before {
			t.Fatal("second unblock reached the provider")
		}
	})

	t.Run("the same command three times makes one call and republishes one eventId", func(t *testing.T) {
		before := h.sandbox.CallCount("block")
		for range 3 {
			h.publish(h.cfg.TopicBlock, "acct-7", blockJSON("blk-dup", 2000))
		}
		rs := h.awaitResults("blk-dup", 3)
		settle()
		if got := h.sandbox.CallCount("block") - before; got != 1 {
			t.Fatalf("provider applied %d blocks, want 1", got)
		}
		if got := len(h.results.byKey("blk-dup")); got != 3 {
			t.Fatalf("got %d results, want 3 (one per delivery)", got)
		}
		for _, r := range rs {
			if r.EventID != rs[0].EventID || r.Status != schemas.StatusDone {
				t.Fatalf("results differ: %+v vs %+v", r, rs[0])
			}
		}
	})

	t.Run("same trackId with another amount is a TRACK_ID_CONFLICT and leaves the original", func(t *testing.T) {
		before := h.sandbox.Requests("block")
		h.publish(h.cfg.TopicBlock, "acct-7", blockJSON("blk-dup", 999))
		refusal := h.awaitRefusals("blk-dup", 1)[0]
		original := h.awaitResults("blk-dup", 3)[0]
		if refusal.Status != schemas.StatusRejected || refusal.Error.Code != schemas.CodeTrackIDConflict || refusal.EventID == original.EventID {
			t.Fatalf("got %+v (%+v), want REJECTED TRACK_ID_CONFLICT with its own eventId", refusal, refusal.Error)
		}
		if h.sandbox.Requests("block") != before {
			t.Fatal("the conflicting command reached the provider")
		}
		// The original is untouched: a redelivery of it republishes the original result.
		h.publish(h.cfg.TopicBlock, "acct-7", blockJSON("blk-dup", 2000))
		rs := h.awaitResults("blk-dup", 4)
		if again := rs[len(rs)-1]; again.EventID != original.EventID || again.Status != schemas.StatusDone {
			t.Fatalf("original changed: got %+v, want the first result again", again)
		}
	})

	t.Run("bad input is rejected, dead-lettered, and the partition keeps flowing", func(t *testing.T) {
		const key = "acct-bad" // one key: one partition, in order
		cases := []struct {
			name, value, trackID string
		}{
			{"malformed JSON", `{"trackId":"bad-json",`, ""},
			{"days 91", `{"trackId":"bad-days","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":91}`, "bad-days"},
			{"amount 0", `{"trackId":"bad-amount","provider":"finnotech","clientId":"c","amount":0,"description":"d","days":9}`, "bad-amount"},
			{"trackId of 41 characters", `{"trackId":"` + strings.Repeat("x", 41) + `","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":9}`, strings.Repeat("x", 41)},
			{"unknown provider", `{"trackId":"bad-provider","provider":"acme","clientId":"c","amount":10,"description":"d","days":9}`, "bad-provider"},
		}
		for _, c := range cases {
			h.publish(h.cfg.TopicBlock, key, c.value)
		}
		h.publish(h.cfg.TopicBlock, key, blockJSON("after-bad", 10))
		if r := h.awaitResults("after-bad", 1)[0]; r.Status != schemas.StatusDone {
			t.Fatalf("the valid command after bad ones: got %+v, want DONE", r)
		}
		waitFor(t, 10*time.Second, "dead letters", func() bool { return len(h.dlq.byKey(key)) >= len(cases) })
		dead := h.dlq.byKey(key)
		if len(dead) != len(cases) {
			t.Fatalf("got %d dead letters, want %d", len(dead), len(cases))
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				m := dead[i]
				if string(m.Value) != c.value {
					t.Fatalf("dead letter is not the raw message: %q", m.Value)
				}
				code, reason := headerValue(m, "blockd-dlq-code"), headerValue(m, "blockd-dlq-reason")
				if code == "" || reason == "" || headerValue(m, "blockd-source-topic") != h.cfg.TopicBlock || headerValue(m, "blockd-source-offset") == "" {
					t.Fatalf("dead letter headers lack the reason: %v", m.Headers)
				}
				if c.trackID == "" {
					if code != schemas.CodeMalformed {
						t.Fatalf("code %s, want %s", code, schemas.CodeMalformed)
					}
					return
				}
				r := h.awaitRefusals(c.trackID, 1)[0]
				if r.Status != schemas.StatusRejected || r.Error.Code != schemas.CodeSchemaInvalid || r.Error.Message == "" {
					t.Fatalf("got %+v (%+v), want REJECTED SCHEMA_INVALID with a reason", r, r.Error)
				}
			})
		}
	})
}

func TestCrashBetweenCallAndOutcomeIsDetectedThenResolvedWithoutResending(t *testing.T) {
	if testing.Short() {
		t.Skip("crash, takeover and resolution through Kafka: long integration run; run without -short")
	}
	errCrash := errors.New("simulated crash")
	// A long lease keeps the sweeper (every lease/3) away while the test
	// looks at the in-doubt command.
	h := newHarness(t, processor.Hooks{AfterCall: func(trackID string) error {
		if strings.HasPrefix(trackID, "crash-") {
			return errCrash
		}
		return nil
	}}, "BLOCKD_LEASE", "60s")
	h.publish(h.cfg.TopicBlock, "acct-c", blockJSON("crash-1", 700))
	var listed schemas.InDoubtCommand
	waitFor(t, 30*time.Second, "crash-1 to be listed IN_DOUBT", func() bool {
		for _, c := range h.inDoubt() {
			if c.TrackID == "crash-1" {
				listed = c
				return true
			}
		}
		return false
	})
	if listed.Attempts != 1 || listed.LastProviderCall == "" {
		t.Fatalf("in-doubt entry %+v, want 1 attempt and the provider trackId to ask about", listed)
	}
	if got := h.sandbox.CallCount("block"); got != 1 {
		t.Fatalf("provider applied %d blocks before the crash, want 1", got)
	}
	if rs := h.results.byKey("crash-1"); len(rs) != 0 {
		t.Fatalf("an unproven outcome was reported: %s", rs[0].Value)
	}

	// Restart without the crash, with a short lease: the sweeper asks
	// Finnotech about the recorded call instead of sending it again; a
	// redelivery of the command must not send it either.
	h.stop()
	h.cfg.Lease = 3 * time.Second
	h.start(processor.Hooks{})
	h.publish(h.cfg.TopicBlock, "acct-c", blockJSON("crash-1", 700))
	r := h.awaitResults("crash-1", 1)[0]
	if r.Status != schemas.StatusDone || r.Attempts != 1 {
		t.Fatalf("got %s after %d attempts (%+v), want DONE after the 1 attempt", r.Status, r.Attempts, r.Error)
	}
	var out schemas.FinnotechBlockResult
	if err := json.Unmarshal(r.Result, &out); err != nil {
		t.Fatal(err)
	}
	hold, ok := h.sandbox.Hold(listed.LastProviderCall)
	if !ok || out.ProviderTrackID != listed.LastProviderCall || hold.Amount != 700 || out.Deposit != hold.Deposit || out.BlockDate != hold.BlockDate {
		t.Fatalf("resolved result %+v does not match the applied hold %+v of call %s", out, hold, listed.LastProviderCall)
	}
	settle()
	if got := h.sandbox.Requests("block"); got != 1 {
		t.Fatalf("provider received %d block requests, want 1", got)
	}
	if list := h.inDoubt(); len(list) != 0 {
		t.Fatalf("in-doubt list after resolution: %+v, want empty", list)
	}
}

func TestOnePartitionStillRunsDistinctKeysConcurrently(t *testing.T) {
	h := newHarness(t, processor.Hooks{}, "BLOCKD_TOPIC_PARTITIONS", "1")
	h.providerDelay.Store(int64(200 * time.Millisecond))
	const n = 40
	for i := range n {
		h.publish(h.cfg.TopicBlock, fmt.Sprintf("acct-%d", i), blockJSON(fmt.Sprintf("conc-%d", i), 100))
	}
	for i := range n {
		if r := h.awaitResults(fmt.Sprintf("conc-%d", i), 1)[0]; r.Status != schemas.StatusDone {
			t.Fatalf("conc-%d: got %s, want DONE", i, r.Status)
		}
	}
	// With one partition, a consumer that handled one message at a time
	// would never have more than one call at the provider.
	if peak := h.peakInFlight.Load(); peak < 10 {
		t.Fatalf("at most %d calls were at the provider at once, want at least 10 of %d distinct keys", peak, n)
	}
	t.Logf("peak concurrent provider calls from one partition: %d", h.peakInFlight.Load())
}

func TestInstancesShareTheWorkAndRebalanceNeverCallsTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("two instances and a consumer-group rebalance: long integration run; run without -short")
	}
	h := newHarness(t, processor.Hooks{}, "BLOCKD_TOPIC_PARTITIONS", "6")
	h.providerDelay.Store(int64(20 * time.Millisecond))
	second := h.cfg
	second.InstanceID = h.cfg.InstanceID + "-b"
	stopSecond, _ := h.run(second, processor.Hooks{})
	const n = 200
	for i := range n {
		h.publish(h.cfg.TopicBlock, fmt.Sprintf("acct-%d", i), blockJSON(fmt.Sprintf("share-%d", i), 100))
		if i == n/2 {
			stopSecond() // a rebalance in the middle of the stream
		}
	}
	for i := range n {
		if r := h.awaitResults(fmt.Sprintf("share-%d", i), 1)[0]; r.Status != schemas.StatusDone {
			t.Fatalf("share-%d: got %s %+v, want DONE", i, r.Status, r.Error)
		}
	}
	settle()
	if got := h.sandbox.CallCount("block"); got != n {
		t.Fatalf("provider applied %d blocks for %d commands", got, n)
	}
	if got := h.sandbox.Requests("block"); got != n {
		t.Fatalf("provider received %d block requests for %d commands: a rebalance caused a second call", got, n)
	}
	st, err := store.Open(context.Background(), h.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var by []string
	if err := st.DB().Select(&by, `SELECT DISTINCT completed_by FROM commands WHERE track_id LIKE 'share-%'`); err != nil {
		t.Fatal(err)
	}
	if len(by) != 2 {
		t.Fatalf("commands were completed by %v, want both instances", by)
	}
}

func TestTransferRulesAreEnforcedBeforeAnyCall(t *testing.T) {
	h := newHarness(t, processor.Hooks{})
	const acct = "acct-x"
	h.publish(h.cfg.TopicBlock, acct, blockJSON("xb-1", 5000))
	h.publish(h.cfg.TopicUnblock, acct, `{"trackId":"xu-1","provider":"finnotech","blockTrackId":"xb-1"}`)
	if r := h.awaitResults("xu-1", 1)[0]; r.Status != schemas.StatusDone {
		t.Fatalf("unblock: got %s %+v", r.Status, r.Error)
	}
	transfer := func(trackID, unblock string, amount int64) string {
		return fmt.Sprintf(`{"trackId":%q,"provider":"finnotech","unblockTrackId":%q,"amount":%d,"destination":"0201000000001","description":"payout"}`, trackID, unblock, amount)
	}
	cases := []struct {
		trackID, body, wantCode string
	}{
		{"xt-more", transfer("xt-more", "xu-1", 5001), schemas.CodeTransferExceedsUnblocked},
		{"xt-noblock", transfer("xt-noblock", "xb-1", 10), schemas.CodeUnblockNotFound},
	}
	before := h.sandbox.Requests("transfer")
	for _, c := range cases {
		h.publish(h.cfg.TopicTransfer, acct, c.body)
		r := h.awaitResults(c.trackID, 1)[0]
		if r.Status != schemas.StatusRejected || r.Error.Code != c.wantCode {
			t.Fatalf("%s: got %s %+v, want REJECTED %s", c.trackID, r.Status, r.Error, c.wantCode)
		}
	}
	if h.sandbox.Requests("transfer") != before {
		t.Fatal("a refused transfer reached the provider")
	}
	h.publish(h.cfg.TopicTransfer, acct, transfer("xt-ok", "xu-1", 4000))
	if r := h.awaitResults("xt-ok", 1)[0]; r.Status != schemas.StatusDone {
		t.Fatalf("transfer: got %s %+v, want DONE", r.Status, r.Error)
	}
	h.publish(h.cfg.TopicTransfer, acct, transfer("xt-again", "xu-1", 1000))
	if r := h.awaitResults("xt-again", 1)[0]; r.Status != schemas.StatusRejected || r.Error.Code != schemas.CodeAlreadyTransferred {
		t.Fatalf("second transfer: got %s %+v, want REJECTED ALREADY_TRANSFERRED", r.Status, r.Error)
	}
	if got := h.sandbox.Requests("transfer"); got != before+1 {
		t.Fatalf("provider received %d transfer requests, want 1", got-before)
	}
	// A transfer needs a successful unblock: one whose block failed is refused.
	h.publish(h.cfg.TopicUnblock, acct, `{"trackId":"xu-bad","provider":"finnotech","blockTrackId":"xt-ok"}`)
	h.awaitResults("xu-bad", 1)
	h.publish(h.cfg.TopicTransfer, acct, transfer("xt-badunblock", "xu-bad", 10))
	if r := h.awaitResults("xt-badunblock", 1)[0]; r.Status != schemas.StatusRejected || r.Error.Code != schemas.CodeUnblockNotDone {
		t.Fatalf("transfer after a refused unblock: got %s %+v, want REJECTED UNBLOCK_NOT_DONE", r.Status, r.Error)
	}
}

func TestTooLargeMessageIsDeadLettered(t *testing.T) {
	const limit = 4096
	h := newHarness(t, processor.Hooks{}, "BLOCKD_MAX_MESSAGE_BYTES", strconv.Itoa(limit))
	big := `{"trackId":"big-1","provider":"finnotech","clientId":"blockd-sandbox","amount":1,"days":1,"description":"` + strings.Repeat("x", 8000) + `"}`
	h.publish(h.cfg.TopicBlock, "acct-big", big)
	h.publish(h.cfg.TopicBlock, "acct-big", blockJSON("after-big", 5))
	h.awaitResults("after-big", 1)
	waitFor(t, 10*time.Second, "the dead letter", func() bool { return len(h.dlq.byKey("acct-big")) == 1 })
	m := h.dlq.byKey("acct-big")[0]
	// Its copy would be over the limit too: a record says where the original is.
	if headerValue(m, "blockd-dlq-code") != schemas.CodeTooLarge || headerValue(m, "blockd-dlq-replaced") == "" ||
		headerValue(m, "blockd-source-topic") != h.cfg.TopicBlock || kafkaSize(m) > limit {
		t.Fatalf("dead letter: code %q, replaced %q, %d bytes; want %s replaced by a record within %d bytes",
			headerValue(m, "blockd-dlq-code"), headerValue(m, "blockd-dlq-replaced"), kafkaSize(m), schemas.CodeTooLarge, limit)
	}
}

// kafkaSize is m's size as schemas.Outbound.Size counts it.
func kafkaSize(m kafka.Message) int {
	n := schemas.RecordOverhead + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += schemas.HeaderOverhead + len(h.Key) + len(h.Value)
	}
	return n
}

func TestSIGTERMFinishesTheCallInFlightAndPublishesItsResult(t *testing.T) {
	h := newHarness(t, processor.Hooks{})
	h.providerDelay.Store(int64(time.Second))
	h.publish(h.cfg.TopicBlock, "acct-s", blockJSON("term-1", 10))
	waitFor(t, 20*time.Second, "the call to reach the provider", func() bool { return h.inFlight.Load() > 0 })
	h.stop() // what SIGTERM does: serve's context ends; stop fails the test if serve returns an error
	// Shutdown waited for the call, recorded it and flushed the outbox: the
	// result is on the topic although no instance runs any more.
	r := h.awaitResults("term-1", 1)[0]
	if r.Status != schemas.StatusDone {
		t.Fatalf("got %s %+v, want DONE", r.Status, r.Error)
	}
	if got := h.sandbox.Requests("block"); got != 1 {
		t.Fatalf("provider received %d requests, want 1", got)
	}
}
