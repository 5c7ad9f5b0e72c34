// Package store is blockd's durable state in PostgreSQL: the commands table
// (deduplicated on trackId, one committed phase per step of a command's life),
// the provider call attempts, the holds ledger, the outbox the relay
// publishes from, and the provider tokens, sealed by a TokenSealer.
// Migrations are embedded and applied at start.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/blockd/blockd/schemas"
)

//go:embed migrations/*.sql
var migrations embed.FS

// OutboxChannel is the PostgreSQL NOTIFY channel a commit that adds outbox
// rows signals on; the payload is the schema name, so relays of other
// schemas in the same database ignore it.
const OutboxChannel = "blockd_outbox"

// Store is the PostgreSQL state of one blockd deployment (one schema).
type Store struct {
	db     *sqlx.DB
	schema string
	sealer TokenSealer // nil: the token methods refuse to work

	// The group committers of the command path (nil: each call in its own
	// transaction). See groupCommitter.
	receives  *groupCommitter[receiveCall, schemas.Receipt]
	begins    *groupCommitter[beginCall, schemas.CallBegun]
	completes *groupCommitter[schemas.Completion, struct{}]
	prepared  preparedStatements
	// localWake is signalled when this process committed outbox rows (a
	// batch of results); ListenOutbox passes it on.
	localWake chan struct{}
	// commits counts the transactions inTx committed.
	commits atomic.Int64
}

// Option tunes Open.
type Option func(*options)

type options struct {
	maxConns       int
	sealer         TokenSealer
	createDatabase bool
	groupCommit    int
}

// DefaultGroupCommit is the most commands recorded in one transaction
// unless GroupCommit says otherwise.
const DefaultGroupCommit = 256

// committers is how many transactions of each kind (receive, call intent,
// outcome) may be committing at once: while one waits for its commit to be
// durable, the next batch forms and runs.
const committers = 2

// GroupCommit bounds how many concurrent Receive, BeginCall or Complete
// calls are recorded together in one transaction (default
// DefaultGroupCommit); 1 records each in its own transaction.
func GroupCommit(maxBatch int) Option { return func(o *options) { o.groupCommit = maxBatch } }

// MaxConns bounds the connection pool (default 16). Several instances share
// one server's max_connections, so keep instances × MaxConns under it.
func MaxConns(n int) Option { return func(o *options) { o.maxConns = n } }

// CreateDatabase makes Open create the database named in the URL when it is
// missing (connecting to the server's "postgres" database to do so). Without
// it a missing database is ErrDatabaseMissing.
func CreateDatabase() Option { return func(o *options) { o.createDatabase = true } }

// ErrDatabaseMissing: the database the URL names does not exist, and Open
// was not told to create it.
var ErrDatabaseMissing = errors.New("the database does not exist")

// Open connects to databaseURL as given (its sslmode included) and applies
// the embedded migrations. It creates the database only with
// CreateDatabase.
func Open(ctx context.Context, databaseURL string, opts ...Option) (*Store, error) {
	o := options{maxConns: 16, groupCommit: DefaultGroupCommit}
	for _, opt := range opts {
		opt(&o)
	}
	if o.createDatabase {
		if err := ensureDatabase(ctx, databaseURL); err != nil {
			return nil, err
		}
	}
	db, err := sqlx.Open("postgres", databaseURL)
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	db.SetMaxOpenConns(o.maxConns)
	db.SetMaxIdleConns(o.maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		var pe *pq.Error
		if errors.As(err, &pe) && pe.Code == "3D000" { // invalid_catalog_name
			return nil, fmt.Errorf("connecting to database: %w: %w", ErrDatabaseMissing, err)
		}
		return nil, fmt.Errorf("connecting to database: %w", err)
	}
	s := &Store{db: db, sealer: o.sealer, localWake: make(chan struct{}, 1)}
	if err := db.GetContext(ctx, &s.schema, `SELECT current_schema()`); err != nil {
		db.Close()
		return nil, fmt.Errorf("reading current schema: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if o.groupCommit > 1 {
		s.startGroupCommit(o.groupCommit, committers)
	}
	return s, nil
}

// Close waits for the transactions being committed and closes the
// connection pool.
func (s *Store) Close() error {
	if s.receives != nil {
		s.stopGroupCommit()
	}
	s.closePrepared()
	return s.db.Close()
}

// Schema is the PostgreSQL schema the store works in.
func (s *Store) Schema() string { return s.schema }

// DB exposes the pool for tests and operator queries.
func (s *Store) DB() *sqlx.DB { return s.db }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func (s *Store) migrate(ctx context.Context) error {
	// Instances (and test schemas) starting together wait for one another's
	// migrations; poll the lock every second rather than goose's default
	// five, for the same five minutes at most.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("creating migration lock: %w", err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("opening embedded migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, s.db.DB, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("preparing migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("applying migrations: %w", err)
	}
	return nil
}

// ensureDatabase creates the database named in databaseURL when it does not
// exist, connecting to the server's "postgres" database to do so.
func ensureDatabase(ctx context.Context, databaseURL string) error {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Scheme == "" {
		// A key=value DSN: leave database creation to the operator.
		return nil
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || name == "postgres" {
		return nil
	}
	admin := *u
	admin.Path = "/postgres"
	q := admin.Query()
	q.Del("search_path")
	admin.RawQuery = q.Encode()
	db, err := sql.Open("postgres", admin.String())
	if err != nil {
		return fmt.Errorf("opening admin connection: %w", err)
	}
	defer db.Close()
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("checking database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = db.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(name))
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == "42P04" { // created meanwhile by another instance
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating database %q: %w", name, err)
	}
	return nil
}

// inTx runs fn in a transaction and commits it; a commit error is returned,
// never swallowed. Data PostgreSQL refused comes back as a *DataError.
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return asDataError(err)
	}
	if err := tx.Commit(); err != nil {
		return asDataError(fmt.Errorf("committing transaction: %w", err))
	}
	s.commits.Add(1)
	return nil
}
