package main

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/providers/arhivaar/arhivaarfake"
	"github.com/blockd/blockd/providers/card"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/schemas"
)

// seenResult is one event read from blockd.results: a command's result,
// or a refusal (key refused:<trackId>, ce_type dev.blockd.refusal.*).
type seenResult struct {
	EventID, Status, Code, Type, Provider string
	ProviderTrackID                       string // result.providerTrackId, on DONE
	Partition                             int
	Offset                                int64
	// Refusal: the event's ce_type is dev.blockd.refusal.* (under a
	// command's own key that is a breach: it would replace the result).
	Refusal     bool
	Message     string // error.message
	Traceparent string // the traceparent header, if any
	Size        int    // as blockd counts a message it writes
	Text        string // the value and every header value, for the leak check
}

// The keys and types of refusals (processor.RefusalKeyPrefix).
const (
	refusalKeyPrefix  = "refused:"
	refusalTypePrefix = "dev.blockd.refusal."
)

func (r seenResult) terminal() bool {
	return !r.Refusal && (r.Status == string(schemas.StatusDone) || r.Status == string(schemas.StatusFailed) || r.Status == string(schemas.StatusRejected))
}

// topicReader reads every partition of a topic from the first offset,
// across broker restarts, and hands each message to add.
type topicReader struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

func readTopic(addr, topic string, add func(kafka.Message)) *topicReader {
	ctx, cancel := context.WithCancel(context.Background())
	t := &topicReader{cancel: cancel}
	for part := range chaosPartitions {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			readPartition(ctx, addr, topic, part, add)
		}()
	}
	return t
}

// readPartition reads one partition until ctx ends. A reader that fails
// (the broker went away) is replaced by a new one at the next offset.
func readPartition(ctx context.Context, addr, topic string, part int, add func(kafka.Message)) {
	next := kafka.FirstOffset
	for ctx.Err() == nil {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: part,
			MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 100 * time.Millisecond, MaxAttempts: 3})
		if err := r.SetOffset(next); err != nil {
			r.Close()
			return
		}
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				break
			}
			next = m.Offset + 1
			add(m)
		}
		r.Close()
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func (t *topicReader) close() {
	t.once.Do(func() {
		t.cancel()
		t.wg.Wait()
	})
}

// resultCollector reads blockd.results and blockd.dlq and keeps every
// result by trackId, every refusal by the trackId it refused, and every
// dead letter.
type resultCollector struct {
	log     *chaosLogger
	readers []*topicReader

	mu          sync.Mutex
	byTrack     map[string][]seenResult
	refusals    map[string][]seenResult
	deadLetters []seenDeadLetter
	messages    int
	bad         int
	last        time.Time
}

func newResultCollector(addr string, log *chaosLogger) *resultCollector {
	c := &resultCollector{log: log, byTrack: make(map[string][]seenResult), refusals: make(map[string][]seenResult), last: time.Now()}
	c.readers = []*topicReader{readTopic(addr, "blockd.results", c.add), readTopic(addr, "blockd.dlq", c.addDeadLetter)}
	return c
}

