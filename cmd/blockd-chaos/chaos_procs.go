package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lib/pq"
	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/producer"
)

// proc is one child process slot (the broker, or one blockd instance) that
// may be started, killed and started again.
type proc struct {
	name    string
	bin     string
	args    []string
	env     func(start int) []string // the environment of the start-th start (0-based)
	logPath string
	addr    string // broker: its Kafka address; blockd: its HTTP address
	log     *chaosLogger

	mu       sync.Mutex
	cmd      *exec.Cmd
	instance string        // BLOCKD_INSTANCE_ID of the current process, if any
	exited   chan struct{} // closed when the current process has exited
	exitErr  error         // how the last process that exited ended (nil: exit status 0)
	expected bool          // the current process is being stopped on purpose
	// held: down, or being stopped, on purpose; the supervisor, the
	// killer, the pauser and the rolling restart leave it alone.
	held bool
	// paused: SIGSTOPped by the pauser; the killer and the rolling restart
	// leave it alone until the pauser SIGCONTs it.
	paused   bool
	starts   int
	surprise int // exits nobody asked for
}

func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// running reports whether the process is started and has not exited.
func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runningLocked()
}

func (p *proc) runningLocked() bool {
	if p.exited == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// start starts the process; its output is appended to its log file.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.runningLocked() {
		return nil
	}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	env := p.env(p.starts)
	fmt.Fprintf(f, "=== chaos: start #%d of %s at %s\n", p.starts+1, p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = chaosSysProcAttr()
	if err := cmd.Start(); err != nil {
		_ = f.Close() // nothing was written to it by the child; the start error is what matters
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	p.starts++
	p.cmd, p.expected, p.paused = cmd, false, false
	p.instance = ""
	for _, kv := range env {
		if id, ok := strings.CutPrefix(kv, "BLOCKD_INSTANCE_ID="); ok {
			p.instance = id
		}
	}
	exited := make(chan struct{})
	p.exited = exited
	go func() {
		werr := cmd.Wait()
		fmt.Fprintf(f, "=== chaos: %s (pid %d) exited at %s: %v\n", p.name, cmd.Process.Pid, time.Now().Format(time.RFC3339Nano), exitText(werr))
		_ = f.Close() // the child's log: a failed close loses log lines only, and nobody is left to tell
		p.mu.Lock()
		expected := p.expected && p.cmd == cmd
		if !expected {
			p.surprise++
		}
		if p.cmd == cmd {
			p.exitErr = werr
		}
		p.mu.Unlock()
		if !expected {
			p.log.printf("%s (pid %d) exited on its own: %s", p.name, cmd.Process.Pid, exitText(werr))
		}
		close(exited)
	}()
	return nil
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// signal sends sig to the current process, marking its exit as expected,
// and waits up to wait for it to exit. It reports whether it exited. A
// signal other than SIGKILL is followed by SIGCONT, so that a process the
// pauser stopped handles it (only stopping the run signals a paused one).
func (p *proc) signal(sig syscall.Signal, wait time.Duration) bool {
	p.mu.Lock()
	if !p.runningLocked() {
		p.mu.Unlock()
		return true
	}
	p.expected = true
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	_ = cmd.Process.Signal(sig)
	if sig != syscall.SIGKILL {
		_ = cmd.Process.Signal(syscall.SIGCONT)
	}
	select {
	case <-exited:
		return true
	case <-time.After(wait):
		return false
	}
}

// stop stops the process: sig, then SIGKILL after grace.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) {
	p.setHeld(true)
	if !p.signal(sig, grace) {
		p.log.printf("%s did not exit within %s of %v; killing it", p.name, grace, sig)
		p.signal(syscall.SIGKILL, 10*time.Second)
	}
}

func (p *proc) setHeld(h bool) {
	p.mu.Lock()
	p.held = h
	p.mu.Unlock()
}

// available reports whether the process runs and nobody is stopping,
// killing or pausing it.
func (p *proc) available() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.availableLocked()
}

func (p *proc) availableLocked() bool {
	return p.runningLocked() && !p.held && !p.paused
}

// claim marks the process held if it is available; false when it is not.
func (p *proc) claim() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.availableLocked() {
		return false
	}
	p.held = true
	return true
}

