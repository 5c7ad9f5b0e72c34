package main

// The files: main.go (the process), chaos.go (flags, finding or building
// the blockd binary, the run, the report), chaos_procs.go (child
// processes, PostgreSQL and broker restarts), chaos_disrupt.go (the
// killer, the pauser and the rolling restarts), chaos_produce.go (the
// sandboxes, the command chains and the producer), chaos_hostile.go (the
// hostile mix and what blockd owes each of its messages), chaos_check.go
// (the results collector and the checks), chaos_answers.go (dead letters
// and the checks of the hostile mix), chaos_group.go (a watch on the
// consumer group that works around two defects of the kfake broker),
// chaos_linux.go/chaos_other.go (how children are started).

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/blockd/blockd/consumer/processor"
	"github.com/blockd/blockd/store/seal"
)

// chaosOptions configure one chaos run.
type chaosOptions struct {
	N               int           // commands to publish
	Instances       int           // blockd serve processes
	KillEvery       time.Duration // mean time between SIGKILLs of a blockd process (jittered); 0: no kills
	PGRestarts      int           // PostgreSQL restarts during the run
	BrokerRestarts  int           // broker SIGKILL+restarts during the run
	ErrorRate       float64       // sandbox share of calls answered 5xx, not applied
	TimeoutRate     float64       // sandbox share of calls that hang, not applied
	DropRate        float64       // sandbox share of calls applied, then answered with nothing
	LateRate        float64       // sandbox share of calls that hang unanswered and take effect LateBy after the client gave up
	ApplyTimeout    float64       // sandbox share of calls applied, then answered with the provider's timeout
	NotResponding   float64       // sandbox share of calls applied, then answered "provider not responding"
	StatusLagRate   float64       // sandbox share of calls applied, unanswered, and UNKNOWN to the status inquiry for StatusLag
	NestedFailed    float64       // sandbox share of calls answered 200 with a nested FAILED, not applied
	TimeoutDelay    time.Duration // how long a sandbox timeout hangs
	LateBy          time.Duration // how long after the client gave up a late call takes effect
	StatusLag       time.Duration // how long the status inquiry says UNKNOWN about a status-lag call
	LandingMargin   time.Duration // BLOCKD_LANDING_MARGIN of the blockd processes
	PauseEvery      time.Duration // mean wait (jittered) before each SIGSTOP of a blockd process with calls in flight; 0: no pauses
	PauseFor        time.Duration // a pause lasts PauseFor to 1.5×PauseFor
	RollingRestarts int           // rolling SIGTERM restarts of every blockd instance, one after another
	Rate            float64       // commands published per second
	QuiesceTimeout  time.Duration // how long to wait for the last results after producing
	ResolveDeadline time.Duration // BLOCKD_RESOLVE_DEADLINE of the blockd processes
	Blockd          string        // the blockd binary; "": built into the run directory
	DatabaseURL     string        // the chaos database (dropped and created at start)
	DropDatabase    bool          // drop the database at the end (tests)
	Keep            bool          // keep the run directory
	Seed            int64         // seeds the command mix, the killer and the sandbox faults
	FreshIDs        bool          // a new BLOCKD_INSTANCE_ID on every start instead of one per instance
	LogLevel        string        // BLOCKD_LOG_LEVEL of the blockd processes; default warn
	HostileRate     float64       // hostile messages mixed in, as a share of the commands (0: none)
	MaxMessageBytes int           // BLOCKD_MAX_MESSAGE_BYTES of the blockd processes; 0: blockd's default
	Out             io.Writer     // progress and the report
}

const defaultChaosDatabaseURL = "postgres://postgres@127.0.0.1:5432/blockd_chaos?sslmode=disable"

