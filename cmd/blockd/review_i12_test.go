package main

// Tests from the independent review of issue 12 (the operator CLI). Each
// fails on the code under review and shows one defect.

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/blockd/blockd/consumer/processor"
)

// TestReviewI12DLQReplaySinceAfterLastDeadLetterSendsNothing: --since T
// must re-submit only dead letters written at or after T. For a partition
// without any such dead letter, Kafka's ListOffsets by timestamp answers
// offset -1 ("none"); bounds clamps that to the partition's first offset,
// so every older dead letter of the partition is re-submitted — exactly what
// the operator excluded ("fix the cause first, then re-submit only what came
// after it with --since"). With several partitions this happens to each one
// whose last dead letter is older than T.
func TestReviewI12DLQReplaySinceAfterLastDeadLetterSendsNothing(t *testing.T) {
	h := newServeHarness(t, processor.Hooks{}, "BLOCKD_MAX_MESSAGE_BYTES", "4096")
	h.publish(h.cfg.TopicBlock, "acct-old", `not json`)
	waitFor(t, 20*time.Second, "the dead letter", func() bool { return len(h.dlq.byKey("acct-old")) == 1 })

	since := time.Now().Add(time.Hour).UTC().Format(time.RFC3339) // after every dead letter there is
	code, out, errOut := h.cliRun("dlq", "replay", "--dry-run", "--json", "--since", since)
	var sum dlqSummary
	if err := json.Unmarshal([]byte(out), &sum); code != exitOK || err != nil {
		t.Fatalf("dlq replay --since: exit %d, %v, stdout %q, stderr %q", code, err, out, errOut)
	}
	if sum.Resubmitted != 0 || sum.Read != 0 {
		t.Fatalf("dlq replay --since %s (after the last dead letter): read %d, would re-submit %d; want 0 and 0 (partitions %+v)",
			since, sum.Read, sum.Resubmitted, sum.Partitions)
	}
}

// TestReviewI12NotAppliedRefusedWhileTheCallCanStillLand: the service
// itself never concludes "not applied" while the call could still land
// (providers.Request.CannotLandAfter: the call's intent + 2 call timeouts +
// the landing margin; card and Arhivaar answer "too early to count").
// blockd resolve --not-applied has no such bound: a command that went
// IN_DOUBT a moment ago (its call's answer timed out, or its worker's lease
// ran out) is settled FAILED OPERATOR_NOT_APPLIED at once, its hold given
// back, on a statement read before the call landed. Once settled, nobody
// asks the provider again, so a call that lands afterwards is never
// noticed (its worker's HTTP call already gave up: no late answer comes).
func TestReviewI12NotAppliedRefusedWhileTheCallCanStillLand(t *testing.T) {
	h := newServeHarness(t, processor.Hooks{})
	db := h.db()
	h.putInDoubt(db, "land-1", "block", "arhivaar", `{"trackId":"land-1","provider":"arhivaar","accountId":"a","note":"n"}`)
	// The call's intent was recorded just now (started_at = now()): with
	// the default BLOCKD_CALL_TIMEOUT 20s and BLOCKD_LANDING_MARGIN 30s it
	// may land for another 70 s.
	code, out, errOut := h.cliRun("resolve", "land-1", "--not-applied", "--reason", "statement shows no block", "--by", "alice")
	var state string
	if err := db.Get(&state, `SELECT state FROM commands WHERE track_id = 'land-1'`); err != nil {
		t.Fatal(err)
	}
	if code != exitRefused || state != "IN_DOUBT" {
		t.Fatalf("resolve --not-applied seconds after the call was sent: exit %d, command now %s (stdout %q, stderr %q); "+
			"want refused (3) until the call can no longer land, the command still IN_DOUBT", code, state, firstLine(out), errOut)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
