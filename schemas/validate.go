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
	v := &Validator{commands: make(map[Kind]*jsonschema.Schema)}
	for _, k := range []Kind{KindBlock, KindUnblock, KindTransfer, KindInquiry} {
		s, err := c.Compile(schemaBaseURL + string(k) + ".schema.json")
		if err != nil {
			return nil, fmt.Errorf("compiling %s schema: %w", k, err)
		}
		v.commands[k] = s
	}
	if v.result, err = c.Compile(schemaBaseURL + "result.schema.json"); err != nil {
		return nil, fmt.Errorf("compiling result schema: %w", err)
	}
	return v, nil
}

// SchemaFile returns the embedded schema file with the given name (for
// example "block.schema.json"), so it can be served or printed.
func SchemaFile(name string) ([]byte, error) {
	return schemaFiles.ReadFile("json/" + name)
}

// DecodeCommand validates raw against the schema of kind and decodes it. On
// failure it returns an *InvalidError.
func (v *Validator) DecodeCommand(kind Kind, raw []byte) (Command, error) {
	s, ok := v.commands[kind]
	if !ok {
		return Command{}, &InvalidError{Code: CodeSchemaInvalid, Message: fmt.Sprintf("no schema for command kind %q", kind)}
	}
	if !utf8.Valid(raw) {
		return Command{}, &InvalidError{Code: CodeMalformed, Message: "message is not valid UTF-8"}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return Command{}, &InvalidError{Code: CodeMalformed, Message: "message is not JSON: " + err.Error()}
	}
	obj, isObject := doc.(map[string]any)
	if !isObject {
		return Command{}, &InvalidError{Code: CodeMalformed, Message: "message is not a JSON object"}
	}
	trackID := readableTrackID(obj)
	if err := s.Validate(doc); err != nil {
		return Command{}, &InvalidError{Code: CodeSchemaInvalid, Message: describe(err), TrackID: trackID}
	}
	var cmd Command
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cmd); err != nil {
		// The schema admitted something the Go type cannot hold; say so
		// rather than guess.
		return Command{}, &InvalidError{Code: CodeSchemaInvalid, Message: "decoding command: " + err.Error(), TrackID: trackID}
	}
	cmd.Kind = kind
	return cmd, nil
}

// ValidateResult checks a result event's JSON against the result schema.
func (v *Validator) ValidateResult(raw []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("parsing result: %w", err)
	}
	if err := v.result.Validate(doc); err != nil {
		return fmt.Errorf("validating result: %s", describe(err))
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

// describe turns a schema validation error into one line naming each failing
// field, e.g. "/days: must be <= 90; /amount: must be >= 1".
func describe(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	seen := make(map[string]bool)
	var parts []string
	for _, u := range ve.BasicOutput().Errors {
		if u.Error == nil {
			continue
		}
		msg := u.Error.String()
		if strings.HasPrefix(msg, "validation failed") || strings.HasPrefix(msg, "allOf failed") || strings.HasPrefix(msg, "if-then failed") {
			continue
		}
		loc := u.InstanceLocation
		if loc == "" {
			loc = "/"
		}
		p := loc + ": " + msg
		if !seen[p] {
			seen[p] = true
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return ve.Error()
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}
