package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/blockd/blockd/schemas"
	"github.com/blockd/blockd/store/storetest"
)

// BenchmarkCommandPath is a command's life in the store, as the processor
// makes it for a Finnotech block: stored with its first call's intent
// (ReceiveAndBegin), then its outcome, hold and result recorded (Complete),
// by 256 goroutines at once, against the local PostgreSQL with durable
// commits. It reports commits per command: with group commit they are
// shared; with GroupCommit(1) each call commits alone.
//
//	go test -run XXX -bench CommandPath -benchtime 5000x ./store/
func BenchmarkCommandPath(b *testing.B) {
	for _, batch := range []int{1, DefaultGroupCommit} {
		b.Run(fmt.Sprintf("group=%d", batch), func(b *testing.B) {
			s, err := Open(context.Background(), storetest.NewSchema(b), GroupCommit(batch), MaxConns(32))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			before := s.commits.Load()
			run := uuid.NewString()[:8]
			const workers = 256
			b.ResetTimer()
			var wg sync.WaitGroup
			next := make(chan int)
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						id := fmt.Sprintf("%s-%d", run, i)
						cmd := finnotechBlock(id, 100)
						r, err := s.ReceiveAndBegin(ctx, cmd, src, "me", time.Minute, notLocalHere, id+"-1")
						if err != nil || !r.FirstCall {
							b.Errorf("receiving %s: %+v, %v", id, r, err)
							return
						}
						ev := uuid.NewString()
						if err := s.Complete(ctx, schemas.Completion{TrackID: id, Claim: r.Claim, State: schemas.StateDone, ProviderTrackID: id + "-1",
							CallState: schemas.CallDone, CallAnswer: []byte(`{"amount":100}`), EventID: ev, Result: result(id, ev),
							CreateHold: &schemas.BlockRef{TrackID: id, Provider: schemas.ProviderFinnotech, ClientID: "c1", Amount: 100, ProviderTrackID: id + "-1"}}); err != nil {
							b.Errorf("completing %s: %v", id, err)
							return
						}
					}
				}()
			}
			for i := range b.N {
				next <- i
			}
			close(next)
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(s.commits.Load()-before)/float64(b.N), "commits/cmd")
		})
	}
}
