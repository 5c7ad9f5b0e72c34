// Package storetest gives each test its own PostgreSQL schema on the local
// server, so tests run in parallel against a real database without sharing
// state.
package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// DefaultURL is the test server; BLOCKD_TEST_DATABASE_URL overrides it.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/blockd_test?sslmode=disable"

// BaseURL is the database the tests use.
func BaseURL() string {
	if u := os.Getenv("BLOCKD_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// NewSchema creates a fresh schema in the test database, drops it when the
// test ends, and returns a database URL whose search_path is that schema.
// The database itself is created when missing.
func NewSchema(t testing.TB) string {
	t.Helper()
	base, err := url.Parse(BaseURL())
	if err != nil {
		t.Fatalf("parsing test database URL: %v", err)
	}
	ensureDatabase(t, base)
	schema := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	db, err := sql.Open("postgres", base.String())
	if err != nil {
		t.Fatalf("opening test database: %v", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+pq.QuoteIdentifier(schema)); err != nil {
		t.Fatalf("creating schema (is PostgreSQL running at %s?): %v", base.Host, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("postgres", base.String())
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec("DROP SCHEMA " + pq.QuoteIdentifier(schema) + " CASCADE")
	})
	u := *base
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func ensureDatabase(t testing.TB, base *url.URL) {
	t.Helper()
	name := strings.TrimPrefix(base.Path, "/")
	admin := *base
	admin.Path = "/postgres"
	db, err := sql.Open("postgres", admin.String())
	if err != nil {
		t.Fatalf("opening admin connection: %v", err)
	}
	defer db.Close()
	_, err = db.Exec("CREATE DATABASE " + pq.QuoteIdentifier(name))
	var pe *pq.Error
	exists := errors.As(err, &pe) && (pe.Code == "42P04" || pe.Code == "23505") // duplicate_database, or a concurrent create
	if err != nil && !exists {
		t.Fatalf("creating test database %s: %v", name, fmt.Sprint(err))
	}
}

// MissingDatabase returns the URL of a database that does not exist on the
// test server (a fresh name beside the test database), for tests of what
// happens when it is missing; it is dropped when the test ends if something
// created it.
func MissingDatabase(t testing.TB) string {
	t.Helper()
	base, err := url.Parse(BaseURL())
	if err != nil {
		t.Fatalf("parsing test database URL: %v", err)
	}
	name := "blockd_missing_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	u := *base
	u.Path = "/" + name
	admin := *base
	admin.Path = "/postgres"
	t.Cleanup(func() {
		db, err := sql.Open("postgres", admin.String())
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + pq.QuoteIdentifier(name) + " WITH (FORCE)")
	})
	return u.String()
}
