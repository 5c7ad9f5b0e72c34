package main

import (
	"context"
	"encoding/base64"
	"encoding/json"

	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// The headers of blockd's dead letters (consumer/processor/answers.go).
const (
	dlqHeaderPrefix        = "blockd-dlq-"
	dlqSourcePrefix        = "blockd-source-"
	dlqHeaderReplaced      = "blockd-dlq-replaced"
	dlqHeaderSourceTopic   = "blockd-source-topic"
	dlqHeaderSourcePart    = "blockd-source-partition"
	dlqHeaderEncodedPrefix = "blockd-dlq-header-"
	dlqHeaderCode          = "blockd-dlq-code"
)

// neverRefused are the dead letter codes blockd dead-letters without a
// refusal (consumer/processor receive.go: no trackId is read from such a
// message). A dead letter with any other code, or none, may have been
// answered under refused:<trackId>, and its sender may have sent the
// command again under a new trackId.
var neverRefused = map[string]bool{"MALFORMED_MESSAGE": true, "EMPTY_MESSAGE": true, "MESSAGE_TOO_LARGE": true, "UNKNOWN_TOPIC": true}

// dlqSummary is what a dlq replay did; --json prints it.
type dlqSummary struct {
	Topic       string         `json:"topic"`
	DryRun      bool           `json:"dryRun"`
	Read        int            `json:"read"`
	Resubmitted int            `json:"resubmitted"`
	Replaced    int            `json:"skippedReplaced"`
	NotBlockd   int            `json:"skippedNotDeadLetter"`
	Old         int            `json:"skippedOld"`     // older than BLOCKD_RETENTION, without --include-old
	Refused     int            `json:"skippedRefused"` // possibly answered with a refusal, without --include-refused
	Failed      int            `json:"failed"`         // dead letters not sent, and partitions not read
	Partitions  []dlqPartition `json:"partitions"`
}

// dlqPartition is the range of one DLQ partition a replay read.
type dlqPartition struct {
	Partition int    `json:"partition"`
	From      int64  `json:"fromOffset"`
	To        int64  `json:"toOffset"` // the partition's end when read: the next offset
	Error     string `json:"error,omitempty"`
}

// runDLQReplay reads the DLQ topic, without a consumer group, and sends
// each dead letter blockd wrote back to its source topic and partition, with
// its original key, value and headers (blockd's dlq and source headers
// taken off, headers it had to encode restored). A record blockd wrote in
// place of a dead letter too large to keep cannot be re-submitted: skipped
// and counted. --dry-run sends nothing.
//
// Unless asked (--include-old), a dead letter older than BLOCKD_RETENTION
// is skipped and counted: a command of its trackId may have been forgotten
// since, so re-submitting it could make a new command. Unless asked
// (--include-refused), so is one whose code may have been answered with a
// refusal: its sender may have sent the command again under a new trackId,
// and re-submitting it could make a second command.
func runDLQReplay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dlq replay", flag.ContinueOnError)
	dryRun := fs.Bool("dry-run", false, "print what would be sent; send nothing")
	fromOffset := fs.Int64("from-offset", -1, "start every partition at this offset (default: its beginning)")
	since := fs.String("since", "", "start at the first dead letter written at or after this time (RFC 3339, or a duration before now such as 24h)")
	includeOld := fs.Bool("include-old", false, "also re-submit dead letters older than BLOCKD_RETENTION")
	includeRefused := fs.Bool("include-refused", false, "also re-submit dead letters that may have been answered with a refusal")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError{"blockd dlq replay takes no arguments but its flags"}
	}
	var sinceTime time.Time
	switch {
	case *since != "" && *fromOffset >= 0:
		return usageError{"blockd dlq replay: give --from-offset or --since, not both"}
	case *since != "":
		if d, err := time.ParseDuration(*since); err == nil && d > 0 {
			sinceTime = time.Now().Add(-d)
		} else if sinceTime, err = time.Parse(time.RFC3339, *since); err != nil {
			return usageError{"blockd dlq replay: --since is an RFC 3339 time (2006-01-02T15:04:05Z) or a duration (24h)"}
		}
	}
	cfg, err := loadConfig(getenv, os.ReadFile)
	if err != nil {
		return err
	}
	sec, err := newKafkaSecurity(cfg)
	if err != nil {
		return err
	}
	brokers := cfg.KafkaBrokers
	if len(brokers) == 0 {
		brokers = []string{cfg.EmbeddedKafkaAddr}
	}
	r := dlqReplay{brokers: brokers, dialer: sec.dialer(), transport: sec.transport(), topic: cfg.TopicDLQ, dryRun: *dryRun,
		fromOffset: *fromOffset, since: sinceTime, maxBytes: cfg.MaxMessageBytes, stdout: stdout, asJSON: *asJSON,
		progress: newProgress(stderr), includeRefused: *includeRefused}
	if !*includeOld {
		r.oldBefore = time.Now().Add(-cfg.Retention)
	}
	defer r.transport.CloseIdleConnections()
	sum, err := r.run(ctx)
	r.progress.done()
	if *asJSON {
		b, _ := json.Marshal(sum)
		fmt.Fprintln(stdout, string(b))
	} else {
		verb := "re-submitted"
		if *dryRun {
			verb = "would re-submit"
		}
		fmt.Fprintf(stdout, "%s: read %d, %s %d, skipped %d (records of dead letters too large to keep), %d (not blockd dead letters), "+
			"%d (older than BLOCKD_RETENTION; --include-old) and %d (may have been answered with a refusal; --include-refused), failed %d\n",
			sum.Topic, sum.Read, verb, sum.Resubmitted, sum.Replaced, sum.NotBlockd, sum.Old, sum.Refused, sum.Failed)
		for _, p := range sum.Partitions {
			if p.Error != "" {
				fmt.Fprintf(stdout, "%s/%d: FAILED: %s\n", sum.Topic, p.Partition, p.Error)
			}
		}
	}
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		return cliError{exitFailure, fmt.Sprintf("%d dead letter(s) or partition(s) failed; see the lines above", sum.Failed)}
	}
	return nil
}