// header is the value of m's header key, "" when it has none.
func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// readResult reads a message of blockd.results. ok is false when it is no
// event; refusal when it is keyed refused:<trackId> (whatever its type);
// miskeyed when its key is neither its trackId nor refused:<trackId>, or a
// refusal's key does not match its type.
func readResult(m kafka.Message) (r seenResult, trackID string, refusal, miskeyed, ok bool) {
	var v struct {
		EventID  string          `json:"eventId"`
		TrackID  string          `json:"trackId"`
		Type     string          `json:"type"`
		Provider string          `json:"provider"`
		Status   string          `json:"status"`
		Result   json.RawMessage `json:"result"`
		Error    *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(m.Value, &v); err != nil || v.TrackID == "" {
		return r, "", false, false, false
	}
	r = seenResult{EventID: v.EventID, Status: v.Status, Type: v.Type, Provider: v.Provider, Partition: m.Partition, Offset: m.Offset,
		Refusal: strings.HasPrefix(header(m, "ce_type"), refusalTypePrefix), Traceparent: header(m, "traceparent"),
		Size: msgSize(m.Key, m.Value, m.Headers), Text: messageText(m)}
	if v.Error != nil {
		r.Code, r.Message = v.Error.Code, v.Error.Message
	}
	if len(v.Result) > 0 {
		var res struct {
			ProviderTrackID string `json:"providerTrackId"`
		}
		_ = json.Unmarshal(v.Result, &res)
		r.ProviderTrackID = res.ProviderTrackID
	}
	key := string(m.Key)
	refusal = strings.HasPrefix(key, refusalKeyPrefix)
	miskeyed = key != v.TrackID || r.Refusal
	if refusal {
		miskeyed = key != refusalKeyPrefix+v.TrackID || !r.Refusal
	}
	return r, v.TrackID, refusal, miskeyed, true
}

// messageText is m's value and header values, for the leak check.
func messageText(m kafka.Message) string {
	var b strings.Builder
	b.Write(m.Value)
	for _, h := range m.Headers {
		b.WriteByte('\n')
		b.WriteString(h.Key)
		b.WriteByte('=')
		b.Write(h.Value)
	}
	return b.String()
}

func (c *resultCollector) add(m kafka.Message) {
	r, trackID, refusal, miskeyed, ok := readResult(m)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.messages++
	c.last = time.Now()
	if !ok {
		c.bad++
		return
	}
	if miskeyed {
		c.bad++ // breaks the contract; a refusal-typed event under the trackId counts as that command's (conflicting)
	}
	if refusal {
		c.refusals[trackID] = append(c.refusals[trackID], r)
		return
	}
	c.byTrack[trackID] = append(c.byTrack[trackID], r)
}

// terminalAmong counts the trackIds among ids with a terminal result.
func (c *resultCollector) terminalAmong(ids []string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, id := range ids {
		for _, r := range c.byTrack[id] {
			if r.terminal() {
				n++
				break
			}
		}
	}
	return n
}

// drain waits until no message arrived for quiet (at most 15s).
func (c *resultCollector) drain(quiet time.Duration) {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		idle := time.Since(c.last)
		c.mu.Unlock()
		if idle >= quiet {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *resultCollector) close() {
	for _, r := range c.readers {
		r.close()
	}
}

// collected is a copy of what a resultCollector read.
type collected struct {
	results, refusals map[string][]seenResult
	deadLetters       []seenDeadLetter
	messages, bad     int
}

// snapshot returns a copy of what was read.
func (c *resultCollector) snapshot() collected {
	c.mu.Lock()
	defer c.mu.Unlock()
	clone := func(m map[string][]seenResult) map[string][]seenResult {
		out := make(map[string][]seenResult, len(m))
		for k, v := range m {
			out[k] = slices.Clone(v)
		}
		return out
	}
	return collected{results: clone(c.byTrack), refusals: clone(c.refusals), deadLetters: slices.Clone(c.deadLetters),
		messages: c.messages, bad: c.bad}
}

// examples keeps the first few examples of one kind of finding.
type examples struct {
	n    int
	list []string
}

func (e *examples) add(format string, args ...any) {
	e.addN(1, format, args...)
}

// addN counts n findings with one example.
func (e *examples) addN(n int, format string, args ...any) {
	e.n += n
	if len(e.list) < 8 {
		e.list = append(e.list, fmt.Sprintf(format, args...))
	}
}

// checkChaos computes the report from the results read, the database's
// provider_calls and the sandboxes' ledgers, and prints the explanatory
// lines. It fills rep.
func checkChaos(ctx context.Context, rep *chaosReport, o chaosOptions, runDir string, plan *commandPlan, prod *chaosProducer,
	results *resultCollector, sb *chaosSandboxes, log *chaosLogger) error {
	st, err := gatherChaosState(ctx, o, runDir, plan, prod, results, sb, log)
	if err != nil {
		return err
	}
	ev := newChaosEvidence(st)
	lost := ev.lostCommands()
	conflicts := ev.conflictingResults()
	effects := ev.duplicateEffects()
	var suspects examples
	if effects.duplicate.n > 0 {
		suspects = ev.excessEffectSuspects() // an explanation of excess effects only
	}
	rep.Commands = len(st.published)
	rep.Lost = lost.n
	rep.Results = len(st.published) - lost.n
	rep.Conflicting = conflicts.n
	rep.OutcomeUnknown = ev.outcomeUnknownCommands()
	flagged := ev.reconcileCommands()
	rep.Reconcile = flagged.n
	rep.PhantomDone = effects.phantom.n
	rep.DuplicateEffects = effects.count()
	printChaosFindings(log, ev, sb, lost, conflicts, effects, suspects)
	printReconcileFindings(log, ev, flagged, ev.unflaggedUnknowns())

	h := hostileFindings{unanswered: ev.unansweredHostile(), commandsOff: ev.hostileCommandsOff(), leaks: ev.leakedValues(),
		stuck: ev.stuckKeys(), oversized: ev.oversizedWrites(), stray: ev.strayAnswers()}
	rep.Hostile = len(st.hostile)
	rep.HostileUnanswered = h.unanswered.n + h.commandsOff.n
	rep.StuckKeys = h.stuck.n
	rep.LeakedValues = h.leaks.n
	rep.OversizedWrites = h.oversized.n
	printHostileFindings(log, ev, h)
	return nil
}

// hostileFindings are what the checks of the hostile mix found.
type hostileFindings struct {
	unanswered, commandsOff, leaks, stuck, oversized, stray examples
}

// printHostileFindings prints what the hostile mix was and how blockd
// answered it, the largest messages blockd wrote, and the examples of
// every finding.
func printHostileFindings(log *chaosLogger, ev *chaosEvidence, h hostileFindings) {
	kinds := map[string]int{}
	for _, s := range ev.hostile {
		kinds[string(s.step.Hostile.Kind)]++
	}
	var parts []string
	for _, k := range sortedKeys(kinds) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, kinds[k]))
	}
	log.line("chaos: hostile mix: %d messages acknowledged of %d planned (%s)", len(ev.hostile), len(ev.plan.hostile), strings.Join(parts, " "))
	for _, k := range ev.plan.skipped {
		log.line("chaos: hostile mix: no planned command could carry a %s message; none sent", k)
	}
	codes := func(count func(add func(string))) string {
		n := map[string]int{}
		count(func(c string) { n[c]++ })
		var out []string
		for _, c := range sortedKeys(n) {
			out = append(out, fmt.Sprintf("%s=%d", c, n[c]))
		}
		return strings.Join(out, " ")
	}
	replaced := 0
	for _, d := range ev.deadLetters {
		if d.Replaced != "" {
			replaced++
		}
	}
	log.line("chaos: dead letters: %d (%s; %d replaced by blockd's record of where the message is); refusals: %s",
		len(ev.deadLetters), codes(func(add func(string)) {
			for _, d := range ev.deadLetters {
				add(d.Code)
			}
		}), replaced, codes(func(add func(string)) {
			for _, rs := range ev.refusals {
				for _, r := range rs {
					add(r.Code)
				}
			}
		}))
	for _, s := range ev.hostile {
		if m := s.step.Hostile; m.Kind == hostileLargestResult {
			a := ev.answers[m.TrackID]
			want := "either (too close to call)"
			switch {
			case m.WantTooLarge:
				want = "FAILED " + schemas.CodeResultTooLarge
			case m.WantFits:
				want = "not " + schemas.CodeResultTooLarge + " (no input can make a result over this limit)"
			}
			log.line("chaos: largest result: %s (arhivaar block, note of 1000 '<') makes a ~%d-byte result, limit %d: want %s, got %s/%s",
				m.TrackID, m.ResultBytes, ev.limit, want, cmp.Or(a.status, "(none)"), a.code)
		}
	}
	largest := func(what string, m map[string][]seenResult) string {
		best, id := 0, ""
		for k, rs := range m {
			for _, r := range rs {
				if r.Size > best {
					best, id = r.Size, k
				}
			}
		}
		return fmt.Sprintf("%s %d bytes (%s)", what, best, id)
	}
	dl := 0
	for _, d := range ev.deadLetters {
		dl = max(dl, d.Size)
	}
	log.line("chaos: largest messages blockd wrote: %s, %s, dead letter %d bytes; limit %d",
		largest("result", ev.results), largest("refusal", ev.refusals), dl, ev.limit)
	printExamples(log, "hostile unanswered", h.unanswered)
	printExamples(log, "hostile command not run as one", h.commandsOff)
	printExamples(log, "leaked value", h.leaks)
	printExamples(log, "stuck key", h.stuck)
	printExamples(log, "oversized write", h.oversized)
	printExamples(log, "stray answer", h.stray)
}

// chaosState is what a run left behind, read once after every blockd
// process and the broker stopped. The checks judge only this, so a test can
// hand them a state of its own.
type chaosState struct {
	plan        *commandPlan            // every planned command, by trackId
	published   []string                // the trackIds the broker acknowledged, in that order
	results     map[string][]seenResult // every result read from blockd.results, by trackId (its key)
	refusals    map[string][]seenResult // every refusal (key refused:<trackId>), by the trackId it refused
	deadLetters []seenDeadLetter        // every message read from blockd.dlq
	messages    int                     // messages read from blockd.results
	badMessages int                     // of those, unreadable or mis-keyed
	hostile     []sentHostile           // the acknowledged messages of the hostile mix
	logHits     []logHit                // sensitive values found in the run directory's logs
	limit       int                     // BLOCKD_MAX_MESSAGE_BYTES of the blockd processes
	db          chaosDB                 // provider_calls and commands
	ledgers     chaosLedgers            // what the sandboxes applied
}

