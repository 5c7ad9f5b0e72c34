// Package metrics is blockd's Prometheus instrumentation: it counts what
// the processor and the relay report (as their Observer), reads at scrape
// time what the consumer, the breakers and the database know, and serves
// it all from its own registry (never Prometheus's global default).
//
// Every label value comes from a small closed set (command type, provider,
// status, blockd's error codes, operation, outcome, write error class,
// topic, partition): never a trackId, an account or a national id.
package metrics

import (
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/producer"
	"github.com/blockd/blockd/schemas"
)

// The label names.
const (
	labelType      = "type"
	labelProvider  = "provider"
	labelStatus    = "status"
	labelCode      = "code"
	labelOperation = "operation"
	labelOutcome   = "outcome"
	labelClass     = "class"
	labelVerdict   = "verdict"
)

// callBuckets are the provider call duration buckets, in seconds: from a
// few milliseconds to past BLOCKD_CALL_TIMEOUT's default (20s).
func callBuckets() []float64 {
	return []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30}
}

// Metrics holds blockd's metrics and the registry they are served from. It
// is a processor.Observer and a producer.Observer. Its methods are safe for
// concurrent use.
type Metrics struct {
	registry *prometheus.Registry

	received    *prometheus.CounterVec
	finished    *prometheus.CounterVec
	callSeconds *prometheus.HistogramVec
	retries     *prometheus.CounterVec
	writeErrors *prometheus.CounterVec
	relayRows   *prometheus.CounterVec
	relayErrors prometheus.Counter

	// The series of each label set, resolved once: the command path only
	// looks them up.
	receivedSeries series[[2]string, prometheus.Counter]
	finishedSeries series[[4]string, prometheus.Counter]
	callSeries     series[[3]string, prometheus.Observer]
	retrySeries    series[string, prometheus.Counter]
	writeSeries    series[string, prometheus.Counter]
	published      prometheus.Counter
	setAside       prometheus.Counter
	failed         prometheus.Counter
}

// New registers blockd's metrics, Go's runtime metrics, the process's and
// blockd_build_info in a new registry. The series of the command types,
// the providers (those given: the ones this deployment serves) and the
// relay's write error classes are created at zero, so that every metric is
// there from the first scrape.
func New(providers []schemas.Provider) *Metrics {
	m := &Metrics{registry: prometheus.NewRegistry()}
	m.received = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "blockd_commands_received_total",
		Help: "Command messages handled, by command type and provider (a message handled again after an infrastructure failure counts once; a duplicate counts)."},
		[]string{labelType, labelProvider})
	m.finished = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "blockd_commands_finished_total",
		Help: "Results recorded (and messages dead-lettered, as REJECTED), by command type, provider, status and blockd's error code (\"\" for DONE)."},
		[]string{labelType, labelProvider, labelStatus, labelCode})
	m.callSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "blockd_provider_call_duration_seconds",
		Help:    "Provider calls, by provider, operation (the command type, prepare or resolve) and outcome (ok, refused, not_applied, unknown).",
		Buckets: callBuckets()}, []string{labelProvider, labelOperation, labelOutcome})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "blockd_provider_retries_total",
		Help: "New attempts sent after an attempt that proved nothing was applied, by provider."}, []string{labelProvider})
	m.writeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "blockd_relay_write_errors_total",
		Help: "Outbox rows the relay could not publish in a pass, by class (retryable, refused, refused_batch, topic_refused, too_large)."},
		[]string{labelClass})
	m.relayRows = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "blockd_relay_rows_total",
		Help: "Outbox rows the relay's passes settled, by verdict (published, set_aside, failed)."}, []string{labelVerdict})
	m.relayErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "blockd_relay_pass_errors_total",
		Help: "Relay passes that could not read or update the outbox (the database)."})
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{Name: "blockd_build_info",
		Help:        "Always 1; its labels are blockd's version (from the binary's build info) and the Go version it was built with.",
		ConstLabels: prometheus.Labels{"version": version(), "goversion": runtime.Version()}})
	buildInfo.Set(1)
	m.registry.MustRegister(m.received, m.finished, m.callSeconds, m.retries, m.writeErrors, m.relayRows, m.relayErrors, buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.receivedSeries.vec = func(k [2]string) prometheus.Counter { return m.received.WithLabelValues(k[0], k[1]) }
	m.finishedSeries.vec = func(k [4]string) prometheus.Counter { return m.finished.WithLabelValues(k[0], k[1], k[2], k[3]) }
	m.callSeries.vec = func(k [3]string) prometheus.Observer { return m.callSeconds.WithLabelValues(k[0], k[1], k[2]) }
	m.retrySeries.vec = func(p string) prometheus.Counter { return m.retries.WithLabelValues(p) }
	m.writeSeries.vec = func(c string) prometheus.Counter { return m.writeErrors.WithLabelValues(c) }
	m.published = m.relayRows.WithLabelValues("published")
	m.setAside = m.relayRows.WithLabelValues("set_aside")
	m.failed = m.relayRows.WithLabelValues("failed")
	kinds := []schemas.Kind{schemas.KindBlock, schemas.KindUnblock, schemas.KindTransfer, schemas.KindInquiry}
	for _, p := range providers {
		m.retrySeries.get(string(p))
		for _, k := range kinds {
			m.receivedSeries.get([2]string{string(k), string(p)})
			m.finishedSeries.get([4]string{string(k), string(p), string(schemas.StatusDone), ""})
			m.callSeries.get([3]string{string(p), string(k), processor.OutcomeOK})
		}
	}
	for _, c := range producer.WriteErrorClasses() {
		m.writeSeries.get(c)
	}
	return m
}

