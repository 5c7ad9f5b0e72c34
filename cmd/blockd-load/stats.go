package main

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"sync"
	"time"
)

// outcome is what the run learned about one command.
type outcome struct {
	handedAt time.Time // just before it was handed to the writer
	ackedAt  time.Time // when the broker acknowledged its produce
	acked    bool
	failed   bool // the writer gave up on it: never published
	// results counts the result events under its trackId (refusals are
	// not results); the first one's arrival, eventId and status.
	results       int
	firstResultAt time.Time
	eventID       string
	status        string // "DONE", or "FAILED <code>", "REJECTED <code>"
	// conflicting: a later result carried another eventId than the first
	// (a redelivery republishes the same event; two events are two answers).
	conflicting bool
}

// tally collects what the writer and the results readers report, from
// their goroutines.
type tally struct {
	mu             sync.Mutex
	cmds           []outcome
	handedN        int // handed to the writer
	published      int // acknowledged
	failed         int
	answered       int // acknowledged commands with at least one result
	results        int // commands with at least one result, acknowledged or not
	refusals       int
	refusalsByCode map[string]int
	foreign        int // events of trackIds that are not this run's
	unreadable     int // messages that are no result event
	firstErr       error
}

func newTally(n int) *tally {
	return &tally{cmds: make([]outcome, n), refusalsByCode: make(map[string]int)}
}

// handed records that commands idx are handed to the writer at t.
func (t *tally) handed(idx []int, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, i := range idx {
		t.cmds[i].handedAt = at
	}
	t.handedN += len(idx)
}

// acked records the writer's verdict on commands idx: acknowledged at
// at, or (err) given up. The first verdict on a command stands.
func (t *tally) acked(idx []int, at time.Time, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, i := range idx {
		c := &t.cmds[i]
		if c.acked || c.failed {
			continue
		}
		if err != nil {
			c.failed = true
			t.failed++
			if t.firstErr == nil {
				t.firstErr = err
			}
			continue
		}
		c.acked, c.ackedAt = true, at
		t.published++
		if c.results > 0 {
			t.answered++
		}
	}
}

// resultEvent is one message of the results topic, read.
type resultEvent struct {
	trackID, eventID string
	status, code     string
	// refusal: keyed refused:<trackId> or typed dev.blockd.refusal.*: the
	// answer to a message that did not become a command, never a result.
	refusal bool
}

// label is how the summary counts the event: its status, and its error
// code when it has one.
func (e resultEvent) label() string {
	if e.code == "" {
		return e.status
	}
	return e.status + " " + e.code
}

// result records an event of the results topic that arrived at at; seq is
// the command number of its trackId, ok false when the trackId is not of
// this run.
func (t *tally) result(e resultEvent, seq int, ok bool, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case !ok || seq >= len(t.cmds):
		t.foreign++
	case e.refusal:
		t.refusals++
		t.refusalsByCode[cmp.Or(e.code, "(no code)")]++
	default:
		c := &t.cmds[seq]
		c.results++
		if c.results == 1 {
			c.firstResultAt, c.eventID, c.status = at, e.eventID, e.label()
			t.results++
			if c.acked {
				t.answered++
			}
		} else if e.eventID != c.eventID {
			c.conflicting = true
		}
	}
}

// unreadableMessage counts a message that is no result event.
func (t *tally) unreadableMessage() {
	t.mu.Lock()
	t.unreadable++
	t.mu.Unlock()
}

// progress is the running counts.
type progress struct {
	handed, published, failed, results, refusals int
}

func (t *tally) progress() progress {
	t.mu.Lock()
	defer t.mu.Unlock()
	return progress{handed: t.handedN, published: t.published, failed: t.failed, results: t.results, refusals: t.refusals}
}

// waitingFor is how many acknowledged commands have no result yet.
func (t *tally) waitingFor() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.published - t.answered
}

// snapshot copies what the summary needs.
func (t *tally) snapshot() ([]outcome, map[string]int, int, int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.cmds), maps.Clone(t.refusalsByCode), t.foreign, t.unreadable, t.firstErr
}

