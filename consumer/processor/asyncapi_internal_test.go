package processor

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/schemas"
)

// asyncAPIPath is the AsyncAPI document of the message contract, relative
// to this package; asyncAPIURL is where a test's compiler holds it.
const (
	asyncAPIPath = "../../schemas/asyncapi.json"
	asyncAPIURL  = "file:///blockd/schemas/asyncapi.json"
)

// asyncAPIDoc reads the AsyncAPI document and compiles the schemas in it
// (AsyncAPI Schema Objects: JSON Schema draft 07) by JSON pointer.
type asyncAPIDoc struct {
	doc map[string]any
	c   *jsonschema.Compiler
}

func readAsyncAPIDoc(t *testing.T) *asyncAPIDoc {
	t.Helper()
	raw, err := os.ReadFile(asyncAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	if err := c.AddResource(asyncAPIURL, doc); err != nil {
		t.Fatal(err)
	}
	return &asyncAPIDoc{doc: doc.(map[string]any), c: c}
}

// at is the part of the document at the path of members.
func (d *asyncAPIDoc) at(t *testing.T, path ...string) map[string]any {
	t.Helper()
	cur := d.doc
	for _, p := range path {
		next, ok := cur[p].(map[string]any)
		if !ok {
			t.Fatalf("the AsyncAPI document has no object at %v", path)
		}
		cur = next
	}
	return cur
}

// headerNames are the headers the document lists for message msg, resolving
// a headers object that is a $ref to #/components/schemas/<name>.
func (d *asyncAPIDoc) headerNames(t *testing.T, msg string) []string {
	t.Helper()
	h := d.at(t, "components", "messages", msg, "headers")
	if ref, ok := h["$ref"].(string); ok {
		const prefix = "#/components/schemas/"
		if len(ref) <= len(prefix) || ref[:len(prefix)] != prefix {
			t.Fatalf("%s: headers refer to %s, not to %s<name>", msg, ref, prefix)
		}
		h = d.at(t, "components", "schemas", ref[len(prefix):])
	}
	props, _ := h["properties"].(map[string]any)
	return slices.Sorted(maps.Keys(props))
}

// validate checks v against the schema at the JSON pointer ptr.
func (d *asyncAPIDoc) validate(t *testing.T, ptr string, v any) error {
	t.Helper()
	s, err := d.c.Compile(asyncAPIURL + "#" + ptr)
	if err != nil {
		t.Fatalf("compiling %s: %v", ptr, err)
	}
	return s.Validate(v)
}

// asJSON is headers as a JSON object, for a schema to check.
func asJSON(headers map[string]string) map[string]any {
	out := make(map[string]any, len(headers))
	for k, v := range headers {
		out[k] = v
	}
	return out
}

// TestAsyncAPIHeadersAreTheOnesBlockdWrites: the headers and keys the
// AsyncAPI document gives each message blockd writes are exactly those the
// processor writes: the messages below are built by the very functions
// that build the ones blockd publishes, and each must pass its message's
// headers and key schemas.
func TestAsyncAPIHeadersAreTheOnesBlockdWrites(t *testing.T) {
	d := readAsyncAPIDoc(t)
	p := New(Config{Simulated: map[schemas.Provider]bool{schemas.ProviderCard: true}}, nil, nil, nil, Hooks{}, zerolog.Nop())
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

	t.Run("commands", func(t *testing.T) {
		// blockd reads one header of a command: traceparent (see
		// traceparent in answers.go); it keeps the others on a dead letter.
		if got := d.headerNames(t, "blockCommand"); !slices.Equal(got, []string{"traceparent"}) {
			t.Errorf("command headers %v, want [traceparent]", got)
		}
	})

	done := p.result("blk-1", schemas.KindBlock, schemas.ProviderFinnotech, schemas.StatusDone, json.RawMessage(`{}`), nil, 1, time.Now(), uuid.NewString())
	simulated := p.result("blk-2", schemas.KindBlock, schemas.ProviderCard, schemas.StatusDone, json.RawMessage(`{}`), nil, 1, time.Now(), uuid.NewString())
	refusalOf := func(provider schemas.Provider) schemas.Result {
		return p.result("blk-3", schemas.KindUnblock, provider, schemas.StatusRejected, nil,
			&schemas.ErrorInfo{Code: schemas.CodeSchemaInvalid, Message: "days must be an integer from 1 to 90"}, 0, time.Now(), uuid.NewString())
	}
	// A refusal names the provider the refused message named, which may be
	// one a sandbox serves: then it is marked simulated too.
	refused, simulatedRefused := refusalOf(schemas.ProviderFinnotech), refusalOf(schemas.ProviderCard)
	for _, c := range []struct {
		msg   string
		event schemas.Outbound // every header blockd can write on such an event
		plain schemas.Outbound // the fewest
		wrong schemas.Outbound // the other kind of event
	}{
		{"result", p.resultMessage(simulated, tp), p.resultMessage(done, ""), p.refusalMessage(refused, "")},
		{"refusal", p.refusalMessage(simulatedRefused, tp), p.refusalMessage(refused, ""), p.resultMessage(done, "")},
	} {
		t.Run(c.msg, func(t *testing.T) {
			if got, want := d.headerNames(t, c.msg), slices.Sorted(maps.Keys(c.event.Headers)); !slices.Equal(got, want) {
				t.Errorf("document headers %v, blockd writes %v", got, want)
			}
			if _, ok := c.event.Headers[SimulatedHeader]; !ok {
				t.Errorf("a sandbox's %s has no %s header", c.msg, SimulatedHeader)
			}
			headers := "/components/messages/" + c.msg + "/headers"
			key := "/components/messages/" + c.msg + "/bindings/kafka/key"
			for _, m := range []schemas.Outbound{c.event, c.plain} {
				if err := d.validate(t, headers, asJSON(m.Headers)); err != nil {
					t.Errorf("headers %v: %v", m.Headers, err)
				}
				if err := d.validate(t, key, string(m.Key)); err != nil {
					t.Errorf("key %q: %v", m.Key, err)
				}
			}
			if err := d.validate(t, headers, asJSON(c.wrong.Headers)); err == nil {
				t.Errorf("the headers of the other kind of event pass %s", headers)
			}
			if err := d.validate(t, key, string(c.wrong.Key)); err == nil {
				t.Errorf("the key %q of the other kind of event passes %s", c.wrong.Key, key)
			}
		})
	}

	m := kafka.Message{Topic: "blockd.cmd.block", Partition: 3, Offset: 1187, Key: []byte("account-1"), Value: []byte(`{"trackId":"blk-4"}`),
		Headers: []kafka.Header{{Key: "traceparent", Value: []byte(tp)}, {Key: "x-upstream", Value: []byte("a")},
			{Key: headerDLQCode, Value: []byte("spoofed")}, {Key: "x-binary", Value: []byte{0xff, 0x00}}}}
	const reason = "days must be an integer from 1 to 90"

	t.Run("deadLetter", func(t *testing.T) {
		dl := p.deadLetter(m, schemas.CodeSchemaInvalid, reason)
		if got, want := d.headerNames(t, "deadLetter"), slices.Sorted(maps.Keys(sourceHeaders(m, schemas.CodeSchemaInvalid, reason))); !slices.Equal(got, want) {
			t.Errorf("document headers %v, blockd's own on a dead letter %v", got, want)
		}
		if _, ok := dl.Headers[EncodedHeaderPrefix+"2"]; !ok {
			t.Fatalf("the spoofed %s header was not encoded: %v", headerDLQCode, dl.Headers)
		}
		if err := d.validate(t, "/components/messages/deadLetter/headers", asJSON(dl.Headers)); err != nil {
			t.Errorf("dead letter headers %v: %v", dl.Headers, err)
		}
		dl.Headers[EncodedHeaderPrefix+"2"] = "not base64"
		if err := d.validate(t, "/components/messages/deadLetter/headers", asJSON(dl.Headers)); err == nil {
			t.Error("an encoded header that is not base64:base64 passes the dead letter's headers schema")
		}
	})

	t.Run("deadLetterReplacement", func(t *testing.T) {
		r := p.replacement(m, schemas.CodeTooLarge, "message is 300112 bytes, more than the 262144 allowed", "the dead letter would be too large")
		if got, want := d.headerNames(t, "deadLetterReplacement"), slices.Sorted(maps.Keys(r.Headers)); !slices.Equal(got, want) {
			t.Errorf("document headers %v, blockd writes %v", got, want)
		}
		if err := d.validate(t, "/components/messages/deadLetterReplacement/headers", asJSON(r.Headers)); err != nil {
			t.Errorf("replacement headers %v: %v", r.Headers, err)
		}
		// The payload is a draft 2020-12 schema inside the document.
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		if err := c.AddResource("file:///replacement.json", d.at(t, "components", "messages", "deadLetterReplacement", "payload", "schema")); err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile("file:///replacement.json")
		if err != nil {
			t.Fatal(err)
		}
		body, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.Value))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(body); err != nil {
			t.Errorf("replacement body %s: %v", r.Value, err)
		}
		body.(map[string]any)["extra"] = true
		if err := s.Validate(body); err == nil {
			t.Error("a replacement body with a member blockd does not write passes its schema")
		}
	})
}
