package processor_test

// Regression tests of issue 9's findings 1, 4 (the messages blockd writes),
// 5 and 6: hostile input is answered, never retried as an outage; every
// message written fits the limit; a refusal never takes a command's key;
// no reason repeats a value.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/schemas"
)

// outbox returns every message queued in the outbox, oldest first.
func (e *env) outbox() []schemas.Outbound {
	e.t.Helper()
	rows, err := e.store.DB().Query(`SELECT topic, key, value, headers FROM outbox ORDER BY id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []schemas.Outbound
	for rows.Next() {
		var m schemas.Outbound
		var headers []byte
		if err := rows.Scan(&m.Topic, &m.Key, &m.Value, &headers); err != nil {
			e.t.Fatal(err)
		}
		if err := json.Unmarshal(headers, &m.Headers); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// deadLetters returns the outbox messages for the dead letter topic.
func (e *env) deadLetters() []schemas.Outbound {
	var out []schemas.Outbound
	for _, m := range e.outbox() {
		if m.Topic == "blockd.dlq" {
			out = append(out, m)
		}
	}
	return out
}

// answersFor returns the result-topic messages whose event names trackID,
// whatever their key.
func (e *env) answersFor(trackID string) []schemas.Outbound {
	e.t.Helper()
	var out []schemas.Outbound
	for _, m := range e.outbox() {
		var r schemas.Result
		if m.Topic == "blockd.results" && json.Unmarshal(m.Value, &r) == nil && r.TrackID == trackID {
			out = append(out, m)
		}
	}
	return out
}

// handleMessage hands m to the env's processor at the next offset, as the
// consumer would, and returns what Handle returned.
func (e *env) handleMessage(m kafka.Message) error {
	e.offset++
	m.Offset = e.offset
	if m.Topic == "" {
		m.Topic = blockTopic
	}
	return e.proc.Handle(context.Background(), m)
}

func decodeResult(t *testing.T, m schemas.Outbound) schemas.Result {
	t.Helper()
	var r schemas.Result
	if err := json.Unmarshal(m.Value, &r); err != nil {
		t.Fatalf("decoding result %s: %v", m.Value, err)
	}
	return r
}

// TestUnstorableInputIsAnsweredNotRetried (finding 1): what PostgreSQL
// cannot store is answered before anything is written, and Handle returns
// nil, so the partition moves on. Each of these was once refused by
// PostgreSQL and returned for retry, forever.
func TestUnstorableInputIsAnsweredNotRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	const goodTrace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

	t.Run("NUL in a string of a valid command", func(t *testing.T) {
		if err := e.handleMessage(kafka.Message{Key: []byte("k"), Value: []byte(`{"trackId":"nul-1","provider":"arhivaar","accountId":"ab40","note":"court\u0000order"}`)}); err != nil {
			t.Fatalf("Handle: %v, want nil (answered, not retried)", err)
		}
		answers := e.answersFor("nul-1")
		if len(answers) != 1 {
			t.Fatalf("got %d answers for nul-1, want 1", len(answers))
		}
		if r := decodeResult(t, answers[0]); r.Status != schemas.StatusRejected || r.Error == nil || r.Error.Code != schemas.CodeUnstorableCharacter ||
			!strings.Contains(r.Error.Message, "note") {
			t.Fatalf("got %s %+v, want REJECTED %s naming note", r.Status, r.Error, schemas.CodeUnstorableCharacter)
		}
		if st, _ := e.store.State(context.Background(), "nul-1"); st != "" {
			t.Fatalf("the command was stored (%s); nothing may be written for it but its answer", st)
		}
		if got := e.arhivaar.RequestsFor("ab40"); got != 0 {
			t.Fatalf("the provider got %d calls", got)
		}
	})

	for _, tc := range []struct{ name, trackID, trace string }{
		{"traceparent with NUL", "tp-1", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0\x00"},
		{"traceparent with 0xff", "tp-2", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-\xff1"},
		{"traceparent of another shape", "tp-3", "hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.handleMessage(kafka.Message{Key: []byte("k"), Value: []byte(cardBlock(tc.trackID, "00010000100000004"+tc.trackID[3:]+"0")),
				Headers: []kafka.Header{{Key: "traceparent", Value: []byte(tc.trace)}}})
			if err != nil {
				t.Fatalf("Handle: %v, want nil (the bad traceparent dropped, the command run)", err)
			}
			answers := e.answersFor(tc.trackID)
			if len(answers) != 1 || decodeResult(t, answers[0]).Status != schemas.StatusDone {
				t.Fatalf("got %d answers for %s, want one DONE", len(answers), tc.trackID)
			}
			if tp, ok := answers[0].Headers["traceparent"]; ok {
				t.Fatalf("the bad traceparent was passed on: %q", tp)
			}
		})
	}
	t.Run("good traceparent passed on", func(t *testing.T) {
		if err := e.handleMessage(kafka.Message{Key: []byte("k"), Value: []byte(cardBlock("tp-4", "0001000010000000490")),
			Headers: []kafka.Header{{Key: "traceparent", Value: []byte(goodTrace)}}}); err != nil {
			t.Fatal(err)
		}
		if a := e.answersFor("tp-4"); len(a) != 1 || a[0].Headers["traceparent"] != goodTrace {
			t.Fatalf("answers %+v, want one carrying the traceparent", a)
		}
	})

	t.Run("invalid message with headers that are not text", func(t *testing.T) {
		before := len(e.deadLetters())
		headers := []kafka.Header{
			{Key: "note", Value: []byte("a\x00b")},
			{Key: "bin", Value: []byte{0xff, 0xfe, 0x00}},
			{Key: "k\x00ey", Value: []byte("v")},
			{Key: "blockd-dlq-code", Value: []byte("forged")},
			{Key: "plain", Value: []byte("kept as it is")},
		}
		if err := e.handleMessage(kafka.Message{Key: []byte("k"), Value: []byte(`{"trackId":"hdr-1",`), Headers: headers}); err != nil {
			t.Fatalf("Handle: %v, want nil (dead-lettered)", err)
		}
		dead := e.deadLetters()
		if len(dead) != before+1 {
			t.Fatalf("got %d new dead letters, want 1", len(dead)-before)
		}
		d := dead[len(dead)-1]
		if d.Headers["blockd-dlq-code"] != schemas.CodeMalformed || d.Headers["plain"] != "kept as it is" {
			t.Fatalf("dead letter headers %v lack the code or the plain header", d.Headers)
		}
		// Every header that could not be kept as text is there, encoded, and
		// decodes to its original bytes.
		recovered := map[string][]byte{}
		for k, v := range d.Headers {
			if !strings.HasPrefix(k, processor.EncodedHeaderPrefix) {
				continue
			}
			key, value, ok := strings.Cut(v, ":")
			kb, err1 := base64.StdEncoding.DecodeString(key)
			vb, err2 := base64.StdEncoding.DecodeString(value)
			if !ok || err1 != nil || err2 != nil {
				t.Fatalf("encoded header %s=%q does not decode", k, v)
			}
			recovered[string(kb)] = vb
		}
		for _, h := range headers[:4] {
			if got, ok := recovered[h.Key]; !ok || !bytes.Equal(got, h.Value) {
				t.Errorf("header %q: recovered %q, want %q", h.Key, got, h.Value)
			}
		}
	})

	for _, tc := range []struct {
		name  string
		value []byte
	}{
		{"empty value", []byte{}},
		{"tombstone", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.deadLetters())
			if err := e.handleMessage(kafka.Message{Key: []byte("k-" + tc.name), Value: tc.value}); err != nil {
				t.Fatalf("Handle: %v, want nil (dead-lettered)", err)
			}
			dead := e.deadLetters()
			if len(dead) != before+1 {
				t.Fatalf("got %d new dead letters, want 1", len(dead)-before)
			}
			d := dead[len(dead)-1]
			if d.Headers["blockd-dlq-code"] != schemas.CodeEmptyMessage || d.Headers["blockd-dlq-reason"] == "" || string(d.Key) != "k-"+tc.name {
				t.Fatalf("dead letter %+v, want code %s with a reason and the message's key", d, schemas.CodeEmptyMessage)
			}
		})
	}
}

// TestDataErrorIsDeadLetteredNotRetried (finding 1): a message whose data
// PostgreSQL refuses for a reason blockd did not foresee (here a CHECK a
// trigger enforces) is dead-lettered with the SQLSTATE, and Handle returns
// nil; an outage (a serialization failure) is still returned for retry.
func TestDataErrorIsDeadLetteredNotRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	if _, err := e.store.DB().Exec(`
		CREATE FUNCTION refuse_for_test() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.track_id = 'poison-1' THEN
				RAISE EXCEPTION 'account 0001000010000000777 is refused' USING ERRCODE = '23514';
			END IF;
			IF NEW.track_id = 'outage-1' THEN
				RAISE EXCEPTION 'could not serialize' USING ERRCODE = '40001';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER refuse_for_test BEFORE INSERT ON commands FOR EACH ROW EXECUTE FUNCTION refuse_for_test();`); err != nil {
		t.Fatal(err)
	}
	if err := e.handleMessage(kafka.Message{Key: []byte("k"), Value: []byte(cardBlock("poison-1", "0001000010000000777"))}); err != nil {
		t.Fatalf("Handle of data PostgreSQL refuses: %v, want nil (dead-lettered, not retried)", err)
	}
	dead := e.deadLetters()
	if len(dead) != 1 {
		t.Fatalf("got %d dead letters, want 1", len(dead))
	}
	reason := dead[0].Headers["blockd-dlq-reason"]
	if dead[0].Headers["blockd-dlq-code"] != schemas.CodeUnstorable || !strings.Contains(reason, "SQLSTATE 23514") || strings.Contains(reason, "0001000010000000777") {
		t.Fatalf("dead letter code %q reason %q, want %s naming SQLSTATE 23514 and no account", dead[0].Headers["blockd-dlq-code"], reason, schemas.CodeUnstorable)
	}
	if a := e.answersFor("poison-1"); len(a) != 1 || decodeResult(t, a[0]).Error == nil || decodeResult(t, a[0]).Error.Code != schemas.CodeUnstorable {
		t.Fatalf("answers for poison-1: %+v, want one refusal %s", a, schemas.CodeUnstorable)
	}
	if got := e.card.Requests(); got != 0 {
		t.Fatalf("the platform got %d calls", got)
	}

	if err := e.handleMessage(kafka.Message{Key: []byte("k"), Value: []byte(cardBlock("outage-1", "0001000010000000778"))}); err == nil {
		t.Fatal("Handle of a serialization failure: got nil, want an error (retried)")
	}
	if got := len(e.deadLetters()); got != 1 {
		t.Fatalf("an outage was dead-lettered (%d dead letters, want 1)", got)
	}

	// PostgreSQL refuses the dead letter itself: a record of blockd's own
	// saying where the message is takes its place, with the refusal.
	if _, err := e.store.DB().Exec(`
		CREATE FUNCTION refuse_dead_letter() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.headers ? 'refuse-me' THEN
				RAISE EXCEPTION 'refused' USING ERRCODE = '22023';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER refuse_dead_letter BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_dead_letter();`); err != nil {
		t.Fatal(err)
	}
	if err := e.handleMessage(kafka.Message{Key: []byte("k"), Value: []byte(`{"trackId":"dl-1","provider":"card"}`),
		Headers: []kafka.Header{{Key: "refuse-me", Value: []byte("x")}}}); err != nil {
		t.Fatalf("Handle when the dead letter is refused: %v, want nil", err)
	}
	dead = e.deadLetters()
	if len(dead) != 2 || !strings.Contains(dead[1].Headers["blockd-dlq-replaced"], "PostgreSQL refused") || dead[1].Headers["blockd-source-offset"] == "" {
		t.Fatalf("dead letters %+v, want a replacement record saying PostgreSQL refused the copy and where the message is", dead)
	}
	if a := e.answersFor("dl-1"); len(a) != 1 {
		t.Fatalf("got %d answers for dl-1, want its refusal", len(a))
	}
}

// TestEveryMessageWrittenFitsTheLimit (finding 4, the messages blockd
// writes): a 200 KB bad field (blockCode of '<' × 200,000, which JSON
// escaping makes 1.2 MB) once became a 1.2 MB REJECTED result and a DLQ
// reason header as large as the message. Every result and dead letter is
// now at most MaxMessageBytes; a dead letter that would be larger is
// replaced by a record saying so and where the original is.
func TestEveryMessageWrittenFitsTheLimit(t *testing.T) {
	t.Parallel()
	hostile := `{"trackId":"big-1","provider":"card","accountId":"0001000010000000001","blockCodeSlot":1,"blockCode":"` + strings.Repeat("<", 200000) + `"}`
	fits := func(t *testing.T, e *env, limit int) {
		t.Helper()
		for _, m := range e.outbox() {
			if size := m.Size(); size > limit {
				t.Errorf("a %s message of %d bytes was written, more than the %d allowed", m.Topic, size, limit)
			}
		}
	}

	t.Run("within the input limit", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, processor.Config{}, "")
		if err := e.handleMessage(kafka.Message{Key: []byte("k"), Value: []byte(hostile)}); err != nil {
			t.Fatal(err)
		}
		fits(t, e, processor.DefaultMaxMessageBytes)
		dead := e.deadLetters()
		if len(dead) != 1 || string(dead[0].Value) != hostile {
			t.Fatalf("got %d dead letters, want the whole message", len(dead))
		}
		a := e.answersFor("big-1")
		if len(a) != 1 {
			t.Fatalf("got %d answers, want 1", len(a))
		}
		if r := decodeResult(t, a[0]); r.Error == nil || r.Error.Code != schemas.CodeSchemaInvalid || strings.Contains(r.Error.Message, "<<") {
			t.Fatalf("answer %+v, want SCHEMA_INVALID not quoting the field", r.Error)
		}
	})

	t.Run("over the limit", func(t *testing.T) {
		t.Parallel()
		const limit = 64 << 10
		e := newEnv(t, processor.Config{MaxMessageBytes: limit}, "")
		if err := e.handleMessage(kafka.Message{Topic: blockTopic, Partition: 0, Key: []byte("k"), Value: []byte(hostile)}); err != nil {
			t.Fatal(err)
		}
		fits(t, e, limit)
		dead := e.deadLetters()
		if len(dead) != 1 {
			t.Fatalf("got %d dead letters, want 1", len(dead))
		}
		d := dead[0]
		if d.Headers["blockd-dlq-code"] != schemas.CodeTooLarge || d.Headers["blockd-dlq-replaced"] == "" ||
			d.Headers["blockd-source-topic"] != blockTopic || d.Headers["blockd-source-offset"] != "1" {
			t.Fatalf("dead letter headers %v, want %s, replaced, and where the original is", d.Headers, schemas.CodeTooLarge)
		}
		var body struct {
			Replaced        string `json:"replaced"`
			SourceTopic     string `json:"sourceTopic"`
			SourcePartition int    `json:"sourcePartition"`
			SourceOffset    int64  `json:"sourceOffset"`
			OriginalBytes   int    `json:"originalBytes"`
		}
		if err := json.Unmarshal(d.Value, &body); err != nil || body.SourceTopic != blockTopic || body.SourceOffset != 1 || body.OriginalBytes < len(hostile) || body.Replaced == "" {
			t.Fatalf("replacement record %s (%v), want where the original is and its size", d.Value, err)
		}
	})

	t.Run("a provider answer too large to publish", func(t *testing.T) {
		t.Parallel()
		// Limits a FAILED result fits in but these DONE results do not: a
		// Finnotech block (it changed money: an operator must look) and a
		// facility inquiry (it changed nothing).
		for _, tc := range []struct {
			name, topic, trackID, value string
			limit                       int
			reconcile                   bool
		}{
			{"block", blockTopic, "big-2", `{"trackId":"big-2","provider":"finnotech","clientId":"blockd-sandbox","amount":1500,"description":"` +
				strings.Repeat("d", 100) + `","days":30}`, 860, true},
			{"inquiry", "blockd.cmd.inquiry", "big-3", `{"trackId":"big-3","provider":"finnotech","inquiry":"facility","clientId":"blockd-sandbox","nationalId":"0071331951"}`, 1200, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, processor.Config{}, "")
				e.proc = processor.New(processor.Config{MaxMessageBytes: tc.limit, Topics: map[string]schemas.Kind{blockTopic: schemas.KindBlock,
					"blockd.cmd.inquiry": schemas.KindInquiry}}, e.store, e.validator, e.provs, processor.Hooks{}, zerolog.New(zerolog.NewTestWriter(t)))
				if err := e.handleMessage(kafka.Message{Topic: tc.topic, Key: []byte("k"), Value: []byte(tc.value)}); err != nil {
					t.Fatal(err)
				}
				fits(t, e, tc.limit)
				r := e.onlyResult(tc.trackID)
				if r.Status != schemas.StatusFailed || r.Error == nil || r.Error.Code != schemas.CodeResultTooLarge || r.Error.NeedsReconciliation != tc.reconcile || r.Error.Retryable {
					t.Fatalf("got %s %+v, want FAILED %s, needsReconciliation %v, not retryable", r.Status, r.Error, schemas.CodeResultTooLarge, tc.reconcile)
				}
				var answer []byte
				if err := e.store.DB().Get(&answer, `SELECT answer FROM provider_calls WHERE track_id = $1 AND state = 'DONE'`, tc.trackID); err != nil || len(answer) == 0 {
					t.Fatalf("the provider's answer was not kept with its call: %v", err)
				}
			})
		}
	})
}

