package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The AsyncAPI document of the message contract and the official AsyncAPI
// 3.0.0 JSON Schema it is checked against (see testdata/README.md).
const (
	asyncAPIPath       = "asyncapi.json"
	asyncAPIMetaSchema = "testdata/asyncapi-3.0.0.schema.json"
	// asyncAPIDocURL is where the document is added to a schema compiler,
	// so that its local references (#/components/...) resolve.
	asyncAPIDocURL = "file:///blockd/schemas/asyncapi.json"
	// payloadSchemaFormat is the schemaFormat of every payload: the JSON
	// Schema draft the files in json/ are written in.
	payloadSchemaFormat = "application/schema+json;version=draft-2020-12"
	// payloadRefPrefix starts a payload's reference to a file in json/.
	payloadRefPrefix = "./json/"
)

// inlinePayloads are the messages whose payload is not a file of json/:
// a dead letter is the refused message's value, whatever its bytes, and
// its replacement is a record of blockd's own, described in the document.
var inlinePayloads = map[string]bool{"deadLetter": true, "deadLetterReplacement": true}

// exampleMessage is the message of the AsyncAPI document an example file
// of examples/ belongs to: <kind>.<provider>.json is a command of that
// kind, result.rejected.json a refusal (README: "published under
// refused:<trackId>"), every other result.*.json a command's result.
func exampleMessage(file string) string {
	kind, _, _ := strings.Cut(file, ".")
	switch {
	case file == "result.rejected.json":
		return "refusal"
	case kind == "result":
		return "result"
	default:
		return kind + "Command"
	}
}

func readAsyncAPI(t *testing.T) (raw []byte, doc map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(asyncAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s is not JSON: %v", asyncAPIPath, err)
	}
	doc, ok := parsed.(map[string]any)
	if !ok {
		t.Fatalf("%s is not a JSON object", asyncAPIPath)
	}
	return raw, doc
}

// member is obj[key] as a JSON object, failing the test if it is not one.
func member(t *testing.T, obj map[string]any, key string) map[string]any {
	t.Helper()
	m, ok := obj[key].(map[string]any)
	if !ok {
		t.Fatalf("%q is not a JSON object", key)
	}
	return m
}

// pointer resolves a JSON pointer ("/components/messages/x") in doc.
func pointer(doc any, ptr string) (any, error) {
	if ptr == "" {
		return doc, nil
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, fmt.Errorf("%q is not a JSON pointer", ptr)
	}
	cur := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q: %q is not inside an object", ptr, tok)
		}
		if cur, ok = obj[tok]; !ok {
			return nil, fmt.Errorf("%q: no member %q", ptr, tok)
		}
	}
	return cur, nil
}

// refs lists every "$ref" string in v with where it is.
func refs(v any, at string, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && k == "$ref" {
				out[at+"/$ref"] = s
				continue
			}
			refs(val, at+"/"+k, out)
		}
	case []any:
		for i, val := range x {
			refs(val, fmt.Sprintf("%s/%d", at, i), out)
		}
	}
}

// TestAsyncAPIIsVersion300AndEveryReferenceResolves: the document is
// AsyncAPI 3.0.0, and each $ref is either a local one that names a part of
// the document or ./json/<file> naming a schema the validator embeds (the
// file beside it being that very schema).
func TestAsyncAPIIsVersion300AndEveryReferenceResolves(t *testing.T) {
	_, doc := readAsyncAPI(t)
	if doc["asyncapi"] != "3.0.0" {
		t.Fatalf("asyncapi = %v, want 3.0.0", doc["asyncapi"])
	}
	all := map[string]string{}
	refs(doc, "", all)
	if len(all) == 0 {
		t.Fatal("the document has no $ref at all")
	}
	for at, ref := range all {
		switch {
		case strings.HasPrefix(ref, "#"):
			if _, err := pointer(doc, ref[1:]); err != nil {
				t.Errorf("%s: %s does not resolve: %v", at, ref, err)
			}
		case strings.HasPrefix(ref, payloadRefPrefix):
			name := strings.TrimPrefix(ref, payloadRefPrefix)
			embedded, err := fs.ReadFile(schemaFiles, "json/"+name)
			if err != nil {
				t.Errorf("%s: %s is not a schema the validator embeds: %v", at, ref, err)
				continue
			}
			onDisk, err := os.ReadFile(path.Join("json", name))
			if err != nil || !bytes.Equal(onDisk, embedded) {
				t.Errorf("%s: %s is not the embedded schema (err %v)", at, ref, err)
			}
		default:
			t.Errorf("%s: %s is neither local (#/...) nor a schema in %s", at, ref, payloadRefPrefix)
		}
	}
}

