// Package processor carries out one consumed command exactly once in effect:
// it decodes and validates the message (dead-lettering what cannot be read),
// stores it under its trackId, checks the rules that need stored state,
// records each provider call attempt before sending it, and records the
// outcome together with its result event in one transaction. A command
// whose call may have been applied without a recorded outcome is never sent
// again blindly: it is kept IN_DOUBT for resolution.
package processor

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

// Store is the durable state the processor needs (store.Store in production).
type Store interface {
	Receive(ctx context.Context, cmd schemas.Command, src schemas.SourceMeta, owner string, lease time.Duration, local func(trackID string) bool) (schemas.Receipt, error)
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
	// Simulated names the providers a sandbox (a simulator) answers. Every
	// result of a command for one carries the header SimulatedHeader: true
	// and the CloudEvents source Source + "/sandbox", so a simulated DONE
	// can never pass for a real one. Default: none.
	Simulated map[schemas.Provider]bool
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
	return &Processor{cfg: cfg, store: st, validator: v, providers: provs, hooks: hooks, guards: guards,
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

// activeTrackIDs lists the commands this process is working on.
func (p *Processor) activeTrackIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.active))
	for id := range p.active {
		out = append(out, id)
	}
	return out
}

// errAbandoned is returned when a hook abandoned a command mid-flight.
var errAbandoned = errors.New("command abandoned by test hook")

// Handle processes one consumed message. It returns an error only when the
// message must be handled again later (the database is unreachable, say);
// every bad input is answered and dead-lettered instead, and so is a
// message whose data PostgreSQL refuses (schemas.ErrUnstorable): trying it
// again could never succeed.
func (p *Processor) Handle(ctx context.Context, m kafka.Message) error {
	log := p.log.With().Str("topic", m.Topic).Int("partition", m.Partition).Int64("offset", m.Offset).Logger()
	kind, ok := p.cfg.Topics[m.Topic]
	if !ok {
		return p.reject(ctx, log, m, "", schemas.Kind(""), "", &schemas.InvalidError{Code: schemas.CodeUnknownTopic, Message: "no command kind is configured for topic " + m.Topic})
	}
	if len(m.Value) == 0 {
		return p.reject(ctx, log, m, "", kind, "", &schemas.InvalidError{Code: schemas.CodeEmptyMessage, Message: "message has no value (an empty value or a tombstone)"})
	}
	if size := messageSize(m); size > p.cfg.MaxMessageBytes {
		return p.reject(ctx, log, m, "", kind, "", &schemas.InvalidError{Code: schemas.CodeTooLarge,
			Message: fmt.Sprintf("message is %d bytes, more than the %d allowed", size, p.cfg.MaxMessageBytes)})
	}
	cmd, err := p.validator.DecodeCommand(kind, m.Value)
	if err != nil {
		var ie *schemas.InvalidError
		if !errors.As(err, &ie) {
			return fmt.Errorf("decoding command: %w", err)
		}
		return p.reject(ctx, log, m, ie.TrackID, kind, providerOf(m.Value), ie)
	}
	log = log.With().Str("trackId", cmd.TrackID).Str("type", string(kind)).Str("provider", string(cmd.Provider)).Logger()
	src := schemas.SourceMeta{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Traceparent: traceparent(log, m)}

	release := p.enter(cmd.TrackID)
	defer release()
	rec, err := p.store.Receive(ctx, cmd, src, p.cfg.Owner, p.cfg.Lease, p.isActiveElsewhere(cmd.TrackID))
	if errors.Is(err, schemas.ErrUnstorable) {
		// Nothing was stored: the message does not take its trackId.
		return p.reject(ctx, log, m, cmd.TrackID, kind, cmd.Provider, unstorable(err))
	}
	if err != nil {
		return fmt.Errorf("storing command %s: %w", cmd.TrackID, err)
	}
	switch rec.Status {
	case schemas.ReceiptNew, schemas.ReceiptResumed:
		err = p.execute(ctx, log, cmd, rec.Claim, rec.ReceivedAt, rec.Attempts, src.Traceparent)
	case schemas.ReceiptFinished:
		log.Info().Msg("duplicate of a finished command: stored result queued again")
	case schemas.ReceiptBusy:
		log.Info().Msg("duplicate of a command another worker holds")
	case schemas.ReceiptInDoubt:
		log.Warn().Msg("command is IN_DOUBT: a provider call may have been applied; not sending again")
	case schemas.ReceiptConflict:
		log.Warn().Msg("trackId already used by a different command")
		res := p.result(cmd.TrackID, kind, cmd.Provider, schemas.StatusRejected, nil, &schemas.ErrorInfo{
			Code: schemas.CodeTrackIDConflict, Message: "trackId " + cmd.TrackID + " is already used by a different command; the original is unchanged",
		}, 0, time.Now(), messageEventID(m))
		err = p.store.Enqueue(ctx, []schemas.Outbound{p.refusalMessage(res, src.Traceparent)})
	}
	if errors.Is(err, schemas.ErrUnstorable) {
		// The command is stored and owns its trackId: it is not answered
		// here. Whatever state it was left in is carried on by the sweeper
		// (a call in flight becomes IN_DOUBT after its lease); the message
		// is set aside so that its partition moves on.
		log.Error().Err(err).Msg("PostgreSQL refused data of a stored command; dead-lettering the message, the command stays for the sweeper")
		return p.reject(ctx, log, m, "", kind, "", unstorable(err))
	}
	return err
}