// chaosLedgers is what the provider sandboxes applied by the end of a run.
type chaosLedgers struct {
	holds               []finnotechfake.Hold // Finnotech's holds, released or not
	finnotechBlockCalls int                  // block calls Finnotech applied
	// transfers are Finnotech's transfers when its ledger names them
	// (transfersShown); appliedTransfers is its count of applied transfer
	// calls either way.
	transfers        []finnotechTransfer
	transfersShown   bool
	appliedTransfers int
	arhivaar         map[string]arhivaarfake.Account  // by account id: the Arhivaar accounts the published commands name
	card             map[string]card.Account          // by account id: the card accounts the published commands name
	cardApplied      int                              // updates the card sandbox applied, all accounts together
	arhivaarLedger   map[string]struct{ Changes int } // every account Arhivaar's ledger shows
	cardLedger       []string                         // every account id the card ledger shows
}

// gatherChaosState reads what a run left behind: the commands the broker
// acknowledged, the results read, the run's database and the sandboxes'
// ledgers.
func gatherChaosState(ctx context.Context, o chaosOptions, runDir string, plan *commandPlan, prod *chaosProducer,
	results *resultCollector, sb *chaosSandboxes, log *chaosLogger) (chaosState, error) {
	st := liveChaosState(plan, prod, results, maxMessageBytes(o))
	var err error
	if st.logHits, err = scanLogs(runDir, plan.sensitive); err != nil {
		return chaosState{}, err
	}
	db, err := readChaosDatabase(ctx, o.DatabaseURL)
	if err != nil {
		return chaosState{}, err
	}
	st.db = db
	st.ledgers = readSandboxLedgers(sb, plan, st.published, log)
	return st, nil
}

// liveChaosState is what the producer and the collector hold now: enough
// to tell which commands and hostile messages are answered.
func liveChaosState(plan *commandPlan, prod *chaosProducer, results *resultCollector, limit int) chaosState {
	got := results.snapshot()
	return chaosState{plan: plan, published: prod.publishedIDs(), hostile: prod.hostileSent(), limit: limit,
		results: got.results, refusals: got.refusals, deadLetters: got.deadLetters, messages: got.messages, badMessages: got.bad}
}

// readSandboxLedgers reads what the sandboxes applied: Finnotech's holds and
// transfers, the Arhivaar and card accounts the published commands name,
// and every account the Arhivaar and card ledgers show. A ledger it cannot
// read over HTTP is reported and left empty.
func readSandboxLedgers(sb *chaosSandboxes, plan *commandPlan, published []string, log *chaosLogger) chaosLedgers {
	var l chaosLedgers
	l.holds = sb.finnotech.Holds()
	l.finnotechBlockCalls = sb.finnotech.CallCount(finnotechfake.OpBlock)
	var terr error
	l.transfers, l.transfersShown, l.appliedTransfers, terr = finnotechTransfers(sb.urls["finnotech"])
	if terr != nil {
		log.line("chaos: reading finnotech transfers from /_sandbox/ledger: %v", terr)
	}
	l.arhivaar, l.card = map[string]arhivaarfake.Account{}, map[string]card.Account{}
	for _, id := range published {
		c := plan.byTrack[id]
		switch c.Cmd.Provider {
		case schemas.ProviderArhivaar:
			l.arhivaar[c.Cmd.AccountID], _ = sb.arhivaar.Account(c.Cmd.AccountID)
		case schemas.ProviderCard:
			l.card[c.Cmd.AccountID], _ = sb.card.Account(c.Cmd.AccountID)
		}
	}
	l.cardApplied = sb.card.Applied()
	var lerr error
	l.arhivaarLedger, l.cardLedger, lerr = otherLedgers(sb)
	if lerr != nil {
		log.line("chaos: reading the arhivaar/card ledgers: %v", lerr)
	}
	return l
}

// chaosAnswer is the answer a command got: its first terminal result.
type chaosAnswer struct {
	status, code, providerTrackID string
}

// accountCommands are the published block and unblock of one Arhivaar or
// card account (nil when not published).
type accountCommands struct{ block, unblock *chaosCommand }

// chaosEvidence is a run's state with what its answers say, worked out once
// for the checks.
type chaosEvidence struct {
	chaosState
	answers     map[string]chaosAnswer // by trackId: each published command that has a terminal result
	isPublished map[string]bool
	calls       map[string]string           // provider trackId → the trackId of its command (provider_calls)
	accounts    map[string]*accountCommands // "arhivaar/<id>" or "card/<id>" → the commands that name it
	dlqByPos    map[msgPos][]seenDeadLetter // dead letters by the position of the message they refused
	dlqByTrack  map[string][]seenDeadLetter // dead letters by the trackId of their value
}

// newChaosEvidence works out the answers of st's published commands and the
// commands of each Arhivaar and card account.
func newChaosEvidence(st chaosState) *chaosEvidence {
	ev := &chaosEvidence{chaosState: st, answers: make(map[string]chaosAnswer, len(st.published)),
		isPublished: make(map[string]bool, len(st.published)), calls: st.db.trackOf(), accounts: map[string]*accountCommands{},
		dlqByPos: map[msgPos][]seenDeadLetter{}, dlqByTrack: map[string][]seenDeadLetter{}}
	for _, d := range st.deadLetters {
		if d.HasSource {
			ev.dlqByPos[d.Source] = append(ev.dlqByPos[d.Source], d)
		}
		if d.TrackID != "" {
			ev.dlqByTrack[d.TrackID] = append(ev.dlqByTrack[d.TrackID], d)
		}
	}
	for _, id := range st.published {
		ev.isPublished[id] = true
		if first := firstTerminal(st.results[id]); first != nil {
			ev.answers[id] = chaosAnswer{status: first.Status, code: first.Code, providerTrackID: first.ProviderTrackID}
		}
	}
	// Arhivaar and card have no trackIds: their effects are judged per account.
	for _, id := range st.published {
		c := st.plan.byTrack[id]
		if c.Cmd.Provider == schemas.ProviderFinnotech {
			continue
		}
		key := string(c.Cmd.Provider) + "/" + c.Cmd.AccountID
		if ev.accounts[key] == nil {
			ev.accounts[key] = &accountCommands{}
		}
		if c.Cmd.Kind == schemas.KindBlock {
			ev.accounts[key].block = c
		} else {
			ev.accounts[key].unblock = c
		}
	}
	return ev
}

// firstTerminal is the first terminal result among rs, or nil.
func firstTerminal(rs []seenResult) *seenResult {
	for i := range rs {
		if rs[i].terminal() {
			return &rs[i]
		}
	}
	return nil
}

// mayHaveEffect says whether command id may have left an effect: yes when
// it is DONE, when its outcome is unknown, when it was applied but cannot
// be answered DONE (its answer does not match, or its result is too large
// to publish), or when it has no answer (counted lost).
func (ev *chaosEvidence) mayHaveEffect(id string) bool {
	a, ok := ev.answers[id]
	return !ok || a.status == string(schemas.StatusDone) || appliedUnanswered(a)
}

// appliedUnanswered says whether a is FAILED for a call whose outcome is
// unknown or that was applied: an effect may exist.
func appliedUnanswered(a chaosAnswer) bool {
	return a.code == schemas.CodeOutcomeUnknown || a.code == schemas.CodeResultTooLarge || a.code == schemas.CodeAnswerMismatch
}