// parseChaosFlags reads the flags of `blockd-chaos`.
func parseChaosFlags(args []string, out io.Writer) (chaosOptions, error) {
	o := chaosOptions{Out: out}
	fs := flag.NewFlagSet("blockd-chaos", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&o.N, "n", 10000, "commands to publish")
	fs.IntVar(&o.Instances, "instances", 3, "blockd serve processes in the consumer group")
	fs.DurationVar(&o.KillEvery, "kill-every", 2*time.Second, "mean time between SIGKILLs of a random blockd process (jittered ±50%); 0 disables")
	fs.IntVar(&o.PGRestarts, "pg-restarts", 1, "PostgreSQL restarts during the run (pg_ctlcluster restart)")
	fs.IntVar(&o.BrokerRestarts, "broker-restarts", 1, "broker SIGKILL + restarts during the run")
	fs.Float64Var(&o.ErrorRate, "error-rate", 0.05, "sandbox share of provider calls answered 5xx without being applied")
	fs.Float64Var(&o.TimeoutRate, "timeout-rate", 0.02, "sandbox share of provider calls that hang without being applied")
	fs.Float64Var(&o.DropRate, "drop-rate", 0.01, "sandbox share of provider calls applied, then dropped without an answer")
	fs.Float64Var(&o.LateRate, "late-rate", 0.01, "sandbox share of provider calls that hang unanswered until the client gives up and take effect -late-by later")
	fs.Float64Var(&o.ApplyTimeout, "apply-timeout-rate", 0.01, "sandbox share of provider calls applied, then answered with the provider's timeout (Finnotech 408, Arhivaar/card 504)")
	fs.Float64Var(&o.NotResponding, "not-responding-rate", 0.01, "sandbox share of provider calls applied, then answered \"provider not responding\" (Finnotech; the others answer their timeout)")
	fs.Float64Var(&o.StatusLagRate, "status-lag-rate", 0.01, "sandbox share of provider calls applied and dropped, whose status inquiry (Finnotech wages) says UNKNOWN for -status-lag (the others: as -drop-rate)")
	fs.Float64Var(&o.NestedFailed, "nested-failed-rate", 0.01, "sandbox share of provider calls answered 200 with a nested FAILED, not applied (Finnotech; the others: as -error-rate)")
	fs.DurationVar(&o.TimeoutDelay, "timeout-delay", 3*time.Second, "how long a sandbox timeout hangs")
	fs.DurationVar(&o.LateBy, "late-by", time.Second, "how long after the client gave up a -late-rate call takes effect (must stay below -landing-margin)")
	fs.DurationVar(&o.StatusLag, "status-lag", 5*time.Second, "how long the status inquiry says UNKNOWN about a -status-lag-rate call")
	fs.DurationVar(&o.LandingMargin, "landing-margin", 10*time.Second, "BLOCKD_LANDING_MARGIN: how long after its client gave up blockd assumes a call can still take effect; must cover the sandboxes' latest landing")
	fs.DurationVar(&o.PauseEvery, "pause-every", 6*time.Second, "mean wait (jittered ±50%) before each SIGSTOP of a random blockd process that has calls in flight, counted from the end of the last pause; 0 disables")
	fs.DurationVar(&o.PauseFor, "pause-for", 6*time.Second, "a paused blockd process is SIGCONTed after -pause-for to 1.5×-pause-for; keep it above the lease (5s)")
	fs.IntVar(&o.RollingRestarts, "rolling-restarts", 1, "rolling restarts during the run: every blockd instance in turn SIGTERMed, started again and waited for until ready")
	fs.Float64Var(&o.Rate, "rate", 150, "commands published per second")
	fs.DurationVar(&o.QuiesceTimeout, "quiesce-timeout", 5*time.Minute, "after producing, how long to wait for every command's terminal result")
	fs.DurationVar(&o.ResolveDeadline, "resolve-deadline", 2*time.Minute, "BLOCKD_RESOLVE_DEADLINE: how long blockd tries to resolve an unknown outcome")
	fs.StringVar(&o.Blockd, "blockd", "", "the blockd binary to run (default: build "+blockdPackage+" into the run directory with go build, which needs the go command on PATH and a working directory inside the blockd module)")
	fs.StringVar(&o.DatabaseURL, "database-url", defaultChaosDatabaseURL, "the chaos database on the local PostgreSQL; DROPPED and created at start")
	fs.BoolVar(&o.Keep, "keep", false, "keep the run directory (logs, broker data) after a successful run; it is always kept after a failed one")
	fs.Int64Var(&o.Seed, "seed", 0, "seed of the command mix, the killer and the sandbox faults (default: random)")
	fs.StringVar(&o.LogLevel, "log-level", "warn", "BLOCKD_LOG_LEVEL of the blockd processes (their logs are in the run directory)")
	fs.Float64Var(&o.HostileRate, "hostile-rate", 0.03, "hostile messages mixed into the traffic, as a share of -n (at least one of each kind, plus one huge-reason refusal and the largest-result command); 0 sends none")
	fs.IntVar(&o.MaxMessageBytes, "max-message-bytes", 0, "BLOCKD_MAX_MESSAGE_BYTES of the blockd processes (default: blockd's, 262144); below about 6500 the largest-result command's result is too large to publish")
	fs.BoolVar(&o.FreshIDs, "fresh-ids", false, "give a restarted blockd a new BLOCKD_INSTANCE_ID (default: each instance keeps its id across restarts, as a container restarted in place does)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, o.validate()
}

func (o *chaosOptions) validate() error {
	var errs []error
	if o.N < 1 {
		errs = append(errs, errors.New("-n must be at least 1"))
	}
	if o.Instances < 1 || o.Instances > 32 {
		errs = append(errs, errors.New("-instances must be 1..32"))
	}
	if o.KillEvery < 0 {
		errs = append(errs, errors.New("-kill-every must not be negative"))
	}
	if o.PGRestarts < 0 || o.BrokerRestarts < 0 {
		errs = append(errs, errors.New("-pg-restarts and -broker-restarts must not be negative"))
	}
	rates := map[string]float64{"-error-rate": o.ErrorRate, "-timeout-rate": o.TimeoutRate, "-drop-rate": o.DropRate,
		"-late-rate": o.LateRate, "-apply-timeout-rate": o.ApplyTimeout, "-not-responding-rate": o.NotResponding,
		"-status-lag-rate": o.StatusLagRate, "-nested-failed-rate": o.NestedFailed}
	total := 0.0
	for _, name := range sortedKeys(rates) {
		if r := rates[name]; r < 0 || r > 1 {
			errs = append(errs, fmt.Errorf("%s must be between 0 and 1", name))
		}
		total += rates[name]
	}
	if total > 1 {
		errs = append(errs, fmt.Errorf("the fault rates add up to %.3f, more than 1", total))
	}
	if o.RollingRestarts < 0 {
		errs = append(errs, errors.New("-rolling-restarts must not be negative"))
	}
	if o.PauseEvery < 0 {
		errs = append(errs, errors.New("-pause-every must not be negative"))
	}
	if o.PauseEvery > 0 && o.PauseFor <= 0 {
		errs = append(errs, errors.New("-pause-for must be positive"))
	}
	if o.LateBy < 0 || o.StatusLag < 0 || o.LandingMargin < 0 {
		errs = append(errs, errors.New("-late-by, -status-lag and -landing-margin must not be negative"))
	}
	if o.LateRate > 0 && o.LandingMargin <= latestLanding(*o) {
		// blockd would take "not applied" for proven while a late call can
		// still land, and the run would count the harness's own
		// misconfiguration as duplicate effects.
		errs = append(errs, fmt.Errorf("-landing-margin %s must exceed %s: a -late-rate call may take effect that long after blockd's client gave up (-late-by, plus -timeout-delay beyond the call timeout %s while the client is paused)",
			o.LandingMargin, latestLanding(*o), chaosCallTimeout))
	}
	if o.Rate <= 0 {
		errs = append(errs, errors.New("-rate must be positive"))
	}
	if o.HostileRate < 0 || o.HostileRate > 0.5 {
		errs = append(errs, errors.New("-hostile-rate must be between 0 and 0.5"))
	}
	if o.MaxMessageBytes != 0 && (o.MaxMessageBytes < 4096 || o.MaxMessageBytes > 512<<10) {
		// blockd takes 4096..8 MiB; the kfake broker takes messages up to
		// 1 MiB, and the too-large message is the limit plus 1 KiB.
		errs = append(errs, errors.New("-max-message-bytes must be 0 (blockd's default) or 4096..524288"))
	}
	if o.QuiesceTimeout <= 0 || o.ResolveDeadline <= 0 || o.TimeoutDelay <= 0 {
		errs = append(errs, errors.New("-quiesce-timeout, -resolve-deadline and -timeout-delay must be positive"))
	}
	if _, _, err := chaosDatabase(o.DatabaseURL); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// The timings of the blockd processes (blockdEnv).
const (
	chaosCallTimeout   = 2 * time.Second
	chaosLease         = 5 * time.Second
	chaosShutdownGrace = 10 * time.Second // BLOCKD_SHUTDOWN_GRACE
)

// maxMessageBytes is BLOCKD_MAX_MESSAGE_BYTES of the blockd processes.
func maxMessageBytes(o chaosOptions) int {
	return cmp.Or(o.MaxMessageBytes, processor.DefaultMaxMessageBytes)
}

// latestLanding is how long after blockd's client gave up a sandbox call
// can still take effect: a late call waits for the client to go away, or
// for TimeoutDelay when the client cannot (it is paused), then LateBy.
func latestLanding(o chaosOptions) time.Duration {
	return max(o.TimeoutDelay-chaosCallTimeout, 0) + o.LateBy
}

// configWarnings are settings that make commands end OUTCOME_UNKNOWN for
// the harness's sake rather than blockd's: blockd cannot prove an outcome
// before its resolve deadline.
func (o *chaosOptions) configWarnings() []string {
	var w []string
	if settle := 2*chaosCallTimeout + o.LandingMargin; o.ResolveDeadline <= settle {
		w = append(w, fmt.Sprintf("-resolve-deadline %s is not above 2×call timeout + -landing-margin = %s: a doubt only a state read (card) or a re-send (Arhivaar) can settle ends OUTCOME_UNKNOWN", o.ResolveDeadline, settle))
	}
	if o.StatusLagRate > 0 && o.ResolveDeadline <= o.StatusLag {
		w = append(w, fmt.Sprintf("-resolve-deadline %s is not above -status-lag %s: every -status-lag-rate call at Finnotech ends OUTCOME_UNKNOWN", o.ResolveDeadline, o.StatusLag))
	}
	if o.PauseEvery > 0 && o.PauseFor <= chaosLease {
		w = append(w, fmt.Sprintf("-pause-for %s is not above the lease %s: a paused blockd may keep its claims", o.PauseFor, chaosLease))
	}
	return w
}

// chaosDatabase checks that u names a database on this machine and returns
// its name and the URL of the server's maintenance database.
func chaosDatabase(u string) (name, adminURL string, err error) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "postgres" && p.Scheme != "postgresql") {
		return "", "", fmt.Errorf("-database-url %q is not a postgres:// URL", u)
	}
	if h := p.Hostname(); h != "127.0.0.1" && h != "localhost" && h != "::1" {
		return "", "", fmt.Errorf("-database-url must point at this machine (127.0.0.1), not %q", h)
	}
	name = strings.TrimPrefix(p.Path, "/")
	if name == "" || name == "postgres" || name == "template0" || name == "template1" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("-database-url must name a database of its own (it is dropped), not %q", name)
	}
	admin := *p
	admin.Path = "/postgres"
	return name, admin.String(), nil
}