// TestRefusalsNeverTakeACommandsKey (finding 5): a conflicting or invalid
// message that reuses the trackId of a DONE command is answered under its
// own key and CloudEvents type, so the command's key keeps its result.
func TestRefusalsNeverTakeACommandsKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	e.handle(blockTopic, cardBlock("own-1", "0001000010000000031"))
	done := e.onlyResult("own-1")
	if done.Status != schemas.StatusDone {
		t.Fatalf("got %s, want DONE", done.Status)
	}
	e.handle(blockTopic, cardBlock("own-1", "0001000010000000032"))                                                 // same trackId, another command
	e.handle(blockTopic, `{"trackId":"own-1","provider":"card","accountId":"0001000010000000031","blockCode":"B"}`) // invalid
	e.handle(blockTopic, cardBlock("own-1", "0001000010000000031"))                                                 // the same command again
	latest := map[string]schemas.Outbound{}
	for _, m := range e.outbox() {
		if m.Topic == "blockd.results" {
			latest[string(m.Key)] = m
		}
	}
	if r := decodeResult(t, latest["own-1"]); r.EventID != done.EventID || r.Status != schemas.StatusDone {
		t.Fatalf("latest under key own-1: %s %s, want the DONE result %s", r.Status, r.EventID, done.EventID)
	}
	refusals := 0
	for _, m := range e.answersFor("own-1") {
		r := decodeResult(t, m)
		if r.EventID == done.EventID {
			if m.Headers["ce_type"] != "dev.blockd.result.block" {
				t.Errorf("the result's ce_type is %q", m.Headers["ce_type"])
			}
			continue
		}
		refusals++
		if string(m.Key) != processor.RefusalKeyPrefix+"own-1" || m.Headers["ce_type"] != "dev.blockd.refusal.block" || m.Headers["ce_subject"] != "own-1" ||
			r.Status != schemas.StatusRejected {
			t.Errorf("refusal %s under key %q, ce_type %q: want key %q, ce_type dev.blockd.refusal.block", r.Error.Code, m.Key, m.Headers["ce_type"], processor.RefusalKeyPrefix+"own-1")
		}
	}
	if refusals != 2 {
		t.Fatalf("got %d refusals, want 2 (the conflict and the invalid message)", refusals)
	}
}