// command is the trackId of the command that made the provider call
// providerTrackID, and that command when this run published it.
func (ev *chaosEvidence) command(providerTrackID string) (string, *chaosCommand) {
	id, ok := ev.calls[providerTrackID]
	if !ok || !ev.isPublished[id] {
		return id, nil
	}
	return id, ev.plan.byTrack[id]
}

// outcome is DONE, MAYBE (unknown, applied but not answered DONE, or
// lost), NOT, or NONE (no command).
func (ev *chaosEvidence) outcome(c *chaosCommand) string {
	if c == nil {
		return "NONE"
	}
	a, ok := ev.answers[c.Cmd.TrackID]
	switch {
	case !ok || appliedUnanswered(a):
		return "MAYBE"
	case a.status == string(schemas.StatusDone):
		return "DONE"
	}
	return "NOT"
}

// allowedEffects is how many state changes an account's commands may have
// made: one for each that may have had an effect.
func (ev *chaosEvidence) allowedEffects(p *accountCommands) int {
	n := 0
	for _, c := range []*chaosCommand{p.block, p.unblock} {
		if c != nil && ev.mayHaveEffect(c.Cmd.TrackID) {
			n++
		}
	}
	return n
}

// lostCommands proves that no command was lost: every command the broker
// acknowledged has a terminal result. It finds each published command
// without one, and says what the database stored of it.
func (ev *chaosEvidence) lostCommands() examples {
	var lost examples
	for _, id := range ev.published {
		if _, ok := ev.answers[id]; ok {
			continue
		}
		cmd := ev.plan.byTrack[id]
		if c, ok := ev.db.commands[id]; ok {
			lost.add("%s (%s): stored %s, owner %q, lease until %s", id, cmd.Label, c.state, c.owner, c.lease)
		} else {
			lost.add("%s (%s): never stored", id, cmd.Label)
		}
	}
	return lost
}

// conflictingResults proves that no trackId got two different answers: the
// terminal results of a command, however often re-published, are one event
// (same eventId and status), and nothing else is published under its key
// (a refusal-typed event there would replace the result for a consumer
// that keeps the latest event per key). Refusals under refused:<trackId>
// are no answer of the command and are not looked at. It finds each
// published command with terminal results that differ, or a refusal under
// its key.
func (ev *chaosEvidence) conflictingResults() examples {
	var conflicts examples
	byTrack := ev.results
	for _, id := range ev.published {
		var first *seenResult
		conflict := false
		for i := range byTrack[id] {
			r := &byTrack[id][i]
			if r.Refusal {
				conflict = true
				continue
			}
			if !r.terminal() {
				continue
			}
			if first == nil {
				first = r
				continue
			}
			if r.EventID != first.EventID || r.Status != first.Status {
				conflict = true
			}
		}
		if conflict {
			var parts []string
			for _, r := range byTrack[id] {
				what := ""
				if r.Refusal {
					what = "refusal "
				}
				parts = append(parts, fmt.Sprintf("%s%s/%s/%s", what, r.Status, r.Code, r.EventID))
			}
			conflicts.add("%s: %s", id, strings.Join(parts, " vs "))
		}
	}
	return conflicts
}

// outcomeUnknownCommands counts the published commands answered FAILED
// with OUTCOME_UNKNOWN: blockd could not learn within its resolve deadline
// whether the provider applied them, and did not send them again. Not a
// breach of the promise (the answer is honest), so not in ok, but each is
// a command an operator must settle by hand.
func (ev *chaosEvidence) outcomeUnknownCommands() int {
	n := 0
	for _, id := range ev.published {
		if a, ok := ev.answers[id]; ok && a.code == schemas.CodeOutcomeUnknown {
			n++
		}
	}
	return n
}

// reconcileCommands finds the published commands the database flags
// needs_reconciliation: those answered OUTCOME_UNKNOWN, and those whose
// call answered after its worker lost the command and contradicted the
// record (store.RecordLateAnswer). Each example names the command, its
// answer and the database's reason.
func (ev *chaosEvidence) reconcileCommands() examples {
	var flagged examples
	for _, id := range ev.published {
		c, ok := ev.db.commands[id]
		if !ok || !c.needsReconciliation {
			continue
		}
		a := ev.answers[id]
		flagged.add("%s (%s) answered %s/%s: %s", id, ev.plan.byTrack[id].Label, a.status, a.code, cmp.Or(c.reconcileReason, c.inDoubt, "(no reason recorded)"))
	}
	return flagged
}

// unflaggedUnknowns proves that an operator can find every command blockd
// answered OUTCOME_UNKNOWN: each is flagged needs_reconciliation in the
// database. It finds each one that is not.
func (ev *chaosEvidence) unflaggedUnknowns() examples {
	var unflagged examples
	for _, id := range ev.published {
		if a, ok := ev.answers[id]; !ok || a.code != schemas.CodeOutcomeUnknown {
			continue
		}
		if c := ev.db.commands[id]; !c.needsReconciliation {
			unflagged.add("%s (%s) answered FAILED/OUTCOME_UNKNOWN but the database does not flag it needs_reconciliation (stored %s)", id, ev.plan.byTrack[id].Label, cmp.Or(c.state, "nothing"))
		}
	}
	return unflagged
}

// lateAnswers counts the provider calls whose answer arrived after their
// worker lost the command (provider_calls.late_at): by the answer's state
// when it was kept beside a state the call already had (late_state), and
// under "" when it settled a call still open.
func (ev *chaosEvidence) lateAnswers() map[string]int {
	n := map[string]int{}
	for _, c := range ev.db.calls {
		if c.late {
			n[c.lateState]++
		}
	}
	return n
}

// effectFindings are what the sandboxes' ledgers say about the effects of
// a run.
type effectFindings struct {
	// duplicate: an effect beyond one per command, an effect of no
	// published command or of the wrong one, an amount other than the
	// command's, or an effect of a command that answered it had none.
	duplicate examples
	// phantom: a DONE answer whose effect is not in the ledger (so the
	// effect it names, if any, is another's).
	phantom examples
	// disorder: an account whose unblock (published after its block was
	// acknowledged) took effect before the block did. Not an exactly-once
	// breach, so not in the last line; README promises per-account order.
	disorder examples
}

// count is the report's duplicate_effects: duplicate effects and phantom
// DONEs together.
func (f effectFindings) count() int { return f.duplicate.n + f.phantom.n }

// duplicateEffects proves that every effect in the sandboxes' ledgers
// belongs to exactly one command, to the rial, and that every DONE names
// its effect. It finds a command with two effects, an effect of no
// published command, a wrong amount, an effect of a command answered as not
// applied, more applied calls than effects allowed, and phantom DONEs.
func (ev *chaosEvidence) duplicateEffects() effectFindings {
	var f effectFindings
	ev.finnotechHoldEffects(&f)
	ev.finnotechTransferEffects(&f)
	ev.finnotechPhantomDone(&f)
	ev.arhivaarEffects(&f)
	ev.cardEffects(&f)
	ev.strayAccountEffects(&f)
	return f
}

