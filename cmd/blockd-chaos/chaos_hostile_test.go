package main

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/blockd/blockd/schemas"
)

// plannedWithHostile plans 1000 commands of seed 7 and mixes in 3% hostile
// messages for limit.
func plannedWithHostile(t *testing.T, rate float64, limit int) *commandPlan {
	t.Helper()
	p, err := planCommands(1000, rand.New(rand.NewPCG(7, 1)), "run123")
	if err != nil {
		t.Fatal(err)
	}
	if err := addHostile(p, rand.New(rand.NewPCG(7, 2)), "run123", rate, limit); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestChaosHostilePlan: the hostile mix holds every kind, each message
// right before a command of the same key and topic (a conflict right after
// the command whose trackId it takes, with another payload), so that a
// message that stopped its key leaves that command without a result; what
// blockd owes each follows the limit.
func TestChaosHostilePlan(t *testing.T) {
	for _, limit := range []int{262144, 6144} {
		p := plannedWithHostile(t, 0.03, limit)
		kinds := map[hostileKind]int{}
		for c, steps := range p.chains {
			for j, s := range steps {
				m := s.Hostile
				if m == nil {
					continue
				}
				kinds[m.Kind]++
				switch {
				case m.Command:
					if p.byTrack[s.Cmd.TrackID] != s {
						t.Errorf("limit %d: %s %s is not a planned command", limit, m.Kind, s.Cmd.TrackID)
					}
				case m.Kind == hostileConflict:
					orig := steps[j-1]
					if j == 0 || orig.Cmd.TrackID != m.TrackID || orig.Topic != s.Topic || orig.Key != s.Key || bytes.Equal(orig.Value, s.Value) {
						t.Errorf("limit %d: chain %d: conflict %s does not follow its command with another payload", limit, c, m.ID)
					}
				default:
					next := j + 1
					for next < len(steps) && steps[next].Hostile != nil && !steps[next].Hostile.Command {
						next++
					}
					if next == len(steps) || steps[next].Topic != s.Topic || steps[next].Key != s.Key || steps[next].Delay != 0 {
						t.Errorf("limit %d: chain %d: %s %s is not right before a command of its key and topic", limit, c, m.Kind, m.ID)
					}
				}
			}
		}
		for _, k := range append(mixKinds, hostileHugeReason, hostileLargestResult) {
			if kinds[k] == 0 {
				t.Errorf("limit %d: no %s message in the mix %v", limit, k, kinds)
			}
		}
		if kinds[hostileHugeReason] != 1 || kinds[hostileLargestResult] != 1 {
			t.Errorf("limit %d: got %d huge-reason and %d largest-result messages, want 1 and 1", limit, kinds[hostileHugeReason], kinds[hostileLargestResult])
		}
		if len(p.hostile) != 32 {
			t.Errorf("limit %d: got %d hostile messages, want 30 of the mix and 2", limit, len(p.hostile))
		}
		for _, s := range p.hostile {
			m := s.Hostile
			switch m.Kind {
			case hostileLargestResult:
				if tooLarge := limit < m.ResultBytes; m.WantTooLarge != tooLarge || m.WantFits == tooLarge {
					t.Errorf("limit %d: largest result ~%d bytes: got want-too-large %v want-fits %v", limit, m.ResultBytes, m.WantTooLarge, m.WantFits)
				}
			case hostileBigField:
				want := schemas.CodeSchemaInvalid
				if limit < m.Size {
					want = schemas.CodeTooLarge
				}
				if m.DLQCode != want {
					t.Errorf("limit %d: a %d-byte big field: got dead letter %s, want %s", limit, m.Size, m.DLQCode, want)
				}
			case hostileNationalID, hostileIBAN, hostileCardAccount, hostileDeposit:
				if m.Sensitive == "" || !bytes.Contains(s.Value, []byte(m.Sensitive)) {
					t.Errorf("limit %d: %s %s does not carry its value %q", limit, m.Kind, m.ID, m.Sensitive)
				}
			case hostileTraceparentNUL, hostileTraceparentFF:
				if tp := header(kafkaMessage(s), "traceparent"); tp == "" || tp == traceparentBase {
					t.Errorf("limit %d: %s %s has traceparent %q", limit, m.Kind, m.ID, tp)
				}
			}
		}
	}
}

// TestChaosHostileKeepsCommands: mixing hostile messages in does not
// change the commands of a seed, but for the largest-result chain; with
// rate 0 nothing is added.
func TestChaosHostileKeepsCommands(t *testing.T) {
	plain := plannedWithHostile(t, 0, 262144)
	if len(plain.hostile) != 0 || plain.steps != plain.total {
		t.Errorf("rate 0: got %d hostile messages and %d steps for %d commands, want none and %d", len(plain.hostile), plain.steps, plain.total, plain.total)
	}
	mixed := plannedWithHostile(t, 0.03, 262144)
	if len(mixed.byTrack) != len(plain.byTrack) {
		t.Fatalf("got %d commands, want %d", len(mixed.byTrack), len(plain.byTrack))
	}
	changed := 0
	for id, c := range plain.byTrack {
		if m := mixed.byTrack[id]; m == nil || !bytes.Equal(m.Value, c.Value) {
			changed++
		}
	}
	if changed > 2 {
		t.Errorf("got %d commands changed, want at most the largest-result block and its unblock", changed)
	}
}

// TestChaosSensitiveValues: the national id has its check digit and the
// IBAN its check digits, as a redactor that checks them would want.
func TestChaosSensitiveValues(t *testing.T) {
	if got := nationalID("049937089"); got != "0499370899" {
		t.Errorf("got national id %s, want 0499370899", got)
	}
	if got := ibanCheck("IR", "0540102680020817909002"); got != "82" {
		t.Errorf("got IBAN check digits %s, want 82", got)
	}
}
