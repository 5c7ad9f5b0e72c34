package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

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
type preparedStatements struct {
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// stmt returns query prepared on s's pool, bound to tx.
func (s *Store) stmt(ctx context.Context, tx *sqlx.Tx, query string) (*sql.Stmt, error) {
	s.prepared.mu.Lock()
	st, ok := s.prepared.stmts[query]
	s.prepared.mu.Unlock()
	if !ok {
		var err error
		if st, err = s.db.PrepareContext(ctx, query); err != nil {
			return nil, fmt.Errorf("preparing a statement: %w", err)
		}
		s.prepared.mu.Lock()
		if have, ok := s.prepared.stmts[query]; ok {
			_ = st.Close()
			st = have
		} else {
			if s.prepared.stmts == nil {
				s.prepared.stmts = make(map[string]*sql.Stmt)
			}
			s.prepared.stmts[query] = st
		}
		s.prepared.mu.Unlock()
	}
	return tx.StmtContext(ctx, st), nil
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

// closePrepared closes the prepared statements.
func (s *Store) closePrepared() {
	s.prepared.mu.Lock()
	defer s.prepared.mu.Unlock()
	for _, st := range s.prepared.stmts {
		_ = st.Close()
	}
	s.prepared.stmts = nil
}
