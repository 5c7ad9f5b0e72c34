package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/blockd/blockd/schemas"
)

// options are the command's flags.
type options struct {
	brokers       []string
	n, keys       int
	rate          float64
	provider      schemas.Provider
	operation     string
	topics        topics
	resultsTopic  string
	timeout       time.Duration
	settle        time.Duration
	progressEvery time.Duration
	runID         string
	pid           int
	pg            bool
	json          bool
}

// The bounds of -n and -keys: trackIds stay within 40 characters, and a
// facility inquiry's national id (10 digits) keeps 6 for the key.
const (
	maxCommands = 10_000_000
	maxKeys     = 1_000_000
)

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("blockd-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", "127.0.0.1:9092", "comma-separated host:port list of the Kafka brokers blockd uses")
	fs.IntVar(&o.n, "n", 10000, "commands to publish")
	fs.Float64Var(&o.rate, "rate", 0, "commands/s offered; 0: as fast as the writer goes")
	fs.IntVar(&o.keys, "keys", 1000, "distinct Kafka keys (accounts) the commands are spread over, round robin")
	provider := fs.String("provider", "finnotech", "finnotech, arhivaar or card")
	fs.StringVar(&o.operation, "operation", opBlock, "block, block+unblock (each block followed by its unblock, on the same account; -n counts both) or facility (Finnotech credit facility inquiry)")
	fs.StringVar(&o.topics.Block, "topic-block", "blockd.cmd.block", "block commands topic (BLOCKD_TOPIC_BLOCK)")
	fs.StringVar(&o.topics.Unblock, "topic-unblock", "blockd.cmd.unblock", "unblock commands topic (BLOCKD_TOPIC_UNBLOCK)")
	fs.StringVar(&o.topics.Inquiry, "topic-inquiry", "blockd.cmd.inquiry", "inquiry commands topic (BLOCKD_TOPIC_INQUIRY)")
	fs.StringVar(&o.resultsTopic, "results-topic", "blockd.results", "result events topic (BLOCKD_TOPIC_RESULTS)")
	fs.DurationVar(&o.timeout, "timeout", time.Minute, "how long to wait for the last results once every command is published")
	fs.DurationVar(&o.settle, "settle", time.Second, "how long to keep reading once every command has a result, to see late duplicates")
	fs.DurationVar(&o.progressEvery, "progress", time.Second, "how often to print a progress line to stderr; 0: never")
	fs.StringVar(&o.runID, "run-id", "", "prefix of the run's trackIds (<run-id>-<n>): letters, digits, - or _ (default: ld and 6 random hex digits)")
	fs.IntVar(&o.pid, "pid", 0, "pid of the blockd process to measure (CPU, RSS); 0: the one process named blockd; -1: none")
	fs.BoolVar(&o.pg, "pg", true, "measure the CPU of the processes named postgres")
	fs.BoolVar(&o.json, "json", false, "print the summary as one JSON object on stdout (the other lines go to stderr)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			o.brokers = append(o.brokers, b)
		}
	}
	o.provider = schemas.Provider(*provider)
	switch {
	case len(o.brokers) == 0:
		return o, errors.New("-brokers: no broker")
	case o.n < 1 || o.n > maxCommands:
		return o, fmt.Errorf("-n %d: want 1 to %d", o.n, maxCommands)
	case o.keys < 1 || o.keys > maxKeys:
		return o, fmt.Errorf("-keys %d: want 1 to %d", o.keys, maxKeys)
	case o.rate < 0:
		return o, fmt.Errorf("-rate %v: want 0 or more", o.rate)
	case o.timeout <= 0:
		return o, fmt.Errorf("-timeout %v: want more than 0", o.timeout)
	case o.provider != schemas.ProviderFinnotech && o.provider != schemas.ProviderArhivaar && o.provider != schemas.ProviderCard:
		return o, fmt.Errorf("-provider %q: want finnotech, arhivaar or card", *provider)
	case o.operation != opBlock && o.operation != opBlockUnblock && o.operation != opFacility:
		return o, fmt.Errorf("-operation %q: want %s, %s or %s", o.operation, opBlock, opBlockUnblock, opFacility)
	case o.operation == opFacility && o.provider != schemas.ProviderFinnotech:
		return o, fmt.Errorf("-operation %s is a Finnotech inquiry, not %s's", opFacility, o.provider)
	}
	if o.runID == "" {
		o.runID = fmt.Sprintf("ld%06x", rand.Uint32()&0xffffff)
	}
	if last := o.runID + "-" + fmt.Sprint(o.n-1); !trackIDPattern.MatchString(last) {
		return o, fmt.Errorf("-run-id %q: the trackIds (up to %s) must be 1-40 letters, digits, - or _", o.runID, last)
	}
	return o, nil
}

