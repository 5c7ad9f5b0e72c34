package main

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/blockd/blockd/providers/arhivaar/arhivaarfake"
	"github.com/blockd/blockd/providers/card/cardfake"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/providers/sandboxfault"
	"github.com/blockd/blockd/schemas"
)

// The credentials the chaos sandboxes accept and the blockd processes use.
const (
	chaosFinnotechClient = "chaos-finnotech" // the one Finnotech application (clientId) of the run
	chaosFinnotechSecret = "chaos-finnotech-secret"
	chaosFinnotechToken  = "chaos-finnotech-token" // its authorization-code token; refresh token "refresh-"+token
	chaosFinnotechNID    = "0012345678"            // national code for client-credential tokens
	chaosCardClient      = "chaos-card-client"
	chaosCardSecret      = "chaos-card-secret"
)

// chaosSandboxes are the three provider simulators, in the chaos process,
// with fault injection on their provider calls.
type chaosSandboxes struct {
	finnotech *finnotechfake.Sandbox
	arhivaar  *arhivaarfake.Sandbox
	card      *cardfake.Sandbox
	urls      map[schemas.Provider]string
	servers   []*http.Server
}

// chaosFaultRates are the rates of the faults beyond error, timeout and
// apply-then-drop, as every sandbox takes them; each sandbox maps a fault
// its provider has no answer for to the nearest one it has (see
// sandboxfault.Fault).
func chaosFaultRates(o chaosOptions) map[sandboxfault.Fault]float64 {
	return map[sandboxfault.Fault]float64{
		sandboxfault.FaultLateDelivery:           o.LateRate,
		sandboxfault.FaultApplyThenTimeout:       o.ApplyTimeout,
		sandboxfault.FaultApplyThenNotResponding: o.NotResponding,
		sandboxfault.FaultStatusLags:             o.StatusLagRate,
		sandboxfault.FaultNestedFailed:           o.NestedFailed,
	}
}

func startChaosSandboxes(o chaosOptions, log *chaosLogger) (*chaosSandboxes, error) {
	s := &chaosSandboxes{
		finnotech: finnotechfake.New(finnotechfake.Config{Tokens: []string{chaosFinnotechToken},
			ClientID: chaosFinnotechClient, ClientSecret: chaosFinnotechSecret,
			ErrorRate: o.ErrorRate, TimeoutRate: o.TimeoutRate, ApplyThenDropRate: o.DropRate, Rates: chaosFaultRates(o),
			TimeoutDelay: o.TimeoutDelay, LateBy: o.LateBy, StatusLag: o.StatusLag, Seed: o.Seed + 1}),
		arhivaar: arhivaarfake.New(arhivaarfake.Config{
			ErrorRate: o.ErrorRate, TimeoutRate: o.TimeoutRate, ApplyThenDropRate: o.DropRate, Rates: chaosFaultRates(o),
			TimeoutDelay: o.TimeoutDelay, LateBy: o.LateBy, Seed: o.Seed + 2}),
		card: cardfake.New(cardfake.Config{ClientID: chaosCardClient, ClientSecret: chaosCardSecret,
			ErrorRate: o.ErrorRate, TimeoutRate: o.TimeoutRate, ApplyThenDropRate: o.DropRate, Rates: chaosFaultRates(o),
			TimeoutDelay: o.TimeoutDelay, LateBy: o.LateBy, Seed: o.Seed + 3}),
		urls: make(map[schemas.Provider]string),
	}
	for name, h := range map[schemas.Provider]http.Handler{schemas.ProviderFinnotech: s.finnotech, schemas.ProviderArhivaar: s.arhivaar, schemas.ProviderCard: s.card} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.close()
			return nil, fmt.Errorf("starting the %s sandbox: %w", name, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				log.printf("the %s sandbox stopped serving: %v", name, err)
			}
		}()
		s.servers = append(s.servers, srv)
		s.urls[name] = "http://" + ln.Addr().String()
	}
	return s, nil
}

func (s *chaosSandboxes) close() {
	for _, srv := range s.servers {
		srv.Close()
	}
	s.servers = nil
}

