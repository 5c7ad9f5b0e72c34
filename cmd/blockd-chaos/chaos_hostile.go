package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/providers/arhivaar"
	"github.com/blockd/blockd/schemas"
)

// hostileKind names one kind of message of the hostile mix (-hostile-rate):
// the inputs issue 9's reviews sent, each of which once stopped a key, a
// partition or the relay for good.
type hostileKind string

// The hostile mix. Every kind but the last two is drawn in turn, so a run
// with -hostile-rate > 0 sends each at least once; hostileHugeReason and
// hostileLargestResult are exactly one per run.
const (
	// A schema-valid command with U+0000 in a string (jsonb refuses it):
	// dead letter and refusal UNSUPPORTED_CHARACTER.
	hostileNULString hostileKind = "nul-string"
	// A planned command with a traceparent holding a NUL, or a 0xff byte:
	// the header is dropped and the command runs as any other.
	hostileTraceparentNUL hostileKind = "traceparent-nul"
	hostileTraceparentFF  hostileKind = "traceparent-ff"
	// A schema-invalid command carrying a header with a NUL (and one that
	// is not UTF-8, and a bad traceparent): dead letter and refusal
	// SCHEMA_INVALID, the headers kept base64-encoded in the dead letter.
	hostileNULHeader hostileKind = "nul-header"
	// An empty value, and a tombstone (no value): dead letter EMPTY_MESSAGE.
	hostileEmptyValue hostileKind = "empty-value"
	hostileTombstone  hostileKind = "tombstone"
	// Schema-invalid commands carrying, in fields that break their rules, a
	// national id, an IBAN, a card account and a deposit number: dead
	// letter and refusal SCHEMA_INVALID, and none of the values in any
	// answer or log.
	hostileNationalID  hostileKind = "national-id"
	hostileIBAN        hostileKind = "iban"
	hostileCardAccount hostileKind = "card-account"
	hostileDeposit     hostileKind = "deposit-number"
	// The trackId of an earlier command with another payload: a refusal
	// TRACK_ID_CONFLICT under refused:<trackId>; the command's result stays.
	hostileConflict hostileKind = "track-id-conflict"
	// A message over the size limit: dead letter MESSAGE_TOO_LARGE (a
	// record of blockd's own in place of the copy).
	hostileTooLarge hostileKind = "too-large"
	// A card block whose blockCode is "<"×200,000 (1.2 MB once JSON-escaped,
	// had a reason quoted it): SCHEMA_INVALID, or MESSAGE_TOO_LARGE under a
	// limit below its size.
	hostileBigField hostileKind = "big-field"
	// A command with hundreds of unknown fields, each of which the reason
	// names: the refusal's reason is cut at schemas.MaxReasonBytes.
	hostileHugeReason hostileKind = "huge-reason"
	// The planned Arhivaar block whose result is the largest any input can
	// make (the note is echoed: 1000 "<", 6 bytes each escaped): FAILED
	// RESULT_TOO_LARGE when that result is over -max-message-bytes.
	hostileLargestResult hostileKind = "largest-result"
)

// mixKinds are the kinds drawn in turn.
var mixKinds = []hostileKind{hostileNULString, hostileTraceparentNUL, hostileTraceparentFF, hostileNULHeader,
	hostileEmptyValue, hostileTombstone, hostileNationalID, hostileIBAN, hostileCardAccount, hostileDeposit,
	hostileConflict, hostileTooLarge, hostileBigField}

// hostileHeader names the header that marks each message of the hostile
// mix with its id, so that the producer learns where the broker put it.
const hostileHeader = "chaos-hostile"

