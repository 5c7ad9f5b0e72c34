package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"

	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/schemas/examples"
)

// The operations the load command offers (-operation).
const (
	opBlock        = "block"
	opBlockUnblock = "block+unblock"
	opFacility     = "facility"
)

// trackIDPattern is the trackId rule (schemas/json/common.schema.json).
var trackIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// topics are the command topics the load publishes on.
type topics struct {
	Block, Unblock, Inquiry string
}

// commandSource builds command i of a run from the examples in
// schemas/examples: the example's body with its own trackId
// (<run-id>-<i>) and, where the schema ties the command to an account,
// that account; the Kafka key is the account (of keys, i spread round
// robin over them).
type commandSource struct {
	runID     string
	provider  schemas.Provider
	operation string
	keys      int
	topics    topics
	// first and second are the example commands: the block (or facility
	// inquiry), and with block+unblock the unblock.
	first, second schemas.Command
	firstTopic    string
	runNumber     uint64 // from runID: makes account ids differ between runs
}

func newCommandSource(runID string, provider schemas.Provider, operation string, keys int, t topics) (*commandSource, error) {
	s := &commandSource{runID: runID, provider: provider, operation: operation, keys: keys, topics: t}
	sum := sha256.Sum256([]byte(runID))
	s.runNumber = binary.BigEndian.Uint64(sum[:8])
	v, err := schemas.NewValidator()
	if err != nil {
		return nil, fmt.Errorf("loading the schemas: %w", err)
	}
	load := func(kind schemas.Kind, name string) (schemas.Command, error) {
		raw, err := examples.Read(name)
		if err != nil {
			return schemas.Command{}, err
		}
		c, err := v.DecodeCommand(kind, raw)
		if err != nil {
			return schemas.Command{}, fmt.Errorf("example %s: %w", name, err)
		}
		return c, nil
	}
	switch operation {
	case opBlock, opBlockUnblock:
		if s.first, err = load(schemas.KindBlock, "block."+string(provider)+".json"); err != nil {
			return nil, err
		}
		s.firstTopic = t.Block
		if operation == opBlockUnblock {
			if s.second, err = load(schemas.KindUnblock, "unblock."+string(provider)+".json"); err != nil {
				return nil, err
			}
		}
	case opFacility:
		if provider != schemas.ProviderFinnotech {
			return nil, fmt.Errorf("-operation %s is a Finnotech inquiry, not %s's", opFacility, provider)
		}
		if s.first, err = load(schemas.KindInquiry, "inquiry.finnotech-facility.json"); err != nil {
			return nil, err
		}
		s.firstTopic = t.Inquiry
	default:
		return nil, fmt.Errorf("-operation %q: want %s, %s or %s", operation, opBlock, opBlockUnblock, opFacility)
	}
	return s, nil
}

// trackID is the trackId of command i.
func (s *commandSource) trackID(i int) string {
	return s.runID + "-" + strconv.Itoa(i)
}

// seqOf is the command number a trackId of this run carries; ok is false
// for a trackId of another run or none of ours.
func (s *commandSource) seqOf(trackID string) (int, bool) {
	if len(trackID) <= len(s.runID)+1 || trackID[:len(s.runID)] != s.runID || trackID[len(s.runID)] != '-' {
		return 0, false
	}
	digits := trackID[len(s.runID)+1:]
	if digits[0] == '0' && len(digits) > 1 {
		return 0, false
	}
	i, err := strconv.Atoi(digits)
	if err != nil || i < 0 {
		return 0, false
	}
	return i, true
}

// keyIndex is the account (0..keys-1) command i is for. With
// block+unblock, commands 2j and 2j+1 are the block and the unblock of
// pair j, on the same account.
func (s *commandSource) keyIndex(i int) int {
	if s.operation == opBlockUnblock {
		i /= 2
	}
	return i % s.keys
}

// account is the account id of account k, as the provider's schema wants
// it: for Arhivaar 24 hex digits, for the card platform 19 digits, for a
// facility inquiry a 10-digit national id (k < 1,000,000); each differs between runs
// (Arhivaar, card), so a run starts from fresh accounts. Finnotech blocks
// name no account in the body (the clientId's deposit is the account):
// their key is a name of the run's account k.
func (s *commandSource) account(k int) string {
	switch {
	case s.operation == opFacility:
		return fmt.Sprintf("%04d%06d", s.runNumber%10_000, k)
	case s.provider == schemas.ProviderArhivaar:
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(k))
		sum := sha256.Sum256(append([]byte(s.runID+"/"), b[:]...))
		return hex.EncodeToString(sum[:12])
	case s.provider == schemas.ProviderCard:
		return fmt.Sprintf("%010d%09d", s.runNumber%10_000_000_000, k)
	default:
		return "acct-" + s.runID + "-" + strconv.Itoa(k)
	}
}

// message is command i, ready for the writer.
func (s *commandSource) message(i int) (kafka.Message, error) {
	acct := s.account(s.keyIndex(i))
	c, topic := s.first, s.firstTopic
	if s.operation == opBlockUnblock && i%2 == 1 {
		c, topic = s.second, s.topics.Unblock
		c.BlockTrackID = s.trackID(i - 1)
	}
	c.TrackID = s.trackID(i)
	switch {
	case s.operation == opFacility:
		c.NationalID = acct
	case s.provider == schemas.ProviderArhivaar, s.provider == schemas.ProviderCard:
		c.AccountID = acct
	}
	value, err := json.Marshal(c)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encoding command %d: %w", i, err)
	}
	return kafka.Message{Topic: topic, Key: []byte(acct), Value: value, WriterData: i}, nil
}