// ProcessClaimed carries on a stored command this instance claimed from a
// dead owner (see Run).
func (p *Processor) ProcessClaimed(ctx context.Context, c schemas.Claimed) error {
	release := p.enter(c.Command.TrackID)
	defer release()
	log := p.log.With().Str("trackId", c.Command.TrackID).Str("type", string(c.Command.Kind)).Logger()
	log.Info().Msg("carrying on a command abandoned by its owner")
	return p.releaseIfDeferred(ctx, c.Command.TrackID, c.Claim, p.execute(ctx, log, c.Command, c.Claim, c.ReceivedAt, c.Attempts, ""))
}

// releaseIfDeferred turns a wait (a provider down, a reference not ready)
// met by work the sweeper started into a released claim: the command stays
// RECEIVED, unclaimed, and is taken over again after the wait.
func (p *Processor) releaseIfDeferred(ctx context.Context, trackID, claim string, err error) error {
	var d interface{ Deferred() time.Duration }
	if !errors.As(err, &d) {
		return err
	}
	return p.store.ReleaseReceivedClaim(ctx, schemas.ReleaseClaimParams{TrackID: trackID, Claim: claim, RetryIn: d.Deferred()})
}

// execute carries out a claimed command that has sent no provider call.
func (p *Processor) execute(ctx context.Context, log zerolog.Logger, cmd schemas.Command, claim string, receivedAt time.Time, attempts int, traceparent string) error {
	finish := func(status schemas.Status, einfo *schemas.ErrorInfo) error {
		res := p.result(cmd.TrackID, cmd.Kind, cmd.Provider, status, nil, einfo, attempts, receivedAt, uuid.NewString())
		err := p.store.Complete(ctx, schemas.Completion{TrackID: cmd.TrackID, Claim: claim, State: schemas.State(status),
			EventID: res.EventID, Result: p.resultMessage(res, traceparent)})
		if errors.Is(err, schemas.ErrNotClaimed) {
			log.Warn().Msg("lost the claim before recording a rejection; the new owner answers")
			return nil
		}
		if err == nil {
			log.Info().Str("status", string(status)).Str("code", einfo.Code).Msg("command answered without a provider call")
		}
		return err
	}
	prov, ok := p.providers[cmd.Provider]
	if !ok {
		return finish(schemas.StatusRejected, &schemas.ErrorInfo{Code: schemas.CodeProviderUnsupported,
			Message: fmt.Sprintf("provider %s is not enabled in this deployment for %s commands", cmd.Provider, cmd.Kind)})
	}
	req := providers.Request{Command: cmd, ProviderTrackID: uuid.NewString()}
	start := schemas.CallStart{TrackID: cmd.TrackID, Claim: claim, ProviderTrackID: req.ProviderTrackID}
	rejection, err := p.applyRules(ctx, log, cmd, &req, &start, receivedAt.Add(p.cfg.UnblockWait))
	if err != nil {
		return err
	}
	if rejection != nil {
		return finish(schemas.StatusRejected, rejection)
	}

	return p.callLoop(ctx, log, prov, cmd, claim, req, start, receivedAt, traceparent, finish)
}

