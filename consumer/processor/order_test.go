package processor_test

// Tests of the account order (rules.go, awaitAccountTurn) when an unblock
// names its block: the unblock comes after its block, whatever order blockd
// received them in.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/schemas"
)

// handleHeldBack handles m as the consumer does, again after each wait it
// is held back for, until it is handled; the error is sent on done.
func (e *env) handleHeldBack(m kafka.Message, done chan<- error) {
	for {
		err := e.proc.Handle(context.Background(), m)
		var held interface{ Deferred() time.Duration }
		if errors.As(err, &held) {
			time.Sleep(held.Deferred())
			continue
		}
		done <- err
		return
	}
}

// TestUnblockReceivedBeforeItsBlockWaitsForItAlone: an Arhivaar or card
// unblock that names its block and is received before it (the two travel on
// different topics) waits for the block's outcome; the block must not wait
// for the unblock (an earlier-received open command of its account), or
// the two wait for each other until UnblockWait runs out. Both end DONE,
// the block's call first.
func TestUnblockReceivedBeforeItsBlockWaitsForItAlone(t *testing.T) {
	t.Parallel()
	cases := []struct {
		provider, account string
		block, unblock    func(trackID, account, block string) string
	}{
		{"arhivaar", "ab30",
			func(trackID, account, _ string) string {
				return fmt.Sprintf(`{"trackId":%q,"provider":"arhivaar","accountId":%q,"note":"n"}`, trackID, account)
			},
			func(trackID, account, block string) string {
				return fmt.Sprintf(`{"trackId":%q,"provider":"arhivaar","accountId":%q,"note":"n","blockTrackId":%q}`, trackID, account, block)
			}},
		{"card", "0001000010000000120",
			func(trackID, account, _ string) string { return cardBlock(trackID, account) },
			func(trackID, account, block string) string {
				return fmt.Sprintf(`{"trackId":%q,"provider":"card","accountId":%q,"blockCodeSlot":1,"blockTrackId":%q}`, trackID, account, block)
			}},
	}
	for _, c := range cases {
		t.Run(c.provider, func(t *testing.T) {
			t.Parallel()
			// Long enough for the pair on a loaded machine; with the two
			// waiting for each other both end when it runs out, not DONE.
			const wait = 5 * time.Second
			e := newEnv(t, processor.Config{UnblockWait: wait}, "")
			account := c.account
			const blockID, unblockID = "ob-b", "ob-u"
			ctx := context.Background()

			unblockDone, blockDone := make(chan error, 1), make(chan error, 1)
			go e.handleHeldBack(kafkaMessage("blockd.cmd.unblock", 1, c.unblock(unblockID, account, blockID)), unblockDone)
			// The unblock is received (stored) first.
			waitFor(t, wait, "the unblock to be stored", func() bool {
				st, err := e.store.State(ctx, unblockID)
				return err == nil && st != ""
			})
			go e.handleHeldBack(kafkaMessage(blockTopic, 1, c.block(blockID, account, "")), blockDone)
			for _, done := range []chan error{blockDone, unblockDone} {
				if err := <-done; err != nil {
					t.Fatalf("Handle: %v", err)
				}
			}

			if r := e.onlyResult(blockID); r.Status != schemas.StatusDone {
				t.Errorf("block: got %s %+v, want DONE", r.Status, r.Error)
			}
			if r := e.onlyResult(unblockID); r.Status != schemas.StatusDone {
				t.Errorf("unblock: got %s %+v, want DONE", r.Status, r.Error)
			}
			var unblockAfterBlock bool
			if err := e.store.DB().Get(&unblockAfterBlock, `
				SELECT coalesce((SELECT min(started_at) FROM provider_calls WHERE track_id = $2) > (SELECT completed_at FROM commands WHERE track_id = $1), false)`,
				blockID, unblockID); err != nil {
				t.Fatal(err)
			}
			if !unblockAfterBlock {
				t.Errorf("the unblock's call was not made after the block had its outcome")
			}
		})
	}
}
