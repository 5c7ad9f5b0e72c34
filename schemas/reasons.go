package schemas

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// MaxReasonBytes bounds a reason blockd writes (a result's error.message,
// the blockd-dlq-reason header): a longer one is cut and ends with
// TruncatedMarker.
const MaxReasonBytes = 1024

// TruncatedMarker ends a reason that BoundReason cut short.
const TruncatedMarker = " …[truncated]"

// BoundReason makes s fit to be written anywhere blockd writes a reason: the
// NUL character and bytes that are not UTF-8 (which PostgreSQL's text and
// jsonb refuse) become U+FFFD, and a reason longer than MaxReasonBytes is
// cut at a character boundary and marked with TruncatedMarker.
func BoundReason(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if len(s) <= MaxReasonBytes {
		return s
	}
	cut := MaxReasonBytes - len(TruncatedMarker)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + TruncatedMarker
}

// patternRules says in words what each pattern of the embedded schemas
// asks for; a test keeps it complete. A pattern missing here is quoted.
var patternRules = map[string]string{
	`^[A-Za-z0-9_-]{1,40}$`:         "1 to 40 letters, digits, '-' or '_'",
	`^[A-Za-z0-9_.-]{1,64}$`:        "1 to 64 letters, digits, '.', '-' or '_'",
	`^[A-Za-z0-9+/=_-]{1,256}$`:     "1 to 256 letters, digits, '+', '/', '=', '-' or '_'",
	`\S`:                            "not only spaces",
	`^[0-9]{19}$`:                   "19 digits",
	`^[A-Z]$`:                       "one capital letter A-Z",
	`^([0-9]{10}|[0-9]{11})$`:       "10 or 11 digits",
	`^[0-9]{10,11}$`:                "10 or 11 digits",
	`^([0-9.-]{6,26}|IR[0-9]{24})$`: "a deposit number (6 to 26 digits, '.' or '-') or an IBAN (IR and 24 digits)",
	`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`: "a UUID in lowercase hex",
	`^[A-Z][A-Z0-9_]*$`: "capital letters, digits and '_', starting with a letter",
}

// shownName is a field name a reason may show: letters only, as every field
// of blockd's schemas is named, or an array index. Any other name (one
// that could be a value: digits, an IBAN) is not shown.
var shownName = regexp.MustCompile(`^([A-Za-z]{1,40}|[0-9]{1,4})$`)

// fieldPath is the path of a value in a message, for a reason: "amount",
// "facilities/0/summary". A name that may not be shown is replaced.
func fieldPath(loc []string) string {
	parts := make([]string, len(loc))
	for i, s := range loc {
		if shownName.MatchString(s) {
			parts[i] = s
		} else {
			parts[i] = "(a field whose name is not shown)"
		}
	}
	return strings.Join(parts, "/")
}

// schemaIndex finds a compiled schema by its location, so that a failure
// can be described by the whole rule of the field that broke it.
type schemaIndex map[string]*jsonschema.Schema

func (ix schemaIndex) add(s *jsonschema.Schema) {
	if s == nil || ix[s.Location] != nil {
		return
	}
	ix[s.Location] = s
	for _, sub := range []*jsonschema.Schema{s.Ref, s.Not, s.If, s.Then, s.Else, s.PropertyNames, s.UnevaluatedProperties,
		s.Contains, s.Items2020, s.UnevaluatedItems, s.ContentSchema} {
		ix.add(sub)
	}
	for _, list := range [][]*jsonschema.Schema{s.AllOf, s.AnyOf, s.OneOf, s.PrefixItems} {
		for _, sub := range list {
			ix.add(sub)
		}
	}
	for _, sub := range s.Properties {
		ix.add(sub)
	}
	for _, sub := range s.PatternProperties {
		ix.add(sub)
	}
	for _, sub := range s.DependentSchemas {
		ix.add(sub)
	}
	if sub, ok := s.AdditionalProperties.(*jsonschema.Schema); ok {
		ix.add(sub)
	}
	switch items := s.Items.(type) {
	case *jsonschema.Schema:
		ix.add(items)
	case []*jsonschema.Schema:
		for _, sub := range items {
			ix.add(sub)
		}
	}
}