// latencies are publish→result percentiles, in milliseconds.
type latencies struct {
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of sorted
// durations: the smallest value with at least p% of the values at or
// below it; 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*100) / 100 }

func latencyOf(ds []time.Duration) latencies {
	slices.Sort(ds)
	return latencies{P50: ms(percentile(ds, 50)), P90: ms(percentile(ds, 90)), P99: ms(percentile(ds, 99)), Max: ms(percentile(ds, 100))}
}

// middleRate is the rate of arrivals over the middle 80% of them: sorted
// by time, from the arrival at the 10% mark to the one at the 90% mark,
// the arrivals between them (counting intervals) per second of that span;
// 0 with fewer than two arrivals in the window or a span of no time.
func middleRate(arrivals []time.Time) float64 {
	n := len(arrivals)
	lo, hi := n/10, n-1-n/10
	if hi <= lo {
		return 0
	}
	sorted := slices.SortedFunc(slices.Values(arrivals), time.Time.Compare)
	span := sorted[hi].Sub(sorted[lo])
	if span <= 0 {
		return 0
	}
	return float64(hi-lo) / span.Seconds()
}

// summary is what a run found. Counts are of commands unless named
// otherwise.
type summary struct {
	RunID     string `json:"run_id"`
	N         int    `json:"n"`
	Published int    `json:"published"` // acknowledged by the broker
	// PublishFailed: the writer gave up on them (not in Published).
	PublishFailed int `json:"publish_failed"`
	// Results: published commands with at least one result.
	Results int `json:"results"`
	// Missing: published commands without a result by the end.
	Missing int `json:"missing"`
	// Duplicates: commands with more than one result event; DuplicateEvents
	// the events beyond each one's first; Conflicting the commands whose
	// results carry more than one eventId (two answers, not a redelivery).
	Duplicates      int            `json:"duplicates"`
	DuplicateEvents int            `json:"duplicate_events"`
	Conflicting     int            `json:"conflicting"`
	Refusals        int            `json:"refusals"`
	RefusalsByCode  map[string]int `json:"refusals_by_code"`
	ByStatus        map[string]int `json:"results_by_status"`
	// Foreign: events of other trackIds on the results topic (other runs,
	// other traffic); Unreadable: messages that are no result event.
	Foreign    int `json:"foreign_events"`
	Unreadable int `json:"unreadable_events"`
	// Throughput is results per second from the first command handed to
	// the writer to the last result; ThroughputMid80 over the middle 80% of
	// the results by arrival (see middleRate).
	Throughput      float64 `json:"throughput"`
	ThroughputMid80 float64 `json:"throughput_mid80"`
	// OfferedRate is -rate (0: as fast as possible); PublishRate the
	// commands acknowledged per second while publishing.
	OfferedRate    float64 `json:"offered_rate"`
	PublishRate    float64 `json:"publish_rate"`
	PublishSeconds float64 `json:"publish_seconds"`
	RunSeconds     float64 `json:"run_seconds"`
	// Latency is from the broker's acknowledgement of the command's produce
	// to the arrival of its first result; LatencyFromHandoff from just
	// before the command was handed to the writer (batching and the
	// produce round trip included). ResultsBeforeAck counts results read
	// before their produce's acknowledgement was (their latency counts 0).
	Latency            latencies `json:"latency"`
	LatencyFromHandoff latencies `json:"latency_from_handoff"`
	ResultsBeforeAck   int       `json:"results_before_ack"`
	// MissingExamples are up to ten trackIds without a result.
	MissingExamples []string `json:"missing_examples,omitempty"`

	Cost *costReport `json:"cost,omitempty"`
}

// summarize computes the summary of a run from the outcomes of its
// commands; start is when the first command was handed to the writer,
// publishEnd when the last was acknowledged or given up.
func summarize(cmds []outcome, trackID func(int) string, start, publishEnd time.Time) summary {
	s := summary{N: len(cmds), ByStatus: make(map[string]int)}
	var lat, fromHandoff []time.Duration
	var arrivals []time.Time
	var last time.Time
	for i, c := range cmds {
		if c.failed {
			s.PublishFailed++
		}
		if !c.acked {
			continue
		}
		s.Published++
		if c.results == 0 {
			s.Missing++
			if len(s.MissingExamples) < 10 {
				s.MissingExamples = append(s.MissingExamples, trackID(i))
			}
			continue
		}
		s.Results++
		s.ByStatus[c.status]++
		if c.results > 1 {
			s.Duplicates++
			s.DuplicateEvents += c.results - 1
		}
		if c.conflicting {
			s.Conflicting++
		}
		arrivals = append(arrivals, c.firstResultAt)
		if c.firstResultAt.After(last) {
			last = c.firstResultAt
		}
		d := c.firstResultAt.Sub(c.ackedAt)
		if d < 0 {
			s.ResultsBeforeAck++
			d = 0
		}
		lat = append(lat, d)
		fromHandoff = append(fromHandoff, max(c.firstResultAt.Sub(c.handedAt), 0))
	}
	s.Latency, s.LatencyFromHandoff = latencyOf(lat), latencyOf(fromHandoff)
	if span := last.Sub(start); s.Results > 0 && span > 0 {
		s.Throughput = float64(s.Results) / span.Seconds()
	}
	s.ThroughputMid80 = middleRate(arrivals)
	if span := publishEnd.Sub(start); span > 0 {
		s.PublishSeconds = span.Seconds()
		s.PublishRate = float64(s.Published) / span.Seconds()
	}
	return s
}
