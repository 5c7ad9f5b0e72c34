package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/blockd/blockd/schemas"
)

// TestEarlierOpenFollowsTheAccountsOrder: the commands of an account-state
// provider's account are ordered as received, except that an unblock naming
// its block comes right after that block. Each case receives its commands in
// order (arhivaar, account "a1" unless said), completes some, and asks
// EarlierOpen for each command in want.
func TestEarlierOpenFollowsTheAccountsOrder(t *testing.T) {
	t.Parallel()
	const account = "a1"
	blk := func(trackID string) schemas.Command {
		return schemas.Command{Kind: schemas.KindBlock, TrackID: trackID, Provider: schemas.ProviderArhivaar, AccountID: account, Note: "n"}
	}
	ubl := func(trackID, block string) schemas.Command {
		return schemas.Command{Kind: schemas.KindUnblock, TrackID: trackID, Provider: schemas.ProviderArhivaar, AccountID: account, Note: "n", BlockTrackID: block}
	}
	onAccount := func(c schemas.Command, acct string) schemas.Command {
		c.AccountID = acct
		return c
	}
	cases := []struct {
		name     string
		received []schemas.Command
		done     []string
		want     map[string]string
	}{
		{name: "in received order",
			received: []schemas.Command{blk("b1"), blk("b2"), ubl("u0", "")},
			want:     map[string]string{"b1": "", "b2": "b1", "u0": "b1"}},
		{name: "a command with an outcome holds nothing back",
			received: []schemas.Command{blk("b1"), blk("b2"), ubl("u0", "")},
			done:     []string{"b1"},
			want:     map[string]string{"b2": "", "u0": "b2"}},
		{name: "an unblock received before its block comes after it",
			received: []schemas.Command{ubl("u1", "b1"), blk("b1")},
			want:     map[string]string{"b1": "", "u1": "b1"}},
		{name: "an unblock received before its block, once the block has its outcome",
			received: []schemas.Command{ubl("u1", "b1"), blk("b1")},
			done:     []string{"b1"},
			want:     map[string]string{"u1": ""}},
		{name: "an unblock received after its block",
			received: []schemas.Command{blk("b1"), ubl("u1", "b1"), blk("b2")},
			done:     []string{"b1"},
			want:     map[string]string{"u1": "", "b2": "u1"}},
		{name: "a command received between an unblock and its block comes before both",
			received: []schemas.Command{ubl("u1", "b1"), blk("b2"), blk("b1")},
			want:     map[string]string{"b2": "", "b1": "b2", "u1": "b2"}},
		{name: "a command received between an unblock and its block, once it has its outcome",
			received: []schemas.Command{ubl("u1", "b1"), blk("b2"), blk("b1")},
			done:     []string{"b2"},
			want:     map[string]string{"b1": "", "u1": "b1"}},
		{name: "crossed pairs",
			received: []schemas.Command{ubl("u1", "b1"), ubl("u2", "b2"), blk("b2"), blk("b1")},
			want:     map[string]string{"b2": "", "u2": "b2", "b1": "b2", "u1": "b2"}},
		{name: "crossed pairs, the first block done",
			received: []schemas.Command{ubl("u1", "b1"), ubl("u2", "b2"), blk("b2"), blk("b1")},
			done:     []string{"b2"},
			want:     map[string]string{"u2": "", "b1": "u2", "u1": "u2"}},
		{name: "an earlier unblock of a block received earlier is waited for",
			received: []schemas.Command{blk("b0"), ubl("u0", "b0"), blk("b1")},
			done:     []string{"b0"},
			want:     map[string]string{"u0": "", "b1": "u0"}},
		{name: "an earlier unblock received before its block, both before this command",
			received: []schemas.Command{ubl("u0", "b0"), blk("b0"), blk("b1")},
			want:     map[string]string{"b0": "", "u0": "b0", "b1": "b0"}},
		{name: "an earlier unblock received before its block, both before this command, the block done",
			received: []schemas.Command{ubl("u0", "b0"), blk("b0"), blk("b1")},
			done:     []string{"b0"},
			want:     map[string]string{"u0": "", "b1": "u0"}},
		{name: "two unblocks of one block received before it",
			received: []schemas.Command{ubl("u1", "b1"), ubl("u2", "b1"), blk("b1")},
			want:     map[string]string{"b1": "", "u1": "b1", "u2": "b1"}},
		{name: "two unblocks of one block received before it, the block done",
			received: []schemas.Command{ubl("u1", "b1"), ubl("u2", "b1"), blk("b1")},
			done:     []string{"b1"},
			want:     map[string]string{"u1": "", "u2": "u1"}},
		{name: "an unblock naming a block not stored holds nothing back",
			received: []schemas.Command{ubl("u1", "b9"), blk("b1")},
			want:     map[string]string{"b1": ""}},
		{name: "an unblock naming a block of another account holds nothing back",
			received: []schemas.Command{onAccount(blk("x1"), "a2"), ubl("u1", "x1"), blk("b1")},
			want:     map[string]string{"b1": "", "x1": ""}},
		{name: "an unblock naming a command that is no block holds nothing back",
			received: []schemas.Command{ubl("u0", ""), ubl("u1", "u0"), blk("b1")},
			done:     []string{"u0"},
			want:     map[string]string{"b1": ""}},
		{name: "another account's and another provider's commands hold nothing back",
			received: []schemas.Command{onAccount(blk("x1"), "a2"),
				{Kind: schemas.KindBlock, TrackID: "c1", Provider: schemas.ProviderCard, AccountID: account, BlockCodeSlot: 1, BlockCode: "B"},
				blk("b1")},
			want: map[string]string{"b1": ""}},
	}
	s := openStore(t)
	ctx := context.Background()
	for i, c := range cases {
		// Each case on accounts of its own: trackIds and accounts get the
		// case's prefix.
		prefix := string(rune('A'+i)) + "-"
		claims := map[string]string{}
		for _, cmd := range c.received {
			cmd.TrackID = prefix + cmd.TrackID
			cmd.AccountID = prefix + cmd.AccountID
			if cmd.BlockTrackID != "" {
				cmd.BlockTrackID = prefix + cmd.BlockTrackID
			}
			r, err := s.Receive(ctx, cmd, schemas.SourceMeta{Topic: "t"}, "me", time.Minute, notLocal)
			if err != nil || r.Status != schemas.ReceiptNew {
				t.Fatalf("%s: Receive %s: got %+v, %v", c.name, cmd.TrackID, r, err)
			}
			claims[cmd.TrackID] = r.Claim
		}
		for _, id := range c.done {
			id = prefix + id
			if err := s.Complete(ctx, schemas.Completion{TrackID: id, Claim: claims[id], State: schemas.StateDone,
				EventID: uuid.NewString(), Result: resultMsg(id)}); err != nil {
				t.Fatalf("%s: Complete %s: %v", c.name, id, err)
			}
		}
		for id, want := range c.want {
			cmd := c.received[indexOf(t, c.received, id)]
			got, err := s.EarlierOpen(ctx, schemas.EarlierOpenParams{Provider: cmd.Provider, AccountID: prefix + cmd.AccountID, TrackID: prefix + id})
			if err != nil {
				t.Fatalf("%s: EarlierOpen(%s): %v", c.name, id, err)
			}
			if want != "" {
				want = prefix + want
			}
			if got != want {
				t.Errorf("%s: EarlierOpen(%s) = %q, want %q", c.name, id, got, want)
			}
		}
	}
}

func indexOf(t *testing.T, cmds []schemas.Command, trackID string) int {
	t.Helper()
	for i, c := range cmds {
		if c.TrackID == trackID {
			return i
		}
	}
	t.Fatalf("no command %s in the case", trackID)
	return -1
}
