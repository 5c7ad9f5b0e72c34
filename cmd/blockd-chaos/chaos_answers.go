package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/schemas"
)

// The headers of blockd's dead letters, as the README's "Bad input and
// dead letters" names them.
const (
	dlqHeaderCode          = "blockd-dlq-code"
	dlqHeaderReason        = "blockd-dlq-reason"
	dlqHeaderReplaced      = "blockd-dlq-replaced"
	dlqHeaderEncodedPrefix = "blockd-dlq-header-"
	dlqHeaderSourceTopic   = "blockd-source-topic"
	dlqHeaderSourcePart    = "blockd-source-partition"
	dlqHeaderSourceOffset  = "blockd-source-offset"
)

// seenDeadLetter is one message read from blockd.dlq.
type seenDeadLetter struct {
	Code, Reason, Replaced string
	Source                 msgPos // from the blockd-source-* headers
	HasSource              bool
	TrackID                string // the trackId of the value, when it is a JSON command
	// Encoded are the headers kept base64-encoded (blockd-dlq-header-N),
	// decoded.
	Encoded []kafka.Header
	// BlockdText is what blockd wrote of its own: the values of its
	// blockd-dlq-*/blockd-source-* headers (not the encoded originals) and,
	// for a record that replaces a copy, its value. The rest of a dead
	// letter is the refused message's, values and all.
	BlockdText string
	Size       int
	Partition  int
	Offset     int64
}

// readDeadLetter reads a message of blockd.dlq.
func readDeadLetter(m kafka.Message) seenDeadLetter {
	d := seenDeadLetter{Code: header(m, dlqHeaderCode), Reason: header(m, dlqHeaderReason), Replaced: header(m, dlqHeaderReplaced),
		Size: msgSize(m.Key, m.Value, m.Headers), Partition: m.Partition, Offset: m.Offset}
	var own strings.Builder
	for _, h := range m.Headers {
		switch {
		case strings.HasPrefix(h.Key, dlqHeaderEncodedPrefix):
			k, v, ok := strings.Cut(string(h.Value), ":")
			key, kerr := base64.StdEncoding.DecodeString(k)
			value, verr := base64.StdEncoding.DecodeString(v)
			if ok && kerr == nil && verr == nil {
				d.Encoded = append(d.Encoded, kafka.Header{Key: string(key), Value: value})
			}
		case strings.HasPrefix(h.Key, "blockd-dlq-"), strings.HasPrefix(h.Key, "blockd-source-"):
			fmt.Fprintf(&own, "%s=%s\n", h.Key, h.Value)
		}
	}
	if d.Replaced != "" {
		own.Write(m.Value)
	}
	d.BlockdText = own.String()
	part, perr := strconv.Atoi(header(m, dlqHeaderSourcePart))
	off, oerr := strconv.ParseInt(header(m, dlqHeaderSourceOffset), 10, 64)
	if t := header(m, dlqHeaderSourceTopic); t != "" && perr == nil && oerr == nil {
		d.Source, d.HasSource = msgPos{Topic: t, Partition: part, Offset: off}, true
	}
	if d.Replaced == "" {
		d.TrackID = readTrackID(m.Value)
	}
	return d
}

func (c *resultCollector) addDeadLetter(m kafka.Message) {
	d := readDeadLetter(m)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = time.Now()
	c.deadLetters = append(c.deadLetters, d)
}

// keeps reports whether the dead letter kept header h, encoded.
func (d seenDeadLetter) keeps(h kafka.Header) bool {
	for _, e := range d.Encoded {
		if e.Key == h.Key && bytes.Equal(e.Value, h.Value) {
			return true
		}
	}
	return false
}

// deadLettersOf are the dead letters of the message at pos, or, when its
// position is unknown, of trackID.
func (ev *chaosEvidence) deadLettersOf(pos msgPos, known bool, trackID string) []seenDeadLetter {
	if known {
		return ev.dlqByPos[pos]
	}
	if trackID == "" {
		return nil
	}
	return ev.dlqByTrack[trackID]
}

