// Package processor carries out one consumed command exactly once in
// effect. A command's life, stage by stage, one file each:
//
//   - receive.go: Handle decodes and checks the message, stores it under its
//     trackId (Store.Receive) and acts on the receipt; a duplicate is
//     answered from the store. What cannot become a command is refused and
//     dead-lettered (answers.go, which also builds every message written).
//     A stored command this worker holds goes on as a claimedCommand.
//   - rules.go: the rules that need stored state (an unblock's block, a
//     transfer's unblock, an account's earlier command); a broken rule is
//     answered without a call.
//   - call.go: each provider call attempt is recorded before it is sent,
//     behind the provider's guard (guard.go: rate limit, circuit breaker) and
//     the lease fence (fence.go); a call that proves nothing was applied is
//     retried with a new provider trackId. Its outcome goes on as a
//     callOutcome.
//   - settle.go: the outcome and its result event are recorded in one
//     transaction, with what it changes in the holds ledger; an unknown
//     outcome makes the command IN_DOUBT instead.
//   - resolve.go: an IN_DOUBT command is never sent again blindly: the
//     provider is asked what happened, and only a proven "not applied" allows
//     a new attempt; nothing proven by the deadline ends OUTCOME_UNKNOWN for
//     an operator.
//   - sweep.go: Run renews this instance's leases, carries on commands
//     abandoned by dead owners and resolves IN_DOUBT commands nobody holds.
//
// The result events and dead letters queued in the outbox are published by
// the relay, in package producer.
package processor

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

// Store is the durable state the processor needs (store.Store in production).
type Store interface {
	Receive(ctx context.Context, cmd schemas.Command, src schemas.SourceMeta, owner string, lease time.Duration, local func(trackID string) bool) (schemas.Receipt, error)
	ReceiveAndBegin(ctx context.Context, cmd schemas.Command, src schemas.SourceMeta, owner string, lease time.Duration, local func(trackID string) bool, providerTrackID string) (schemas.Receipt, error)
	BeginCall(ctx context.Context, c schemas.CallStart, lease time.Duration) (schemas.CallBegun, error)
	Complete(ctx context.Context, c schemas.Completion) error
	RecordAttemptNotApplied(ctx context.Context, p schemas.RecordAttemptNotAppliedParams) error
	MarkInDoubt(ctx context.Context, p schemas.MarkInDoubtParams) error
	RecordInDoubtNotApplied(ctx context.Context, p schemas.RecordInDoubtNotAppliedParams) error
	ReleaseInDoubtClaim(ctx context.Context, p schemas.ReleaseClaimParams) error
	ClaimInDoubt(ctx context.Context, owner string, lease time.Duration, limit int) ([]schemas.InDoubtClaim, error)
	Enqueue(ctx context.Context, msgs []schemas.Outbound) error
	Lookup(ctx context.Context, trackID string) (schemas.Lookup, error)
	EarlierOpen(ctx context.Context, p schemas.EarlierOpenParams) (string, error)
	RenewLeases(ctx context.Context, owner string, lease time.Duration, trackIDs []string) (int64, error)
	ReleaseReceivedClaim(ctx context.Context, p schemas.ReleaseClaimParams) error
	RecordCallNotSent(ctx context.Context, p schemas.CallNotSentParams) error
	RecordLateAnswer(ctx context.Context, a schemas.LateAnswer) (schemas.LateAnswerVerdict, error)
	UnsettledCalls(ctx context.Context, trackID, exceptProviderTrackID string) (int, error)
	TakeOverAbandoned(ctx context.Context, owner string, lease time.Duration, limit int) ([]schemas.Claimed, int, error)
}

// Provider carries out one call at one provider (a providers/* adapter).
type Provider interface {
	Execute(ctx context.Context, req providers.Request) (json.RawMessage, error)
}

// Preparer is a Provider that reads, before a call is sent, the state the
// call will change (the card platform's block codes). What it reads before
// a command's first call is kept with the command and given to Execute and
// Resolve as providers.Request.Before.
type Preparer interface {
	Prepare(ctx context.Context, req providers.Request) (json.RawMessage, error)
}