// callLoop makes provider call attempts for a claimed RECEIVED command until
// one has a provable outcome: each attempt is recorded before it is sent; a
// failure that proves nothing was applied is retried (bounded) with a new
// provider trackId; an unknown outcome is resolved by asking the provider,
// and only a confirmed "not applied" allows another attempt.
func (p *Processor) callLoop(ctx context.Context, log zerolog.Logger, prov Provider, cmd schemas.Command, claim string,
	req providers.Request, start schemas.CallStart, receivedAt time.Time, traceparent string,
	finish func(schemas.Status, *schemas.ErrorInfo) error) error {
	g := p.guards[cmd.Provider]
	maxAttempts, retryBudget := p.maxAttempts(cmd.Provider), p.cfg.RetryBudget
	if g.policy.RetryBudget > 0 {
		retryBudget = g.policy.RetryBudget
	}
	budget := time.Now().Add(retryBudget)
	delay := p.cfg.RetryDelay
	attempts := 0 // calls recorded by this loop
	for {
		// A provider that is down makes its commands wait, spending no attempt.
		report, err := g.admit(ctx, cmd.Provider)
		if err != nil {
			return err
		}
		if pr, ok := prov.(Preparer); ok {
			before, err := p.prepare(ctx, pr, req)
			report(err, classify(cmd, err))
			if err != nil {
				// Nothing was sent: a failed read is retried like a call
				// refused before it was applied, within the same bounds.
				if ctx.Err() == nil && time.Now().Add(delay).Before(budget) {
					log.Info().Err(err).Msg("reading the provider's state before the call failed; retrying")
					select {
					case <-ctx.Done():
						return fmt.Errorf("waiting to retry %s: %w", cmd.TrackID, ctx.Err())
					case <-time.After(delay/2 + rand.N(delay/2+1)):
					}
					delay = min(delay*2, p.cfg.RetryDelayMax)
					continue
				}
				noCall := req
				noCall.ProviderTrackID = ""
				return p.recordOutcome(ctx, log, cmd, claim, noCall, attempts, receivedAt, traceparent,
					callOutcome{err: &providers.Error{Provider: cmd.Provider, Class: providers.Retryable, Code: "STATE_UNREADABLE",
						Message: "the provider's state could not be read before the call; nothing was sent", Err: err}})
			}
			start.Before = before
			report, err = g.admit(ctx, cmd.Provider)
			if err != nil {
				return err
			}
		}
		intentAt := time.Now()
		begun, err := p.store.BeginCall(ctx, start, p.cfg.Lease)
		attempt := begun.Attempt
		attempts = attempt
		req.Before = begun.Before
		if err != nil {
			report(errNothingSent, providers.Permanent) // nothing was sent: proves nothing
		}
		switch {
		case errors.Is(err, schemas.ErrHoldTaken) && cmd.Kind == schemas.KindTransfer:
			return finish(schemas.StatusRejected, &schemas.ErrorInfo{Code: schemas.CodeAlreadyTransferred,
				Message: "the hold released by unblock " + cmd.UnblockTrackID + " is taken by another transfer; only one may succeed"})
		case errors.Is(err, schemas.ErrHoldTaken):
			return finish(schemas.StatusRejected, &schemas.ErrorInfo{Code: schemas.CodeAlreadyUnblocked,
				Message: "block " + cmd.BlockTrackID + " is already being released or was released by another unblock"})
		case errors.Is(err, schemas.ErrNotClaimed):
			log.Warn().Msg("lost the claim before calling the provider; not calling")
			return nil
		case err != nil:
			return fmt.Errorf("recording call attempt: %w", err)
		}
		if p.hooks.AfterIntent != nil {
			p.hooks.AfterIntent(cmd.TrackID)
		}
		if reason := p.fence(intentAt); reason != "" {
			report(errNothingSent, providers.Permanent) // nothing was sent: proves nothing
			return p.notSent(ctx, log, cmd, claim, req.ProviderTrackID, reason)
		}

		// The call and the recording of its outcome outlive a shutdown
		// signal: abandoning them halfway is what makes outcomes unknown.
		sentAt := time.Now()
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.CallTimeout)
		log.Debug().Int("attempt", attempt).Msg("calling provider")
		out, callErr := prov.Execute(callCtx, req)
		cancel()
		report(callErr, classify(cmd, callErr))
		if p.hooks.AfterCall != nil {
			if err := p.hooks.AfterCall(cmd.TrackID); err != nil {
				return fmt.Errorf("%w: %w", errAbandoned, err)
			}
		}
		backToReceived, evidence := false, ""
		if callErr != nil && classify(cmd, callErr) == providers.Unknown {
			// Never re-send blindly: record the doubt, then ask the provider.
			// The call may still land until its client gave up plus a margin.
			req.CannotLandAfter = sentAt.Add(p.cfg.CallTimeout + p.cfg.LandingMargin)
			res, next, err := p.doubt(ctx, log, prov, cmd, claim, req, attempt, callErr)
			if err != nil {
				return err
			}
			switch next {
			case stepWait:
				return nil
			case stepDone:
				out, callErr, evidence = res.Result, nil, res.Evidence
			case stepNotResent:
				// Money left the account, or not: the answer was lost and the
				// provider's "not applied" is not the call's own refusal.
				// Never re-sent; the upstream decides after checking.
				callErr = notResent(req.ProviderTrackID, res.Evidence, callErr)
			case stepResend:
				backToReceived = true
				callErr = confirmedNotApplied(cmd, res.Evidence, callErr)
			case stepExhausted:
				callErr = confirmedNotApplied(cmd, res.Evidence, callErr)
			}
		}
		recordCtx, cancelRecord := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
		// A call settled "send again" is sent again whatever the retry
		// budget: it is recorded not applied (or superseded) already, and
		// afterVerdict bounded it by the attempts.
		retry := backToReceived || callErr != nil && classify(cmd, callErr) == providers.Retryable && ctx.Err() == nil &&
			attempt < maxAttempts && time.Now().Add(delay).Before(budget)
		if !retry {
			err := p.recordOutcome(recordCtx, log, cmd, claim, req, attempt, receivedAt, traceparent, callOutcome{out, callErr, evidence})
			cancelRecord()
			return err
		}
		var notAppliedCode string
		var notAppliedStatus int
		if !backToReceived {
			var pe *providers.Error
			errors.As(callErr, &pe)
			code, status := "", 0
			if pe != nil {
				code, status = pe.Code, pe.HTTPStatus
			}
			notAppliedCode, notAppliedStatus = code, status
			err = p.store.RecordAttemptNotApplied(recordCtx, schemas.RecordAttemptNotAppliedParams{TrackID: cmd.TrackID, Claim: claim,
				ProviderTrackID: req.ProviderTrackID, ErrorCode: code, HTTPStatus: status})
		}
		if errors.Is(err, schemas.ErrNotClaimed) && !backToReceived {
			err = p.lateAnswer(recordCtx, log, schemas.LateAnswer{TrackID: cmd.TrackID, ProviderTrackID: req.ProviderTrackID,
				State: schemas.CallFailed, ErrorCode: notAppliedCode, HTTPStatus: notAppliedStatus, Evidence: "the call's own answer"})
			cancelRecord()
			return err
		}
		cancelRecord()
		if errors.Is(err, schemas.ErrNotClaimed) {
			log.Warn().Msg("lost the claim after a failed attempt; the new owner carries on")
			return nil
		}
		if err != nil {
			return fmt.Errorf("recording failed attempt: %w", err)
		}
		wait := delay/2 + rand.N(delay/2+1)
		log.Info().Err(callErr).Int("attempt", attempt).Dur("retryIn", wait).Msg("provider call failed and was not applied; retrying")
		select {
		case <-ctx.Done():
			// The command stays RECEIVED and claimed; it is carried on by
			// a redelivery or, after the lease, by any instance.
			return fmt.Errorf("waiting to retry %s: %w", cmd.TrackID, ctx.Err())
		case <-time.After(wait):
		}
		delay = min(delay*2, p.cfg.RetryDelayMax)
		req.ProviderTrackID = uuid.NewString() // Finnotech never replays a trackId
		start.ProviderTrackID = req.ProviderTrackID
	}
}

