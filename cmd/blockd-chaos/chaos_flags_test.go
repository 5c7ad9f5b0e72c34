package main

import (
	"io"
	"strings"
	"testing"
)

// TestChaosFlags: the defaults are a valid full run, and settings that
// would make the harness, not blockd, break the promise are refused.
func TestChaosFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string // "" for none
	}{
		{name: "defaults", args: nil},
		{name: "a late call may land after the landing margin", args: []string{"-late-by", "9s", "-landing-margin", "10s"},
			wantErr: "-landing-margin 10s must exceed 10s"},
		{name: "no late calls: any landing margin", args: []string{"-late-rate", "0", "-late-by", "9s", "-landing-margin", "1s"}},
		{name: "fault rates past 1", args: []string{"-error-rate", "0.5", "-timeout-rate", "0.5", "-nested-failed-rate", "0.5"},
			wantErr: "the fault rates add up to"},
		{name: "a rate out of range", args: []string{"-status-lag-rate", "1.5"}, wantErr: "-status-lag-rate must be between 0 and 1"},
		{name: "negative rolling restarts", args: []string{"-rolling-restarts", "-1"}, wantErr: "-rolling-restarts must not be negative"},
		{name: "pauses without a length", args: []string{"-pause-for", "0"}, wantErr: "-pause-for must be positive"},
		{name: "a hostile rate out of range", args: []string{"-hostile-rate", "0.9"}, wantErr: "-hostile-rate must be between 0 and 0.5"},
		{name: "no hostile messages", args: []string{"-hostile-rate", "0"}},
		{name: "a message limit blockd refuses", args: []string{"-max-message-bytes", "1000"}, wantErr: "-max-message-bytes must be 0"},
		{name: "a message limit the largest result exceeds", args: []string{"-max-message-bytes", "6144"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseChaosFlags(tt.args, io.Discard)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got error %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestChaosDefaultsWarnNothing: the default run is configured so that
// blockd can settle every doubt before its resolve deadline.
func TestChaosDefaultsWarnNothing(t *testing.T) {
	o, err := parseChaosFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if w := o.configWarnings(); len(w) > 0 {
		t.Errorf("got warnings %q, want none", w)
	}
	o.ResolveDeadline = o.StatusLag
	if w := o.configWarnings(); len(w) != 2 {
		t.Errorf("resolve deadline = status lag: got warnings %q, want 2", w)
	}
}

// TestChaosRestartSchedule: the restarts come one at a time, PostgreSQL
// first, then the broker, then the rolling restarts, spread over 10%..90%
// of the production.
func TestChaosRestartSchedule(t *testing.T) {
	got := restartSchedule(1, 1, 2)
	want := []string{"pg", "broker", "rolling", "rolling"}
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	last := 0.1
	for i, ev := range got {
		if ev.what != want[i] || ev.share <= last || ev.share >= 0.9 {
			t.Errorf("event %d: got %s at %.3f, want %s after %.3f and before 0.9", i, ev.what, ev.share, want[i], last)
		}
		last = ev.share
	}
}