// Warmer is a Provider that can make sure, before a command's first call
// is recorded with the command (see callsAtOnce), that the call can then
// be sent at once (its token at hand), so that no recorded intent waits
// unsent for something a crash could cut short.
type Warmer interface {
	Warm(ctx context.Context, cmd schemas.Command) error
}

// Resolver is a Provider that can say what happened to a call whose outcome
// was unknown (a status inquiry, or a safe re-send of a state-setting call).
// A provider without one leaves such commands IN_DOUBT until the deadline.
type Resolver interface {
	Resolve(ctx context.Context, req providers.Request) (providers.Resolution, error)
}

// Config tunes a Processor. The zero value of every duration and size gets
// the default named in its comment.
type Config struct {
	// Owner identifies this instance in leases. Default: a new UUID.
	Owner string
	// Topics maps each command topic to the kind of command it carries.
	Topics map[string]schemas.Kind
	// ResultsTopic receives result events. Default "blockd.results".
	ResultsTopic string
	// DLQTopic receives messages that cannot be read. Default "blockd.dlq".
	DLQTopic string
	// Source is the CloudEvents source of result events. Default "/blockd".
	Source string
	// Lease is how long a claim lasts without renewal. Default 30s.
	Lease time.Duration
	// UnblockWait bounds how long an unblock waits for its block's outcome. Default 30s.
	UnblockWait time.Duration
	// CallTimeout bounds one provider call. Default 20s.
	CallTimeout time.Duration
	// MaxMessageBytes bounds every message the processor reads or writes,
	// counted as schemas.Outbound.Size counts (key, value, headers and
	// Kafka's framing): a larger command is answered MESSAGE_TOO_LARGE; no
	// result or dead letter it queues is larger (a reason is cut, a dead
	// letter that would be larger is replaced by a record saying where the
	// original is, a provider answer that would make a larger result is
	// answered RESULT_TOO_LARGE). Keep it at or below the broker's
	// max.message.bytes of the results and dead letter topics.
	// Default DefaultMaxMessageBytes.
	MaxMessageBytes int
	// SweepInterval is how often abandoned commands are looked for. Default Lease/3.
	SweepInterval time.Duration
	// MaxAttempts bounds the provider calls for one command when calls fail
	// in a way that proves they were not applied. Default 4.
	MaxAttempts int
	// RetryBudget bounds the total time spent retrying one command. Default 60s.
	RetryBudget time.Duration
	// RetryDelay and RetryDelayMax bound the exponential backoff (with
	// jitter) between attempts. Defaults 200ms and 5s.
	RetryDelay, RetryDelayMax time.Duration
	// ResolveInline bounds how long the worker that met an unknown outcome
	// keeps asking the provider before leaving it to the sweeper. Default 10s.
	ResolveInline time.Duration
	// ResolveRetry is how long an unanswered in-doubt command waits before
	// it is asked about again. Default 5s.
	ResolveRetry time.Duration
	// ResolveDeadline bounds how long a command may stay IN_DOUBT; then it is
	// answered FAILED with OUTCOME_UNKNOWN and flagged for an operator.
	// Default 10m.
	ResolveDeadline time.Duration
	// FenceMargin is kept free at the end of the lease: a call is sent only
	// if its intent was recorded less than Lease − FenceMargin ago (and less
	// than CallTimeout ago), so a worker that paused after recording it never
	// sends it once another instance may have taken the command over.
	// Default Lease/5.
	FenceMargin time.Duration
	// LandingMargin is how long after its client gave up a call is assumed
	// able to still take effect at the provider. A state read or a re-send
	// counts as proof that a call was not applied only after that (see
	// providers.Request.CannotLandAfter). Default 30s.
	LandingMargin time.Duration
	// Policies protect and tune each provider (rate limit, circuit breaker,
	// retries); a provider without one gets Policy's defaults.
	Policies map[schemas.Provider]Policy
	// Tracer, when set, records a span per command and per stage (see
	// trace.go). Default: none, and results carry the upstream's
	// traceparent as it came.
	Tracer trace.Tracer
	// Simulated names the providers a sandbox (a simulator) answers. Every
	// result of a command for one carries the header SimulatedHeader: true
	// and the CloudEvents source Source + "/sandbox", so a simulated DONE
	// can never pass for a real one. Default: none.
	Simulated map[schemas.Provider]bool
	// Observer is told what the processor does, for metrics. Default:
	// nothing is observed.
	Observer Observer
}

