// Package sandboxfault decides which fault a provider sandbox inflicts on
// the next call: one injected with InjectNext (first in, first out), else
// one drawn from seeded rates (error, timeout, apply-then-drop, checked in
// that order). Each sandbox maps the fault to its provider's own answer.
package sandboxfault

import (
	"math/rand/v2"
	"net/http"
	"sync"

	"github.com/blockd/blockd/providers"
)

// Faults is a sandbox's fault plan. It is safe for concurrent use.
type Faults struct {
	mu                               sync.Mutex
	rng                              *rand.Rand
	errorRate, timeoutRate, dropRate float64
	injected                         []providers.Fault
}

// New returns a plan drawing from seed (the same seed, the same sequence)
// at the given rates, each clamped to 0..1.
func New(seed int64, errorRate, timeoutRate, dropRate float64) *Faults {
	f := &Faults{rng: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))}
	f.SetRates(errorRate, timeoutRate, dropRate)
	return f
}

// SetRates changes the rates (each clamped to 0..1) for calls from now on.
// Rates adding up past 1 starve the later ones.
func (f *Faults) SetRates(errorRate, timeoutRate, dropRate float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errorRate, f.timeoutRate, f.dropRate = clamp01(errorRate), clamp01(timeoutRate), clamp01(dropRate)
}

// InjectNext makes a coming call suffer fault, ahead of any drawn one;
// faults injected in a row hit calls in that order.
func (f *Faults) InjectNext(fault providers.Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.injected = append(f.injected, fault)
}

// Next returns the fault of a call: the first injected one (injected is
// true), else one drawn at the rates (FaultRetryable for the error rate),
// or 0 for none.
func (f *Faults) Next() (fault providers.Fault, injected bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.injected) > 0 {
		fault, f.injected = f.injected[0], f.injected[1:]
		return fault, true
	}
	x := f.rng.Float64()
	switch {
	case x < f.errorRate:
		return providers.FaultRetryable, false
	case x < f.errorRate+f.timeoutRate:
		return providers.FaultTimeout, false
	case x < f.errorRate+f.timeoutRate+f.dropRate:
		return providers.FaultApplyThenDrop, false
	default:
		return 0, false
	}
}

// DropConnection closes the connection without an answer, as a provider
// that applied a call and then lost its reply would.
func DropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 cannot be hijacked; aborting resets the stream instead.
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

func clamp01(x float64) float64 { return min(max(x, 0), 1) }
