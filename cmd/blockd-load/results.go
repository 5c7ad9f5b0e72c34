package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// The key prefix and ce_type prefix of refusals (README, "Result events").
const (
	refusalKeyPrefix  = "refused:"
	refusalTypePrefix = "dev.blockd.refusal."
)

// endOffsets returns each partition of topic and its end offset: where a
// reader starts so that only results written from now on are read.
func endOffsets(ctx context.Context, brokers []string, topic string) (map[int]int64, error) {
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("reading the metadata of %s: %w", topic, err)
	}
	if len(md.Topics) != 1 {
		return nil, fmt.Errorf("the broker describes %d topics for %s", len(md.Topics), topic)
	}
	if err := md.Topics[0].Error; err != nil {
		return nil, fmt.Errorf("topic %s (is blockd running, with its topics created?): %w", topic, err)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("topic %s has no partitions", topic)
	}
	res, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("listing the end offsets of %s: %w", topic, err)
	}
	out := make(map[int]int64, len(reqs))
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("the end offset of %s/%d: %w", topic, p.Partition, p.Error)
		}
		out[p.Partition] = p.LastOffset
	}
	if len(out) != len(reqs) {
		return nil, fmt.Errorf("the broker gave end offsets of %d of %s's %d partitions", len(out), topic, len(reqs))
	}
	return out, nil
}

// parseResult reads a message of the results topic; ok is false when it
// is no result event (not a JSON object with a trackId).
func parseResult(m kafka.Message) (resultEvent, bool) {
	var v struct {
		EventID string `json:"eventId"`
		TrackID string `json:"trackId"`
		Status  string `json:"status"`
		Error   *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(m.Value, &v); err != nil || v.TrackID == "" {
		return resultEvent{}, false
	}
	e := resultEvent{trackID: v.TrackID, eventID: v.EventID, status: v.Status,
		refusal: strings.HasPrefix(string(m.Key), refusalKeyPrefix)}
	if v.Error != nil {
		e.code = v.Error.Code
	}
	for _, h := range m.Headers {
		if h.Key == "ce_type" && strings.HasPrefix(string(h.Value), refusalTypePrefix) {
			e.refusal = true
		}
	}
	return e, true
}

// resultsReader reads every partition of the results topic from the given
// offsets and records each event in the tally.
type resultsReader struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error
}

func readResults(brokers []string, topic string, from map[int]int64, src *commandSource, t *tally) *resultsReader {
	ctx, cancel := context.WithCancel(context.Background())
	r := &resultsReader{cancel: cancel}
	for part, off := range from {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := readPartition(ctx, brokers, topic, part, off, src, t); err != nil {
				r.mu.Lock()
				r.errs = append(r.errs, err)
				r.mu.Unlock()
			}
		}()
	}
	return r
}

// readPartition reads one partition from offset until ctx ends. A reader
// that fails (the broker went away) is replaced by a new one at the next
// offset.
func readPartition(ctx context.Context, brokers []string, topic string, part int, offset int64, src *commandSource, t *tally) error {
	for ctx.Err() == nil {
		kr := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: part,
			MinBytes: 1, MaxBytes: 10 << 20, MaxWait: time.Second})
		if err := kr.SetOffset(offset); err != nil {
			kr.Close()
			return fmt.Errorf("reading %s/%d from %d: %w", topic, part, offset, err)
		}
		for {
			m, err := kr.FetchMessage(ctx)
			if err != nil {
				break
			}
			at := time.Now()
			offset = m.Offset + 1
			e, ok := parseResult(m)
			if !ok {
				t.unreadableMessage()
				continue
			}
			seq, ours := src.seqOf(e.trackID)
			t.result(e, seq, ours, at)
		}
		kr.Close()
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
	}
	return nil
}

// stop ends the readers and returns what stopped one early.
func (r *resultsReader) stop() error {
	r.cancel()
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(slices.Clone(r.errs)...)
}
