package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/schemas"
)

// cliRun runs one operator command against h's operator listener and
// returns its exit code, stdout and stderr.
func (h *harness) cliRun(args ...string) (code int, stdout, stderr string) {
	h.t.Helper()
	env := map[string]string{"BLOCKD_ADMIN_URL": "http://" + h.adminAddr, "BLOCKD_ADMIN_TOKEN": h.cfg.AdminToken, "USER": "tester",
		"BLOCKD_KAFKA_BROKERS": strings.Join(h.brokers, ","), "BLOCKD_MAX_MESSAGE_BYTES": "4096"}
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, args, func(k string) string { return env[k] }, &out, &errOut)
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return exitCode(err), out.String(), errOut.String()
}

func (h *harness) db() *sqlx.DB {
	h.t.Helper()
	db, err := sqlx.Open("postgres", h.cfg.DatabaseURL)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { db.Close() })
	return db
}

func (h *harness) exec(db *sqlx.DB, query string, args ...any) {
	h.t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
}

// putInDoubt stores a command as a crash between its call and its outcome
// leaves it: IN_DOUBT, its one call UNKNOWN. It returns the call's
// provider trackId.
func (h *harness) putInDoubt(db *sqlx.DB, trackID, kind, provider, request string) string {
	h.t.Helper()
	call := uuid.NewString()
	h.exec(db, `
		INSERT INTO commands (track_id, kind, provider, request, request_hash, state, attempts, in_doubt_reason, in_doubt_since,
		                      source_topic, source_partition, source_offset)
		VALUES ($1, $2, $3, $4, '\x00', 'IN_DOUBT', 1, 'test: the answer was lost', now(), 'test', 0, 0)`, trackID, kind, provider, request)
	h.exec(db, `INSERT INTO provider_calls (provider_track_id, track_id, attempt, state) VALUES ($1, $2, 1, 'UNKNOWN')`, call, trackID)
	return call
}

// callsCannotLand moves the intents of trackID's calls back far enough
// that, with the default BLOCKD_CALL_TIMEOUT and BLOCKD_LANDING_MARGIN,
// none can land any more: not-applied is taken.
func (h *harness) callsCannotLand(db *sqlx.DB, trackID string) {
	h.t.Helper()
	h.exec(db, `UPDATE provider_calls SET started_at = now() - interval '71 seconds' WHERE track_id = $1`, trackID)
}

