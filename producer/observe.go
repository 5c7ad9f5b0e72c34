package producer

import "github.com/blockd/blockd/schemas"

// Observer is told what the relay does, for metrics (cmd/blockd/metrics in
// production). Its methods must be cheap and safe for concurrent use.
// Config.Observer nil observes nothing.
type Observer interface {
	// WriteFailed: a row was not taken by the broker, or not sent at all;
	// class is one of the WriteError constants, never the error's text. A
	// row counts once per pass, by the write that decided it (a row sent
	// again alone counts by what it met alone).
	WriteFailed(class string)
	// Passed: a pass over the outbox ended with pass; err is what kept it
	// from reading or updating the outbox (the database), if anything.
	Passed(pass schemas.OutboxPass, err error)
}

// The classes of Observer.WriteFailed: why a row was not published.
const (
	// WriteErrorRetryable: an error that may pass (the broker or the
	// network down, a timeout, no leader, throttling, anything unknown);
	// the row goes again after a delay.
	WriteErrorRetryable = "retryable"
	// WriteErrorRefused: refused for good (kafka-go's own size check, an
	// invalid topic, or a batch refusal the row met again alone): set aside.
	WriteErrorRefused = "refused"
	// WriteErrorRefusedBatch: the broker refused the batch the row was in
	// (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, INVALID_RECORD) and the
	// pass had no room left to try it alone: it goes again.
	WriteErrorRefusedBatch = "refused_batch"
	// WriteErrorTopic: the topic is missing or blockd may not write to it;
	// retried for TopicGrace, then set aside.
	WriteErrorTopic = "topic_refused"
	// WriteErrorTooLarge: larger than MaxMessageBytes, set aside unsent.
	WriteErrorTooLarge = "too_large"
)

// WriteErrorClasses lists every class of Observer.WriteFailed, for an
// Observer that creates its series ahead.
func WriteErrorClasses() []string {
	return []string{WriteErrorRetryable, WriteErrorRefused, WriteErrorRefusedBatch, WriteErrorTopic, WriteErrorTooLarge}
}

// writeErrorClass names how the relay treats a write error of class c.
func writeErrorClass(c refusal, alone bool) string {
	switch {
	case c == refused || c == refusedAsBatch && alone:
		return WriteErrorRefused
	case c == refusedAsBatch:
		return WriteErrorRefusedBatch
	case c == topicRefused:
		return WriteErrorTopic
	default:
		return WriteErrorRetryable
	}
}

// noObserver observes nothing: Config.Observer's default.
type noObserver struct{}

func (noObserver) WriteFailed(string)               {}
func (noObserver) Passed(schemas.OutboxPass, error) {}