// blockdEnv is the environment of blockd instance i. With stable ids every
// start of instance i has the same BLOCKD_INSTANCE_ID, as a container
// restarted in place would (<host>-<pid> with pid 1).
func blockdEnv(o chaosOptions, brokerAddr, tokenKeyFile string, sb *chaosSandboxes, i int) func(start int) []string {
	return func(start int) []string {
		id := fmt.Sprintf("chaos-%d", i+1)
		if o.FreshIDs {
			id = fmt.Sprintf("chaos-%d-%d", i+1, start+1)
		}
		return chaosEnv(
			"BLOCKD_KAFKA_BROKERS="+brokerAddr,
			"BLOCKD_DATABASE_URL="+o.DatabaseURL,
			"BLOCKD_INSTANCE_ID="+id,
			"BLOCKD_CREATE_TOPICS=true",
			"BLOCKD_TOPIC_PARTITIONS="+strconv.Itoa(chaosPartitions),
			"BLOCKD_CALL_TIMEOUT="+chaosCallTimeout.String(),
			"BLOCKD_LEASE="+chaosLease.String(),
			"BLOCKD_UNBLOCK_WAIT=60s",
			"BLOCKD_RESOLVE_DEADLINE="+o.ResolveDeadline.String(),
			"BLOCKD_LANDING_MARGIN="+o.LandingMargin.String(),
			"BLOCKD_SHUTDOWN_GRACE="+chaosShutdownGrace.String(),
			"BLOCKD_LOG_LEVEL="+cmp.Or(o.LogLevel, "warn"),
			"BLOCKD_MAX_MESSAGE_BYTES="+strconv.Itoa(maxMessageBytes(o)),
			// blockd serve: every provider is real to it (the chaos
			// sandboxes, over http:// on loopback on purpose), and the
			// operator listener is off (three instances share the host).
			"BLOCKD_PROVIDERS=finnotech,arhivaar,card",
			"BLOCKD_ADMIN_ADDR=off",
			"BLOCKD_FINNOTECH_ALLOW_HTTP=true",
			"BLOCKD_ARHIVAAR_ALLOW_HTTP=true",
			"BLOCKD_CARD_ALLOW_HTTP=true",
			"BLOCKD_FINNOTECH_URL="+sb.urls[schemas.ProviderFinnotech],
			"BLOCKD_FINNOTECH_CLIENT_ID="+chaosFinnotechClient,
			"BLOCKD_FINNOTECH_CLIENT_SECRET="+chaosFinnotechSecret,
			"BLOCKD_FINNOTECH_TOKEN="+chaosFinnotechToken,
			"BLOCKD_FINNOTECH_REFRESH_TOKEN=refresh-"+chaosFinnotechToken,
			"BLOCKD_FINNOTECH_BANK=062",
			"BLOCKD_FINNOTECH_NID="+chaosFinnotechNID,
			"BLOCKD_TOKEN_KEY_FILE="+tokenKeyFile,
			"BLOCKD_ARHIVAAR_URL="+sb.urls[schemas.ProviderArhivaar],
			"BLOCKD_ARHIVAAR_ACC_KEY="+arhivaarfake.DefaultAccKey,
			"BLOCKD_ARHIVAAR_SECRET="+arhivaarfake.DefaultSecret,
			"BLOCKD_CARD_URL="+sb.urls[schemas.ProviderCard],
			"BLOCKD_CARD_CLIENT_ID="+chaosCardClient,
			"BLOCKD_CARD_CLIENT_SECRET="+chaosCardSecret,
		)
	}
}

// chaosCommand is one command of the plan.
type chaosCommand struct {
	Cmd   schemas.Command // Kind set
	Topic string
	Key   string
	Value []byte
	Chain int
	// Delay is how long after the previous step of its chain was
	// acknowledged this step is published.
	Delay time.Duration
	// Label names the command's sort for the report, e.g. "finnotech/block".
	Label string
	// Headers are sent with the message (a hostile traceparent, the
	// hostileHeader).
	Headers []kafka.Header
	// Hostile, when set, makes the step part of the hostile mix: a message
	// that is no command (Hostile.Command false: Cmd holds only the trackId
	// it carries), or a planned command with something hostile about it.
	Hostile *hostileMessage
}

// kafkaMessage is the message that publishes step s.
func kafkaMessage(s *chaosCommand) kafka.Message {
	return kafka.Message{Topic: s.Topic, Key: []byte(s.Key), Value: s.Value, Headers: s.Headers}
}

// commandPlan is every command of a run, in chains whose steps are
// published in order.
type commandPlan struct {
	chains  [][]*chaosCommand
	byTrack map[string]*chaosCommand // the commands
	total   int                      // commands
	steps   int                      // messages: the commands and the hostile messages
	// hostile are the steps of the hostile mix (addHostile), in chain
	// order; sensitive the values its messages carry that blockd must
	// never echo; skipped the kinds no planned command could carry.
	hostile   []*chaosCommand
	sensitive []sensitiveValue
	skipped   []hostileKind
}