// unansweredHostile proves that every message of the hostile mix that is
// no command got its answer, the one the README owes it: a dead letter on
// blockd.dlq with its code (matched by the blockd-source-* headers), with a
// header it could not keep as it was base64-encoded; a refusal under
// refused:<trackId> with its code (by trackId); for the huge-reason
// message, a reason cut at schemas.MaxReasonBytes and marked so. It finds
// each message without one of these, or with another code.
func (ev *chaosEvidence) unansweredHostile() examples {
	var un examples
	for _, h := range ev.hostile {
		m := h.step.Hostile
		if m.Command {
			continue
		}
		var wrong []string
		if m.DLQCode != "" {
			switch dls := ev.deadLettersOf(h.pos, h.known, m.TrackID); {
			case len(dls) == 0:
				wrong = append(wrong, "no dead letter")
			case !slices.ContainsFunc(dls, func(d seenDeadLetter) bool { return d.Code == m.DLQCode }):
				wrong = append(wrong, fmt.Sprintf("dead letter %s, want %s", dls[0].Code, m.DLQCode))
			case m.EncodedHeader != nil && !slices.ContainsFunc(dls, func(d seenDeadLetter) bool { return d.keeps(*m.EncodedHeader) }):
				wrong = append(wrong, fmt.Sprintf("dead letter does not keep header %q base64-encoded", m.EncodedHeader.Key))
			}
		}
		if m.RefusalCode != "" {
			refs := ev.refusals[m.TrackID]
			i := slices.IndexFunc(refs, func(r seenResult) bool { return r.Code == m.RefusalCode })
			switch {
			case len(refs) == 0:
				wrong = append(wrong, "no refusal under "+refusalKeyPrefix+m.TrackID)
			case i < 0:
				wrong = append(wrong, fmt.Sprintf("refusal %s, want %s", refs[0].Code, m.RefusalCode))
			case m.Kind == hostileHugeReason && (len(refs[i].Message) > schemas.MaxReasonBytes || !strings.HasSuffix(refs[i].Message, schemas.TruncatedMarker)):
				wrong = append(wrong, fmt.Sprintf("refusal reason of %d bytes not cut at %d and marked %q", len(refs[i].Message), schemas.MaxReasonBytes, schemas.TruncatedMarker))
			}
		}
		if len(wrong) > 0 {
			un.add("%s %s (trackId %q, key %s, at %s): %s", m.Kind, m.ID, m.TrackID, h.step.Key, h.posText(), strings.Join(wrong, "; "))
		}
	}
	return un
}

func (h sentHostile) posText() string {
	if !h.known {
		return "an unknown position"
	}
	return h.pos.String()
}

// hostileCommandsOff proves that the planned commands of the hostile mix
// were answered as commands: one with a bad traceparent ran as any other
// (a result under its trackId, which carries no traceparent; no refusal,
// no dead letter), and the largest-result command ended FAILED
// RESULT_TOO_LARGE when its result is over the limit, and did not when it
// is well within it. It finds each that was not.
func (ev *chaosEvidence) hostileCommandsOff() examples {
	var off examples
	for _, h := range ev.hostile {
		m := h.step.Hostile
		if !m.Command {
			continue
		}
		var wrong []string
		a, answered := ev.answers[m.TrackID]
		if !answered {
			wrong = append(wrong, "no result")
		}
		if refs := ev.refusals[m.TrackID]; len(refs) > 0 {
			wrong = append(wrong, fmt.Sprintf("refused %s", refs[0].Code))
		}
		if dls := ev.deadLettersOf(h.pos, h.known, m.TrackID); len(dls) > 0 {
			wrong = append(wrong, fmt.Sprintf("dead-lettered %s", dls[0].Code))
		}
		switch m.Kind {
		case hostileTraceparentNUL, hostileTraceparentFF:
			for _, r := range ev.results[m.TrackID] {
				if r.Traceparent != "" {
					wrong = append(wrong, fmt.Sprintf("its result carries traceparent %q", r.Traceparent))
					break
				}
			}
		case hostileLargestResult:
			switch {
			case !answered:
			case m.WantTooLarge && a.code != schemas.CodeResultTooLarge:
				wrong = append(wrong, fmt.Sprintf("answered %s/%s, want FAILED/%s (result ~%d bytes, limit %d)", a.status, a.code, schemas.CodeResultTooLarge, m.ResultBytes, ev.limit))
			case m.WantFits && a.code == schemas.CodeResultTooLarge:
				wrong = append(wrong, fmt.Sprintf("answered %s although its result, ~%d bytes, is within the limit %d", a.code, m.ResultBytes, ev.limit))
			}
		}
		if len(wrong) > 0 {
			off.add("%s %s (%s, key %s): %s", m.Kind, m.TrackID, h.step.Label, h.step.Key, strings.Join(wrong, "; "))
		}
	}
	return off
}