// TestAsyncAPIIsValidAsyncAPI300: the document passes the official
// AsyncAPI 3.0.0 JSON Schema (which also checks the Kafka bindings 0.5.0),
// and a document that breaks it is caught.
func TestAsyncAPIIsValidAsyncAPI300(t *testing.T) {
	raw, doc := readAsyncAPI(t)
	meta := compileAsyncAPIMetaSchema(t)
	if err := meta.Validate(doc); err != nil {
		t.Fatalf("%s is not a valid AsyncAPI 3.0.0 document: %v", asyncAPIPath, err)
	}
	// The same check fails on a document with an operation of no known
	// action, so it is not one that passes anything.
	broken, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	member(t, member(t, broken.(map[string]any), "operations"), "sendResults")["action"] = "publish"
	if err := meta.Validate(broken); err == nil {
		t.Fatal("the AsyncAPI schema accepts an operation whose action is publish (an AsyncAPI 2 word)")
	}
}

func compileAsyncAPIMetaSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(asyncAPIMetaSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	metaDoc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := metaDoc.(map[string]any)["$id"].(string)
	if id == "" {
		t.Fatalf("%s has no $id", asyncAPIMetaSchema)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(id, metaDoc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatalf("compiling %s: %v", asyncAPIMetaSchema, err)
	}
	return s
}

// TestAsyncAPIPayloadsAreTheEmbeddedSchemas: every message's payload is a
// draft 2020-12 schema; every one but the dead letters' is a file of json/;
// each command kind the validator knows has its message, results and
// refusals are result events, and no schema file is left out.
func TestAsyncAPIPayloadsAreTheEmbeddedSchemas(t *testing.T) {
	_, doc := readAsyncAPI(t)
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	messages := member(t, member(t, doc, "components"), "messages")
	payloadFile := map[string]string{} // message -> schema file
	for name := range messages {
		payload := member(t, member(t, messages, name), "payload")
		if payload["schemaFormat"] != payloadSchemaFormat {
			t.Errorf("%s: schemaFormat = %v, want %s", name, payload["schemaFormat"], payloadSchemaFormat)
		}
		schema := member(t, payload, "schema")
		ref, _ := schema["$ref"].(string)
		if inlinePayloads[name] {
			if ref != "" {
				t.Errorf("%s: payload refers to %s; the test takes it for one described in the document", name, ref)
			}
			continue
		}
		file, ok := strings.CutPrefix(ref, payloadRefPrefix)
		if !ok || len(schema) != 1 {
			t.Errorf("%s: payload schema is %v, want only a $ref to %s<file>", name, schema, payloadRefPrefix)
			continue
		}
		payloadFile[name] = file
	}
	want := map[string]string{"result": "result.schema.json", "refusal": "result.schema.json"}
	for k := range v.commands {
		want[string(k)+"Command"] = string(k) + ".schema.json"
	}
	if !reflect.DeepEqual(payloadFile, want) {
		t.Errorf("message payloads = %v, want %v", payloadFile, want)
	}
	used := map[string]bool{"common.schema.json": true} // referred to by the others
	for _, f := range payloadFile {
		used[f] = true
	}
	entries, err := fs.ReadDir(schemaFiles, "json")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !used[e.Name()] {
			t.Errorf("json/%s is the payload of no message", e.Name())
		}
	}
}

