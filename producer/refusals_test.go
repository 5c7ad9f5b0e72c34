package producer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/segmentio/kafka-go"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want refusal
	}{
		{"broker: message too large", kafka.MessageSizeTooLarge, refusedAsBatch},
		{"broker: message too large, wrapped with its text", fmt.Errorf("%w: The message is too large.", kafka.MessageSizeTooLarge), refusedAsBatch},
		{"broker: record list too large", kafka.RecordListTooLarge, refusedAsBatch},
		{"broker: invalid record", kafka.InvalidRecord, refusedAsBatch},
		{"kafka-go: message larger than a batch", kafka.MessageTooLargeError{}, refused},
		{"invalid topic name", kafka.InvalidTopic, refused},
		{"topic missing", kafka.UnknownTopicOrPartition, topicRefused},
		{"topic not writable", kafka.TopicAuthorizationFailed, topicRefused},
		{"not enough replicas", kafka.NotEnoughReplicas, mayPass},
		{"no leader", kafka.LeaderNotAvailable, mayPass},
		{"not leader", kafka.NotLeaderForPartition, mayPass},
		{"request timed out", kafka.RequestTimedOut, mayPass},
		{"corrupt message (a bad network)", kafka.InvalidMessage, mayPass},
		{"unknown server error", kafka.Unknown, mayPass},
		{"connection refused", syscall.ECONNREFUSED, mayPass},
		{"connection cut", io.ErrUnexpectedEOF, mayPass},
		{"deadline", context.DeadlineExceeded, mayPass},
		{"anything else", errors.New("something blockd has not seen"), mayPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.err); got != tt.want {
				t.Fatalf("classify(%v): got %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestPerMessage(t *testing.T) {
	msgs := []kafka.Message{{Value: []byte("a")}, {Value: []byte("b")}, {Value: []byte("c")}}
	tooLarge := kafka.MessageTooLargeError{Message: msgs[1], Remaining: []kafka.Message{msgs[0], msgs[2]}}
	tests := []struct {
		name string
		err  error
		want []error
	}{
		{"all taken", nil, []error{nil, nil, nil}},
		{"per message", kafka.WriteErrors{nil, kafka.MessageSizeTooLarge, nil}, []error{nil, kafka.MessageSizeTooLarge, nil}},
		{"the whole write", kafka.UnknownTopicOrPartition, []error{kafka.UnknownTopicOrPartition, kafka.UnknownTopicOrPartition, kafka.UnknownTopicOrPartition}},
		{"one too large for a batch: nothing sent", tooLarge, []error{errUnsent, tooLarge, errUnsent}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := perMessage(tt.err, msgs)
			for i := range got {
				if fmt.Sprintf("%T %v", got[i], got[i]) != fmt.Sprintf("%T %v", tt.want[i], tt.want[i]) {
					t.Fatalf("message %d: got %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
