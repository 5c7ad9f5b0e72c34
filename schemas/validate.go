// Package schemas is blockd's wire contract and domain vocabulary: the JSON
// Schema files (draft 2020-12, embedded in the binary) for every command and
// for the result event, the Go types beside them, and the validator that
// decodes a consumed message into a Command. It imports nothing of blockd's;
// every other package may import it.
package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed json/*.schema.json
var schemaFiles embed.FS

// schemaBaseURL is the $id prefix every schema file declares.
const schemaBaseURL = "https://blockd.dev/schemas/"

// maxReportedTrackIDLen bounds the trackId read from an invalid message for
// its REJECTED result: longer (or non-string) ids are not echoed back and the
// message goes only to the dead letter topic.
const maxReportedTrackIDLen = 256

// InvalidError is a message that cannot become a Command. Code is one of
// CodeMalformed or CodeSchemaInvalid. TrackID is the trackId that could be
// read from the message, or "" when none could.
type InvalidError struct {
	Code    string
	Message string
	TrackID string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Validator decodes and validates commands and result events against the
// embedded schemas. It is safe for concurrent use.
type Validator struct {
	commands map[Kind]*jsonschema.Schema
	result   *jsonschema.Schema
	index    schemaIndex
}

// NewValidator compiles the embedded schemas.
func NewValidator() (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	entries, err := fs.ReadDir(schemaFiles, "json")
	if err != nil {
		return nil, fmt.Errorf("listing embedded schemas: %w", err)
	}
	for _, e := range entries {
		raw, err := schemaFiles.ReadFile("json/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("reading schema %s: %w", e.Name(), err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("parsing schema %s: %w", e.Name(), err)
		}
		if err := c.AddResource(schemaBaseURL+e.Name(), doc); err != nil {
			return nil, fmt.Errorf("adding schema %s: %w", e.Name(), err)
		}
	}
	v := &Validator{commands: make(map[Kind]*jsonschema.Schema), index: make(schemaIndex)}
	for _, k := range []Kind{KindBlock, KindUnblock, KindTransfer, KindInquiry} {
		s, err := c.Compile(schemaBaseURL + string(k) + ".schema.json")
		if err != nil {
			return nil, fmt.Errorf("compiling %s schema: %w", k, err)
		}
		v.commands[k] = s
		v.index.add(s)
	}
	if v.result, err = c.Compile(schemaBaseURL + "result.schema.json"); err != nil {
		return nil, fmt.Errorf("compiling result schema: %w", err)
	}
	v.index.add(v.result)
	return v, nil
}

// SchemaFile returns the embedded schema file with the given name (for
// example "block.schema.json"), so it can be served or printed.
func SchemaFile(name string) ([]byte, error) {
	return schemaFiles.ReadFile("json/" + name)
}

// DecodeCommand validates raw against the schema of kind and decodes it. On
// failure it returns an *InvalidError whose Message names each failing
// field and its rule, never a value of the message.
func (v *Validator) DecodeCommand(kind Kind, raw []byte) (Command, error) {
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
		// The schema admitted something the Go type cannot hold; say so
		// rather than guess, naming the field only.
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

// notJSON says why a message is not JSON without quoting any of it.
func notJSON(err error) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("message is not JSON: syntax error at byte %d", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "message is not JSON: it ends before the value does"
	default:
		return "message is not JSON: it holds more than one value"
	}
}

// fieldsWithNUL lists the top-level fields of a command whose string holds
// the NUL character, which PostgreSQL cannot keep in text or jsonb.
func fieldsWithNUL(obj map[string]any) []string {
	var out []string
	for name, val := range obj {
		if s, ok := val.(string); ok && strings.ContainsRune(s, 0) {
			out = append(out, fieldPath([]string{name}))
		}
	}
	sort.Strings(out)
	return out
}

// ValidateResult checks a result event's JSON against the result schema.
func (v *Validator) ValidateResult(raw []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("parsing result: %w", err)
	}
	if err := v.result.Validate(doc); err != nil {
		return fmt.Errorf("validating result: %s", v.index.describe(err, v.result, doc, "the result"))
	}
	return nil
}

func readableTrackID(obj map[string]any) string {
	s, ok := obj["trackId"].(string)
	if !ok || s == "" || len(s) > maxReportedTrackIDLen || !utf8.ValidString(s) {
		return ""
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return ""
		}
	}
	return s
}
