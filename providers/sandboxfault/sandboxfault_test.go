package sandboxfault

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestInjectedFaultsComeFirstInOrder(t *testing.T) {
	f := New(Config{Seed: 1})
	f.InjectNext(FaultTimeout)
	f.InjectNext(FaultApplyThenDrop)
	for _, want := range []Fault{FaultTimeout, FaultApplyThenDrop} {
		if got, injected := f.Next(); got != want || !injected {
			t.Fatalf("got %v (injected %v), want injected %v", got, injected, want)
		}
	}
	if got, injected := f.Next(); got != 0 || injected {
		t.Fatalf("with zero rates: got %v (injected %v), want none", got, injected)
	}
}

func TestRatesAreDrawnAndSeeded(t *testing.T) {
	cfg := Config{ErrorRate: 0.3, TimeoutRate: 0.3, ApplyThenDropRate: 0.3, Seed: 7}
	a, b := New(cfg), New(cfg)
	counts := map[Fault]int{}
	for range 1000 {
		fa, _ := a.Next()
		fb, _ := b.Next()
		if fa != fb {
			t.Fatal("two plans with one seed drew different faults")
		}
		counts[fa]++
	}
	for _, f := range []Fault{0, FaultRetryable, FaultTimeout, FaultApplyThenDrop} {
		if counts[f] == 0 {
			t.Fatalf("fault %v never drawn in 1000 calls: %v", f, counts)
		}
	}
	all := New(Config{ErrorRate: 5, Seed: 7}) // clamped to 1
	for range 100 {
		if f, _ := all.Next(); f != FaultRetryable {
			t.Fatalf("error rate 1: drew %v", f)
		}
	}
}

func TestHangEndsWithTheClient(t *testing.T) {
	f := New(Config{TimeoutDelay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		f.Hang(ctx)
		close(done)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second): // a guard against hanging, not a timing assertion
		t.Fatal("Hang did not return after its context ended")
	}
}

func TestLedgerServesTheSnapshot(t *testing.T) {
	calls := 0
	h := Ledger(func() any {
		calls++
		return map[string]int{"applied": calls}
	})
	for want := 1; want <= 2; want++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, LedgerPath, nil))
		var got map[string]int
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("decoding %q: %v", rec.Body, err)
		}
		if rec.Code != http.StatusOK || got["applied"] != want {
			t.Errorf("got HTTP %d %v, want 200 applied %d (a fresh snapshot per request)", rec.Code, got, want)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Errorf("got Content-Type %q, want JSON", ct)
		}
	}
}

func TestOtherFaultRatesAreDrawnAfterTheFirstThree(t *testing.T) {
	f := New(Config{Seed: 3, Rates: map[Fault]float64{FaultLateDelivery: 0.25, FaultNestedFailed: 0.25, FaultStatusLags: 0}})
	counts := map[Fault]int{}
	for range 2000 {
		got, injected := f.Next()
		if injected {
			t.Fatal("a drawn fault reported as injected")
		}
		counts[got]++
	}
	for _, want := range []Fault{0, FaultLateDelivery, FaultNestedFailed} {
		if n := counts[want]; n < 400 || n > 1600 {
			t.Errorf("fault %v drawn %d times in 2000, want about a quarter or half", want, n)
		}
	}
	if n := counts[FaultStatusLags] + counts[FaultRetryable] + counts[FaultTimeout] + counts[FaultApplyThenDrop]; n != 0 {
		t.Errorf("faults at rate 0 drawn %d times: %v", n, counts)
	}
	f.SetFaultRates(nil)
	for range 100 {
		if got, _ := f.Next(); got != 0 {
			t.Fatalf("after SetFaultRates(nil): drew %v", got)
		}
	}
}

func TestFaultDefaults(t *testing.T) {
	f := New(Config{})
	if f.LateBy() != defaultLateBy || f.StatusLag() != defaultStatusLag {
		t.Errorf("got LateBy %v StatusLag %v, want %v and %v", f.LateBy(), f.StatusLag(), defaultLateBy, defaultStatusLag)
	}
	if got := FaultApplyThenNotResponding.String(); got != "apply-then-not-responding" {
		t.Errorf("got %q", got)
	}
}
