package processor

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/schemas"
)

// RefusalKeyPrefix starts the Kafka key of a refusal: the answer to a
// message that did not become the command stored under its trackId (it was
// invalid, too large, could not be stored, or reused the trackId of another
// command). A refusal of trackId T is keyed RefusalKeyPrefix + T, never T
// (':' is no trackId character), and its ce_type is
// "dev.blockd.refusal.<type>": the key T carries only the result of the
// command T, so a consumer that keeps the latest event per key, or a
// compacted results topic, always holds that result.
const RefusalKeyPrefix = "refused:"

// EncodedHeaderPrefix names, with the header's position appended, a header
// of a dead-lettered message that could not be kept as it was: its key or
// value is not UTF-8 text without NUL (PostgreSQL keeps headers as jsonb),
// it repeats an earlier key, or it uses a name blockd's dead letter headers
// use. Its value is base64(key) ":" base64(value), the original bytes.
const EncodedHeaderPrefix = "blockd-dlq-header-"

// The headers of a dead letter, and of the record that replaces one too
// large to copy.
const (
	headerDLQCode         = "blockd-dlq-code"
	headerDLQReason       = "blockd-dlq-reason"
	headerDLQReplaced     = "blockd-dlq-replaced"
	headerSourceTopic     = "blockd-source-topic"
	headerSourcePartition = "blockd-source-partition"
	headerSourceOffset    = "blockd-source-offset"
)

// maxReplacedKeyBytes bounds the key a replacement record keeps.
const maxReplacedKeyBytes = 256

// reject answers a message that cannot become a command: the raw message
// goes to the dead letter topic with the reason in its headers and, when a
// trackId could be read, a refusal goes to the results topic. Both are
// queued in one transaction; a redelivery produces the same eventId. If
// PostgreSQL refuses even that, the dead letter is replaced by a record
// of blockd's own saying where the original is, which it can store.
func (p *Processor) reject(ctx context.Context, log zerolog.Logger, m kafka.Message, trackID string, kind schemas.Kind, provider schemas.Provider, ie *schemas.InvalidError) error {
	reason := schemas.BoundReason(ie.Message)
	log.Warn().Str("code", ie.Code).Str("reason", reason).Msg("dead-lettering a message that cannot become a command")
	msgs := []schemas.Outbound{p.deadLetter(m, ie.Code, reason)}
	if trackID != "" && kind != "" {
		res := p.result(trackID, kind, provider, schemas.StatusRejected, nil, &schemas.ErrorInfo{Code: ie.Code, Message: reason}, 0, time.Now(), messageEventID(m))
		msgs = append(msgs, p.refusalMessage(res, traceparent(log, m)))
	}
	err := p.store.Enqueue(ctx, msgs)
	if errors.Is(err, schemas.ErrUnstorable) {
		log.Error().Err(err).Msg("PostgreSQL refused the dead letter; queueing a record of where the message is instead")
		msgs[0] = p.replacement(m, ie.Code, reason, "PostgreSQL refused to store it ("+err.Error()+")")
		if err = p.store.Enqueue(ctx, msgs); errors.Is(err, schemas.ErrUnstorable) && len(msgs) > 1 {
			log.Error().Err(err).Msg("PostgreSQL refused the refusal too; queueing only the record of where the message is")
			err = p.store.Enqueue(ctx, msgs[:1])
		}
	}
	if err != nil {
		return fmt.Errorf("queueing rejection: %w", err)
	}
	p.observer.Finished(kind, provider, schemas.StatusRejected, ie.Code)
	return nil
}

// unstorable is the answer to a message whose data PostgreSQL refused.
func unstorable(err error) *schemas.InvalidError {
	return &schemas.InvalidError{Code: schemas.CodeUnstorable, Message: "PostgreSQL refused to store what the message carries: " + err.Error()}
}

