package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

// claimedCommand is the hand-off from receive (and from the sweeper and the
// resolver) to the rules and call stages: a stored command this worker
// holds, and what its result repeats.
type claimedCommand struct {
	cmd schemas.Command
	// claim is the token that proves this worker holds the command; every
	// write about it is made under it.
	claim string
	// receivedAt is when the command was first stored.
	receivedAt time.Time
	// attempts counts the provider calls recorded for the command before
	// this worker took it.
	attempts int
	// traceparent is passed through to the command's result ("" if none).
	traceparent string
}

// Handle processes one consumed message. It returns an error only when the
// message must be handled again later (the database is unreachable, say);
// every bad input is answered and dead-lettered instead, and so is a
// message whose data PostgreSQL refuses (schemas.ErrUnstorable): trying it
// again could never succeed.
func (p *Processor) Handle(ctx context.Context, m kafka.Message) (err error) {
	kind, known := p.cfg.Topics[m.Topic]
	var provider schemas.Provider // once the message names one blockd knows
	defer func() {
		if err == nil {
			p.observer.Received(kind, provider)
		}
	}()
	log := p.log.With().Str("topic", m.Topic).Int("partition", m.Partition).Int64("offset", m.Offset).Logger()
	if !known {
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
		provider = providerOf(m.Value)
		return p.reject(ctx, log, m, ie.TrackID, kind, provider, ie)
	}
	provider = cmd.Provider
	log = log.With().Str("trackId", cmd.TrackID).Str("type", string(kind)).Str("provider", string(cmd.Provider)).Logger()
	src := schemas.SourceMeta{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Traceparent: traceparent(log, m)}
	ctx, span, tp := p.startCommandSpan(ctx, m, cmd, src.Traceparent)
	defer span.End()
	src.Traceparent = tp

	release := p.enter(cmd.TrackID)
	defer release()
	rctx, rspan := p.startStage(ctx, "receive")
	rec, first, err := p.receive(rctx, cmd, src)
	endStage(rspan, err)
	if errors.Is(err, schemas.ErrUnstorable) {
		// Nothing was stored: the message does not take its trackId.
		return p.reject(ctx, log, m, cmd.TrackID, kind, cmd.Provider, unstorable(err))
	}
	if err != nil {
		return fmt.Errorf("storing command %s: %w", cmd.TrackID, err)
	}
	switch rec.Status {
	case schemas.ReceiptNew, schemas.ReceiptResumed:
		err = p.execute(ctx, log, claimedCommand{cmd: cmd, claim: rec.Claim, receivedAt: rec.ReceivedAt, attempts: rec.Attempts, traceparent: src.Traceparent}, first)
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
		if err = p.store.Enqueue(ctx, []schemas.Outbound{p.refusalMessage(res, src.Traceparent)}); err == nil {
			p.finished(res)
		}
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

// receive stores the command. One whose first call needs nothing read
// first (callsAtOnce) is stored with that call's intent, in the same
// transaction, when the provider's guard admits a call now: the step a
// separate BeginCall would commit is saved. The intent is recorded only if
// the command is new; first is nil otherwise, and the guard is told
// nothing was sent.
func (p *Processor) receive(ctx context.Context, cmd schemas.Command, src schemas.SourceMeta) (schemas.Receipt, *firstIntent, error) {
	local := p.isActiveElsewhere(cmd.TrackID)
	if !p.callsAtOnce(cmd) {
		rec, err := p.store.Receive(ctx, cmd, src, p.cfg.Owner, p.cfg.Lease, local)
		return rec, nil, err
	}
	if w, ok := p.providers[cmd.Provider].(Warmer); ok {
		wctx, cancel := context.WithTimeout(ctx, p.cfg.CallTimeout)
		err := w.Warm(wctx, cmd)
		cancel()
		if err != nil {
			// Not ready to send: store the command alone; the call stage
			// meets the same trouble as usual.
			rec, err := p.store.Receive(ctx, cmd, src, p.cfg.Owner, p.cfg.Lease, local)
			return rec, nil, err
		}
	}
	report, err := p.guards[cmd.Provider].admit(ctx, cmd.Provider)
	if err != nil {
		// The provider is down or the wait was cut short: store the command
		// alone; the call stage waits for the provider as usual.
		rec, err := p.store.Receive(ctx, cmd, src, p.cfg.Owner, p.cfg.Lease, local)
		return rec, nil, err
	}
	first := &firstIntent{providerTrackID: uuid.NewString(), report: report, intentAt: time.Now()}
	rec, err := p.store.ReceiveAndBegin(ctx, cmd, src, p.cfg.Owner, p.cfg.Lease, local, first.providerTrackID)
	if err != nil || !rec.FirstCall {
		report(errNothingSent, providers.Permanent) // nothing was sent: proves nothing
		return rec, nil, err
	}
	return rec, first, nil
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