var chaosKindTopics = map[schemas.Kind]string{
	schemas.KindBlock: "blockd.cmd.block", schemas.KindUnblock: "blockd.cmd.unblock",
	schemas.KindTransfer: "blockd.cmd.transfer", schemas.KindInquiry: "blockd.cmd.inquiry",
}

// runID is a short random tag that makes the trackIds of a run unique.
func runID(rng *rand.Rand) string {
	return fmt.Sprintf("%06x", rng.Uint32()&0xffffff)
}

// planCommands plans exactly n commands in realistic chains, keyed by the
// account they touch:
//
//   - finnotech: block → unblock (blockTrackId) → transfer (unblockTrackId,
//     amount ≤ the block's) → transfer inquiry (transferTrackId), each step
//     after the last with some probability, keyed by an account of a pool
//     (the one clientId of the run holds the token; its deposit is the
//     sandbox's);
//   - finnotech credit facility inquiries (10-digit national ids);
//   - arhivaar block → unblock (blockTrackId) on a fresh hex account id;
//   - card block → unblock on a fresh 19-digit account id, slot 1 or 2,
//     code B..Y.
func planCommands(n int, rng *rand.Rand, run string) (*commandPlan, error) {
	v, err := schemas.NewValidator()
	if err != nil {
		return nil, err
	}
	p := &commandPlan{byTrack: make(map[string]*chaosCommand)}
	accounts := max(n/10, 10)
	seq := 0
	trackID := func(tag string) string {
		seq++
		return fmt.Sprintf("cx%s-%s-%06d", run, tag, seq)
	}
	think := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo))) }
	usedAccounts := make(map[string]bool)
	fresh := func(gen func() string) string {
		for {
			if id := gen(); !usedAccounts[id] {
				usedAccounts[id] = true
				return id
			}
		}
	}
	for p.total < n {
		chain := len(p.chains)
		var steps []*chaosCommand
		add := func(kind schemas.Kind, key, label string, delay time.Duration, c schemas.Command) schemas.Command {
			c.Kind = kind
			steps = append(steps, &chaosCommand{Cmd: c, Topic: chaosKindTopics[kind], Key: key, Chain: chain, Delay: delay, Label: label})
			return c
		}
		switch r := rng.Float64(); {
		case r < 0.42:
			client := fmt.Sprintf("fin-account-%05d", rng.IntN(accounts)) // the Kafka key
			amount := 1000 * (10 + rng.Int64N(500_000))                   // 10,000 .. 500,000,000 rials
			blk := add(schemas.KindBlock, client, "finnotech/block", 0, schemas.Command{TrackID: trackID("fblk"),
				Provider: schemas.ProviderFinnotech, ClientID: chaosFinnotechClient, Amount: amount,
				Description: "chaos court order " + strconv.Itoa(rng.IntN(10000)), Days: 1 + rng.IntN(90)})
			if rng.Float64() >= 0.85 {
				break
			}
			ubl := schemas.Command{TrackID: trackID("fubl"), Provider: schemas.ProviderFinnotech, BlockTrackID: blk.TrackID}
			if rng.Float64() < 0.3 {
				ubl.Amount = amount
			}
			ubl = add(schemas.KindUnblock, client, "finnotech/unblock", think(50*time.Millisecond, 1500*time.Millisecond), ubl)
			if rng.Float64() >= 0.7 {
				break
			}
			tamount := amount
			if rng.Float64() < 0.6 {
				tamount = 1000 + rng.Int64N(amount-999)
			}
			dest := fmt.Sprintf("IR%024d", rng.Int64N(1e18))
			if rng.Float64() < 0.5 {
				dest = fmt.Sprintf("0201%09d", rng.Int64N(1e9))
			}
			trf := add(schemas.KindTransfer, client, "finnotech/transfer", think(50*time.Millisecond, 1500*time.Millisecond), schemas.Command{
				TrackID: trackID("ftrf"), Provider: schemas.ProviderFinnotech, UnblockTrackID: ubl.TrackID,
				Amount: tamount, Destination: dest, Description: "chaos settlement"})
			if rng.Float64() >= 0.6 {
				break
			}
			add(schemas.KindInquiry, client, "finnotech/inquiry-transfer", think(500*time.Millisecond, 3*time.Second), schemas.Command{
				TrackID: trackID("finq"), Provider: schemas.ProviderFinnotech, Inquiry: "transfer", TransferTrackID: trf.TrackID})
		case r < 0.52:
			nid := fmt.Sprintf("%010d", rng.Int64N(1e10))
			add(schemas.KindInquiry, nid, "finnotech/inquiry-facility", 0, schemas.Command{TrackID: trackID("ffac"),
				Provider: schemas.ProviderFinnotech, Inquiry: "facility", ClientID: chaosFinnotechClient, NationalID: nid})
		case r < 0.76:
			acct := fresh(func() string {
				b := make([]byte, 12)
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				return hex.EncodeToString(b)
			})
			ablk := trackID("ablk")
			add(schemas.KindBlock, acct, "arhivaar/block", 0, schemas.Command{TrackID: ablk, Provider: schemas.ProviderArhivaar,
				AccountID: acct, Note: "Chaos: unpaid invoice " + strconv.Itoa(rng.IntN(10000))})
			if rng.Float64() < 0.8 {
				add(schemas.KindUnblock, acct, "arhivaar/unblock", think(50*time.Millisecond, 1500*time.Millisecond), schemas.Command{
					TrackID: trackID("aubl"), Provider: schemas.ProviderArhivaar, AccountID: acct, Note: "Chaos: invoice paid", BlockTrackID: ablk})
			}
		default:
			acct := fresh(func() string { return fmt.Sprintf("0%018d", rng.Int64N(1e18)) })
			slot := 1 + rng.IntN(2)
			code := string(rune('B' + rng.IntN(24))) // B..Y
			// Most calls name no business unit; some name the account's,
			// 100, which is the one the sandbox gives an account it
			// creates on first use (by an update or a details inquiry).
			bu := 0
			if rng.Float64() < 0.3 {
				bu = 100
			}
			cblk := trackID("cblk")
			add(schemas.KindBlock, acct, "card/block", 0, schemas.Command{TrackID: cblk, Provider: schemas.ProviderCard,
				AccountID: acct, BlockCodeSlot: slot, BlockCode: code, BusinessUnit: bu})
			if rng.Float64() < 0.8 {
				add(schemas.KindUnblock, acct, "card/unblock", think(50*time.Millisecond, 1500*time.Millisecond), schemas.Command{
					TrackID: trackID("cubl"), Provider: schemas.ProviderCard, AccountID: acct, BlockCodeSlot: slot, BusinessUnit: bu, BlockTrackID: cblk})
			}
		}
		if over := p.total + len(steps) - n; over > 0 {
			steps = steps[:len(steps)-over]
		}
		for _, s := range steps {
			value, err := json.Marshal(s.Cmd)
			if err != nil {
				return nil, err
			}
			if _, err := v.DecodeCommand(s.Cmd.Kind, value); err != nil {
				return nil, fmt.Errorf("the chaos plan made an invalid %s command %s: %w", s.Cmd.Kind, value, err)
			}
			s.Value = value
			p.byTrack[s.Cmd.TrackID] = s
		}
		p.chains = append(p.chains, steps)
		p.total += len(steps)
	}
	p.steps = p.total
	return p, nil
}