// finnotechHoldEffects: every Finnotech hold is one block call of one block
// command, for its amount; its release is one unblock call of an unblock
// of that block. It finds a block with two holds, an unblock that released
// two, a hold made or released by a call of no published command or of the
// wrong kind, a wrong amount, an effect of a command answered as not
// applied, and applied block calls that made no hold.
func (ev *chaosEvidence) finnotechHoldEffects(f *effectFindings) {
	dup := &f.duplicate
	answers, mayHaveEffect, command := ev.answers, ev.mayHaveEffect, ev.command
	holds := ev.ledgers.holds
	blockEffects, unblockEffects := map[string]int{}, map[string]int{}
	for _, h := range holds {
		id, c := command(h.BlockTrackID)
		switch {
		case c == nil:
			dup.add("finnotech hold %s (%d rials) made by a call of no published command (track %q)", h.BlockTrackID, h.Amount, id)
		case c.Cmd.Kind != schemas.KindBlock:
			dup.add("finnotech hold %s made by a call of %s, a %s", h.BlockTrackID, id, c.Label)
		default:
			if blockEffects[id]++; blockEffects[id] > 1 {
				dup.add("finnotech block %s has %d holds (another: call %s)", id, blockEffects[id], h.BlockTrackID)
			}
			if h.Amount != c.Cmd.Amount {
				dup.add("finnotech block %s asked %d rials, hold %s is %d", id, c.Cmd.Amount, h.BlockTrackID, h.Amount)
			}
			if !mayHaveEffect(id) {
				dup.add("finnotech block %s answered %s/%s but its hold %s exists", id, answers[id].status, answers[id].code, h.BlockTrackID)
			}
		}
		if h.UnblockTrackID == "" {
			continue
		}
		uid, uc := command(h.UnblockTrackID)
		switch {
		case uc == nil:
			dup.add("finnotech hold %s released by a call of no published command (track %q)", h.BlockTrackID, uid)
		case uc.Cmd.Kind != schemas.KindUnblock:
			dup.add("finnotech hold %s released by a call of %s, a %s", h.BlockTrackID, uid, uc.Label)
		default:
			if unblockEffects[uid]++; unblockEffects[uid] > 1 {
				dup.add("finnotech unblock %s released %d holds", uid, unblockEffects[uid])
			}
			if uc.Cmd.BlockTrackID != id {
				dup.add("finnotech unblock %s of block %s released the hold of %s", uid, uc.Cmd.BlockTrackID, id)
			}
			if uc.Cmd.Amount != 0 && uc.Cmd.Amount != h.Amount {
				dup.add("finnotech unblock %s asked %d rials, released %d", uid, uc.Cmd.Amount, h.Amount)
			}
			if !mayHaveEffect(uid) {
				dup.add("finnotech unblock %s answered %s/%s but released hold %s", uid, answers[uid].status, answers[uid].code, h.BlockTrackID)
			}
		}
	}
	if n := ev.ledgers.finnotechBlockCalls; n != len(holds) {
		dup.add("finnotech sandbox applied %d block calls but holds %d holds", n, len(holds))
	}
}

// finnotechTransferEffects: a Finnotech transfer is one transfer call of a
// transfer command, for its amount, drawing on the release of that
// command's unblock. It finds a transfer command that moved money twice, a
// transfer by no published command or of the wrong kind, a wrong amount or
// release, a transfer of a command answered as not applied, and — when the
// ledger only counts transfers — more applied than commands that may have
// made one.
func (ev *chaosEvidence) finnotechTransferEffects(f *effectFindings) {
	dup := &f.duplicate
	answers, mayHaveEffect, command := ev.answers, ev.mayHaveEffect, ev.command
	plan, published := ev.plan, ev.published
	transfers, transfersShown, appliedTransfers := ev.ledgers.transfers, ev.ledgers.transfersShown, ev.ledgers.appliedTransfers
	transferEffects := map[string]int{}
	for _, t := range transfers {
		id, c := command(t.trackID)
		switch {
		case c == nil:
			dup.add("finnotech transfer %s (%d rials) by a call of no published command (track %q)", t.trackID, t.amount, id)
		case c.Cmd.Kind != schemas.KindTransfer:
			dup.add("finnotech transfer %s by a call of %s, a %s", t.trackID, id, c.Label)
		default:
			if transferEffects[id]++; transferEffects[id] > 1 {
				dup.add("finnotech transfer %s made %d transfers", id, transferEffects[id])
			}
			if t.amount != c.Cmd.Amount {
				dup.add("finnotech transfer %s asked %d rials, moved %d", id, c.Cmd.Amount, t.amount)
			}
			if t.unblockCall != "" {
				if uid, _ := command(t.unblockCall); uid != c.Cmd.UnblockTrackID {
					dup.add("finnotech transfer %s of unblock %s drew on the release of %s", id, c.Cmd.UnblockTrackID, uid)
				}
			}
			if !mayHaveEffect(id) {
				dup.add("finnotech transfer %s answered %s/%s but moved %d rials", id, answers[id].status, answers[id].code, t.amount)
			}
		}
	}
	if !transfersShown && appliedTransfers > 0 {
		// The ledger counts transfers without naming them: compare counts.
		allowed := 0
		for _, id := range published {
			if c := plan.byTrack[id]; c.Cmd.Kind == schemas.KindTransfer && mayHaveEffect(id) {
				allowed++
			}
		}
		if appliedTransfers > allowed {
			dup.addN(appliedTransfers-allowed, "finnotech applied %d transfers for %d transfer commands DONE or of unknown outcome", appliedTransfers, allowed)
		}
	}
}

// finnotechPhantomDone: a DONE Finnotech block, unblock or transfer names
// (providerTrackId) its own call's effect. It finds a DONE whose hold,
// release or transfer is missing, belongs to another command, or (block)
// is for another amount.
func (ev *chaosEvidence) finnotechPhantomDone(f *effectFindings) {
	phantom := &f.phantom
	answers, calls, plan := ev.answers, ev.calls, ev.plan
	holdByBlockCall := make(map[string]finnotechfake.Hold, len(ev.ledgers.holds))
	holdByUnblockCall := make(map[string]finnotechfake.Hold)
	for _, h := range ev.ledgers.holds {
		holdByBlockCall[h.BlockTrackID] = h
		if h.UnblockTrackID != "" {
			holdByUnblockCall[h.UnblockTrackID] = h
		}
	}
	transferCalls := map[string]bool{}
	for _, t := range ev.ledgers.transfers {
		transferCalls[t.trackID] = true
	}
	transfersShown := ev.ledgers.transfersShown
	for _, id := range ev.published {
		a := answers[id]
		c := plan.byTrack[id]
		if a.status != string(schemas.StatusDone) || c.Cmd.Provider != schemas.ProviderFinnotech {
			continue
		}
		switch c.Cmd.Kind {
		case schemas.KindBlock:
			h, ok := holdByBlockCall[a.providerTrackID]
			if !ok || calls[a.providerTrackID] != id {
				phantom.add("finnotech block %s DONE with providerTrackId %q, which names no hold of it", id, a.providerTrackID)
			} else if h.Amount != c.Cmd.Amount {
				phantom.add("finnotech block %s DONE for %d rials, its hold is %d", id, c.Cmd.Amount, h.Amount)
			}
		case schemas.KindUnblock:
			if h, ok := holdByUnblockCall[a.providerTrackID]; !ok || calls[a.providerTrackID] != id || h.State == finnotechfake.HoldBlocked {
				phantom.add("finnotech unblock %s DONE with providerTrackId %q, which released no hold", id, a.providerTrackID)
			}
		case schemas.KindTransfer:
			if transfersShown && !transferCalls[a.providerTrackID] {
				phantom.add("finnotech transfer %s DONE with providerTrackId %q, which moved nothing", id, a.providerTrackID)
			}
		}
	}
}