// DefaultMaxMessageBytes is Config.MaxMessageBytes's default, 256 KiB: far
// above any valid command (a few hundred bytes) and any result, and a
// quarter of Kafka's default message limit (1 MiB).
const DefaultMaxMessageBytes = 256 << 10

// SimulatedHeader is the Kafka header, "true", on every result of a command
// a sandbox answered (see Config.Simulated).
const SimulatedHeader = "blockd-simulated"

func (c *Config) setDefaults() {
	if c.Owner == "" {
		c.Owner = uuid.NewString()
	}
	if c.ResultsTopic == "" {
		c.ResultsTopic = "blockd.results"
	}
	if c.DLQTopic == "" {
		c.DLQTopic = "blockd.dlq"
	}
	if c.Source == "" {
		c.Source = "/blockd"
	}
	if c.Lease == 0 {
		c.Lease = 30 * time.Second
	}
	if c.UnblockWait == 0 {
		c.UnblockWait = 30 * time.Second
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = 20 * time.Second
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = c.Lease / 3
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 4
	}
	if c.RetryBudget == 0 {
		c.RetryBudget = 60 * time.Second
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = 200 * time.Millisecond
	}
	if c.RetryDelayMax == 0 {
		c.RetryDelayMax = 5 * time.Second
	}
	if c.ResolveInline == 0 {
		c.ResolveInline = 10 * time.Second
	}
	if c.ResolveRetry == 0 {
		c.ResolveRetry = 5 * time.Second
	}
	if c.ResolveDeadline == 0 {
		c.ResolveDeadline = 10 * time.Minute
	}
	if c.FenceMargin == 0 {
		c.FenceMargin = c.Lease / 5
	}
	if c.LandingMargin == 0 {
		c.LandingMargin = 30 * time.Second
	}
}

// Hooks let tests stop a command at a precise point, as a crash would.
type Hooks struct {
	// AfterCall runs after the provider answered and before the outcome is
	// recorded. A non-nil error abandons the command right there, exactly as
	// if the process had died.
	AfterCall func(trackID string) error
	// AfterIntent runs after a call's intent is recorded and before the
	// worker checks it still holds the command and sends the call: a test
	// pauses here as a GC pause or a frozen VM would.
	AfterIntent func(trackID string)
}

// Processor handles consumed command messages. It is safe for concurrent
// use; callers serialise messages that share a Kafka key.
type Processor struct {
	cfg       Config
	store     Store
	validator *schemas.Validator
	providers map[schemas.Provider]Provider
	hooks     Hooks
	log       zerolog.Logger
	observer  Observer

	guards map[schemas.Provider]*guard

	mu     sync.Mutex
	active map[string]int // trackIds being worked on in this process
}

// New returns a Processor.
func New(cfg Config, st Store, v *schemas.Validator, provs map[schemas.Provider]Provider, hooks Hooks, log zerolog.Logger) *Processor {
	cfg.setDefaults()
	guards := make(map[schemas.Provider]*guard, len(provs))
	for name := range provs {
		guards[name] = newGuard(name, cfg.Policies[name])
	}
	observer := cfg.Observer
	if observer == nil {
		observer = noObserver{}
	}
	return &Processor{cfg: cfg, store: st, validator: v, providers: provs, hooks: hooks, guards: guards, observer: observer,
		log: log.With().Str("component", "processor").Logger(), active: make(map[string]int)}
}

// ProviderStates reports each provider's circuit breaker: "closed" (calls
// flow), "open" (its commands wait) or "half-open" (one trial call).
func (p *Processor) ProviderStates() map[string]string {
	out := make(map[string]string, len(p.guards))
	for name, g := range p.guards {
		out[string(name)] = g.state()
	}
	return out
}

// dbTimeout bounds one recording transaction; it is separate from the
// provider call timeout so that a slow provider never cuts a write short.
const dbTimeout = 15 * time.Second

// classify is the provider error class as the processor acts on it: an
// inquiry only reads, so a lost answer to it is simply asked again.
func classify(cmd schemas.Command, err error) providers.Class {
	c := providers.ClassOf(err)
	if c == providers.Unknown && cmd.Kind == schemas.KindInquiry {
		return providers.Retryable
	}
	return c
}