// instanceID is BLOCKD_INSTANCE_ID of the current process.
func (p *proc) instanceID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.instance
}

// lastExit is how the last process that exited ended (nil: exit status 0).
func (p *proc) lastExit() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

// procSet is the broker and the blockd instances of one run.
type procSet struct {
	runDir string
	bin    string
	log    *chaosLogger

	mu        sync.Mutex
	broker    *proc
	blockd    []*proc
	nKills    int
	nPauses   int
	nRolling  int
	rolling   bool     // a rolling restart is under way
	graceless []string // rolling-restart stops that did not end in exit status 0 within the grace
	disrupted time.Time
	nPG       int
	nBroker   int
	stopping  bool
}

func newProcSet(runDir, bin string, log *chaosLogger) *procSet {
	return &procSet{runDir: runDir, bin: bin, log: log}
}

// chaosEnv is this process's environment without any BLOCKD_ variable, plus
// vars: a child sees only the configuration the run gives it.
func chaosEnv(vars ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BLOCKD_") {
			env = append(env, kv)
		}
	}
	return append(env, vars...)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startBroker starts `blockd broker` on a free port with its data in the run
// directory, and waits until it answers.
func (s *procSet) startBroker(ctx context.Context) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dataDir := filepath.Join(s.runDir, "broker-data")
	p := &proc{name: "broker", bin: s.bin, args: []string{"broker"}, logPath: filepath.Join(s.runDir, "broker.log"), addr: addr, log: s.log,
		env: func(int) []string {
			return chaosEnv("BLOCKD_EMBEDDED_KAFKA_ADDR="+addr, "BLOCKD_DATA_DIR="+dataDir, "BLOCKD_LOG_LEVEL=info")
		}}
	s.mu.Lock()
	s.broker = p
	s.mu.Unlock()
	if err := p.start(); err != nil {
		return nil, err
	}
	if err := waitBroker(ctx, addr, 60*time.Second); err != nil {
		return nil, fmt.Errorf("broker at %s: %w (see %s)", addr, err, p.logPath)
	}
	return p, nil
}

// waitBroker waits until the broker at addr answers a metadata request.
func waitBroker(ctx context.Context, addr string, limit time.Duration) error {
	client := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 2 * time.Second}
	deadline := time.Now().Add(limit)
	for {
		mctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := client.Metadata(mctx, &kafka.MetadataRequest{})
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not answering after %s: %w", limit, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// chaosTopics are blockd's default topics.
var chaosTopics = []string{"blockd.cmd.block", "blockd.cmd.unblock", "blockd.cmd.transfer", "blockd.cmd.inquiry", "blockd.results", "blockd.dlq"}

const chaosPartitions = 6

// createChaosTopics creates blockd's topics with 6 partitions each.
func createChaosTopics(ctx context.Context, addr string, maxMessageBytes int) error {
	client := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	var req kafka.CreateTopicsRequest
	for _, t := range chaosTopics {
		tc := kafka.TopicConfig{Topic: t, NumPartitions: chaosPartitions, ReplicationFactor: -1}
		if t == "blockd.results" || t == "blockd.dlq" {
			// As README asks of a production broker, and no more: the
			// broker refuses what blockd's limit should have kept out.
			tc.ConfigEntries = []kafka.ConfigEntry{{ConfigName: "max.message.bytes",
				ConfigValue: strconv.Itoa(maxMessageBytes + producer.BatchOverhead)}}
		}
		req.Topics = append(req.Topics, tc)
	}
	var lastErr error
	for range 20 {
		res, err := client.CreateTopics(ctx, &req)
		if err == nil {
			for topic, terr := range res.Errors {
				if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
					return fmt.Errorf("creating topic %s: %w", topic, terr)
				}
			}
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("creating topics: %w", lastErr)
}

// startBlockd starts blockd instance i (`blockd serve`) with env.
func (s *procSet) startBlockd(i int, env func(start int) []string) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p := &proc{name: fmt.Sprintf("blockd-%d", i+1), bin: s.bin, args: []string{"serve"}, addr: addr, log: s.log,
		logPath: filepath.Join(s.runDir, fmt.Sprintf("blockd-%d.log", i+1)),
		env:     func(start int) []string { return append(env(start), "BLOCKD_HTTP_ADDR="+addr) }}
	s.mu.Lock()
	s.blockd = append(s.blockd, p)
	s.mu.Unlock()
	return p, p.start()
}

// waitReady waits until every blockd instance says it is ready.
func (s *procSet) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, p := range s.instances() {
		if err := p.waitReady(ctx, deadline); err != nil {
			return err
		}
	}
	return nil
}