// arhivaarEffects: an Arhivaar account (no trackIds there) changes state
// no more often than its commands that may have had an effect, and its
// final state agrees with their answers. It finds an account changed more
// often (a duplicate effect), a DONE block on an active account or a DONE
// unblock (block not done) on a blocked one (phantom), and a block that
// took effect after its DONE unblock (disorder).
func (ev *chaosEvidence) arhivaarEffects(f *effectFindings) {
	dup, phantom, disorder := &f.duplicate, &f.phantom, &f.disorder
	accounts, outcome, allowedEffects := ev.accounts, ev.outcome, ev.allowedEffects
	for _, acct := range sortedKeys(accounts) {
		p := accounts[acct]
		if !strings.HasPrefix(acct, "arhivaar/") {
			continue
		}
		id := strings.TrimPrefix(acct, "arhivaar/")
		a := ev.ledgers.arhivaar[id]
		allowed := allowedEffects(p)
		if a.Changes > allowed {
			dup.addN(a.Changes-allowed, "arhivaar account %s changed state %d times for %d commands DONE or of unknown outcome", id, a.Changes, allowed)
		}
		b, u := outcome(p.block), outcome(p.unblock)
		switch {
		case b == "DONE" && (u == "NOT" || u == "NONE") && !a.Blocked:
			phantom.add("arhivaar block %s DONE (unblock %s) but account %s is active", p.block.Cmd.TrackID, u, id)
		case u == "DONE" && b == "NOT" && a.Blocked:
			phantom.add("arhivaar unblock %s DONE (block not done) but account %s is blocked", p.unblock.Cmd.TrackID, id)
		case b == "DONE" && u == "DONE" && a.Blocked:
			disorder.add("arhivaar account %s: block %s then unblock %s, both DONE, but the account ends blocked", id, p.block.Cmd.TrackID, p.unblock.Cmd.TrackID)
		}
	}
}

// cardEffects: a card account's block-code slots agree with the answers of
// its commands, and the card sandbox applied no more updates than the card
// commands that may have had an effect. Each account of the run is fresh
// and named by one block, so its code goes into the slot the block asks
// for; the card platform puts the same code into the other slot only when
// that one is in use, so a code in the other slot is the block taking
// effect a second time, whatever the answers say. It finds that, a code in
// the slot of a block answered as not applied, more updates than allowed
// and not explained by an account (duplicate effects), a DONE block whose
// code is missing or a DONE unblock (block not done) whose slot still
// holds a code (phantom), and a block that took effect after its DONE
// unblock (disorder).
func (ev *chaosEvidence) cardEffects(f *effectFindings) {
	dup, phantom, disorder := &f.duplicate, &f.phantom, &f.disorder
	answers, accounts, outcome, allowedEffects := ev.answers, ev.accounts, ev.outcome, ev.allowedEffects
	cardAllowed, twice := 0, 0
	for _, acct := range sortedKeys(accounts) {
		p := accounts[acct]
		if !strings.HasPrefix(acct, "card/") {
			continue
		}
		id := strings.TrimPrefix(acct, "card/")
		cardAllowed += allowedEffects(p)
		a := ev.ledgers.card[id]
		slot := p.block.Cmd.BlockCodeSlot
		code := strings.TrimSpace(a.BlockCode(slot))
		if other := strings.TrimSpace(a.BlockCode(3 - slot)); other != "" {
			twice++
			dup.add("card block %s (slot %d) took effect twice: account %s slot %d holds %q too (unblock %s)",
				p.block.Cmd.TrackID, slot, id, 3-slot, other, outcome(p.unblock))
		}
		b, u := outcome(p.block), outcome(p.unblock)
		switch {
		case b == "DONE" && (u == "NOT" || u == "NONE") && code != p.block.Cmd.BlockCode:
			phantom.add("card block %s DONE (unblock %s) but account %s slot %d holds %q", p.block.Cmd.TrackID, u, id, slot, code)
		case b == "NOT" && code != "":
			dup.add("card block %s answered %s/%s but account %s slot %d holds %q", p.block.Cmd.TrackID,
				answers[p.block.Cmd.TrackID].status, answers[p.block.Cmd.TrackID].code, id, slot, code)
		case u == "DONE" && b == "NOT" && code != "":
			phantom.add("card unblock %s DONE (block not done) but account %s slot %d holds %q", p.unblock.Cmd.TrackID, id, slot, code)
		case b == "DONE" && u == "DONE" && code != "":
			disorder.add("card account %s: block %s then unblock %s, both DONE, but slot %d ends holding %q", id, p.block.Cmd.TrackID, p.unblock.Cmd.TrackID, slot, code)
		}
	}
	if n := ev.ledgers.cardApplied; n > cardAllowed+twice {
		dup.addN(n-cardAllowed-twice, "card sandbox applied %d updates for %d card commands DONE or of unknown outcome and %d second effects found on their accounts (it counts per sandbox, not per account)",
			n, cardAllowed, twice)
	}
}

// strayAccountEffects: the Arhivaar and card ledgers know no account that
// no command of the run named. It finds an Arhivaar account changed, or a
// card account created, by no command.
func (ev *chaosEvidence) strayAccountEffects(f *effectFindings) {
	dup := &f.duplicate
	accounts := ev.accounts
	for id, a := range ev.ledgers.arhivaarLedger {
		if accounts["arhivaar/"+id] == nil && a.Changes > 0 {
			dup.add("arhivaar account %s changed %d times, named by no command", id, a.Changes)
		}
	}
	for _, id := range ev.ledgers.cardLedger {
		if accounts["card/"+id] == nil {
			dup.add("card account %s exists, named by no command", id)
		}
	}
}