// prepare reads the provider's state before a call, bounded by the call
// timeout.
func (p *Processor) prepare(ctx context.Context, pr Preparer, req providers.Request) (json.RawMessage, error) {
	rctx, cancel := context.WithTimeout(ctx, p.cfg.CallTimeout)
	defer cancel()
	before, err := pr.Prepare(rctx, req)
	if err != nil {
		return nil, fmt.Errorf("reading the provider's state before the call: %w", err)
	}
	return before, nil
}

// dbTimeout bounds one recording transaction; it is separate from the
// provider call timeout so that a slow provider never cuts a write short.
const dbTimeout = 15 * time.Second

// doubt handles a call of unknown outcome: it records the command IN_DOUBT,
// asks the provider (bounded by ResolveInline) and lets afterVerdict decide.
// A call to be sent again is recorded not applied (or superseded) and the
// command goes back to RECEIVED; an unproven one is left IN_DOUBT for the
// sweeper to ask again (stepWait). It returns the verdict and the step.
func (p *Processor) doubt(ctx context.Context, log zerolog.Logger, prov Provider, cmd schemas.Command, claim string, req providers.Request,
	attempt int, callErr error) (providers.Resolution, step, error) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
	defer cancel()
	if err := p.store.MarkInDoubt(wctx, schemas.MarkInDoubtParams{TrackID: cmd.TrackID, Claim: claim, Reason: schemas.BoundReason("call outcome unknown: " + callErr.Error())}); err != nil {
		if errors.Is(err, schemas.ErrNotClaimed) {
			// Another worker took the command over and settles the call.
			log.Warn().Err(callErr).Msg("lost the claim; the call's outcome is unknown and the new owner resolves it")
			return providers.Resolution{}, stepWait, nil
		}
		return providers.Resolution{}, stepWait, fmt.Errorf("marking %s in doubt: %w", cmd.TrackID, err)
	}
	log.Warn().Err(callErr).Msg("provider call outcome unknown; asking the provider")
	res := p.resolve(ctx, log, prov, req, p.cfg.ResolveInline)
	next := p.afterVerdict(cmd, res, false, attempt)
	wctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
	defer cancel()
	switch next {
	case stepResend, stepExhausted:
		if err := p.store.RecordInDoubtNotApplied(wctx, schemas.RecordInDoubtNotAppliedParams{TrackID: cmd.TrackID, Claim: claim,
			ProviderTrackID: req.ProviderTrackID, Evidence: res.Evidence, Superseded: res.Verdict == providers.SafeToRepeat}); err != nil {
			if errors.Is(err, schemas.ErrNotClaimed) {
				return res, stepWait, p.lateAnswer(wctx, log, schemas.LateAnswer{TrackID: cmd.TrackID,
					ProviderTrackID: req.ProviderTrackID, State: schemas.CallFailed, Evidence: res.Evidence})
			}
			return res, stepWait, fmt.Errorf("recording confirmed failure of %s: %w", cmd.TrackID, err)
		}
	case stepWait:
		if err := p.store.ReleaseInDoubtClaim(wctx, schemas.ReleaseClaimParams{TrackID: cmd.TrackID, Claim: claim, RetryIn: p.cfg.ResolveRetry}); err != nil {
			return res, stepWait, err
		}
		log.Warn().Str("evidence", res.Evidence).Msg("provider could not say yet what happened; command stays IN_DOUBT and is asked about again")
	}
	return res, next, nil
}