// run is the command: it returns the exit code, 0 when every published
// command has a result, none has two different ones and none failed to
// publish; 1 otherwise or on an error; 2 for bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "blockd-load:", err)
		return 2
	}
	s, err := load(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "blockd-load:", err)
		return 1
	}
	details := stdout
	if o.json {
		details = stderr
	}
	report(o, s, details)
	if o.json {
		b, err := json.Marshal(s)
		if err != nil {
			fmt.Fprintln(stderr, "blockd-load:", err)
			return 1
		}
		fmt.Fprintln(stdout, string(b))
	} else {
		fmt.Fprintln(stdout, summaryLine(s))
	}
	if s.Missing > 0 || s.PublishFailed > 0 || s.Conflicting > 0 {
		return 1
	}
	return 0
}

// load runs the load and returns its summary.
func load(ctx context.Context, o options, stderr io.Writer) (summary, error) {
	src, err := newCommandSource(o.runID, o.provider, o.operation, o.keys, o.topics)
	if err != nil {
		return summary{}, err
	}
	t := newTally(o.n)
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	from, err := endOffsets(octx, o.brokers, o.resultsTopic)
	cancel()
	if err != nil {
		return summary{}, err
	}
	reader := readResults(o.brokers, o.resultsTopic, from, src, t)
	monitor := startCostMonitor(o.pid, o.pg, 200*time.Millisecond)
	stopProgress := startProgress(o, t, stderr)

	w := newWriter(o.brokers, t)
	pub := &publisher{w: w, src: src, tally: t, rate: o.rate, shards: 4, chunk: 500}
	start := time.Now()
	perr := pub.run(ctx, o.n)
	publishEnd := time.Now()
	w.Close()
	interrupted := ctx.Err() != nil
	if perr != nil && !interrupted {
		stopProgress()
		monitor.finish(0)
		_ = reader.stop()
		return summary{}, fmt.Errorf("publishing: %w", perr)
	}

	// Wait for a result of every published command, then a little longer
	// for late duplicates.
	timedOut := false
	deadline := time.NewTimer(o.timeout)
	tick := time.NewTicker(20 * time.Millisecond)
wait:
	for !interrupted && t.waitingFor() > 0 {
		select {
		case <-ctx.Done():
			interrupted = true
		case <-deadline.C:
			timedOut = true
			break wait
		case <-tick.C:
		}
	}
	deadline.Stop()
	tick.Stop()
	published := t.progress().published
	cost := monitor.finish(published)
	if !interrupted && !timedOut && o.settle > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(o.settle):
		}
	}
	rerr := reader.stop()
	stopProgress()

	cmds, refusalsByCode, foreign, unreadable, firstErr := t.snapshot()
	s := summarize(cmds, src.trackID, start, publishEnd)
	s.RunID, s.OfferedRate = o.runID, o.rate
	s.RunSeconds = time.Since(start).Seconds()
	s.RefusalsByCode, s.Foreign, s.Unreadable = refusalsByCode, foreign, unreadable
	for _, c := range refusalsByCode {
		s.Refusals += c
	}
	s.Cost = cost
	if interrupted {
		cost.Notes = append(cost.Notes, "interrupted: the counts are of what happened until then")
	}
	if timedOut {
		cost.Notes = append(cost.Notes, fmt.Sprintf("-timeout %v ran out with %d published commands without a result", o.timeout, s.Missing))
	}
	if firstErr != nil {
		cost.Notes = append(cost.Notes, "the first publish error: "+firstErr.Error())
	}
	if rerr != nil {
		cost.Notes = append(cost.Notes, "reading results: "+rerr.Error())
	}
	return s, nil
}

// startProgress prints a progress line to stderr every -progress until the
// returned function is called.
func startProgress(o options, t *tally, stderr io.Writer) func() {
	if o.progressEvery <= 0 {
		return func() {}
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		start := time.Now()
		tick := time.NewTicker(o.progressEvery)
		defer tick.Stop()
		last, lastAt := 0, start
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				p := t.progress()
				rate := float64(p.results-last) / now.Sub(lastAt).Seconds()
				last, lastAt = p.results, now
				fmt.Fprintf(stderr, "load: %4.0fs handed=%d/%d published=%d failed=%d results=%d refusals=%d rate=%.0f/s\n",
					now.Sub(start).Seconds(), p.handed, o.n, p.published, p.failed, p.results, p.refusals, rate)
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

// counts formats a count per label, labels sorted: "DONE=10 FAILED X=2".
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", strings.ReplaceAll(k, " ", "/"), m[k]))
	}
	return strings.Join(parts, " ")
}