// excessEffectSuspects explains excess Arhivaar/card effects (it proves
// nothing): a call resolved "not applied" from the account's state while
// the other command of that account changed it, then sent again; or an
// Arhivaar command in doubt resolved by sending it again after the other
// command had changed the account.
func (ev *chaosEvidence) excessEffectSuspects() examples {
	plan, db, accounts := ev.plan, ev.db, ev.accounts
	var suspects examples
	for _, pc := range db.calls {
		c := plan.byTrack[pc.trackID]
		if c == nil || c.Cmd.Provider == schemas.ProviderFinnotech || pc.errorCode != "CONFIRMED_NOT_APPLIED" {
			continue
		}
		p := accounts[string(c.Cmd.Provider)+"/"+c.Cmd.AccountID]
		if p == nil {
			continue
		}
		for _, other := range []*chaosCommand{p.block, p.unblock} {
			if other == nil || other == c {
				continue
			}
			oc := db.commands[other.Cmd.TrackID]
			if oc.state == string(schemas.StateDone) && oc.completed.After(pc.started) && !oc.completed.After(pc.finished) {
				suspects.add("%s %s: call attempt %d (sent %s) judged not applied at %s from the account's state, which %s %s had changed at %s; sent again",
					c.Label, c.Cmd.TrackID, pc.attempt, pc.started.Format("15:04:05.000"), pc.finished.Format("15:04:05.000"),
					other.Label, other.Cmd.TrackID, oc.completed.Format("15:04:05.000"))
			}
		}
	}
	for _, acct := range sortedKeys(accounts) {
		p := accounts[acct]
		if !strings.HasPrefix(acct, "arhivaar/") {
			continue
		}
		for _, c := range []*chaosCommand{p.block, p.unblock} {
			if c == nil || db.commands[c.Cmd.TrackID].inDoubt == "" {
				continue
			}
			other := p.block
			if c == p.block {
				other = p.unblock
			}
			if other == nil {
				continue
			}
			cc, oc := db.commands[c.Cmd.TrackID], db.commands[other.Cmd.TrackID]
			if oc.state == string(schemas.StateDone) && oc.completed.After(cc.received) && oc.completed.Before(cc.completed) {
				suspects.add("%s %s was in doubt (%s) and resolved by sending it again at Arhivaar, after %s %s had changed the account at %s",
					c.Label, c.Cmd.TrackID, cc.inDoubt, other.Label, other.Cmd.TrackID, oc.completed.Format("15:04:05.000"))
			}
		}
	}
	return suspects
}

// resultTally counts the answers for the report: by status, by kind of
// command and status, by error code, and the re-publications of a result.
type resultTally struct {
	statusCount map[string]int
	labelStatus map[string]map[string]int
	codeCount   map[string]int
	republished int
}

// tallyResults counts the answers of the published commands.
func (ev *chaosEvidence) tallyResults() resultTally {
	t := resultTally{statusCount: map[string]int{}, labelStatus: map[string]map[string]int{}, codeCount: map[string]int{}}
	for _, id := range ev.published {
		cmd := ev.plan.byTrack[id]
		terminals := 0
		for _, r := range ev.results[id] {
			if r.terminal() {
				terminals++
			}
		}
		if terminals > 1 {
			t.republished += terminals - 1
		}
		st := "(none)"
		if a, ok := ev.answers[id]; ok {
			st = a.status
			if a.code != "" {
				t.codeCount[a.code]++
			}
		}
		t.statusCount[st]++
		if t.labelStatus[cmd.Label] == nil {
			t.labelStatus[cmd.Label] = map[string]int{}
		}
		t.labelStatus[cmd.Label][st]++
	}
	return t
}

// printChaosFindings prints the explanation of a report: what the results
// topic, the answers, the sandboxes and the database hold, and the
// examples of every finding.
func printChaosFindings(log *chaosLogger, ev *chaosEvidence, sb *chaosSandboxes, lost, conflicts examples, effects effectFindings, suspects examples) {
	byTrack, messages, badMessages, isPublished, db := ev.results, ev.messages, ev.badMessages, ev.isPublished, ev.db
	holds, appliedTransfers := ev.ledgers.holds, ev.ledgers.appliedTransfers
	dup, phantom, disorder := effects.duplicate, effects.phantom, effects.disorder
	t := ev.tallyResults()
	statusCount, labelStatus, codeCount, republished := t.statusCount, t.labelStatus, t.codeCount, t.republished

	log.line("chaos: results topic: %d messages, %d for trackIds not published by this run, %d unreadable or mis-keyed; %d re-publications of a result",
		messages, len(byTrack)-countPublished(byTrack, isPublished), badMessages, republished)
	var sts []string
	for _, s := range sortedKeys(statusCount) {
		sts = append(sts, fmt.Sprintf("%s=%d", s, statusCount[s]))
	}
	log.line("chaos: statuses: %s", strings.Join(sts, " "))
	for _, l := range sortedKeys(labelStatus) {
		var parts []string
		total := 0
		for _, s := range sortedKeys(labelStatus[l]) {
			parts = append(parts, fmt.Sprintf("%s=%d", s, labelStatus[l][s]))
			total += labelStatus[l][s]
		}
		log.line("chaos:   %-27s %5d  %s", l, total, strings.Join(parts, " "))
	}
	var codes []string
	for _, c := range sortedKeys(codeCount) {
		codes = append(codes, fmt.Sprintf("%s=%d", c, codeCount[c]))
	}
	log.line("chaos: error codes: %s", strings.Join(codes, " "))
	log.line("chaos: sandboxes: finnotech requests block=%d unblock=%d wages=%d, applied block=%d unblock=%d, holds=%d, transfers applied=%d; arhivaar requests=%d applied=%d; card requests=%d applied=%d",
		sb.finnotech.Requests(finnotechfake.OpBlock), sb.finnotech.Requests(finnotechfake.OpUnblock), sb.finnotech.Requests(finnotechfake.OpWages),
		sb.finnotech.CallCount(finnotechfake.OpBlock), sb.finnotech.CallCount(finnotechfake.OpUnblock), len(holds), appliedTransfers,
		sb.arhivaar.Requests(), sb.arhivaar.Applied(), sb.card.Requests(), sb.card.Applied())
	log.line("chaos: database: %d provider calls recorded for %d commands stored", len(db.calls), len(db.commands))
	printExamples(log, "lost", lost)
	printExamples(log, "conflicting", conflicts)
	printExamples(log, "duplicate effect", dup)
	printExamples(log, "phantom DONE", phantom)
	printExamples(log, "suspect", suspects)
	printExamples(log, "out of order", disorder)
	if disorder.n > 0 {
		log.line("chaos: out_of_order=%d arhivaar/card accounts end blocked though their unblock, published after the block, is DONE too", disorder.n)
	}
	if phantom.n > 0 {
		log.line("phantom_done=%d", phantom.n)
	}
}

// printReconcileFindings prints what an operator would have to settle:
// the commands flagged needs_reconciliation, the OUTCOME_UNKNOWN answers
// not flagged, and the late answers the database kept.
func printReconcileFindings(log *chaosLogger, ev *chaosEvidence, flagged, unflagged examples) {
	late := ev.lateAnswers()
	log.line("chaos: needs_reconciliation: %d commands flagged (%d answered OUTCOME_UNKNOWN); answers that arrived after their worker lost the command: %d settled a call still open, %d kept beside its recorded state (DONE=%d FAILED=%d)",
		flagged.n, ev.outcomeUnknownCommands(), late[""], late[string(schemas.CallDone)]+late[string(schemas.CallFailed)],
		late[string(schemas.CallDone)], late[string(schemas.CallFailed)])
	printExamples(log, "needs reconciliation", flagged)
	printExamples(log, "OUTCOME_UNKNOWN not flagged", unflagged)
}

// printExamples prints the examples of one kind of finding, and how many
// more there are.
func printExamples(log *chaosLogger, name string, ex examples) {
	for _, s := range ex.list {
		log.line("chaos: %s: %s", name, s)
	}
	if ex.n > len(ex.list) {
		log.line("chaos: %s: ... and %d more", name, ex.n-len(ex.list))
	}
}