// hostileMessage is one message of the hostile mix and the answer blockd
// owes it.
type hostileMessage struct {
	ID      string // the hostileHeader value: h00001
	Kind    hostileKind
	TrackID string // the trackId blockd can read from it; "" none
	// Command: the message is a planned command (in plan.byTrack), checked
	// as every command is, and it must run as one (a result under its
	// trackId; no refusal, no dead letter).
	Command bool
	// DLQCode is the blockd-dlq-code of its dead letter; "" when none is owed.
	DLQCode string
	// RefusalCode is the error.code of its refusal under refused:<TrackID>;
	// "" when none is owed.
	RefusalCode string
	// EncodedHeader is a header the dead letter must keep base64-encoded.
	EncodedHeader *kafka.Header
	// Largest-result: whether the result is over the limit (WantTooLarge:
	// FAILED RESULT_TOO_LARGE is owed) or well within it (WantFits: that
	// code must not come); neither when the estimate is too close to call.
	WantTooLarge, WantFits bool
	ResultBytes            int // the estimated size of the largest result
	Sensitive              string
	Size                   int // the message's size as blockd counts it
}

// sensitiveValue is a value of the kind blockd must never echo, planted in
// the bad fields of a hostile message.
type sensitiveValue struct{ name, value string }

// hostilePlanner adds the hostile mix to a plan.
type hostilePlanner struct {
	p         *commandPlan
	rng       *rand.Rand
	run       string
	limit     int
	validator *schemas.Validator
	seq       int
	sensitive map[hostileKind]string
}

// kindOfTopic is the command kind blockd reads from each topic.
func kindOfTopic(topic string) schemas.Kind {
	for k, t := range chaosKindTopics {
		if t == topic {
			return k
		}
	}
	return ""
}

// msgSize is a message's size as blockd counts it (schemas.Outbound.Size).
func msgSize(key, value []byte, headers []kafka.Header) int {
	n := schemas.RecordOverhead + len(key) + len(value)
	for _, h := range headers {
		n += schemas.HeaderOverhead + len(h.Key) + len(h.Value)
	}
	return n
}

// addHostile mixes hostile messages into the plan: round(rate × commands)
// of them (at least one of each kind of mixKinds), each keyed by the key
// of a planned command and published on that command's topic right before
// it (a conflict right after the command whose trackId it takes), plus one
// hostileHugeReason and the hostileLargestResult command. limit is
// blockd's BLOCKD_MAX_MESSAGE_BYTES. With rate 0 it adds nothing. It uses
// rng only, so the commands of a seed do not depend on the rate.
func addHostile(p *commandPlan, rng *rand.Rand, run string, rate float64, limit int) error {
	if rate <= 0 {
		return nil
	}
	v, err := schemas.NewValidator()
	if err != nil {
		return err
	}
	h := &hostilePlanner{p: p, rng: rng, run: run, limit: limit, validator: v}
	h.pickSensitive()
	if err := h.largestResult(); err != nil {
		return err
	}
	n := max(int(math.Round(rate*float64(p.total))), len(mixKinds))
	kinds := make([]hostileKind, 0, n+1)
	for i := range n {
		kinds = append(kinds, mixKinds[i%len(mixKinds)])
	}
	kinds = append(kinds, hostileHugeReason)
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })

	// before[c][j]: messages published right before step j of chain c;
	// after[c][j]: right after it.
	before, after := map[int]map[int][]*chaosCommand{}, map[int]map[int][]*chaosCommand{}
	place := func(into map[int]map[int][]*chaosCommand, c, j int, m *chaosCommand) {
		if into[c] == nil {
			into[c] = map[int][]*chaosCommand{}
		}
		into[c][j] = append(into[c][j], m)
	}
	for _, kind := range kinds {
		c, j, ok := h.stepFor(kind, after)
		if !ok {
			p.skipped = append(p.skipped, kind)
			continue
		}
		s := p.chains[c][j]
		switch kind {
		case hostileTraceparentNUL, hostileTraceparentFF:
			h.markTraceparent(kind, s)
			continue
		}
		m, err := h.message(kind, s)
		if err != nil {
			return err
		}
		if kind == hostileConflict {
			m.Delay = time.Duration(h.rng.Int64N(int64(300 * time.Millisecond)))
			place(after, c, j, m)
		} else {
			place(before, c, j, m)
		}
	}
	for c, steps := range p.chains {
		if before[c] == nil && after[c] == nil {
			continue
		}
		var out []*chaosCommand
		for j, s := range steps {
			for i, m := range before[c][j] {
				if i == 0 {
					// The hostile message takes the command's place in time;
					// the command follows it at once, behind it on its key.
					m.Delay, s.Delay = s.Delay, 0
				}
				out = append(out, m)
			}
			out = append(out, s)
			out = append(out, after[c][j]...)
		}
		p.chains[c] = out
	}
	p.steps = 0
	for _, steps := range p.chains {
		p.steps += len(steps)
		for _, s := range steps {
			if s.Hostile != nil {
				p.hostile = append(p.hostile, s)
			}
		}
	}
	return nil
}

