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
	"strconv"
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
	doc, err := parseJSON(raw)
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
	// The document already parsed holds the command; decoding raw again
	// is needed only when it holds something the quick copy does not take
	// as it is.
	cmd, copied := commandFromObject(obj, raw)
	if !copied {
		if cmd, err = decodeCommandJSON(raw); err != nil {
			// The schema admitted something the Go type cannot hold; say so
			// rather than guess, naming the field only.
			msg := "the command cannot be decoded"
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && shownName.MatchString(te.Field) {
				msg = te.Field + " cannot be held as " + te.Type.String()
			}
			return Command{}, &InvalidError{Code: CodeSchemaInvalid, Message: msg, TrackID: trackID}
		}
	}
	cmd.Kind = kind
	return cmd, nil
}

// parseJSON parses raw as jsonschema.UnmarshalJSON does (numbers kept as
// json.Number, exactly one value) and gives the same document and the same
// errors. It only checks what follows the value by looking at the bytes
// rather than by reading one more token, which costs a second buffer.
func parseJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if len(bytes.TrimLeft(raw[dec.InputOffset():], " \t\r\n")) != 0 {
		// More than one value: let the library say so in its own words.
		return jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	}
	return doc, nil
}

// decodeCommandJSON decodes raw into a Command with encoding/json,
// refusing fields the Command does not have. It decides every command
// commandFromObject does not take.
func decodeCommandJSON(raw []byte) (Command, error) {
	var cmd Command
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(&cmd)
	return cmd, err
}

// commandFromObject copies the parsed command obj into a Command, giving
// what decodeCommandJSON gives for raw, the message obj was parsed from.
// It takes only the plain case: every member of raw is a field of Command
// named exactly by its JSON name, appears once, and holds a string for a
// string field or an integer for an integer field. Anything else (a name
// in another case, a repeated name whose earlier value is gone from obj,
// null, a number such as 1.0 or 1e3) answers false, and decodeCommandJSON
// decides, with its own error.
func commandFromObject(obj map[string]any, raw []byte) (Command, bool) {
	if countTopLevelMembers(raw) != len(obj) {
		return Command{}, false
	}
	var cmd Command
	for name, val := range obj {
		if !setCommandField(&cmd, name, val) {
			return Command{}, false
		}
	}
	return cmd, true
}

// setCommandField sets the field of cmd whose JSON name is name to val,
// or answers false when there is no such field or val is not of its type.
func setCommandField(cmd *Command, name string, val any) bool {
	switch name {
	case "trackId":
		return setString(&cmd.TrackID, val)
	case "provider":
		s, ok := val.(string)
		cmd.Provider = Provider(s)
		return ok
	case "clientId":
		return setString(&cmd.ClientID, val)
	case "amount":
		return setInt64(&cmd.Amount, val)
	case "description":
		return setString(&cmd.Description, val)
	case "days":
		return setInt(&cmd.Days, val)
	case "blockTrackId":
		return setString(&cmd.BlockTrackID, val)
	case "unblockTrackId":
		return setString(&cmd.UnblockTrackID, val)
	case "destination":
		return setString(&cmd.Destination, val)
	case "inquiry":
		return setString(&cmd.Inquiry, val)
	case "transferTrackId":
		return setString(&cmd.TransferTrackID, val)
	case "nationalId":
		return setString(&cmd.NationalID, val)
	case "accountId":
		return setString(&cmd.AccountID, val)
	case "note":
		return setString(&cmd.Note, val)
	case "blockCodeSlot":
		return setInt(&cmd.BlockCodeSlot, val)
	case "blockCode":
		return setString(&cmd.BlockCode, val)
	case "businessUnit":
		return setInt(&cmd.BusinessUnit, val)
	}
	return false
}

func setString(dst *string, val any) bool {
	s, ok := val.(string)
	*dst = s
	return ok
}

// setInt64 takes a number as encoding/json puts one into an int64: a
// base-10 integer literal within range.
func setInt64(dst *int64, val any) bool {
	num, ok := val.(json.Number)
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	*dst = n
	return err == nil
}

// setInt is setInt64 for an int field.
func setInt(dst *int, val any) bool {
	num, ok := val.(json.Number)
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(string(num), 10, strconv.IntSize)
	*dst = int(n)
	return err == nil
}

// countTopLevelMembers counts the name/value pairs of the JSON object raw
// (which must be valid JSON), repeated names included: the colons outside
// strings one level deep.
func countTopLevelMembers(raw []byte) int {
	n, depth := 0, 0
	inString, escaped := false, false
	for _, b := range raw {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
		case b == '}' || b == ']':
			depth--
		case b == ':' && depth == 1:
			n++
		}
	}
	return n
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