// leakedValues proves that blockd echoed none of the sensitive values the
// hostile mix carries: none is in a result or refusal (value or headers),
// in what blockd wrote of its own into a dead letter (its headers, among
// them blockd-dlq-reason, and a replacing record), or in a log line of a
// blockd process. The dead letter's copy of the refused message holds them,
// as it must. It finds each place that holds one.
func (ev *chaosEvidence) leakedValues() examples {
	var leaks examples
	scan := func(where, text string) {
		for _, v := range ev.plan.sensitive {
			if strings.Contains(text, v.value) {
				leaks.add("the %s %s is in %s", v.name, v.value, where)
			}
		}
	}
	ev.eachEvent(func(what string, r seenResult) { scan(what, r.Text) })
	for _, d := range ev.deadLetters {
		scan(fmt.Sprintf("blockd's headers of the dead letter at blockd.dlq/%d/%d", d.Partition, d.Offset), d.BlockdText)
	}
	for _, h := range ev.logHits {
		leaks.add("the %s %s is in %s", h.name, h.value, h.where)
	}
	return leaks
}

// eachEvent calls f with every result and refusal read, and words that
// name it ("the refusal of T at blockd.results/P/O"), in trackId order.
func (ev *chaosEvidence) eachEvent(f func(what string, r seenResult)) {
	for _, group := range []struct {
		what string
		m    map[string][]seenResult
	}{{"result", ev.results}, {"refusal", ev.refusals}} {
		for _, id := range sortedKeys(group.m) {
			for _, r := range group.m[id] {
				f(fmt.Sprintf("the %s of %s at blockd.results/%d/%d", group.what, id, r.Partition, r.Offset), r)
			}
		}
	}
}

// logHit is a sensitive value found in a log file.
type logHit struct{ name, value, where string }

// scanLogs finds the sensitive values in the *.log files of dir (the
// blockd processes' and the broker's output), once per file and value.
func scanLogs(dir string, values []sensitiveValue) ([]logHit, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(values) == 0 {
		return nil, err
	}
	var hits []logHit
	for _, f := range files {
		found, err := scanLogFile(f, values)
		hits = append(hits, found...)
		if err != nil {
			return hits, fmt.Errorf("reading %s: %w", f, err)
		}
	}
	return hits, nil
}

// scanLogFile finds the sensitive values in the file f, each once.
func scanLogFile(f string, values []sensitiveValue) ([]logHit, error) {
	fh, err := os.Open(f)
	if err != nil {
		return nil, err
	}
	defer func() { _ = fh.Close() }() // read only: nothing to lose
	var hits []logHit
	found := map[string]bool{}
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		for _, v := range values {
			if !found[v.value] && bytes.Contains(sc.Bytes(), []byte(v.value)) {
				found[v.value] = true
				hits = append(hits, logHit{name: v.name, value: v.value, where: fmt.Sprintf("%s line %d", filepath.Base(f), line)})
			}
		}
	}
	return hits, sc.Err()
}

