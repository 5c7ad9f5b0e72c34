package sandboxfault

import (
	"testing"

	"github.com/blockd/blockd/providers"
)

func TestInjectedFaultsComeFirstInOrder(t *testing.T) {
	f := New(1, 0, 0, 0)
	f.InjectNext(providers.FaultTimeout)
	f.InjectNext(providers.FaultApplyThenDrop)
	for _, want := range []providers.Fault{providers.FaultTimeout, providers.FaultApplyThenDrop} {
		if got, injected := f.Next(); got != want || !injected {
			t.Fatalf("got %v (injected %v), want injected %v", got, injected, want)
		}
	}
	if got, injected := f.Next(); got != 0 || injected {
		t.Fatalf("with zero rates: got %v (injected %v), want none", got, injected)
	}
}

func TestRatesAreDrawnAndSeeded(t *testing.T) {
	a, b := New(7, 0.3, 0.3, 0.3), New(7, 0.3, 0.3, 0.3)
	counts := map[providers.Fault]int{}
	for range 1000 {
		fa, _ := a.Next()
		fb, _ := b.Next()
		if fa != fb {
			t.Fatal("two plans with one seed drew different faults")
		}
		counts[fa]++
	}
	for _, f := range []providers.Fault{0, providers.FaultRetryable, providers.FaultTimeout, providers.FaultApplyThenDrop} {
		if counts[f] == 0 {
			t.Fatalf("fault %v never drawn in 1000 calls: %v", f, counts)
		}
	}
	all := New(7, 5, 0, 0) // clamped to 1
	for range 100 {
		if f, _ := all.Next(); f != providers.FaultRetryable {
			t.Fatalf("error rate 1: drew %v", f)
		}
	}
}