// chaosProducer publishes a plan at a rate, each chain's steps in order, each
// command until the broker acknowledged it (RequireAll), across broker
// restarts. It records what was acknowledged: from its point of view every
// command is published exactly once.
type chaosProducer struct {
	w    *kafka.Writer
	plan *commandPlan
	rate float64
	log  *chaosLogger

	mu        sync.Mutex
	published []string // trackIds, in the order they were acknowledged
	nRetries  int      // messages written again after a failed write
	// hostile are the acknowledged messages of the hostile mix, in that
	// order; positions where the broker put each (by hostileHeader id).
	hostile   []sentHostile
	positions map[string]msgPos
}

// msgPos is where a message is: topic, partition, offset.
type msgPos struct {
	Topic     string
	Partition int
	Offset    int64
}

func (p msgPos) String() string { return fmt.Sprintf("%s/%d/%d", p.Topic, p.Partition, p.Offset) }

// sentHostile is a message of the hostile mix the broker acknowledged, and
// where it put it (known: the position was reported).
type sentHostile struct {
	step  *chaosCommand
	pos   msgPos
	known bool
}

func newProducer(addr string, plan *commandPlan, rate float64, log *chaosLogger) *chaosProducer {
	p := &chaosProducer{plan: plan, rate: rate, log: log, positions: make(map[string]msgPos)}
	p.w = &kafka.Writer{
		Addr:            kafka.TCP(addr),
		Balancer:        &kafka.Hash{},
		RequiredAcks:    kafka.RequireAll,
		BatchTimeout:    time.Millisecond,
		BatchSize:       1000,
		MaxAttempts:     2,
		WriteBackoffMin: 50 * time.Millisecond,
		WriteBackoffMax: 500 * time.Millisecond,
		WriteTimeout:    5 * time.Second,
		ReadTimeout:     5 * time.Second,
		Completion:      p.written,
	}
	return p
}