// syncBuffer is a log sink tests read while the processor writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRejectionReasonsNeverEchoValues (finding 6): a national id, an IBAN,
// a card account and a deposit number in invalid commands appear in no
// result, no header of any message written (blockd-dlq-reason included) and
// no log line; only the dead letter's value is the message itself.
func TestRejectionReasonsNeverEchoValues(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	logs := &syncBuffer{}
	cfg := processor.Config{Topics: map[string]schemas.Kind{blockTopic: schemas.KindBlock, "blockd.cmd.transfer": schemas.KindTransfer,
		"blockd.cmd.inquiry": schemas.KindInquiry}}
	e.proc = processor.New(cfg, e.store, e.validator, e.provs, processor.Hooks{}, zerolog.New(logs).Level(zerolog.DebugLevel))
	const (
		nationalID = "0071331951"
		iban       = "IR062960000000100324200001"
		card       = "6037991234567890123"
		deposit    = "0201698541000"
	)
	messages := []struct{ topic, value string }{
		{"blockd.cmd.inquiry", `{"trackId":"pii-1","provider":"finnotech","inquiry":"facility","clientId":"c","nationalId":"` + nationalID + `99"}`},
		{"blockd.cmd.inquiry", `{"trackId":"pii-2","provider":"finnotech","inquiry":"facility","nationalId":"` + nationalID + `"}`},
		{"blockd.cmd.transfer", `{"trackId":"pii-3","provider":"finnotech","unblockTrackId":"u1","amount":5,"destination":"` + iban + `X","description":"d"}`},
		{"blockd.cmd.transfer", `{"trackId":"pii-4","provider":"finnotech","unblockTrackId":"u1","amount":-5,"destination":"` + deposit + `","description":"d"}`},
		{"blockd.cmd.transfer", `{"trackId":"pii-5","provider":"finnotech","unblockTrackId":"u1","amount":5,"destination":"` + deposit + `ABC","description":"d"}`},
		{blockTopic, `{"trackId":"pii-6","provider":"card","accountId":"` + card + `4","blockCodeSlot":1,"blockCode":"B"}`},
		{blockTopic, `{"trackId":"pii-7","provider":"card","accountId":"0001000010000510481","blockCodeSlot":1,"blockCode":"` + card + `"}`},
		{blockTopic, `{"trackId":"pii-8","provider":"finnotech","clientId":"c","amount":10,"description":"d","days":5,"` + iban + `":1,"` + nationalID + `":2}`},
		{blockTopic, `{"trackId":"pii-9","provider":"arhivaar","accountId":"` + card + `","note":"` + iban + "\\u0000" + `"}`},
	}
	for _, m := range messages {
		if err := e.handleMessage(kafka.Message{Topic: m.topic, Key: []byte("k"), Value: []byte(m.value)}); err != nil {
			t.Fatalf("Handle(%s): %v", m.value, err)
		}
	}
	written := e.outbox()
	if len(written) != 2*len(messages) {
		t.Fatalf("got %d messages written, want a dead letter and a refusal for each of %d", len(written), len(messages))
	}
	for _, secret := range []string{nationalID, iban, card, deposit} {
		for _, m := range written {
			for k, v := range m.Headers {
				if strings.Contains(v, secret) || strings.Contains(k, secret) {
					t.Errorf("header %s of a %s message echoes %s: %q", k, m.Topic, secret, v)
				}
			}
			if m.Topic == "blockd.results" && strings.Contains(string(m.Value), secret) {
				t.Errorf("result echoes %s: %s", secret, m.Value)
			}
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log echoes %s", secret)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs.String())
	}
}