// TestAsyncAPIExamplesValidateAndAreTheExampleFiles: every example's
// payload passes its message's schema with the service's own Validator
// (or, for the dead letter replacement, the schema in the document), its
// headers pass the message's headers schema, and each file of examples/
// is, byte for byte as JSON, an example of the message it belongs to.
func TestAsyncAPIExamplesValidateAndAreTheExampleFiles(t *testing.T) {
	_, doc := readAsyncAPI(t)
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	messages := member(t, member(t, doc, "components"), "messages")
	headers := newAsyncAPISchemas(t, doc)
	examplesOf := map[string]map[string]any{} // message -> example name -> payload
	for name := range messages {
		msg := member(t, messages, name)
		list, _ := msg["examples"].([]any)
		if len(list) == 0 {
			t.Errorf("%s has no example", name)
		}
		headerSchema := headers.compile(t, "/components/messages/"+name+"/headers")
		examplesOf[name] = map[string]any{}
		for i, e := range list {
			ex, _ := e.(map[string]any)
			exName, _ := ex["name"].(string)
			if exName == "" {
				t.Errorf("%s example %d has no name", name, i)
			}
			examplesOf[name][exName] = ex["payload"]
			if err := headerSchema.Validate(ex["headers"]); err != nil {
				t.Errorf("%s example %s: headers: %v", name, exName, err)
			}
			raw, err := json.Marshal(ex["payload"])
			if err != nil {
				t.Fatal(err)
			}
			if err := validateExamplePayload(v, headers, msg, name, raw); err != nil {
				t.Errorf("%s example %s: %v", name, exName, err)
			}
		}
	}

	files, err := os.ReadDir("examples")
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, f := range files {
		if path.Ext(f.Name()) != ".json" {
			continue
		}
		seen = append(seen, f.Name())
		raw, err := os.ReadFile(path.Join("examples", f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		want, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		msg, stem := exampleMessage(f.Name()), strings.TrimSuffix(f.Name(), ".json")
		got, ok := examplesOf[msg][stem]
		if !ok {
			t.Errorf("examples/%s is not an example (named %s) of message %s", f.Name(), stem, msg)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("example %s of %s differs from examples/%s", stem, msg, f.Name())
		}
	}
	if len(seen) == 0 {
		t.Fatal("examples/ holds no example")
	}
}

// validateExamplePayload checks raw, an example's payload, against the
// schema of message name: a command with Validator.DecodeCommand, a result
// or refusal with Validator.ValidateResult, the replacement with the
// schema in the document. A dead letter's payload is any bytes.
func validateExamplePayload(v *Validator, s *asyncAPISchemas, msg map[string]any, name string, raw []byte) error {
	payload, _ := msg["payload"].(map[string]any)
	schema, _ := payload["schema"].(map[string]any)
	ref, _ := schema["$ref"].(string)
	switch file := strings.TrimPrefix(ref, payloadRefPrefix); {
	case name == "deadLetter":
		return nil
	case name == "deadLetterReplacement":
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		if err := c.AddResource("file:///replacement.json", schema); err != nil {
			return err
		}
		compiled, err := c.Compile("file:///replacement.json")
		if err != nil {
			return err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return err
		}
		return compiled.Validate(doc)
	case file == "result.schema.json":
		return v.ValidateResult(raw)
	default:
		kind, ok := strings.CutSuffix(file, ".schema.json")
		if !ok {
			return fmt.Errorf("payload %q is no command schema", ref)
		}
		_, err := v.DecodeCommand(Kind(kind), raw)
		return err
	}
}

// asyncAPISchemas compiles the schemas inside the AsyncAPI document (the
// headers and keys, AsyncAPI Schema Objects: JSON Schema draft 07).
type asyncAPISchemas struct{ c *jsonschema.Compiler }

func newAsyncAPISchemas(t *testing.T, doc map[string]any) *asyncAPISchemas {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	if err := c.AddResource(asyncAPIDocURL, doc); err != nil {
		t.Fatal(err)
	}
	return &asyncAPISchemas{c: c}
}

func (s *asyncAPISchemas) compile(t *testing.T, ptr string) *jsonschema.Schema {
	t.Helper()
	compiled, err := s.c.Compile(asyncAPIDocURL + "#" + ptr)
	if err != nil {
		t.Fatalf("compiling %s: %v", ptr, err)
	}
	return compiled
}

// TestAsyncAPIChecksCatchBrokenExamples: the checks above can fail: a
// command the schema refuses, a result under a refusal's ce_type and a
// refusal key without its prefix are each caught.
func TestAsyncAPIChecksCatchBrokenExamples(t *testing.T) {
	_, doc := readAsyncAPI(t)
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	s := newAsyncAPISchemas(t, doc)
	messages := member(t, member(t, doc, "components"), "messages")
	if err := validateExamplePayload(v, s, member(t, messages, "blockCommand"), "blockCommand",
		[]byte(`{"trackId":"blk-1","provider":"finnotech","clientId":"c","amount":1,"description":"d","days":0}`)); err == nil {
		t.Error("a block command with days 0 passes the block command's payload check")
	}
	if err := validateExamplePayload(v, s, member(t, messages, "deadLetterReplacement"), "deadLetterReplacement",
		[]byte(`{"sourceTopic":"blockd.cmd.block","sourcePartition":-1,"sourceOffset":0}`)); err == nil {
		t.Error("a replacement record with partition -1 passes its payload check")
	}
	resultHeaders := s.compile(t, "/components/messages/result/headers")
	h := map[string]any{"ce_specversion": "1.0", "ce_id": "0b0e6f4e-8d2c-4a53-9f3e-6a1f2c3d4e5f", "ce_type": "dev.blockd.result.block",
		"ce_source": "/blockd", "ce_subject": "blk-1", "ce_time": "2024-11-21T09:12:01.456Z", "content-type": "application/json"}
	if err := resultHeaders.Validate(h); err != nil {
		t.Fatalf("a result's headers fail the result headers schema: %v", err)
	}
	h["ce_type"] = "dev.blockd.refusal.block"
	if err := resultHeaders.Validate(h); err == nil {
		t.Error("a refusal's ce_type passes the result headers schema")
	}
	refusalKey := s.compile(t, "/components/messages/refusal/bindings/kafka/key")
	if err := refusalKey.Validate("refused:blk-1"); err != nil {
		t.Errorf("refused:blk-1 fails the refusal key schema: %v", err)
	}
	if err := refusalKey.Validate("blk-1"); err == nil {
		t.Error("a bare trackId passes the refusal key schema")
	}
}

// TestAsyncAPIOperationsReceiveCommandsAndSendAnswers: blockd receives on
// each command channel and sends on the results and dead letter channels,
// each operation naming every message of its channel.
func TestAsyncAPIOperationsReceiveCommandsAndSendAnswers(t *testing.T) {
	_, doc := readAsyncAPI(t)
	channels := member(t, doc, "channels")
	operations := member(t, doc, "operations")
	actionOf := map[string]string{}
	for name := range operations {
		op := member(t, operations, name)
		ref, _ := member(t, op, "channel")["$ref"].(string)
		ch, ok := strings.CutPrefix(ref, "#/channels/")
		if !ok {
			t.Errorf("%s: channel %q is not #/channels/<id>", name, ref)
			continue
		}
		if _, dup := actionOf[ch]; dup {
			t.Errorf("channel %s has more than one operation", ch)
		}
		actionOf[ch], _ = op["action"].(string)
		var got []string
		list, _ := op["messages"].([]any)
		for _, m := range list {
			r, _ := m.(map[string]any)["$ref"].(string)
			got = append(got, r)
		}
		var want []string
		for m := range member(t, member(t, channels, ch), "messages") {
			want = append(want, "#/channels/"+ch+"/messages/"+m)
		}
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: messages %v, want those of channel %s: %v", name, got, ch, want)
		}
	}
	for ch := range channels {
		msgs := member(t, member(t, channels, ch), "messages")
		want := "send"
		for m := range msgs {
			if strings.HasSuffix(m, "Command") {
				want = "receive"
			}
		}
		if actionOf[ch] != want {
			t.Errorf("channel %s: blockd's operation is %q, want %q", ch, actionOf[ch], want)
		}
	}
}
