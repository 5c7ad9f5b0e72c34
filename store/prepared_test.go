package store

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/blockd/blockd/store/storetest"
)

// TestPreparingInATransactionNeedsNoSecondConnection: a transaction that
// met a statement not yet prepared used to prepare it on the pool, waiting
// for a second connection while holding its own and its row locks; with
// every connection so held (a full chaos run's rolling restart, 1024
// commands in flight on 16 connections), nothing moved until the batches'
// 15 s timeout. Here the pool has one connection: the statement must be
// prepared on the transaction's own.
func TestPreparingInATransactionNeedsNoSecondConnection(t *testing.T) {
	t.Parallel()
	s, err := Open(context.Background(), storetest.NewSchema(t), MaxConns(1), GroupCommit(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range 3 { // the first uses, then the pool's statement once it is ready
		var got int
		err := s.inTx(ctx, func(tx *sqlx.Tx) error {
			rows, err := s.txQuery(ctx, tx, `SELECT $1::int + 1`, i)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				if err := rows.Scan(&got); err != nil {
					return err
				}
			}
			return rows.Err()
		})
		if err != nil || got != i+1 {
			t.Fatalf("use %d in a transaction on a pool of one connection: %d, %v; want %d (it waited for a second connection)", i, got, err, i+1)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