// localDatabaseURL adds sslmode=disable to a URL that names no sslmode: the
// server is on this machine.
func localDatabaseURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := p.Query()
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
		p.RawQuery = q.Encode()
	}
	return p.String()
}

// chaosReport is what a run proved.
type chaosReport struct {
	Commands         int // commands published (acknowledged by the broker)
	Results          int // commands with a terminal result
	Lost             int // commands without one
	DuplicateEffects int // provider effects beyond one per command, phantom DONEs included
	PhantomDone      int // DONE results without their effect in the sandbox
	Conflicting      int // commands whose terminal results differ
	OutcomeUnknown   int // commands answered FAILED with OUTCOME_UNKNOWN
	Reconcile        int // commands the database flags needs_reconciliation
	Hostile          int // messages of the hostile mix acknowledged by the broker
	// HostileUnanswered: hostile messages without the answer they are owed,
	// and hostile commands not answered as commands.
	HostileUnanswered int
	StuckKeys         int // Kafka keys with a published command without a terminal result
	LeakedValues      int // sensitive values of the hostile mix found in an answer or a log
	OversizedWrites   int // blockd messages over the limit, reasons over schemas.MaxReasonBytes

	Kills           int
	Pauses          int // SIGSTOPs of a blockd process with calls in flight, each SIGCONTed after -pause-for
	RollingRestarts int // rolling SIGTERM restarts of every instance, completed
	PGRestarts      int
	BrokerRestarts  int
}