// stepFor picks the planned command a message of kind goes with: chain c,
// step j. after holds the conflicts placed so far (one per command).
func (h *hostilePlanner) stepFor(kind hostileKind, after map[int]map[int][]*chaosCommand) (c, j int, ok bool) {
	for range 20000 {
		c = h.rng.IntN(len(h.p.chains))
		steps := h.p.chains[c]
		if len(steps) == 0 {
			continue
		}
		j = h.rng.IntN(len(steps))
		s := steps[j]
		switch kind {
		case hostileNULString:
			ok = s.Cmd.Description != "" || s.Cmd.Note != ""
		case hostileTraceparentNUL, hostileTraceparentFF:
			ok = s.Hostile == nil
		case hostileConflict:
			// The first command of a chain, a block: nothing published
			// before it on its chain can hold the trackId.
			ok = j == 0 && s.Cmd.Kind == schemas.KindBlock && len(after[c][j]) == 0 && s.Hostile == nil
		default:
			ok = true
		}
		if ok {
			return c, j, true
		}
	}
	return 0, 0, false
}

func (h *hostilePlanner) nextID(tag string) (id, trackID string) {
	h.seq++
	return fmt.Sprintf("h%05d", h.seq), fmt.Sprintf("cx%s-h%s-%05d", h.run, tag, h.seq)
}

// pickSensitive draws the run's national id (with its check digit), IBAN
// (with its check digits), card account and deposit number, none of which
// any planned command holds.
func (h *hostilePlanner) pickSensitive() {
	digits := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteByte(byte('0' + h.rng.IntN(10)))
		}
		return b.String()
	}
	for {
		nid := nationalID(digits(9))
		bban := "0" + digits(21)
		iban := "IR" + ibanCheck("IR", bban) + bban
		cardAcct := "0" + digits(18)
		deposit := "0409" + digits(9)
		clash := false
		for _, c := range h.p.byTrack {
			for _, v := range []string{nid, iban, cardAcct, deposit} {
				if bytes.Contains(c.Value, []byte(v)) {
					clash = true
				}
			}
		}
		if !clash {
			h.sensitive = map[hostileKind]string{hostileNationalID: nid, hostileIBAN: iban, hostileCardAccount: cardAcct, hostileDeposit: deposit}
			h.p.sensitive = []sensitiveValue{{"national id", nid}, {"IBAN", iban}, {"card account", cardAcct}, {"deposit number", deposit}}
			return
		}
	}
}

// nationalID appends the check digit of an Iranian national code to its
// first nine digits.
func nationalID(nine string) string {
	sum := 0
	for i, d := range nine {
		sum += int(d-'0') * (10 - i)
	}
	check := sum % 11
	if check >= 2 {
		check = 11 - check
	}
	return nine + string(rune('0'+check))
}

// ibanCheck computes the two check digits of an IBAN (ISO 13616, mod 97).
func ibanCheck(country, bban string) string {
	var num strings.Builder
	num.WriteString(bban)
	for _, r := range country {
		fmt.Fprintf(&num, "%d", r-'A'+10)
	}
	num.WriteString("00")
	n, _ := new(big.Int).SetString(num.String(), 10)
	return fmt.Sprintf("%02d", 98-new(big.Int).Mod(n, big.NewInt(97)).Int64())
}

