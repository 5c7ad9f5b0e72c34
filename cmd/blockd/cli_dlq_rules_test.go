package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/consumer/processor"
)

// TestDLQReplaySkipsOldAndRefusedDeadLetters: a dead letter older than
// BLOCKD_RETENTION, and one whose message was answered with a refusal, are
// skipped and counted unless --include-old / --include-refused.
func TestDLQReplaySkipsOldAndRefusedDeadLetters(t *testing.T) {
	h := newServeHarness(t, processor.Hooks{})
	h.publish(h.cfg.TopicBlock, "acct-ref", `{"trackId":"ref-d1","provider":"finnotech"}`) // SCHEMA_INVALID, refused:ref-d1
	h.awaitRefusals("ref-d1", 1)
	h.publishMessage(kafka.Message{Topic: h.cfg.TopicDLQ, Key: []byte("acct-old"), Value: []byte("not json"),
		Time: time.Now().Add(-h.cfg.Retention - time.Hour), Headers: []kafka.Header{
			{Key: "blockd-dlq-code", Value: []byte("MALFORMED_MESSAGE")},
			{Key: "blockd-source-topic", Value: []byte(h.cfg.TopicBlock)},
			{Key: "blockd-source-partition", Value: []byte("0")},
		}})
	waitFor(t, 20*time.Second, "two dead letters", func() bool {
		return len(h.dlq.byKey("acct-ref")) == 1 && len(h.dlq.byKey("acct-old")) == 1
	})

	code, out, errOut := h.cliRun("dlq", "replay", "--dry-run")
	if code != exitOK || !strings.Contains(out, "SCHEMA_INVALID may have been answered with a refusal") || !strings.Contains(out, "longer ago than BLOCKD_RETENTION") {
		t.Fatalf("dry run: exit %d, stdout %q, stderr %q; want both listed as skipped", code, out, errOut)
	}
	code, out, errOut = h.cliRun("dlq", "replay", "--json")
	var sum dlqSummary
	if err := json.Unmarshal([]byte(out), &sum); code != exitOK || err != nil {
		t.Fatalf("replay: exit %d, %v, stdout %q, stderr %q", code, err, out, errOut)
	}
	if sum.Read != 2 || sum.Resubmitted != 0 || sum.Old != 1 || sum.Refused != 1 {
		t.Fatalf("summary: %+v; want read 2, none re-submitted, 1 old and 1 refused skipped", sum)
	}
	code, out, errOut = h.cliRun("dlq", "replay", "--json", "--dry-run", "--include-old", "--include-refused")
	sum = dlqSummary{}
	if err := json.Unmarshal([]byte(out), &sum); code != exitOK || err != nil {
		t.Fatalf("replay with both: exit %d, %v, stdout %q, stderr %q", code, err, out, errOut)
	}
	if sum.Resubmitted != 2 || sum.Old != 0 || sum.Refused != 0 {
		t.Fatalf("summary with --include-old --include-refused: %+v; want both re-submitted", sum)
	}
}

// TestDLQReplayPartitionReadErrorFails: a partition that cannot be read to
// its end counts as failed, with its error, and is printed.
func TestDLQReplayPartitionReadErrorFails(t *testing.T) {
	h := newServeHarness(t, processor.Hooks{})
	var out strings.Builder
	r := dlqReplay{brokers: h.brokers, dialer: &kafka.Dialer{Timeout: 10 * time.Second}, transport: &kafka.Transport{},
		topic: h.cfg.TopicDLQ, dryRun: true, stdout: &out, progress: newProgress(&strings.Builder{}), fetchTimeout: 500 * time.Millisecond}
	client := &kafka.Client{Addr: kafka.TCP(h.brokers...), Transport: r.transport}
	sum := dlqSummary{}
	dp := dlqPartition{Partition: 0, From: 0, To: 3} // nothing there to read
	r.partition(context.Background(), client, &dp, &sum)
	if sum.Failed != 1 || dp.Error == "" || !strings.Contains(out.String(), "FAILED") {
		t.Fatalf("partition that could not be read: failed %d, error %q, output %q; want 1, the error, a FAILED line", sum.Failed, dp.Error, out.String())
	}
}