// waitReady waits until the blockd process answers /readyz with 200 (its
// database and broker are reachable, it joined the consumer group and no
// provider's circuit breaker is open), or deadline passes.
func (p *proc) waitReady(ctx context.Context, deadline time.Time) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if !p.running() {
			return fmt.Errorf("%s exited while starting (see %s)", p.name, p.logPath)
		}
		res, err := client.Get("http://" + p.addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not ready by %s (see %s)", p.name, deadline.Format(time.TimeOnly), p.logPath)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (s *procSet) instances() []*proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*proc(nil), s.blockd...)
}

func (s *procSet) kills() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nKills
}

// lastDisruption is when a blockd process was last SIGKILLed, paused,
// resumed or SIGTERMed by a rolling restart: the consumer group rebalances
// after each.
func (s *procSet) lastDisruption() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.disrupted
}

func (s *procSet) markDisruption() {
	s.mu.Lock()
	s.disrupted = time.Now()
	s.mu.Unlock()
}

func (s *procSet) pauses() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nPauses
}

func (s *procSet) rollingRestarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nRolling
}

// gracelessStops lists the rolling-restart stops that did not end in exit
// status 0 within the grace.
func (s *procSet) gracelessStops() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.graceless)
}

func (s *procSet) pgRestarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nPG
}

func (s *procSet) countPGRestart() {
	s.mu.Lock()
	s.nPG++
	s.mu.Unlock()
}

func (s *procSet) brokerRestarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nBroker
}

// unexpectedExits counts the processes that exited without being asked to.
func (s *procSet) unexpectedExits() int {
	s.mu.Lock()
	all := append([]*proc{s.broker}, s.blockd...)
	s.mu.Unlock()
	n := 0
	for _, p := range all {
		if p == nil {
			continue
		}
		p.mu.Lock()
		n += p.surprise
		p.mu.Unlock()
	}
	return n
}

// superviseEvery starts again, every interval until ctx ends, any process
// that exited on its own (a blockd that gave up while the broker was down,
// say). It runs in the background; wg tracks it.
func (s *procSet) superviseEvery(ctx context.Context, wg *sync.WaitGroup, interval time.Duration) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s.mu.Lock()
			stopping := s.stopping
			all := append([]*proc{s.broker}, s.blockd...)
			s.mu.Unlock()
			if stopping {
				return
			}
			for _, p := range all {
				if p == nil {
					continue
				}
				p.mu.Lock()
				restart := !p.held && !p.runningLocked()
				p.mu.Unlock()
				if restart {
					s.log.printf("supervisor: starting %s again", p.name)
					if err := p.start(); err != nil {
						s.log.printf("supervisor: %v", err)
					}
				}
			}
		}
	}()
}

// restartBroker SIGKILLs the broker and starts it again on the same port and
// data directory, then waits until it answers.
func (s *procSet) restartBroker(ctx context.Context) error {
	s.mu.Lock()
	b := s.broker
	s.mu.Unlock()
	b.setHeld(true)
	defer b.setHeld(false)
	pid := b.pid()
	if !b.signal(syscall.SIGKILL, 10*time.Second) {
		return errors.New("the broker did not die within 10s of SIGKILL")
	}
	down := time.Now()
	s.log.printf("broker (pid %d) SIGKILLed; starting it again on %s", pid, b.addr)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(500 * time.Millisecond):
	}
	var err error
	for try := 0; try < 20; try++ { // the port may take a moment to be free again
		if err = b.start(); err == nil {
			if err = waitBroker(ctx, b.addr, 30*time.Second); err == nil {
				break
			}
		}
		s.log.printf("broker restart attempt %d: %v", try+1, err)
		b.signal(syscall.SIGKILL, 10*time.Second)
		time.Sleep(time.Second)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.nBroker++
	s.mu.Unlock()
	s.log.printf("broker up again (pid %d) after %s down", b.pid(), time.Since(down).Round(time.Millisecond))
	return nil
}