// summary is the last line a run prints.
func (r chaosReport) summary() string {
	return fmt.Sprintf("chaos: commands=%d results=%d lost=%d duplicate_effects=%d conflicting_results=%d hostile=%d hostile_unanswered=%d stuck_keys=%d leaked_values=%d oversized_writes=%d outcome_unknown=%d reconcile=%d kills=%d pauses=%d rolling_restarts=%d pg_restarts=%d broker_restarts=%d",
		r.Commands, r.Results, r.Lost, r.DuplicateEffects, r.Conflicting, r.Hostile, r.HostileUnanswered, r.StuckKeys, r.LeakedValues, r.OversizedWrites,
		r.OutcomeUnknown, r.Reconcile, r.Kills, r.Pauses, r.RollingRestarts, r.PGRestarts, r.BrokerRestarts)
}

// ok reports whether the promises held: exactly once, and every hostile
// message answered without stopping a key or echoing a value.
func (r chaosReport) ok() bool {
	return r.Lost == 0 && r.DuplicateEffects == 0 && r.Conflicting == 0 &&
		r.HostileUnanswered == 0 && r.StuckKeys == 0 && r.LeakedValues == 0 && r.OversizedWrites == 0
}

// errPromiseBroken is runChaos's answer when the run proved a breach of a
// promise; the summary line already says which.
var errPromiseBroken = errors.New("a promise was broken")

