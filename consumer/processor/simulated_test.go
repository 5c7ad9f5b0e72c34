package processor_test

import (
	"encoding/json"
	"testing"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/schemas"
)

// A result of a command a sandbox answered says so in a header and in its
// CloudEvents source, so a simulated DONE can never pass for a real one; the
// mark is stored with the result, so a replay carries it too. A command
// for a provider this deployment does not serve is REJECTED
// PROVIDER_UNSUPPORTED without a call.
func TestResultsOfSimulatedProvidersAreMarked(t *testing.T) {
	e := newEnv(t, processor.Config{}, "")
	delete(e.provs, schemas.ProviderFinnotech) // not served by this deployment
	e.proc = e.newProcessor(processor.Config{Simulated: map[schemas.Provider]bool{schemas.ProviderCard: true}}, processor.Hooks{})

	e.handle(blockTopic, cardBlock("sim-card", "0001000010000000077"))
	e.handle(blockTopic, cardBlock("sim-card", "0001000010000000077")) // a redelivery replays the stored result
	e.handle(blockTopic, `{"trackId":"real-arh","provider":"arhivaar","accountId":"ab14","note":"n"}`)
	e.handle(blockTopic, `{"trackId":"off-fin","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":3}`)

	tests := []struct {
		trackID       string
		wantStatus    schemas.Status
		wantCode      string
		wantSimulated bool
	}{
		{"sim-card", schemas.StatusDone, "", true},
		{"real-arh", schemas.StatusDone, "", false},
		{"off-fin", schemas.StatusRejected, schemas.CodeProviderUnsupported, false},
	}
	for _, tt := range tests {
		t.Run(tt.trackID, func(t *testing.T) {
			var rows []struct {
				Value   []byte `db:"value"`
				Headers []byte `db:"headers"`
			}
			if err := e.store.DB().Select(&rows, `SELECT value, headers FROM outbox WHERE key = $1 AND topic = 'blockd.results' ORDER BY id`, []byte(tt.trackID)); err != nil {
				t.Fatal(err)
			}
			if len(rows) == 0 {
				t.Fatalf("no result for %s", tt.trackID)
			}
			for _, row := range rows {
				var r schemas.Result
				var h map[string]string
				if err := json.Unmarshal(row.Value, &r); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(row.Headers, &h); err != nil {
					t.Fatal(err)
				}
				code := ""
				if r.Error != nil {
					code = r.Error.Code
				}
				if r.Status != tt.wantStatus || code != tt.wantCode {
					t.Fatalf("got %s %s, want %s %s", r.Status, code, tt.wantStatus, tt.wantCode)
				}
				wantSource, wantHeader := "/blockd", ""
				if tt.wantSimulated {
					wantSource, wantHeader = "/blockd/sandbox", "true"
				}
				if h["ce_source"] != wantSource || h[processor.SimulatedHeader] != wantHeader {
					t.Fatalf("got ce_source %q and %s %q, want %q and %q", h["ce_source"], processor.SimulatedHeader, h[processor.SimulatedHeader], wantSource, wantHeader)
				}
			}
		})
	}
	if got := len(e.results("sim-card")); got != 2 {
		t.Fatalf("got %d results for the redelivered sim-card, want 2", got)
	}
}