// rule says in words what a value must be to pass s: "an integer from 1
// to 90", "one of 1, 2", "a string of 1 to 1000 characters, not only
// spaces". It names only what the schema says, never a value of a message.
func rule(s *jsonschema.Schema) string {
	if s.Const != nil {
		return shown(*s.Const)
	}
	if s.Enum != nil {
		vals := make([]string, len(s.Enum.Values))
		for i, v := range s.Enum.Values {
			vals[i] = shown(v)
		}
		return "one of " + strings.Join(vals, ", ")
	}
	var types []string
	if s.Types != nil {
		types = s.Types.ToStrings()
	}
	var noun string
	switch {
	case len(types) == 1:
		noun = map[string]string{"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
			"object": "an object", "array": "an array", "null": "null"}[types[0]]
	case len(types) > 1:
		noun = "one of the types " + strings.Join(types, ", ")
	default:
		noun = "a value"
	}
	var quals []string
	switch {
	case s.Minimum != nil && s.Maximum != nil:
		quals = append(quals, "from "+ratString(s.Minimum)+" to "+ratString(s.Maximum))
	case s.Minimum != nil:
		quals = append(quals, "of at least "+ratString(s.Minimum))
	case s.Maximum != nil:
		quals = append(quals, "of at most "+ratString(s.Maximum))
	}
	if s.ExclusiveMinimum != nil {
		quals = append(quals, "greater than "+ratString(s.ExclusiveMinimum))
	}
	if s.ExclusiveMaximum != nil {
		quals = append(quals, "less than "+ratString(s.ExclusiveMaximum))
	}
	switch {
	case s.MinLength != nil && s.MaxLength != nil:
		quals = append(quals, fmt.Sprintf("of %d to %d characters", *s.MinLength, *s.MaxLength))
	case s.MinLength != nil:
		quals = append(quals, fmt.Sprintf("of at least %d characters", *s.MinLength))
	case s.MaxLength != nil:
		quals = append(quals, fmt.Sprintf("of at most %d characters", *s.MaxLength))
	}
	if s.Pattern != nil {
		p, ok := patternRules[s.Pattern.String()]
		if !ok {
			p = "matching the pattern " + s.Pattern.String()
		}
		if len(quals) == 0 && ok {
			p = "of " + p
		}
		quals = append(quals, p)
	}
	if s.Format != nil {
		quals = append(quals, "in the "+s.Format.Name+" format")
	}
	if s.MultipleOf != nil {
		quals = append(quals, "a multiple of "+ratString(s.MultipleOf))
	}
	if len(quals) == 0 {
		return noun
	}
	return noun + " " + strings.Join(quals, ", ")
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	return r.FloatString(6)
}

// shown is a constant of a schema in a reason: strings bare, numbers as
// written.
func shown(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// describe turns a validation error into one sentence per failing field,
// naming the field and its rule, never a value: "amount must be an integer
// from 1 to 9007199254740991; days must be an integer from 1 to 90".
// root is the schema doc was validated against; a property the schema's
// active branch declares is never reported as unknown (it is reported
// unevaluated only because a sibling failed).
func (ix schemaIndex) describe(err error, root *jsonschema.Schema, doc any, what string) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return what + " does not match its schema"
	}
	declared := declaredProperties(root, doc)
	seen := make(map[string]bool)
	var parts []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			parts = append(parts, s)
		}
	}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		field := fieldPath(e.InstanceLocation)
		subject := field
		if subject == "" {
			subject = what
		}
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			for _, name := range k.Missing {
				add(fieldPath(append(append([]string{}, e.InstanceLocation...), name)) + " is required")
			}
		case *kind.FalseSchema:
			if len(e.InstanceLocation) == 1 && declared[e.InstanceLocation[0]] {
				return // unevaluated only because a sibling rule failed
			}
			add(subject + " is not a field of " + parentOf(what, e.InstanceLocation))
		case *kind.AdditionalProperties:
			for _, name := range k.Properties {
				loc := append(append([]string{}, e.InstanceLocation...), name)
				add(fieldPath(loc) + " is not a field of " + parentOf(what, loc))
			}
		case *kind.Type, *kind.Minimum, *kind.Maximum, *kind.ExclusiveMinimum, *kind.ExclusiveMaximum, *kind.MultipleOf,
			*kind.MinLength, *kind.MaxLength, *kind.Pattern, *kind.Enum, *kind.Const, *kind.Format:
			if s := ix[e.SchemaURL]; s != nil {
				add(subject + " must be " + rule(s))
				return
			}
			add(subject + " breaks the rule '" + strings.Join(e.ErrorKind.KeywordPath(), "/") + "'")
		default:
			add(subject + " breaks the rule '" + strings.Join(e.ErrorKind.KeywordPath(), "/") + "'")
		}
	}
	walk(ve)
	if len(parts) == 0 {
		return what + " does not match its schema"
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

func parentOf(what string, loc []string) string {
	if len(loc) <= 1 {
		return what
	}
	return fieldPath(loc[:len(loc)-1])
}

// declaredProperties lists the properties root declares for doc: its own
// and those of each allOf branch whose if holds (then) or fails (else).
// When no branch applies (the provider is unknown, say), the properties of
// every branch count as declared: which of them belong is not known yet,
// and the field that chooses the branch is reported instead.
func declaredProperties(root *jsonschema.Schema, doc any) map[string]bool {
	out := make(map[string]bool)
	if root == nil {
		return out
	}
	for name := range root.Properties {
		out[name] = true
	}
	applies := false
	var every []*jsonschema.Schema
	for _, branch := range root.AllOf {
		if branch.If == nil {
			continue
		}
		every = append(every, branch.Then, branch.Else)
		active := branch.Then
		if branch.If.Validate(doc) != nil {
			active = branch.Else
		}
		if active == nil {
			continue
		}
		applies = true
		for name := range active.Properties {
			out[name] = true
		}
	}
	if !applies {
		for _, b := range every {
			if b == nil {
				continue
			}
			for name := range b.Properties {
				out[name] = true
			}
		}
	}
	return out
}
