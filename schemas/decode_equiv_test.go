package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// decodeCommandBefore is DecodeCommand as it was before the document was
// reused for decoding (issue 10): parse with jsonschema.UnmarshalJSON,
// validate, then decode raw a second time with encoding/json. The tests
// below hold DecodeCommand to it, result for result and error for error.
func decodeCommandBefore(v *Validator, kind Kind, raw []byte) (Command, error) {
	s, ok := v.commands[kind]
	if !ok {
		return Command{}, &InvalidError{Code: CodeSchemaInvalid, Message: fmt.Sprintf("no schema for command kind %q", kind)}
	}
	if len(raw) == 0 {
		return Command{}, &InvalidError{Code: CodeEmptyMessage, Message: "message has no value"}
	}
	if !utf8.Valid(raw) {
		return Command{}, &InvalidError{Code: CodeMalformed, Message: "message is not valid UTF-8"}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return Command{}, &InvalidError{Code: CodeMalformed, Message: notJSON(err)}
	}
	obj, isObject := doc.(map[string]any)
	if !isObject {
		return Command{}, &InvalidError{Code: CodeMalformed, Message: "message is not a JSON object"}
	}
	trackID := readableTrackID(obj)
	if err := s.Validate(doc); err != nil {
		return Command{}, &InvalidError{Code: CodeSchemaInvalid, Message: v.index.describe(err, s, doc, "this command"), TrackID: trackID}
	}
	if fields := fieldsWithNUL(obj); len(fields) > 0 {
		for i, f := range fields {
			fields[i] = f + " must not contain the NUL character (U+0000)"
		}
		return Command{}, &InvalidError{Code: CodeUnstorableCharacter, Message: strings.Join(fields, "; "), TrackID: trackID}
	}
	var cmd Command
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cmd); err != nil {
		msg := "the command cannot be decoded"
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && shownName.MatchString(te.Field) {
			msg = te.Field + " cannot be held as " + te.Type.String()
		}
		return Command{}, &InvalidError{Code: CodeSchemaInvalid, Message: msg, TrackID: trackID}
	}
	cmd.Kind = kind
	return cmd, nil
}

// sameDecoding fails t unless DecodeCommand and decodeCommandBefore give
// the same command or the same InvalidError for raw.
func sameDecoding(t *testing.T, v *Validator, kind Kind, raw []byte) {
	t.Helper()
	got, gotErr := v.DecodeCommand(kind, raw)
	want, wantErr := decodeCommandBefore(v, kind, raw)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%s %q: error %v, before %v", kind, raw, gotErr, wantErr)
	}
	if gotErr != nil {
		var g, w *InvalidError
		if !errors.As(gotErr, &g) || !errors.As(wantErr, &w) {
			t.Fatalf("%s %q: errors %T and %T, want *InvalidError", kind, raw, gotErr, wantErr)
		}
		if *g != *w {
			t.Fatalf("%s %q: error %+v, before %+v", kind, raw, *g, *w)
		}
		return
	}
	if got != want {
		t.Fatalf("%s %q: command %+v, before %+v", kind, raw, got, want)
	}
}