// runChaos is `blockd-chaos [flags]`. Its last line is the summary; it
// returns errPromiseBroken when the promise was broken.
func runChaos(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseChaosFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	rep, err := chaosRun(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, rep.summary())
	if !rep.ok() {
		// Everything is stopped and cleaned up by now; the summary must stay
		// the last line, so no error message follows it.
		return errPromiseBroken
	}
	return nil
}

// blockdPackage is the blockd command the run builds when -blockd is empty.
const blockdPackage = "github.com/blockd/blockd/cmd/blockd"

// buildBlockd builds blockdPackage into the file bin with `go build`, in
// the working directory, which must be inside the blockd module.
func buildBlockd(ctx context.Context, bin string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building blockd: the go command is not on PATH (give -blockd): %w", err)
	}
	out, err := exec.CommandContext(ctx, goBin, "build", "-o", bin, blockdPackage).CombinedOutput()
	if err != nil {
		return fmt.Errorf("building blockd with `go build -o %s %s` (run from the blockd module, or give -blockd): %w\n%s",
			bin, blockdPackage, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// chaosLogger writes timestamped progress lines, one writer at a time.
type chaosLogger struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (l *chaosLogger) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "chaos: [%6.1fs] %s\n", time.Since(l.start).Seconds(), fmt.Sprintf(format, args...))
}

// line writes a report line without a timestamp.
func (l *chaosLogger) line(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}

