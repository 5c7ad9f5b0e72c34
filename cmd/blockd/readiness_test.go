package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/blockd/blockd/consumer"
	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/schemas"
)

// readiness is the answer of /readyz.
type readiness struct {
	status   int
	Checks   map[string]bool `json:"checks"`
	Consumer struct {
		Running    int    `json:"running"`
		Fetched    int    `json:"fetched"`
		Saturated  bool   `json:"saturated"`
		StuckAfter string `json:"stuckAfter"`
		StuckKeys  int    `json:"stuckKeys"`
		Stuck      []struct {
			Topic     string `json:"topic"`
			Partition int    `json:"partition"`
			Offset    int64  `json:"offset"`
			For       string `json:"for"`
		} `json:"stuck"`
	} `json:"consumer"`
}

func (h *harness) readiness() readiness {
	h.t.Helper()
	res, err := http.Get("http://" + h.httpAddr + "/readyz")
	if err != nil {
		h.t.Fatalf("GET /readyz: %v", err)
	}
	defer res.Body.Close()
	r := readiness{status: res.StatusCode}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		h.t.Fatalf("decoding /readyz: %v", err)
	}
	return r
}

// TestReadinessFailsWhileAKeyIsStuck: a command whose handling lasts longer
// than BLOCKD_STUCK_KEY_AFTER shows in /readyz's detail, where it is (never
// its key: that is an account), and fails readiness until it finishes.
func TestReadinessFailsWhileAKeyIsStuck(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, processor.Hooks{AfterIntent: func(trackID string) {
		if trackID == "stuck-1" {
			<-release
		}
	}}, "BLOCKD_STUCK_KEY_AFTER", "1s")
	if r := h.readiness(); r.status != http.StatusOK || !r.Checks["keysMoving"] || r.Consumer.StuckAfter != "1s" {
		t.Fatalf("before: got %d %+v, want 200 with keysMoving and stuckAfter 1s", r.status, r)
	}
	h.publish(h.cfg.TopicBlock, "acct-stuck", blockJSON("stuck-1", 10))
	var r readiness
	waitFor(t, 20*time.Second, "/readyz to report the stuck key", func() bool {
		r = h.readiness()
		return r.status == http.StatusServiceUnavailable
	})
	close(release)
	if r.Checks["keysMoving"] || r.Consumer.StuckKeys != 1 || len(r.Consumer.Stuck) != 1 || r.Consumer.Stuck[0].Topic != h.cfg.TopicBlock || r.Consumer.Running != 1 {
		t.Fatalf("while stuck: got %+v, want keysMoving false and one stuck key on %s, running", r, h.cfg.TopicBlock)
	}
	if got := h.awaitResults("stuck-1", 1)[0]; got.Status != schemas.StatusDone {
		t.Fatalf("stuck-1: got %s %+v, want DONE", got.Status, got.Error)
	}
	waitFor(t, 20*time.Second, "/readyz to be ready again", func() bool {
		r = h.readiness()
		return r.status == http.StatusOK && r.Checks["keysMoving"] && r.Consumer.StuckKeys == 0
	})
}

func TestConsumerReadiness(t *testing.T) {
	stuck := []consumer.StuckMessage{{Topic: "blockd.cmd.block", Partition: 2, Offset: 40, For: 6 * time.Minute}}
	cases := []struct {
		name          string
		status        consumer.Status
		wantMoving    bool
		wantSaturated bool
	}{
		{"idle", consumer.Status{Joined: true, MaxInFlight: 256, MaxFetched: 1024}, true, false},
		{"saturated is load, not a fault", consumer.Status{Joined: true, Running: 256, MaxInFlight: 256, Fetched: 1024, MaxFetched: 1024, SaturatedFor: time.Minute}, true, true},
		{"a stuck key fails readiness", consumer.Status{Joined: true, Running: 1, MaxInFlight: 256, Fetched: 1, MaxFetched: 1024, Stuck: stuck}, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			moving, detail := consumerReadiness(c.status)
			if moving != c.wantMoving {
				t.Errorf("keys moving: got %v, want %v", moving, c.wantMoving)
			}
			if got := detail["saturated"]; got != c.wantSaturated {
				t.Errorf("saturated: got %v, want %v", got, c.wantSaturated)
			}
			if got := detail["stuckKeys"]; got != len(c.status.Stuck) {
				t.Errorf("stuckKeys: got %v, want %d", got, len(c.status.Stuck))
			}
		})
	}
}
