package main

import (
	"strings"
	"testing"

	"github.com/blockd/blockd/consumer/processor"
)

// TestResolveRulesOfTheCalls: not-applied says from when it is taken while
// the call can still land, and is taken after; applied is refused when no
// call may have been applied; who gave the verdict is not published.
func TestResolveRulesOfTheCalls(t *testing.T) {
	h := newServeHarness(t, processor.Hooks{})
	db := h.db()
	arhivaar := func(trackID string) string {
		return `{"trackId":"` + trackID + `","provider":"arhivaar","accountId":"a","note":"n"}`
	}

	h.putInDoubt(db, "rc-1", "block", "arhivaar", arhivaar("rc-1"))
	by := "ops 6037991234567890"
	code, _, errOut := h.cliRun("resolve", "rc-1", "--not-applied", "--reason", "statement shows no block", "--by", by)
	if code != exitRefused || !strings.Contains(errOut, "may still land at the provider until") || !strings.Contains(errOut, "from then on") {
		t.Fatalf("not-applied while the call can land: exit %d, stderr %q; want 3 saying from when", code, errOut)
	}
	h.callsCannotLand(db, "rc-1")
	if code, out, errOut := h.cliRun("resolve", "rc-1", "--not-applied", "--reason", "statement shows no block", "--by", by); code != exitOK {
		t.Fatalf("not-applied once the call cannot land: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	h.awaitResults("rc-1", 1)
	if m := h.results.byKey("rc-1")[0]; strings.Contains(string(m.Value), "6037991234567890") || strings.Contains(string(m.Value), "ops ") {
		t.Fatalf("the published result carries who gave the verdict: %s", m.Value)
	}

	h.putInDoubt(db, "rc-2", "block", "arhivaar", arhivaar("rc-2"))
	h.exec(db, `UPDATE provider_calls SET state = 'FAILED' WHERE track_id = 'rc-2'`)
	if code, _, errOut := h.cliRun("resolve", "rc-2", "--applied", "--reason", "statement shows it"); code != exitRefused || !strings.Contains(errOut, "no call") {
		t.Fatalf("applied with no call that may have applied: exit %d, stderr %q; want 3", code, errOut)
	}
	var state string
	if err := db.Get(&state, `SELECT state FROM commands WHERE track_id = 'rc-2'`); err != nil || state != "IN_DOUBT" {
		t.Fatalf("after the refusal: %s %v, want IN_DOUBT", state, err)
	}
}