// dlqReplay is one run of blockd dlq replay.
type dlqReplay struct {
	brokers    []string
	dialer     *kafka.Dialer
	transport  *kafka.Transport
	topic      string
	dryRun     bool
	fromOffset int64
	since      time.Time
	maxBytes   int
	stdout     io.Writer
	asJSON     bool
	progress   *progress
	// oldBefore: dead letters written before it are skipped (zero: none).
	oldBefore time.Time
	// includeRefused re-submits dead letters that may have been refused.
	includeRefused bool
	// fetchTimeout bounds the wait for one message (0: 30s).
	fetchTimeout time.Duration
}

func (r *dlqReplay) run(ctx context.Context) (dlqSummary, error) {
	sum := dlqSummary{Topic: r.topic, DryRun: r.dryRun, Partitions: []dlqPartition{}}
	parts, err := r.dialer.LookupPartitions(ctx, "tcp", r.brokers[0], r.topic)
	if err != nil {
		return sum, cliError{exitFailure, fmt.Sprintf("reading the partitions of %s: %v", r.topic, err)}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].ID < parts[j].ID })
	client := &kafka.Client{Addr: kafka.TCP(r.brokers...), Timeout: 30 * time.Second, Transport: r.transport}
	for _, p := range parts {
		dp, err := r.bounds(ctx, p.ID)
		if err != nil {
			dp.Error = err.Error()
			sum.Partitions = append(sum.Partitions, dp)
			sum.Failed++
			continue
		}
		r.partition(ctx, client, &dp, &sum)
		sum.Partitions = append(sum.Partitions, dp)
		if ctx.Err() != nil {
			return sum, ctx.Err()
		}
	}
	return sum, nil
}

