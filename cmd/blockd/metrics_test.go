package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/schemas"
)

// scrape GETs the operator listener's /metrics with token ("" for none)
// and returns the status and the body.
func (h *harness) scrape(token string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+h.adminAddr+"/metrics", nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("GET /metrics: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return res.StatusCode, string(body)
}

// TestMetricsCarryNoTrackIdOrAccount runs real commands through the
// service (blocks, a duplicate, an unblock, an invalid message) and
// scrapes /metrics on the operator listener: it needs the operator token;
// it counts what happened; and no label value, nor anything else in it,
// carries a trackId, an account (the messages' keys), a deposit or the
// national id the service was configured with.
func TestMetricsCarryNoTrackIdOrAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("commands through Kafka, then a scrape: integration run; run without -short")
	}
	h := newServeHarness(t, processor.Hooks{})
	if code, _ := h.scrape(""); code != http.StatusUnauthorized {
		t.Fatalf("GET /metrics without the token: got HTTP %d, want 401", code)
	}

	forbidden := []string{sandboxFinnotechNID}
	send := func(topic, account, trackID, value string) {
		h.publish(topic, account, value)
		forbidden = append(forbidden, account, trackID)
	}
	send(h.cfg.TopicBlock, "IR820540102680020817909002", "met-block-7f3a91", blockJSON("met-block-7f3a91", 1200000))
	send(h.cfg.TopicBlock, "6037997512345678", "met-block-2c81d4", blockJSON("met-block-2c81d4", 900000))
	send(h.cfg.TopicBlock, "IR820540102680020817909002", "met-block-7f3a91", blockJSON("met-block-7f3a91", 1200000)) // a duplicate
	send(h.cfg.TopicBlock, "0109876543210", "met-bad-55e0c2", `{"trackId":"met-bad-55e0c2","provider":"finnotech"}`)
	for _, id := range []string{"met-block-7f3a91", "met-block-2c81d4"} {
		for _, r := range h.awaitResults(id, 1) {
			if r.Status != schemas.StatusDone {
				t.Fatalf("%s: got %s (%+v), want DONE", id, r.Status, r.Error)
			}
			var out schemas.FinnotechBlockResult
			if err := json.Unmarshal(r.Result, &out); err != nil {
				t.Fatal(err)
			}
			forbidden = append(forbidden, out.Deposit, out.ProviderTrackID)
		}
	}
	send(h.cfg.TopicUnblock, "6037997512345678", "met-unblock-9b17e5", `{"trackId":"met-unblock-9b17e5","provider":"finnotech","blockTrackId":"met-block-2c81d4"}`)
	h.awaitResults("met-unblock-9b17e5", 1)
	h.awaitRefusals("met-bad-55e0c2", 1)

	// What happened is counted (the counters move just after the results
	// are committed: wait for them).
	want := map[string]float64{
		`blockd_commands_finished_total{code="",provider="finnotech",status="DONE",type="block"}`:                   2,
		`blockd_commands_finished_total{code="",provider="finnotech",status="DONE",type="unblock"}`:                 1,
		`blockd_commands_finished_total{code="SCHEMA_INVALID",provider="finnotech",status="REJECTED",type="block"}`: 1,
		`blockd_commands_received_total{provider="finnotech",type="block"}`:                                         4,
		`blockd_provider_call_duration_seconds_count{operation="block",outcome="ok",provider="finnotech"}`:          2,
		`blockd_provider_breaker_state{provider="finnotech"}`:                                                       0,
		`blockd_commands_in_doubt`: 0,
	}
	var families map[string]*dto.MetricFamily
	var body string
	waitFor(t, 30*time.Second, "the metrics to count the commands", func() bool {
		var code int
		code, body = h.scrape(harnessAdminToken)
		if code != http.StatusOK {
			return false
		}
		families = parseMetrics(t, body)
		for series, v := range want {
			if got, ok := seriesValue(families, series); !ok || got != v {
				return false
			}
		}
		return true
	})
	for _, name := range []string{"blockd_consumer_lag_messages", "blockd_outbox_pending_rows", "blockd_build_info", "go_goroutines"} {
		if families[name] == nil {
			t.Errorf("%s is not exposed", name)
		}
	}

	for _, s := range forbidden {
		if s != "" && strings.Contains(body, s) {
			t.Errorf("/metrics carries %q (a trackId, account, deposit, provider trackId or national id)", s)
		}
	}
	// Every label value is one of a few known words, codes or numbers.
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v := l.GetValue(); len(v) > 40 {
					t.Errorf("%s{%s=%q}: a label value this long is not from a closed set", mf.GetName(), l.GetName(), v)
				}
			}
		}
	}
}

// parseMetrics parses Prometheus's text format.
func parseMetrics(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// seriesValue finds a series written as in the text format (name, then
// its labels in name order) among fams.
func seriesValue(fams map[string]*dto.MetricFamily, series string) (float64, bool) {
	name, _, _ := strings.Cut(series, "{")
	family := name
	if strings.HasSuffix(name, "_count") && fams[name] == nil {
		family = strings.TrimSuffix(name, "_count")
	}
	mf := fams[family]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		var b strings.Builder
		b.WriteString(name)
		if len(m.GetLabel()) > 0 {
			b.WriteString("{")
			for i, l := range m.GetLabel() {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(l.GetName() + "=\"" + l.GetValue() + "\"")
			}
			b.WriteString("}")
		}
		if b.String() != series {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetHistogram() != nil && family != name:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}