// stuckKeys proves that no key stayed stuck: it groups the published
// commands without a terminal result by their Kafka key (the account),
// and names for each the hostile messages published on that key. n is the
// number of keys.
func (ev *chaosEvidence) stuckKeys() examples {
	lostByKey := map[string][]string{}
	for _, id := range ev.published {
		if _, ok := ev.answers[id]; !ok {
			c := ev.plan.byTrack[id]
			lostByKey[c.Key] = append(lostByKey[c.Key], id)
		}
	}
	hostileByKey := map[string][]string{}
	for _, h := range ev.hostile {
		hostileByKey[h.step.Key] = append(hostileByKey[h.step.Key], fmt.Sprintf("%s %s at %s", h.step.Hostile.Kind, h.step.Hostile.ID, h.posText()))
	}
	var stuck examples
	for _, key := range sortedKeys(lostByKey) {
		ids := lostByKey[key]
		first := ev.plan.byTrack[ids[0]]
		after := "no hostile message on the key"
		if hs := hostileByKey[key]; len(hs) > 0 {
			after = "hostile messages on the key: " + strings.Join(hs, ", ")
		}
		stuck.add("key %s (%s): %d commands without a result, the first %s (%s); %s", key, first.Topic, len(ids), ids[0], first.Label, after)
	}
	return stuck
}

// oversizedWrites proves that every message blockd wrote fits the limit
// (BLOCKD_MAX_MESSAGE_BYTES, as blockd counts a message) and every reason
// it wrote fits schemas.MaxReasonBytes. It finds each that does not.
func (ev *chaosEvidence) oversizedWrites() examples {
	var over examples
	ev.eachEvent(func(what string, r seenResult) {
		if r.Size > ev.limit {
			over.add("%s is %d bytes, over the limit %d", what, r.Size, ev.limit)
		}
		if len(r.Message) > schemas.MaxReasonBytes {
			over.add("%s has a %d-byte error.message, over %d", what, len(r.Message), schemas.MaxReasonBytes)
		}
	})
	for _, d := range ev.deadLetters {
		if d.Size > ev.limit {
			over.add("the dead letter at blockd.dlq/%d/%d (%s) is %d bytes, over the limit %d", d.Partition, d.Offset, d.Code, d.Size, ev.limit)
		}
		if len(d.Reason) > schemas.MaxReasonBytes {
			over.add("the dead letter at blockd.dlq/%d/%d has a %d-byte %s, over %d", d.Partition, d.Offset, len(d.Reason), dlqHeaderReason, schemas.MaxReasonBytes)
		}
	}
	return over
}

// strayAnswers explains (it proves nothing) the refusals and dead letters
// no message of the hostile mix accounts for: a message the producer wrote
// twice (a write it took for failed), or a command blockd refused or
// dead-lettered that it should have run (then it is lost too, or its
// hostile message is unanswered).
func (ev *chaosEvidence) strayAnswers() examples {
	var stray examples
	owed := map[string]bool{}
	owedPos := map[msgPos]bool{}
	for _, h := range ev.hostile {
		if h.step.Hostile.RefusalCode != "" {
			owed[h.step.Hostile.TrackID] = true
		}
		if h.known && h.step.Hostile.DLQCode != "" {
			owedPos[h.pos] = true
		}
	}
	for _, id := range sortedKeys(ev.refusals) {
		if !owed[id] {
			for _, r := range ev.refusals[id] {
				stray.add("refusal %s of %s at blockd.results/%d/%d", r.Code, id, r.Partition, r.Offset)
			}
		}
	}
	for _, d := range ev.deadLetters {
		if !d.HasSource || !owedPos[d.Source] {
			stray.add("dead letter %s at blockd.dlq/%d/%d of %s (trackId %q)", d.Code, d.Partition, d.Offset, d.Source, d.TrackID)
		}
	}
	return stray
}