// bounds is where reading partition starts and ends.
func (r *dlqReplay) bounds(ctx context.Context, partition int) (dlqPartition, error) {
	dp := dlqPartition{Partition: partition}
	conn, err := r.dialer.DialLeader(ctx, "tcp", r.brokers[0], r.topic, partition)
	if err != nil {
		return dp, fmt.Errorf("connecting to the leader of %s/%d: %w", r.topic, partition, err)
	}
	defer func() { _ = conn.Close() }()
	first, last, err := conn.ReadOffsets()
	if err != nil {
		return dp, fmt.Errorf("reading the offsets of %s/%d: %w", r.topic, partition, err)
	}
	dp.From, dp.To = first, last
	switch {
	case r.fromOffset >= 0:
		dp.From = min(max(first, r.fromOffset), last)
	case !r.since.IsZero():
		at, err := conn.ReadOffset(r.since)
		if err != nil {
			return dp, fmt.Errorf("finding %s in %s/%d: %w", r.since.Format(time.RFC3339), r.topic, partition, err)
		}
		if at < 0 {
			// Nothing at or after since in this partition.
			dp.From = last
		} else {
			dp.From = min(max(first, at), last)
		}
	}
	return dp, nil
}

// partition reads dp's range and re-submits each dead letter in it. A
// partition that cannot be read to its end counts as failed: its error is
// in dp and printed.
func (r *dlqReplay) partition(ctx context.Context, client *kafka.Client, dp *dlqPartition, sum *dlqSummary) {
	if err := r.readPartition(ctx, client, dp, sum); err != nil {
		dp.Error = err.Error()
		sum.Failed++
		r.line("%s/%d: FAILED: %v", r.topic, dp.Partition, err)
	}
}

func (r *dlqReplay) readPartition(ctx context.Context, client *kafka.Client, dp *dlqPartition, sum *dlqSummary) error {
	if dp.From >= dp.To {
		return nil
	}
	wait := r.fetchTimeout
	if wait <= 0 {
		wait = 30 * time.Second
	}
	rd := kafka.NewReader(kafka.ReaderConfig{Brokers: r.brokers, Topic: r.topic, Partition: dp.Partition, Dialer: r.dialer,
		MaxBytes: r.maxBytes + 64<<10, MaxWait: time.Second})
	defer rd.Close()
	if err := rd.SetOffset(dp.From); err != nil {
		return fmt.Errorf("seeking %s/%d to %d: %w", r.topic, dp.Partition, dp.From, err)
	}
	for {
		rctx, cancel := context.WithTimeout(ctx, wait)
		m, err := rd.FetchMessage(rctx)
		cancel()
		if err != nil {
			return fmt.Errorf("reading %s/%d: %w", r.topic, dp.Partition, err)
		}
		sum.Read++
		r.one(ctx, client, m, sum)
		r.progress.update(sum)
		if m.Offset >= dp.To-1 {
			return nil
		}
	}
}

// one re-submits the dead letter m, or says why not.
func (r *dlqReplay) one(ctx context.Context, client *kafka.Client, m kafka.Message, sum *dlqSummary) {
	where := fmt.Sprintf("%s/%d/%d", m.Topic, m.Partition, m.Offset)
	src, ok := restore(m)
	switch {
	case headerOf(m, dlqHeaderReplaced) != "":
		sum.Replaced++
		r.line("%s: skipped: blockd's record of a dead letter too large to keep (the original stays on its source topic)", where)
		return
	case !ok:
		sum.NotBlockd++
		r.line("%s: skipped: no %s/%s headers (not a dead letter blockd wrote)", where, dlqHeaderSourceTopic, dlqHeaderSourcePart)
		return
	case !r.oldBefore.IsZero() && m.Time.Before(r.oldBefore):
		sum.Old++
		r.line("%s: skipped: written %s, longer ago than BLOCKD_RETENTION (a command of its trackId may have been forgotten; --include-old)",
			where, m.Time.UTC().Format(time.RFC3339))
		return
	case !r.includeRefused && !neverRefused[headerOf(m, dlqHeaderCode)]:
		sum.Refused++
		r.line("%s: skipped: code %s may have been answered with a refusal; its sender may have sent it again under a new trackId (--include-refused)",
			where, dash(headerOf(m, dlqHeaderCode)))
		return
	}
	target := fmt.Sprintf("%s/%d", src.topic, src.partition)
	if r.dryRun {
		sum.Resubmitted++
		r.line("%s: would send to %s (%d headers)", where, target, len(src.record.Headers))
		return
	}
	res, err := client.Produce(ctx, &kafka.ProduceRequest{Topic: src.topic, Partition: src.partition, RequiredAcks: kafka.RequireAll,
		Records: kafka.NewRecordReader(src.record)})
	if err == nil && res.Error != nil {
		err = res.Error
	}
	if err != nil {
		sum.Failed++
		r.line("%s: sending to %s failed: %v", where, target, err)
		return
	}
	sum.Resubmitted++
	r.line("%s: sent to %s at offset %d", where, target, res.BaseOffset)
}

