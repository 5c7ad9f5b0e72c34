package main

// Issue 9's findings 1, 4 (the messages blockd writes) and 5 through Kafka.

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/schemas"
)

// latestPerKey is what a consumer that keeps the latest event per key (or
// a compacted topic) holds: for every key, its last message.
func (c *collector) latestPerKey() map[string]kafka.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]kafka.Message)
	for _, m := range c.msgs { // in each partition's order, and a key lives in one partition
		out[string(m.Key)] = m
	}
	return out
}

// answersFor returns every message on the topic whose event names trackID,
// whatever its key.
func (c *collector) answersFor(trackID string) []kafka.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []kafka.Message
	for _, m := range c.msgs {
		var r schemas.Result
		if json.Unmarshal(m.Value, &r) == nil && r.TrackID == trackID {
			out = append(out, m)
		}
	}
	return out
}

// TestRefusalsNeverReplaceAResultForALatestPerKeyConsumer (finding 5): a
// conflicting message, an invalid one and one PostgreSQL cannot store, all
// reusing the trackId of a DONE block, were each answered REJECTED under
// that trackId's key, so a consumer that keeps the latest event per key
// (or a compacted results topic) saw REJECTED where the block was DONE, and
// an upstream might block again. Now the key holds the DONE result; the
// refusals are under refused:<trackId>, with their own ce_type.
func TestRefusalsNeverReplaceAResultForALatestPerKeyConsumer(t *testing.T) {
	h := newHarness(t, processor.Hooks{})
	const account, trackID = "acct-latest", "lk-1"
	h.publish(h.cfg.TopicBlock, account, blockJSON(trackID, 1000))
	done := h.awaitResults(trackID, 1)[0]
	if done.Status != schemas.StatusDone {
		t.Fatalf("got %s %+v, want DONE", done.Status, done.Error)
	}
	h.publish(h.cfg.TopicBlock, account, blockJSON(trackID, 999)) // the same trackId, another command
	h.publish(h.cfg.TopicBlock, account, `{"trackId":"lk-1","provider":"finnotech","clientId":"blockd-sandbox","amount":1000,"description":"court order","days":91}`)
	h.publish(h.cfg.TopicBlock, account, `{"trackId":"lk-1","provider":"finnotech","clientId":"blockd-sandbox","amount":1000,"description":"court\u0000order","days":30}`)
	h.publish(h.cfg.TopicBlock, account, blockJSON("lk-after", 10))
	if r := h.awaitResults("lk-after", 1)[0]; r.Status != schemas.StatusDone {
		t.Fatalf("the command after the refused ones: got %s, want DONE", r.Status)
	}
	waitFor(t, 30*time.Second, "an answer to each message naming lk-1", func() bool { return len(h.results.answersFor(trackID)) >= 4 })
	settle()

	latest := h.results.latestPerKey()
	var r schemas.Result
	if err := json.Unmarshal(latest[trackID].Value, &r); err != nil {
		t.Fatal(err)
	}
	if r.EventID != done.EventID || r.Status != schemas.StatusDone {
		t.Fatalf("latest under key %s: %s %s (%+v), want the DONE result %s", trackID, r.Status, r.EventID, r.Error, done.EventID)
	}
	codes := map[string]bool{}
	for _, m := range h.results.answersFor(trackID) {
		var a schemas.Result
		if err := json.Unmarshal(m.Value, &a); err != nil {
			t.Fatal(err)
		}
		if a.EventID == done.EventID {
			continue
		}
		if string(m.Key) != processor.RefusalKeyPrefix+trackID || headerValue(m, "ce_type") != "dev.blockd.refusal.block" {
			t.Errorf("refusal %s under key %q with ce_type %q, want key %q and ce_type dev.blockd.refusal.block",
				a.Error.Code, m.Key, headerValue(m, "ce_type"), processor.RefusalKeyPrefix+trackID)
		}
		codes[a.Error.Code] = true
	}
	for _, want := range []string{schemas.CodeTrackIDConflict, schemas.CodeSchemaInvalid, schemas.CodeUnstorableCharacter} {
		if !codes[want] {
			t.Errorf("no refusal %s among %v", want, codes)
		}
	}
	if got := len(h.results.byKey(processor.RefusalKeyPrefix + trackID)); got != 3 {
		t.Errorf("got %d refusals under %s, want 3", got, processor.RefusalKeyPrefix+trackID)
	}
}