func (h *harness) outboxRows(db *sqlx.DB, key string) int {
	h.t.Helper()
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM outbox WHERE key = convert_to($1, 'UTF8')`, key); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// TestOperatorStatusListReplay: status shows a finished command with its
// call and result; list shows the lists; replay queues the same eventId
// again; unknown trackIds and bad command lines have their exit codes.
func TestOperatorStatusListReplay(t *testing.T) {
	h := newServeHarness(t, processor.Hooks{})
	h.publish(h.cfg.TopicBlock, "acct-s", blockJSON("st-1", 100))
	first := h.awaitResults("st-1", 1)[0]

	code, out, errOut := h.cliRun("status", "st-1")
	if code != exitOK || !strings.Contains(out, "DONE") || !strings.Contains(out, first.EventID) || !strings.Contains(out, `"status": "DONE"`) {
		t.Fatalf("status: exit %d, stdout:\n%s\nstderr: %s\nwant 0, DONE, eventId %s and the result", code, out, errOut, first.EventID)
	}
	code, out, _ = h.cliRun("status", "--json", "st-1")
	var d schemas.CommandDetail
	if err := json.Unmarshal([]byte(out), &d); code != exitOK || err != nil {
		t.Fatalf("status --json: exit %d, %v:\n%s", code, err, out)
	}
	if d.State != schemas.StateDone || len(d.Calls) != 1 || d.Calls[0].State != schemas.CallDone || d.Calls[0].ProviderTrackID == "" ||
		!strings.Contains(out, d.Calls[0].ProviderTrackID) || d.EventID != first.EventID {
		t.Fatalf("status --json: got %+v, want DONE with its one DONE call and eventId %s", d, first.EventID)
	}
	for _, list := range []string{"in-doubt", "reconcile", "set-aside"} {
		if code, out, errOut := h.cliRun("list", list); code != exitOK || !strings.Contains(out, "(0 ") {
			t.Fatalf("list %s: exit %d, stdout %q, stderr %q; want 0 and an empty table", list, code, out, errOut)
		}
	}

	if code, out, errOut := h.cliRun("replay", "st-1"); code != exitOK || !strings.Contains(out, first.EventID) {
		t.Fatalf("replay: exit %d, stdout %q, stderr %q; want 0 naming eventId %s", code, out, errOut, first.EventID)
	}
	again := h.awaitResults("st-1", 2)
	if again[1].EventID != first.EventID || again[1].Status != first.Status {
		t.Fatalf("replayed: got %+v, want the same result, eventId %s", again[1], first.EventID)
	}

	cases := []struct {
		args []string
		want int
	}{
		{[]string{"status", "no-such-command"}, exitNotFound},
		{[]string{"replay", "no-such-command"}, exitNotFound},
		{[]string{"resolve", "no-such-command", "--applied", "--reason", "x"}, exitNotFound},
		{[]string{"status"}, exitUsage},
		{[]string{"status", "bad/track"}, exitUsage},
		{[]string{"list", "everything"}, exitUsage},
		{[]string{"resolve", "st-1", "--reason", "x"}, exitUsage},
		{[]string{"resolve", "st-1", "--applied", "--not-applied", "--reason", "x"}, exitUsage},
		{[]string{"resolve", "st-1", "--applied"}, exitUsage},
		{[]string{"dlq"}, exitUsage},
		// DONE and not flagged: nothing to resolve.
		{[]string{"resolve", "st-1", "--applied", "--reason", "statement checked"}, exitRefused},
	}
	for _, c := range cases {
		if code, out, errOut := h.cliRun(c.args...); code != c.want {
			t.Errorf("%v: exit %d, want %d; stdout %q, stderr %q", c.args, code, c.want, out, errOut)
		}
	}
	// A wrong token is a failure, never a verdict.
	h.cfg.AdminToken = "another-operator-token-0123456789"
	if code, _, errOut := h.cliRun("status", "st-1"); code != exitFailure || !strings.Contains(errOut, "token") {
		t.Fatalf("wrong token: exit %d, stderr %q; want 1 naming the token", code, errOut)
	}
}

// TestOperatorResolve: each rule of blockd resolve, through the operator
// listener and the store of a running service.
func TestOperatorResolve(t *testing.T) {
	h := newServeHarness(t, processor.Hooks{})
	db := h.db()

	// A Finnotech unblock in doubt that reserved its block's hold.
	h.publish(h.cfg.TopicBlock, "acct-r", blockJSON("blk-r", 500))
	if r := h.awaitResults("blk-r", 1)[0]; r.Status != schemas.StatusDone {
		t.Fatalf("block: got %s, want DONE", r.Status)
	}
	call := h.putInDoubt(db, "ub-r", "unblock", "finnotech",
		`{"trackId":"ub-r","provider":"finnotech","clientId":"blockd-sandbox","blockTrackId":"blk-r","amount":500}`)
	h.exec(db, `UPDATE holds SET state = 'UNBLOCKING', unblock_track_id = 'ub-r', unblock_provider_track_id = $1 WHERE block_track_id = 'blk-r'`, call)

	code, out, errOut := h.cliRun("list", "in-doubt")
	if code != exitOK || !strings.Contains(out, "ub-r") || !strings.Contains(out, call) {
		t.Fatalf("list in-doubt: exit %d, stdout %q, stderr %q; want ub-r and its call", code, out, errOut)
	}
	// Applied is refused for a Finnotech unblock: its ledger needs the provider's answer.
	if code, _, errOut := h.cliRun("resolve", "ub-r", "--applied", "--reason", "statement shows it"); code != exitRefused || !strings.Contains(errOut, "Finnotech") {
		t.Fatalf("resolve --applied on a Finnotech unblock: exit %d, stderr %q; want 3 saying why", code, errOut)
	}
	h.callsCannotLand(db, "ub-r")
	code, out, errOut = h.cliRun("resolve", "ub-r", "--not-applied", "--reason", "statement checked: no release", "--by", "alice")
	if code != exitOK || !strings.Contains(out, "resolved not-applied") {
		t.Fatalf("resolve --not-applied: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	res := h.awaitResults("ub-r", 1)[0]
	if res.Status != schemas.StatusFailed || res.Error == nil || res.Error.Code != schemas.CodeOperatorNotApplied || res.Attempts != 1 {
		t.Fatalf("result: got %s %+v, want FAILED %s", res.Status, res.Error, schemas.CodeOperatorNotApplied)
	}
	var hold struct {
		State   string  `db:"state"`
		Unblock *string `db:"unblock_track_id"`
	}
	if err := db.Get(&hold, `SELECT state, unblock_track_id FROM holds WHERE block_track_id = 'blk-r'`); err != nil {
		t.Fatal(err)
	}
	if hold.State != "BLOCKED" || hold.Unblock != nil {
		t.Fatalf("hold: got %s unblock %v, want BLOCKED and free again", hold.State, hold.Unblock)
	}
	var c struct {
		State    string `db:"state"`
		Code     string `db:"error_code"`
		Evidence string `db:"evidence"`
	}
	if err := db.Get(&c, `SELECT state, error_code, evidence FROM provider_calls WHERE provider_track_id = $1`, call); err != nil {
		t.Fatal(err)
	}
	if c.State != schemas.CallFailed || c.Code != schemas.CodeOperatorNotApplied || c.Evidence != "operator alice: statement checked: no release" {
		t.Fatalf("call: got %+v, want FAILED %s with the operator's evidence", c, schemas.CodeOperatorNotApplied)
	}
	_, out, _ = h.cliRun("status", "--json", "ub-r")
	var d schemas.CommandDetail
	if err := json.Unmarshal([]byte(out), &d); err != nil || d.Verdict == nil || d.Verdict.By != "alice" || d.Verdict.Verdict != schemas.VerdictNotApplied || d.State != schemas.StateFailed {
		t.Fatalf("status after resolve: %v %+v, want FAILED with alice's verdict", err, d)
	}
	// The same verdict again changes nothing; another is refused.
	if code, out, _ := h.cliRun("resolve", "ub-r", "--not-applied", "--reason", "again", "--by", "bob"); code != exitOK || !strings.Contains(out, "already resolved") {
		t.Fatalf("repeat: exit %d, stdout %q; want 0, already resolved", code, out)
	}
	if code, _, _ := h.cliRun("resolve", "ub-r", "--applied", "--reason", "changed my mind"); code != exitRefused {
		t.Fatalf("another verdict: exit %d, want 3", code)
	}
	if n := h.outboxRows(db, "ub-r"); n != 1 {
		t.Fatalf("outbox rows of ub-r: got %d, want 1 (one result, nothing published by the repeat)", n)
	}

	// A card command (no ledger) in doubt: applied ends it DONE.
	h.putInDoubt(db, "card-r", "block", "card", `{"trackId":"card-r","provider":"card","accountId":"1234567890123456789","blockCodeSlot":1,"blockCode":"X"}`)
	// Its unblock must name the slot its code is in: applied needs it.
	if code, _, errOut := h.cliRun("resolve", "card-r", "--applied", "--reason", "platform shows code X"); code != exitRefused || !strings.Contains(errOut, "--code-slot") {
		t.Fatalf("resolve --applied on a card block without --code-slot: exit %d, stderr %q; want 3 naming --code-slot", code, errOut)
	}
	if code, _, _ := h.cliRun("resolve", "card-r", "--applied", "--code-slot", "3", "--reason", "platform shows code X"); code != exitUsage {
		t.Fatalf("resolve --code-slot 3: exit %d, want 2", code)
	}
	if code, out, errOut := h.cliRun("resolve", "card-r", "--applied", "--code-slot", "2", "--reason", "platform shows code X"); code != exitOK {
		t.Fatalf("resolve --applied on a card block: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if r := h.awaitResults("card-r", 1)[0]; r.Status != schemas.StatusDone || !strings.Contains(string(r.Result), `"stateFrom":"operator"`) ||
		!strings.Contains(string(r.Result), `"codeSlot":2`) {
		t.Fatalf("card result: got %s %s, want DONE stateFrom operator, codeSlot 2", r.Status, r.Result)
	}

	// Finished and flagged for reconciliation: the verdict is recorded, the
	// flag cleared, nothing published.
	h.exec(db, `UPDATE commands SET needs_reconciliation = true, reconcile_reason = 'test: contradicted' WHERE track_id = 'blk-r'`)
	if code, out, _ := h.cliRun("list", "reconcile"); code != exitOK || !strings.Contains(out, "blk-r") {
		t.Fatalf("list reconcile: exit %d, stdout %q; want blk-r", code, out)
	}
	if code, out, errOut := h.cliRun("resolve", "blk-r", "--applied", "--reason", "statement matches", "--json"); code != exitOK || !strings.Contains(out, `"repeated":false`) {
		t.Fatalf("resolve flagged: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	var flagged bool
	var verdict, by string
	if err := db.QueryRow(`SELECT needs_reconciliation, reconcile_verdict, reconciled_by FROM commands WHERE track_id = 'blk-r'`).Scan(&flagged, &verdict, &by); err != nil {
		t.Fatal(err)
	}
	if flagged || verdict != schemas.VerdictApplied || by != "tester" {
		t.Fatalf("after reconcile verdict: flagged %v, verdict %q, by %q; want cleared, applied, tester ($USER)", flagged, verdict, by)
	}
	if code, out, _ := h.cliRun("list", "reconcile"); code != exitOK || strings.Contains(out, "blk-r") {
		t.Fatalf("list reconcile after: stdout %q; want blk-r gone", out)
	}
	settle()
	if n := len(h.results.byKey("blk-r")); n != 1 {
		t.Fatalf("results of blk-r: got %d, want its one result (the verdict publishes nothing)", n)
	}
}

// TestDLQReplay: dead letters go back to their source topic and partition
// with their key and headers; records of oversized ones are skipped and
// counted; --dry-run sends nothing.
func TestDLQReplay(t *testing.T) {
	h := newServeHarness(t, processor.Hooks{}, "BLOCKD_MAX_MESSAGE_BYTES", "4096")
	h.publish(h.cfg.TopicBlock, "acct-d", `not json`, kafka.Header{Key: "x-origin", Value: []byte("upstream")})
	h.publish(h.cfg.TopicBlock, "acct-big", `{"trackId":"big-d","description":"`+strings.Repeat("x", 8000)+`"}`)
	waitFor(t, 20*time.Second, "two dead letters", func() bool {
		return len(h.dlq.byKey("acct-d")) == 1 && len(h.dlq.byKey("acct-big")) == 1
	})
	blocks := collect(t, h.brokers, h.cfg.TopicBlock)
	waitFor(t, 10*time.Second, "the block topic read", func() bool { return len(blocks.byKey("acct-d")) == 1 })

	code, out, errOut := h.cliRun("dlq", "replay", "--dry-run")
	if code != exitOK || !strings.Contains(out, "would send to "+h.cfg.TopicBlock) || !strings.Contains(out, "would re-submit 1") {
		t.Fatalf("dry run: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	settle()
	if n := len(blocks.byKey("acct-d")); n != 1 {
		t.Fatalf("after the dry run: %d messages under acct-d on the block topic, want 1 (nothing sent)", n)
	}
	if strings.Contains(out, "not json") || strings.Contains(out, "acct-d") {
		t.Fatalf("dry run printed a key or value: %q", out)
	}

	code, out, errOut = h.cliRun("dlq", "replay", "--json")
	var sum dlqSummary
	if err := json.Unmarshal([]byte(out), &sum); code != exitOK || err != nil {
		t.Fatalf("replay: exit %d, %v, stdout %q, stderr %q", code, err, out, errOut)
	}
	if sum.Read != 2 || sum.Resubmitted != 1 || sum.Replaced != 1 || sum.Failed != 0 || sum.DryRun {
		t.Fatalf("summary: got %+v, want read 2, re-submitted 1, 1 oversized skipped", sum)
	}
	waitFor(t, 10*time.Second, "the re-submitted message", func() bool { return len(blocks.byKey("acct-d")) == 2 })
	orig, again := blocks.byKey("acct-d")[0], blocks.byKey("acct-d")[1]
	if string(again.Value) != "not json" || again.Partition != orig.Partition || headerValue(again, "x-origin") != "upstream" {
		t.Fatalf("re-submitted: value %q partition %d headers %v; want the original on partition %d", again.Value, again.Partition, again.Headers, orig.Partition)
	}
	for _, hd := range again.Headers {
		if strings.HasPrefix(hd.Key, "blockd-") {
			t.Fatalf("re-submitted with blockd's header %s", hd.Key)
		}
	}
	if n := len(blocks.byKey("acct-big")); n != 1 {
		t.Fatalf("oversized: %d messages under acct-big, want 1 (its record is never re-submitted)", n)
	}
}

// TestRestoreDeadLetter: a header blockd had to keep encoded comes back as
// it was; blockd's own headers go; the source names the partition.
func TestRestoreDeadLetter(t *testing.T) {
	m := kafka.Message{Key: []byte("k"), Value: []byte("v"), Headers: []kafka.Header{
		{Key: "blockd-dlq-code", Value: []byte("MALFORMED_MESSAGE")},
		{Key: "blockd-source-topic", Value: []byte("blockd.cmd.block")},
		{Key: "blockd-source-partition", Value: []byte("2")},
		{Key: "blockd-source-offset", Value: []byte("9")},
		{Key: "blockd-dlq-header-1", Value: []byte("ZHVw:AP8=")}, // "dup" = "\x00\xff"
		{Key: "traceparent", Value: []byte("00-abc")},
	}}
	r, ok := restore(m)
	if !ok || r.topic != "blockd.cmd.block" || r.partition != 2 {
		t.Fatalf("got %+v %v, want blockd.cmd.block/2", r, ok)
	}
	if len(r.record.Headers) != 2 || r.record.Headers[0].Key != "traceparent" || r.record.Headers[1].Key != "dup" ||
		string(r.record.Headers[1].Value) != "\x00\xff" {
		t.Fatalf("headers: got %v, want traceparent and the decoded dup", r.record.Headers)
	}
	if _, ok := restore(kafka.Message{Value: []byte("v")}); ok {
		t.Fatal("a message without blockd's source headers was taken for a dead letter")
	}
}

// TestOperatorStatusIsRedacted: what status prints passed the redaction
// (an account number in a reason or an operator's note keeps its last
// digits only).
func TestOperatorStatusIsRedacted(t *testing.T) {
	h := newServeHarness(t, processor.Hooks{})
	db := h.db()
	h.putInDoubt(db, "red-1", "block", "arhivaar", `{"trackId":"red-1","provider":"arhivaar","accountId":"a","note":"n"}`)
	h.exec(db, `UPDATE commands SET in_doubt_reason = 'provider said: account 6037991234567890 unknown' WHERE track_id = 'red-1'`)
	if code, _, errOut := h.cliRun("resolve", "red-1", "--applied", "--reason", "statement of 6037991234567890 shows it"); code != exitOK {
		t.Fatalf("resolve: exit %d, stderr %q", code, errOut)
	}
	for _, args := range [][]string{{"status", "red-1"}, {"status", "--json", "red-1"}} {
		code, out, errOut := h.cliRun(args...)
		if code != exitOK || strings.Contains(out, "6037991234567890") || !strings.Contains(out, "7890") {
			t.Fatalf("%v: exit %d, stderr %q; want the account number masked:\n%s", args, code, errOut, out)
		}
	}
}
