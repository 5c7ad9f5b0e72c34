package main

import (
	"errors"
	"math"
	"strconv"
	"testing"
	"time"
)

func durations(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestPercentileIsNearestRank(t *testing.T) {
	ten := durations(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	for _, tt := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{ten, 50, 5 * time.Millisecond},
		{ten, 90, 9 * time.Millisecond},
		{ten, 91, 10 * time.Millisecond},
		{ten, 99, 10 * time.Millisecond},
		{ten, 100, 10 * time.Millisecond},
		{ten, 1, 1 * time.Millisecond},
		{durations(7), 50, 7 * time.Millisecond},
		{durations(7), 99, 7 * time.Millisecond},
		{nil, 50, 0},
	} {
		if got := percentile(tt.in, tt.p); got != tt.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.in, tt.p, got, tt.want)
		}
	}
	// 1..1000 ms: p99 is the 990th value.
	var thousand []time.Duration
	for i := 1; i <= 1000; i++ {
		thousand = append(thousand, time.Duration(i)*time.Millisecond)
	}
	l := latencyOf(thousand)
	if l.P50 != 500 || l.P90 != 900 || l.P99 != 990 || l.Max != 1000 {
		t.Errorf("latencyOf(1..1000ms) = %+v, want 500/900/990/1000", l)
	}
}

func TestMiddleRateLeavesOutTheSlowStartAndEnd(t *testing.T) {
	base := time.Unix(1_000_000, 0)
	var arrivals []time.Time
	at := base
	// 10 arrivals a second apart, 80 a millisecond apart, 10 a second apart:
	// the middle 80% is the fast part.
	for i := range 100 {
		step := time.Millisecond
		if i < 10 || i >= 90 {
			step = time.Second
		}
		at = at.Add(step)
		arrivals = append(arrivals, at)
	}
	// Shuffled order must not matter.
	arrivals[3], arrivals[97] = arrivals[97], arrivals[3]
	got := middleRate(arrivals)
	// From arrival 10 (index) to 89: 79 intervals; index 10 came 1 s after
	// index 9 but is itself the first of the window, and index 89 is 79 ms
	// later.
	want := 79 / (79 * time.Millisecond).Seconds()
	if math.Abs(got-want) > 0.01 {
		t.Errorf("middleRate = %v, want %v", got, want)
	}
	if got := middleRate(arrivals[:1]); got != 0 {
		t.Errorf("middleRate of one arrival = %v, want 0", got)
	}
	same := []time.Time{base, base, base, base}
	if got := middleRate(same); got != 0 {
		t.Errorf("middleRate of simultaneous arrivals = %v, want 0", got)
	}
}

func TestTallyCountsResultsRefusalsAndForeignEvents(t *testing.T) {
	tl := newTally(6)
	at := time.Unix(2_000_000, 0)
	tl.handed([]int{0, 1, 2, 3, 4, 5}, at)
	tl.acked([]int{0, 1, 2, 3}, at.Add(10*time.Millisecond), nil)
	tl.acked([]int{4}, at.Add(10*time.Millisecond), errors.New("broker said no"))
	tl.acked([]int{4}, at.Add(20*time.Millisecond), nil) // the first verdict stands
	// 5 is never acknowledged (e.g. interrupted): neither published nor failed.
	done := func(id string) resultEvent { return resultEvent{eventID: id, status: "DONE"} }
	tl.result(done("e0"), 0, true, at.Add(30*time.Millisecond))
	tl.result(done("e0"), 0, true, at.Add(40*time.Millisecond)) // a redelivery: duplicate
	tl.result(done("e1"), 1, true, at.Add(50*time.Millisecond))
	tl.result(done("e1-other"), 1, true, at.Add(60*time.Millisecond)) // a second answer: conflicting
	tl.result(resultEvent{eventID: "e2", status: "FAILED", code: "PROVIDER_REJECTED"}, 2, true, at.Add(5*time.Millisecond))
	tl.result(resultEvent{eventID: "r3", status: "REJECTED", code: "TRACK_ID_CONFLICT", refusal: true}, 3, true, at.Add(70*time.Millisecond))
	tl.result(done("x"), 0, false, at) // another run's
	tl.result(done("y"), 99, true, at) // beyond -n
	tl.result(done("e5"), 5, true, at.Add(80*time.Millisecond))
	tl.unreadableMessage()

	if got := tl.waitingFor(); got != 1 { // 3 has only a refusal
		t.Errorf("waitingFor = %d, want 1", got)
	}
	cmds, refusals, foreign, unreadable, firstErr := tl.snapshot()
	if foreign != 2 || unreadable != 1 || firstErr == nil || refusals["TRACK_ID_CONFLICT"] != 1 || len(refusals) != 1 {
		t.Errorf("foreign=%d unreadable=%d firstErr=%v refusals=%v, want 2, 1, an error, TRACK_ID_CONFLICT=1", foreign, unreadable, firstErr, refusals)
	}
	s := summarize(cmds, func(i int) string { return "run-" + strconv.Itoa(i) }, at, at.Add(100*time.Millisecond))
	want := summary{N: 6, Published: 4, PublishFailed: 1, Results: 3, Missing: 1, Duplicates: 2, DuplicateEvents: 2, Conflicting: 1, ResultsBeforeAck: 1}
	got := summary{N: s.N, Published: s.Published, PublishFailed: s.PublishFailed, Results: s.Results, Missing: s.Missing,
		Duplicates: s.Duplicates, DuplicateEvents: s.DuplicateEvents, Conflicting: s.Conflicting, ResultsBeforeAck: s.ResultsBeforeAck}
	if got.N != want.N || got.Published != want.Published || got.PublishFailed != want.PublishFailed || got.Results != want.Results ||
		got.Missing != want.Missing || got.Duplicates != want.Duplicates || got.DuplicateEvents != want.DuplicateEvents ||
		got.Conflicting != want.Conflicting || got.ResultsBeforeAck != want.ResultsBeforeAck {
		t.Errorf("summary counts %+v, want %+v", got, want)
	}
	if s.ByStatus["DONE"] != 2 || s.ByStatus["FAILED PROVIDER_REJECTED"] != 1 || len(s.ByStatus) != 2 {
		t.Errorf("by status %v, want DONE=2 and FAILED PROVIDER_REJECTED=1", s.ByStatus)
	}
	if len(s.MissingExamples) != 1 || s.MissingExamples[0] != "run-3" {
		t.Errorf("missing examples %v, want [run-3]", s.MissingExamples)
	}
	// Latency from the acknowledgement (at+10ms): 20ms, 40ms, and the FAILED
	// one read before its acknowledgement counts 0.
	if s.Latency.P50 != 20 || s.Latency.Max != 40 || s.LatencyFromHandoff.Max != 50 {
		t.Errorf("latency %+v from handoff %+v, want p50 20 max 40, from handoff max 50", s.Latency, s.LatencyFromHandoff)
	}
	// 3 results, the last 50ms after the start.
	if math.Abs(s.Throughput-60) > 0.001 {
		t.Errorf("throughput = %v, want 60", s.Throughput)
	}
	if math.Abs(s.PublishRate-40) > 0.001 {
		t.Errorf("publish rate = %v, want 40", s.PublishRate)
	}
}
