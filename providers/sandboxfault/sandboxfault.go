// Package sandboxfault is the plumbing every provider fake shares: the
// fault a fake inflicts on the next call (one injected with InjectNext,
// first in, first out, else one drawn from seeded rates: error, timeout,
// apply-then-drop, checked in that order, then the other faults' rates), the
// latency added to each call,
// the timeout hang, the dropped connection, and the GET /_sandbox/ledger
// handler. Each fake maps a fault to its own provider's answer. It is for
// the fakes only and is never used in production.
package sandboxfault

import (
	"cmp"
	"context"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Fault is what a fake does to the next call it receives (InjectNext);
// fakes also draw faults at configured rates.
type Fault int

const (
	// FaultRetryable: answer with the provider's "try again later" error
	// without applying the call.
	FaultRetryable Fault = iota + 1
	// FaultTimeout: hang without applying until the client gives up.
	FaultTimeout
	// FaultApplyThenDrop: apply the call, then close the connection unanswered.
	FaultApplyThenDrop
	// FaultTokenExpired: answer with the provider's dead-token signal
	// without applying the call.
	FaultTokenExpired
	// FaultLateDelivery: hang without answering until the client gives up
	// (or TimeoutDelay passes), then apply the call LateBy later: the
	// request took effect after the client stopped waiting for it.
	FaultLateDelivery
	// FaultApplyThenTimeout: apply the call, then answer with the
	// provider's timeout (Finnotech: HTTP 408) instead of its result.
	FaultApplyThenTimeout
	// FaultApplyThenNotResponding: apply the call, then answer with the
	// provider's "the bank did not answer" error (Finnotech: "سرویس دهنده
	// جوابگو نیست"). A fake whose provider has no such answer treats it as
	// FaultApplyThenTimeout.
	FaultApplyThenNotResponding
	// FaultStatusLags: apply the call, drop the answer, and let the
	// provider's status inquiry say UNKNOWN about the call for StatusLag
	// before it says DONE (Finnotech wages). A fake without a status
	// inquiry treats it as FaultApplyThenDrop.
	FaultStatusLags
	// FaultNestedFailed: answer HTTP 200 with the provider's nested failure
	// envelope (Finnotech: result.status FAILED with result.error) without
	// applying the call. A fake whose provider has no such envelope treats
	// it as FaultRetryable.
	FaultNestedFailed
)

// String names the fault as the chaos run and logs print it.
func (f Fault) String() string {
	switch f {
	case FaultRetryable:
		return "retryable"
	case FaultTimeout:
		return "timeout"
	case FaultApplyThenDrop:
		return "apply-then-drop"
	case FaultTokenExpired:
		return "token-expired"
	case FaultLateDelivery:
		return "late-delivery"
	case FaultApplyThenTimeout:
		return "apply-then-timeout"
	case FaultApplyThenNotResponding:
		return "apply-then-not-responding"
	case FaultStatusLags:
		return "status-lags"
	case FaultNestedFailed:
		return "nested-failed"
	case 0:
		return "none"
	default:
		return "fault(" + strconv.Itoa(int(f)) + ")"
	}
}

// Defaults of Config.
const (
	defaultTimeoutDelay = 30 * time.Second
	defaultLateBy       = 100 * time.Millisecond
	defaultStatusLag    = 3 * time.Second
)

// Config is a fake's fault plan. The zero value is a fast, faultless plan.
type Config struct {
	// Latency is what Delay waits. Default 0.
	Latency time.Duration
	// ErrorRate, TimeoutRate and ApplyThenDropRate are the shares (each
	// clamped to 0..1) of calls that draw FaultRetryable, FaultTimeout and
	// FaultApplyThenDrop. Default 0.
	ErrorRate         float64
	TimeoutRate       float64
	ApplyThenDropRate float64
	// Rates are the shares (each clamped to 0..1) of calls that draw each
	// of the other faults, drawn after the three above in the order of the
	// Fault constants. Default none.
	Rates map[Fault]float64
	// TimeoutDelay is how long Hang waits at most. Default 30s.
	TimeoutDelay time.Duration
	// LateBy is how long after the client gave up a FaultLateDelivery call
	// takes effect. Default 100ms.
	LateBy time.Duration
	// StatusLag is how long the status inquiry says UNKNOWN about a
	// FaultStatusLags call. Default 3s.
	StatusLag time.Duration
	// Seed seeds the draws (math/rand/v2 PCG): the same seed, the same
	// sequence. Default 0, a fixed sequence like any other seed.
	Seed int64
}

// Faults is a fake's fault plan. It is safe for concurrent use.
type Faults struct {
	latency      time.Duration
	timeoutDelay time.Duration
	lateBy       time.Duration
	statusLag    time.Duration

	mu                               sync.Mutex
	rng                              *rand.Rand
	errorRate, timeoutRate, dropRate float64
	rates                            []faultRate // the other faults, in Fault order
	injected                         []Fault
}

type faultRate struct {
	fault Fault
	rate  float64
}

// New returns the plan cfg describes.
func New(cfg Config) *Faults {
	f := &Faults{
		latency:      cfg.Latency,
		timeoutDelay: cmp.Or(max(cfg.TimeoutDelay, 0), defaultTimeoutDelay),
		lateBy:       cmp.Or(max(cfg.LateBy, 0), defaultLateBy),
		statusLag:    cmp.Or(max(cfg.StatusLag, 0), defaultStatusLag),
		rng:          rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15)),
	}
	f.SetRates(cfg.ErrorRate, cfg.TimeoutRate, cfg.ApplyThenDropRate)
	f.SetFaultRates(cfg.Rates)
	return f
}