// callOutcome is what became of a provider call: its normalised answer, or
// the error it failed with, and what that rests on when it was not the
// call's own answer (a Resolution's Evidence).
type callOutcome struct {
	out      json.RawMessage
	err      error
	evidence string
}

// recordOutcome records the terminal outcome of a claimed command's call,
// or marks the command IN_DOUBT when the outcome is unknown. An outcome
// that can no longer be recorded because the claim was lost is kept against
// the call as a late answer.
func (p *Processor) recordOutcome(ctx context.Context, log zerolog.Logger, cmd schemas.Command, claim string, req providers.Request,
	attempts int, receivedAt time.Time, traceparent string, o callOutcome) error {
	out, callErr := o.out, o.err
	c := schemas.Completion{TrackID: cmd.TrackID, Claim: claim, ProviderTrackID: req.ProviderTrackID}
	var res schemas.Result
	if callErr == nil {
		res = p.result(cmd.TrackID, cmd.Kind, cmd.Provider, schemas.StatusDone, out, nil, attempts, receivedAt, uuid.NewString())
		c.State, c.CallState, c.CallAnswer, c.CallEvidence = schemas.StateDone, schemas.CallDone, out, o.evidence
		if err := ledgerEffects(&c, cmd, req, out); err != nil {
			// The provider applied the call, but not as the command asked
			// (another amount, say). That is known, not in doubt: the
			// command ends FAILED for an operator, the call is recorded
			// applied with the provider's own answer, and the ledger is left
			// as it was (a reservation stays), so nothing acts on it.
			log.Error().Err(err).Msg("the provider applied the call but its answer does not match the command")
			c = schemas.Completion{TrackID: cmd.TrackID, Claim: claim, ProviderTrackID: req.ProviderTrackID, State: schemas.StateFailed,
				CallState: schemas.CallDone, CallAnswer: out, CallEvidence: o.evidence, NeedsReconciliation: true}
			res = p.result(cmd.TrackID, cmd.Kind, cmd.Provider, schemas.StatusFailed, nil, &schemas.ErrorInfo{
				Code: schemas.CodeAnswerMismatch, NeedsReconciliation: true,
				Message: "the provider applied the call but its answer does not match the command: " + err.Error() + "; an operator must reconcile it",
			}, attempts, receivedAt, uuid.NewString())
		}
		if size := p.resultMessage(res, traceparent).Size(); res.Status == schemas.StatusDone && size > p.cfg.MaxMessageBytes {
			// A result that large would be refused by the broker and stop
			// the relay. The answer is kept with the call; the command ends
			// FAILED, and one that changed something is left to an operator,
			// exactly as an answer that does not match the command.
			reconcile := cmd.Kind != schemas.KindInquiry
			log.Error().Int("bytes", size).Msg("the provider's answer makes a result larger than may be published")
			c = schemas.Completion{TrackID: cmd.TrackID, Claim: claim, ProviderTrackID: req.ProviderTrackID, State: schemas.StateFailed,
				CallState: schemas.CallDone, CallAnswer: out, CallEvidence: o.evidence, NeedsReconciliation: reconcile}
			tail := "the inquiry changed nothing"
			if reconcile {
				tail = "the call was applied: reconcile it"
			}
			res = p.result(cmd.TrackID, cmd.Kind, cmd.Provider, schemas.StatusFailed, nil, &schemas.ErrorInfo{
				Code: schemas.CodeResultTooLarge, NeedsReconciliation: reconcile,
				Message: fmt.Sprintf("the provider's answer makes a %d-byte result, over the %d-byte limit; %s", size, p.cfg.MaxMessageBytes, tail),
			}, attempts, receivedAt, uuid.NewString())
		}
	} else {
		var pe *providers.Error
		errors.As(callErr, &pe)
		einfo := &schemas.ErrorInfo{Message: callErr.Error()}
		if pe != nil {
			einfo.ProviderCode, einfo.HTTPStatus, einfo.Message = pe.Code, pe.HTTPStatus, pe.Message
			if einfo.Message == "" {
				einfo.Message = pe.Error()
			}
		}
		var nr *notResentError
		switch {
		case errors.As(callErr, &nr):
			einfo.Code, einfo.Message, einfo.ProviderCode, einfo.HTTPStatus = schemas.CodeTransferNotApplied, nr.Error(), "", 0
			c.CallEvidence = nr.evidence
		case classify(cmd, callErr) == providers.Permanent:
			einfo.Code = schemas.CodeProviderRejected
		case classify(cmd, callErr) == providers.Retryable:
			einfo.Code, einfo.Retryable = schemas.CodeProviderUnavailable, true
		default:
			log.Warn().Err(callErr).Msg("provider call outcome unknown")
			return p.markInDoubt(ctx, log, cmd.TrackID, claim, "call outcome unknown: "+callErr.Error())
		}
		res = p.result(cmd.TrackID, cmd.Kind, cmd.Provider, schemas.StatusFailed, nil, einfo, attempts, receivedAt, uuid.NewString())
		c.State, c.CallState, c.ErrorCode, c.HTTPStatus = schemas.StateFailed, schemas.CallFailed, einfo.ProviderCode, einfo.HTTPStatus
		if req.Block != nil {
			c.UnreserveHold = req.Block.TrackID
		}
		if cmd.Kind == schemas.KindTransfer && req.Hold != nil {
			c.UnreserveTransfer = cmd.UnblockTrackID
		}
	}
	c.EventID, c.Result = res.EventID, p.resultMessage(res, traceparent)
	if c.NeedsReconciliation && res.Error != nil {
		c.ReconcileReason = schemas.BoundReason(res.Error.Code + ": " + res.Error.Message)
	}
	err := p.store.Complete(ctx, c)
	if errors.Is(err, schemas.ErrNotClaimed) && c.ProviderTrackID != "" {
		// The answer is still a fact about the call: keep it, and flag the
		// command if it contradicts what the new owner recorded.
		return p.lateAnswer(ctx, log, schemas.LateAnswer{TrackID: cmd.TrackID, ProviderTrackID: c.ProviderTrackID,
			State: c.CallState, Answer: c.CallAnswer, ErrorCode: c.ErrorCode, HTTPStatus: c.HTTPStatus,
			Evidence: cmp.Or(c.CallEvidence, "the call's own answer")})
	}
	if errors.Is(err, schemas.ErrNotClaimed) {
		log.Warn().Msg("lost the claim before recording the outcome; another worker settles it")
		return nil
	}
	if err != nil {
		// The call was made and its answer is known only to this process:
		// if this cannot be recorded the command becomes IN_DOUBT on recovery.
		return fmt.Errorf("recording outcome of %s: %w", cmd.TrackID, err)
	}
	log.Info().Str("status", string(res.Status)).Int("attempts", attempts).Msg("command finished")
	return nil
}