// traceparentBase is a W3C traceparent a hostile one is made from.
const traceparentBase = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// markTraceparent gives planned command s a traceparent with a NUL or a
// 0xff byte in its trace-id: blockd must drop it and run the command.
func (h *hostilePlanner) markTraceparent(kind hostileKind, s *chaosCommand) {
	id, _ := h.nextID("tp")
	bad := []byte(traceparentBase)
	bad[3+h.rng.IntN(32)] = map[hostileKind]byte{hostileTraceparentNUL: 0x00, hostileTraceparentFF: 0xff}[kind]
	s.Headers = append(s.Headers, kafka.Header{Key: "traceparent", Value: bad}, kafka.Header{Key: hostileHeader, Value: []byte(id)})
	s.Hostile = &hostileMessage{ID: id, Kind: kind, TrackID: s.Cmd.TrackID, Command: true, Size: msgSize([]byte(s.Key), s.Value, s.Headers)}
}

// marshalRaw encodes v as JSON without escaping '<', '>' and '&', as an
// upstream in another language would send it.
func marshalRaw(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// withField adds the raw JSON field name:value to the object obj.
func withField(obj []byte, name string, value string) []byte {
	out := bytes.TrimRight(obj, "}")
	return append(append(out, ","+jsonString(name)+":"...), value+"}"...)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// message builds a hostile message of kind to publish on s's topic with
// s's key, and what blockd owes it; it checks the message with blockd's
// own validator, so that the plan cannot expect what the schemas do not
// say.
func (h *hostilePlanner) message(kind hostileKind, s *chaosCommand) (*chaosCommand, error) {
	m := &hostileMessage{Kind: kind}
	out := &chaosCommand{Topic: s.Topic, Key: s.Key, Chain: s.Chain, Label: "hostile/" + string(kind), Hostile: m}
	var err error
	switch kind {
	case hostileNULString:
		c := s.Cmd
		m.ID, c.TrackID = h.nextID("nul")
		if c.Description != "" {
			c.Description = "court\x00order " + c.Description
		} else {
			c.Note = "court\x00order " + c.Note
		}
		out.Value, err = json.Marshal(c)
		m.DLQCode, m.RefusalCode = schemas.CodeUnstorableCharacter, schemas.CodeUnstorableCharacter
	case hostileNULHeader:
		c := s.Cmd
		m.ID, c.TrackID = h.nextID("nh")
		out.Value, err = json.Marshal(c)
		out.Value = withField(out.Value, "comment", `"a field no command has"`)
		badTrace := []byte(traceparentBase)
		badTrace[10] = 0xff
		out.Headers = []kafka.Header{{Key: "x-chaos-note", Value: []byte("court\x00order")},
			{Key: "x-chaos-bytes", Value: []byte{0xff, 0xfe, 'x'}}, {Key: "traceparent", Value: badTrace}}
		encoded := out.Headers[0]
		m.EncodedHeader = &encoded
		m.DLQCode, m.RefusalCode = schemas.CodeSchemaInvalid, schemas.CodeSchemaInvalid
	case hostileEmptyValue, hostileTombstone:
		m.ID, _ = h.nextID("e")
		if kind == hostileEmptyValue {
			out.Value = []byte{}
		}
		m.DLQCode = schemas.CodeEmptyMessage
	case hostileNationalID, hostileIBAN, hostileCardAccount, hostileDeposit:
		var tag string
		m.ID, tag = h.nextID("sv")
		m.Sensitive = h.sensitive[kind]
		out.Value, err = json.Marshal(sensitiveCommand(kind, tag, m.Sensitive))
		m.DLQCode, m.RefusalCode = schemas.CodeSchemaInvalid, schemas.CodeSchemaInvalid
	case hostileConflict:
		c := s.Cmd
		m.ID, _ = h.nextID("cf")
		switch c.Provider {
		case schemas.ProviderFinnotech:
			c.Amount += 1000
		case schemas.ProviderArhivaar:
			c.Note += " (changed)"
		case schemas.ProviderCard:
			c.BlockCode = "Z" // the plan draws B..Y
		}
		out.Value, err = json.Marshal(c)
		m.RefusalCode = schemas.CodeTrackIDConflict
	case hostileTooLarge:
		c := s.Cmd
		m.ID, c.TrackID = h.nextID("tl")
		out.Value, err = json.Marshal(c)
		out.Value = withField(out.Value, "padding", jsonString(strings.Repeat("x", h.limit+1024)))
		// Too large to be read: a dead letter (blockd's record of where the
		// message is), and no refusal owed.
		m.DLQCode = schemas.CodeTooLarge
	case hostileBigField:
		var tid string
		m.ID, tid = h.nextID("big")
		acct := s.Cmd.AccountID
		if s.Cmd.Provider != schemas.ProviderCard {
			acct = "0" + strings.Repeat("9", 18)
		}
		out.Value = []byte(`{"trackId":` + jsonString(tid) + `,"provider":"card","accountId":` + jsonString(acct) +
			`,"blockCodeSlot":1,"blockCode":"` + strings.Repeat("<", 200_000) + `"}`)
		m.DLQCode, m.RefusalCode = schemas.CodeSchemaInvalid, schemas.CodeSchemaInvalid
	case hostileHugeReason:
		var tid string
		m.ID, tid = h.nextID("hr")
		fields := map[string]any{"trackId": tid, "provider": "finnotech"}
		for i := range 300 {
			fields["unknown"+letters(i)] = i
		}
		out.Value, err = json.Marshal(fields)
		m.DLQCode, m.RefusalCode = schemas.CodeSchemaInvalid, schemas.CodeSchemaInvalid
	default:
		return nil, fmt.Errorf("no hostile message of kind %s", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("building a %s message: %w", kind, err)
	}
	out.Headers = append(out.Headers, kafka.Header{Key: hostileHeader, Value: []byte(m.ID)})
	out.Cmd.TrackID = readTrackID(out.Value)
	m.TrackID = out.Cmd.TrackID
	m.Size = msgSize([]byte(out.Key), out.Value, out.Headers)
	if m.Size > h.limit && m.DLQCode != schemas.CodeEmptyMessage {
		// blockd reads nothing of a message over the limit.
		m.DLQCode, m.RefusalCode = schemas.CodeTooLarge, ""
	}
	if err := h.check(out); err != nil {
		return nil, err
	}
	return out, nil
}

// letters names the i-th unknown field: a, b, ..., z, ba, bb, ...
func letters(i int) string {
	s := string(rune('a' + i%26))
	for i /= 26; i > 0; i /= 26 {
		s = string(rune('a'+i%26)) + s
	}
	return s
}

// sensitiveCommand is a command that breaks its schema in fields holding
// value (of kind), as a confused upstream might send it.
func sensitiveCommand(kind hostileKind, trackID, value string) map[string]any {
	switch kind {
	case hostileNationalID:
		return map[string]any{"trackId": trackID, "provider": "finnotech", "inquiry": "facility", "clientId": chaosFinnotechClient,
			"nationalId": value + "-", "amount": value}
	case hostileIBAN:
		return map[string]any{"trackId": trackID, "provider": "finnotech", "destination": value + " ", "amount": value, value: true}
	case hostileCardAccount:
		return map[string]any{"trackId": trackID, "provider": "card", "accountId": value + "0", "blockCodeSlot": value, "blockCode": "B"}
	default: // hostileDeposit
		return map[string]any{"trackId": trackID, "provider": "finnotech", "deposit": value, "days": value, "clientId": value + "!"}
	}
}

// readTrackID is the trackId of a JSON command, "" when there is none.
func readTrackID(value []byte) string {
	var v struct {
		TrackID string `json:"trackId"`
	}
	if json.Unmarshal(value, &v) != nil {
		return ""
	}
	return v.TrackID
}

// check runs blockd's validator on a hostile message and fails planning
// when it would not answer what the message's kind expects.
func (h *hostilePlanner) check(s *chaosCommand) error {
	m := s.Hostile
	kind := kindOfTopic(s.Topic)
	if m.DLQCode == schemas.CodeEmptyMessage || m.DLQCode == schemas.CodeTooLarge {
		return nil
	}
	cmd, err := h.validator.DecodeCommand(kind, s.Value)
	var ie *schemas.InvalidError
	switch {
	case m.Kind == hostileConflict:
		if err != nil {
			return fmt.Errorf("the chaos plan made an invalid conflicting %s command: %w", kind, err)
		}
		if cmd.TrackID != m.TrackID {
			return fmt.Errorf("the chaos plan made a conflicting command with trackId %s, want %s", cmd.TrackID, m.TrackID)
		}
	case err == nil:
		return fmt.Errorf("the chaos plan made a %s message blockd's validator accepts, want %s", m.Kind, m.DLQCode)
	case !errors.As(err, &ie):
		return fmt.Errorf("validating a %s message of the chaos plan: %w", m.Kind, err)
	case ie.Code != m.DLQCode || ie.TrackID != m.TrackID:
		return fmt.Errorf("the chaos plan made a %s message blockd's validator answers %s for trackId %q, want %s for %q",
			m.Kind, ie.Code, ie.TrackID, m.DLQCode, m.TrackID)
	case m.Kind == hostileHugeReason && len(ie.Message) <= schemas.MaxReasonBytes:
		return fmt.Errorf("the chaos plan made a huge-reason message whose reason is only %d bytes", len(ie.Message))
	}
	return nil
}

// largestResult turns the first planned Arhivaar block (and its unblock)
// into the command whose result is the largest an input can make: a
// 256-character account id and a note of 1000 "<", which Arhivaar's result
// echoes (6 bytes each once JSON-escaped). Whether that result is over the
// limit decides what blockd owes it.
func (h *hostilePlanner) largestResult() error {
	for _, steps := range h.p.chains {
		if len(steps) == 0 || steps[0].Label != "arhivaar/block" {
			continue
		}
		b := make([]byte, 128)
		for i := range b {
			b[i] = byte(h.rng.Uint32())
		}
		acct := hex.EncodeToString(b)
		for _, s := range steps {
			s.Cmd.AccountID, s.Key = acct, acct
			if s.Cmd.Kind == schemas.KindBlock {
				s.Cmd.Note = strings.Repeat("<", 1000)
			}
			value, err := marshalRaw(s.Cmd)
			if err != nil {
				return err
			}
			if _, err := h.validator.DecodeCommand(s.Cmd.Kind, value); err != nil {
				return fmt.Errorf("the chaos plan made an invalid largest-result command: %w", err)
			}
			s.Value = value
		}
		s := steps[0]
		id, _ := h.nextID("lr")
		s.Headers = append(s.Headers, kafka.Header{Key: hostileHeader, Value: []byte(id)})
		est := estimateArhivaarResult(s.Cmd)
		s.Hostile = &hostileMessage{ID: id, Kind: hostileLargestResult, TrackID: s.Cmd.TrackID, Command: true, ResultBytes: est,
			WantTooLarge: est > h.limit+256, WantFits: est < h.limit-256, Size: msgSize([]byte(s.Key), s.Value, s.Headers)}
		return nil
	}
	h.p.skipped = append(h.p.skipped, hostileLargestResult)
	return nil
}

// estimateArhivaarResult is the size blockd counts for the DONE result of
// Arhivaar block c (schemas.Outbound.Size), give or take a few bytes of
// timestamps and counts.
func estimateArhivaarResult(c schemas.Command) int {
	out, _ := json.Marshal(arhivaar.Result{AccountID: c.AccountID, Blocked: true, Note: c.Note, StateFrom: arhivaar.StateFromAnswer})
	t := time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.FixedZone("IRST", 12600))
	eventID := "00000000-0000-0000-0000-000000000000"
	v, _ := json.Marshal(schemas.Result{EventID: eventID, TrackID: c.TrackID, Type: schemas.KindBlock, Provider: c.Provider,
		Status: schemas.StatusDone, Result: out, Attempts: 1, ReceivedAt: t, CompletedAt: t})
	headers := []kafka.Header{{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte(eventID)},
		{Key: "ce_type", Value: []byte("dev.blockd.result.block")}, {Key: "ce_source", Value: []byte("/blockd")},
		{Key: "ce_subject", Value: []byte(c.TrackID)}, {Key: "ce_time", Value: []byte(t.Format(time.RFC3339Nano))},
		{Key: "content-type", Value: []byte("application/json")}}
	return msgSize([]byte(c.TrackID), v, headers)
}
