package processor_test

// Tests of the rules stage (rules.go): a broken rule is answered before
// any provider call.
//
// Tests named TestReview* are regression tests from the issue-8 review: each
// reproduces a finding, failed on the code under review and passes now.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/schemas"
)

func TestAccountCommandWaitsForAnEarlierOneInDoubt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{UnblockWait: 300 * time.Millisecond}, "")
	ctx := context.Background()
	// An earlier block of the account whose call may have been applied.
	earlier := schemas.Command{Kind: schemas.KindBlock, TrackID: "o1", Provider: schemas.ProviderArhivaar, AccountID: "ab20", Note: "n"}
	rec, err := e.store.Receive(ctx, earlier, schemas.SourceMeta{Topic: blockTopic}, "other", time.Minute, func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.BeginCall(ctx, schemas.CallStart{TrackID: "o1", Claim: rec.Claim, ProviderTrackID: "o1-a1"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := e.store.MarkInDoubt(ctx, schemas.MarkInDoubtParams{TrackID: "o1", Claim: rec.Claim, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	e.handle("blockd.cmd.unblock", `{"trackId":"o2","provider":"arhivaar","accountId":"ab20","note":"n"}`)
	r := e.onlyResult("o2")
	if r.Status != schemas.StatusRejected || r.Error == nil || r.Error.Code != schemas.CodeAccountBusy || !r.Error.Retryable {
		t.Fatalf("got %s %+v, want REJECTED ACCOUNT_BUSY, retryable", r.Status, r.Error)
	}
	if got := e.arhivaar.RequestsFor("ab20"); got != 0 {
		t.Fatalf("the later command reached the provider (%d requests for its account) while the earlier one was in doubt", got)
	}
	// Another account is not held back.
	e.handle("blockd.cmd.unblock", `{"trackId":"o3","provider":"arhivaar","accountId":"ab21","note":"n"}`)
	if r := e.onlyResult("o3"); r.Status != schemas.StatusDone {
		t.Fatalf("other account: got %s %+v, want DONE", r.Status, r.Error)
	}
}

// TestCardUnblockMustNameTheSlotItsBlockUsed: the platform put a block's
// code into the unused slot, because the slot asked for was in use. An
// unblock that names its block but the slot asked for would remove another
// party's code: it is refused before any call; naming the block's slot
// works.
func TestCardUnblockMustNameTheSlotItsBlockUsed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	const account = "0001000010000000088"
	e.handle(blockTopic, fmt.Sprintf(`{"trackId":"s0","provider":"card","accountId":%q,"blockCodeSlot":1,"blockCode":"A"}`, account))
	e.handle(blockTopic, fmt.Sprintf(`{"trackId":"s1","provider":"card","accountId":%q,"blockCodeSlot":1,"blockCode":"B"}`, account))
	var res card.Result
	if r := e.onlyResult("s1"); r.Status != schemas.StatusDone || json.Unmarshal(r.Result, &res) != nil || res.CodeSlot != 2 {
		t.Fatalf("block into a used slot: got %s %s, want DONE with codeSlot 2", r.Status, r.Result)
	}
	requests := e.card.Requests()
	e.handle("blockd.cmd.unblock", fmt.Sprintf(`{"trackId":"s2","provider":"card","accountId":%q,"blockCodeSlot":1,"blockTrackId":"s1"}`, account))
	if r := e.onlyResult("s2"); r.Status != schemas.StatusRejected || r.Error == nil || r.Error.Code != schemas.CodeSlotMismatch {
		t.Fatalf("unblock of the slot asked for: got %s %+v, want REJECTED SLOT_MISMATCH", r.Status, r.Error)
	}
	if got := e.card.Requests(); got != requests {
		t.Fatalf("the refused unblock reached the platform (%d calls, want %d)", got, requests)
	}
	e.handle("blockd.cmd.unblock", fmt.Sprintf(`{"trackId":"s3","provider":"card","accountId":%q,"blockCodeSlot":2,"blockTrackId":"s1"}`, account))
	if r := e.onlyResult("s3"); r.Status != schemas.StatusDone {
		t.Fatalf("unblock of the block's slot: got %s %+v, want DONE", r.Status, r.Error)
	}
	acct, _ := e.card.Account(account)
	if acct.BlockCode1 != "A" || strings.TrimSpace(acct.BlockCode2) != "" {
		t.Fatalf("account slots after the unblock: %q %q, want A kept and slot 2 empty", acct.BlockCode1, acct.BlockCode2)
	}
}

// TestReviewCardUnblockOfAFailedBlockRemovesAnotherPartysCode: the new
// SLOT_MISMATCH rule (rules.go) compares the unblock's slot with the slot
// its block's code went into, but Lookup.CodeSlot is read only for a DONE
// block, and for card and Arhivaar applyRules asks only that the named
// block be terminal. An unblock naming a block that FAILED (its code never
// went in) therefore passes every rule and removes whatever code the slot
// holds: another party's, exactly what SLOT_MISMATCH is meant to prevent.
func TestReviewCardUnblockOfAFailedBlockRemovesAnotherPartysCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	const account = "0001000010000000099"
	block := func(trackID, code string) string {
		return fmt.Sprintf(`{"trackId":%q,"provider":"card","accountId":%q,"blockCodeSlot":1,"blockCode":%q}`, trackID, account, code)
	}
	e.handle(blockTopic, block("fb0", "Z")) // another party's high-priority code, slot 1
	e.handle(blockTopic, block("fb1", "C")) // goes into the unused slot 2
	e.handle(blockTopic, block("fb2", "B")) // both slots in use, lower priority: refused
	if r := e.onlyResult("fb2"); r.Status != schemas.StatusFailed {
		t.Fatalf("block into two used slots: got %s %+v, want FAILED", r.Status, r.Error)
	}
	e.handle("blockd.cmd.unblock", fmt.Sprintf(`{"trackId":"fb3","provider":"card","accountId":%q,"blockCodeSlot":1,"blockTrackId":"fb2"}`, account))
	r := e.onlyResult("fb3")
	acct, _ := e.card.Account(account)
	if r.Status != schemas.StatusRejected || acct.BlockCode1 != "Z" {
		t.Errorf("unblock naming the FAILED block fb2: got %s %+v, and slot 1 now holds %q; want REJECTED and slot 1 still holding Z "+
			"(fb2's code never went in: the unblock removed another party's code)", r.Status, r.Error, acct.BlockCode1)
	}
}

// TestReviewCardUnblockNamingABlockOfAnotherAccount: applyRules checks the
// named block's kind, provider, outcome and code slot, never its account.
// An unblock that names block ab0 (account X) but carries account Y passes
// and removes the code in Y's slot: block ab1's, which it does not name.
func TestReviewCardUnblockNamingABlockOfAnotherAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, processor.Config{}, "")
	const x, y = "0001000010000000101", "0001000010000000102"
	e.handle(blockTopic, fmt.Sprintf(`{"trackId":"ab0","provider":"card","accountId":%q,"blockCodeSlot":1,"blockCode":"B"}`, x))
	e.handle(blockTopic, fmt.Sprintf(`{"trackId":"ab1","provider":"card","accountId":%q,"blockCodeSlot":1,"blockCode":"Z"}`, y))
	e.handle("blockd.cmd.unblock", fmt.Sprintf(`{"trackId":"ab2","provider":"card","accountId":%q,"blockCodeSlot":1,"blockTrackId":"ab0"}`, y))
	r := e.onlyResult("ab2")
	acct, _ := e.card.Account(y)
	if r.Status != schemas.StatusRejected || acct.BlockCode1 != "Z" {
		t.Errorf("unblock of account %s naming block ab0 of account %s: got %s %+v, and %s's slot 1 holds %q; want REJECTED and Z kept",
			y, x, r.Status, r.Error, y, acct.BlockCode1)
	}
}