// deadLetter is the dead letter of m: its key and value as they were, its
// headers (those that are not storable text encoded, see
// EncodedHeaderPrefix) and blockd's: the code, the reason and where m was.
// One that would be larger than MaxMessageBytes is replaced by a record
// saying so.
func (p *Processor) deadLetter(m kafka.Message, code, reason string) schemas.Outbound {
	headers := make(map[string]string, len(m.Headers)+5)
	for i, h := range m.Headers {
		_, taken := headers[h.Key]
		if taken || !storableText(h.Key) || !storableText(string(h.Value)) || reservedHeader(h.Key) {
			headers[EncodedHeaderPrefix+strconv.Itoa(i)] = base64.StdEncoding.EncodeToString([]byte(h.Key)) + ":" + base64.StdEncoding.EncodeToString(h.Value)
			continue
		}
		headers[h.Key] = string(h.Value)
	}
	for k, v := range sourceHeaders(m, code, reason) {
		headers[k] = v
	}
	value := m.Value
	if value == nil {
		value = []byte{} // a tombstone: the dead letter has an empty value
	}
	d := schemas.Outbound{Topic: p.cfg.DLQTopic, Key: m.Key, Value: value, Headers: headers}
	if size := d.Size(); size > p.cfg.MaxMessageBytes {
		return p.replacement(m, code, reason, fmt.Sprintf("the dead letter would be %d bytes, more than the %d allowed", size, p.cfg.MaxMessageBytes))
	}
	return d
}

// replacement is the record that stands for a dead letter blockd could
// not write (why says why): the code, the reason and where the original
// message is (topic, partition, offset: it stays there for the topic's
// retention), and none of its contents but a short key.
func (p *Processor) replacement(m kafka.Message, code, reason, why string) schemas.Outbound {
	where := fmt.Sprintf("%s/%d/%d", m.Topic, m.Partition, m.Offset)
	replaced := why + "; the original is at " + where
	body, err := json.Marshal(struct {
		Replaced        string `json:"replaced"`
		Code            string `json:"code"`
		Reason          string `json:"reason"`
		SourceTopic     string `json:"sourceTopic"`
		SourcePartition int    `json:"sourcePartition"`
		SourceOffset    int64  `json:"sourceOffset"`
		OriginalBytes   int    `json:"originalBytes"`
	}{replaced, code, reason, m.Topic, m.Partition, m.Offset, messageSize(m)})
	if err != nil {
		panic(fmt.Sprintf("encoding a dead letter's replacement: %v", err)) // strings and numbers only
	}
	headers := sourceHeaders(m, code, reason)
	headers[headerDLQReplaced] = schemas.BoundReason(replaced)
	key := m.Key
	if len(key) > maxReplacedKeyBytes {
		key = nil
	}
	r := schemas.Outbound{Topic: p.cfg.DLQTopic, Key: key, Value: body, Headers: headers}
	if r.Size() > p.cfg.MaxMessageBytes {
		// Only with a limit of a few KiB: keep where the original is.
		delete(r.Headers, headerDLQReason)
		r.Value = []byte(`{"sourceTopic":` + strconv.Quote(m.Topic) + `,"sourcePartition":` + strconv.Itoa(m.Partition) +
			`,"sourceOffset":` + strconv.FormatInt(m.Offset, 10) + `}`)
	}
	return r
}

// sourceHeaders are blockd's headers of a dead letter.
func sourceHeaders(m kafka.Message, code, reason string) map[string]string {
	return map[string]string{
		headerDLQCode:         code,
		headerDLQReason:       schemas.BoundReason(reason),
		headerSourceTopic:     m.Topic,
		headerSourcePartition: strconv.Itoa(m.Partition),
		headerSourceOffset:    strconv.FormatInt(m.Offset, 10),
	}
}

// storableText reports whether s can be kept in PostgreSQL text or jsonb.
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// reservedHeader reports whether a header name is one blockd's dead letters use.
func reservedHeader(key string) bool {
	return strings.HasPrefix(key, "blockd-dlq-") || strings.HasPrefix(key, "blockd-source-")
}