// written learns where the broker put each hostile message of a batch it
// took (the writer calls it before WriteMessages returns).
func (p *chaosProducer) written(msgs []kafka.Message, err error) {
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range msgs {
		for _, h := range m.Headers {
			if h.Key == hostileHeader {
				p.positions[string(h.Value)] = msgPos{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
			}
		}
	}
}

// hostileSent returns the acknowledged messages of the hostile mix.
func (p *chaosProducer) hostileSent() []sentHostile {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.hostile)
}

func (p *chaosProducer) close() { p.w.Close() }

func (p *chaosProducer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.published)
}

func (p *chaosProducer) retries() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nRetries
}

// publishedIDs returns the acknowledged trackIds.
func (p *chaosProducer) publishedIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.published)
}

// waitPublished waits until at least n commands are acknowledged; false
// when ctx ended first.
func (p *chaosProducer) waitPublished(ctx context.Context, n int) bool {
	for p.count() < n {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return true
}

// run publishes the whole plan. A chain's next step is due Delay after its
// previous step was acknowledged; due steps of started chains go first,
// then new chains start, as the rate allows.
func (p *chaosProducer) run(ctx context.Context) error {
	type state struct {
		next  int
		due   time.Time
		tries int
	}
	states := make([]state, len(p.plan.chains))
	active := make(map[int]bool)
	nextChain := 0
	done := 0
	budget, last := 1.0, time.Now()
	burst := max(p.rate/4, 1)
	for done < p.plan.steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := time.Now()
		budget = min(budget+p.rate*now.Sub(last).Seconds(), burst)
		last = now
		var batch []int // chain indexes
		var due []int
		for c := range active {
			if !states[c].due.After(now) {
				due = append(due, c)
			}
		}
		slices.SortFunc(due, func(a, b int) int { return states[a].due.Compare(states[b].due) })
		for _, c := range due {
			if float64(len(batch)) >= budget {
				break
			}
			batch = append(batch, c)
		}
		for float64(len(batch)) < budget && nextChain < len(p.plan.chains) {
			if len(p.plan.chains[nextChain]) > 0 {
				active[nextChain] = true
				batch = append(batch, nextChain)
			}
			nextChain++
		}
		if len(batch) == 0 {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		msgs := make([]kafka.Message, len(batch))
		for i, c := range batch {
			s := p.plan.chains[c][states[c].next]
			msgs[i] = kafkaMessage(s)
		}
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := p.w.WriteMessages(wctx, msgs...)
		cancel()
		budget -= float64(len(batch))
		errs := make([]error, len(batch))
		var werrs kafka.WriteErrors
		switch {
		case err == nil:
		case errors.As(err, &werrs) && len(werrs) == len(batch):
			copy(errs, werrs)
		default:
			for i := range errs {
				errs[i] = err
			}
		}
		failed := 0
		now = time.Now()
		p.mu.Lock()
		for i, c := range batch {
			st := &states[c]
			if errs[i] != nil {
				failed++
				st.tries++
				p.nRetries++
				st.due = now.Add(min(time.Duration(st.tries)*200*time.Millisecond, 2*time.Second))
				continue
			}
			s := p.plan.chains[c][st.next]
			if s.Hostile == nil || s.Hostile.Command {
				p.published = append(p.published, s.Cmd.TrackID)
			}
			if s.Hostile != nil {
				pos, known := p.positions[s.Hostile.ID]
				p.hostile = append(p.hostile, sentHostile{step: s, pos: pos, known: known})
			}
			done++
			st.next++
			st.tries = 0
			if st.next == len(p.plan.chains[c]) {
				delete(active, c)
			} else {
				st.due = now.Add(p.plan.chains[c][st.next].Delay)
			}
		}
		p.mu.Unlock()
		if failed > 0 {
			p.log.printf("producer: %d of %d writes failed (%v); writing them again", failed, len(batch), firstErr(errs))
			if failed == len(batch) {
				select {
				case <-ctx.Done():
				case <-time.After(300 * time.Millisecond):
				}
			}
		}
	}
	return nil
}

func firstErr(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
