package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"
)

// The three ways the run disrupts a blockd process, and how they keep out
// of each other's way: each acts only on an instance that is available
// (running, not held, not paused) and marks it first, held (the killer, a
// rolling restart) or paused (the pauser), under the instance's lock.
//
//   - The killer never SIGKILLs a paused process. Killing it would turn the
//     pause into one more crash (the kill count would grow and the pause
//     would test nothing: its point is a process that comes back, with its
//     stale calls in flight, after others took its commands over), and the
//     pauser would then SIGCONT a process that is gone or a new one.
//   - The pauser never stops a held process (being killed or restarted).
//   - A rolling restart waits, per instance, until it is available, and
//     while it is under way the killer and the pauser skip their turns: it
//     is a deployment, which waits for each new process to be ready, and a
//     SIGKILL every ~2s elsewhere in the group keeps the group rebalancing
//     so that no process ever becomes ready.
//
// Only stopping the run signals a paused process: proc.signal follows
// SIGTERM with SIGCONT, so a stopped process still exits.

// killer SIGKILLs a random available blockd instance every ~every (±50%)
// and starts it again after a short pause, until ctx ends.
func (s *procSet) killer(ctx context.Context, every time.Duration, rng *rand.Rand) {
	for jitteredWait(ctx, every, rng) {
		if s.rollingUnderWay() {
			continue
		}
		var up []*proc
		for _, p := range s.instances() {
			if p.available() {
				up = append(up, p)
			}
		}
		if len(up) == 0 {
			continue
		}
		p := up[rng.IntN(len(up))]
		if !p.claim() {
			continue // paused or taken meanwhile
		}
		pid := p.pid()
		if !p.signal(syscall.SIGKILL, 10*time.Second) {
			s.log.printf("killer: %s (pid %d) did not die within 10s of SIGKILL", p.name, pid)
			p.setHeld(false)
			continue
		}
		s.mu.Lock()
		s.nKills++
		s.disrupted = time.Now()
		n := s.nKills
		s.mu.Unlock()
		pause := 200*time.Millisecond + time.Duration(rng.Int64N(int64(time.Second)))
		s.log.printf("killer: SIGKILLed %s (pid %d), kill #%d; starting it again in %s", p.name, pid, n, pause.Round(time.Millisecond))
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
		if err := p.start(); err != nil {
			s.log.printf("killer: %v", err)
		}
		p.setHeld(false)
	}
}

// jitteredWait waits every ±50%; false when ctx ended first.
func jitteredWait(ctx context.Context, every time.Duration, rng *rand.Rand) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(every/2 + time.Duration(rng.Int64N(int64(every)+1))):
		return true
	}
}

// callsInFlight returns, by BLOCKD_INSTANCE_ID, how many commands each
// blockd instance holds in state CALLING under a live lease: calls whose
// intent it recorded and which it is sending or waiting for.
type callsInFlight func(ctx context.Context) (map[string]int, error)

// dbCallsInFlight reads callsInFlight from the run's database.
func dbCallsInFlight(db *sql.DB) callsInFlight {
	return func(ctx context.Context) (map[string]int, error) {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		rows, err := db.QueryContext(qctx, `
			SELECT owner, count(*) FROM commands
			WHERE state = 'CALLING' AND owner IS NOT NULL AND lease_until > now()
			GROUP BY owner`)
		if err != nil {
			return nil, fmt.Errorf("reading the calls in flight: %w", err)
		}
		defer rows.Close()
		m := map[string]int{}
		for rows.Next() {
			var owner string
			var n int
			if err := rows.Scan(&owner, &n); err != nil {
				return nil, fmt.Errorf("reading the calls in flight: %w", err)
			}
			m[owner] = n
		}
		return m, rows.Err()
	}
}

// pauser SIGSTOPs a random available blockd instance that has calls in
// flight, and SIGCONTs it pauseFor to 1.5×pauseFor later: longer than its
// lease, so other instances take its commands over while it is stopped,
// and it wakes up with calls whose answers arrive after it lost them. It
// waits ~every (±50%) after each pause (and at the start), then pauses the
// first instance it finds with calls in flight, until ctx ends. A pause
// under way when ctx ends runs to its end; only abort (the run is
// interrupted) cuts it short.
func (s *procSet) pauser(ctx, abort context.Context, every, pauseFor time.Duration, rng *rand.Rand, inFlight callsInFlight) {
	for jitteredWait(ctx, every, rng) {
		p, calls := s.pickBusy(ctx, rng, inFlight)
		if p == nil {
			continue
		}
		d := pauseFor + time.Duration(rng.Int64N(int64(pauseFor/2)+1))
		s.log.printf("pauser: SIGSTOPped %s (pid %d, %s) with %d calls in flight; SIGCONT in %s", p.name, p.pid(), p.instanceID(), calls, d.Round(time.Millisecond))
		s.markDisruption()
		select {
		case <-abort.Done():
		case <-time.After(d):
		}
		p.resume()
		s.mu.Lock()
		s.nPauses++
		s.disrupted = time.Now()
		n := s.nPauses
		s.mu.Unlock()
		s.log.printf("pauser: SIGCONTed %s (pid %d), pause #%d", p.name, p.pid(), n)
	}
}