// report prints the lines above the summary.
func report(o options, s summary, w io.Writer) {
	offered := "as fast as the writer goes"
	if o.rate > 0 {
		offered = fmt.Sprintf("at %g/s", o.rate)
	}
	fmt.Fprintf(w, "load: run %s: %d %s %s commands over %d keys, offered %s, to %s\n",
		s.RunID, s.N, o.provider, o.operation, o.keys, offered, strings.Join(o.brokers, ","))
	fmt.Fprintf(w, "load: published %d in %.2fs (%.1f/s acknowledged by the broker), %d failed to publish\n",
		s.Published, s.PublishSeconds, s.PublishRate, s.PublishFailed)
	fmt.Fprintf(w, "load: results by status: %s\n", counts(s.ByStatus))
	fmt.Fprintf(w, "load: refusals (key refused:<trackId>, not results) by code: %s\n", counts(s.RefusalsByCode))
	if s.Duplicates > 0 || s.Foreign > 0 || s.Unreadable > 0 {
		fmt.Fprintf(w, "load: %d commands with more than one result (%d events beyond the first; %d with another eventId), %d events of other trackIds, %d unreadable\n",
			s.Duplicates, s.DuplicateEvents, s.Conflicting, s.Foreign, s.Unreadable)
	}
	fmt.Fprintf(w, "load: latency publish→result from the broker's acknowledgement of the produce: p50=%gms p90=%gms p99=%gms max=%gms\n",
		s.Latency.P50, s.Latency.P90, s.Latency.P99, s.Latency.Max)
	fmt.Fprintf(w, "load: latency from the hand-off to the writer (batching and produce round trip included): p50=%gms p90=%gms p99=%gms max=%gms",
		s.LatencyFromHandoff.P50, s.LatencyFromHandoff.P90, s.LatencyFromHandoff.P99, s.LatencyFromHandoff.Max)
	if s.ResultsBeforeAck > 0 {
		fmt.Fprintf(w, " (%d results were read before their acknowledgement: counted 0)", s.ResultsBeforeAck)
	}
	fmt.Fprintln(w)
	if c := s.Cost; c != nil {
		if c.BlockdMeasured {
			fmt.Fprintf(w, "load: blockd pid %d: cpu %.0fms (%gms/cmd), rss peak %gMB (VmRSS every 200ms), VmHWM %gMB\n",
				c.BlockdPID, c.BlockdCPUMs, c.BlockdCPUMsPerCmd, c.RSSPeakMB, c.HWMMB)
		}
		if c.PGMeasured {
			fmt.Fprintf(w, "load: postgres (every process named postgres: other clients' work included): cpu %.0fms (%gms/cmd)\n",
				c.PGCPUMs, c.PGCPUMsPerCmd)
		}
		fmt.Fprintf(w, "load: blockd-load itself: cpu %.0fms (%gms/cmd)\n", c.LoadCPUMs, c.LoadCPUMsPerCmd)
		for _, n := range c.Notes {
			fmt.Fprintf(w, "load: note: %s\n", n)
		}
	}
	if len(s.MissingExamples) > 0 {
		fmt.Fprintf(w, "load: missing (up to 10): %s\n", strings.Join(s.MissingExamples, " "))
	}
}

// summaryLine is the last line: one line, key=value, easy to grep.
func summaryLine(s summary) string {
	na := func(ok bool, v float64) string {
		if !ok {
			return "n/a"
		}
		return fmt.Sprint(v)
	}
	var blockdCPU, pgCPU, rss string
	if c := s.Cost; c != nil {
		blockdCPU, rss, pgCPU = na(c.BlockdMeasured, c.BlockdCPUMsPerCmd), na(c.BlockdMeasured, c.RSSPeakMB), na(c.PGMeasured, c.PGCPUMsPerCmd)
	} else {
		blockdCPU, rss, pgCPU = "n/a", "n/a", "n/a"
	}
	return fmt.Sprintf("load: n=%d published=%d results=%d missing=%d duplicates=%d conflicting=%d refusals=%d publish_failed=%d "+
		"throughput=%.1f/s throughput_mid80=%.1f/s p50_ms=%g p90_ms=%g p99_ms=%g max_ms=%g "+
		"blockd_cpu_ms_per_cmd=%s pg_cpu_ms_per_cmd=%s rss_peak_mb=%s",
		s.N, s.Published, s.Results, s.Missing, s.Duplicates, s.Conflicting, s.Refusals, s.PublishFailed,
		s.Throughput, s.ThroughputMid80, s.Latency.P50, s.Latency.P90, s.Latency.P99, s.Latency.Max,
		blockdCPU, pgCPU, rss)
}