// TestHostileInputIsAnsweredAndThePartitionFlows (findings 1 and 4): on
// one key, so one partition, in order: a 200 KB bad field (blockCode of
// '<' × 200,000, which JSON escaping once made a 1.2 MB REJECTED result), a
// tombstone, an empty value, an invalid message with a NUL header, and a
// valid command whose traceparent holds a NUL. Each is answered, the
// command after them is carried out, and every message blockd wrote on
// the results and dead letter topics is within the limit.
func TestHostileInputIsAnsweredAndThePartitionFlows(t *testing.T) {
	h := newHarness(t, processor.Hooks{})
	const key = "acct-hostile"
	hostile := `{"trackId":"hx-1","provider":"card","accountId":"0001000010000000001","blockCodeSlot":1,"blockCode":"` + strings.Repeat("<", 200000) + `"}`
	h.publish(h.cfg.TopicBlock, key, hostile)
	h.publishMessage(kafka.Message{Topic: h.cfg.TopicBlock, Key: []byte(key)}) // a tombstone
	h.publishMessage(kafka.Message{Topic: h.cfg.TopicBlock, Key: []byte(key), Value: []byte{}})
	h.publish(h.cfg.TopicBlock, key, `{"trackId":"hx-2",`, kafka.Header{Key: "note", Value: []byte("a\x00b")})
	h.publish(h.cfg.TopicBlock, key, blockJSON("hx-3", 20), kafka.Header{Key: "traceparent", Value: []byte("00-\x00")})
	h.publish(h.cfg.TopicBlock, key, blockJSON("hx-after", 10))

	if r := h.awaitResults("hx-after", 1)[0]; r.Status != schemas.StatusDone {
		t.Fatalf("the command after the hostile ones: got %s, want DONE", r.Status)
	}
	if r := h.awaitResults("hx-3", 1)[0]; r.Status != schemas.StatusDone {
		t.Fatalf("the command with a bad traceparent: got %s, want DONE (the traceparent dropped)", r.Status)
	}
	if r := h.awaitRefusals("hx-1", 1)[0]; r.Error.Code != schemas.CodeSchemaInvalid || strings.Contains(r.Error.Message, "<<") {
		t.Fatalf("the 200 KB field: got %+v, want SCHEMA_INVALID not quoting it", r.Error)
	}
	waitFor(t, 30*time.Second, "four dead letters", func() bool { return len(h.dlq.byKey(key)) >= 4 })
	settle()
	dead := h.dlq.byKey(key)
	wantCodes := []string{schemas.CodeSchemaInvalid, schemas.CodeEmptyMessage, schemas.CodeEmptyMessage, schemas.CodeMalformed}
	if len(dead) != len(wantCodes) {
		t.Fatalf("got %d dead letters, want %d", len(dead), len(wantCodes))
	}
	for i, m := range dead {
		if got := headerValue(m, "blockd-dlq-code"); got != wantCodes[i] {
			t.Errorf("dead letter %d: code %s, want %s", i, got, wantCodes[i])
		}
	}
	if string(dead[0].Value) != hostile {
		t.Errorf("the 200 KB message was not dead-lettered whole (%d bytes)", len(dead[0].Value))
	}
	for _, c := range []*collector{h.results, h.dlq} {
		c.mu.Lock()
		for _, m := range c.msgs {
			if size := kafkaSize(m); size > h.cfg.MaxMessageBytes {
				t.Errorf("a message of %d bytes on %s, more than the %d allowed", size, m.Topic, h.cfg.MaxMessageBytes)
			}
		}
		c.mu.Unlock()
	}
}

func (h *harness) publishMessage(m kafka.Message) {
	h.t.Helper()
	if err := h.writer.WriteMessages(h.t.Context(), m); err != nil {
		h.t.Fatalf("publishing to %s: %v", m.Topic, err)
	}
}
