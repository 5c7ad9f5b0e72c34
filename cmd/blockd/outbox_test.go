package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
)

// requestJSON answers method addr+path (with the operator token when given)
// as its status and decoded body.
func requestJSON(t *testing.T, method, addr, path, token string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("%s %s: decoding %q: %v", method, path, raw, err)
	}
	return res.StatusCode, body
}

func getJSON(t *testing.T, addr, path, token string) (int, map[string]any) {
	t.Helper()
	return requestJSON(t, http.MethodGet, addr, path, token)
}

func postJSON(t *testing.T, addr, path, token string) (int, map[string]any) {
	t.Helper()
	return requestJSON(t, http.MethodPost, addr, path, token)
}

// A result the broker can never take (2 MiB, over Kafka's 1 MiB limit)
// wedges nothing: later results are published, the row is set aside with
// its reason and shown in the readiness detail and the operator listing,
// and SIGTERM still ends blockd cleanly (serve returns nil: exit 0).
func TestServeSetsAsideAResultTheBrokerRefusesAndStopsCleanly(t *testing.T) {
	h := newServeHarness(t, processor.Hooks{})
	ctx := context.Background()
	st, err := store.Open(ctx, h.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	huge := schemas.Outbound{Topic: h.cfg.TopicResults, Key: []byte("huge-1"), Value: []byte(strings.Repeat("<", 2<<20)), Headers: map[string]string{"ce_id": "huge-1"}}
	if err := st.Enqueue(ctx, []schemas.Outbound{huge}); err != nil {
		t.Fatal(err)
	}
	h.publish(h.cfg.TopicBlock, "acct-1", blockJSON("after-huge", 100))
	if r := h.awaitResults("after-huge", 1)[0]; r.Status != schemas.StatusDone {
		t.Fatalf("got %s, want DONE", r.Status)
	}

	var detail map[string]any
	waitFor(t, 10*time.Second, "the readiness detail to count the set-aside row", func() bool {
		status, body := getJSON(t, h.httpAddr, "/readyz", "")
		detail, _ = body["relay"].(map[string]any)
		return status == http.StatusOK && detail != nil && detail["setAside"] == float64(1)
	})
	status, body := getJSON(t, h.adminAddr, "/v1/outbox/set-aside", harnessAdminToken)
	rows, _ := body["rows"].([]any)
	if status != http.StatusOK || len(rows) != 1 {
		t.Fatalf("GET /v1/outbox/set-aside: got HTTP %d %v, want the one row", status, body)
	}
	got := rows[0].(map[string]any)
	if got["key"] != "huge-1" || got["topic"] != h.cfg.TopicResults || !strings.Contains(got["reason"].(string), "larger than") {
		t.Errorf("got set-aside row %v, want key huge-1 on %s with a reason saying it is too large", got, h.cfg.TopicResults)
	}
	if _, shown := got["value"]; shown {
		t.Errorf("the listing shows the row's value; it may carry what only the upstream should read")
	}
	// Retried, it is still too large: set aside again, after one more try.
	id := int64(got["id"].(float64))
	if status, body := postJSON(t, h.adminAddr, "/v1/outbox/set-aside/"+strconv.FormatInt(id, 10)+"/retry", harnessAdminToken); status != http.StatusOK || body["retried"] != float64(1) {
		t.Fatalf("POST retry: got HTTP %d %v, want 1 row retried", status, body)
	}
	if status, _ := postJSON(t, h.adminAddr, "/v1/outbox/set-aside/"+strconv.FormatInt(id+1000, 10)+"/retry", harnessAdminToken); status != http.StatusNotFound {
		t.Fatalf("POST retry of a row not set aside: got HTTP %d, want 404", status)
	}
	if status, _ := postJSON(t, h.adminAddr, "/v1/outbox/set-aside/retry", ""); status != http.StatusUnauthorized {
		t.Fatalf("POST retry without the token: got HTTP %d, want 401", status)
	}
	waitFor(t, 10*time.Second, "the retried row to be set aside again", func() bool {
		_, body := getJSON(t, h.adminAddr, "/v1/outbox/set-aside", harnessAdminToken)
		rows, _ := body["rows"].([]any)
		return len(rows) == 1
	})
	h.stop() // fails the test if serve returned an error
}

// The relay failing for longer than BLOCKD_RELAY_STALL (here the broker
// refuses every write to the results topic, while it still answers
// metadata) makes /readyz fail with the reason in its detail; once writes
// work again it is ready again and the result is published.
func TestReadyzFailsWhileTheRelayCannotPublish(t *testing.T) {
	h := newServeHarness(t, processor.Hooks{}, "BLOCKD_RELAY_STALL", "2s")
	fault := h.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: h.cfg.TopicResults, Count: -1})
	h.publish(h.cfg.TopicBlock, "acct-1", blockJSON("stalled-1", 100))

	waitFor(t, 20*time.Second, "/readyz to fail on the stalled relay", func() bool {
		status, body := getJSON(t, h.httpAddr, "/readyz", "")
		detail, _ := body["relay"].(map[string]any)
		return status == http.StatusServiceUnavailable && detail != nil && detail["failingFor"] != nil && detail["lastError"] != nil
	})
	fault.Remove()
	if r := h.awaitResults("stalled-1", 1)[0]; r.Status != schemas.StatusDone {
		t.Fatalf("got %s, want DONE", r.Status)
	}
	waitFor(t, 20*time.Second, "/readyz to pass again", func() bool {
		status, _ := getJSON(t, h.httpAddr, "/readyz", "")
		return status == http.StatusOK
	})
}
