package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestTracesAreRedactedAsLogsAre: a provider call's span carries its URL,
// and the card platform's URL carries the account number; what leaves
// blockd in a trace goes through the logs' redaction.
func TestTracesAreRedactedAsLogsAre(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(redactingExporter{next: spans}))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	const account, iban = "0479000010000000131", "IR820540102680020817909002"
	_, span := tp.Tracer("test").Start(context.Background(), "PUT /v1/accounts/"+account)
	span.SetAttributes(attribute.String("url.full", "https://card.example/v1/accounts/"+account+"/blockUnblock"),
		attribute.String("blockd.track_id", "blk-1"), attribute.Int("http.response.status_code", 200))
	span.AddEvent("answer", trace.WithAttributes(attribute.String("destination", iban)))
	span.End()
	got := spans.GetSpans()
	if len(got) != 1 {
		t.Fatalf("%d spans exported, want 1", len(got))
	}
	var text strings.Builder
	text.WriteString(got[0].Name)
	for _, a := range got[0].Attributes {
		text.WriteString(" " + a.Value.String())
	}
	for _, ev := range got[0].Events {
		for _, a := range ev.Attributes {
			text.WriteString(" " + a.Value.String())
		}
	}
	for _, secret := range []string{account, iban} {
		if strings.Contains(text.String(), secret) {
			t.Errorf("an exported span carries %s: %s", secret, text.String())
		}
	}
	if !strings.Contains(text.String(), "blk-1") || !strings.Contains(text.String(), "200") {
		t.Errorf("redaction removed what it should keep: %s", text.String())
	}
}

// TestTracingIsOffUnlessOTLPIsAskedFor: the standard variables switch it.
func TestTracingIsOffUnlessOTLPIsAskedFor(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		on, bad bool
	}{
		{env: map[string]string{}, on: false},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, on: false},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, on: true},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, on: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, on: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, bad: true},
		{env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, bad: true},
	} {
		cfg, err := loadConfig(func(k string) string { return tc.env[k] }, os.ReadFile)
		switch {
		case tc.bad && err == nil:
			t.Errorf("%v: accepted, want a configuration error", tc.env)
		case !tc.bad && err != nil:
			t.Errorf("%v: %v", tc.env, err)
		case !tc.bad && cfg.Tracing != tc.on:
			t.Errorf("%v: tracing %v, want %v", tc.env, cfg.Tracing, tc.on)
		}
	}
}