// stopBlockd SIGTERMs every blockd instance and waits (bounded) for them.
// An instance that does not exit 0 after SIGTERM is reported.
func (s *procSet) stopBlockd(grace time.Duration) {
	s.mu.Lock()
	s.stopping = true
	all := append([]*proc(nil), s.blockd...)
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop(syscall.SIGTERM, grace)
		}()
	}
	wg.Wait()
}

// stopBroker stops the broker (SIGTERM, bounded).
func (s *procSet) stopBroker() {
	s.mu.Lock()
	s.stopping = true
	b := s.broker
	s.mu.Unlock()
	if b != nil {
		b.stop(syscall.SIGTERM, 15*time.Second)
	}
}

// stopAll stops whatever still runs; it is safe to call more than once.
func (s *procSet) stopAll() {
	s.stopBlockd(10 * time.Second)
	s.stopBroker()
}

// pgControl restarts the local PostgreSQL cluster.
type pgControl struct {
	version  string
	adminURL string
}

// newPGControl finds the one PostgreSQL version under /etc/postgresql.
func newPGControl(adminURL string) (*pgControl, error) {
	entries, err := os.ReadDir("/etc/postgresql")
	if err != nil {
		return nil, fmt.Errorf("finding the PostgreSQL cluster to restart (use -pg-restarts 0 to skip): %w", err)
	}
	var versions []string
	for _, e := range entries {
		if e.IsDir() {
			versions = append(versions, e.Name())
		}
	}
	if len(versions) != 1 {
		return nil, fmt.Errorf("want exactly one PostgreSQL version under /etc/postgresql to restart, found %q (use -pg-restarts 0 to skip)", versions)
	}
	if _, err := exec.LookPath("pg_ctlcluster"); err != nil {
		return nil, fmt.Errorf("pg_ctlcluster is needed to restart PostgreSQL (use -pg-restarts 0 to skip): %w", err)
	}
	return &pgControl{version: versions[0], adminURL: adminURL}, nil
}

// restart restarts the cluster and waits until it accepts connections.
func (pg *pgControl) restart(ctx context.Context, log *chaosLogger) error {
	start := time.Now()
	log.printf("restarting PostgreSQL %s/main", pg.version)
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(cctx, "pg_ctlcluster", "--skip-systemctl-redirect", pg.version, "main", "restart").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctlcluster restart: %w: %s", err, strings.TrimSpace(string(out)))
	}
	if err := waitPostgres(ctx, pg.adminURL, time.Minute); err != nil {
		return err
	}
	log.printf("PostgreSQL accepts connections again, %s after the restart began", time.Since(start).Round(time.Millisecond))
	return nil
}

// waitPostgres waits until the server at adminURL answers a query.
func waitPostgres(ctx context.Context, adminURL string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		err := func() error {
			db, err := sql.Open("postgres", adminURL)
			if err != nil {
				return err
			}
			defer db.Close()
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			var one int
			return db.QueryRowContext(qctx, `SELECT 1`).Scan(&one)
		}()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("PostgreSQL not accepting connections after %s: %w", limit, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// recreateDatabase drops the database name (disconnecting its sessions) and
// creates it empty.
func recreateDatabase(ctx context.Context, adminURL, name string) error {
	if err := waitPostgres(ctx, adminURL, 30*time.Second); err != nil {
		return err
	}
	if err := dropDatabase(ctx, adminURL, name); err != nil {
		return err
	}
	db, err := sql.Open("postgres", adminURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(name)); err != nil {
		return fmt.Errorf("creating database %s: %w", name, err)
	}
	return nil
}

func dropDatabase(ctx context.Context, adminURL, name string) error {
	db, err := sql.Open("postgres", adminURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+pq.QuoteIdentifier(name)+` WITH (FORCE)`); err != nil {
		return fmt.Errorf("dropping database %s: %w", name, err)
	}
	return nil
}
