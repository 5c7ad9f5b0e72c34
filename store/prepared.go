package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// preparedStatements keeps the statements of the hot path prepared: each
// is parsed and planned once per connection (database/sql keeps it per
// connection, PostgreSQL caches its plan), and executing it takes one
// round trip where lib/pq's unprepared statements with parameters take
// two. A pooler in transaction mode (PgBouncer's default) cannot carry
// prepared statements across transactions: connect blockd to PostgreSQL
// or to a session-mode pool.
//
// The transactions that run them plan each execution for its own
// arguments (plan_cache_mode force_custom_plan): a plan made once and kept
// (a generic plan) is made for the table as it was then, and a table that
// grew since (a new deployment's, before autovacuum analyzes it) is then
// read whole for every key looked up.
//
// A statement is prepared on the pool by a goroutine of its own, never by a
// transaction: a transaction that waited for a second connection while
// holding its own (and its row locks) could wait forever for transactions
// that wait for those locks. Until it is ready, a transaction prepares the
// statement on its own connection, for itself.
type preparedStatements struct {
	mu        sync.Mutex
	stmts     map[string]*sql.Stmt
	preparing map[string]bool
	closed    bool
	wg        sync.WaitGroup
}

// stmt returns query prepared, bound to tx: the pool's prepared statement
// once it is ready, else one prepared on tx's connection for tx alone.
func (s *Store) stmt(ctx context.Context, tx *sqlx.Tx, query string) (*sql.Stmt, error) {
	s.prepared.mu.Lock()
	st, ok := s.prepared.stmts[query]
	if !ok && !s.prepared.preparing[query] && !s.prepared.closed {
		if s.prepared.preparing == nil {
			s.prepared.preparing = make(map[string]bool)
		}
		s.prepared.preparing[query] = true
		s.prepared.wg.Add(1)
		go s.prepareOnPool(query)
	}
	s.prepared.mu.Unlock()
	if ok {
		return tx.StmtContext(ctx, st), nil
	}
	local, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("preparing a statement: %w", err)
	}
	return local, nil
}

// prepareOnPool prepares query on the pool, outside any transaction, and
// keeps it for every later transaction. A failure is forgotten: the next
// use tries again.
func (s *Store) prepareOnPool(query string) {
	defer s.prepared.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s.db.PrepareContext(ctx, query)
	s.prepared.mu.Lock()
	defer s.prepared.mu.Unlock()
	delete(s.prepared.preparing, query)
	if err != nil {
		return
	}
	if s.prepared.closed {
		_ = st.Close()
		return
	}
	if s.prepared.stmts == nil {
		s.prepared.stmts = make(map[string]*sql.Stmt)
	}
	s.prepared.stmts[query] = st
}

// txExec executes query, prepared (see preparedStatements), in tx.
func (s *Store) txExec(ctx context.Context, tx *sqlx.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// txQuery runs query, prepared (see preparedStatements), in tx.
func (s *Store) txQuery(ctx context.Context, tx *sqlx.Tx, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// notify wakes the relays listening (see ListenOutbox) once tx commits;
// PostgreSQL sends one notification however often a transaction asks.
func (s *Store) notify(ctx context.Context, tx *sqlx.Tx) error {
	if _, err := s.txExec(ctx, tx, `SELECT pg_notify($1, current_schema())`, OutboxChannel); err != nil {
		return fmt.Errorf("notifying relay: %w", err)
	}
	return nil
}

// closePrepared waits for the statements being prepared and closes them
// all.
func (s *Store) closePrepared() {
	s.prepared.mu.Lock()
	s.prepared.closed = true
	s.prepared.mu.Unlock()
	s.prepared.wg.Wait()
	s.prepared.mu.Lock()
	defer s.prepared.mu.Unlock()
	for _, st := range s.prepared.stmts {
		_ = st.Close()
	}
	s.prepared.stmts = nil
}