// SetFaultRates replaces the rates of the faults other than the three of
// SetRates, for calls from now on.
func (f *Faults) SetFaultRates(rates map[Fault]float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rates = f.rates[:0]
	for _, fault := range slices.Sorted(maps.Keys(rates)) {
		if r := clamp01(rates[fault]); r > 0 {
			f.rates = append(f.rates, faultRate{fault, r})
		}
	}
}

// LateBy is how long after the client gave up a FaultLateDelivery call
// takes effect.
func (f *Faults) LateBy() time.Duration { return f.lateBy }

// StatusLag is how long a status inquiry says UNKNOWN about a
// FaultStatusLags call.
func (f *Faults) StatusLag() time.Duration { return f.statusLag }

// SetRates changes the rates (each clamped to 0..1) for calls from now on.
// Rates adding up past 1 starve the later ones.
func (f *Faults) SetRates(errorRate, timeoutRate, dropRate float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errorRate, f.timeoutRate, f.dropRate = clamp01(errorRate), clamp01(timeoutRate), clamp01(dropRate)
}

// InjectNext makes a coming call suffer fault, ahead of any drawn one;
// faults injected in a row hit calls in that order.
func (f *Faults) InjectNext(fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.injected = append(f.injected, fault)
}

// Next returns the fault of a call: the first injected one (injected is
// true), else one drawn at the rates (FaultRetryable for the error rate),
// or 0 for none.
func (f *Faults) Next() (fault Fault, injected bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.injected) > 0 {
		fault, f.injected = f.injected[0], f.injected[1:]
		return fault, true
	}
	x := f.rng.Float64()
	switch {
	case x < f.errorRate:
		return FaultRetryable, false
	case x < f.errorRate+f.timeoutRate:
		return FaultTimeout, false
	case x < f.errorRate+f.timeoutRate+f.dropRate:
		return FaultApplyThenDrop, false
	}
	x -= f.errorRate + f.timeoutRate + f.dropRate
	for _, r := range f.rates {
		if x < r.rate {
			return r.fault, false
		}
		x -= r.rate
	}
	return 0, false
}

// Delay waits the plan's latency. It takes no context on purpose: a
// provider goes on with a call it received when the client gives up.
func (f *Faults) Delay() {
	time.Sleep(f.latency)
}

// Hang waits, without applying anything, for the plan's TimeoutDelay or
// until ctx ends (the client went away), whichever comes first: the
// FaultTimeout hang. A fake then answers with its provider's timeout.
func (f *Faults) Hang(ctx context.Context) {
	t := time.NewTimer(f.timeoutDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
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

// LedgerPath is where every fake serves its ledger (GET).
const LedgerPath = "/_sandbox/ledger"

// Ledger returns the handler of GET /_sandbox/ledger: the value snapshot
// returns, as JSON. snapshot must copy what it shows under the fake's
// lock; the handler adds no latency and draws no fault.
func Ledger(snapshot func() any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b, err := json.Marshal(snapshot())
		if err != nil {
			// Not reached: a ledger holds only strings, numbers and bools.
			http.Error(w, "encoding ledger", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(append(b, '\n'))
	})
}

func clamp01(x float64) float64 { return min(max(x, 0), 1) }

// DeliverLate is the FaultLateDelivery of a fake: it waits, unanswered,
// until the client gives up (or TimeoutDelay passes), drops the connection,
// and calls apply LateBy later with a copy of r that no longer ends with
// the client: the call takes effect after the client stopped waiting for
// it, and nobody is left to answer.
func (f *Faults) DeliverLate(w http.ResponseWriter, r *http.Request, apply func(late *http.Request)) {
	f.Hang(r.Context())
	late := r.Clone(context.WithoutCancel(r.Context()))
	go func() {
		time.Sleep(f.lateBy)
		apply(late)
	}()
	DropConnection(w)
}