func (p *Processor) markInDoubt(ctx context.Context, log zerolog.Logger, trackID, claim, reason string) error {
	err := p.store.MarkInDoubt(ctx, schemas.MarkInDoubtParams{TrackID: trackID, Claim: claim, Reason: schemas.BoundReason(reason)})
	if errors.Is(err, schemas.ErrNotClaimed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("marking %s in doubt: %w", trackID, err)
	}
	log.Warn().Str("reason", reason).Msg("command IN_DOUBT: kept for resolution, never re-sent blindly")
	return nil
}

// ledgerEffects fills in what a successful call changes in the holds ledger.
func ledgerEffects(c *schemas.Completion, cmd schemas.Command, req providers.Request, out json.RawMessage) error {
	if cmd.Provider != schemas.ProviderFinnotech {
		return nil
	}
	switch cmd.Kind {
	case schemas.KindBlock:
		var r schemas.FinnotechBlockResult
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("decoding block result: %w", err)
		}
		if r.Amount != cmd.Amount {
			return fmt.Errorf("provider blocked %d rials, the command asked for %d", r.Amount, cmd.Amount)
		}
		c.CreateHold = &schemas.BlockRef{TrackID: cmd.TrackID, Provider: cmd.Provider, ClientID: cmd.ClientID,
			Amount: r.Amount, Description: cmd.Description, Days: cmd.Days, Deposit: r.Deposit, BlockDate: r.BlockDate,
			ProviderTrackID: req.ProviderTrackID}
	case schemas.KindUnblock:
		var r schemas.FinnotechUnblockResult
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("decoding unblock result: %w", err)
		}
		c.ReleaseHold, c.UnblockDate = req.Block.TrackID, r.UnblockDate
	case schemas.KindTransfer:
		var r schemas.FinnotechTransferResult
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("decoding transfer result: %w", err)
		}
		c.TransferDone, c.TransferAmount, c.TransferDestination, c.TransferDate = cmd.UnblockTrackID, r.Amount, r.Destination, r.TransferDate
	}
	return nil
}

