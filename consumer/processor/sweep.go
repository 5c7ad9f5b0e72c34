package processor

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/blockd/blockd/schemas"
)

// ProcessClaimed carries on a stored command this instance claimed from a
// dead owner (see Run).
func (p *Processor) ProcessClaimed(ctx context.Context, c schemas.Claimed) error {
	release := p.enter(c.Command.TrackID)
	defer release()
	log := p.log.With().Str("trackId", c.Command.TrackID).Str("type", string(c.Command.Kind)).Logger()
	log.Info().Msg("carrying on a command abandoned by its owner")
	return p.releaseIfDeferred(ctx, c.Command.TrackID, c.Claim, p.execute(ctx, log, claimedCommand{cmd: c.Command, claim: c.Claim, receivedAt: c.ReceivedAt, attempts: c.Attempts}, nil))
}

// releaseIfDeferred turns a wait (a provider down, a reference not ready)
// met by work the sweeper started into a released claim: the command stays
// RECEIVED, unclaimed, and is taken over again after the wait.
func (p *Processor) releaseIfDeferred(ctx context.Context, trackID, claim string, err error) error {
	var d interface{ Deferred() time.Duration }
	if !errors.As(err, &d) {
		return err
	}
	return p.store.ReleaseReceivedClaim(ctx, schemas.ReleaseClaimParams{TrackID: trackID, Claim: claim, RetryIn: d.Deferred()})
}

// activeTrackIDs lists the commands this process is working on.
func (p *Processor) activeTrackIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.active))
	for id := range p.active {
		out = append(out, id)
	}
	return out
}

// enter marks a trackId as worked on in this process until release is called.
func (p *Processor) enter(trackID string) (release func()) {
	p.mu.Lock()
	p.active[trackID]++
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		if p.active[trackID]--; p.active[trackID] <= 0 {
			delete(p.active, trackID)
		}
		p.mu.Unlock()
	}
}

// isActiveElsewhere reports whether another goroutine of this process (not
// the caller, which has entered once) is working on a trackId.
func (p *Processor) isActiveElsewhere(self string) func(string) bool {
	return func(trackID string) bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		n := p.active[trackID]
		if trackID == self {
			n--
		}
		return n > 0
	}
}

// sweep takes over commands abandoned by dead owners and claims IN_DOUBT
// commands nobody is resolving, and works on them in the background.
func (p *Processor) sweep(ctx context.Context, wg *sync.WaitGroup) {
	claimed, inDoubt, err := p.store.TakeOverAbandoned(ctx, p.cfg.Owner, p.cfg.Lease, 100)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Error().Err(err).Msg("looking for abandoned commands")
		}
		return
	}
	if inDoubt > 0 {
		p.log.Warn().Int("count", inDoubt).Msg("commands left mid-call by a dead owner are IN_DOUBT")
	}
	for _, c := range claimed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.ProcessClaimed(ctx, c); err != nil && ctx.Err() == nil {
				p.log.Error().Err(err).Str("trackId", c.Command.TrackID).Msg("carrying on abandoned command")
			}
		}()
	}
	doubts, err := p.store.ClaimInDoubt(ctx, p.cfg.Owner, p.cfg.Lease, 100)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Error().Err(err).Msg("claiming in-doubt commands")
		}
		return
	}
	for _, c := range doubts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.resolveClaimed(ctx, c); err != nil && ctx.Err() == nil {
				p.log.Error().Err(err).Str("trackId", c.Command.TrackID).Msg("resolving in-doubt command")
			}
		}()
	}
}

// Run renews the leases of this instance's unfinished commands, takes over
// commands abandoned by dead owners and resolves IN_DOUBT commands, until
// ctx ends.
func (p *Processor) Run(ctx context.Context) error {
	renew := time.NewTicker(p.cfg.Lease / 3)
	defer renew.Stop()
	sweep := time.NewTicker(p.cfg.SweepInterval)
	defer sweep.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-renew.C:
			if _, err := p.store.RenewLeases(ctx, p.cfg.Owner, p.cfg.Lease, p.activeTrackIDs()); err != nil && ctx.Err() == nil {
				p.log.Error().Err(err).Msg("renewing leases")
			}
		case <-sweep.C:
			p.sweep(ctx, &wg)
		}
	}
}