// version is blockd's module version as the binary records it ("(devel)"
// for a build from a work tree).
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "unknown"
}

// Registry is where every metric is registered; Handler serves it.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the metrics in Prometheus's text format. A collector that
// fails leaves its metrics out and the rest is served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Received counts a handled command message (processor.Observer).
func (m *Metrics) Received(kind schemas.Kind, provider schemas.Provider) {
	m.receivedSeries.get([2]string{string(kind), string(provider)}).Inc()
}

// Finished counts a recorded result (processor.Observer).
func (m *Metrics) Finished(kind schemas.Kind, provider schemas.Provider, status schemas.Status, code string) {
	m.finishedSeries.get([4]string{string(kind), string(provider), string(status), code}).Inc()
}

// Call observes a provider call's duration (processor.Observer).
func (m *Metrics) Call(provider schemas.Provider, operation, outcome string, took time.Duration) {
	m.callSeries.get([3]string{string(provider), operation, outcome}).Observe(took.Seconds())
}

// Retry counts a new attempt after one not applied (processor.Observer).
func (m *Metrics) Retry(provider schemas.Provider) { m.retrySeries.get(string(provider)).Inc() }

// WriteFailed counts a row the relay could not publish (producer.Observer).
func (m *Metrics) WriteFailed(class string) { m.writeSeries.get(class).Inc() }

// Passed counts what a relay pass settled (producer.Observer).
func (m *Metrics) Passed(pass schemas.OutboxPass, err error) {
	if err != nil {
		m.relayErrors.Inc()
	}
	m.published.Add(float64(pass.Published))
	m.setAside.Add(float64(pass.SetAside))
	m.failed.Add(float64(pass.Failed))
}

// series resolves each label set of a vector to its series once; later
// lookups take a read lock and allocate nothing.
type series[K comparable, V any] struct {
	vec func(K) V
	mu  sync.RWMutex
	m   map[K]V
}

func (s *series[K, V]) get(k K) V {
	s.mu.RLock()
	v, ok := s.m[k]
	s.mu.RUnlock()
	if ok {
		return v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[k]; ok {
		return v
	}
	if s.m == nil {
		s.m = make(map[K]V)
	}
	v = s.vec(k)
	s.m[k] = v
	return v
}
