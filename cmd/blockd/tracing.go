package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/blockd/blockd/cmd/blockd/redact"
)

// tracing is blockd's OpenTelemetry tracing: off unless the standard
// OTEL_* variables ask for OTLP (config.Tracing). The OTLP exporter (HTTP
// and protobuf) takes its endpoint, headers, TLS and timeout from the
// standard OTEL_EXPORTER_OTLP_* variables itself, the resource from
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, the sampler from
// OTEL_TRACES_SAMPLER; every span goes through the same redaction as the
// logs before it leaves (redactingExporter).
type tracing struct {
	provider *sdktrace.TracerProvider // nil: off
}

func newTracing(ctx context.Context, cfg config) (tracing, error) {
	if !cfg.Tracing {
		return tracing{}, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return tracing{}, fmt.Errorf("starting the OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", "blockd")), resource.WithFromEnv())
	if err != nil {
		return tracing{}, fmt.Errorf("reading the trace resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES): %w", err)
	}
	return tracing{provider: sdktrace.NewTracerProvider(sdktrace.WithBatcher(redactingExporter{next: exp}), sdktrace.WithResource(res))}, nil
}

// tracerProvider is the provider for instrumented clients; nil when off.
func (t tracing) tracerProvider() trace.TracerProvider {
	if t.provider == nil {
		return nil
	}
	return t.provider
}

// tracer is the processor's tracer; nil when off.
func (t tracing) tracer() trace.Tracer {
	if t.provider == nil {
		return nil
	}
	return t.provider.Tracer("github.com/blockd/blockd")
}

// shutdown sends the spans still buffered, within a few seconds.
func (t tracing) shutdown(log zerolog.Logger) {
	if t.provider == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.provider.Shutdown(ctx); err != nil {
		log.Warn().Err(err).Msg("flushing traces at shutdown")
	}
}

// redactingExporter passes spans on with every text a span carries (its
// name, string attributes, events' names and attributes, status
// description) through the redaction the logs use: a provider call's span
// holds its URL, and a card platform's URL holds the account number.
type redactingExporter struct {
	next sdktrace.SpanExporter
}

func (e redactingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, s := range spans {
		stub := tracetest.SpanStubFromReadOnlySpan(s)
		stub.Name = redact.String(stub.Name)
		stub.Attributes = redactAttributes(stub.Attributes)
		stub.Status.Description = redact.String(stub.Status.Description)
		for j := range stub.Events {
			stub.Events[j].Name = redact.String(stub.Events[j].Name)
			stub.Events[j].Attributes = redactAttributes(stub.Events[j].Attributes)
		}
		out[i] = stub.Snapshot()
	}
	return e.next.ExportSpans(ctx, out)
}

func (e redactingExporter) Shutdown(ctx context.Context) error { return e.next.Shutdown(ctx) }

func redactAttributes(attrs []attribute.KeyValue) []attribute.KeyValue {
	out := make([]attribute.KeyValue, len(attrs))
	for i, a := range attrs {
		out[i] = a
		if a.Value.Type() == attribute.STRING {
			out[i] = attribute.String(string(a.Key), redact.String(a.Value.AsString()))
		}
	}
	return out
}