// chaosRun runs one chaos run and returns what it proved. An error means the
// run could not be carried out (setup failed, interrupted), not that the
// promise was broken. Every child process is stopped before it returns.
func chaosRun(ctx context.Context, o chaosOptions) (rep chaosReport, err error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if err := o.validate(); err != nil {
		return rep, err
	}
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano()
	}
	if o.Blockd != "" {
		if _, err := os.Stat(o.Blockd); err != nil {
			return rep, fmt.Errorf("the blockd binary: %w", err)
		}
	}
	log := &chaosLogger{w: o.Out, start: time.Now()}
	o.DatabaseURL = localDatabaseURL(o.DatabaseURL)
	dbName, adminURL, _ := chaosDatabase(o.DatabaseURL)

	runDir, err := os.MkdirTemp("", "blockd-chaos-")
	if err != nil {
		return rep, err
	}
	keepDir := o.Keep
	defer func() {
		if keepDir || err != nil || !rep.ok() {
			log.printf("run directory kept: %s", runDir)
			return
		}
		if rerr := os.RemoveAll(runDir); rerr != nil {
			log.printf("removing the run directory: %v", rerr)
		}
	}()
	log.printf("run directory (logs, broker data): %s", runDir)
	if o.Blockd == "" {
		o.Blockd = filepath.Join(runDir, "blockd")
		buildStart := time.Now()
		if err := buildBlockd(ctx, o.Blockd); err != nil {
			return rep, err
		}
		log.printf("built %s into %s in %s", blockdPackage, o.Blockd, time.Since(buildStart).Round(time.Millisecond))
	}
	log.printf("seed=%d n=%d instances=%d kill-every=%s pause-every=%s pause-for=%s rolling-restarts=%d pg-restarts=%d broker-restarts=%d rate=%.0f/s resolve-deadline=%s landing-margin=%s",
		o.Seed, o.N, o.Instances, o.KillEvery, o.PauseEvery, o.PauseFor, o.RollingRestarts, o.PGRestarts, o.BrokerRestarts, o.Rate, o.ResolveDeadline, o.LandingMargin)
	log.printf("hostile-rate=%.3f max-message-bytes=%d", o.HostileRate, maxMessageBytes(o))
	log.printf("faults: error=%.3f timeout=%.3f drop=%.3f late=%.3f apply-timeout=%.3f not-responding=%.3f status-lag=%.3f nested-failed=%.3f (timeout-delay=%s late-by=%s status-lag=%s)",
		o.ErrorRate, o.TimeoutRate, o.DropRate, o.LateRate, o.ApplyTimeout, o.NotResponding, o.StatusLagRate, o.NestedFailed, o.TimeoutDelay, o.LateBy, o.StatusLag)
	for _, w := range o.configWarnings() {
		log.printf("WARNING: %s", w)
	}

	// Everything below is bounded: the whole run may not outlive this.
	limit := 5*time.Minute + time.Duration(float64(o.N)/o.Rate*float64(time.Second))*2 + o.QuiesceTimeout + o.ResolveDeadline
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	// PostgreSQL: a fresh database.
	if err := recreateDatabase(ctx, adminURL, dbName); err != nil {
		return rep, err
	}
	log.printf("database %s dropped and created", dbName)
	if o.DropDatabase {
		defer func() {
			dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer dcancel()
			if derr := dropDatabase(dctx, adminURL, dbName); derr != nil {
				log.printf("dropping database %s: %v", dbName, derr)
			}
		}()
	}
	var pg *pgControl
	if o.PGRestarts > 0 {
		if pg, err = newPGControl(adminURL); err != nil {
			return rep, err
		}
	}

	// The provider sandboxes, in this process.
	sb, err := startChaosSandboxes(o, log)
	if err != nil {
		return rep, err
	}
	defer sb.close()

	// The broker and the blockd processes, stopped on every way out.
	procs := newProcSet(runDir, o.Blockd, log)
	defer procs.stopAll()
	broker, err := procs.startBroker(ctx)
	if err != nil {
		return rep, err
	}
	if err := createChaosTopics(ctx, broker.addr, maxMessageBytes(o)); err != nil {
		return rep, err
	}
	log.printf("broker up at %s (pid %d), topics created", broker.addr, broker.pid())
	// The key the instances seal the Finnotech token with in PostgreSQL.
	tokenKeyFile := filepath.Join(runDir, "token.key")
	tokenKey, err := seal.NewKeyText()
	if err != nil {
		return rep, err
	}
	if err := os.WriteFile(tokenKeyFile, tokenKey, 0o600); err != nil {
		return rep, fmt.Errorf("writing the token key: %w", err)
	}
	for i := range o.Instances {
		env := blockdEnv(o, broker.addr, tokenKeyFile, sb, i)
		if _, err := procs.startBlockd(i, env); err != nil {
			return rep, err
		}
	}
	if err := procs.waitReady(ctx, 90*time.Second); err != nil {
		return rep, err
	}
	log.printf("%d blockd processes ready", o.Instances)

	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0xc4a05))
	run := runID(rng)
	plan, err := planCommands(o.N, rng, run)
	if err != nil {
		return rep, err
	}
	if err := addHostile(plan, rand.New(rand.NewPCG(uint64(o.Seed), 0x4057)), run, o.HostileRate, maxMessageBytes(o)); err != nil {
		return rep, err
	}
	results := newResultCollector(broker.addr, log)
	defer results.close()

	// The group doctor clears kfake ghost members (see groupDoctor) until
	// blockd is stopped.
	doctor := &groupDoctor{addr: broker.addr, procs: procs, log: log}
	doctorCtx, stopDoctor := context.WithCancel(ctx)
	doctorDone := make(chan struct{})
	go func() {
		defer close(doctorDone)
		doctor.run(doctorCtx)
	}()
	defer func() {
		stopDoctor()
		<-doctorDone
	}()

	prod := newProducer(broker.addr, plan, o.Rate, log)
	defer prod.close()

	// Chaos while producing: the killer, and the restarts at fixed shares
	// of the commands published.
	chaosCtx, stopChaos := context.WithCancel(ctx)
	defer stopChaos()
	var chaosWG sync.WaitGroup
	procs.superviseEvery(chaosCtx, &chaosWG, time.Second)
	if o.KillEvery > 0 && o.Instances > 0 {
		chaosWG.Add(1)
		go func() {
			defer chaosWG.Done()
			procs.killer(chaosCtx, o.KillEvery, rand.New(rand.NewPCG(uint64(o.Seed), 0x6b111)))
		}()
	}
	if o.PauseEvery > 0 && o.Instances > 0 {
		db, err := sql.Open("postgres", o.DatabaseURL)
		if err != nil {
			return rep, err
		}
		defer db.Close()
		chaosWG.Add(1)
		go func() {
			defer chaosWG.Done()
			procs.pauser(chaosCtx, ctx, o.PauseEvery, o.PauseFor, rand.New(rand.NewPCG(uint64(o.Seed), 0x57095)), dbCallsInFlight(db))
		}()
	}
	events := restartSchedule(o.PGRestarts, o.BrokerRestarts, o.RollingRestarts)
	eventsDone := make(chan struct{})
	chaosWG.Add(1)
	go func() {
		defer chaosWG.Done()
		defer close(eventsDone)
		for _, ev := range events {
			if !prod.waitPublished(chaosCtx, int(ev.share*float64(o.N))) {
				return
			}
			switch ev.what {
			case "pg":
				if err := pg.restart(chaosCtx, log); err != nil {
					log.printf("PostgreSQL restart FAILED: %v", err)
					continue
				}
				procs.countPGRestart()
			case "broker":
				if err := procs.restartBroker(chaosCtx); err != nil {
					log.printf("broker restart FAILED: %v", err)
					continue
				}
			case "rolling":
				if err := procs.rollingRestart(chaosCtx, chaosShutdownGrace+10*time.Second, time.Minute); err != nil {
					log.printf("rolling restart FAILED: %v", err)
					continue
				}
			}
		}
	}()

	progressCtx, stopProgress := context.WithCancel(ctx)
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-progressCtx.Done():
				return
			case <-t.C:
				pub := prod.publishedIDs()
				done := results.terminalAmong(pub)
				log.printf("published=%d/%d hostile=%d/%d terminal=%d kills=%d pauses=%d rolling_restarts=%d pg_restarts=%d broker_restarts=%d",
					len(pub), o.N, len(prod.hostileSent()), len(plan.hostile), done, procs.kills(), procs.pauses(), procs.rollingRestarts(), procs.pgRestarts(), procs.brokerRestarts())
			}
		}
	}()
	defer func() {
		stopProgress()
		<-progressDone
	}()

	produceStart := time.Now()
	prodErr := prod.run(ctx)
	log.printf("producing over in %s: %d published (%d writes retried)", time.Since(produceStart).Round(time.Millisecond), prod.count(), prod.retries())
	// Let the scheduled restarts (all due by now) finish, then stop the chaos.
	if prodErr == nil {
		select {
		case <-eventsDone:
		case <-ctx.Done():
		case <-time.After(3 * time.Minute):
			log.printf("the scheduled restarts did not finish within 3 minutes")
		}
	}
	stopChaos()
	chaosWG.Wait()
	if prodErr != nil {
		return rep, fmt.Errorf("producing: %w", prodErr)
	}
	// From here on, keep every process running: a crash now is a finding.
	quiesceCtx, stopSupervising := context.WithCancel(ctx)
	var superviseWG sync.WaitGroup
	procs.superviseEvery(quiesceCtx, &superviseWG, time.Second)

	// Quiescence: every published command has a terminal result, and every
	// hostile message its answer.
	published := prod.publishedIDs()
	deadline := time.Now().Add(o.QuiesceTimeout)
	quiesceStart := time.Now()
	unanswered := func() int {
		ev := newChaosEvidence(liveChaosState(plan, prod, results, maxMessageBytes(o)))
		return ev.unansweredHostile().n + ev.hostileCommandsOff().n
	}
	for (results.terminalAmong(published) < len(published) || unanswered() > 0) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(500 * time.Millisecond)
	}
	stopProgress()
	<-progressDone
	if ctx.Err() != nil {
		stopSupervising()
		superviseWG.Wait()
		return rep, fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	if n, u := results.terminalAmong(published), unanswered(); n < len(published) || u > 0 {
		log.printf("quiescence timeout after %s: %d of %d commands have a terminal result; %d hostile messages lack their answer", o.QuiesceTimeout, n, len(published), u)
	} else {
		log.printf("quiescent %s after producing: every command has a terminal result, every hostile message its answer", time.Since(quiesceStart).Round(time.Millisecond))
	}
	stopSupervising()
	superviseWG.Wait()

	stopDoctor()
	<-doctorDone

	// Stop blockd (SIGTERM: it flushes its outbox), read the last results,
	// then stop the broker.
	procs.stopBlockd(30 * time.Second)
	results.drain(2 * time.Second)
	results.close()
	procs.stopBroker()

	rep.Kills, rep.PGRestarts, rep.BrokerRestarts = procs.kills(), procs.pgRestarts(), procs.brokerRestarts()
	rep.Pauses, rep.RollingRestarts = procs.pauses(), procs.rollingRestarts()
	if err := checkChaos(ctx, &rep, o, runDir, plan, prod, results, sb, log); err != nil {
		return rep, err
	}
	if n := doctor.evictions(); n > 0 {
		log.line("chaos: consumer group reset by the group doctor %d time(s), for kfake ghost members or rebalance livelock (broker defects, not blockd's: see chaos_group.go)", n)
	}
	for _, g := range procs.gracelessStops() {
		log.line("chaos: rolling restart: a SIGTERMed blockd did not exit 0 within the grace: %s", g)
	}
	if n := procs.unexpectedExits(); n > 0 {
		log.line("chaos: blockd/broker processes that exited on their own (restarted): %d — see the logs in %s", n, runDir)
		keepDir = true // the line above sends the reader there
	}
	log.line("chaos: wall time %s", time.Since(log.start).Round(time.Millisecond))
	return rep, nil
}

// restartEvent is one scheduled restart, at a share of the commands published.
type restartEvent struct {
	what  string // "pg", "broker" or "rolling"
	share float64
}

// restartSchedule spreads the PostgreSQL restarts, the broker restarts and
// the rolling restarts over the production, in that order, one at a time.
func restartSchedule(pgRestarts, brokerRestarts, rollingRestarts int) []restartEvent {
	var ev []restartEvent
	total := pgRestarts + brokerRestarts + rollingRestarts
	for _, kind := range []struct {
		what string
		n    int
	}{{"pg", pgRestarts}, {"broker", brokerRestarts}, {"rolling", rollingRestarts}} {
		for range kind.n {
			ev = append(ev, restartEvent{kind.what, 0.1 + 0.8*float64(2*len(ev)+1)/float64(2*total)})
		}
	}
	return ev
}
