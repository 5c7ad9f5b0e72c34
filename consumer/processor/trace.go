package processor

import (
	"context"

	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/schemas"
)

// Tracing (OpenTelemetry): each handled command message is one span
// ("blockd <kind>", a consumer span) that continues the upstream's
// traceparent header, with a child span per stage (receive, rules, each
// call attempt, settle); the provider's HTTP call is a child of its
// attempt when the provider's client is instrumented (providerhttp). A
// result published for the command carries a traceparent that points at
// blockd's span, so a reader of the result continues blockd's trace. With
// no Config.Tracer nothing is recorded and the upstream's traceparent is
// passed through unchanged, as before.
//
// Spans carry the command's kind, provider, topic, partition and offset,
// and its trackId (an identifier the upstream chose, not personal data);
// never an account, deposit, IBAN or national id.

// startCommandSpan starts the span of a command message. upstream is the
// message's valid traceparent ("" if none). It returns the context to work
// in, the span, and the traceparent the command's results carry.
func (p *Processor) startCommandSpan(ctx context.Context, m kafka.Message, cmd schemas.Command, upstream string) (context.Context, trace.Span, string) {
	if p.cfg.Tracer == nil {
		return ctx, trace.SpanFromContext(ctx), upstream
	}
	if upstream != "" {
		ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": upstream})
	}
	ctx, span := p.cfg.Tracer.Start(ctx, "blockd "+string(cmd.Kind), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.destination.name", m.Topic),
			attribute.Int("messaging.destination.partition.id", m.Partition),
			attribute.Int64("messaging.kafka.offset", m.Offset),
			attribute.String("blockd.track_id", cmd.TrackID),
			attribute.String("blockd.kind", string(cmd.Kind)),
			attribute.String("blockd.provider", string(cmd.Provider)),
		))
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	if tp := carrier["traceparent"]; tp != "" {
		return ctx, span, tp
	}
	return ctx, span, upstream
}

// startStage starts the span of one stage of a command (a child of the
// command's span in ctx); a no-op span without a Tracer.
func (p *Processor) startStage(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if p.cfg.Tracer == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	return p.cfg.Tracer.Start(ctx, name, trace.WithAttributes(attrs...))
}

// endStage ends a stage's span, marking it failed with err's class (never
// its text: a provider's message may quote an account).
func endStage(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.SetStatus(codes.Error, "")
		span.SetAttributes(attribute.String("blockd.error_type", errorType(err)))
	}
	span.End()
}

// errorType names what kind of failure err is, from a closed set: the
// provider error class (permanent, retryable, unknown).
func errorType(err error) string {
	return providers.ClassOf(err).String()
}