// line prints one per-message line, for people (not with --json).
func (r *dlqReplay) line(format string, args ...any) {
	if !r.asJSON {
		r.progress.clear()
		fmt.Fprintf(r.stdout, format+"\n", args...)
	}
}

// resubmission is a dead letter as it is sent back.
type resubmission struct {
	topic     string
	partition int
	record    kafka.Record
}

// encodedHeader is a header blockd kept as blockd-dlq-header-<pos>.
type encodedHeader struct {
	pos int
	h   kafka.Header
}

// restore is the message the dead letter m was made from: its source topic
// and partition, its key and value, and its own headers (those blockd had
// to encode decoded, after the others in their original order; blockd's
// taken off).
func restore(m kafka.Message) (resubmission, bool) {
	topic, part := headerOf(m, dlqHeaderSourceTopic), headerOf(m, dlqHeaderSourcePart)
	p, err := strconv.Atoi(part)
	if topic == "" || err != nil || p < 0 {
		return resubmission{}, false
	}
	var kept []kafka.Header
	var decoded []encodedHeader
	for _, h := range m.Headers {
		if pos, ok := strings.CutPrefix(h.Key, dlqHeaderEncodedPrefix); ok {
			if e, ok := decodeHeader(pos, string(h.Value)); ok {
				decoded = append(decoded, e)
				continue
			}
		}
		if strings.HasPrefix(h.Key, dlqHeaderPrefix) || strings.HasPrefix(h.Key, dlqSourcePrefix) {
			continue
		}
		kept = append(kept, h)
	}
	sort.Slice(decoded, func(i, j int) bool { return decoded[i].pos < decoded[j].pos })
	for _, e := range decoded {
		kept = append(kept, e.h)
	}
	rec := kafka.Record{Value: kafka.NewBytes(m.Value), Headers: kept}
	if m.Key != nil {
		rec.Key = kafka.NewBytes(m.Key)
	}
	return resubmission{topic: topic, partition: p, record: rec}, true
}

// decodeHeader undoes the blockd-dlq-header-<pos> = base64(key):base64(value)
// encoding of a header blockd could not keep as it was.
func decodeHeader(pos, v string) (encodedHeader, bool) {
	n, err := strconv.Atoi(pos)
	k, val, ok := strings.Cut(v, ":")
	if err != nil || !ok {
		return encodedHeader{}, false
	}
	key, err1 := base64.StdEncoding.DecodeString(k)
	value, err2 := base64.StdEncoding.DecodeString(val)
	if err1 != nil || err2 != nil {
		return encodedHeader{}, false
	}
	return encodedHeader{pos: n, h: kafka.Header{Key: string(key), Value: value}}, true
}

func headerOf(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// progress is dlq replay's progress line on stderr: one line rewritten in
// place when stderr is a terminal, else a line every few seconds.
type progress struct {
	w        io.Writer
	terminal bool
	last     time.Time
	shown    bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *progress) update(s *dlqSummary) {
	now := time.Now()
	every := 5 * time.Second
	if p.terminal {
		every = 100 * time.Millisecond
	}
	if now.Sub(p.last) < every {
		return
	}
	p.last = now
	text := fmt.Sprintf("dlq replay: read %d, re-submitted %d, skipped %d, failed %d", s.Read, s.Resubmitted, s.Replaced+s.NotBlockd+s.Old+s.Refused, s.Failed)
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", text)
		p.shown = true
	} else {
		fmt.Fprintln(p.w, text)
	}
}

// clear takes the progress line away before other output.
func (p *progress) clear() {
	if p.terminal && p.shown {
		_, _ = io.WriteString(p.w, "\r\033[K")
		p.shown = false
	}
}

func (p *progress) done() { p.clear() }