// messageSize is m's size as schemas.Outbound.Size counts it.
func messageSize(m kafka.Message) int {
	n := schemas.RecordOverhead + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += schemas.HeaderOverhead + len(h.Key) + len(h.Value)
	}
	return n
}

// resultMessage is the Kafka message of a command's result event: key =
// trackId, CloudEvents binary-mode headers (ce_type
// dev.blockd.result.<type>), the command's traceparent passed through.
func (p *Processor) resultMessage(r schemas.Result, traceparent string) schemas.Outbound {
	return p.event(r, traceparent, r.TrackID, "dev.blockd.result.")
}

// refusalMessage is the Kafka message of a refusal (see RefusalKeyPrefix):
// key RefusalKeyPrefix + trackId, ce_type dev.blockd.refusal.<type>.
func (p *Processor) refusalMessage(r schemas.Result, traceparent string) schemas.Outbound {
	return p.event(r, traceparent, RefusalKeyPrefix+r.TrackID, "dev.blockd.refusal.")
}

func (p *Processor) event(r schemas.Result, traceparent, key, typePrefix string) schemas.Outbound {
	if r.Error != nil {
		e := *r.Error
		e.Message = schemas.BoundReason(e.Message)
		r.Error = &e
	}
	value, err := json.Marshal(r)
	if err != nil {
		panic(fmt.Sprintf("encoding result event: %v", err)) // only strings, numbers and valid JSON
	}
	h := map[string]string{
		"ce_specversion": "1.0",
		"ce_id":          r.EventID,
		"ce_type":        typePrefix + string(r.Type),
		"ce_source":      p.cfg.Source,
		"ce_subject":     r.TrackID,
		"ce_time":        r.CompletedAt.Format(time.RFC3339Nano),
		"content-type":   "application/json",
	}
	if traceparent != "" {
		h["traceparent"] = traceparent
	}
	if p.cfg.Simulated[r.Provider] {
		h[SimulatedHeader] = "true"
		h["ce_source"] = p.cfg.Source + "/sandbox"
	}
	return schemas.Outbound{Topic: p.cfg.ResultsTopic, Key: []byte(key), Value: value, Headers: h}
}

// messageEventID derives an eventId from a message's position, so that a
// redelivered message is answered with the same eventId.
func messageEventID(m kafka.Message) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "kafka:%s/%d/%d", m.Topic, m.Partition, m.Offset)).String()
}

// traceparentHead is a W3C trace context traceparent's first 55 characters:
// version, trace-id, parent-id, flags.
var traceparentHead = regexp.MustCompile(`^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`)

// maxTraceparentBytes bounds a traceparent of a future version, which may
// carry more fields after the 55 characters of version 00.
const maxTraceparentBytes = 256

// traceparent is m's traceparent header when it is W3C trace context, and
// "" otherwise: one that is not (NUL or non-UTF-8 bytes PostgreSQL refuses,
// or any other shape) is dropped with a log line that does not quote it,
// and the command runs without it.
func traceparent(log zerolog.Logger, m kafka.Message) string {
	for _, h := range m.Headers {
		if h.Key != "traceparent" {
			continue
		}
		if validTraceparent(string(h.Value)) {
			return string(h.Value)
		}
		log.Warn().Int("bytes", len(h.Value)).Msg("dropping a traceparent header that is not W3C trace context; the command runs without it")
		return ""
	}
	return ""
}

func validTraceparent(s string) bool {
	if len(s) < 55 || len(s) > maxTraceparentBytes || !traceparentHead.MatchString(s[:55]) {
		return false
	}
	version, traceID, parentID := s[:2], s[3:35], s[36:52]
	if version == "ff" || traceID == strings.Repeat("0", 32) || parentID == strings.Repeat("0", 16) {
		return false
	}
	if len(s) == 55 {
		return true
	}
	if version == "00" || s[55] != '-' {
		return false
	}
	for i := 56; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