// pickBusy polls until it finds an available blockd instance with calls in
// flight, and pauses a random one of them. It returns the paused instance
// and its calls in flight, or nil when ctx ended or a rolling restart
// began first.
func (s *procSet) pickBusy(ctx context.Context, rng *rand.Rand, inFlight callsInFlight) (*proc, int) {
	for ctx.Err() == nil && !s.rollingUnderWay() {
		owners, err := inFlight(ctx)
		if err == nil {
			var busy []*proc
			for _, p := range s.instances() {
				if owners[p.instanceID()] > 0 && p.available() {
					busy = append(busy, p)
				}
			}
			if len(busy) > 0 {
				p := busy[rng.IntN(len(busy))]
				if p.pause() {
					return p, owners[p.instanceID()]
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil, 0
}

// pause SIGSTOPs the process if it is available, and marks it paused.
func (p *proc) pause() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.availableLocked() {
		return false
	}
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return false
	}
	p.paused = true
	return true
}

// resume SIGCONTs a paused process.
func (p *proc) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		return
	}
	p.paused = false
	if p.runningLocked() {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// rollingRestart restarts every blockd instance in turn, as a deployment
// does: it waits until the instance is available and ready, SIGTERMs it
// (blockd stops fetching, finishes its in-flight commands within
// BLOCKD_SHUTDOWN_GRACE, flushes its outbox and exits 0), starts it again
// and waits until it is ready before it goes on with the next. A stop
// that does not end in exit status 0 within grace (the process is then
// SIGKILLed) is recorded in gracelessStops. It counts one rolling restart
// when every instance was restarted, and returns an error when ctx ended
// first or an instance was never available.
func (s *procSet) rollingRestart(ctx context.Context, grace, readyLimit time.Duration) error {
	start := time.Now()
	s.setRolling(true)
	defer s.setRolling(false)
	s.log.printf("rolling restart: SIGTERM each blockd instance in turn (no kills or pauses meanwhile)")
	for _, p := range s.instances() {
		if err := s.claimWhenAvailable(ctx, p, time.Minute); err != nil {
			return err
		}
		// Only a ready process is stopped: one the killer has just started
		// may still be starting, and blockd SIGTERMed before it serves exits
		// 1 ("context canceled"), which is not what this restart tests.
		if err := p.waitReady(ctx, time.Now().Add(readyLimit)); err != nil {
			s.log.printf("rolling restart: %s: %v; stopping it anyway", p.name, err)
		}
		pid := p.pid()
		stopStart := time.Now()
		s.markDisruption()
		exited := p.signal(syscall.SIGTERM, grace)
		if !exited {
			p.signal(syscall.SIGKILL, 10*time.Second)
		}
		how := exitText(p.lastExit())
		if !exited || p.lastExit() != nil {
			if !exited {
				how = fmt.Sprintf("still running %s after SIGTERM, SIGKILLed", grace)
			}
			s.mu.Lock()
			s.graceless = append(s.graceless, fmt.Sprintf("%s (pid %d): %s", p.name, pid, how))
			s.mu.Unlock()
		}
		stopped := time.Since(stopStart)
		err := p.start()
		if err == nil {
			err = p.waitReady(ctx, time.Now().Add(readyLimit))
		}
		p.setHeld(false)
		s.markDisruption()
		ready := fmt.Sprintf("ready after %s", time.Since(stopStart).Round(time.Millisecond))
		if err != nil {
			// The supervisor starts it again if it is down; the restart goes on.
			ready = err.Error()
		}
		s.log.printf("rolling restart: %s (pid %d) stopped in %s (%s); pid %d %s",
			p.name, pid, stopped.Round(time.Millisecond), how, p.pid(), ready)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	s.mu.Lock()
	s.nRolling++
	n := s.nRolling
	s.mu.Unlock()
	s.log.printf("rolling restart #%d done in %s", n, time.Since(start).Round(time.Millisecond))
	return nil
}

// claimWhenAvailable waits up to limit until p is available (not paused,
// killed or restarting) and claims it.
func (s *procSet) claimWhenAvailable(ctx context.Context, p *proc, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for !p.claim() {
		if time.Now().After(deadline) {
			return fmt.Errorf("rolling restart: %s not available (running, not paused or being killed) for %s", p.name, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

func (s *procSet) setRolling(on bool) {
	s.mu.Lock()
	s.rolling = on
	s.mu.Unlock()
}

// rollingUnderWay reports whether a rolling restart is under way.
func (s *procSet) rollingUnderWay() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rolling
}
