package main

import (
	"encoding/json"
	"testing"

	"github.com/blockd/blockd/schemas"
)

var testTopics = topics{Block: "b", Unblock: "u", Inquiry: "i"}

// TestEveryMessageIsAValidCommandKeyedByItsAccount builds commands of every
// provider and operation and checks each against the schema of its topic's
// kind, its trackId, its key and, for an unblock, the block it names.
func TestEveryMessageIsAValidCommandKeyedByItsAccount(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]schemas.Kind{"b": schemas.KindBlock, "u": schemas.KindUnblock, "i": schemas.KindInquiry}
	cases := []struct {
		provider  schemas.Provider
		operation string
	}{
		{schemas.ProviderFinnotech, opBlock}, {schemas.ProviderFinnotech, opBlockUnblock}, {schemas.ProviderFinnotech, opFacility},
		{schemas.ProviderArhivaar, opBlock}, {schemas.ProviderArhivaar, opBlockUnblock},
		{schemas.ProviderCard, opBlock}, {schemas.ProviderCard, opBlockUnblock},
	}
	const n, keys = 40, 7
	for _, tc := range cases {
		t.Run(string(tc.provider)+"/"+tc.operation, func(t *testing.T) {
			src, err := newCommandSource("run_1", tc.provider, tc.operation, keys, testTopics)
			if err != nil {
				t.Fatal(err)
			}
			trackIDs := map[string]bool{}
			keysSeen := map[string]bool{}
			var prev schemas.Command
			for i := range n {
				m, err := src.message(i)
				if err != nil {
					t.Fatal(err)
				}
				c, err := v.DecodeCommand(kinds[m.Topic], m.Value)
				if err != nil {
					t.Fatalf("command %d on %s is invalid: %v\n%s", i, m.Topic, err, m.Value)
				}
				if c.TrackID != src.trackID(i) || trackIDs[c.TrackID] || !trackIDPattern.MatchString(c.TrackID) {
					t.Errorf("command %d has trackId %q (seen before: %v)", i, c.TrackID, trackIDs[c.TrackID])
				}
				trackIDs[c.TrackID] = true
				if seq, ok := src.seqOf(c.TrackID); !ok || seq != i {
					t.Errorf("seqOf(%q) = %d, %v, want %d", c.TrackID, seq, ok, i)
				}
				if m.WriterData != i {
					t.Errorf("command %d carries WriterData %v", i, m.WriterData)
				}
				key := string(m.Key)
				keysSeen[key] = true
				switch {
				case tc.operation == opFacility:
					if c.NationalID != key {
						t.Errorf("facility inquiry %d: key is not its nationalId", i)
					}
				case tc.provider != schemas.ProviderFinnotech:
					if c.AccountID != key {
						t.Errorf("command %d: key %q is not its accountId %q", i, key, c.AccountID)
					}
				}
				wantTopic := map[string]string{opBlock: "b", opFacility: "i"}[tc.operation]
				if tc.operation == opBlockUnblock {
					wantTopic = "b"
					if i%2 == 1 {
						wantTopic = "u"
						if c.BlockTrackID != prev.TrackID || key != string(mustMessage(t, src, i-1).Key) {
							t.Errorf("unblock %d names block %q on key %q; its block is %q", i, c.BlockTrackID, key, prev.TrackID)
						}
					}
				}
				if m.Topic != wantTopic {
					t.Errorf("command %d on topic %q, want %q", i, m.Topic, wantTopic)
				}
				prev = c
			}
			if len(keysSeen) != keys {
				t.Errorf("%d distinct keys, want %d", len(keysSeen), keys)
			}
		})
	}
}

func mustMessage(t *testing.T, src *commandSource, i int) struct{ Key []byte } {
	t.Helper()
	m, err := src.message(i)
	if err != nil {
		t.Fatal(err)
	}
	return struct{ Key []byte }{m.Key}
}

func TestAccountsDifferBetweenRuns(t *testing.T) {
	for _, p := range []schemas.Provider{schemas.ProviderArhivaar, schemas.ProviderCard} {
		a, err := newCommandSource("runA", p, opBlock, 3, testTopics)
		if err != nil {
			t.Fatal(err)
		}
		b, err := newCommandSource("runB", p, opBlock, 3, testTopics)
		if err != nil {
			t.Fatal(err)
		}
		if a.account(0) == b.account(0) {
			t.Errorf("%s: runs runA and runB share account %q", p, a.account(0))
		}
	}
}

func TestSeqOfTakesOnlyThisRunsTrackIDs(t *testing.T) {
	src, err := newCommandSource("ld1", schemas.ProviderFinnotech, opBlock, 1, testTopics)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]int{"ld1-0": 0, "ld1-42": 42} {
		if got, ok := src.seqOf(id); !ok || got != want {
			t.Errorf("seqOf(%q) = %d, %v, want %d", id, got, ok, want)
		}
	}
	for _, id := range []string{"ld1-", "ld1-042", "ld1-4x", "ld10-4", "ld1-1-2", "ld1--1", "other", "ld1"} {
		if seq, ok := src.seqOf(id); ok {
			t.Errorf("seqOf(%q) = %d, true; want not this run's", id, seq)
		}
	}
}

func TestOperationsEachProviderOffers(t *testing.T) {
	if _, err := newCommandSource("r", schemas.ProviderCard, opFacility, 1, testTopics); err == nil {
		t.Error("a card facility inquiry was accepted")
	}
	if _, err := newCommandSource("r", schemas.ProviderFinnotech, "transfer", 1, testTopics); err == nil {
		t.Error("operation transfer was accepted")
	}
	var c map[string]any
	src, err := newCommandSource("r", schemas.ProviderFinnotech, opBlock, 1, testTopics)
	if err != nil {
		t.Fatal(err)
	}
	m, err := src.message(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(m.Value, &c); err != nil || c["clientId"] != "blockd-sandbox" || c["amount"] != float64(1500000) {
		t.Errorf("a Finnotech block does not keep the example's clientId and amount: %s", m.Value)
	}
}