// equivalenceInputs are messages that reach each way out of DecodeCommand,
// the quick copy's refusals (repeated names, names in another case, null,
// 1.0 and 1e3 for an integer) above all.
var equivalenceInputs = []string{
	`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5}`,
	` {"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5}` + " \t\r\n",
	`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5} {}`,
	`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5} x`,
	`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5}]`,
	`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5,"days":6}`,
	`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":"10","amount":10,"description":"d","days":5}`,
	`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10.5,"amount":10,"description":"d","days":5}`,
	`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10.0,"description":"d","days":5e0}`,
	`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":1e3,"description":"d","days":5}`,
	`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5.0}`,
	`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":9007199254740991,"description":"d","days":90}`,
	`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":9007199254740992,"description":"d","days":90}`,
	`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":-0}`,
	`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":null}`,
	`{"TrackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5}`,
	`{"trackId":"t1","trackid":"t2","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5}`,
	`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"a:b {\"x\":[1]} \\\" :","days":5}`,
	`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"\u00e9\ud800 \u2028","days":5}`,
	`{"trackId":"t1","provider":"finnotech","clientId":"c","amount":10,"description":"a\u0000b","days":5}`,
	`{"trackId":"u1","provider":"finnotech","blockTrackId":"t1"}`,
	`{"trackId":"u1","provider":"finnotech","blockTrackId":"t1","amount":10}`,
	`{"trackId":"a1","provider":"arhivaar","accountId":"6475736574794c4e2f594d3d","note":"x"}`,
	`{"trackId":"c1","provider":"card","accountId":"0001000010000510481","blockCodeSlot":2,"blockCode":"X","businessUnit":998}`,
	`{"trackId":"c1","provider":"card","accountId":"0001000010000510481","blockCodeSlot":2.0,"blockCode":"X"}`,
	`{"trackId":"c1","provider":"card","accountId":"0001000010000510481","blockCodeSlot":2,"blockCode":"X","blockCode":"Y"}`,
	`{"trackId":"x1","provider":"finnotech","unblockTrackId":"u1","amount":5,"destination":"0201000000001","description":"d"}`,
	`{"trackId":"x1","provider":"finnotech","unblockTrackId":"u1","amount":5,"destination":"0201000000001","description":"d","extra":{"a":[1,{"b":2}]}}`,
	`{"trackId":"i1","provider":"finnotech","inquiry":"facility","clientId":"c","nationalId":"0071331951"}`,
	`{"trackId":"i1","provider":"finnotech","inquiry":"transfer","transferTrackId":"x1"}`,
	`{"trackId":1e400}`, `{"amount":-0}`, `{"trackId":"\u0000"}`, `[]`, `null`, `"x"`, `{`, ``, `{}`, `{"":1}`,
	`{"trackId":"t","trackId":"u"}`, `{"__proto__":{}}`, "\xef\xbb\xbf{}", "{\"trackId\":\"\xff\"}",
	strings.Repeat(`[`, 10000), strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001),
}

func TestDecodeCommandDecidesAsBefore(t *testing.T) {
	v := newValidator(t)
	inputs := append([]string{}, equivalenceInputs...)
	files, err := filepath.Glob("examples/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(raw))
	}
	for _, raw := range inputs {
		for _, kind := range []Kind{KindBlock, KindUnblock, KindTransfer, KindInquiry, "refund"} {
			sameDecoding(t, v, kind, []byte(raw))
		}
	}
}

// FuzzDecodeCommandAsBefore holds DecodeCommand to the decoder it
// replaced on any input. Seeds live in testdata/fuzz/FuzzDecodeCommandAsBefore.
func FuzzDecodeCommandAsBefore(f *testing.F) {
	v, err := NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range equivalenceInputs {
		for _, kind := range []string{"block", "unblock", "transfer", "inquiry"} {
			f.Add(kind, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, kind string, raw []byte) {
		sameDecoding(t, v, Kind(kind), raw)
	})
}

// TestCommandFromObjectTakesEveryField: the quick copy knows every field
// of Command by its JSON name, so that a field added to Command and not to
// setCommandField is noticed here rather than only costing speed.
func TestCommandFromObjectTakesEveryField(t *testing.T) {
	typ := reflect.TypeFor[Command]()
	for i := range typ.NumField() {
		field := typ.Field(i)
		name, _, _ := strings.Cut(field.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		var val any
		switch field.Type.Kind() {
		case reflect.String:
			val = "v"
		case reflect.Int, reflect.Int64:
			val = json.Number("7")
		default:
			t.Fatalf("field %s is a %s: teach setCommandField and this test about it", field.Name, field.Type)
		}
		var cmd Command
		if !setCommandField(&cmd, name, val) {
			t.Errorf("setCommandField does not take %q (%s)", name, field.Name)
			continue
		}
		got := reflect.ValueOf(cmd).Field(i)
		if (got.Kind() == reflect.String && got.String() != "v") || (got.Kind() != reflect.String && got.Int() != 7) {
			t.Errorf("setCommandField(%q) set another field than %s", name, field.Name)
		}
		if setCommandField(&cmd, name, true) {
			t.Errorf("setCommandField(%q) takes a boolean", name)
		}
	}
}

func TestCountTopLevelMembers(t *testing.T) {
	tests := map[string]int{
		`{}`:                          0,
		`{"a":1}`:                     1,
		`{"a":1,"a":2}`:               2,
		`{"a":{"b":1,"c":[{"d":2}]}}`: 1,
		`{"a":"x:y","b":"\":\\"}`:     2,
		` { "a" : [ ":" ] , "b":{} }`: 2,
	}
	for raw, want := range tests {
		if got := countTopLevelMembers([]byte(raw)); got != want {
			t.Errorf("countTopLevelMembers(%s) = %d, want %d", raw, got, want)
		}
	}
}
