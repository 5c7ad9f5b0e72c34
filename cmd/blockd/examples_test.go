package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/schemas"
)

// TestEveryExampleIsDone publishes each command example in schemas/examples,
// in the order a user would (block, unblock, transfer, inquiries, then the
// account providers), and expects a DONE result for each. The harness runs
// blockd dev with a Finnotech URL, so Arhivaar and the card platform are its
// embedded sandboxes: their results, and only theirs, are marked simulated.
func TestEveryExampleIsDone(t *testing.T) {
	h := newHarness(t, processor.Hooks{})
	topics := map[string]string{"block": h.cfg.TopicBlock, "unblock": h.cfg.TopicUnblock, "transfer": h.cfg.TopicTransfer, "inquiry": h.cfg.TopicInquiry}
	order := []string{
		"block.finnotech.json", "unblock.finnotech.json", "transfer.finnotech.json",
		"inquiry.finnotech-transfer.json", "inquiry.finnotech-facility.json",
		"block.arhivaar.json", "unblock.arhivaar.json",
		"block.card.json", "unblock.card.json",
	}
	files, _ := filepath.Glob("../../schemas/examples/*.json")
	commands := 0
	for _, f := range files {
		if filepath.Base(f)[:7] != "result." {
			commands++
		}
	}
	if commands != len(order) {
		t.Fatalf("schemas/examples has %d command examples, this test knows %d: keep them in step", commands, len(order))
	}
	for _, name := range order {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("../../schemas/examples", name))
			if err != nil {
				t.Fatal(err)
			}
			var head struct {
				TrackID string `json:"trackId"`
			}
			if err := json.Unmarshal(raw, &head); err != nil {
				t.Fatal(err)
			}
			kind := name[:len(name)-len(filepath.Ext(name))]
			kind = kind[:len(kind)-len(filepath.Ext(kind))]
			h.publish(topics[kind], "example-account", string(raw))
			r := h.awaitResults(head.TrackID, 1)[0]
			if r.Status != schemas.StatusDone {
				t.Fatalf("got %s %+v, want DONE", r.Status, r.Error)
			}
			m := h.results.byKey(head.TrackID)[0]
			wantMark, wantSource := "true", "/blockd/sandbox"
			if r.Provider == schemas.ProviderFinnotech {
				wantMark, wantSource = "", "/blockd"
			}
			if got := headerValue(m, processor.SimulatedHeader); got != wantMark || headerValue(m, "ce_source") != wantSource {
				t.Fatalf("%s result: got %s %q and ce_source %q, want %q and %q", r.Provider, processor.SimulatedHeader, got, headerValue(m, "ce_source"), wantMark, wantSource)
			}
			t.Logf("%s → %s", name, r.Result)
		})
	}
}