// classify is the provider error class as the processor acts on it: an
// inquiry only reads, so a lost answer to it is simply asked again.
func classify(cmd schemas.Command, err error) providers.Class {
	c := providers.ClassOf(err)
	if c == providers.Unknown && cmd.Kind == schemas.KindInquiry {
		return providers.Retryable
	}
	return c
}

func (p *Processor) result(trackID string, kind schemas.Kind, provider schemas.Provider, status schemas.Status, out json.RawMessage, einfo *schemas.ErrorInfo, attempts int, receivedAt time.Time, eventID string) schemas.Result {
	return schemas.Result{EventID: eventID, TrackID: trackID, Type: kind, Provider: provider, Status: status,
		Result: out, Error: einfo, Attempts: attempts, ReceivedAt: receivedAt.UTC(), CompletedAt: time.Now().UTC()}
}

// providerOf reads the provider of an invalid command for its result,
// when it is one blockd knows.
func providerOf(raw []byte) schemas.Provider {
	var v struct {
		Provider schemas.Provider `json:"provider"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	switch v.Provider {
	case schemas.ProviderFinnotech, schemas.ProviderArhivaar, schemas.ProviderCard:
		return v.Provider
	}
	return ""
}

// enter marks a trackId as worked on in this process until release is called.
func (p *Processor) enter(trackID string) (release func()) {
	p.mu.Lock()
	p.active[trackID]++
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		if p.active[trackID]--; p.active[trackID] <= 0 {
			delete(p.active, trackID)
		}
		p.mu.Unlock()
	}
}

// isActiveElsewhere reports whether another goroutine of this process (not
// the caller, which has entered once) is working on a trackId.
func (p *Processor) isActiveElsewhere(self string) func(string) bool {
	return func(trackID string) bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		n := p.active[trackID]
		if trackID == self {
			n--
		}
		return n > 0
	}
}

// sweep takes over commands abandoned by dead owners and claims IN_DOUBT
// commands nobody is resolving, and works on them in the background.
func (p *Processor) sweep(ctx context.Context, wg *sync.WaitGroup) {
	claimed, inDoubt, err := p.store.TakeOverAbandoned(ctx, p.cfg.Owner, p.cfg.Lease, 100)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Error().Err(err).Msg("looking for abandoned commands")
		}
		return
	}
	if inDoubt > 0 {
		p.log.Warn().Int("count", inDoubt).Msg("commands left mid-call by a dead owner are IN_DOUBT")
	}
	for _, c := range claimed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.ProcessClaimed(ctx, c); err != nil && ctx.Err() == nil {
				p.log.Error().Err(err).Str("trackId", c.Command.TrackID).Msg("carrying on abandoned command")
			}
		}()
	}
	doubts, err := p.store.ClaimInDoubt(ctx, p.cfg.Owner, p.cfg.Lease, 100)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Error().Err(err).Msg("claiming in-doubt commands")
		}
		return
	}
	for _, c := range doubts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.resolveClaimed(ctx, c); err != nil && ctx.Err() == nil {
				p.log.Error().Err(err).Str("trackId", c.Command.TrackID).Msg("resolving in-doubt command")
			}
		}()
	}
}

// Run renews the leases of this instance's unfinished commands, takes over
// commands abandoned by dead owners and resolves IN_DOUBT commands, until
// ctx ends.
func (p *Processor) Run(ctx context.Context) error {
	renew := time.NewTicker(p.cfg.Lease / 3)
	defer renew.Stop()
	sweep := time.NewTicker(p.cfg.SweepInterval)
	defer sweep.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-renew.C:
			if _, err := p.store.RenewLeases(ctx, p.cfg.Owner, p.cfg.Lease, p.activeTrackIDs()); err != nil && ctx.Err() == nil {
				p.log.Error().Err(err).Msg("renewing leases")
			}
		case <-sweep.C:
			p.sweep(ctx, &wg)
		}
	}
}
