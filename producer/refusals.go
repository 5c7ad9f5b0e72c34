package producer

import (
	"errors"

	"github.com/segmentio/kafka-go"
)

// refusal is how the relay treats a write error for one row.
type refusal int

const (
	// mayPass: tried again after a growing delay, never set aside. The
	// broker or the network down, a timeout, no leader, not enough
	// in-sync replicas, throttling, a storage error, a corrupted request,
	// and every error not named below: an error the relay does not know
	// is never taken for a reason to give up on a row.
	mayPass refusal = iota
	// refused: set aside at once. kafka-go's own check that a message fits
	// a batch (MessageTooLargeError, which names the message) and an
	// invalid topic name: no retry can change them.
	refused
	// refusedAsBatch: the broker refused the batch the row was in for its
	// content — MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, INVALID_RECORD.
	// A broker answers these per batch, so the row is sent again alone
	// first; refused alone too, it is set aside.
	refusedAsBatch
	// topicRefused: the topic does not exist (UNKNOWN_TOPIC_OR_PARTITION,
	// as with BLOCKD_CREATE_TOPICS=false and nobody created it) or
	// blockd's user may not write to it (TOPIC_AUTHORIZATION_FAILED).
	// Retried while the row has been failing for less than TopicGrace (a
	// topic being created, or a broker or the writer's metadata cache
	// catching up, answers the same for a moment); set aside after that.
	topicRefused
)

// classify says how the relay treats err, a write error for one row.
func classify(err error) refusal {
	var tooLarge kafka.MessageTooLargeError
	if errors.As(err, &tooLarge) {
		return refused
	}
	var kerr kafka.Error
	if !errors.As(err, &kerr) {
		return mayPass
	}
	switch kerr {
	case kafka.InvalidTopic:
		return refused
	case kafka.MessageSizeTooLarge, kafka.RecordListTooLarge, kafka.InvalidRecord:
		return refusedAsBatch
	case kafka.UnknownTopicOrPartition, kafka.TopicAuthorizationFailed:
		return topicRefused
	}
	return mayPass
}

// errUnsent is the verdict on a message kafka-go did not send because
// another message of the same call was too large for a batch.
var errUnsent = errors.New("not sent: another message of its write was too large")

// perMessage spreads what WriteMessages(msgs...) returned over each
// message.
func perMessage(err error, msgs []kafka.Message) []error {
	out := make([]error, len(msgs))
	var werrs kafka.WriteErrors
	var tooLarge kafka.MessageTooLargeError
	switch {
	case err == nil:
	case errors.As(err, &werrs) && len(werrs) == len(msgs):
		copy(out, werrs)
	case errors.As(err, &tooLarge):
		// Nothing was sent. The culprit is where Remaining, the others in
		// order, first differs from msgs.
		culprit := len(tooLarge.Remaining)
		for i, m := range tooLarge.Remaining {
			if !sameBytes(m.Value, msgs[i].Value) || !sameBytes(m.Key, msgs[i].Key) {
				culprit = i
				break
			}
		}
		for i := range out {
			out[i] = errUnsent
		}
		out[culprit] = err
	default:
		for i := range out {
			out[i] = err
		}
	}
	return out
}

// sameBytes says whether a and b are the same slice (not merely equal).
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
