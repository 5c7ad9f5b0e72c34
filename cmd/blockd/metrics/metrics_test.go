package metrics_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/blockd/blockd/cmd/blockd/metrics"
	"github.com/blockd/blockd/consumer"
	"github.com/blockd/blockd/producer"
	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
)

// The deployment files whose metric names are checked, from this package.
const (
	dashboardFile = "../../../deploy/grafana/blockd-dashboard.json"
	alertsFile    = "../../../deploy/prometheus/blockd-alerts.yaml"
)

// database is a Database answering fixed numbers, or waiting for its
// context to end when slow.
type database struct{ slow bool }

func (d database) InDoubtSummary(ctx context.Context) (store.InDoubtSummary, error) {
	if d.slow {
		<-ctx.Done()
		return store.InDoubtSummary{}, ctx.Err()
	}
	return store.InDoubtSummary{InDoubt: 2, OldestInDoubt: 90 * time.Second, NeedsReconciliation: 1}, nil
}

func (d database) OutboxHealth(ctx context.Context) (schemas.OutboxHealth, error) {
	if d.slow {
		<-ctx.Done()
		return schemas.OutboxHealth{}, ctx.Err()
	}
	return schemas.OutboxHealth{Pending: 7, SetAside: 3, OldestPending: 4 * time.Second}, nil
}

// newWatched is a Metrics for the three providers reading every source.
func newWatched(db metrics.Database, timeout time.Duration) *metrics.Metrics {
	m := metrics.New([]schemas.Provider{schemas.ProviderFinnotech, schemas.ProviderArhivaar, schemas.ProviderCard})
	m.Watch(metrics.Sources{Database: db, DatabaseTimeout: timeout,
		Consumer: func() consumer.Status {
			return consumer.Status{Joined: true, Running: 3, MaxInFlight: 8, Fetched: 5,
				Partitions: []consumer.PartitionLag{{Topic: "blockd.cmd.block", Partition: 2, Lag: 11}}}
		},
		Breakers: func() map[string]string {
			return map[string]string{"card": "open", "arhivaar": "half-open", "finnotech": "closed"}
		},
		Relay: func() producer.Status { return producer.Status{Stalled: true} },
	})
	return m
}

// gather returns the families gathered from m, by name.
func gather(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gathering: %v", err)
	}
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// exposed lists the series names a query may use: each family's name and,
// for a histogram, its _bucket, _sum and _count series.
func exposed(families map[string]*dto.MetricFamily) map[string]bool {
	out := map[string]bool{}
	for name, mf := range families {
		out[name] = true
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				out[name+suffix] = true
			}
		}
	}
	return out
}

var metricName = regexp.MustCompile(`\bblockd_[a-z0-9_]+`)

