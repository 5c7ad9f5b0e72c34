package processor_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/providers/providerhttp"
	"github.com/blockd/blockd/schemas"
)

// TestCommandSpanContinuesTheUpstreamTrace: with a Tracer, a command is one
// span that continues the upstream's traceparent, with a child span per
// stage and the provider's HTTP call a child of its attempt; the result's
// traceparent points at blockd's span, in the upstream's trace.
func TestCommandSpanContinuesTheUpstreamTrace(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })

	e := newEnv(t, processor.Config{}, "")
	fin := httptest.NewServer(finnotechfake.New(finnotechfake.Config{}))
	t.Cleanup(fin.Close)
	client, err := providerhttp.New(providerhttp.Config{TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	e.provs[schemas.ProviderFinnotech] = finnotech.NewAdapter(finnotech.NewClient(finnotech.ClientConfig{BaseURL: fin.URL, HTTPClient: client,
		Tokens: finnotechfake.StaticToken("processor-test")}))
	e.proc = e.newProcessor(processor.Config{Tracer: tp.Tracer("test")}, processor.Hooks{})

	const upstream = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	if err := e.handleMessage(kafka.Message{Key: []byte("k"), Value: []byte(`{"trackId":"tr-1","provider":"finnotech","clientId":"app-1","amount":1500000,"description":"court order","days":30}`),
		Headers: []kafka.Header{{Key: "traceparent", Value: []byte(upstream)}}}); err != nil {
		t.Fatal(err)
	}
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans.GetSpans() {
		byName[s.Name] = s
	}
	cmd, ok := byName["blockd block"]
	if !ok {
		t.Fatalf("no command span among %v", names(spans.GetSpans()))
	}
	if cmd.SpanContext.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" || cmd.Parent.SpanID().String() != "b7ad6b7169203331" {
		t.Errorf("command span in trace %s under %s; want the upstream's trace and span", cmd.SpanContext.TraceID(), cmd.Parent.SpanID())
	}
	if cmd.SpanKind != trace.SpanKindConsumer {
		t.Errorf("command span kind %s, want consumer", cmd.SpanKind)
	}
	for _, stage := range []string{"receive", "rules", "call finnotech", "settle"} {
		s, ok := byName[stage]
		if !ok {
			t.Errorf("no %q span among %v", stage, names(spans.GetSpans()))
			continue
		}
		if s.Parent.SpanID() != cmd.SpanContext.SpanID() {
			t.Errorf("%q span's parent is %s, want the command's span %s", stage, s.Parent.SpanID(), cmd.SpanContext.SpanID())
		}
	}
	var httpSpan *tracetest.SpanStub
	for _, s := range spans.GetSpans() {
		if s.SpanKind == trace.SpanKindClient {
			httpSpan = &s
		}
	}
	if httpSpan == nil || httpSpan.Parent.SpanID() != byName["call finnotech"].SpanContext.SpanID() {
		t.Errorf("the provider's HTTP call is not a client span under its attempt's span: %+v", httpSpan)
	}
	answers := e.answersFor("tr-1")
	if len(answers) != 1 {
		t.Fatalf("%d results, want 1", len(answers))
	}
	want := "00-0af7651916cd43dd8448eb211c80319c-" + cmd.SpanContext.SpanID().String() + "-01"
	if got := answers[0].Headers["traceparent"]; got != want {
		t.Errorf("result traceparent %q, want %q: blockd's span in the upstream's trace", got, want)
	}
}

func names(spans tracetest.SpanStubs) string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return strings.Join(out, ", ")
}