func countPublished(byTrack map[string][]seenResult, published map[string]bool) int {
	n := 0
	for id := range byTrack {
		if published[id] {
			n++
		}
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// dbCall is one provider_calls row.
type dbCall struct {
	trackID, state, errorCode string
	// late: an answer arrived after the call's worker lost the command;
	// lateState is what it said when it was kept beside a state the call
	// already had (else it became the call's state).
	late              bool
	lateState         string
	attempt           int
	started, finished time.Time
}

// dbCommand is what the commands table says of one command.
type dbCommand struct {
	state, owner, lease, inDoubt string
	needsReconciliation          bool
	reconcileReason              string
	received, completed          time.Time
}

// chaosDB is what the run's database holds at the end.
type chaosDB struct {
	calls    map[string]dbCall    // by provider trackId
	commands map[string]dbCommand // by trackId
}

// trackOf maps provider trackIds to their commands' trackIds.
func (d chaosDB) trackOf() map[string]string {
	m := make(map[string]string, len(d.calls))
	for p, c := range d.calls {
		m[p] = c.trackID
	}
	return m
}

// readChaosDatabase reads provider_calls and commands.
func readChaosDatabase(ctx context.Context, databaseURL string) (chaosDB, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	db, err := sql.Open("postgres", databaseURL)
	if err != nil {
		return chaosDB{}, err
	}
	defer db.Close()
	var lastErr error
	for try := 0; try < 10; try++ {
		d := chaosDB{calls: map[string]dbCall{}, commands: map[string]dbCommand{}}
		lastErr = func() error {
			rows, err := db.QueryContext(ctx, `
				SELECT provider_track_id, track_id, attempt, state, coalesce(error_code, ''), late_at IS NOT NULL, coalesce(late_state, ''),
				       started_at, coalesce(finished_at, 'epoch')
				FROM provider_calls`)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var p string
				var c dbCall
				if err := rows.Scan(&p, &c.trackID, &c.attempt, &c.state, &c.errorCode, &c.late, &c.lateState, &c.started, &c.finished); err != nil {
					return err
				}
				d.calls[p] = c
			}
			if err := rows.Err(); err != nil {
				return err
			}
			rows2, err := db.QueryContext(ctx, `
				SELECT track_id, state, coalesce(owner, ''), coalesce(to_char(lease_until, 'HH24:MI:SS.MS'), ''),
				       coalesce(in_doubt_reason, ''), needs_reconciliation, coalesce(reconcile_reason, ''),
				       received_at, coalesce(completed_at, 'epoch')
				FROM commands`)
			if err != nil {
				return err
			}
			defer rows2.Close()
			for rows2.Next() {
				var t string
				var c dbCommand
				if err := rows2.Scan(&t, &c.state, &c.owner, &c.lease, &c.inDoubt, &c.needsReconciliation, &c.reconcileReason, &c.received, &c.completed); err != nil {
					return err
				}
				d.commands[t] = c
			}
			return rows2.Err()
		}()
		if lastErr == nil {
			return d, nil
		}
		time.Sleep(time.Second)
	}
	return chaosDB{}, fmt.Errorf("reading provider_calls and commands: %w", lastErr)
}

// finnotechTransfer is one unblock-transfer in the Finnotech sandbox ledger.
type finnotechTransfer struct {
	trackID     string // the transfer call's trackId
	amount      int64
	unblockCall string // the unblock call whose release it drew on, when shown
}

// finnotechTransfers reads the transfers from the Finnotech sandbox's
// GET /_sandbox/ledger, in whichever shape it shows them: fields of a hold
// (transferTrackId, transferAmount, or a "transfer" object) or a top-level
// "transfers" list. shown says whether any transfer was named; applied is
// the ledger's count of applied transfer calls.
func finnotechTransfers(baseURL string) (list []finnotechTransfer, shown bool, applied int, err error) {
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := client.Get(baseURL + "/_sandbox/ledger")
	if err != nil {
		return nil, false, 0, err
	}
	defer res.Body.Close()
	var ledger map[string]json.RawMessage
	if err := json.NewDecoder(res.Body).Decode(&ledger); err != nil {
		return nil, false, 0, err
	}
	var calls map[string]int
	_ = json.Unmarshal(ledger["calls"], &calls)
	for op, n := range calls {
		if op := strings.ToLower(op); strings.Contains(op, "transfer") && !strings.Contains(op, "inquir") {
			applied += n
		}
	}
	str := func(m map[string]any, keys ...string) string {
		for _, k := range keys {
			if s, ok := m[k].(string); ok && s != "" {
				return s
			}
		}
		return ""
	}
	num := func(m map[string]any, keys ...string) int64 {
		for _, k := range keys {
			switch v := m[k].(type) {
			case float64:
				return int64(v)
			case string:
				var n int64
				if _, err := fmt.Sscan(v, &n); err == nil {
					return n
				}
			}
		}
		return 0
	}
	var holds []map[string]any
	_ = json.Unmarshal(ledger["holds"], &holds)
	for _, h := range holds {
		if t := str(h, "transferTrackId", "transferTrackID"); t != "" {
			list = append(list, finnotechTransfer{trackID: t, amount: num(h, "transferAmount"), unblockCall: str(h, "unblockTrackId")})
		}
		if t, ok := h["transfer"].(map[string]any); ok {
			if id := str(t, "trackId", "transferTrackId"); id != "" {
				list = append(list, finnotechTransfer{trackID: id, amount: num(t, "amount"), unblockCall: str(h, "unblockTrackId")})
			}
		}
	}
	var top []map[string]any
	_ = json.Unmarshal(ledger["transfers"], &top)
	for _, t := range top {
		if id := str(t, "trackId", "transferTrackId"); id != "" {
			list = append(list, finnotechTransfer{trackID: id, amount: num(t, "amount"), unblockCall: str(t, "unblockTrackId")})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].trackID < list[j].trackID })
	return list, len(list) > 0, applied, nil
}

// otherLedgers reads the Arhivaar accounts and the card account ids from
// the sandboxes' GET /_sandbox/ledger.
func otherLedgers(sb *chaosSandboxes) (map[string]struct{ Changes int }, []string, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(url string, v any) error {
		res, err := client.Get(url + "/_sandbox/ledger")
		if err != nil {
			return err
		}
		defer res.Body.Close()
		return json.NewDecoder(res.Body).Decode(v)
	}
	var a struct {
		Accounts map[string]struct{ Changes int } `json:"accounts"`
	}
	if err := get(sb.urls["arhivaar"], &a); err != nil {
		return nil, nil, err
	}
	var c struct {
		Accounts []struct {
			AccountID string `json:"accountId"`
		} `json:"accounts"`
	}
	if err := get(sb.urls["card"], &c); err != nil {
		return a.Accounts, nil, err
	}
	var ids []string
	for _, x := range c.Accounts {
		ids = append(ids, x.AccountID)
	}
	return a.Accounts, ids, nil
}
