package metrics

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/blockd/blockd/consumer"
	"github.com/blockd/blockd/producer"
	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store"
)

// sourceDatabase is the blockd_scrape_errors_total source of the gauges
// read from PostgreSQL.
const sourceDatabase = "database"

// Database is what a scrape reads from PostgreSQL (store.Store).
type Database interface {
	InDoubtSummary(ctx context.Context) (store.InDoubtSummary, error)
	OutboxHealth(ctx context.Context) (schemas.OutboxHealth, error)
}

// Sources are what a scrape reads the current state from. A nil field is
// left out.
type Sources struct {
	Database Database
	// DatabaseTimeout bounds the database's part of a scrape: a slow
	// database leaves its gauges out (and counts a scrape error) rather
	// than hold /metrics. Default 2s.
	DatabaseTimeout time.Duration
	// Consumer is the consumer's status (consumer.Consumer.Status).
	Consumer func() consumer.Status
	// Breakers is each provider's circuit breaker state, "closed",
	// "half-open" or "open" (processor.Processor.ProviderStates).
	Breakers func() map[string]string
	// Relay is the relay's status (producer.Relay.Status).
	Relay func() producer.Status
}

// Watch registers a collector that reads src at every scrape.
func (m *Metrics) Watch(src Sources) {
	if src.DatabaseTimeout == 0 {
		src.DatabaseTimeout = 2 * time.Second
	}
	m.registry.MustRegister(&stateCollector{stateDescs: newStateDescs(), src: src})
}

// stateDescs describe what stateCollector reads.
type stateDescs struct {
	inFlight, maxInFlight, fetched, stuck, joined, lag, breaker, relayStalled, inDoubt, inDoubtAge, reconcile, outboxPending, outboxAge, setAside *prometheus.Desc
	scrapeErrors                                                                                                                                  *prometheus.Desc
}

func newStateDescs() stateDescs {
	return stateDescs{
		inFlight: prometheus.NewDesc("blockd_consumer_in_flight",
			"Handler calls running now (messages being carried out), out of blockd_consumer_max_in_flight.", nil, nil),
		maxInFlight: prometheus.NewDesc("blockd_consumer_max_in_flight",
			"The most handler calls that may run at once (BLOCKD_MAX_IN_FLIGHT).", nil, nil),
		fetched: prometheus.NewDesc("blockd_consumer_fetched_messages",
			"Messages fetched and not finished (running, queued behind their key, or held back).", nil, nil),
		stuck: prometheus.NewDesc("blockd_consumer_stuck_keys",
			"Keys whose message has been handled longer than BLOCKD_STUCK_KEY_AFTER.", nil, nil),
		joined: prometheus.NewDesc("blockd_consumer_joined",
			"1 while the consumer fetches in a group generation, 0 while it joins or drains.", nil, nil),
		lag: prometheus.NewDesc("blockd_consumer_lag_messages",
			"Messages of a partition this instance fetches that are not finished: those after the last fetched, and those fetched and not passed by the committed offset.",
			[]string{"topic", "partition"}, nil),
		breaker: prometheus.NewDesc("blockd_provider_breaker_state",
			"A provider's circuit breaker: 0 closed, 1 half-open, 2 open.", []string{labelProvider}, nil),
		relayStalled: prometheus.NewDesc("blockd_relay_stalled",
			"1 while the relay has published nothing that was due for longer than BLOCKD_RELAY_STALL.", nil, nil),
		inDoubt: prometheus.NewDesc("blockd_commands_in_doubt",
			"Commands IN_DOUBT: a provider call may have been applied and its outcome is being resolved.", nil, nil),
		inDoubtAge: prometheus.NewDesc("blockd_commands_in_doubt_oldest_age_seconds",
			"How long the command longest IN_DOUBT has been in doubt; 0 when none is.", nil, nil),
		reconcile: prometheus.NewDesc("blockd_commands_needs_reconciliation",
			"Commands flagged for an operator to reconcile at the provider (listed at /v1/commands/reconcile).", nil, nil),
		outboxPending: prometheus.NewDesc("blockd_outbox_pending_rows",
			"Outbox rows waiting to be published (not set aside).", nil, nil),
		outboxAge: prometheus.NewDesc("blockd_outbox_oldest_pending_age_seconds",
			"How long the oldest pending outbox row not held back by a set-aside row has waited; 0 when none waits.", nil, nil),
		setAside: prometheus.NewDesc("blockd_outbox_set_aside_rows",
			"Outbox rows set aside as refused for good, waiting for an operator (listed at /v1/outbox/set-aside).", nil, nil),
		scrapeErrors: prometheus.NewDesc("blockd_scrape_errors_total",
			"Scrapes that could not read a source in time (database: its gauges were left out of that scrape).", []string{"source"}, nil),
	}
}

// stateCollector reads, at each scrape, what the consumer, the breakers,
// the relay and the database know now.
type stateCollector struct {
	stateDescs
	src Sources
	// databaseErrors counts the scrapes that could not read the database.
	databaseErrors atomic.Uint64
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.inFlight, c.maxInFlight, c.fetched, c.stuck, c.joined, c.lag, c.breaker,
		c.relayStalled, c.inDoubt, c.inDoubtAge, c.reconcile, c.outboxPending, c.outboxAge, c.setAside, c.scrapeErrors} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if c.src.Consumer != nil {
		s := c.src.Consumer()
		gauge(c.inFlight, float64(s.Running))
		gauge(c.maxInFlight, float64(s.MaxInFlight))
		gauge(c.fetched, float64(s.Fetched))
		gauge(c.stuck, float64(len(s.Stuck)))
		gauge(c.joined, boolValue(s.Joined))
		for _, p := range s.Partitions {
			gauge(c.lag, float64(p.Lag), p.Topic, strconv.Itoa(p.Partition))
		}
	}
	if c.src.Breakers != nil {
		for provider, state := range c.src.Breakers() {
			gauge(c.breaker, breakerValue(state), provider)
		}
	}
	if c.src.Relay != nil {
		gauge(c.relayStalled, boolValue(c.src.Relay().Stalled))
	}
	if c.src.Database != nil {
		if !c.collectDatabase(gauge) {
			c.databaseErrors.Add(1)
		}
		ch <- prometheus.MustNewConstMetric(c.scrapeErrors, prometheus.CounterValue, float64(c.databaseErrors.Load()), sourceDatabase)
	}
}

// collectDatabase reads the database's gauges within DatabaseTimeout; it
// reports whether it read them all. What it could not read is left out.
func (c *stateCollector) collectDatabase(gauge func(d *prometheus.Desc, v float64, labels ...string)) bool {
	ctx, cancel := context.WithTimeout(context.Background(), c.src.DatabaseTimeout)
	defer cancel()
	d, err := c.src.Database.InDoubtSummary(ctx)
	if err != nil {
		return false
	}
	gauge(c.inDoubt, float64(d.InDoubt))
	gauge(c.inDoubtAge, d.OldestInDoubt.Seconds())
	gauge(c.reconcile, float64(d.NeedsReconciliation))
	o, err := c.src.Database.OutboxHealth(ctx)
	if err != nil {
		return false
	}
	gauge(c.outboxPending, float64(o.Pending))
	gauge(c.outboxAge, o.OldestPending.Seconds())
	gauge(c.setAside, float64(o.SetAside))
	return true
}

// breakerValue is a breaker state as blockd_provider_breaker_state counts
// it: 0 closed, 1 half-open, 2 open.
func breakerValue(state string) float64 {
	switch state {
	case "open":
		return 2
	case "half-open":
		return 1
	default:
		return 0
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