// dashboardNames are the blockd_* names the dashboard's queries (and its
// variables') use.
func dashboardNames(t *testing.T, raw []byte) []string {
	t.Helper()
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Query any `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("reading the dashboard: %v", err)
	}
	var names []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			names = append(names, metricName.FindAllString(q.Expr, -1)...)
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(string); ok {
			names = append(names, metricName.FindAllString(q, -1)...)
		}
	}
	return names
}

// alertNames are the blockd_* names the alert rules' expr lines use.
func alertNames(t *testing.T, raw []byte) []string {
	t.Helper()
	exprLine := regexp.MustCompile(`(?m)^\s*expr:\s*(.+)$`)
	var names []string
	lines := exprLine.FindAllSubmatch(raw, -1)
	if len(lines) == 0 {
		t.Fatal("the alert rules have no expr line")
	}
	for _, l := range lines {
		names = append(names, metricName.FindAllString(string(l[1]), -1)...)
	}
	return names
}

// missing returns the names not exposed.
func missing(names []string, exposed map[string]bool) []string {
	var out []string
	for _, n := range names {
		if !exposed[n] && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// TestDeployedMetricNamesExist: every blockd_* metric the dashboard and the
// alert rules use is registered under that name, before anything happened
// (counters and histograms exist at zero).
func TestDeployedMetricNamesExist(t *testing.T) {
	t.Parallel()
	have := exposed(gather(t, newWatched(database{}, time.Second)))
	for _, f := range []struct {
		path  string
		names func(*testing.T, []byte) []string
		least int
	}{{dashboardFile, dashboardNames, 15}, {alertsFile, alertNames, 6}} {
		raw, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		names := f.names(t, raw)
		if len(names) < f.least {
			t.Fatalf("%s: found %d blockd_* names, want at least %d: the extraction is broken", f.path, len(names), f.least)
		}
		if m := missing(names, have); len(m) > 0 {
			t.Errorf("%s uses metrics that are not registered: %v", f.path, m)
		}
	}
	// The check itself tells a misspelled name, and a histogram's series
	// from a counter's.
	if m := missing([]string{"blockd_commands_finished_totl", "blockd_commands_finished_total_bucket", "blockd_provider_call_duration_seconds_bucket"}, have); !slices.Equal(m,
		[]string{"blockd_commands_finished_totl", "blockd_commands_finished_total_bucket"}) {
		t.Errorf("a misspelled name and a counter's _bucket: got missing %v", m)
	}
}

// TestScrapeReadsTheState: each source's state is exposed under its name,
// with the breaker states as numbers and each partition's lag labelled by
// topic and partition.
func TestScrapeReadsTheState(t *testing.T) {
	t.Parallel()
	fams := gather(t, newWatched(database{}, time.Second))
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		mf, ok := fams[name]
		if !ok {
			t.Fatalf("%s is not exposed", name)
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue metrics
				}
			}
			return m.GetGauge().GetValue()
		}
		t.Fatalf("%s has no series %v", name, labels)
		return 0
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"blockd_consumer_in_flight", nil, 3},
		{"blockd_consumer_max_in_flight", nil, 8},
		{"blockd_consumer_fetched_messages", nil, 5},
		{"blockd_consumer_joined", nil, 1},
		{"blockd_consumer_lag_messages", map[string]string{"topic": "blockd.cmd.block", "partition": "2"}, 11},
		{"blockd_provider_breaker_state", map[string]string{"provider": "card"}, 2},
		{"blockd_provider_breaker_state", map[string]string{"provider": "arhivaar"}, 1},
		{"blockd_provider_breaker_state", map[string]string{"provider": "finnotech"}, 0},
		{"blockd_relay_stalled", nil, 1},
		{"blockd_commands_in_doubt", nil, 2},
		{"blockd_commands_in_doubt_oldest_age_seconds", nil, 90},
		{"blockd_commands_needs_reconciliation", nil, 1},
		{"blockd_outbox_pending_rows", nil, 7},
		{"blockd_outbox_oldest_pending_age_seconds", nil, 4},
		{"blockd_outbox_set_aside_rows", nil, 3},
	} {
		if got := value(c.name, c.labels); got != c.want {
			t.Errorf("%s%v: got %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := fams["blockd_build_info"]; !ok {
		t.Error("blockd_build_info is not exposed")
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := fams[name]; !ok && (name != "process_cpu_seconds_total" || processMetricsSupported()) {
			t.Errorf("%s (Go runtime and process collectors) is not exposed", name)
		}
	}
}

// processMetricsSupported: the process collector reads /proc.
func processMetricsSupported() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// TestSlowDatabaseDoesNotHoldTheScrape: a database that does not answer
// leaves its gauges out after the timeout, counts a scrape error, and the
// rest is served.
func TestSlowDatabaseDoesNotHoldTheScrape(t *testing.T) {
	t.Parallel()
	m := newWatched(database{slow: true}, 100*time.Millisecond)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	began := time.Now()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("the scrape took %s with a database that never answers", took)
	}
	text := string(body)
	if res.StatusCode != 200 || !strings.Contains(text, "blockd_consumer_in_flight 3") {
		t.Fatalf("got HTTP %d without the consumer's gauges:\n%s", res.StatusCode, text)
	}
	if strings.Contains(text, "blockd_commands_in_doubt ") || strings.Contains(text, "blockd_outbox_pending_rows ") {
		t.Error("a database gauge was exposed though the database did not answer")
	}
	if !strings.Contains(text, `blockd_scrape_errors_total{source="database"} 1`) {
		t.Errorf("want the scrape counted as a database scrape error:\n%s", grep(text, "blockd_scrape_errors_total"))
	}
}

func grep(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestObservationsAreCounted: what the processor and the relay report is
// counted under the series of its labels.
func TestObservationsAreCounted(t *testing.T) {
	t.Parallel()
	m := metrics.New([]schemas.Provider{schemas.ProviderCard})
	m.Received(schemas.KindBlock, schemas.ProviderCard)
	m.Received(schemas.KindBlock, schemas.ProviderCard)
	m.Finished(schemas.KindBlock, schemas.ProviderCard, schemas.StatusFailed, schemas.CodeProviderRejected)
	m.Call(schemas.ProviderCard, "block", "ok", 30*time.Millisecond)
	m.Retry(schemas.ProviderCard)
	m.WriteFailed(producer.WriteErrorTopic)
	m.Passed(schemas.OutboxPass{Published: 4, SetAside: 1, Failed: 2}, nil)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`blockd_commands_received_total{provider="card",type="block"} 2`,
		`blockd_commands_received_total{provider="card",type="transfer"} 0`,
		`blockd_commands_finished_total{code="PROVIDER_REJECTED",provider="card",status="FAILED",type="block"} 1`,
		`blockd_provider_call_duration_seconds_bucket{operation="block",outcome="ok",provider="card",le="0.05"} 1`,
		`blockd_provider_call_duration_seconds_bucket{operation="block",outcome="ok",provider="card",le="0.025"} 0`,
		`blockd_provider_retries_total{provider="card"} 1`,
		`blockd_relay_write_errors_total{class="topic_refused"} 1`,
		`blockd_relay_write_errors_total{class="too_large"} 0`,
		`blockd_relay_rows_total{verdict="published"} 4`,
		`blockd_relay_rows_total{verdict="failed"} 2`,
	} {
		if !strings.Contains(string(body), line+"\n") {
			t.Errorf("missing %s", line)
		}
	}
}
